"""Recognition agreements: parties, status events and scope entries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Chaining,
    Condition,
    Direction,
    Level,
    Purpose,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.persistence.repositories.base import (
    VersionedRepository,
    bump_version,
    by_owner,
    columns,
    event_page,
    flush_new,
    from_row,
    insert_event,
    locked,
    ordered_events,
    page,
    stored,
)
from ecolabel_registry.persistence.tables import (
    AgreementPartyRow,
    AgreementRow,
    AgreementStatusEventRow,
    PartyStatusEventRow,
    ScopeEntryRow,
)
from ecolabel_registry.services.ports.registry import (
    AgreementFilter,
)


def _scope_entry(r: ScopeEntryRow) -> ScopeEntry:
    return from_row(
        ScopeEntry,
        r,
        level=Level(r.level),
        hs_prefixes=tuple(r.hs_prefixes),
        conditions=tuple(Condition(c["text"], tuple(c.get("criteria", ()))) for c in r.conditions),
    )


class SqlAgreementRepository(VersionedRepository[Agreement]):
    def _to_domain(self, rows: Sequence[AgreementRow]) -> list[Agreement]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        p = AgreementPartyRow
        parties = by_owner(self._s, p.agreement_id, ids, p.scheme_id, p.scheme_id)
        party_events: dict[tuple[str, str], list[PartyStatusEventRow]] = defaultdict(list)
        for pe in self._s.execute(
            select(PartyStatusEventRow).where(PartyStatusEventRow.agreement_id.in_(ids))
        ).scalars():
            party_events[(pe.agreement_id, pe.scheme_id)].append(pe)
        e = AgreementStatusEventRow
        events = by_owner(self._s, e.agreement_id, ids, e)
        s = ScopeEntryRow
        entries = by_owner(self._s, s.agreement_id, ids, s, s.valid_from, s.created_at, s.id)
        return [
            from_row(
                Agreement,
                r,
                direction=Direction(r.direction),
                chaining=Chaining(r.chaining),
                purpose=Purpose(r.purpose),
                parties=tuple(
                    AgreementParty(s, ordered_events(party_events[(r.id, s)]))
                    for s in parties[r.id]
                ),
                scope_entries=tuple(_scope_entry(s) for s in entries[r.id]),
                status_events=ordered_events(events[r.id]),
            )
            for r in rows
        ]

    def get(self, agreement_id: str) -> Agreement | None:
        return self._by_key(AgreementRow, agreement_id)

    def lock(self, agreement_id: str) -> bool:
        query = select(AgreementRow.id).where(AgreementRow.id == agreement_id)
        return locked(self._s, query) is not None

    def status_events(self, agreement_id: str, after: int | None, limit: int) -> list[StatusEvent]:
        e = AgreementStatusEventRow
        return event_page(self._s, e, select(e).where(e.agreement_id == agreement_id), after, limit)

    def party_status_events(
        self, agreement_id: str, scheme_id: str, after: int | None, limit: int
    ) -> list[StatusEvent]:
        e = PartyStatusEventRow
        query = select(e).where(e.agreement_id == agreement_id, e.scheme_id == scheme_id)
        return event_page(self._s, e, query, after, limit)

    def scope_entries(
        self, agreement_id: str, after: str | None, limit: int
    ) -> list[ScopeEntry] | None:
        s = ScopeEntryRow
        query = (
            select(s)
            .where(s.agreement_id == agreement_id)
            .order_by(s.valid_from, s.created_at, s.id)
            .limit(limit)
        )
        if after is not None:
            anchor = select(s.id).where(s.id == after, s.agreement_id == agreement_id)
            if self._s.execute(anchor).scalar_one_or_none() is None:
                return None
            # The anchor's own values, compared in SQL (a timestamp read back and bound again
            # would not compare equal to itself on SQLite).
            a = aliased(ScopeEntryRow)
            valid_from = select(a.valid_from).where(a.id == after).scalar_subquery()
            created_at = select(a.created_at).where(a.id == after).scalar_subquery()
            query = query.where(
                or_(
                    s.valid_from > valid_from,
                    and_(
                        s.valid_from == valid_from,
                        or_(
                            s.created_at > created_at,
                            and_(s.created_at == created_at, s.id > after),
                        ),
                    ),
                )
            )
        return [_scope_entry(r) for r in self._s.execute(query).scalars()]

    def find(self, filters: AgreementFilter, after: str | None, limit: int) -> list[Agreement]:
        query = page(select(AgreementRow), AgreementRow.id, after, limit)
        if filters.scheme_ids is not None:
            query = query.where(
                exists().where(
                    AgreementPartyRow.agreement_id == AgreementRow.id,
                    AgreementPartyRow.scheme_id.in_(filters.scheme_ids),
                )
            )
        if filters.purpose is not None:
            query = query.where(AgreementRow.purpose == filters.purpose.value)
        if filters.in_force_on is not None:
            on = filters.in_force_on
            latest = (
                select(AgreementStatusEventRow.status)
                .where(
                    AgreementStatusEventRow.agreement_id == AgreementRow.id,
                    AgreementStatusEventRow.effective_date <= on,
                )
                .order_by(
                    AgreementStatusEventRow.effective_date.desc(), AgreementStatusEventRow.id.desc()
                )
                .limit(1)
                .scalar_subquery()
            )
            query = query.where(
                AgreementRow.effective_from <= on,
                or_(AgreementRow.effective_to.is_(None), AgreementRow.effective_to >= on),
                func.coalesce(latest, "in_force") == "in_force",
            )
        return self._to_domain(self._s.execute(query).scalars().all())

    def all(self) -> list[Agreement]:
        return self._to_domain(
            self._s.execute(select(AgreementRow).order_by(AgreementRow.id)).scalars().all()
        )

    @staticmethod
    def _fields(a: Agreement) -> dict[str, Any]:
        return columns(
            a,
            ("title", "reference", "url", "signed_on", "effective_to"),
            chaining=a.chaining.value,
            purpose=a.purpose.value,
        )

    def add(self, agreement: Agreement) -> Agreement:
        self._s.add(
            AgreementRow(
                id=agreement.id,
                direction=agreement.direction.value,
                effective_from=agreement.effective_from,
                recognizing_scheme_id=agreement.recognizing_scheme_id,
                recognized_scheme_id=agreement.recognized_scheme_id,
                version=1,
                **self._fields(agreement),
            )
        )
        flush_new(self._s, f"agreement {agreement.id}")
        self._s.execute(
            insert(AgreementPartyRow),
            [{"agreement_id": agreement.id, "scheme_id": p.scheme_id} for p in agreement.parties],
        )
        for entry in agreement.scope_entries:
            self.add_scope_entry(agreement.id, entry)
        for event in agreement.status_events:
            self.add_status_event(agreement.id, event)
        return self._reload(agreement)

    def _reload(self, agreement: Agreement) -> Agreement:
        return stored(self.get(agreement.id))

    def update(self, agreement: Agreement) -> Agreement:
        key = AgreementRow.id == agreement.id
        return self._update(AgreementRow, key, agreement, f"agreement {agreement.id}")

    def touch(self, agreement_id: str) -> None:
        self._s.execute(
            update(AgreementRow)
            .where(AgreementRow.id == agreement_id)
            .values(version=AgreementRow.version + 1, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )
        self._s.expire_all()

    def add_status_event(self, agreement_id: str, event: StatusEvent) -> StatusEvent:
        return insert_event(self._s, AgreementStatusEventRow, event, agreement_id=agreement_id)

    def add_party_status_event(
        self, agreement_id: str, scheme_id: str, event: StatusEvent
    ) -> StatusEvent:
        return insert_event(
            self._s, PartyStatusEventRow, event, agreement_id=agreement_id, scheme_id=scheme_id
        )

    @staticmethod
    def _entry_fields(e: ScopeEntry) -> dict[str, Any]:
        return columns(
            e,
            (
                "recognized_scheme_id",
                "recognizing_scheme_id",
                "category_code",
                "equivalent_category_code",
                "valid_from",
                "valid_to",
            ),
            hs_prefixes=list(e.hs_prefixes),
            level=e.level.value,
            conditions=[{"text": c.text, "criteria": list(c.criteria)} for c in e.conditions],
        )

    def add_scope_entry(self, agreement_id: str, entry: ScopeEntry) -> ScopeEntry:
        row = ScopeEntryRow(
            id=entry.id, agreement_id=agreement_id, version=1, **self._entry_fields(entry)
        )
        self._s.add(row)
        flush_new(self._s, f"scope entry {entry.id}")
        return _scope_entry(row)

    def update_scope_entry(
        self, agreement_id: str, entry: ScopeEntry, expected_version: int
    ) -> ScopeEntry:
        key = and_(ScopeEntryRow.id == entry.id, ScopeEntryRow.agreement_id == agreement_id)
        bump_version(
            self._s,
            ScopeEntryRow,
            key,
            expected_version,
            f"scope entry {entry.id}",
            {"valid_to": entry.valid_to},
        )
        self._s.expire_all()
        row = self._s.get(ScopeEntryRow, entry.id)
        assert row is not None
        return _scope_entry(row)

    def scope_entry_version(self, entry_id: str) -> int | None:
        return self._s.execute(
            select(ScopeEntryRow.version).where(ScopeEntryRow.id == entry_id)
        ).scalar_one_or_none()
