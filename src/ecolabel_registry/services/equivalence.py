"""Equivalence questions: single, batch, markets and planning, over a cached resolver."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ecolabel_registry.domain.errors import DomainError, FieldError, InvalidInput, NotFound
from ecolabel_registry.domain.messages import (
    closest,
    did_you_mean,
    economy_code_message,
    hs_code_message,
    is_economy_code,
    unknown_economy_message,
)
from ecolabel_registry.domain.model import (
    Certificate,
    CertificateTerms,
    Coverage,
    ProductCategory,
)
from ecolabel_registry.domain.resolver import Answer, PlanOption
from ecolabel_registry.domain.validation import is_hs_code
from ecolabel_registry.services.ports.equivalence import CertificateSource, RecordedSource
from ecolabel_registry.services.snapshots import (
    AsRecorded,
    PastSnapshots,
    ResolverCache,
    Snapshot,
    as_recorded,
)

MAX_BATCH_LINES = 10_000
MAX_PLAN_TARGETS = 50
FIRST_READ = 500
"""Certificates a batch reads before answering; the rest are read meanwhile (see `batch`)."""
READ_CHUNK = 1_000
"""Certificates read together while a batch is being answered."""


@dataclass(frozen=True, slots=True)
class Question:
    """One line of a batch, as the caller sent it."""

    ref: str | None
    scheme: str
    certificate: str
    target: str
    on: dt.date
    hs_code: str | None


Line = tuple[str, str, str, dt.date, str | None]
"""A batch line's question: scheme, certificate number, target, date and HS code (or None)."""


@dataclass(frozen=True, slots=True)
class LineResult:
    """A batch line's answer, or its own error."""

    ref: str | None
    question: Question
    answer: Answer | None
    error: DomainError | None


class EquivalenceService:
    """Answers recognition questions with the rules of the domain resolver."""

    def __init__(
        self,
        source: CertificateSource,
        cache: ResolverCache,
        past: PastSnapshots | None = None,
    ) -> None:
        self._source = source
        self._cache = cache
        self._past = past

    def _snapshot(self) -> Snapshot:
        return self._cache.get(self._source)

    def current_snapshot(self) -> Snapshot:
        """The snapshot of the registry's current revision (the plain questions' facts)."""
        return self._snapshot()

    def _recorded(self) -> tuple[RecordedSource, PastSnapshots]:
        source = self._source
        if self._past is None or not isinstance(source, RecordedSource):
            raise TypeError("this service reads no registry as recorded")  # pragma: no cover
        return source, self._past

    def as_recorded(self, instant: dt.datetime, loc: tuple[str | int, ...]) -> AsRecorded:
        """The revisions an `as_recorded` instant names (422 when out of the history)."""
        return as_recorded(self._recorded()[0], instant, loc)

    def snapshot_as_recorded(self, asked: AsRecorded) -> Snapshot:
        """The resolver over the facts as recorded at `asked`."""
        source, past = self._recorded()
        return past.at(source, asked.facts_revision)

    def answer_lines_as_recorded(
        self, lines: Sequence[Line], asked: Sequence[AsRecorded | None], current: Snapshot
    ) -> list[Answer | DomainError]:
        """Each line answered as recorded at its own instant (None: as the registry is,
        over `current`), the lines of one revision read and resolved together."""
        source = self._recorded()[0]
        by_revision: dict[int | None, list[int]] = {}
        # In revision order, so that each snapshot of earlier facts is built from the last.
        order = sorted(range(len(asked)), key=lambda i: (asked[i] is not None, _revision(asked[i])))
        for index in order:
            when = asked[index]
            by_revision.setdefault(None if when is None else when.revision, []).append(index)
        outcomes: list[Answer | DomainError] = [DomainError("unanswered")] * len(lines)
        for revision, indexes in by_revision.items():
            group = [lines[i] for i in indexes]
            keys = list(dict.fromkeys((line[0], line[1]) for line in group))
            if revision is None:
                snapshot = current
                certificates = self._source.certificate_terms(keys)
            else:
                when = asked[indexes[0]]
                assert when is not None
                snapshot = self.snapshot_as_recorded(when)
                certificates = source.terms_as_recorded(keys, revision)
            resolved = self._resolved(snapshot, certificates, group, None, frozenset())
            for i, outcome in zip(indexes, resolved, strict=True):
                outcomes[i] = outcome
        return outcomes

    def answer(
        self,
        snapshot: Snapshot,
        scheme_id: str,
        number: str,
        certificate: Certificate | CertificateTerms | None,
        target: str,
        on: dt.date,
        hs_code: str | None,
    ) -> Answer:
        """One question's answer over a snapshot at least as new as the revision read with
        `certificate` (`CertificateSource.terms_and_revision`)."""
        _check_target(snapshot, target, ("query", "target"))
        _check_hs(hs_code, ("query", "hs_code"))
        if certificate is None:
            raise unknown_certificate(snapshot, scheme_id, number)
        return snapshot.resolver.resolve(
            certificate, _category(snapshot, certificate), target, on, hs_code
        )

    def batch(self, questions: Sequence[Question]) -> list[LineResult]:
        """Each line answered on its own; certificates gathered for all lines at once."""
        outcomes = self.answer_lines(
            [(q.scheme, q.certificate, q.target, q.on, q.hs_code) for q in questions]
        )
        return [
            LineResult(q.ref, q, None, outcome)
            if isinstance(outcome, DomainError)
            else LineResult(q.ref, q, outcome, None)
            for q, outcome in zip(questions, outcomes, strict=True)
        ]

    def answer_lines(
        self,
        lines: Sequence[Line],
        repeated: frozenset[Line] | None = None,
        snapshot: Snapshot | None = None,
    ) -> Iterator[Answer | DomainError]:
        """`batch` without the line objects: an answer or the line's own error, line by line.

        The snapshot and the certificates of all lines are read at once, here; the lines are
        then resolved one at a time as the iterator is consumed, so that a caller that writes
        each answer out at once holds only one answer at a time (fewer live objects for the
        garbage collector to walk). A line asked more than once in the batch (same
        certificate, target, date and HS code) is resolved once and shares its outcome;
        `repeated` is `repeated_lines(lines)` when the caller has it already; `snapshot` the
        facts to answer with (see `answer_lines_with_revision`), else the current ones.
        """
        if len(lines) > MAX_BATCH_LINES:
            raise InvalidInput.single(
                ("body", "lines"), f"at most {MAX_BATCH_LINES} lines a request"
            )
        if snapshot is None:
            snapshot = self._snapshot()
        # The keys in order of first use: the certificates of the first lines come first.
        keys = list(dict.fromkeys((line[0], line[1]) for line in lines))
        certificates = self._source.certificate_terms(keys[:FIRST_READ])
        if repeated is None:
            repeated = repeated_lines(lines)
        return self._outcomes(snapshot, certificates, lines, keys[FIRST_READ:], repeated)

    def answer_lines_with_revision(
        self, lines: Sequence[Line]
    ) -> tuple[int, Iterator[Answer | DomainError]]:
        """`answer_lines` and the registry revision of the facts that answer them: the
        snapshot's, which holds every write up to the revision counter read for it."""
        snapshot = self._snapshot()
        return snapshot.revision, self.answer_lines(lines, snapshot=snapshot)

    def answer_line_with_revision(self, line: Line) -> tuple[int, Answer | DomainError]:
        """One line answered as `answer_lines` answers it (the same checks and words), its
        certificate read with the revision counter in one statement, as the single question
        reads it; and the revision of the snapshot that answers it."""
        revision, terms = self._source.terms_and_revision(line[0], line[1])
        snapshot = self._cache.at(self._source, revision)
        return snapshot.revision, self.answer_line(snapshot, terms, line)

    def answer_line(
        self, snapshot: Snapshot, terms: CertificateTerms | None, line: Line
    ) -> Answer | DomainError:
        """One line answered as `answer_lines` answers it, over `snapshot` and its
        certificate's `terms` read with a revision the snapshot holds (None: no such
        certificate)."""
        found = {} if terms is None else {(line[0], line[1]): terms}
        (outcome,) = self._resolved(snapshot, found, [line], None, frozenset())
        return outcome

    def _outcomes(
        self,
        snapshot: Snapshot,
        certificates: dict[tuple[str, str], CertificateTerms],
        lines: Sequence[Line],
        later: Sequence[tuple[str, str]],
        repeated: frozenset[Line],
    ) -> Iterator[Answer | DomainError]:
        if not later:
            yield from self._resolved(snapshot, certificates, lines, None, repeated)
            return
        # The certificates after the first ones are read chunk by chunk, in the order the
        # lines need them, on a second thread while the lines are answered (the database
        # works, or the driver waits, meanwhile); a chunk's rows are made into terms here,
        # by the line that needs them (`fetch_terms`). A chunk's read error is raised by the
        # line that waits for it. Reads not yet started when the caller stops are dropped.
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-certificates")
        try:
            rest = [
                reader.submit(self._source.fetch_terms, later[start : start + READ_CHUNK])
                for start in range(0, len(later), READ_CHUNK)
            ]
            yield from self._resolved(snapshot, certificates, lines, iter(rest), repeated)
        finally:
            reader.shutdown(wait=False, cancel_futures=True)

    def _resolved(
        self,
        snapshot: Snapshot,
        certificates: dict[tuple[str, str], CertificateTerms],
        lines: Sequence[Line],
        rest: Iterator[Future[Callable[[], dict[tuple[str, str], CertificateTerms]]]] | None,
        repeated: frozenset[Line],
    ) -> Iterator[Answer | DomainError]:
        resolve = snapshot.resolver.resolve
        categories = snapshot.categories
        codes = snapshot.economy_codes
        done: dict[Line, Answer | DomainError] = {}
        hs_ok: dict[str, bool] = {}
        for line in lines:
            if repeated and line in repeated:
                known = done.get(line)
                if known is not None:
                    yield known
                    continue
            scheme_id, number, target, on, hs_code = line
            outcome: Answer | DomainError
            try:
                if target not in codes:
                    _check_target(snapshot, target, ("target",))
                if hs_code is not None:
                    valid = hs_ok.get(hs_code)
                    if valid is None:
                        valid = hs_ok[hs_code] = is_hs_code(hs_code)
                    if not valid:
                        _check_hs(hs_code, ("hs_code",))
                certificate = certificates.get((scheme_id, number))
                while certificate is None and rest is not None:
                    chunk = next(rest, None)
                    if chunk is None:
                        rest = None
                    else:
                        certificates.update(chunk.result()())
                        certificate = certificates.get((scheme_id, number))
                if certificate is None:
                    raise unknown_certificate(snapshot, scheme_id, number)
                category = categories.get((certificate.scheme_id, certificate.category_code))
                if category is None:
                    category = _category(snapshot, certificate)
                outcome = resolve(certificate, category, target, on, hs_code)
            except DomainError as error:
                outcome = error
            if repeated and line in repeated:
                done[line] = outcome
            yield outcome

    def markets(
        self, scheme_id: str, number: str, on: dt.date, asked: AsRecorded | None = None
    ) -> tuple[int, list[tuple[str, Answer]]]:
        """Every economy and group where the certificate is recognized (or facilitated) on
        `on` (as recorded at `asked`), with the registry revision answered from."""
        certificate: CertificateTerms | None
        if asked is None:
            revision, certificate = self._source.terms_and_revision(scheme_id, number)
            snapshot = self._cache.at(self._source, revision)
        else:
            revision = asked.revision
            snapshot = self.snapshot_as_recorded(asked)
            found = self._recorded()[0].terms_as_recorded([(scheme_id, number)], revision)
            certificate = found.get((scheme_id, number))
        if certificate is None:
            raise unknown_certificate(snapshot, scheme_id, number)
        return revision, markets_of(snapshot, certificate, on)

    def snapshot_at(self, revision: int) -> Snapshot:
        """The snapshot holding every write up to `revision` (read with what it answers for)."""
        return self._cache.at(self._source, revision)

    def plan(
        self, hs_code: str, targets: Sequence[str], on: dt.date, asked: AsRecorded | None = None
    ) -> list[PlanOption]:
        """Which schemes would give recognition in most of `targets` for a product of
        `hs_code` (with the facts as recorded at `asked`)."""
        snapshot = self._snapshot() if asked is None else self.snapshot_as_recorded(asked)
        errors: list[FieldError] = []
        if not is_hs_code(hs_code):
            errors.append(FieldError(("query", "hs_code"), hs_code_message(hs_code)))
        if not targets:
            errors.append(FieldError(("query", "targets"), "name at least one target economy"))
        elif len(targets) > MAX_PLAN_TARGETS:
            errors.append(
                FieldError(
                    ("query", "targets"),
                    f"{len(targets)} economies; at most {MAX_PLAN_TARGETS} in one plan",
                )
            )
        for target in targets:
            problem = target_problem(snapshot, target)
            if problem is not None:
                errors.append(FieldError(("query", "targets"), problem))
        if errors:
            raise InvalidInput(errors)
        return snapshot.resolver.plan(hs_code, targets, on, snapshot.categories.values())


def _revision(asked: AsRecorded | None) -> int:
    return 0 if asked is None else asked.revision


def markets_of(
    snapshot: Snapshot, certificate: Certificate | CertificateTerms, on: dt.date
) -> list[tuple[str, Answer]]:
    """Every economy and group where `certificate` is recognized (or facilitated) on `on`,
    over a snapshot at least as new as the revision read with the certificate."""
    return snapshot.resolver.markets(
        certificate, _category(snapshot, certificate), on, snapshot.sorted_codes
    )


def repeated_lines(lines: Iterable[Line]) -> frozenset[Line]:
    """The lines asked more than once."""
    return frozenset(line for line, n in Counter(lines).items() if n > 1)


class UnknownCertificate(NotFound):
    """A certificate the registry does not hold; says what that means for its scheme."""

    def __init__(self, detail: str, scheme_id: str, coverage: Coverage | None) -> None:
        super().__init__(detail)
        self.problem_extra = {
            "scheme": scheme_id,
            "certificate_coverage": None if coverage is None else coverage.value,
        }


def unknown_certificate(snapshot: Snapshot, scheme_id: str, number: str) -> UnknownCertificate:
    """The 404 for an unknown certificate, saying whether the scheme's coverage is complete."""
    scheme = snapshot.facts.schemes.get(scheme_id)
    if scheme is None:
        return UnknownCertificate(
            f"no scheme {scheme_id!r}" + did_you_mean(closest(scheme_id, snapshot.facts.schemes)),
            scheme_id,
            None,
        )
    if scheme.certificate_coverage is Coverage.COMPLETE:
        detail = (
            f"{scheme.name} registers every valid certificate here (coverage complete): "
            f"{number!r} is not a valid certificate of it"
        )
    else:
        detail = (
            f"certificate {number!r} is not in this registry; {scheme.name} registers only part "
            "of its certificates here (coverage partial), so it may still exist"
        )
    return UnknownCertificate(detail, scheme_id, scheme.certificate_coverage)


def _category(snapshot: Snapshot, certificate: Certificate | CertificateTerms) -> ProductCategory:
    category = snapshot.categories.get((certificate.scheme_id, certificate.category_code))
    if category is None:  # the database's foreign key makes this a stale cache
        raise NotFound(
            f"category {certificate.category_code!r} of scheme {certificate.scheme_id!r} is unknown"
        )
    return category


def target_problem(snapshot: Snapshot, target: str) -> str | None:
    """What is wrong with `target` as an economy asked about; None when the registry knows it."""
    if target in snapshot.economy_codes:
        return None
    if not is_economy_code(target):
        return economy_code_message(target)
    return unknown_economy_message(target)


def _check_target(snapshot: Snapshot, target: str, loc: tuple[str, ...]) -> None:
    problem = target_problem(snapshot, target)
    if problem is not None:
        raise InvalidInput.single(loc, problem)


def _check_hs(hs_code: str | None, loc: tuple[str, ...]) -> None:
    if hs_code is not None and not is_hs_code(hs_code):
        raise InvalidInput.single(loc, hs_code_message(hs_code))
