"""Entity reads as recorded: a certificate, agreement, scheme or economy as the registry
held it at an instant (`as_recorded`, ADR 0007)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol, TypeVar

from ecolabel_registry.domain.errors import NotFound
from ecolabel_registry.domain.model import Agreement, Certificate, Economy, Scheme
from ecolabel_registry.services.ports.equivalence import RevisionLog
from ecolabel_registry.services.snapshots import as_recorded

_F = TypeVar("_F", Agreement, Scheme, Economy)


class RecordedEntities(RevisionLog, Protocol):
    """The stored history: revisions by instant, and entities as of a revision."""

    def certificate(self, scheme_id: str, number: str, revision: int) -> Certificate | None: ...
    def fact(self, kind: str, key: str, revision: int) -> object | None: ...


class RecordedReads:
    """Entities as recorded at an instant; 422 for an instant out of the history, 404 for an
    entity the registry did not hold then."""

    def __init__(self, source: RecordedEntities) -> None:
        self._source = source

    def revision(self, instant: dt.datetime) -> int:
        """The revision recorded last at or before `instant`."""
        return as_recorded(self._source, instant, ("query", "as_recorded")).revision

    def certificate(self, scheme_id: str, number: str, instant: dt.datetime) -> Certificate:
        found = self._source.certificate(scheme_id, number, self.revision(instant))
        if found is None:
            raise NotFound(f"scheme {scheme_id!r} had no certificate {number!r} at {instant}")
        return found

    def agreement(self, agreement_id: str, instant: dt.datetime) -> Agreement:
        return self._fact(Agreement, "agreement", agreement_id, instant)

    def scheme(self, scheme_id: str, instant: dt.datetime) -> Scheme:
        return self._fact(Scheme, "scheme", scheme_id, instant)

    def economy(self, code: str, instant: dt.datetime) -> Economy:
        return self._fact(Economy, "economy", code, instant)

    def _fact(self, kind: type[_F], name: str, key: str, instant: dt.datetime) -> _F:
        found = self._source.fact(name, key, self.revision(instant))
        if not isinstance(found, kind):
            raise NotFound(f"no {name} {key!r} at {instant}")
        return found
