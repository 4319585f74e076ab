"""The resolver's facts and certificate terms read on the hot path (`HotFacts`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anyio.to_thread
import orjson
import structlog
from sqlalchemy import func, select

from ecolabel_registry.domain.model import (
    Certificate,
    CertificateTerms,
    ProductCategory,
    StatusChange,
)
from ecolabel_registry.domain.resolver import RegistryFacts
from ecolabel_registry.persistence import revisions
from ecolabel_registry.persistence.facts import SqlFacts
from ecolabel_registry.persistence.hot.dialect import MANY_CHUNK, REVISION_SQL
from ecolabel_registry.persistence.hot.reads import HotReads
from ecolabel_registry.persistence.repositories.certificates import WholeRows
from ecolabel_registry.persistence.tables import RegistryRevisionLogRow
from ecolabel_registry.persistence.versions import SqlFactVersions
from ecolabel_registry.services.ports.equivalence import FactChanges, FactsCache

log = structlog.get_logger("ecolabel_registry.resolver_cache")


class HotFacts:
    """The resolver's facts and certificate terms (CertificateSource of
    services.ports.equivalence): the one reader of certificate terms, with plain SQL."""

    def __init__(self, reads: HotReads) -> None:
        self._r = reads
        self._d = reads.dialect

    def revision(self) -> int:
        with self._r.connection() as conn:
            rows = conn.fetch(REVISION_SQL, ())
        return int(rows[0][0]) if rows else 0

    async def revision_async(self) -> int:
        """`revision` without blocking the event loop on PostgreSQL."""
        rows = await self._r.fetch(REVISION_SQL, ())
        return int(rows[0][0]) if rows else 0

    def load(self) -> tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]:
        """The small facts, through the ORM repositories (rare: the first snapshot, or when
        the change log cannot say what changed)."""
        with self._r.session() as session:
            return SqlFacts(session).load()

    def changes(self, since: int) -> FactChanges | None:
        """The facts written since revision `since`, through the ORM repositories."""
        with self._r.session() as session:
            return SqlFacts(session).changes(since)

    # The registry as recorded (services.ports.equivalence.RecordedSource, ADR 0007)

    def recorded_revision(self, instant: dt.datetime) -> tuple[int, int] | None:
        """The last revision recorded at or before `instant`, and the last revision at or
        before that one which recorded a fact version: one statement."""
        with self._r.connection() as conn:
            rows = conn.fetch(self._d.recorded_sql, (self._d.instant(instant),))
        if not rows:
            return None
        return int(rows[0][0]), int(rows[0][1] or 0)

    def first_recorded(self) -> dt.datetime | None:
        with self._r.session() as session:
            first = session.execute(select(func.min(RegistryRevisionLogRow.recorded_at))).scalar()
        return None if first is None else revisions.utc(first)

    def past_load(
        self, revision: int
    ) -> tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]:
        with self._r.session() as session:
            return SqlFactVersions(session).load_at(revision)

    def past_changes(self, base: int, revision: int, limit: int) -> FactChanges | None:
        with self._r.session() as session:
            return SqlFactVersions(session).changes_between(base, revision, limit)

    def terms_as_recorded(
        self, keys: Iterable[tuple[str, str]], revision: int
    ) -> dict[tuple[str, str], CertificateTerms]:
        """The certificates' terms as recorded at `revision`: the current row when it was
        recorded by then, else the history row in force then (one statement a key)."""
        build = TermsBuilder(self._d.text_dates)
        found: dict[tuple[str, str], CertificateTerms] = {}
        sql = self._d.as_recorded_sql
        with self._r.connection() as conn:
            for scheme_id, number in dict.fromkeys(keys):
                rows = conn.fetch(sql, (scheme_id, number, scheme_id, number, revision, revision))
                found.update(build.terms(rows[:1]))
        return found

    async def recorded_terms_async(
        self, instant: dt.datetime, scheme_id: str, number: str
    ) -> tuple[int, int, CertificateTerms | None] | None:
        """`recorded_revision` and one certificate's `terms_as_recorded` at that revision,
        in one statement, without blocking the event loop on PostgreSQL: the revision, the
        facts' revision and the terms (None when the certificate was not recorded by then);
        None when the registry recorded nothing by `instant`."""
        params = (self._d.instant(instant), scheme_id, number, scheme_id, number)
        rows = await self._r.fetch(self._d.recorded_terms_sql, params)
        if not rows:
            return None
        revision, facts = int(rows[0][0]), int(rows[0][1] or 0)
        if rows[0][2] is None:
            return revision, facts, None
        found = TermsBuilder(self._d.text_dates).terms([rows[0][2:]])
        return revision, facts, next(iter(found.values()))

    def terms_and_revision(
        self, scheme_id: str, number: str
    ) -> tuple[int, CertificateTerms | None]:
        """The revision counter and what the resolver reads of one certificate: one
        statement, one index lookup (the status history is on the certificate's row)."""
        with self._r.connection() as conn:
            rows = conn.fetch(self._d.single_sql, (scheme_id, number))
        return self._single(rows)

    async def version_and_revision(self, scheme_id: str, number: str) -> tuple[int, int | None]:
        """The revision counter and one certificate's version (None when there is no such
        certificate), read together: what a page made of both depends on."""
        rows = await self._r.fetch(self._d.version_sql, (scheme_id, number))
        if not rows:
            return 0, None
        version = rows[0][1]
        return int(rows[0][0] or 0), None if version is None else int(version)

    async def certificate_and_revision(
        self, scheme_id: str, number: str
    ) -> tuple[int, Certificate | None]:
        """The revision counter and one whole certificate with its status history: one
        statement (the events aggregated as JSON in the certificate's row)."""
        rows = await self._r.fetch(self._d.certificate_sql, (scheme_id, number))
        if not rows:
            return 0, None
        revision = int(rows[0][0] or 0)
        if rows[0][1] is None:
            return revision, None
        return revision, WholeRows(self._d.text_dates).certificate(rows[0][1:])

    async def terms_and_revision_async(
        self, scheme_id: str, number: str
    ) -> tuple[int, CertificateTerms | None]:
        """`terms_and_revision` without blocking the event loop on PostgreSQL."""
        return self._single(await self._r.fetch(self._d.single_sql, (scheme_id, number)))

    def _single(self, rows: list[tuple[Any, ...]]) -> tuple[int, CertificateTerms | None]:
        if not rows:
            return 0, None
        revision = int(rows[0][0] or 0)
        if rows[0][1] is None:
            return revision, None
        found = TermsBuilder(self._d.text_dates).terms([rows[0][1:]])
        return revision, next(iter(found.values()))

    def certificate_terms(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], CertificateTerms]:
        """What the resolver reads of many certificates (see `fetch_terms`)."""
        return self.fetch_terms(keys)()

    def fetch_terms(
        self, keys: Iterable[tuple[str, str]]
    ) -> Callable[[], dict[tuple[str, str], CertificateTerms]]:
        """The statements of `certificate_terms` run now, one per 10,000 keys; their rows made
        into terms when the function returned is called.

        The keys go in as JSON lists (one parameter each, whatever their number) and each
        certificate comes back as one row of only the columns recognition depends on, its
        status history as the JSON text of its own `status_changes` column, which orjson
        decodes (far fewer rows, bytes and look-ups than whole certificates with their
        events). Run on a second thread, the statements mostly wait for the database without
        the interpreter's lock; the rows are decoded and made into terms by the thread that
        answers, so that the two threads do not take turns at the lock for that work.
        """
        wanted = list(set(keys))
        fetched: list[list[tuple[Any, ...]]] = []
        with self._r.connection() as conn:
            for start in range(0, len(wanted), MANY_CHUNK):
                sql, params = self._d.many(wanted[start : start + MANY_CHUNK])
                fetched.append(conn.fetch(sql, params))

        def terms() -> dict[tuple[str, str], CertificateTerms]:
            build = TermsBuilder(self._d.text_dates)
            found: dict[tuple[str, str], CertificateTerms] = {}
            for rows in fetched:
                found.update(build.terms(self._d.rows(rows)))
            return found

        return terms


_DAYS: dict[str, dt.date] = {}
_CHANGES: dict[tuple[str, str], StatusChange] = {}
KEPT_VALUES = 100_000
"""Days and status changes converted from text are kept for the whole process (the same few
thousand recur in every read: a batch's chunks, the next batch), up to this many of each;
then the next read starts them again. Never wrong: one text is always the same value."""


class TermsBuilder:
    """`CertificateTerms` from rows of `_PG_TERMS` / `_SQLITE_TERMS`, with the repeated
    values converted once: days and status changes once per process (`KEPT_VALUES`), JSON
    lists and status histories once per read."""

    def __init__(self, text_dates: bool) -> None:
        self._text_dates = text_dates
        if len(_DAYS) > KEPT_VALUES:
            _DAYS.clear()
        if len(_CHANGES) > KEPT_VALUES:
            _CHANGES.clear()
        self._dates = _DAYS
        self._lists: dict[str | None, tuple[str, ...]] = {"[]": (), None: (), "": ()}
        self._changes = _CHANGES
        self._histories: dict[str | None, tuple[StatusChange, ...]] = {None: (), "[]": ()}

    def _date(self, text: str) -> dt.date:
        day = self._dates.get(text)
        if day is None:
            day = self._dates[text] = dt.date.fromisoformat(text)
        return day

    def _list(self, text: str) -> tuple[str, ...]:
        value = self._lists[text] = tuple(orjson.loads(text) or ())
        return value

    def _history(self, text: str) -> tuple[StatusChange, ...]:
        changes, out = self._changes, []
        for status, effective in orjson.loads(text):
            change = changes.get((status, effective))
            if change is None:
                change = changes[(status, effective)] = StatusChange(status, self._date(effective))
            out.append(change)
        history = self._histories[text] = tuple(out)
        return history

    def terms(self, rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], CertificateTerms]:
        out: dict[tuple[str, str], CertificateTerms] = {}
        lists, dates, histories = self._lists, self._dates, self._histories
        text_dates = self._text_dates
        for scheme_id, number, category_code, valid_from, valid_to, hs_codes, history in rows:
            if text_dates:
                valid_from = dates.get(valid_from) or self._date(valid_from)
                valid_to = dates.get(valid_to) or self._date(valid_to)
            hs = lists.get(hs_codes)
            if hs is None:
                hs = self._list(hs_codes)
            changes = histories.get(history)
            if changes is None:
                changes = self._history(history)
            out[(scheme_id, number)] = CertificateTerms(
                scheme_id, number, category_code, valid_from, valid_to, hs, changes
            )
        return out


async def warm_resolver_cache(cache: FactsCache, reads: HotReads) -> None:
    """Build the resolver's snapshot before the first question (seconds on a large registry).

    A failure is logged, not raised: the first question then builds it (and answers 503 if
    the database is still unreachable).
    """
    try:
        await anyio.to_thread.run_sync(cache.get, HotFacts(reads))
    except Exception as exc:
        log.warning("resolver cache not warmed", error=str(exc)[:200])
