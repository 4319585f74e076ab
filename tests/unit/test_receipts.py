"""Receipts: signed so that anyone can check them, refused when anything in them changes.

The independent check decodes the compact JWS and verifies the signature with `cryptography`
directly (RFC 7515 section 5.2; ES256: RFC 7518 section 3.4; EdDSA: RFC 8037 section 3.1),
not with the library that signed it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.jwk import OKPKey

from ecolabel_registry.api.decisions_io import (
    CREDENTIAL_TYPES,
    VC_CONTEXT,
    Credential,
    Decision,
    verify_receipt,
)
from ecolabel_registry.api.equivalence_io import EquivalenceAnswer, QueryOut
from ecolabel_registry.services.signing import (
    ReceiptInvalid,
    SigningKeyError,
    SigningKeyFile,
)

ISSUER = "https://registry.example.org"
DECISION = f"{ISSUER}/v1/decisions/AAAAAAAAAAAAAAAAAAAAAAAA"
INSTANT = dt.datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=dt.UTC)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def credential_json() -> bytes:
    question = QueryOut("korea-eco-label", "KR-0001", "JP", dt.date(2025, 3, 1), None)
    answer = EquivalenceAnswer(question, True, None, [], [], [], None, "recognized", 7)
    subject = Decision(DECISION, 7, INSTANT, question=question, answer=answer)
    credential = Credential[Decision](
        [VC_CONTEXT], list(CREDENTIAL_TYPES), ISSUER, INSTANT, subject
    )
    return msgspec.json.encode(credential)


@pytest.fixture
def keys(tmp_path: Path) -> SigningKeyFile:
    key_file = SigningKeyFile(tmp_path / "signing-keys.json")
    key_file.create()
    return key_file


@pytest.fixture
def receipt(keys: SigningKeyFile) -> str:
    return keys.read().sign(credential_json())


def independently_verified(receipt: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The payload of `receipt` if its signature verifies under the JWKS key its kid names;
    InvalidSignature otherwise. No JOSE library involved."""
    header_part, payload_part, signature_part = receipt.split(".")
    header = json.loads(unb64(header_part))
    assert header["typ"] == "vc+jwt"
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    signing_input = f"{header_part}.{payload_part}".encode("ascii")
    signature = unb64(signature_part)
    if header["alg"] == "ES256":
        assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256")
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64(jwk["x"])), int.from_bytes(unb64(jwk["y"])), ec.SECP256R1()
        )
        # The JWS signature is R and S, 32 bytes each, big-endian; cryptography takes DER.
        if len(signature) != 64:
            raise InvalidSignature
        der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
        numbers.public_key().verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    else:
        assert header["alg"] == "EdDSA"
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
        Ed25519PublicKey.from_public_bytes(unb64(jwk["x"])).verify(signature, signing_input)
    data: dict[str, Any] = json.loads(unb64(payload_part))
    return data


def ed25519_key_file(path: Path) -> SigningKeyFile:
    """A key file whose current key is Ed25519 (EdDSA), as the registry's first keys were."""
    jwk = OKPKey.generate_key("Ed25519").as_dict(private=True)
    document = {"keys": [{"jwk": jwk, "status": "current", "created_at": "2026-11-29T19:00:00Z"}]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(document, f)
    return SigningKeyFile(path)


def test_a_receipt_verifies_with_an_independent_implementation(
    keys: SigningKeyFile, receipt: str
) -> None:
    jwks = keys.read().jwks()
    credential = independently_verified(receipt, jwks)
    assert credential["@context"] == [VC_CONTEXT]
    assert credential["type"] == ["VerifiableCredential", "RecognitionDecision"]
    assert credential["issuer"] == ISSUER
    assert credential["validFrom"] == "2026-11-29T12:00:00.123456Z"
    assert credential["credentialSubject"]["id"] == DECISION
    assert credential["credentialSubject"]["answer"]["recognized"] is True
    header = json.loads(unb64(receipt.split(".")[0]))
    assert header == {"alg": "ES256", "typ": "vc+jwt", "cty": "vc", "kid": jwks["keys"][0]["kid"]}
    assert verify_receipt(receipt, jwks).credential_subject.registry_revision == 7


@pytest.mark.parametrize("extra", [b"", b" ", b"  "])
def test_the_payload_is_written_in_base64url_without_padding(
    keys: SigningKeyFile, extra: bytes
) -> None:
    # Every length modulo 3, and bytes whose base64 holds "+" and "/" (base64url: "-", "_").
    payload = credential_json()[:-1] + b',"note":"' + b"\xc3\xbf?>" * 1000 + b'"}' + extra
    assert {b"+", b"/"} <= {base64.b64encode(payload)[i : i + 1] for i in range(4000)}
    receipt = keys.read().sign(payload)
    payload_part = receipt.split(".")[1]
    assert payload_part == b64(payload)
    assert not {"=", "+", "/"} & set(receipt)
    assert unb64(payload_part) == payload
    independently_verified(receipt, keys.read().jwks())


def test_an_ed25519_key_signs_with_eddsa_until_rotated_and_its_receipts_verify_after(
    tmp_path: Path,
) -> None:
    keys = ed25519_key_file(tmp_path / "signing-keys.json")
    before = keys.read().sign(credential_json())
    header = json.loads(unb64(before.split(".")[0]))
    assert header["alg"] == "EdDSA"
    keys.rotate()
    jwks = keys.read().jwks()
    assert [(k["kty"], k["alg"]) for k in jwks["keys"]] == [("EC", "ES256"), ("OKP", "EdDSA")]
    for receipt in (before, keys.read().sign(credential_json())):
        assert verify_receipt(receipt, jwks).credential_subject.id == DECISION
        assert independently_verified(receipt, jwks)["issuer"] == ISSUER


@pytest.mark.parametrize("part", [0, 1, 2])
def test_changing_any_byte_of_header_payload_or_signature_fails(
    keys: SigningKeyFile, receipt: str, part: int
) -> None:
    jwks = keys.read().jwks()
    parts = receipt.split(".")
    raw = unb64(parts[part])
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        forged = list(parts)
        forged[part] = b64(bytes(changed))
        token = ".".join(forged)
        with pytest.raises(ReceiptInvalid):
            verify_receipt(token, jwks)
        if part != 0:  # a changed header may no longer name the key
            with pytest.raises((InvalidSignature, ValueError, KeyError)):
                independently_verified(token, jwks)


def test_changing_any_character_of_the_receipt_fails(keys: SigningKeyFile, receipt: str) -> None:
    jwks = keys.read().jwks()
    for i, char in enumerate(receipt):
        if char == ".":
            continue
        other = "B" if char == "A" else "A"
        with pytest.raises(ReceiptInvalid):
            verify_receipt(receipt[:i] + other + receipt[i + 1 :], jwks)


def test_a_receipt_signed_before_a_rotation_verifies_after_it(
    keys: SigningKeyFile, receipt: str
) -> None:
    new = keys.rotate()
    ring = keys.read()
    assert ring.current.kid == new.kid
    assert [k.status for k in ring.keys] == ["current", "retired"]
    jwks = ring.jwks()
    assert verify_receipt(receipt, jwks).credential_subject.id == DECISION
    independently_verified(receipt, jwks)
    later = ring.sign(credential_json())
    assert json.loads(unb64(later.split(".")[0]))["kid"] == new.kid
    independently_verified(later, jwks)


def test_a_receipt_of_another_key_does_not_verify(
    keys: SigningKeyFile, receipt: str, tmp_path: Path
) -> None:
    other = SigningKeyFile(tmp_path / "other.json")
    other.create()
    with pytest.raises(ReceiptInvalid, match="no key"):
        verify_receipt(receipt, other.read().jwks())
    # The same kid with another key's public part: the signature does not verify.
    jwks = keys.read().jwks()
    jwks["keys"][0]["x"] = other.read().jwks()["keys"][0]["x"]
    jwks["keys"][0]["y"] = other.read().jwks()["keys"][0]["y"]
    with pytest.raises(ReceiptInvalid, match="signature"):
        verify_receipt(receipt, jwks)


def forge(header: dict[str, Any], payload: bytes, signature: bytes) -> str:
    return ".".join((b64(json.dumps(header).encode()), b64(payload), b64(signature)))


def test_alg_none_and_hmac_with_the_public_key_are_refused(
    keys: SigningKeyFile, receipt: str
) -> None:
    jwks = keys.read().jwks()
    kid = jwks["keys"][0]["kid"]
    payload = credential_json()
    unsigned = forge({"alg": "none", "typ": "vc+jwt", "kid": kid}, payload, b"")
    with pytest.raises(ReceiptInvalid, match="compact JWS"):
        verify_receipt(unsigned, jwks)
    with pytest.raises(ReceiptInvalid, match="'none' is not accepted"):
        verify_receipt(unsigned + "AAAA", jwks)
    # HS256 keyed with the public key (the classic confusion): refused before any key use.
    for secret in (unb64(jwks["keys"][0]["x"]), json.dumps(jwks["keys"][0]).encode()):
        header = {"alg": "HS256", "typ": "vc+jwt", "kid": kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload)}".encode()
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        with pytest.raises(ReceiptInvalid, match="'HS256' is not accepted"):
            verify_receipt(forge(header, payload, mac), jwks)
    # EdDSA is accepted as an algorithm, but not with a P-256 key.
    ed = forge({"alg": "EdDSA", "typ": "vc+jwt", "kid": kid}, payload, b"x" * 64)
    with pytest.raises(ReceiptInvalid, match="Ed25519"):
        verify_receipt(ed, jwks)


def test_the_header_must_say_what_a_receipt_is(keys: SigningKeyFile, receipt: str) -> None:
    jwks = keys.read().jwks()
    header_part, payload_part, signature_part = receipt.split(".")
    header = json.loads(unb64(header_part))
    for changed, reason in (
        ({**header, "typ": "JWT"}, "typ"),
        ({k: v for k, v in header.items() if k != "kid"}, "kid"),
        ({**header, "crit": ["b64"], "b64": False}, "extensions"),
    ):
        token = f"{b64(json.dumps(changed).encode())}.{payload_part}.{signature_part}"
        with pytest.raises(ReceiptInvalid, match=reason):
            verify_receipt(token, jwks)
    for header_json in (b"not json", b"[" * 5000 + b"]" * 5000):
        with pytest.raises(ReceiptInvalid, match="not JSON"):
            verify_receipt(f"{b64(header_json)}.{payload_part}.{signature_part}", jwks)


def test_a_signed_payload_that_is_no_decision_credential_is_invalid(keys: SigningKeyFile) -> None:
    ring = keys.read()
    jwks = ring.jwks()
    good = json.loads(credential_json())
    for changed, reason in (
        ({**good, "@context": ["https://example.org/other"]}, "@context"),
        ({**good, "type": ["VerifiableCredential"]}, "type"),
        ({**good, "validFrom": "2020-01-01T00:00:00Z"}, "validFrom"),
        ({**good, "credentialSubject": {**good["credentialSubject"], "id": "x"}}, "id"),
        ({k: v for k, v in good.items() if k != "issuer"}, "issuer"),
    ):
        with pytest.raises(ReceiptInvalid, match=reason):
            verify_receipt(ring.sign(json.dumps(changed).encode()), jwks)


def test_the_key_file_is_private_and_refused_when_others_may_read_it(
    keys: SigningKeyFile,
) -> None:
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    with pytest.raises(SigningKeyError, match="exists already"):
        keys.create()
    for mode in (0o644, 0o640, 0o606):
        keys.path.chmod(mode)
        with pytest.raises(SigningKeyError, match="chmod 600"):
            keys.read()
    keys.path.chmod(0o600)
    rotated = keys.rotate()
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    assert keys.read().current.kid == rotated.kid
    leftovers = [p.name for p in keys.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_damaged_key_file_is_refused_without_showing_a_key(keys: SigningKeyFile) -> None:
    document = json.loads(keys.path.read_text())
    private = document["keys"][0]["jwk"]["d"]
    document["keys"][0]["status"] = "retired"
    keys.path.write_text(json.dumps(document))
    with pytest.raises(SigningKeyError, match="0 current keys") as refused:
        keys.read()
    assert private not in str(refused.value)


def test_servers_starting_together_make_one_key_file(tmp_path: Path) -> None:
    key_file = SigningKeyFile(tmp_path / "shared" / "signing-keys.json")
    made: list[object] = []

    def start() -> None:
        made.append(SigningKeyFile(key_file.path).ensure())

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([m for m in made if m is not None]) == 1
    assert len(key_file.read().keys) == 1
    assert sorted(os.listdir(key_file.path.parent)) == [
        "signing-keys.json",
        "signing-keys.json.lock",
    ]
