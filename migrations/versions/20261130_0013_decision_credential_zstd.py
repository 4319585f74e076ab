"""Decision credentials are stored as Zstandard frames instead of zlib streams.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00.000000

0012 stored each decision's credential (the receipt's payload, the JSON that was signed) in
`decision_credential.payload`, compressed with zlib (RFC 1950) at its fastest level. It is
now one Zstandard frame (RFC 8878) at level 3, its content size in the frame's header: a
10,000-line credential compresses in ~7 ms instead of ~20 ms, to ~0.5 MB instead of
~0.75 MB, and decompresses in ~3 ms instead of ~7 ms (ADR 0014).

Existing credentials are decompressed and compressed again, one row at a time (a row may
hold ~10 MB of JSON); the JSON itself, the bytes that were signed, is unchanged. Downgrade
does the reverse, so that 0012's downgrade finds zlib again.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import sqlalchemy as sa
import zstandard
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZSTD_LEVEL = 3
_credential = sa.table("decision_credential", sa.column("decision_id"), sa.column("payload"))


def _recompress(convert: Callable[[bytes], bytes]) -> None:
    bind = op.get_bind()
    ids = bind.execute(sa.select(_credential.c.decision_id)).scalars().all()
    for decision_id in ids:
        where = _credential.c.decision_id == decision_id
        payload = bind.execute(sa.select(_credential.c.payload).where(where)).scalar_one()
        bind.execute(_credential.update().where(where).values(payload=convert(payload)))


def upgrade() -> None:
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    _recompress(lambda payload: compressor.compress(zlib.decompress(payload)))


def downgrade() -> None:
    decompressor = zstandard.ZstdDecompressor()
    _recompress(lambda payload: zlib.compress(decompressor.decompress(payload), 1))
