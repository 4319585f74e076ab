"""UN Transparency Protocol Digital Conformity Credentials (UNTP DCC): certificates in and out.

Follows the DCC development ("working") version of the `uncefact/spec-untp` repository:
the JSON Schema `data-models/untp-dcc/artefacts/DigitalConformityCredential-schema.json`,
the sample `data-models/untp-dcc/artefacts/DigitalConformityCredential-instance.json` and
the data model page `website/docs/specification/ConformityCredential.md`; its JSON-LD
context is `https://test.uncefact.org/vocabulary/untp/dcc/working/`. The types below are
the registry's own, written from those files (only the parts the registry maps).

A DCC is a W3C Verifiable Credential (data model 2.0). The export is the unsigned
credential; nothing here signs or verifies one.

Import maps one credential to one record of the JSON Lines import (`imports.COLUMNS`), so
every rule of the import applies to a DCC exactly as to a JSON Lines row. Export maps a
certificate with its scheme, category and issuing body to a credential. docs/import-export.md
has the field-by-field mapping.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, Literal, get_args
from urllib.parse import quote, unquote

import msgspec

from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    CertificationBody,
    ProductCategory,
    Scheme,
)

__all__ = [
    "CONTEXT",
    "DCC_VERSION",
    "Credential",
    "DccError",
    "credential_of",
    "record_of",
]

DCC_VERSION = "working"
"""The DCC version followed: the development version of the spec-untp repository."""

CONTEXT: tuple[str, str] = (
    "https://www.w3.org/ns/credentials/v2",
    "https://test.uncefact.org/vocabulary/untp/dcc/working/",
)
CREDENTIAL_TYPE = ("DigitalConformityCredential", "VerifiableCredential")
URN = "urn:ecolabel-registry"
REGISTRY_NAME = "Eco-label mutual recognition registry"
NOT_CONFORMANT_REASON = "not conformant (UNTP DCC)"
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, URN)

AssessorLevel = Literal["Self", "Commercial", "Buyer", "Membership", "Unspecified", "3rdParty"]
AssessmentLevel = Literal[
    "GovtApproval", "GlobalMRA", "Accredited", "Verified", "Validated", "Unspecified"
]
AttestationType = Literal[
    "certification",
    "declaration",
    "inspection",
    "testing",
    "verification",
    "validation",
    "calibration",
]
ConformityTopic = Literal[
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
]
CriterionStatus = Literal["proposed", "active", "deprecated"]

# The registry records no sustainability topic for a category; the DCC requires one on each
# assessment and criterion. Eco-labels (ISO 14024) judge a product's environmental impact
# over its life cycle, which the DCC's list has no single code for: emissions is written.
CONFORMITY_TOPIC: ConformityTopic = "environment.emissions"


class _Wire(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """A DCC object: camelCase names, unknown properties ignored on input, None left out."""


class _Entity(_Wire, kw_only=True):
    """A party or a product: the DCC identifies both by an id (a URI), a name and, where it
    has one, the id a register knows it by."""

    id: str
    name: str
    registered_id: str | None = None


class _Typed(_Wire, kw_only=True):
    """A DCC object with its JSON-LD types (each class gives its own as the default, which
    keeps `type` first), an id and an optional name."""

    type: list[str]
    id: str
    name: str | None = None


class Party(_Entity, kw_only=True):
    description: str | None = None
    # Registry extension (a VC 2.0 issuer-dependent term): the holder's economy code.
    economy: str | None = None


class CredentialIssuer(_Wire, kw_only=True):
    type: list[str] = msgspec.field(default_factory=lambda: ["CredentialIssuer"])
    id: str
    name: str


class Product(_Entity, kw_only=True):
    # Registry extensions: fields of a certificate the DCC product has no property for.
    brand: str | None = None
    model: str | None = None
    hs_codes: list[str] | None = None


class ProductVerification(_Wire, kw_only=True):
    type: list[str] = msgspec.field(default_factory=lambda: ["ProductVerification"])
    product: Product
    id_verified_by_cab: bool | None = msgspec.field(default=None, name="IDverifiedByCAB")


class Criterion(_Typed, kw_only=True):
    type: list[str] = msgspec.field(default_factory=lambda: ["Criterion"])
    description: str | None = None
    conformity_topic: ConformityTopic | None = None
    status: CriterionStatus | None = None


class ConformityAssessment(_Typed, kw_only=True):
    type: list[str] = msgspec.field(default_factory=lambda: ["ConformityAssessment", "Declaration"])
    assessment_date: str | None = None
    assessment_criteria: list[Criterion] = msgspec.field(default_factory=list)
    conformance: bool
    conformity_topic: ConformityTopic
    assessed_product: list[ProductVerification] = msgspec.field(default_factory=list)


class ConformityScheme(_Typed, kw_only=True):
    type: list[str] = msgspec.field(default_factory=lambda: ["ConformityScheme"])
    description: str | None = None
    version: str | None = None
    valid_from: str | None = None
    owner: Party | None = None


class StatusEntry(_Wire, kw_only=True):
    """Registry extension: one event of the certificate's status history."""

    status: str
    effective_date: str
    reason: str


class ConformityAttestation(_Typed, kw_only=True):
    type: list[str] = msgspec.field(
        default_factory=lambda: ["ConformityAttestation", "Attestation"]
    )
    assessor_level: AssessorLevel
    assessment_level: AssessmentLevel
    attestation_type: AttestationType
    description: str | None = None
    issued_to_party: Party
    scope: ConformityScheme | None = None
    assessment: list[ConformityAssessment] = msgspec.field(default_factory=list)
    # Registry extension: the full status history, in recording order.
    status_history: list[StatusEntry] | None = None


class Credential(_Wire, kw_only=True):
    """A Digital Conformity Credential (unsigned)."""

    context: list[str] = msgspec.field(default_factory=lambda: list(CONTEXT), name="@context")
    type: list[str] = msgspec.field(default_factory=lambda: list(CREDENTIAL_TYPE))
    id: str
    issuer: CredentialIssuer
    valid_from: str | None = None
    valid_until: str | None = None
    credential_subject: ConformityAttestation


# Export


def _pct(text: str) -> str:
    return quote(text, safe="")


def certificate_urn(scheme_id: str, number: str) -> str:
    return f"{URN}:scheme:{scheme_id}:certificate:{_pct(number)}"


def _gs1_link(gtin: str) -> str:
    """The GS1 Digital Link URI of a GTIN (in its 14-digit form)."""
    return f"https://id.gs1.org/01/{gtin.zfill(14)}"


def credential_of(
    certificate: Certificate,
    scheme: Scheme,
    category: ProductCategory | None,
    body: CertificationBody | None,
    status: str | None,
) -> dict[str, Any]:
    """The certificate as an unsigned DCC, as JSON-ready data.

    `status` is the certificate's status from its latest status event on (None: no events).
    """
    c = certificate
    subject_id = certificate_urn(c.scheme_id, c.number)
    conformant = status is None or status == CertificateStatus.ACTIVE.value
    category_name = category.name if category is not None else c.category_code
    criterion = Criterion(
        id=f"{URN}:scheme:{c.scheme_id}:category:{c.category_code}",
        name=category_name,
        description="; ".join(category.criteria)
        if category and category.criteria
        else category_name,
        conformity_topic=CONFORMITY_TOPIC,
        status="active",
    )
    products = [
        ProductVerification(
            product=Product(
                id=_gs1_link(g),
                name=c.product_name,
                registered_id=g,
                brand=c.brand,
                model=c.model,
                hs_codes=list(c.hs_codes),
            )
        )
        for g in c.gtins
    ] or [
        ProductVerification(
            product=Product(
                id=f"{subject_id}#product",
                name=c.product_name,
                brand=c.brand,
                model=c.model,
                hs_codes=list(c.hs_codes),
            )
        )
    ]
    if body is not None:
        issuer = CredentialIssuer(id=f"{URN}:certification-body:{body.id}", name=body.name)
        assessment_level: AssessmentLevel = (
            "Accredited" if body.accreditation_ref else "Unspecified"
        )
    else:
        issuer = CredentialIssuer(id=f"{URN}:registry", name=REGISTRY_NAME)
        assessment_level = "Unspecified"
    scope = ConformityScheme(
        id=f"{URN}:scheme:{scheme.id}",
        name=scheme.name,
        description=scheme.description or scheme.name,
        version=category.criteria_version if category is not None else str(scheme.version),
        valid_from=(category.valid_from if category is not None else c.valid_from).isoformat(),
        owner=Party(
            id=scheme.website or f"{URN}:scheme:{scheme.id}:operator", name=scheme.operator
        ),
    )
    credential = Credential(
        id=f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'{c.scheme_id}/{c.number}/{c.version}')}",
        issuer=issuer,
        valid_from=f"{c.valid_from.isoformat()}T00:00:00Z",
        valid_until=f"{c.valid_to.isoformat()}T23:59:59Z",
        credential_subject=ConformityAttestation(
            id=subject_id,
            name=f"{scheme.name} certificate {c.number}",
            assessor_level="3rdParty",
            assessment_level=assessment_level,
            attestation_type="certification",
            issued_to_party=Party(
                id=f"{subject_id}#holder", name=c.holder_name, economy=c.holder_economy
            ),
            scope=scope,
            assessment=[
                ConformityAssessment(
                    id=f"{subject_id}#assessment",
                    name=f"{category_name} ({scheme.name})",
                    assessment_date=c.valid_from.isoformat(),
                    assessment_criteria=[criterion],
                    conformance=conformant,
                    conformity_topic=CONFORMITY_TOPIC,
                    assessed_product=products,
                )
            ],
            status_history=[
                StatusEntry(
                    status=str(e.status),
                    effective_date=e.effective_date.isoformat(),
                    reason=e.reason,
                )
                for e in c.status_events
            ],
        ),
    )
    out: dict[str, Any] = msgspec.to_builtins(credential)
    return out


# Import


class DccError(Exception):
    """A credential the registry cannot read: where (a path in the DCC) and what is expected."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


_ENUMS: dict[str, tuple[str, ...]] = {
    "assessorLevel": get_args(AssessorLevel),
    "assessmentLevel": get_args(AssessmentLevel),
    "attestationType": get_args(AttestationType),
    "conformityTopic": get_args(ConformityTopic),
    "status": get_args(CriterionStatus),
}
_LAST_SEGMENT = re.compile(r"[^/:#=]+$")
_GS1_GTIN = re.compile(r"/01/([0-9]{8,14})(?:[/?#]|$)")
_DIGITS = re.compile(r"^[0-9]{8,14}$")


def _last_segment(value: str, path: str, what: str) -> str:
    found = _LAST_SEGMENT.search(value)
    if found is None:
        raise DccError(path, f"{value!r} does not end in {what}")
    return unquote(found.group(0))


def _day(value: str | None, path: str) -> str:
    if value is None:
        raise DccError(path, "is required (a date-time such as 2024-03-15T00:00:00Z)")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DccError(path, f"{value!r} is not a date-time such as 2024-03-15T00:00:00Z") from None
    return moment.date().isoformat()


def _gtin(product: Product) -> str | None:
    if product.registered_id is not None and _DIGITS.match(product.registered_id):
        return product.registered_id
    found = _GS1_GTIN.search(product.id)
    return found.group(1) if found else None


def record_of(value: Any, default_economy: str | None = None) -> dict[str, Any]:
    """The JSON Lines import record of one credential (DccError when it cannot be read).

    `default_economy` is the holder's economy when the credential does not say it (the
    DCC's party has no country); without either, the record has no `holder_economy` and
    the import reports it missing.
    """
    try:
        credential = msgspec.convert(value, Credential)
    except msgspec.ValidationError as exc:
        message = str(exc)
        where = "$"
        if " - at `" in message:
            message, _, rest = message.partition(" - at `")
            where = rest.rstrip("`")
        allowed = _ENUMS.get(where.rsplit(".", 1)[-1])
        if allowed is not None and message.startswith("Invalid enum value"):
            message += f"; expected one of {', '.join(allowed)}"
        raise DccError(where, message) from None
    if not {"DigitalConformityCredential", "VerifiableCredential"} <= set(credential.type):
        raise DccError("$.type", "must hold DigitalConformityCredential and VerifiableCredential")
    subject = credential.credential_subject
    number = _last_segment(subject.id, "$.credentialSubject.id", "a certificate number")
    codes: list[str] = []
    products: list[Product] = []
    for assessment in subject.assessment:
        for criterion in assessment.assessment_criteria:
            code = _last_segment(
                criterion.id, "$.credentialSubject.assessment[].assessmentCriteria[].id", "a code"
            )
            if code not in codes:
                codes.append(code)
        products.extend(p.product for p in assessment.assessed_product)
    if len(codes) != 1:
        raise DccError(
            "$.credentialSubject.assessment[].assessmentCriteria",
            "must name exactly one product category (the criterion id ends in the category "
            f"code, e.g. {URN}:scheme:korea-eco-label:category:paints); found "
            f"{', '.join(codes) or 'none'}",
        )
    if not products:
        raise DccError(
            "$.credentialSubject.assessment[].assessedProduct", "must name the certified product"
        )
    gtins: list[str] = []
    for product in products:
        gtin = _gtin(product)
        if gtin is not None and gtin not in gtins:
            gtins.append(gtin)
    first = products[0]
    record: dict[str, Any] = {
        "number": number,
        "category_code": codes[0],
        "holder_name": subject.issued_to_party.name,
        "product_name": first.name,
        "brand": first.brand,
        "model": first.model,
        "gtins": gtins,
        "hs_codes": first.hs_codes or [],
        "valid_from": _day(credential.valid_from, "$.validFrom"),
        "valid_to": _day(credential.valid_until, "$.validUntil"),
    }
    economy = subject.issued_to_party.economy or default_economy
    if economy is not None:
        record["holder_economy"] = economy
    body = credential.issuer.id.removeprefix(f"{URN}:certification-body:")
    if body != credential.issuer.id:
        record["certification_body_id"] = body
    if subject.status_history:
        record["status_events"] = [
            {"status": e.status, "effective_date": e.effective_date, "reason": e.reason}
            for e in subject.status_history
        ]
    elif not all(a.conformance for a in subject.assessment):
        record["status"] = CertificateStatus.SUSPENDED.value
        record["status_effective_date"] = record["valid_from"]
        record["status_reason"] = NOT_CONFORMANT_REASON
    return record
