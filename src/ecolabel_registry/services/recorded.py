"""Entity reads as recorded: a certificate, agreement, scheme or economy as the registry
held it at an instant (`as_recorded`, ADR 0007)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from ecolabel_registry.domain.errors import NotFound
from ecolabel_registry.domain.model import Agreement, Certificate, Economy, Scheme
from ecolabel_registry.services.equivalence import RevisionLog, as_recorded


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
        found = self._source.fact("agreement", agreement_id, self.revision(instant))
        if not isinstance(found, Agreement):
            raise NotFound(f"no agreement {agreement_id!r} at {instant}")
        return found

    def scheme(self, scheme_id: str, instant: dt.datetime) -> Scheme:
        found = self._source.fact("scheme", scheme_id, self.revision(instant))
        if not isinstance(found, Scheme):
            raise NotFound(f"no scheme {scheme_id!r} at {instant}")
        return found

    def economy(self, code: str, instant: dt.datetime) -> Economy:
        found = self._source.fact("economy", code, self.revision(instant))
        if not isinstance(found, Economy):
            raise NotFound(f"no economy {code!r} at {instant}")
        return found
