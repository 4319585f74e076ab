"""Webhook rules without a database: addresses refused, URLs accepted, signatures, retries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import pytest
from standardwebhooks import Webhook

from ecolabel_registry.delivery import signed_headers
from ecolabel_registry.domain.errors import InvalidInput
from ecolabel_registry.services.changes import decode_cursor, encode_cursor
from ecolabel_registry.services.ports.webhooks import RETRY_DELAYS, retry_delay
from ecolabel_registry.services.webhooks import (
    UnsafeAddress,
    UrlPolicy,
    forbidden_address,
    new_secret,
)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "private"),
        ("100.64.0.1", "not globally routable"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    assert forbidden_address(address) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_address(address) is None


def test_a_name_resolving_to_loopback_is_refused() -> None:
    policy = UrlPolicy()
    with pytest.raises(UnsafeAddress, match=r"127\.0\.0\.1, a loopback address"):
        policy.addresses("https://rebind.example/hook", lambda _h, _p: ["127.0.0.1"])


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    policy = UrlPolicy()
    with pytest.raises(UnsafeAddress, match=r"10\.0\.0\.7"):
        policy.addresses("https://mixed.example/", lambda _h, _p: ["93.184.216.34", "10.0.0.7"])


def test_the_setting_allows_private_addresses_and_http() -> None:
    policy = UrlPolicy(allow_private=True, allow_http=True)
    assert policy.addresses("http://127.0.0.1:8080/hook") == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://93.184.216.34/hook", "must be an https:// URL"),
        ("ftp://93.184.216.34/", "must be an https:// URL"),
        ("https:///nohost", "names no host"),
        ("https://user:pw@93.184.216.34/", "user name or password"),
        ("https://93.184.216.34:99999/", "not a URL"),
        ("https://93.184.216.34/" + "a" * 2000, "at most 2000"),
    ],
)
def test_bad_urls_are_refused_saying_why(url: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        UrlPolicy().target(url)
    assert message in caught.value.errors[0].message


def test_signature_matches_the_standard_webhooks_published_example() -> None:
    # The example of the Standard Webhooks specification ("Signature scheme").
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signed_headers(
        secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_is_the_specs_hmac_and_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = b'{"type":"certificate.status_event","data":{}}'
    now = int(dt.datetime.now(dt.UTC).timestamp())
    headers = signed_headers(secret, "msg_42", now, body)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"msg_42.{now}.".encode() + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert Webhook(secret).verify(body, headers) == {
        "type": "certificate.status_event",
        "data": {},
    }


def test_retries_wait_longer_each_time_with_jitter_and_go_on_past_a_day() -> None:
    low = [retry_delay(n, lambda: 0.0) for n in range(1, 20)]
    high = [retry_delay(n, lambda: 1.0) for n in range(1, 20)]
    assert low == sorted(low)
    assert all(h > lo for h, lo in zip(high, low, strict=True))
    assert sum(low, dt.timedelta()) > dt.timedelta(days=1)
    assert low[-1] == RETRY_DELAYS[-1] * 0.8


def test_cursors_round_trip_and_strangers_are_refused() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert decode_cursor(None) == 0
    for bad in ("12345", "Y2hnMTo", encode_cursor(1) + "x", "!!!", "Y2hnMTotMQ"):
        with pytest.raises(InvalidInput):
            decode_cursor(bad)
