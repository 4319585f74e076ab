"""PostgreSQL: the certificate search index takes new words through a small pending list.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 13:00:00.000000

0011 made the GIN index of the certificates' words with `fastupdate = off`: each written row
put its words (some fifty entries: every word and its prefixes) straight into the index, a
descent of the index for each. That was most of the time of an import of thousands: 10,000
certificates inserted in 5.7 s with the index, 0.3 s without it (`docs/performance.md`,
"The import against its floor"; a machine shared with a test run).

The index now takes them through its pending list (`fastupdate = on`), kept to its smallest
size (`gin_pending_list_limit = 64`, in kB): the writer that fills the list merges it into
the index in one sorted pass. The same 10,000 certificates: 3.3 s (GIN's default 4 MB list:
1.8 s). A search reads through what is pending (at most 64 kB, a few dozen certificates'
words) besides the index, which is why the list is kept at its smallest; a vacuum merges it
too. SQLite's search (FTS5) is not concerned.

Downgrade restores 0011's options.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_LIST_KB = 64


def _run(*statements: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _run(
        "ALTER INDEX ix_certificate_words "
        f"SET (fastupdate = on, gin_pending_list_limit = {PENDING_LIST_KB})"
    )


def downgrade() -> None:
    _run(
        "ALTER INDEX ix_certificate_words SET (fastupdate = off)",
        "ALTER INDEX ix_certificate_words RESET (gin_pending_list_limit)",
    )
