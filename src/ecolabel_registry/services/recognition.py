"""The recognition matrix: each scheme's best level in each economy on a date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ecolabel_registry.domain.model import Level, ProductCategory, Scheme
from ecolabel_registry.services.equivalence import MAX_PLAN_TARGETS, EquivalenceService


@dataclass(frozen=True, slots=True)
class Matrix:
    """Rows: schemes; columns: economies where some scheme has a level; cells: best level."""

    schemes: list[Scheme]
    economies: list[str]
    cells: dict[tuple[str, str], Level]


def recognition_matrix(
    equivalence: EquivalenceService,
    schemes: Sequence[Scheme],
    categories: Iterable[ProductCategory],
    economies: Sequence[str],
    on: dt.date,
    hs_code: str | None,
) -> Matrix:
    """The best level of a certificate of each scheme in each economy on `on`.

    Uses the resolver's plan (a certificate of each category valid on `on`, as if it held):
    with `hs_code`, only categories whose HS codes match it; without, every HS chapter of
    the schemes' categories, keeping the best level over them.
    """
    wanted = {s.id for s in schemes}
    if hs_code is not None:
        codes = [hs_code]
    else:
        codes = sorted(
            {hs[:2] for c in categories if c.scheme_id in wanted for hs in c.hs_codes if hs}
        )
    cells: dict[tuple[str, str], Level] = {}
    # A plan answers for at most MAX_PLAN_TARGETS economies: the matrix asks in groups of that.
    groups = [
        economies[i : i + MAX_PLAN_TARGETS] for i in range(0, len(economies), MAX_PLAN_TARGETS)
    ]
    for code in codes:
        for group in groups:
            for option in equivalence.plan(code, group, on):
                if option.scheme_id not in wanted:
                    continue
                for economy, level in option.levels.items():
                    key = (option.scheme_id, economy)
                    best = cells.get(key)
                    if level is not None and (best is None or level.strength > best.strength):
                        cells[key] = level
    used = [e for e in economies if any((s.id, e) in cells for s in schemes)]
    return Matrix(list(schemes), used, cells)
