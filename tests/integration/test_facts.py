"""Fact gathering costs a fixed number of set-based queries, whatever the registry holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Certificate,
    Chaining,
    Coverage,
    Direction,
    Level,
    ProductCategory,
    Scheme,
    SchemeType,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.persistence.facts import SqlFacts
from ecolabel_registry.persistence.hot import HotFacts, HotReads
from ecolabel_registry.persistence.repositories import SqlCertificateRepository, SqlRegistry
from ecolabel_registry.services.agreements import AgreementService
from ecolabel_registry.services.certificates import CertificateService
from ecolabel_registry.services.equivalence import EquivalenceService, Question
from ecolabel_registry.services.schemes import SchemeService
from ecolabel_registry.services.snapshots import ResolverCache

ON = dt.date(2025, 3, 1)


@contextmanager
def counted(connection: Connection) -> Iterator[list[str]]:
    """The queries (SELECT statements) sent on the test's connection meanwhile, by the ORM
    or by the plain-SQL reader (which talks to the driver directly)."""
    statements: list[str] = []

    def record(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            statements.append(sql)

    dbapi: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite":
        dbapi.set_trace_callback(record)
        try:
            yield statements
        finally:
            dbapi.set_trace_callback(None)
        return
    plain = dbapi.cursor_factory

    class Recording(plain):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            record(query if isinstance(query, str) else query.as_string(self))
            return super().execute(query, *args, **kwargs)

    dbapi.cursor_factory = Recording
    try:
        yield statements
    finally:
        dbapi.cursor_factory = plain


def arrange(registry: SqlRegistry, agreements: int, certificates: int) -> None:
    schemes = SchemeService(registry)
    for scheme_id, home in (("label-a", "KR"), ("label-b", "JP")):
        schemes.create(
            SYSTEM,
            Scheme(scheme_id, scheme_id, "op", SchemeType.ISO14024, (home,), Coverage.PARTIAL),
        )
        schemes.create_category(
            SYSTEM,
            ProductCategory(
                scheme_id, "paints", "Paints", "1", dt.date(2020, 1, 1), None, ("3208",)
            ),
        )
    for i in range(agreements):
        AgreementService(registry).create(
            SYSTEM,
            Agreement(
                id="",
                title=f"agreement {i}",
                reference=f"REF-{i}",
                signed_on=None,
                direction=Direction.MUTUAL,
                chaining=Chaining.NOT_ALLOWED,
                effective_from=dt.date(2021, 1, 1),
                effective_to=None,
                parties=(AgreementParty("label-a"), AgreementParty("label-b")),
                scope_entries=(ScopeEntry("", "label-a", Level.FULL, dt.date(2021, 1, 1)),),
            ),
        )
    for n in range(certificates):
        CertificateService(registry).create(
            SYSTEM,
            Certificate(
                "label-a",
                f"A-{n}",
                "paints",
                "Holder",
                "KR",
                "Paint",
                dt.date(2022, 1, 1),
                dt.date(2027, 1, 1),
            ),
        )


def queries_for_one_question(
    session: Session, session_factory: sessionmaker[Session], agreements: int
) -> int:
    registry = SqlRegistry(session)
    arrange(registry, agreements, certificates=1)
    session.flush()
    facts, cache = HotFacts(HotReads(session.connection(), held=True)), ResolverCache()
    service = EquivalenceService(facts, cache)

    def ask() -> Answer:  # as the single question's route asks
        revision, certificate = facts.terms_and_revision("label-a", "A-0")
        snapshot = cache.at(facts, revision)
        return service.answer(snapshot, "label-a", "A-0", certificate, "JP", ON, "320810")

    assert ask().recognized
    with counted(session.connection()) as statements:
        answer = ask()
    assert answer.recognized
    assert len(answer.routes) == agreements
    return len(statements)


# One statement reads the revision counter and the certificate with its history together.
def test_one_question_costs_one_query_with_one_agreement(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    assert queries_for_one_question(session, session_factory, agreements=1) == 1


def test_one_question_costs_one_query_with_many_agreements(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    assert queries_for_one_question(session, session_factory, agreements=25) == 1


def test_an_unknown_certificate_still_reads_the_revision(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    arrange(SqlRegistry(session), agreements=1, certificates=1)
    session.flush()
    facts = HotFacts(HotReads(session.connection(), held=True))
    revision, certificate = facts.terms_and_revision("label-a", "NO-SUCH")
    assert certificate is None
    assert revision == SqlFacts(session).revision() > 0


def test_the_terms_read_are_those_of_the_stored_certificates(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    registry = SqlRegistry(session)
    arrange(registry, agreements=1, certificates=3)
    CertificateService(registry).add_status_event(
        SYSTEM, "label-a", "A-1", StatusEvent("suspended", dt.date(2024, 5, 1), "audit")
    )
    session.flush()
    facts, hot = SqlFacts(session), HotFacts(HotReads(session.connection(), held=True))
    stored = SqlCertificateRepository(session)
    revision, one = hot.terms_and_revision("label-a", "A-1")
    assert revision == facts.revision()
    certificate = stored.get("label-a", "A-1")
    assert certificate is not None
    assert one == certificate.terms()
    assert hot.terms_and_revision("label-a", "NO-SUCH") == (facts.revision(), None)
    keys = [("label-a", "A-0"), ("label-a", "A-1"), ("label-a", "NO"), ("label-b", "A-2")]
    terms = hot.certificate_terms(keys)
    assert terms == {key: c.terms() for key, c in stored.get_many(keys).items()}
    assert len(terms) == 2
    assert [e.status for e in terms[("label-a", "A-1")].status_events] == ["active", "suspended"]


def test_a_batch_gathers_certificates_together(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    registry = SqlRegistry(session)
    arrange(registry, agreements=1, certificates=60)
    session.flush()
    service = EquivalenceService(
        HotFacts(HotReads(session.connection(), held=True)), ResolverCache()
    )
    questions = [Question(str(n), "label-a", f"A-{n % 60}", "JP", ON, None) for n in range(600)]
    service.batch(questions[:1])
    with counted(session.connection()) as statements:
        results = service.batch(questions)
    assert all(r.answer is not None and r.answer.recognized for r in results)
    assert len(statements) == 2


def test_facts_loaded_once_until_a_write_changes_them(session: Session) -> None:
    registry = SqlRegistry(session)
    arrange(registry, agreements=1, certificates=1)
    session.commit()
    cache = ResolverCache()
    first = cache.get(SqlFacts(session))
    assert cache.get(SqlFacts(session)) is first
    SchemeService(registry).update(SYSTEM, "label-b", {"name": "Label B"}, 1)
    session.commit()  # the next transaction's write takes the next revision
    rebuilt = cache.get(SqlFacts(session))
    assert rebuilt is not first
    assert rebuilt.facts.schemes["label-b"].name == "Label B"
