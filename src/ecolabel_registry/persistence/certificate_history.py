"""`certificate_history`: a certificate's earlier rows, each closed at the revision that
replaced it (ADR 0007).

A certificate's row holds everything the resolver reads of it (its terms and its
`status_changes`) and the revision that recorded those values (`recorded_revision`). Every
writer of the row first copies it here, closed at the writing transaction's revision, and
then sets `recorded_revision` to that revision: the single writes of the repository and the
bulk import's set-based merge alike, with the SQL here. A row written twice in one
transaction is copied once (the copy is taken only from a row recorded by an earlier
revision).

The certificate as recorded at revision R is the row whose `recorded_revision <= R` and,
for a history row, whose `superseded_revision > R`.
"""

from __future__ import annotations

COLUMNS = (
    "scheme_id, number, category_code, holder_name, holder_economy, product_name, brand, "
    "model, gtins, hs_codes, certification_body_id, valid_from, valid_to, status_changes, "
    "version, created_at, updated_at, recorded_revision"
)


def keep(where: str) -> str:
    """An INSERT copying the certificates `c` matching `where` (SQL over the alias `c`) into
    the history, closed at `:revision`, unless already recorded by it."""
    selected = ", ".join(f"c.{name.strip()}" for name in COLUMNS.split(","))
    return (
        f"INSERT INTO certificate_history (certificate_id, {COLUMNS}, superseded_revision) "
        f"SELECT c.id, {selected}, :revision FROM certificate c "
        f"WHERE ({where}) AND c.recorded_revision < :revision"
    )
