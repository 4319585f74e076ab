"""The registry's signing keys and the JOSE envelope of decision receipts.

Receipts are compact JWS (RFC 7515) as VC-JOSE-COSE secures a credential with JOSE
(https://www.w3.org/TR/vc-jose-cose/, section 3.1): the protected header holds `alg`, `typ`
`vc+jwt`, `cty` `vc` and the `kid` of a key of the registry's JWKS (RFC 7517); the payload is
the credential itself. Signatures are made and checked by joserfc's algorithms; nothing here
computes one. This module lays out what they sign (`compact_jws`: RFC 7515 section 7.1, the
base64url parts joined by dots) with pybase64, which encodes a 10,000-line credential in
~1 ms, where Python's `base64` (which joserfc's own `serialize_compact` uses) takes ~10-18 ms.

The private keys live in one JSON file (`ECOLABEL_SIGNING_KEY_FILE`), never in the database:

    {"keys": [{"jwk": {...private JWK...}, "status": "current" | "retired",
               "created_at": "2026-11-29T19:00:00Z"}]}

Exactly one key is current (it signs); retired keys only verify. The file is written whole
to a temporary file of mode 0600 and renamed over the old one (atomic on POSIX), under an
exclusive lock of a `.lock` file beside it, so several servers and the command line may share
it; a server notices a new file (a rotation) at its next signature. A file that anyone but its
owner may read or write is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import datetime as dt
import fcntl
import json
import os
import stat
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pybase64
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from ecolabel_registry.domain.errors import Unavailable

SIGNING_ALGORITHM = "ES256"
"""What new keys sign with: ECDSA on P-256 with SHA-256 (RFC 7518 section 3.4), which VC-JOSE-COSE
and every JOSE library know. A 10,000-line receipt signs in ~20 ms with it, against ~55 ms
with Ed25519, whose signature hashes the whole message twice with SHA-512 (RFC 8032)."""
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "ES256"})
"""What a receipt's `alg` may be; `none`, HMAC and anything else are refused before any key
is looked at."""
RECEIPT_TYPE = "vc+jwt"
RECEIPT_CONTENT_TYPE = "vc"
MAX_RECEIPT_BYTES = 64 * 1024 * 1024
"""The largest receipt read (a 10,000-line decision's receipt takes 10-20 MB)."""
_KEY_TYPES = {"EdDSA": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
_ALGORITHM_OF_KEY = {key_type: alg for alg, key_type in _KEY_TYPES.items()}
"""A key's algorithm by its type and curve: the registry's first keys were Ed25519 (EdDSA,
RFC 8037), and a file may still hold one, current until rotated or retired."""

PrivateKey = ECKey | OKPKey


def _registry(algorithm: str) -> JWSRegistry:
    """joserfc's registry allowing only `algorithm`, with room for large receipts.

    joserfc warns that RFC 9864 deprecates the name `EdDSA`: the registry holds a copy of its
    EdDSA algorithm without that warning (the choice is made above, knowingly).
    """

    class Registry(JWSRegistry):
        algorithms = dict(JWSRegistry.algorithms)  # noqa: RUF012 (joserfc's own layout)
        max_payload_length = MAX_RECEIPT_BYTES
        max_header_length = 2048

    quiet = copy.copy(JWSRegistry.algorithms[algorithm])
    quiet.security_warning = None
    Registry.algorithms[algorithm] = quiet
    return Registry(algorithms=[algorithm])


_REGISTRIES = {name: _registry(name) for name in sorted(ALLOWED_ALGORITHMS)}


class SigningKeyError(Unavailable):
    """The signing key file is missing, unsafe or unreadable; the message says what to do."""


class ReceiptInvalid(Exception):
    """A receipt that does not verify; the message says why, for people, and `code` which
    kind of failure it is (one of RECEIPT_FAILURES), for pages that word it themselves."""

    def __init__(self, message: str, code: str = "form") -> None:
        super().__init__(message)
        self.code = code


RECEIPT_FAILURES = ("form", "header", "algorithm", "unknown_key", "signature", "credential")


KeyStatus = Literal["current", "retired"]


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the file: its id (the JWK thumbprint, RFC 7638), status and creation."""

    kid: str
    status: KeyStatus
    created_at: dt.datetime
    jwk: Mapping[str, Any]

    @property
    def algorithm(self) -> str:
        """The JWS `alg` this key signs with (ES256 or, for an Ed25519 key, EdDSA)."""
        return _ALGORITHM_OF_KEY[(self.jwk["kty"], self.jwk["crv"])]

    def public(self) -> dict[str, Any]:
        """The public JWK, as the JWKS publishes it."""
        key = _import(self.jwk)
        return dict(key.as_dict(private=False, kid=self.kid, use="sig", alg=self.algorithm))


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys of the file as read once: the current one signs, all of them verify."""

    keys: tuple[SigningKey, ...]
    current: SigningKey
    _private: PrivateKey

    def jwks(self) -> dict[str, Any]:
        """The public keys, current first, then the retired ones newest first."""
        ordered = sorted(
            self.keys, key=lambda k: (k.status != "current", -k.created_at.timestamp())
        )
        return {"keys": [k.public() for k in ordered]}

    def sign(self, payload: bytes) -> str:
        """The compact JWS of `payload` under the current key."""
        alg = self.current.algorithm
        header = {
            "alg": alg,
            "typ": RECEIPT_TYPE,
            "cty": RECEIPT_CONTENT_TYPE,
            "kid": self.current.kid,
        }
        return compact_jws(header, payload, _REGISTRIES[alg].get_alg(alg), self._private)


def b64url(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 section 2)."""
    return pybase64.urlsafe_b64encode(data).rstrip(b"=")


def compact_jws(
    header: Mapping[str, Any], payload: bytes, algorithm: JWSAlgModel, key: PrivateKey
) -> str:
    """The JWS Compact Serialization (RFC 7515 sections 5.1 and 7.1) of `payload` with the
    protected `header`, signed by joserfc's `algorithm` with `key`: what joserfc's
    `serialize_compact` makes, the payload encoded once."""
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode()) + b"." + b64url(payload)
    )
    signature = algorithm.sign(signing_input, key)
    return (signing_input + b"." + b64url(signature)).decode("ascii")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _import(jwk: Mapping[str, Any]) -> PrivateKey:
    """joserfc's key of a JWK of the file or the JWKS (ValueError for another type)."""
    kty = jwk.get("kty")
    if (kty, jwk.get("crv")) not in _ALGORITHM_OF_KEY:
        raise ValueError("keys are P-256 (ES256) or Ed25519 (EdDSA)")
    return ECKey.import_key(dict(jwk)) if kty == "EC" else OKPKey.import_key(dict(jwk))


def _new_key(status: KeyStatus) -> SigningKey:
    key = ECKey.generate_key("P-256")
    kid = key.thumbprint()
    return SigningKey(kid, status, _utc_now(), dict(key.as_dict(private=True)))


class SigningKeyFile:
    """The file of the registry's private signing keys (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> SigningKey:
        """A new file with one current key; SigningKeyError when the file exists."""
        with self._locked():
            if self.path.exists():
                raise SigningKeyError(
                    f"the signing key file {self.path} exists already; "
                    "`ecolabel-registry signing-key rotate` makes a new current key"
                )
            key = _new_key("current")
            self._write([key])
            return key

    def ensure(self) -> SigningKey | None:
        """The new key when the file had to be created; None when it exists (it is then
        checked as a server would read it)."""
        with self._locked():
            if self.path.exists():
                self.read()
                return None
            key = _new_key("current")
            self._write([key])
            return key

    def rotate(self) -> SigningKey:
        """A new current key; the former ones stay in the file as retired (verify only)."""
        with self._locked():
            keys = self.read().keys
            new = _new_key("current")
            self._write([new, *(_retired(k) for k in keys)])
            return new

    def read(self) -> KeyRing:
        """The keys of the file; SigningKeyError when it is missing, unsafe or malformed."""
        fd = self._open()
        try:
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(1024 * 1024)
        finally:
            os.close(fd)
        return self._parse(data)

    def signature(self) -> tuple[int, int, int, int] | None:
        """What changes when the file is replaced or its mode changed (None: missing)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode)

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise SigningKeyError(
                f"no signing key file at {self.path}: run `ecolabel-registry signing-key "
                "create` (or set ECOLABEL_SIGNING_KEY_FILE to the registry's key file)"
            ) from None
        except OSError as exc:
            raise SigningKeyError(f"cannot open the signing key file {self.path}: {exc}") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode) or mode & 0o077:
            os.close(fd)
            raise SigningKeyError(
                f"refusing to sign with {self.path}: other users may read or change it "
                f"(mode {stat.filemode(mode)}); run `chmod 600 {self.path}` if no one else "
                "has read it, else rotate the key"
            )
        return fd

    def _parse(self, data: bytes) -> KeyRing:
        where = f"the signing key file {self.path}"
        try:
            document = json.loads(data)
            keys = tuple(_key(entry) for entry in document["keys"])
            current = [k for k in keys if k.status == "current"]
            if len(current) != 1:
                raise ValueError(f"{len(current)} current keys; exactly one signs")
            private = _import(current[0].jwk)
            if not private.is_private:
                raise ValueError("the current key has no private part")
        except (ValueError, KeyError, TypeError, JoseError) as exc:
            # The message names the problem, never a key's value.
            raise SigningKeyError(f"{where} is not valid: {type(exc).__name__}: {exc}") from None
        return KeyRing(keys, current[0], private)

    def _write(self, keys: list[SigningKey]) -> None:
        document = {
            "keys": [
                {
                    "jwk": dict(k.jwk),
                    "status": k.status,
                    "created_at": k.created_at.isoformat().replace("+00:00", "Z"),
                }
                for k in keys
            ]
        }
        data = json.dumps(document, indent=2).encode() + b"\n"
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(temporary, self.path)


def _retired(key: SigningKey) -> SigningKey:
    return SigningKey(key.kid, "retired", key.created_at, key.jwk)


def _key(entry: Any) -> SigningKey:
    jwk = entry["jwk"]
    status = entry["status"]
    if status not in ("current", "retired"):
        raise ValueError(f"a key's status is current or retired, not {status!r}")
    key = _import(jwk)
    created = dt.datetime.fromisoformat(str(entry["created_at"]).replace("Z", "+00:00"))
    return SigningKey(key.thumbprint(), status, created, dict(jwk))


class ReceiptSigner:
    """The keys of a server process: the file read again whenever it was replaced."""

    def __init__(self, key_file: SigningKeyFile) -> None:
        self._file = key_file
        self._lock = threading.Lock()
        self._ring: tuple[tuple[int, int, int, int], KeyRing] | None = None

    def ring(self) -> KeyRing:
        """The keys as the file holds them now (SigningKeyError when it cannot be used)."""
        signature = self._file.signature()
        cached = self._ring
        if cached is not None and signature == cached[0]:
            return cached[1]
        with self._lock:
            ring = self._file.read()
            if signature is not None:
                self._ring = (signature, ring)
            return ring

    def sign(self, payload: bytes) -> str:
        return self.ring().sign(payload)

    def jwks(self) -> dict[str, Any]:
        """The public keys; none while the registry has no key file."""
        if self._file.signature() is None:
            return {"keys": []}
        return self.ring().jwks()


def _b64(part: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise ReceiptInvalid(f"the {what} is not base64url") from None


def receipt_header(receipt: str) -> dict[str, Any]:
    """The protected header of a compact JWS, checked as a receipt's must be: `typ` vc+jwt,
    an allowed `alg`, a `kid`, no `crit` extension we would have to understand."""
    parts = receipt.split(".")
    if len(parts) != 3 or not all(parts):
        raise ReceiptInvalid("not a compact JWS (three base64url parts joined by dots)")
    try:
        header = json.loads(_b64(parts[0], "header"))
    except (ValueError, RecursionError):
        raise ReceiptInvalid("the header is not JSON", "header") from None
    if not isinstance(header, dict):
        raise ReceiptInvalid("the header is not a JSON object", "header")
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        allowed = ", ".join(sorted(ALLOWED_ALGORITHMS))
        raise ReceiptInvalid(f"algorithm {alg!r} is not accepted (only {allowed})", "algorithm")
    if header.get("typ") != RECEIPT_TYPE:
        raise ReceiptInvalid(f"typ is {header.get('typ')!r}, not {RECEIPT_TYPE!r}", "header")
    if "crit" in header or header.get("b64") is False:
        raise ReceiptInvalid(
            "the header asks for extensions (crit, b64) receipts do not use", "header"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ReceiptInvalid("the header names no key (kid)", "header")
    return header


def verify_receipt_signature(receipt: str, jwks: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The header and payload of a receipt whose signature verifies under the key of `jwks`
    its `kid` names; ReceiptInvalid saying why otherwise."""
    if len(receipt) > MAX_RECEIPT_BYTES * 2:
        raise ReceiptInvalid(f"longer than any receipt ({MAX_RECEIPT_BYTES * 2} characters)")
    header = receipt_header(receipt)
    alg, kid = header["alg"], header["kid"]
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise ReceiptInvalid('the JWKS is not a JSON Web Key Set ({"keys": [...]})', "unknown_key")
    found = [k for k in keys if isinstance(k, dict) and k.get("kid") == kid]
    if not found:
        raise ReceiptInvalid(f"no key {kid!r} in the JWKS: not signed by these keys", "unknown_key")
    jwk = found[0]
    kty, crv = _KEY_TYPES[alg]
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        raise ReceiptInvalid(f"key {kid!r} is no {crv} key, which {alg} needs", "algorithm")
    if jwk.get("alg") not in (None, alg):
        raise ReceiptInvalid(f"key {kid!r} is for {jwk.get('alg')!r}, not {alg!r}", "algorithm")
    public = {k: v for k, v in jwk.items() if k != "d"}
    try:
        key = _import(public)
        verified = jws.deserialize_compact(receipt, key, registry=_REGISTRIES[alg])
    except JoseError as exc:
        reason = exc.description or exc.error
        raise ReceiptInvalid(f"the signature does not verify ({reason})", "signature") from None
    return header, verified.payload
