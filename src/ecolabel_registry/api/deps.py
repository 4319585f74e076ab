"""Request dependencies: the transaction, the repositories, the caller and versions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ecolabel_registry.delivery import policy_of
from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import InvalidInput, StaleVersion, Unauthenticated
from ecolabel_registry.domain.messages import instant_message
from ecolabel_registry.domain.model import CertificateTerms
from ecolabel_registry.domain.validation import rfc3339_instant
from ecolabel_registry.persistence.audit import SqlAuditReader
from ecolabel_registry.persistence.bulk import SqlCertificateBulkStore
from ecolabel_registry.persistence.changes import SqlChangeLog
from ecolabel_registry.persistence.decisions import DecisionStore, SqlDecisionRepository
from ecolabel_registry.persistence.engine import unit_of_work
from ecolabel_registry.persistence.hot import HotCertificates, HotFacts, HotReads
from ecolabel_registry.persistence.impact import SqlCertificateGroups
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.persistence.repositories.keys import api_key_by_hash_async
from ecolabel_registry.persistence.versions import SqlRecordedEntities
from ecolabel_registry.persistence.webhooks import SqlSubscriptionStore
from ecolabel_registry.services.agreements import AgreementService
from ecolabel_registry.services.audit import AuditService
from ecolabel_registry.services.bodies import CertificationBodyService
from ecolabel_registry.services.certificates import CertificateSearch, CertificateService
from ecolabel_registry.services.changes import ChangeFeed
from ecolabel_registry.services.decisions import DecisionService
from ecolabel_registry.services.economies import EconomyService
from ecolabel_registry.services.equivalence import EquivalenceService
from ecolabel_registry.services.imports import CertificateImportService
from ecolabel_registry.services.keys import actor_of, hash_key
from ecolabel_registry.services.ports.equivalence import CertificateGroups
from ecolabel_registry.services.recorded import RecordedReads
from ecolabel_registry.services.schemes import SchemeService
from ecolabel_registry.services.signing import ReceiptSigner
from ecolabel_registry.services.snapshots import ResolverCache, Snapshot
from ecolabel_registry.services.webhooks import SubscriptionService
from ecolabel_registry.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """One request, one transaction: committed when the handler returns, rolled back on error."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with unit_of_work(factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_registry(session: SessionDep) -> SqlRegistry:
    """The repositories of this request's transaction."""
    return SqlRegistry(session)


RegistryDep = Annotated[SqlRegistry, Depends(get_registry)]


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use `Authorization: Bearer <api key>`")
    return token.strip()


async def authenticate(reads: HotReads, authorization: str | None) -> Actor:
    """The caller of a write: the holder of a valid, unrevoked API key (else Unauthenticated).

    Reads the key with one statement in autocommit on the hot reads (on PostgreSQL their
    asynchronous pool: no thread, no session): RequestGuard calls it before the request's
    body is read, without holding a connection while the body arrives.
    """
    token = _bearer(authorization)
    if token is None:
        raise Unauthenticated("this operation needs `Authorization: Bearer <api key>`")
    return await _actor(reads, token)


async def _actor(reads: HotReads, token: str) -> Actor:
    return actor_of(await api_key_by_hash_async(reads, hash_key(token)))


async def get_actor(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Actor:
    """The caller of a write, as RequestGuard authenticated it before reading the body."""
    actor = getattr(request.state, "actor", None)
    if isinstance(actor, Actor):
        return actor
    return await authenticate(request.app.state.hot_reads, authorization)


ActorDep = Annotated[Actor, Depends(get_actor)]


async def require_reader(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Reads are public unless ECOLABEL_PUBLIC_READS=false; then any valid key may read (the
    key read as `authenticate` reads it)."""
    settings: Settings = request.app.state.settings
    if settings.public_reads:
        return
    token = _bearer(authorization)
    if token is None:
        raise Unauthenticated("reads need an API key on this registry")
    await _actor(request.app.state.hot_reads, token)


_VERSION = re.compile(r"^[0-9]{1,9}$")


def parse_if_match(if_match: str | None) -> int | None:
    """The version named by an If-Match header (`"3"`), None when absent.

    If-Match compares entity tags strongly (RFC 9110, 13.1.1): a weak tag (`W/"3"`) never
    matches, so it is a failed precondition (412), never an update.
    """
    if if_match is None:
        return None
    value = if_match.strip()
    if value.startswith("W/"):
        raise StaleVersion(
            'If-Match compares ETags strongly: a weak ETag (W/"...") never matches; '
            'send the ETag as this registry gave it, e.g. "3"'
        )
    value = value.strip('"')
    if not _VERSION.match(value):
        raise InvalidInput.single(("header", "If-Match"), "must be the ETag this registry gave out")
    return int(value)


def get_if_match(
    if_match: Annotated[
        str | None, Header(description="The ETag of the version this update applies to.")
    ] = None,
) -> int | None:
    return parse_if_match(if_match)


IfMatchDep = Annotated[int | None, Depends(get_if_match)]

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
SchemePath = Annotated[str, Path(max_length=64, description="The scheme's slug.")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="The next_cursor of the previous page.")
]


def etag(version: int) -> str:
    """The ETag of a resource version."""
    return f'"{version}"'


def tag(response: Response, version: int, location: str | None = None) -> None:
    """Name the version shown in the response's ETag (and a created resource's path in its
    Location)."""
    if location is not None:
        response.headers["Location"] = location
    response.headers["ETag"] = etag(version)


def economy_service(registry: RegistryDep) -> EconomyService:
    return EconomyService(registry)


def scheme_service(registry: RegistryDep) -> SchemeService:
    return SchemeService(registry)


def body_service(registry: RegistryDep) -> CertificationBodyService:
    return CertificationBodyService(registry)


def certificate_service(registry: RegistryDep) -> CertificateService:
    return CertificateService(registry)


def certificate_search(request: Request) -> CertificateSearch:
    """The certificate search on the hot reads (no session: SQLite's held connection on the
    event loop, PostgreSQL's asynchronous pool)."""
    return CertificateSearch(HotCertificates(request.app.state.hot_reads))


def agreement_service(registry: RegistryDep) -> AgreementService:
    return AgreementService(registry)


def recorded_reads(session: SessionDep) -> RecordedReads:
    return RecordedReads(SqlRecordedEntities(session))


RecordedDep = Annotated[RecordedReads, Depends(recorded_reads)]
AsRecordedQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="An RFC 3339 instant with its offset: the entity as the registry had "
        "recorded it then.",
    ),
]


def instant_of(text: str | None, loc: tuple[str | int, ...]) -> dt.datetime | None:
    """The instant of an `as_recorded` value (None when absent); 422 when it is not one."""
    if text is None:
        return None
    instant = rfc3339_instant(text)
    if instant is None:
        raise InvalidInput.single(loc, instant_message(text))
    return instant


EconomiesDep = Annotated[EconomyService, Depends(economy_service)]
SchemesDep = Annotated[SchemeService, Depends(scheme_service)]
BodiesDep = Annotated[CertificationBodyService, Depends(body_service)]
CertificatesDep = Annotated[CertificateService, Depends(certificate_service)]
AgreementsDep = Annotated[AgreementService, Depends(agreement_service)]


def today() -> dt.date:
    """Today's date in UTC: the default `on` of every question."""
    return dt.datetime.now(dt.UTC).date()


def import_service_of(session: Session) -> CertificateImportService:
    """The import (and export) service over a session and its bulk paths."""
    return CertificateImportService(SqlRegistry(session), SqlCertificateBulkStore(session))


def import_service(registry: RegistryDep) -> CertificateImportService:
    """The import service over this request's transaction."""
    return CertificateImportService(registry, SqlCertificateBulkStore(registry.session))


def change_feed(session: SessionDep) -> ChangeFeed:
    return ChangeFeed(SqlChangeLog(session))


def subscription_service(session: SessionDep, settings: SettingsDep) -> SubscriptionService:
    return SubscriptionService(SqlSubscriptionStore(session), policy_of(settings))


def audit_service(session: SessionDep) -> AuditService:
    return AuditService(SqlAuditReader(session))


ImportsDep = Annotated[CertificateImportService, Depends(import_service)]
ChangeFeedDep = Annotated[ChangeFeed, Depends(change_feed)]
SubscriptionsDep = Annotated[SubscriptionService, Depends(subscription_service)]
AuditDep = Annotated[AuditService, Depends(audit_service)]


def certificate_groups(session: SessionDep) -> CertificateGroups:
    return SqlCertificateGroups(session)


CertificateGroupsDep = Annotated[CertificateGroups, Depends(certificate_groups)]


def economies_of(session: Session) -> EconomyService:
    """The economies read through a session of the caller's own (outside a request's)."""
    return EconomyService(SqlRegistry(session))


# The equivalence and decision services. app.py keeps one HotFacts over each pool of hot
# reads (`hot_facts` for single questions, `batch_facts` for batches): nothing is built per
# question but the service itself.


def equivalence_service(request: Request) -> EquivalenceService:
    """The equivalence service over the batch reads, with answers as recorded in the past."""
    state = request.app.state
    return EquivalenceService(state.batch_facts, state.resolver_cache, state.past_snapshots)


EquivalenceDep = Annotated[EquivalenceService, Depends(equivalence_service)]


def session_equivalence(request: Request, session: Session) -> EquivalenceService:
    """The equivalence service over a session's own database connection.

    A page reads the registry through its session as well: with the service's reads on the
    same connection, one page never holds two pooled connections at once (many pages at once
    would otherwise take the whole pool and wait on each other until they time out).
    """
    reads = HotReads(session.connection(), held=False)
    return EquivalenceService(HotFacts(reads), request.app.state.resolver_cache)


def decision_service(request: Request, session: Session | None, lines: int = 1) -> DecisionService:
    """The decisions of this request, answering over the hot reads the equivalence API uses
    for as many lines: the single question's held connection, or the batch's; stored in
    `session` (None: by `decision_store`)."""
    state = request.app.state
    facts = state.hot_facts if lines == 1 else state.batch_facts
    equivalence = EquivalenceService(facts, state.resolver_cache, state.past_snapshots)
    signer: ReceiptSigner = state.signer
    decisions = None if session is None else SqlDecisionRepository(session)
    return DecisionService(equivalence, decisions, signer)


def decision_store(request: Request) -> DecisionStore:
    """Where a decision answered on the event loop is stored (see `DecisionStore`)."""
    state = request.app.state
    return DecisionStore(state.hot_reads, state.sessionmaker)


async def current_terms(
    request: Request, scheme_id: str, number: str
) -> tuple[int, Snapshot, CertificateTerms | None]:
    """The revision counter, one certificate's terms read with it, and the snapshot of the
    facts to answer them with (one that holds every write up to that revision): one
    plain-SQL statement, no session, no threadpool hop, unless the cached facts must first
    be brought up to date after a write (milliseconds from the change log, seconds for a
    full reload: in the threadpool, so that other requests keep being answered meanwhile)."""
    state = request.app.state
    cache: ResolverCache = state.resolver_cache
    facts = state.hot_facts
    revision, terms = await facts.terms_and_revision_async(scheme_id, number)
    snapshot = cache.current(revision)
    if snapshot is None:
        snapshot = await run_in_threadpool(cache.at, facts, revision)
    return revision, snapshot, terms


def session_decisions(request: Request, session: Session) -> DecisionService:
    """The decisions read through a session's own connection (the verification page)."""
    return DecisionService(
        session_equivalence(request, session),
        SqlDecisionRepository(session),
        request.app.state.signer,
    )
