"""A snapshot brought up to date from the change log equals a full reload (ADR 0006).

A generated sequence of fact writes (schemes, categories, agreements with their status,
parties and scope entries, group memberships) goes through the services; after each one the
cache is brought up to date from the changes alone, and compared with a snapshot loaded
from scratch: the same facts, the same resolver indexes, the same answers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    CertificateTerms,
    Chaining,
    Condition,
    Coverage,
    Direction,
    Level,
    Membership,
    ProductCategory,
    Purpose,
    Scheme,
    SchemeType,
    ScopeEntry,
    StatusChange,
    StatusEvent,
)
from ecolabel_registry.persistence import revisions
from ecolabel_registry.persistence.facts import SqlFacts
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.persistence.tables import (
    RegistryChangeRow,
    RegistryRevisionLogRow,
    RegistryRevisionRow,
)
from ecolabel_registry.persistence.versions import SqlFactVersions
from ecolabel_registry.services.agreements import AgreementService
from ecolabel_registry.services.economies import EconomyService
from ecolabel_registry.services.ports.equivalence import FactChanges
from ecolabel_registry.services.schemes import SchemeService
from ecolabel_registry.services.snapshots import ResolverCache, Snapshot

D = dt.date
SCHEMES = [f"s{i}" for i in range(6)]
COUNTRIES = ["KR", "JP", "DE", "FR", "SE", "CN", "BR"]
GROUPS = ["G0", "G1"]
HS = ["3208", "3209", "4418", "9401"]
DATES = [D(2019, 6, 1), D(2021, 3, 1), D(2023, 9, 15), D(2025, 3, 1)]


class Counted:
    """A facts source that counts its full loads and its change reads."""

    def __init__(self, session: Session) -> None:
        self.inner = SqlFacts(session)
        self.loads = 0
        self.reads = 0

    def revision(self) -> int:
        self.reads += 1
        return self.inner.revision()

    def load(self) -> Any:
        self.loads += 1
        return self.inner.load()

    def changes(self, since: int) -> FactChanges | None:
        self.reads += 1
        return self.inner.changes(since)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def entry(rng: random.Random, recognized: str, start: dt.date, **fields: Any) -> ScopeEntry:
    """A scope entry at a random level (a conditional one with its condition)."""
    level = rng.choice([Level.FULL, Level.CONDITIONAL, Level.ASSESSMENT_RESULTS])
    conditions = (Condition("a factory audit"),) if level is Level.CONDITIONAL else ()
    return ScopeEntry("", recognized, level, start, conditions=conditions, **fields)


class Writer:
    """Random fact writes through the services, deterministic from a seed."""

    def __init__(self, registry: SqlRegistry, seed: int) -> None:
        self.rng = random.Random(seed)
        self.registry = registry
        self.schemes = SchemeService(registry)
        self.agreements = AgreementService(registry)
        self.economies = EconomyService(registry)
        self.agreement_ids: list[str] = []
        self.categories = {scheme_id: ["c0"] for scheme_id in SCHEMES}
        self.groups = list(GROUPS)

    def arrange(self) -> None:
        for code in GROUPS:
            self.group(code, None)
        for i, scheme_id in enumerate(SCHEMES):
            homes = (COUNTRIES[i],) if i < 4 else (GROUPS[i - 4],)
            self.schemes.create(
                SYSTEM,
                Scheme(scheme_id, scheme_id, "op", SchemeType.ISO14024, homes, Coverage.PARTIAL),
            )
            self.category(scheme_id, "c0")
        for _ in range(8):
            self.new_agreement()

    def group(self, code: str, version: int | None) -> None:
        rng = self.rng
        members = [
            Membership(member, D(2015 + rng.randrange(8), 1, 1), rng.choice([None, D(2024, 6, 30)]))
            for member in rng.sample(COUNTRIES, 3)
        ]
        self.economies.put_group(SYSTEM, code, f"group {code}", members, version)

    def category(self, scheme_id: str, code: str) -> None:
        hs = tuple(self.rng.sample(HS, 2))
        self.schemes.create_category(
            SYSTEM, ProductCategory(scheme_id, code, code, "1", D(2018, 1, 1), None, hs)
        )

    def new_agreement(self) -> None:
        rng = self.rng
        parties = rng.sample(SCHEMES, rng.choice([2, 2, 3]))
        unilateral = len(parties) == 2 and rng.random() < 0.3
        effective = D(2019 + rng.randrange(3), 1, 1)
        entries = tuple(
            entry(
                rng,
                recognized,
                effective + dt.timedelta(days=rng.randrange(1000)),
                category_code=rng.choice([None, "c0"]),
                hs_prefixes=rng.choice([(), (rng.choice(HS),)]),
            )
            for recognized in (parties[:1] if unilateral else parties)
        )
        saved = self.agreements.create(
            SYSTEM,
            Agreement(
                id="",
                title=f"agreement {len(self.agreement_ids)}",
                reference="REF",
                signed_on=None,
                direction=Direction.UNILATERAL if unilateral else Direction.MUTUAL,
                chaining=rng.choice([Chaining.ALLOWED, Chaining.NOT_ALLOWED]),
                purpose=rng.choice([Purpose.RECOGNITION, Purpose.RECOGNITION, Purpose.COOPERATION]),
                effective_from=effective,
                effective_to=None,
                parties=tuple(AgreementParty(p) for p in parties),
                scope_entries=entries,
                recognizing_scheme_id=parties[1] if unilateral else None,
                recognized_scheme_id=parties[0] if unilateral else None,
            ),
        )
        self.agreement_ids.append(saved.id)

    def one(self) -> str:
        """One random fact write; what it was."""
        rng = self.rng
        kind = rng.choice(
            [
                "scheme",
                "category.create",
                "category.update",
                "agreement.create",
                "agreement.update",
                "agreement.status",
                "agreement.party",
                "scope.add",
                "scope.end",
                "group",
            ]
        )
        scheme_id = rng.choice(SCHEMES)
        agreement = self.agreements.get(rng.choice(self.agreement_ids))
        if kind == "scheme":
            scheme = self.schemes.get(scheme_id)
            homes = tuple(sorted(rng.sample([*COUNTRIES, *GROUPS], rng.choice([1, 2]))))
            changes: dict[str, Any] = {"name": f"{scheme_id} {rng.randrange(1000)}"}
            changes["home_economies"] = homes
            self.schemes.update(SYSTEM, scheme_id, changes, scheme.version)
        elif kind == "category.create":
            code = f"c{len(self.categories[scheme_id])}"
            self.category(scheme_id, code)
            self.categories[scheme_id].append(code)
        elif kind == "category.update":
            code = rng.choice(self.categories[scheme_id])
            category = self.schemes.get_category(scheme_id, code)
            changes = {"valid_to": rng.choice([None, D(2022, 12, 31)]), "name": f"n{code}"}
            self.schemes.update_category(SYSTEM, scheme_id, code, changes, category.version)
        elif kind == "agreement.create":
            self.new_agreement()
        elif kind == "agreement.update":
            changes = {
                "title": f"renamed {rng.randrange(1000)}",
                "chaining": rng.choice([Chaining.ALLOWED, Chaining.NOT_ALLOWED]),
                "effective_to": rng.choice([None, D(2024, 12, 31)]),
                "purpose": rng.choice([Purpose.RECOGNITION, Purpose.COOPERATION]),
            }
            self.agreements.update(SYSTEM, agreement.id, changes, agreement.version)
        elif kind == "agreement.status":
            if any(e.status == "terminated" for e in agreement.status_events):
                return "nothing (terminated)"
            latest = max(
                (e.effective_date for e in agreement.status_events),
                default=agreement.effective_from,
            )
            status = rng.choice(["suspended", "in_force", "terminated"])
            on = latest + dt.timedelta(days=30 + rng.randrange(400))
            self.agreements.add_status_event(SYSTEM, agreement.id, StatusEvent(status, on, "x"))
        elif kind == "agreement.party":
            party = rng.choice(agreement.parties)
            latest = max(
                (e.effective_date for e in party.status_events), default=agreement.effective_from
            )
            on = latest + dt.timedelta(days=30 + rng.randrange(400))
            status = rng.choice(["suspended", "active"])
            self.agreements.add_party_status_event(
                SYSTEM, agreement.id, party.scheme_id, StatusEvent(status, on, "x")
            )
        elif kind == "scope.add":
            recognized = agreement.recognized_scheme_id or rng.choice(sorted(agreement.party_ids))
            start = agreement.effective_from + dt.timedelta(days=rng.randrange(1000))
            if agreement.effective_to is not None:
                start = min(start, agreement.effective_to)
            added = entry(rng, recognized, start, hs_prefixes=(rng.choice(HS),))
            self.agreements.add_scope_entry(SYSTEM, agreement.id, added)
        elif kind == "scope.end":
            open_entries = [e for e in agreement.scope_entries if e.valid_to is None]
            if not open_entries:
                return "nothing (no open entry)"
            ended = rng.choice(open_entries)
            valid_to = ended.valid_from + dt.timedelta(days=rng.randrange(1, 2000))
            version = self.agreements.scope_entry_version(ended.id)
            self.agreements.end_scope_entry(SYSTEM, agreement.id, ended.id, valid_to, version)
        else:
            # The first group write adds a group, the others change one.
            code = rng.choice(self.groups) if len(self.groups) > 2 else f"G{len(self.groups)}"
            group = self.registry.economies.get(code)
            self.group(code, None if group is None else group.version)
            if group is None:
                self.groups.append(code)
                kind = "group.create"
        return kind


def indexes(snapshot: Snapshot) -> dict[str, Any]:
    """The resolver's agreement indexes, by ids (the same when built from the same facts)."""
    index: Any = snapshot.resolver._index
    return {
        "links": {
            recognized: {
                recognizing: [link.agreement.id for link in links]
                for recognizing, links in by_recognizing.items()
            }
            for recognized, by_recognizing in index.links.items()
        },
        "allowed": {
            recognized: [(link.agreement.id, link.recognizing) for link in links]
            for recognized, links in index.allowed.items()
        },
        "cooperation": {
            recognized: {
                recognizing: [agreement.id for agreement in agreements]
                for recognizing, agreements in by_recognizing.items()
            }
            for recognized, by_recognizing in index.cooperation.items()
        },
    }


def answers(snapshot: Snapshot) -> list[Any]:
    """The answer to a grid of questions: every category's certificate, target and date."""
    out: list[Any] = []
    targets = [*COUNTRIES, *sorted(snapshot.facts.economies)]
    for (scheme_id, code), category in sorted(snapshot.categories.items()):
        history = (StatusChange("active", D(2019, 1, 1)), StatusChange("suspended", D(2024, 2, 1)))
        certificate = CertificateTerms(
            scheme_id, "N-1", code, D(2019, 1, 1), D(2026, 12, 31), (), history
        )
        for on in DATES:
            out.append(snapshot.resolver.markets(certificate, category, on, targets))
            for target in targets:
                for hs_code in (None, "320810"):
                    out.append(
                        snapshot.resolver.resolve(certificate, category, target, on, hs_code)
                    )
    return out


def assert_same(updated: Snapshot, full: Snapshot) -> None:
    assert updated.revision == full.revision
    assert dict(updated.facts.economies) == dict(full.facts.economies)
    assert dict(updated.facts.schemes) == dict(full.facts.schemes)
    assert list(updated.facts.agreements) == list(full.facts.agreements)
    assert updated.categories == full.categories
    assert updated.economy_codes == full.economy_codes
    assert indexes(updated) == indexes(full)
    assert answers(updated) == answers(full)


@pytest.mark.parametrize("seed", [1, 2])
def test_changes_applied_one_write_at_a_time_equal_a_full_reload(
    session: Session, seed: int
) -> None:
    writer = Writer(SqlRegistry(session), seed)
    writer.arrange()
    session.commit()
    source = Counted(session)
    cache = ResolverCache()
    cache.get(source)
    done = []
    for _ in range(40):
        done.append(writer.one())
        session.commit()
        assert_same(cache.get(source), ResolverCache().get(SqlFacts(session)))
    assert source.loads == 1, "every update after the first load came from the change log"
    assert {"scheme", "agreement.create", "group", "group.create"} <= set(done)


def test_several_writes_at_once_are_applied_together(session: Session) -> None:
    writer = Writer(SqlRegistry(session), 3)
    writer.arrange()
    session.commit()
    source = Counted(session)
    cache = ResolverCache()
    cache.get(source)
    for _ in range(15):
        writer.one()
    session.commit()
    assert_same(cache.get(source), ResolverCache().get(SqlFacts(session)))
    assert source.loads == 1


def test_a_question_of_an_older_revision_takes_the_newer_snapshot_without_reading(
    session: Session,
) -> None:
    writer = Writer(SqlRegistry(session), 4)
    writer.arrange()
    session.commit()
    source = Counted(session)
    cache = ResolverCache()
    older = source.revision()
    writer.one()
    session.commit()
    newer = cache.get(source)
    assert newer.revision > older
    reads, loads = source.reads, source.loads
    assert cache.at(source, older) is newer
    assert cache.current(older) is newer
    assert (source.reads, source.loads) == (reads, loads)


def run_at(
    session: Session, change: Callable[[Session], object]
) -> tuple[Counted, ResolverCache, Snapshot]:
    writer = Writer(SqlRegistry(session), 5)
    writer.arrange()
    session.commit()
    source = Counted(session)
    cache = ResolverCache()
    cache.get(source)
    writer.one()
    change(session)
    session.commit()
    return source, cache, cache.get(source)


def test_a_revision_without_its_logged_change_reloads_everything(session: Session) -> None:
    def bump_by_hand(s: Session) -> None:
        s.execute(
            update(RegistryRevisionRow)
            .where(RegistryRevisionRow.id == 1)
            .values(revision=RegistryRevisionRow.revision + 1)
        )

    source, _cache, snapshot = run_at(session, bump_by_hand)
    assert source.loads == 2
    assert_same(snapshot, ResolverCache().get(SqlFacts(session)))


def test_a_revision_that_changed_only_certificates_keeps_the_facts(session: Session) -> None:
    def certificate_only(s: Session) -> None:
        s.commit()  # the fact write's own revision
        revisions.changed(s, "certificate", "s0/N-1")

    source, cache, snapshot = run_at(session, certificate_only)
    assert source.loads == 1
    before = cache.current(snapshot.revision - 1)
    assert before is snapshot
    again = cache.get(source)
    assert again is snapshot
    assert_same(snapshot, ResolverCache().get(SqlFacts(session)))


def test_one_revision_a_transaction_and_one_change_row_an_entity(session: Session) -> None:
    writer = Writer(SqlRegistry(session), 6)
    writer.arrange()
    session.commit()
    first = revisions.recorded(session)
    assert revisions.recorded(session) == first  # the same for every call
    scheme = writer.schemes.get("s0")
    writer.schemes.update(SYSTEM, "s0", {"name": "renamed"}, scheme.version)
    writer.schemes.update(SYSTEM, "s0", {"name": "again"}, scheme.version + 1)
    session.commit()
    second = revisions.recorded(session)
    session.commit()
    assert second.revision == first.revision + 1
    assert second.at > first.at
    rows = session.execute(
        select(RegistryChangeRow.revision, RegistryChangeRow.entity_type).where(
            RegistryChangeRow.revision >= first.revision
        )
    ).all()
    assert [tuple(r) for r in rows] == [(first.revision, "scheme")]
    logged = session.execute(
        select(RegistryRevisionLogRow.revision).order_by(RegistryRevisionLogRow.revision)
    ).scalars()
    assert list(logged)[-2:] == [first.revision, second.revision]


def test_the_change_log_and_revision_log_are_never_pruned(session: Session) -> None:
    writer = Writer(SqlRegistry(session), 8)
    writer.arrange()
    session.commit()
    start = SqlFacts(session).revision()
    written = 0
    for _ in range(30):
        written += not writer.one().startswith("nothing")
        session.commit()
    end = SqlFacts(session).revision()
    assert end - start == written
    logged = session.execute(
        select(func.count()).where(RegistryRevisionLogRow.revision > start)
    ).scalar_one()
    assert logged == end - start
    changed = session.execute(
        select(func.count(func.distinct(RegistryChangeRow.revision))).where(
            RegistryChangeRow.revision > start
        )
    ).scalar_one()
    assert changed == written
    assert SqlFacts(session).changes(start) is not None


def test_a_change_names_the_fact_by_its_audit_id(session: Session) -> None:
    writer = Writer(SqlRegistry(session), 7)
    writer.arrange()
    session.commit()
    session.commit()
    before = SqlFacts(session).revision()
    agreement = writer.agreements.get(writer.agreement_ids[0])
    entry = agreement.scope_entries[0]
    writer.agreements.end_scope_entry(SYSTEM, agreement.id, entry.id, D(2030, 1, 1), 1)
    changes = SqlFacts(session).changes(before)
    assert changes is not None
    assert changes.revision == before + 1
    assert set(changes.agreements) == {agreement.id}
    ended = changes.agreements[agreement.id]
    assert ended is not None
    assert dataclasses.replace(ended.scope_entries[0]).valid_to == D(2030, 1, 1)


def test_fact_versions_hold_the_facts_as_a_full_load_reads_them(session: Session) -> None:
    writer = Writer(SqlRegistry(session), 9)
    writer.arrange()
    for scheme_id in SCHEMES:  # more facts in one transaction than are read one by one
        for k in range(40):
            writer.category(scheme_id, f"bulk{k}")
    session.commit()
    for _ in range(10):
        writer.one()
        session.commit()
    facts, categories, codes = SqlFactVersions(session).load_at(SqlFacts(session).revision())
    full, full_categories, full_codes = SqlFacts(session).load()
    assert dict(facts.economies) == dict(full.economies)
    assert dict(facts.schemes) == dict(full.schemes)
    assert list(facts.agreements) == sorted(full.agreements, key=lambda a: a.id)
    assert categories == full_categories
    assert codes == full_codes
