"""The mapping of one UNTP DCC to an import record, on its own (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from ecolabel_registry.services.untp_dcc import DccError, record_of


def credential(**subject: Any) -> dict[str, Any]:
    product = {"id": "https://resolver.example/01/04006381333931/10/B1", "name": "Enamel"}
    return {
        "type": ["DigitalConformityCredential", "VerifiableCredential"],
        "id": "urn:uuid:0",
        "issuer": {"id": "did:web:cab.example", "name": "CAB"},
        "validFrom": "2024-03-15T00:30:00+09:00",
        "validUntil": "2026-03-14T23:59:59-05:00",
        "credentialSubject": {
            "id": "urn:ecolabel-registry:scheme:s:certificate:FR%2F044%2F017",
            "assessorLevel": "3rdParty",
            "assessmentLevel": "Unspecified",
            "attestationType": "certification",
            "issuedToParty": {"id": "urn:x", "name": "Holder"},
            "assessment": [
                {
                    "id": "urn:a",
                    "conformance": True,
                    "conformityTopic": "environment.energy",
                    "assessmentCriteria": [{"id": "https://scheme.example/criteria/paints"}],
                    "assessedProduct": [{"product": product}],
                }
            ],
            **subject,
        },
    }


def test_dates_are_the_dates_as_written_and_the_number_is_decoded() -> None:
    record = record_of(credential(), "KR")
    assert (record["valid_from"], record["valid_to"]) == ("2024-03-15", "2026-03-14")
    assert record["number"] == "FR/044/017"
    assert record["category_code"] == "paints"
    assert record["gtins"] == ["04006381333931"]  # from any Digital Link resolver's /01/
    assert record["holder_economy"] == "KR"
    assert "certification_body_id" not in record  # a DID is no registry body
    assert "status" not in record
    assert "status_events" not in record


def test_without_an_economy_anywhere_the_record_leaves_it_out() -> None:
    assert "holder_economy" not in record_of(credential(), None)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"attestationType": "certificate"}, "$.credentialSubject.attestationType"),
        ({"issuedToParty": {"id": "urn:x"}}, "$.credentialSubject.issuedToParty"),
        ({"assessment": []}, "$.credentialSubject.assessment[].assessmentCriteria"),
    ],
)
def test_what_cannot_be_read_names_its_path(change: dict[str, Any], path: str) -> None:
    with pytest.raises(DccError) as caught:
        record_of(credential(**change), "KR")
    assert caught.value.path == path
