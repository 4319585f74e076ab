"""The recognition matrix: each scheme's best level in each economy on a date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ecolabel_registry.domain.model import Level, ProductCategory, Scheme
from ecolabel_registry.services.snapshots import Snapshot


@dataclass(frozen=True, slots=True)
class Matrix:
    """Rows: schemes; columns: economies where some scheme has a level; cells: best level."""

    schemes: list[Scheme]
    economies: list[str]
    cells: dict[tuple[str, str], Level]


def recognition_matrix(
    snapshot: Snapshot,
    schemes: Sequence[Scheme],
    categories: Iterable[ProductCategory],
    on: dt.date,
    hs_code: str | None,
) -> Matrix:
    """The best level of a certificate of each scheme in each economy on `on`.

    Over the snapshot's economies, each category valid on `on` evaluated once as if a
    certificate of it held (`Resolver.best_levels`): with `hs_code`, only categories whose
    HS codes match it, declared with that code; without, every category with its own HS
    codes. A cell is the best level over the scheme's categories.
    """
    wanted = {s.id for s in schemes}
    chosen = [c for c in categories if c.scheme_id in wanted]
    economies = snapshot.sorted_codes
    cells = snapshot.resolver.best_levels(chosen, economies, on, hs_code)
    used = [e for e in economies if any((s.id, e) in cells for s in schemes)]
    return Matrix(list(schemes), used, cells)
