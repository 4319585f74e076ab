"""GTINs in one normal form: 14 digits, zero-filled on the left.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 16:30:00.000000

GS1 compares GTIN-8, -12, -13 and -14 as 14 digits, right-justified and zero-filled (GS1
General Specifications, GTIN data structures), and the registry now stores them so
(`domain.validation.normal_gtin`): `4006381333931` becomes `04006381333931`, in the
certificate's `gtins` and in `certificate_gtin`. A certificate listing one GTIN in two forms
keeps it once.

A stored value that is not a GTIN (wrong check digit or length, from before the check) is
kept exactly as it is: nothing is dropped, a search by that exact value still finds it, the
migration logs how many certificates hold such values, and the next change of the
certificate is refused until they are corrected. The downgrade keeps the normal form: it is
a valid GTIN to the older code as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration")

# The rule as it was when this migration was written (repeated here so that the migration
# keeps meaning what it meant; the registry's own is in domain.validation).
_GTIN = re.compile(r"^[0-9]{8}$|^[0-9]{12,14}$")

_certificate = sa.table("certificate", sa.column("id", sa.BigInteger), sa.column("gtins", sa.JSON))
_certificate_gtin = sa.table(
    "certificate_gtin", sa.column("certificate_id", sa.BigInteger), sa.column("gtin", sa.String)
)


def _normal(value: str) -> str | None:
    """The 14-digit form of a GTIN with a valid check digit; None for anything else."""
    if not _GTIN.match(value):
        return None
    digits = [int(c) for c in value]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return value.zfill(14) if (10 - total % 10) % 10 == digits[-1] else None


def upgrade() -> None:
    conn = op.get_bind()
    # Only certificates with a GTIN shorter than 14 characters can change.
    ids = sorted(
        conn.execute(
            sa.select(sa.distinct(_certificate_gtin.c.certificate_id)).where(
                sa.func.length(_certificate_gtin.c.gtin) < 14
            )
        ).scalars()
    )
    invalid = 0
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(_certificate.c.id, _certificate.c.gtins).where(
                _certificate.c.id.in_(ids[start : start + 500])
            )
        ).all()
        for certificate_id, gtins in rows:
            values = [str(g) for g in gtins or []]
            normal: list[str] = []
            for value in values:
                form = _normal(value)
                if form is None:
                    invalid += 1
                    form = value
                if form not in normal:
                    normal.append(form)
            if normal == values:
                continue
            conn.execute(
                _certificate.update()
                .where(_certificate.c.id == certificate_id)
                .values(gtins=normal)
            )
            conn.execute(
                _certificate_gtin.delete().where(
                    _certificate_gtin.c.certificate_id == certificate_id
                )
            )
            conn.execute(
                _certificate_gtin.insert(),
                [{"certificate_id": certificate_id, "gtin": g} for g in normal],
            )
    if invalid:
        _log.warning(
            "%d stored GTIN values are not valid GTINs (length or check digit); they are kept "
            "as they are and must be corrected at the certificate's next change",
            invalid,
        )


def downgrade() -> None:
    """Nothing to undo: a 14-digit GTIN is valid to the older code too."""
