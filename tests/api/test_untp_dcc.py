"""UNTP Digital Conformity Credentials: export of certificates as DCCs, and import of DCCs.

The required-field and enumeration rules below are written from the DCC JSON Schema of the
`uncefact/spec-untp` repository (development version, context
https://test.uncefact.org/vocabulary/untp/dcc/working/):
`data-models/untp-dcc/artefacts/DigitalConformityCredential-schema.json`. They are kept
apart from the code under test, so that an export that drifts from the schema fails here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.api.data import created, problem
from tests.api.test_import_export import (
    CSV,
    IMPORT,
    JSONL,
    KR,
    arrange,
    bad_rows,
    certificate,
    csv_bytes,
    gtin,
    history,
    imported,
    numbers,
    registry_state,
    row,
)

DCC_IMPORT = f"{IMPORT}?format=untp-dcc"

# From the schema's "required" lists ("[]" walks every item of a list).
REQUIRED: dict[str, tuple[str, ...]] = {
    "": ("@context", "id", "issuer"),
    "issuer": ("id", "name"),
    "credentialSubject": (
        "id",
        "assessorLevel",
        "assessmentLevel",
        "attestationType",
        "issuedToParty",
    ),
    "credentialSubject.issuedToParty": ("id", "name"),
    "credentialSubject.scope": ("id", "name", "description", "version", "validFrom", "owner"),
    "credentialSubject.scope.owner": ("id", "name"),
    "credentialSubject.assessment[]": ("id", "conformance", "conformityTopic"),
    "credentialSubject.assessment[].assessmentCriteria[]": (
        "id",
        "name",
        "description",
        "conformityTopic",
        "status",
    ),
    "credentialSubject.assessment[].assessedProduct[].product": ("id", "name"),
}
TOPICS = {
    "environment.energy",
    "environment.emissions",
    "environment.water",
    "environment.waste",
    "environment.deforestation",
    "environment.biodiversity",
    "circularity.content",
    "circularity.design",
    "social.labour",
    "social.rights",
    "social.community",
    "social.safety",
    "governance.ethics",
    "governance.compliance",
    "governance.transparency",
}
# From the schema's "enum" lists.
ENUMS: dict[str, set[str]] = {
    "credentialSubject.assessorLevel": {
        "Self",
        "Commercial",
        "Buyer",
        "Membership",
        "Unspecified",
        "3rdParty",
    },
    "credentialSubject.assessmentLevel": {
        "GovtApproval",
        "GlobalMRA",
        "Accredited",
        "Verified",
        "Validated",
        "Unspecified",
    },
    "credentialSubject.attestationType": {
        "certification",
        "declaration",
        "inspection",
        "testing",
        "verification",
        "validation",
        "calibration",
    },
    "credentialSubject.assessment[].conformityTopic": TOPICS,
    "credentialSubject.assessment[].assessmentCriteria[].conformityTopic": TOPICS,
    "credentialSubject.assessment[].assessmentCriteria[].status": {
        "proposed",
        "active",
        "deprecated",
    },
}
# From the schema's "contains" constraints on "type".
TYPES: dict[str, set[str]] = {
    "": {"DigitalConformityCredential", "VerifiableCredential"},
    "issuer": {"CredentialIssuer"},
    "credentialSubject": {"ConformityAttestation", "Attestation"},
    "credentialSubject.scope": {"ConformityScheme"},
    "credentialSubject.assessment[]": {"ConformityAssessment", "Declaration"},
    "credentialSubject.assessment[].assessmentCriteria[]": {"Criterion"},
    "credentialSubject.assessment[].assessedProduct[]": {"ProductVerification"},
}
CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://test.uncefact.org/vocabulary/untp/dcc/working/",
]
DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _at(document: Any, path: str) -> list[tuple[str, Any]]:
    """Every value at a dotted path ("[]" fans out over a list), with its concrete path."""
    found: list[tuple[str, Any]] = [("$", document)]
    for part in [p for p in path.split(".") if p]:
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        nxt: list[tuple[str, Any]] = []
        for where, value in found:
            if not isinstance(value, dict) or key not in value:
                continue
            child = value[key]
            if many:
                assert isinstance(child, list), f"{where}.{key} must be a list"
                nxt.extend((f"{where}.{key}[{i}]", item) for i, item in enumerate(child))
            else:
                nxt.append((f"{where}.{key}", child))
        found = nxt
    return found


def schema_problems(credential: dict[str, Any]) -> list[str]:
    """What the exported credential breaks of the DCC schema's required fields and enums."""
    out: list[str] = []
    for path, keys in REQUIRED.items():
        for where, value in _at(credential, path):
            out += [f"{where}.{k} is required" for k in keys if k not in value]
    for path, allowed in ENUMS.items():
        for where, value in _at(credential, path):
            if value not in allowed:
                out.append(f"{where} {value!r} is not one of the enumeration")
    for path, types in TYPES.items():
        for where, value in _at(credential, path):
            if not types <= set(value.get("type", [])):
                out.append(f"{where}.type must contain {sorted(types)}")
    if credential.get("@context", [])[:2] != CONTEXT:
        out.append("$.@context must start with the VC 2.0 and DCC contexts")
    for key in ("validFrom", "validUntil"):
        if key in credential and not DATE_TIME.match(credential[key]):
            out.append(f"$.{key} is not a date-time")
    for where, value in _at(credential, "credentialSubject.scope.validFrom"):
        if not DATE.match(value):
            out.append(f"{where} is not a date")
    return out


def _import_certificates(client: TestClient, operator: dict[str, str]) -> None:
    rows = [
        row(1),
        row(2, gtins=f"{gtin(2)};{gtin(3)}", brand="", model=""),
        row(3, number="FR/044/017", gtins="", hs_codes=""),
        row(4, status="suspended", status_effective_date="2024-02-01", status_reason="audit"),
        row(5, certification_body_id=""),
    ]
    imported(client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV}))


def dcc(client: TestClient, number: str) -> dict[str, Any]:
    response = client.get(f"{KR}/{number}", params={"format": "untp-dcc"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vc+ld+json"
    data: dict[str, Any] = response.json()
    return data


def lines(data: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(d) + "\n" for d in data).encode()


# Export


def test_every_exported_dcc_meets_the_schemas_required_fields_and_enumerations(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    _import_certificates(client, operator)
    exported = client.get(KR, params={"format": "untp-dcc"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    credentials = [json.loads(line) for line in exported.text.splitlines()]
    assert len(credentials) == 5
    for number, credential in zip(numbers(client), credentials, strict=True):
        assert schema_problems(credential) == [], number
        assert dcc(client, number) == credential  # one certificate, the same credential


def test_a_dcc_maps_scheme_criteria_product_issuer_validity_and_status(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    _import_certificates(client, operator)
    credential = dcc(client, "KR-IMP-0002")
    assert credential["issuer"] == {
        "type": ["CredentialIssuer"],
        "id": "urn:ecolabel-registry:certification-body:kr-test-body",
        "name": "Test Certification Korea",
    }
    assert (credential["validFrom"], credential["validUntil"]) == (
        "2023-01-01T00:00:00Z",
        "2027-12-31T23:59:59Z",
    )
    subject = credential["credentialSubject"]
    assert subject["id"] == "urn:ecolabel-registry:scheme:korea-eco-label:certificate:KR-IMP-0002"
    assert subject["assessmentLevel"] == "Accredited"  # the body has an accreditation
    assert subject["issuedToParty"]["name"] == "Holder 2"
    scope = subject["scope"]
    assert (scope["id"], scope["name"], scope["version"], scope["owner"]["name"]) == (
        "urn:ecolabel-registry:scheme:korea-eco-label",
        "Korea Eco-label",
        "2024-1",
        "KEITI",
    )
    [assessment] = subject["assessment"]
    assert assessment["conformance"] is True
    [criterion] = assessment["assessmentCriteria"]
    assert criterion["id"] == "urn:ecolabel-registry:scheme:korea-eco-label:category:paints"
    assert criterion["name"] == "Paints and varnishes"
    products = [p["product"] for p in assessment["assessedProduct"]]
    assert [p["id"] for p in products] == [
        f"https://id.gs1.org/01/0{gtin(2)}",
        f"https://id.gs1.org/01/0{gtin(3)}",
    ]
    assert [p["registeredId"] for p in products] == [
        f"0{gtin(2)}",
        f"0{gtin(3)}",
    ]  # stored in 14 digits
    assert subject["statusHistory"] == [
        {"status": "active", "effectiveDate": "2023-01-01", "reason": "issued"}
    ]
    suspended = dcc(client, "KR-IMP-0004")["credentialSubject"]
    assert suspended["assessment"][0]["conformance"] is False
    no_body = dcc(client, "KR-IMP-0005")
    assert no_body["issuer"]["id"] == "urn:ecolabel-registry:registry"
    assert no_body["credentialSubject"]["assessmentLevel"] == "Unspecified"
    slashed = dcc(client, "FR/044/017")["credentialSubject"]
    assert slashed["id"].endswith(":certificate:FR%2F044%2F017")


def test_dcc_of_an_unknown_certificate_is_404(client: TestClient, operator: dict[str, str]) -> None:
    arrange(client, operator)
    problem(client.get(f"{KR}/nope", params={"format": "untp-dcc"}), 404)


# Round trip and import


def test_a_dcc_export_imported_into_an_empty_registry_gives_the_same_certificates(
    client: TestClient, operator: dict[str, str], connection: Connection
) -> None:
    arrange(client, operator)
    before_certificates = connection.begin_nested()
    _import_certificates(client, operator)
    for event in (
        {"status": "active", "effective_date": "2024-04-01", "reason": "audit; passed"},
        {"status": "withdrawn", "effective_date": "2025-01-01", "reason": "holder closed"},
    ):
        created(client.post(f"{KR}/KR-IMP-0004/status-events", json=event, headers=operator))
    exported = client.get(KR, params={"format": "untp-dcc"}).content
    single = dcc(client, "FR/044/017")
    original = registry_state(client)
    before_certificates.rollback()
    assert numbers(client) == []

    response = client.post(DCC_IMPORT, content=exported, headers={**operator, **JSONL})
    assert imported(response) == {"created": 5, "updated": 0, "unchanged": 0, "rows": 5}
    assert registry_state(client) == original
    assert len(original["KR-IMP-0004"]["status_events"]) == 4
    # The same credentials again, but for their ids (a credential's id names the version of
    # the certificate it was made from).
    again = client.get(KR, params={"format": "untp-dcc"}).text.splitlines()
    assert [_without_id(line) for line in again] == [
        _without_id(line) for line in exported.decode().splitlines()
    ]
    # Importing again changes nothing; one credential on its own imports too.
    response = client.post(DCC_IMPORT, content=lines([single]), headers={**operator, **JSONL})
    assert imported(response) == {"created": 0, "updated": 0, "unchanged": 1, "rows": 1}


def _without_id(line: str) -> dict[str, Any]:
    credential: dict[str, Any] = json.loads(line)
    assert credential.pop("id").startswith("urn:uuid:")
    return credential


def sample_shaped(number_uri: str, category_uri: str, product_gtin: str) -> dict[str, Any]:
    """A credential laid out as the published sample instance, with this registry's codes.

    Like the sample: a did:web issuer with other identifiers, identifier schemes on parties,
    an authorisation, secure links, a scope typed ConformityAssessmentScheme with an
    issuingParty, two assessments with standards, regulations, declared values, a facility
    and a GS1 Digital Link with a serial number; and no registry extension at all.
    """
    party = {
        "id": "https://abr.business.gov.au/ABN/View?abn=90664869327",
        "name": "Sample Company Pty Ltd.",
        "registeredId": "90664869327",
        "idScheme": {"type": ["IdentifierScheme"], "id": "https://id.gs1.org/01/", "name": "GTIN"},
    }
    link = {
        "linkURL": "https://files.example-certifier.com/1234567.json",
        "linkName": "GBA rule book conformity certificate",
        "linkType": "https://test.uncefact.org/vocabulary/linkTypes/dcc",
    }
    standard = {
        "type": ["Standard"],
        "id": "https://www.globalbattery.org/media/publications/gba-rulebook-v2.0-master.pdf",
        "name": "GBA Battery Passport Greenhouse Gas Rulebook - V.2.0",
        "issuingParty": party,
        "issueDate": "2023-12-05",
    }
    assessment = {
        "type": ["ConformityAssessment", "Declaration"],
        "assessmentDate": "2024-03-15",
        "id": "https://exampleCAB.com/38f73303-a39e-45a7-b8b7-e73517548f27/01",
        "name": "Product GHG Footprint certificate in accordance with GBA Rulebook.",
        "referenceStandard": standard,
        "referenceRegulation": {
            "type": ["Regulation"],
            "id": "https://www.legislation.gov.au/F2008L02309/latest/versions",
            "name": "National Greenhouse and Energy Reporting (Measurement) Determination",
            "jurisdictionCountry": "AU",
            "administeredBy": party,
            "effectiveDate": "2024-03-20",
        },
        "assessmentCriteria": [
            {"id": category_uri, "name": "Assembly guidelines.", "description": "Criteria."}
        ]
        * 2,
        "declaredValue": [
            {
                "metricName": "GHG emissions intensity",
                "metricValue": {"value": 10, "unit": "KGM"},
                "score": "BB",
                "accuracy": 0.05,
            }
        ],
        "conformance": True,
        "conformityTopic": "environment.emissions",
        "assessedProduct": [
            {
                "product": {
                    "id": f"https://id.gs1.org/01/{product_gtin}/21/12345",
                    "name": "EV battery 300Ah.",
                    "registeredId": f"{product_gtin}.21.12345",
                    "idScheme": party["idScheme"],
                    "batchNumber": "6789",
                    "serialNumber": "12345678",
                },
                "IDverifiedByCAB": True,
            }
        ]
        * 2,
        "assessedFacility": [
            {
                "facility": {
                    "id": "https://sample-facility-register.com/1234567",
                    "name": "Greenacres battery factory",
                    "registeredId": "1234567",
                },
                "IDverifiedByCAB": True,
            }
        ],
        "assessedOrganisation": party,
        "auditor": party,
    }
    credential = {
        "type": ["DigitalConformityCredential", "VerifiableCredential"],
        "@context": CONTEXT,
        "id": "https://example-company.com/credentials/2a423366-a0d6-4855-ba65-2e0c926d09b0",
        "issuer": {
            "type": ["CredentialIssuer"],
            "id": "did:web:identifiers.example-company.com:12345",
            "name": "Example Company Pty Ltd",
            "issuerAlsoKnownAs": [party],
        },
        "validFrom": "2024-03-15T12:00:00Z",
        "validUntil": "2027-03-15T12:00:00Z",
        "credentialSubject": {
            "type": ["ConformityAttestation", "Attestation"],
            "id": number_uri,
            "name": "Carbon Lifecycle assessment 12345567",
            "assessorLevel": "3rdParty",
            "assessmentLevel": "Accredited",
            "attestationType": "certification",
            "description": "A life-cycle assessment of the battery emissions intensity.",
            "issuedToParty": {**party, "description": "An energy storage company"},
            "authorisation": [
                {
                    "type": ["Endorsement"],
                    "id": "https://authority.gov/schemeABC/123456789",
                    "name": "Accreditation of certifiers.com under NGER.",
                    "issuingAuthority": party,
                    "endorsementEvidence": link,
                }
            ],
            "conformityCertificate": {**link, "hashDigest": "62", "hashMethod": "SHA-256"},
            "auditableEvidence": {**link, "hashDigest": "62", "encryptionMethod": "AES"},
            "scope": {
                "type": ["ConformityAssessmentScheme", "Standard"],
                "id": standard["id"],
                "name": standard["name"],
                "issuingParty": party,
                "issueDate": "2023-12-05",
            },
            "assessment": [assessment, assessment],
        },
    }
    copied: dict[str, Any] = json.loads(json.dumps(credential))  # no shared parts
    return copied


def test_a_dcc_shaped_like_the_published_sample_imports(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    sample = sample_shaped(
        "https://sample-certifiers.com/attestations/12345",
        "https://el.keiti.re.kr/criteria.pdf#paints",
        f"0{gtin(7)}",
    )
    response = client.post(DCC_IMPORT, content=lines([sample]), headers={**operator, **JSONL})
    assert imported(response) == {"created": 1, "updated": 0, "unchanged": 0, "rows": 1}
    got = certificate(client, "12345")
    assert (got["category_code"], got["holder_name"], got["holder_economy"]) == (
        "paints",
        "Sample Company Pty Ltd.",
        "KR",  # not in the DCC: the scheme's only home economy
    )
    assert (got["product_name"], got["gtins"]) == ("EV battery 300Ah.", [f"0{gtin(7)}"])
    assert (got["valid_from"], got["valid_to"]) == ("2024-03-15", "2027-03-15")
    assert got["certification_body_id"] is None  # a did:web issuer is no registry body
    assert history(client, "12345") == [("active", "2024-03-15", "issued")]


def test_a_not_conformant_dcc_imports_as_suspended(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    sample = sample_shaped("https://cab.example/att/9", "urn:x:paints", f"0{gtin(8)}")
    sample["credentialSubject"]["assessment"][1] = {
        **sample["credentialSubject"]["assessment"][1],
        "conformance": False,
    }
    response = client.post(DCC_IMPORT, content=lines([sample]), headers={**operator, **JSONL})
    imported(response)
    assert history(client, "9") == [
        ("active", "2024-03-15", "issued"),
        ("suspended", "2024-03-15", "not conformant (UNTP DCC)"),
    ]


def test_dccs_the_registry_cannot_read_are_rejected_by_row(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)

    def variant(change: str) -> dict[str, Any]:
        credential = sample_shaped("https://cab.example/att/1", "urn:x:paints", f"0{gtin(9)}")
        subject = credential["credentialSubject"]
        if change == "enum":
            subject["assessorLevel"] = "ThirdParty"
        elif change == "no validFrom":
            del credential["validFrom"]
        elif change == "category":
            subject["assessment"][0]["assessmentCriteria"][0]["id"] = "urn:x:office-paper"
        elif change == "rule":  # mapped fine, but breaks a rule of every import
            credential["validUntil"] = "2020-01-01T00:00:00Z"
        return credential

    body = lines([variant(c) for c in ("enum", "no validFrom", "none", "category", "rule")])
    response = client.post(DCC_IMPORT, content=body, headers={**operator, **JSONL})
    assert bad_rows(response) == [(1, ""), (2, ""), (4, ""), (5, "valid_to")]
    messages = [e["message"] for e in response.json()["errors"]]
    assert "$.credentialSubject.assessorLevel" in messages[0]
    assert "3rdParty" in messages[0]
    assert "$.validFrom" in messages[1]
    assert "exactly one product category" in messages[2]
    assert numbers(client) == []


def test_dcc_import_needs_json_lines(client: TestClient, operator: dict[str, str]) -> None:
    arrange(client, operator)
    problem(client.post(DCC_IMPORT, content=b"{}", headers={**operator, **CSV}), 415)


def test_a_dcc_line_nested_thousands_deep_is_a_row_error(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    credential = sample_shaped("https://cab.example/att/1", "urn:x:paints", f"0{gtin(9)}")
    deep = b'{"credentialSubject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    response = client.post(
        DCC_IMPORT, content=lines([credential]) + deep, headers={**operator, **JSONL}
    )
    errors = problem(response, 422)["errors"]
    assert [e["loc"] for e in errors] == [["body", "rows", 2]]
    assert "nested too deeply" in errors[0]["message"]
    assert numbers(client) == []
