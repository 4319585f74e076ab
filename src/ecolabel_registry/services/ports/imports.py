"""The import port: the bulk store the import service writes through, and what crosses it.

The column contract (`COLUMNS`, the CSV cell escaping) lives here because both sides read
it: the service's row-by-row reader and the store's set-based CSV staging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.model import CERTIFICATE_FIELDS, Certificate, StatusEvent
from ecolabel_registry.services.ports.registry import CertificateFilter

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "CertificateBulkStore",
    "ExistingMatch",
    "StagedCertificate",
    "neutralize_cell",
    "restore_cell",
]

COLUMNS: tuple[str, ...] = (
    *CERTIFICATE_FIELDS,
    "status",
    "status_effective_date",
    "status_reason",
    "status_events",
)
"""The stable column set, in the order the export writes it."""

REQUIRED_COLUMNS = frozenset(
    {"number", "category_code", "holder_name", "holder_economy", "product_name"}
    | {"valid_from", "valid_to"}
)

# CSV cells a spreadsheet would run as a formula (OWASP, "CSV Injection")

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"


def neutralize_cell(value: str) -> str:
    """A CSV export cell that a spreadsheet shows as text instead of running it.

    A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote
    in front; so does a cell that starts with a single quote itself, so that `restore_cell`
    gives back exactly the value whatever it was.
    """
    if value.startswith(_FORMULA_STARTS) or value.startswith(_ESCAPE):
        return _ESCAPE + value
    return value


def restore_cell(value: str) -> str:
    """The value of an imported CSV cell: a leading single quote is removed (one, not all)."""
    return value[1:] if value.startswith(_ESCAPE) else value


# What the store is given and gives back


@dataclass(frozen=True, slots=True)
class StagedCertificate:
    """One valid row: the certificate and `events`, the history it gets when it is new.

    `declared` says what the row states about status for an existing certificate:
    `history` (its full history, the same as `events`), `status` (the status columns,
    `status`) or `none`.
    """

    row: int
    certificate: Certificate
    events: tuple[StatusEvent, ...]
    declared: str
    status: StatusEvent | None


@dataclass(frozen=True, slots=True)
class ExistingMatch:
    """A staged row whose number the scheme already has, with that certificate's state."""

    row: int
    certificate_id: int
    number: str
    certification_body_id: str | None
    current_body_id: str | None
    fields_changed: bool
    history: tuple[StatusEvent, ...]
    declared: str
    declared_history: tuple[StatusEvent, ...]
    status: StatusEvent | None


class CertificateBulkStore(Protocol):
    """Set-based writes and reads of many certificates of one scheme, in one transaction."""

    def open(self, scheme_id: str) -> None:
        """Lock the scheme against concurrent imports and make an empty staging area."""

    def stage(self, rows: Sequence[StagedCertificate]) -> None:
        """Append valid rows to the staging area."""

    @property
    def stages_csv(self) -> bool:
        """Whether `stage_csv` can stage a file at all (else it always returns None)."""

    def stage_csv(
        self,
        names: Sequence[str],
        records: Iterator[list[str]],
        own_body: str | None,
        on_rows: Callable[[int], None] | None = None,
    ) -> int | None:
        """Stage a whole CSV file set-based, checking the row rules in the store itself.

        `names` are the header's (checked) column names, `records` the data records with
        blank lines skipped, `own_body` the importing certification body (it fills an empty
        `certification_body_id` and must be authorized) or None for the operator. Returns
        how many rows were staged, or None when the store has no such path or when any
        record might not pass the rules of `services.imports.rows` (those of a create): then
        nothing was staged, and the file must be read row by row for its errors. Parse
        errors of `records` propagate, with nothing staged.
        """

    def duplicates(self, limit: int) -> tuple[list[tuple[int, str, int]], int]:
        """Rows repeating an earlier row's number: (row, number, first row), and their count."""

    def match_existing(self) -> int:
        """Pair staged rows with the scheme's existing certificates; how many matched.

        From here to the merge, the certificates compared are the ones written: no other
        write interleaves, or the merge is a Conflict.
        """

    def matches(self, chunk_rows: int) -> Iterator[list[ExistingMatch]]:
        """The matched rows in row order, in chunks, with the certificates' histories."""

    def stage_events(self, events: Sequence[tuple[int, StatusEvent]]) -> None:
        """Status events to append to existing certificates: (certificate id, event)."""

    def record_changes(self, actor: Actor, operation: str) -> None:
        """Audit each certificate the merge is about to create or change, before the merge.

        One audit event per certificate (`entity_type` certificate, `entity_id`
        `scheme/number`): a new one has `before` null and `after` its number and version 1;
        a changed one has `before` its fields and version as they are and `after` its fields
        and version as the row makes them, with the status events the import appends.
        """

    def merge(self) -> int:
        """Write the staged rows: insert new certificates, update matched ones, append events.

        Returns how many certificates were created.
        """

    def close(self) -> None:
        """Drop the staging area."""

    def export(self, scheme_id: str, filters: CertificateFilter) -> Iterator[Certificate]:
        """The scheme's certificates with their histories, in registration order."""
