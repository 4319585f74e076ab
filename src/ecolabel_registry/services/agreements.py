"""Recognition agreements: parties, direction, scope entries and status histories."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    AgreementStatus,
    Direction,
    Level,
    PartyStatus,
    Purpose,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.domain.validation import (
    check_criteria,
    check_hs_codes,
    check_starts_within,
    check_window,
)
from ecolabel_registry.services._common import (
    audit,
    found,
    id_cursor,
    page_of,
    raise_if,
    require_version,
    revised,
    valid,
)
from ecolabel_registry.services.authz import require_operator
from ecolabel_registry.services.ports.registry import AgreementFilter, Page, Registry
from ecolabel_registry.services.schemes import operative_in

AGREEMENT_UPDATABLE = frozenset(
    {"title", "reference", "url", "signed_on", "effective_to", "chaining", "purpose"}
)


def new_id() -> str:
    """A fresh identifier for an agreement or a scope entry."""
    return str(uuid.uuid4())


class AgreementService:
    """Records agreements and appends their amendments and status changes."""

    def __init__(self, registry: Registry) -> None:
        self._r = registry

    def get(self, agreement_id: str) -> Agreement:
        """The agreement, or NotFound."""
        return found(self._r.agreements.get(agreement_id), f"no agreement {agreement_id!r}")

    def find(
        self,
        after: str | None,
        limit: int,
        scheme: str | None = None,
        economy: str | None = None,
        in_force_on: dt.date | None = None,
        on: dt.date | None = None,
        purpose: Purpose | None = None,
    ) -> Page[Agreement]:
        """Agreements ordered by id, filtered by party scheme, by a party operative in
        `economy` on `on` (else on `in_force_on`), by date in force and by purpose."""
        if after is not None and not _is_agreement_id(after):
            raise InvalidInput.single(("query", "cursor"), "not a cursor this list gave out")
        scheme_ids: set[str] | None = None
        if scheme is not None:
            if self._r.schemes.get(scheme) is None:
                raise InvalidInput.single(("query", "scheme"), f"unknown scheme {scheme!r}")
            scheme_ids = {scheme}
        if economy is not None:
            if economy not in self._r.economies.kinds([economy]):
                raise InvalidInput.single(("query", "economy"), f"unknown economy {economy!r}")
            day = on or in_force_on
            if day is None:
                raise InvalidInput.single(
                    ("query", "on"), "name the date on which the economy is read, e.g. 2025-03-01"
                )
            operative = set(operative_in(self._r, economy, day))
            scheme_ids = operative if scheme_ids is None else scheme_ids & operative
        filters = AgreementFilter(
            scheme_ids=None if scheme_ids is None else frozenset(scheme_ids),
            in_force_on=in_force_on,
            purpose=purpose,
        )
        return page_of(self._r.agreements.find(filters, after, limit + 1), limit, lambda a: a.id)

    def create(self, actor: Actor, agreement: Agreement) -> Agreement:
        """Record an agreement; it is in force from `effective_from` unless events say otherwise."""
        require_operator(actor, "record agreements")
        entries = tuple(dataclasses.replace(e, id=new_id()) for e in agreement.scope_entries)
        agreement = dataclasses.replace(
            agreement,
            id=new_id(),
            scope_entries=entries,
            status_events=(
                StatusEvent(
                    AgreementStatus.IN_FORCE, agreement.effective_from, "entered into force"
                ),
            ),
            version=1,
        )
        errors: list[FieldError] = []
        self._check_agreement(agreement, errors)
        for i, entry in enumerate(entries):
            self._check_entry(agreement, entry, errors, ("body", "scope_entries", i))
        raise_if(errors)
        saved = self._r.agreements.add(agreement)
        audit(self._r, actor, "agreement.create", "agreement", saved.id, None, saved)
        return saved

    def update(
        self,
        actor: Actor,
        agreement_id: str,
        changes: Mapping[str, Any],
        expected_version: int | None,
    ) -> Agreement:
        """Change an agreement's descriptive fields, its end date or its chaining."""
        require_operator(actor, "change agreements")
        current = self.get(agreement_id)
        what = f"agreement {agreement_id}"
        updated = valid(
            revised(current, changes, AGREEMENT_UPDATABLE, expected_version, what),
            self._check_agreement,
        )
        saved = self._r.agreements.update(updated)
        audit(self._r, actor, "agreement.update", "agreement", agreement_id, current, saved)
        return saved

    def status_events(self, agreement_id: str, cursor: str | None, limit: int) -> Page[StatusEvent]:
        """A page of the agreement's status history, in the order it was recorded."""
        events = self._r.agreements.status_events(agreement_id, id_cursor(cursor), limit + 1)
        if not events:
            self.get(agreement_id)
        return page_of(events, limit, _id)

    def party_status_events(
        self, agreement_id: str, scheme_id: str, cursor: str | None, limit: int
    ) -> Page[StatusEvent]:
        """A page of one party's status history, in the order it was recorded."""
        after = id_cursor(cursor)
        events = self._r.agreements.party_status_events(agreement_id, scheme_id, after, limit + 1)
        if not events:
            _party(self.get(agreement_id), scheme_id)
        return page_of(events, limit, _id)

    def scope_entries(self, agreement_id: str, cursor: str | None, limit: int) -> Page[ScopeEntry]:
        """A page of the agreement's scope entries, ended ones included, by start date."""
        if cursor is not None and not _is_agreement_id(cursor):
            raise InvalidInput.single(("query", "cursor"), "not a cursor this list gave out")
        entries = self._r.agreements.scope_entries(agreement_id, cursor, limit + 1)
        if not entries:
            self.get(agreement_id)
        if entries is None:
            raise InvalidInput.single(("query", "cursor"), "not a cursor this list gave out")
        return page_of(entries, limit, _id)

    def _lock(self, agreement_id: str) -> Agreement:
        """The agreement, held against other writers until the transaction ends."""
        if not self._r.agreements.lock(agreement_id):
            raise NotFound(f"no agreement {agreement_id!r}")
        return self.get(agreement_id)

    def add_status_event(self, actor: Actor, agreement_id: str, event: StatusEvent) -> StatusEvent:
        """Append an agreement status event; a termination is final.

        The agreement is held against other writers before its history is read, so events
        sent at the same moment are checked one after the other.
        """
        require_operator(actor, "change an agreement's status")
        current = self._lock(agreement_id)
        _check_starts(current, event)
        check_status_event(event, AgreementStatus, "terminated", current.status_events)
        saved = self._r.agreements.add_status_event(agreement_id, event)
        self._history_added(actor, "agreement.status_event", current)
        return saved

    def add_party_status_event(
        self, actor: Actor, agreement_id: str, scheme_id: str, event: StatusEvent
    ) -> StatusEvent:
        """Append a status event of one party (a signatory suspended, reinstated or withdrawn).

        Held against other writers like `add_status_event`; a withdrawal is final.
        """
        require_operator(actor, "change a party's status")
        current = self._lock(agreement_id)
        party = _party(current, scheme_id)
        _check_starts(current, event)
        check_status_event(event, PartyStatus, "withdrawn", party.status_events)
        saved = self._r.agreements.add_party_status_event(agreement_id, scheme_id, event)
        self._history_added(actor, "agreement.party_status_event", current)
        return saved

    def add_scope_entry(self, actor: Actor, agreement_id: str, entry: ScopeEntry) -> ScopeEntry:
        """Amend an agreement with a new scope entry."""
        require_operator(actor, "amend agreements")
        current = self.get(agreement_id)
        entry = dataclasses.replace(entry, id=new_id())
        errors: list[FieldError] = []
        self._check_entry(current, entry, errors, ("body",))
        raise_if(errors)
        saved = self._r.agreements.add_scope_entry(agreement_id, entry)
        self._scope_written(actor, "agreement.scope_entry.create", agreement_id, None, saved)
        return saved

    def end_scope_entry(
        self,
        actor: Actor,
        agreement_id: str,
        entry_id: str,
        valid_to: dt.date,
        expected_version: int | None,
    ) -> ScopeEntry:
        """End an open scope entry on `valid_to`; an ended entry is never reopened or moved."""
        require_operator(actor, "amend agreements")
        current = self.get(agreement_id)
        entry = next((e for e in current.scope_entries if e.id == entry_id), None)
        if entry is None:
            raise NotFound(f"agreement {agreement_id} has no scope entry {entry_id!r}")
        version = require_version(expected_version, f"scope entry {entry_id}")
        if entry.valid_to is not None:
            raise Conflict(
                f"scope entry {entry_id} already ended on {entry.valid_to}; add a new entry to "
                "change the scope"
            )
        errors: list[FieldError] = []
        check_window(errors, ("body",), entry.valid_from, valid_to)
        raise_if(errors)
        ended = dataclasses.replace(entry, valid_to=valid_to)
        saved = self._r.agreements.update_scope_entry(agreement_id, ended, version)
        self._scope_written(actor, "agreement.scope_entry.end", agreement_id, entry, saved)
        return saved

    def _history_added(self, actor: Actor, operation: str, before: Agreement) -> None:
        """A status event was appended to `before`: a new version of the agreement, audited
        with the agreement as it now is."""
        self._r.agreements.touch(before.id)
        audit(self._r, actor, operation, "agreement", before.id, before, self.get(before.id))

    def _scope_written(
        self,
        actor: Actor,
        operation: str,
        agreement_id: str,
        before: ScopeEntry | None,
        saved: ScopeEntry,
    ) -> None:
        """A scope entry was added or ended: a new version of its agreement, and the entry's
        audit under it."""
        self._r.agreements.touch(agreement_id)
        audit(
            self._r, actor, operation, "scope_entry", saved.id, before, saved, parent=agreement_id
        )

    def scope_entry_version(self, entry_id: str) -> int:
        """The current version of a scope entry (for its ETag)."""
        version = self._r.agreements.scope_entry_version(entry_id)
        if version is None:
            raise NotFound(f"no scope entry {entry_id!r}")
        return version

    def _check_agreement(self, agreement: Agreement, errors: list[FieldError]) -> None:
        b = ("body",)
        check_window(
            errors,
            b,
            agreement.effective_from,
            agreement.effective_to,
            "effective_to",
            "effective_from",
        )
        party_ids = [p.scheme_id for p in agreement.parties]
        if len(party_ids) < 2:
            errors.append(FieldError((*b, "parties"), "an agreement has at least two parties"))
        if len(set(party_ids)) != len(party_ids):
            errors.append(FieldError((*b, "parties"), "a scheme is listed twice"))
        known = self._r.schemes.existing(party_ids)
        for i, scheme_id in enumerate(party_ids):
            if scheme_id not in known:
                errors.append(FieldError((*b, "parties", i), f"unknown scheme {scheme_id!r}"))
        if agreement.direction is Direction.UNILATERAL:
            if len(party_ids) != 2:
                errors.append(
                    FieldError((*b, "parties"), "a unilateral agreement has exactly two parties")
                )
            for name in ("recognizing_scheme_id", "recognized_scheme_id"):
                value = getattr(agreement, name)
                if value is None:
                    errors.append(FieldError((*b, name), "required for a unilateral agreement"))
                elif value not in party_ids:
                    errors.append(FieldError((*b, name), f"{value!r} is not a party"))
            if (
                agreement.recognizing_scheme_id is not None
                and agreement.recognizing_scheme_id == agreement.recognized_scheme_id
            ):
                errors.append(
                    FieldError((*b, "recognized_scheme_id"), "a scheme cannot recognize itself")
                )
        else:
            for name in ("recognizing_scheme_id", "recognized_scheme_id"):
                if getattr(agreement, name) is not None:
                    errors.append(FieldError((*b, name), "only a unilateral agreement names this"))

    def _check_entry(
        self,
        agreement: Agreement,
        entry: ScopeEntry,
        errors: list[FieldError],
        loc: tuple[str | int, ...],
    ) -> None:
        parties = agreement.party_ids
        recognized, recognizing = entry.recognized_scheme_id, entry.recognizing_scheme_id
        if recognized not in parties:
            errors.append(
                FieldError((*loc, "recognized_scheme_id"), f"{recognized!r} is not a party")
            )
        if recognizing is not None:
            if recognizing not in parties:
                errors.append(
                    FieldError((*loc, "recognizing_scheme_id"), f"{recognizing!r} is not a party")
                )
            elif recognizing == recognized:
                errors.append(
                    FieldError((*loc, "recognizing_scheme_id"), "a scheme cannot recognize itself")
                )
        if agreement.direction is Direction.UNILATERAL:
            if recognized != agreement.recognized_scheme_id:
                errors.append(
                    FieldError(
                        (*loc, "recognized_scheme_id"),
                        "this unilateral agreement only recognizes "
                        f"{agreement.recognized_scheme_id!r}",
                    )
                )
            if recognizing not in (None, agreement.recognizing_scheme_id):
                errors.append(
                    FieldError(
                        (*loc, "recognizing_scheme_id"),
                        f"in this unilateral agreement only {agreement.recognizing_scheme_id!r} "
                        "recognizes",
                    )
                )
        if (
            entry.category_code is not None
            and recognized in parties
            and self._r.categories.get(recognized, entry.category_code) is None
        ):
            errors.append(
                FieldError(
                    (*loc, "category_code"),
                    f"scheme {recognized!r} has no product category {entry.category_code!r}",
                )
            )
        if entry.equivalent_category_code is not None:
            target = recognizing or (
                agreement.recognizing_scheme_id
                if agreement.direction is Direction.UNILATERAL
                else None
            )
            if target is None:
                errors.append(
                    FieldError(
                        (*loc, "equivalent_category_code"),
                        "name the recognizing_scheme_id whose category this is",
                    )
                )
            elif (
                target in parties
                and self._r.categories.get(target, entry.equivalent_category_code) is None
            ):
                errors.append(
                    FieldError(
                        (*loc, "equivalent_category_code"),
                        f"scheme {target!r} has no product category "
                        f"{entry.equivalent_category_code!r}",
                    )
                )
        check_hs_codes(errors, (*loc, "hs_prefixes"), entry.hs_prefixes)
        check_window(errors, loc, entry.valid_from, entry.valid_to)
        check_starts_within(
            errors,
            (*loc, "valid_from"),
            entry.valid_from,
            "agreement",
            "effective_from",
            agreement.effective_from,
        )
        if agreement.effective_to is not None and entry.valid_from > agreement.effective_to:
            errors.append(
                FieldError(
                    (*loc, "valid_from"), f"after the agreement ends ({agreement.effective_to})"
                )
            )
        if entry.level is Level.NATIVE:
            errors.append(FieldError((*loc, "level"), "native is not a level an agreement grants"))
        if entry.level is Level.CONDITIONAL and not entry.conditions:
            errors.append(
                FieldError((*loc, "conditions"), "a conditional entry lists its conditions")
            )
        if entry.level is Level.FULL and entry.conditions:
            errors.append(FieldError((*loc, "conditions"), "a full recognition has no conditions"))
        for i, condition in enumerate(entry.conditions):
            if not condition.text.strip():
                errors.append(FieldError((*loc, "conditions", i, "text"), "must not be blank"))
            check_criteria(errors, (*loc, "conditions", i, "criteria"), condition.criteria)


def _id(item: StatusEvent | ScopeEntry) -> str:
    return item.id


def _party(agreement: Agreement, scheme_id: str) -> AgreementParty:
    """The agreement's party `scheme_id`, or NotFound."""
    party = next((p for p in agreement.parties if p.scheme_id == scheme_id), None)
    if party is None:
        raise NotFound(f"scheme {scheme_id!r} is not a party to agreement {agreement.id}")
    return party


def _is_agreement_id(value: str) -> bool:
    """Whether `value` has the form of an agreement id (the cursor of the agreement list)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _check_starts(agreement: Agreement, event: StatusEvent) -> None:
    """A status event of an agreement or of one of its parties takes effect on or after the
    agreement's effective_from (InvalidInput naming effective_date)."""
    errors: list[FieldError] = []
    check_starts_within(
        errors,
        ("body", "effective_date"),
        event.effective_date,
        "agreement",
        "effective_from",
        agreement.effective_from,
    )
    raise_if(errors)


def check_status_event(
    event: StatusEvent,
    kind: type[AgreementStatus] | type[PartyStatus],
    final: str,
    history: tuple[StatusEvent, ...],
) -> None:
    """Whether `event` may be appended to the `history` of an agreement (`kind`
    AgreementStatus, `final` "terminated") or of a party (PartyStatus, "withdrawn"): a known
    status, a reason, and nothing after the final status."""
    try:
        kind(event.status)
    except ValueError:
        allowed = ", ".join(s.value for s in kind)
        raise InvalidInput.single(("body", "status"), f"must be one of {allowed}") from None
    if not event.reason.strip():
        raise InvalidInput.single(("body", "reason"), "a reason is required")
    for past in history:
        if past.status == final and event.effective_date >= past.effective_date:
            raise Conflict(f"{final} with effect from {past.effective_date}; that is final")
