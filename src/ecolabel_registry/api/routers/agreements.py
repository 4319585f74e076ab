"""Recognition agreements, their status events, party status events and scope entries."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ecolabel_registry.api.deps import (
    ActorDep,
    AgreementsDep,
    AsRecordedQuery,
    CertificateGroupsDep,
    Cursor,
    IfMatchDep,
    Limit,
    RecordedDep,
    instant_of,
    tag,
    today,
)
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.routers.status_events import History, status_event_routes
from ecolabel_registry.api.schemas.agreements import (
    AgreementCreate,
    AgreementRead,
    AgreementStatusEventCreate,
    AgreementUpdate,
    EconomyImpactRead,
    ImpactRead,
    PartyStatusEventCreate,
    ScopeEntryCreate,
    ScopeEntryEnd,
    ScopeEntryRead,
)
from ecolabel_registry.api.schemas.common import PageOut, changes
from ecolabel_registry.domain.errors import NotFound
from ecolabel_registry.domain.model import Purpose
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN
from ecolabel_registry.services.impact import (
    AgreementSuspended,
    Hypothesis,
    PartySuspended,
    ScopeEntryEnded,
    impact,
)

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])
IdPath = Annotated[str, Path(max_length=36, description="The agreement's id.")]
SchemePath = Annotated[str, Path(max_length=64, description="A party's scheme id.")]
EntryPath = Annotated[str, Path(max_length=36, description="The scope entry's id.")]


@router.get("", responses=responses(422))
def list_agreements(
    service: AgreementsDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    scheme: Annotated[
        str | None, Query(max_length=64, description="Only agreements this scheme is a party to.")
    ] = None,
    economy: Annotated[
        str | None,
        Query(
            pattern=ECONOMY_CODE_PATTERN,
            description="Only agreements with a party operative in this economy on `on`.",
        ),
    ] = None,
    in_force_on: Annotated[
        dt.date | None, Query(description="Only agreements in force on this date.")
    ] = None,
    on: Annotated[
        dt.date | None,
        Query(
            description="The date on which `economy` is read (groups and their members): "
            "`in_force_on` when absent, else today."
        ),
    ] = None,
    purpose: Annotated[
        Purpose | None, Query(description="Only recognition, or only cooperation agreements.")
    ] = None,
) -> PageOut[AgreementRead]:
    """Agreements, filtered by party scheme, economy, date in force and purpose."""
    day = today()
    page = service.find(
        cursor, limit, scheme, economy, in_force_on, on or in_force_on or day, purpose
    )
    return PageOut.of(page, lambda a: AgreementRead.of(a, day))


@router.post("", status_code=201, responses=responses(401, 403, 422))
def create_agreement(
    body: AgreementCreate, service: AgreementsDep, actor: ActorDep, response: Response
) -> AgreementRead:
    """Record an agreement with its parties and initial scope (registry operator)."""
    saved = service.create(actor, body.to_domain())
    tag(response, saved.version, f"/v1/agreements/{saved.id}")
    return AgreementRead.of(saved, today())


@router.get("/{agreement_id}", responses=responses(404, 422))
def get_agreement(
    agreement_id: IdPath,
    service: AgreementsDep,
    recorded: RecordedDep,
    response: Response,
    on: Annotated[
        dt.date | None,
        Query(
            description="Read the agreement as it stood on this date: its status, its parties' "
            "statuses and the scope entries valid then. Absent: statuses today, every entry."
        ),
    ] = None,
    as_recorded: AsRecordedQuery = None,
) -> AgreementRead:
    """One agreement with its parties, scope entries (each with its version) and status
    history; with `as_recorded`, as the registry had recorded it at that instant."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    if instant is None:
        saved = service.get(agreement_id)
    else:
        saved = recorded.agreement(agreement_id, instant)
    tag(response, saved.version)
    if on is None:
        return AgreementRead.of(saved, today())
    return AgreementRead.of(saved, on, entries_on=True)


@router.patch("/{agreement_id}", responses=responses(401, 403, 404, 412, 422, 428))
def update_agreement(
    agreement_id: IdPath,
    body: AgreementUpdate,
    service: AgreementsDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> AgreementRead:
    """Change an agreement's title, reference, url, signing date, end date or chaining."""
    fields = changes(body, frozenset({"url", "signed_on", "effective_to"}))
    saved = service.update(actor, agreement_id, fields, version)
    tag(response, saved.version)
    return AgreementRead.of(saved, today())


def _agreement_history(agreement_id: IdPath, service: AgreementsDep) -> History:
    return History(
        f"/v1/agreements/{agreement_id}/status-events",
        partial(service.status_events, agreement_id),
        lambda actor, event: (None, service.add_status_event(actor, agreement_id, event)),
    )


status_event_routes(
    router,
    "/{agreement_id}/status-events",
    _agreement_history,
    AgreementStatusEventCreate,
    "agreement",
    (
        "The agreement's status history, in the order it was recorded, a page at a time.",
        "Append `in_force`, `suspended` or `terminated` with its effective date.",
    ),
)


def _party_history(agreement_id: IdPath, scheme_id: SchemePath, service: AgreementsDep) -> History:
    return History(
        f"/v1/agreements/{agreement_id}/parties/{scheme_id}/status-events",
        partial(service.party_status_events, agreement_id, scheme_id),
        lambda actor, event: (
            None,
            service.add_party_status_event(actor, agreement_id, scheme_id, event),
        ),
    )


status_event_routes(
    router,
    "/{agreement_id}/parties/{scheme_id}/status-events",
    _party_history,
    PartyStatusEventCreate,
    "party",
    (
        "One party's status history within the agreement, a page at a time.",
        "Append `active`, `suspended` or `withdrawn` for one party.",
    ),
)


@router.get("/{agreement_id}/scope-entries", responses=responses(404, 422))
def list_scope_entries(
    agreement_id: IdPath, service: AgreementsDep, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[ScopeEntryRead]:
    """Every scope entry, ended ones included (the amendment history), a page at a time."""
    page = service.scope_entries(agreement_id, cursor, limit)
    return PageOut.of(page, ScopeEntryRead.read)


@router.post(
    "/{agreement_id}/scope-entries", status_code=201, responses=responses(401, 403, 404, 422)
)
def add_scope_entry(
    agreement_id: IdPath,
    body: ScopeEntryCreate,
    service: AgreementsDep,
    actor: ActorDep,
    response: Response,
) -> ScopeEntryRead:
    """Amend the agreement with a new scope entry."""
    entry = service.add_scope_entry(actor, agreement_id, body.to_domain())
    tag(response, 1, f"/v1/agreements/{agreement_id}/scope-entries/{entry.id}")
    return ScopeEntryRead.read(entry)


@router.get("/{agreement_id}/scope-entries/{entry_id}", responses=responses(404, 422))
def get_scope_entry(
    agreement_id: IdPath, entry_id: EntryPath, service: AgreementsDep, response: Response
) -> ScopeEntryRead:
    """One scope entry."""
    saved = service.get(agreement_id)
    entry = next((e for e in saved.scope_entries if e.id == entry_id), None)
    if entry is None:
        raise NotFound(f"agreement {agreement_id} has no scope entry {entry_id!r}")
    tag(response, service.scope_entry_version(entry_id))
    return ScopeEntryRead.read(entry)


@router.patch(
    "/{agreement_id}/scope-entries/{entry_id}",
    responses=responses(401, 403, 404, 409, 412, 422, 428),
)
def end_scope_entry(
    agreement_id: IdPath,
    entry_id: EntryPath,
    body: ScopeEntryEnd,
    service: AgreementsDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> ScopeEntryRead:
    """End an open scope entry on `valid_to` (an amendment); needs If-Match."""
    entry = service.end_scope_entry(actor, agreement_id, entry_id, body.valid_to, version)
    tag(response, service.scope_entry_version(entry_id))
    return ScopeEntryRead.read(entry)


# Impact


OnQuery = Annotated[
    dt.date | None,
    Query(description="The day the suspension or end would take effect (default today)."),
]


def impact_route(path: str) -> Callable[[Callable[..., Hypothesis]], Callable[..., Hypothesis]]:
    """Declare GET `path`: what the hypothesis the decorated function reads from the path
    would change from `on` (default today). The route takes the function's name and its
    docstring as its description; nothing is recorded."""

    def declare(hypothesis: Callable[..., Hypothesis]) -> Callable[..., Hypothesis]:
        @router.get(
            path,
            name=hypothesis.__name__,
            description=inspect.getdoc(hypothesis),
            responses=responses(404, 422),
        )
        def estimate(
            request: Request,
            groups: CertificateGroupsDep,
            supposed: Hypothesis = Depends(hypothesis),
            on: OnQuery = None,
        ) -> ImpactRead:
            state = request.app.state
            found = impact(
                state.resolver_cache.get(state.batch_facts), groups, supposed, on or today()
            )
            return ImpactRead(
                on=found.on,
                certificates=found.certificates,
                economies=[
                    EconomyImpactRead(
                        economy=e.economy,
                        certificates=e.certificates,
                        no_longer_recognized=e.no_longer_recognized,
                    )
                    for e in found.economies
                ],
                groups=found.groups,
                complete=found.complete,
            )

        return hypothesis

    return declare


@impact_route("/{agreement_id}/impact")
def agreement_impact(agreement_id: IdPath) -> Hypothesis:
    """What suspending (or ending) the agreement from `on` would change: how many registered
    certificates' answers change, in which economies. Nothing is recorded."""
    return AgreementSuspended(agreement_id)


@impact_route("/{agreement_id}/parties/{scheme_id}/impact")
def party_impact(agreement_id: IdPath, scheme_id: SchemePath) -> Hypothesis:
    """What suspending (or withdrawing) this party from `on` would change."""
    return PartySuspended(agreement_id, scheme_id)


@impact_route("/{agreement_id}/scope-entries/{entry_id}/impact")
def scope_entry_impact(agreement_id: IdPath, entry_id: EntryPath) -> Hypothesis:
    """What ending this scope entry the day before `on` would change."""
    return ScopeEntryEnded(agreement_id, entry_id)
