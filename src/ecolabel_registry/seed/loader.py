"""Loading the reference data set and the demo registry through the services."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, ClassVar

from pydantic import ConfigDict, TypeAdapter

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Certificate,
    CertificationBody,
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
)
from ecolabel_registry.services.agreements import AgreementService
from ecolabel_registry.services.bodies import CertificationBodyService
from ecolabel_registry.services.certificates import CertificateService
from ecolabel_registry.services.economies import EconomyService
from ecolabel_registry.services.ports.registry import Registry
from ecolabel_registry.services.schemes import SchemeService


@dataclass
class SeedReport:
    """What a seed run added, what was there already and what it never loads (and why)."""

    added: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        """One `what` added."""
        self.added[what] = self.added.get(what, 0) + 1

    def keep(self, what: str) -> None:
        """One `what` already registered, left as it is."""
        self.present[what] = self.present.get(what, 0) + 1

    def leave_out(self, why: str) -> None:
        """One fact of the reference file that is never loaded, for the reason `why`."""
        self.left_out[why] = self.left_out.get(why, 0) + 1

    def summary(self) -> str:
        """The run in one line, e.g. `added 40 schemes; already there: 3 groups`."""

        def items(counts: dict[str, int]) -> str:
            return ", ".join(f"{n} {what}" for what, n in counts.items())

        parts = [f"added {items(self.added)}" if self.added else "nothing new to add"]
        if self.present:
            parts.append(f"already there: {items(self.present)}")
        if self.left_out:
            parts.append(f"left out: {items(self.left_out)}")
        return "; ".join(parts)


def reference_data() -> dict[str, Any]:
    """The curated reference file shipped in the package."""
    text = resources.files("ecolabel_registry.seed").joinpath("reference.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _scheme_description(s: dict[str, Any]) -> str:
    """The scheme's note, its sources and what is not yet confirmed, as one text."""
    sources = "; ".join(f"{k}: {v}" for k, v in s["sources"].items())
    parts = [s["note"]] if s.get("note") else []
    parts.append(f"Sources: {sources}.")
    if s.get("unverified"):
        parts.append(f"Not yet confirmed from a primary source: {', '.join(s['unverified'])}.")
    return " ".join(parts)


def agreement_reference(a: dict[str, Any]) -> str:
    """Where the agreement is reported, what it covers and what is not yet confirmed: the
    agreement's `reference` as stored (at most 500 characters, checked by the data's tests)."""
    parts = [a["reference"].rstrip(".") + ".", a["scope_note"]]
    if a.get("unverified"):
        parts.append(f"Not yet confirmed from a primary source: {', '.join(a['unverified'])}.")
    return " ".join(parts)


def agreement_start(a: dict[str, Any]) -> dt.date | None:
    """The day an agreement of the file takes effect: its `effective_from`, else its signing
    day; None when its source gives neither (such an agreement is not loaded)."""
    return _date(a.get("effective_from")) or _date(a.get("signed_on"))


def _scope_entries(a: dict[str, Any], start: dt.date) -> tuple[ScopeEntry, ...]:
    """The file's `scope` list, or one entry per party for every category when it has none.
    A cooperation agreement recognizes nothing, so it has no entries."""
    if a.get("purpose") == Purpose.COOPERATION.value:
        return ()
    default_level = Level(a["level"])
    listed = a.get("scope") or [{"recognized": party} for party in a["parties"]]
    entries = []
    for s in listed:
        level = Level(s.get("level", default_level.value))
        text = s.get("condition", a["scope_note"])
        entries.append(
            ScopeEntry(
                id="",
                recognized_scheme_id=s["recognized"],
                recognizing_scheme_id=s.get("recognizing"),
                level=level,
                valid_from=_date(s.get("valid_from")) or start,
                valid_to=_date(s.get("valid_to")),
                category_code=s.get("category"),
                equivalent_category_code=s.get("equivalent_category"),
                conditions=(Condition(text),) if level is Level.CONDITIONAL else (),
            )
        )
    return tuple(entries)


def load_reference(registry: Registry, report: SeedReport | None = None) -> SeedReport:
    """Groups, schemes, categories and dated agreements of the reference file; what exists is
    left alone."""
    report = report or SeedReport()
    data = reference_data()
    economies = EconomyService(registry)
    for group in data["groups"]:
        if registry.economies.get(group["code"]) is not None:
            report.keep("groups")
            continue
        members = [
            Membership(m["member"], dt.date.fromisoformat(m["valid_from"]), _date(m["valid_to"]))
            for m in group["members"]
        ]
        economies.put_group(SYSTEM, group["code"], group["name"], members, None)
        report.count("groups")
    schemes = SchemeService(registry)
    for s in data["schemes"]:
        if registry.schemes.get(s["id"]) is not None:
            report.keep("schemes")
            continue
        schemes.create(
            SYSTEM,
            Scheme(
                id=s["id"],
                name=s["name"],
                operator=s["operator"],
                type=SchemeType(s["type"]),
                home_economies=tuple(s["home_economies"]),
                certificate_coverage=Coverage(s["certificate_coverage"]),
                website=s.get("website"),
                description=_scheme_description(s),
            ),
        )
        report.count("schemes")
    for c in data.get("categories", []):
        if registry.categories.get(c["scheme_id"], c["code"]) is not None:
            report.keep("categories")
            continue
        schemes.create_category(
            SYSTEM,
            ProductCategory(
                c["scheme_id"],
                c["code"],
                c["name"],
                c["criteria_version"],
                dt.date.fromisoformat(c["valid_from"]),
                _date(c.get("valid_to")),
                tuple(c["hs_codes"]),
            ),
        )
        report.count("categories")
    agreements = AgreementService(registry)
    known = {a.title for a in registry.agreements.all()}
    for a in data["agreements"]:
        start = agreement_start(a)
        if start is None:
            report.leave_out("agreements whose source gives no day")
            continue
        if a["title"] in known:
            report.keep("agreements")
            continue
        agreements.create(
            SYSTEM,
            Agreement(
                id="",
                title=a["title"],
                reference=agreement_reference(a),
                url=a.get("url") or a["source"],
                signed_on=_date(a.get("signed_on")),
                direction=Direction(a["direction"]),
                purpose=Purpose(a.get("purpose", Purpose.RECOGNITION.value)),
                chaining=Chaining.NOT_ALLOWED,
                effective_from=start,
                effective_to=_date(a.get("effective_to")),
                parties=tuple(AgreementParty(p) for p in a["parties"]),
                recognizing_scheme_id=a.get("recognizing_scheme"),
                recognized_scheme_id=a.get("recognized_scheme"),
                scope_entries=_scope_entries(a, start),
            ),
        )
        report.count("agreements")
    return report


@dataclass(frozen=True, slots=True)
class DemoData:
    """The invented registry around the reference data (`demo.json`): every invented fact
    says so in its name, title, reference or reason ("Illustrative demo data, not a real ...",
    "(illustrative)"). A certificate's `status_events` are the ones appended after it is
    registered (the first, `active` on `valid_from`, is the registry's)."""

    # A key the domain's types do not have (a misspelled field) fails the read, here and in
    # every object within.
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    categories: tuple[ProductCategory, ...]
    bodies: tuple[CertificationBody, ...]
    certificates: tuple[Certificate, ...]
    agreements: tuple[Agreement, ...]


def demo_data() -> DemoData:
    """The demo file shipped in the package, read into domain objects: a field missing,
    unknown, of the wrong type or with a value its type does not have (a date, a status)
    fails the read."""
    text = resources.files("ecolabel_registry.seed").joinpath("demo.json").read_text("utf-8")
    return TypeAdapter(DemoData).validate_json(text)


def load_demo(registry: Registry) -> SeedReport:
    """The reference data, then an invented registry around it (`demo_data`)."""
    report = load_reference(registry)
    if registry.bodies.get("demo-cert-body-de") is not None:
        report.keep("demo registry")
        return report
    demo = demo_data()
    schemes = SchemeService(registry)
    for category in demo.categories:
        schemes.create_category(SYSTEM, category)
        report.count("categories")
    bodies = CertificationBodyService(registry)
    for body in demo.bodies:
        bodies.create(SYSTEM, body)
        report.count("certification bodies")
    certificates = CertificateService(registry)
    for certificate in demo.certificates:
        certificates.create(SYSTEM, certificate)
        report.count("certificates")
    for certificate in demo.certificates:
        for event in certificate.status_events:
            certificates.add_status_event(SYSTEM, certificate.scheme_id, certificate.number, event)
    agreements = AgreementService(registry)
    for agreement in demo.agreements:
        agreements.create(SYSTEM, agreement)
        report.count("agreements")
    return report
