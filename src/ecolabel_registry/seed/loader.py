"""Loading the reference data set and the demo registry through the services."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Authorization,
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
    StatusEvent,
)
from ecolabel_registry.services.agreements import AgreementService
from ecolabel_registry.services.bodies import CertificationBodyService
from ecolabel_registry.services.certificates import CertificateService
from ecolabel_registry.services.economies import EconomyService
from ecolabel_registry.services.ports import Registry
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


def load_reference(registry: Registry, report: SeedReport | None = None) -> SeedReport:
    """Groups, schemes and dated agreements of the reference file; what exists is left alone."""
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
        sources = "; ".join(f"{k}: {v}" for k, v in s["sources"].items())
        description = f"Sources: {sources}."
        if s.get("unverified"):
            description += f" Not yet confirmed from a source: {', '.join(s['unverified'])}."
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
                description=description,
            ),
        )
        report.count("schemes")
    agreements = AgreementService(registry)
    known = {(a.title, a.reference) for a in registry.agreements.all()}
    for a in data["agreements"]:
        if a.get("signed_on") is None:
            report.leave_out("agreements whose source gives no date")
            continue
        if (a["title"], a["source"]) in known:
            report.keep("agreements")
            continue
        signed = dt.date.fromisoformat(a["signed_on"])
        level = Level(a["level"])
        conditions = (Condition(a["scope_note"]),) if level is Level.CONDITIONAL else ()
        entries = tuple(
            ScopeEntry(
                id="",
                recognized_scheme_id=recognized,
                recognizing_scheme_id=None,
                level=level,
                valid_from=signed,
                conditions=conditions,
            )
            for recognized in a["parties"]
        )
        agreements.create(
            SYSTEM,
            Agreement(
                id="",
                title=a["title"],
                reference=a["source"],
                url=a.get("url"),
                signed_on=signed,
                direction=Direction(a["direction"]),
                purpose=Purpose(a.get("purpose", Purpose.RECOGNITION.value)),
                chaining=Chaining.NOT_ALLOWED,
                effective_from=signed,
                effective_to=None,
                parties=tuple(AgreementParty(p) for p in a["parties"]),
                recognizing_scheme_id=a.get("recognizing_scheme"),
                recognized_scheme_id=a.get("recognized_scheme"),
                scope_entries=entries,
            ),
        )
        report.count("agreements")
    return report


DEMO = "Illustrative demo data, not a real"


def load_demo(registry: Registry) -> SeedReport:
    """The reference data, then an invented registry around it; every invented fact says so."""
    report = load_reference(registry)
    if registry.bodies.get("demo-cert-body-de") is not None:
        report.keep("demo registry")
        return report
    schemes = SchemeService(registry)
    categories = [
        ProductCategory(
            "eu-ecolabel",
            "paints",
            f"Indoor and outdoor paints and varnishes ({DEMO} criteria document)",
            "demo-1",
            dt.date(2020, 1, 1),
            None,
            ("3208", "3209"),
            ("voc-limit", "heavy-metals"),
        ),
        ProductCategory(
            "eu-ecolabel",
            "copying-paper",
            f"Copying and graphic paper ({DEMO} criteria document)",
            "demo-1",
            dt.date(2019, 1, 1),
            dt.date(2030, 12, 31),
            ("4802",),
            ("fibre-sourcing",),
        ),
        ProductCategory(
            "korea-eco-label",
            "paints",
            f"Paints ({DEMO} criteria document)",
            "demo-1",
            dt.date(2018, 1, 1),
            None,
            ("3208", "3209"),
            ("voc-limit",),
        ),
        ProductCategory(
            "japan-eco-mark",
            "paints",
            f"Paints ({DEMO} criteria document)",
            "demo-1",
            dt.date(2018, 1, 1),
            None,
            ("3208", "3209"),
            ("voc-limit",),
        ),
        ProductCategory(
            "china-environmental-labelling",
            "paints",
            f"Water-based coatings ({DEMO} criteria document)",
            "demo-1",
            dt.date(2018, 1, 1),
            None,
            ("3209",),
            ("voc-limit",),
        ),
        ProductCategory(
            "nordic-swan",
            "copying-paper",
            f"Copy and printing paper ({DEMO} criteria document)",
            "demo-1",
            dt.date(2019, 1, 1),
            None,
            ("4802",),
            ("fibre-sourcing",),
        ),
        ProductCategory(
            "blue-angel",
            "paints",
            f"Low-emission paints ({DEMO} criteria document)",
            "demo-1",
            dt.date(2019, 1, 1),
            None,
            ("3208", "3209"),
            ("voc-limit",),
        ),
    ]
    for category in categories:
        schemes.create_category(SYSTEM, category)
        report.count("categories")
    bodies = CertificationBodyService(registry)
    for body in (
        CertificationBody(
            "demo-cert-body-de",
            f"Demo Certification GmbH ({DEMO} body)",
            "DE",
            "DEMO-ACC-001",
            (
                Authorization("eu-ecolabel", dt.date(2018, 1, 1)),
                Authorization("blue-angel", dt.date(2018, 1, 1)),
            ),
        ),
        CertificationBody(
            "demo-cert-body-kr",
            f"Demo Certification Korea ({DEMO} body)",
            "KR",
            "DEMO-ACC-002",
            (Authorization("korea-eco-label", dt.date(2018, 1, 1)),),
        ),
    ):
        bodies.create(SYSTEM, body)
        report.count("certification bodies")
    certificates = CertificateService(registry)
    demo_certs = [
        Certificate(
            "eu-ecolabel",
            "DEMO/FR/044/017",
            "paints",
            "Demo Paints SA (illustrative)",
            "FR",
            "Demo matt interior paint",
            dt.date(2023, 1, 1),
            dt.date(2027, 12, 31),
            brand="Demo",
            hs_codes=("320810",),
            gtins=("4006381333931",),
            certification_body_id="demo-cert-body-de",
        ),
        Certificate(
            "eu-ecolabel",
            "DEMO/DE/002/001",
            "copying-paper",
            "Demo Papier AG (illustrative)",
            "DE",
            "Demo copy paper A4",
            dt.date(2022, 6, 1),
            dt.date(2026, 5, 31),
            certification_body_id="demo-cert-body-de",
        ),
        Certificate(
            "korea-eco-label",
            "DEMO-KR-0001",
            "paints",
            "Demo Coatings Co. (illustrative)",
            "KR",
            "Demo water-based enamel",
            dt.date(2023, 3, 1),
            dt.date(2028, 2, 28),
            hs_codes=("3209",),
            certification_body_id="demo-cert-body-kr",
        ),
        Certificate(
            "blue-angel",
            "DEMO-BA-0001",
            "paints",
            "Demo Farben GmbH (illustrative)",
            "DE",
            "Demo low-emission wall paint",
            dt.date(2022, 1, 1),
            dt.date(2026, 12, 31),
            certification_body_id="demo-cert-body-de",
        ),
    ]
    for certificate in demo_certs:
        certificates.create(SYSTEM, certificate)
        report.count("certificates")
    certificates.add_status_event(
        SYSTEM,
        "eu-ecolabel",
        "DEMO/DE/002/001",
        StatusEvent("suspended", dt.date(2024, 2, 1), f"{DEMO} suspension: failed a demo audit"),
    )
    certificates.add_status_event(
        SYSTEM,
        "eu-ecolabel",
        "DEMO/DE/002/001",
        StatusEvent("active", dt.date(2024, 4, 15), f"{DEMO} reinstatement"),
    )
    agreements = AgreementService(registry)
    agreements.create(
        SYSTEM,
        Agreement(
            id="",
            title=f"{DEMO} agreement: Korea Eco-label recognizes EU Ecolabel paints",
            reference="DEMO-AGR-001 (illustrative; no such agreement exists)",
            url=None,
            signed_on=dt.date(2023, 6, 1),
            direction=Direction.UNILATERAL,
            chaining=Chaining.NOT_ALLOWED,
            effective_from=dt.date(2023, 7, 1),
            effective_to=dt.date(2026, 12, 31),
            parties=(AgreementParty("korea-eco-label"), AgreementParty("eu-ecolabel")),
            recognizing_scheme_id="korea-eco-label",
            recognized_scheme_id="eu-ecolabel",
            scope_entries=(
                ScopeEntry(
                    id="",
                    recognized_scheme_id="eu-ecolabel",
                    recognizing_scheme_id="korea-eco-label",
                    level=Level.CONDITIONAL,
                    valid_from=dt.date(2023, 7, 1),
                    category_code="paints",
                    equivalent_category_code="paints",
                    conditions=(
                        Condition(
                            "VOC content test by a KOLAS-accredited laboratory "
                            "(illustrative condition)",
                            ("voc-limit",),
                        ),
                    ),
                ),
            ),
        ),
    )
    agreements.create(
        SYSTEM,
        Agreement(
            id="",
            title=f"{DEMO} agreement: EU Ecolabel and Nordic Swan copying paper",
            reference="DEMO-AGR-002 (illustrative; no such agreement exists)",
            url=None,
            signed_on=dt.date(2021, 1, 1),
            direction=Direction.MUTUAL,
            chaining=Chaining.NOT_ALLOWED,
            effective_from=dt.date(2021, 1, 1),
            effective_to=None,
            parties=(AgreementParty("eu-ecolabel"), AgreementParty("nordic-swan")),
            scope_entries=(
                ScopeEntry(
                    id="",
                    recognized_scheme_id="eu-ecolabel",
                    level=Level.FULL,
                    valid_from=dt.date(2021, 1, 1),
                    category_code="copying-paper",
                ),
                ScopeEntry(
                    id="",
                    recognized_scheme_id="nordic-swan",
                    level=Level.FULL,
                    valid_from=dt.date(2021, 1, 1),
                    category_code="copying-paper",
                ),
            ),
        ),
    )
    report.count("agreements")
    report.count("agreements")
    return report
