"""The command line's signing keys and `verify`, against a demo registry of their own."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ecolabel_registry.app import create_app
from ecolabel_registry.cli import app as cli
from ecolabel_registry.cli.serve import check_signing_key
from ecolabel_registry.settings import Settings, get_settings

runner = CliRunner()
QUESTION = {
    "scheme": "eu-ecolabel",
    "certificate": "DEMO/FR/044/017",
    "target": "KR",
    "on": "2025-03-01",
    "hs_code": "320810",
}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated demo registry on a SQLite file, and where its key file goes."""
    monkeypatch.setenv("ECOLABEL_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("ECOLABEL_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-keys.json"))
    monkeypatch.setenv("ECOLABEL_REGISTRY_URL", "https://registry.example.org")
    get_settings.cache_clear()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    assert runner.invoke(cli, ["seed", "--demo"]).exit_code == 0
    yield tmp_path / "keys" / "signing-keys.json"
    get_settings.cache_clear()


def a_decision(tmp_path: Path) -> tuple[Path, Path, dict[str, object]]:
    """A decision made over HTTP: its receipt and the registry's JWKS saved as files."""
    secret = runner.invoke(cli, ["keys", "create", "--role", "operator", "--name", "Customs"])
    headers = {"Authorization": f"Bearer {secret.stdout.strip().splitlines()[-1]}"}
    with TestClient(create_app(get_settings())) as client:
        response = client.post("/v1/decisions", json={"question": QUESTION}, headers=headers)
        assert response.status_code == 201, response.text
        jwks = client.get("/.well-known/jwks.json").json()
    receipt = tmp_path / "receipt.jwt"
    receipt.write_text(response.json()["receipt"] + "\n")
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks))
    decision: dict[str, object] = response.json()["decision"]
    return receipt, keys, decision


def test_signing_keys_are_created_once_rotated_and_listed_without_secrets(
    registry: Path,
) -> None:
    created = runner.invoke(cli, ["signing-key", "create"])
    assert created.exit_code == 0, created.output
    assert stat.S_IMODE(registry.stat().st_mode) == 0o600
    private = json.loads(registry.read_text())["keys"][0]["jwk"]["d"]
    again = runner.invoke(cli, ["signing-key", "create"])
    assert again.exit_code == 1
    assert "signing-key rotate" in again.output
    assert runner.invoke(cli, ["signing-key", "create", "--if-missing"]).exit_code == 0
    rotated = runner.invoke(cli, ["signing-key", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    listed = runner.invoke(cli, ["signing-key", "list"])
    assert listed.exit_code == 0
    assert listed.stdout.count("current") == 1
    assert listed.stdout.count("retired") == 1
    for output in (created.output, rotated.output, listed.output):
        assert private not in output


def test_verify_prints_a_valid_decision_and_refuses_a_changed_one(
    registry: Path, tmp_path: Path
) -> None:
    assert runner.invoke(cli, ["signing-key", "create"]).exit_code == 0
    receipt, keys, decision = a_decision(tmp_path)
    valid = runner.invoke(cli, ["verify", str(receipt), "--jwks", str(keys)])
    assert valid.exit_code == 0, valid.output
    assert "valid: signed by https://registry.example.org" in valid.output
    assert json.loads(valid.stdout) == decision
    # Rotated since: the receipt still verifies with the keys published now.
    assert runner.invoke(cli, ["signing-key", "rotate"]).exit_code == 0
    with TestClient(create_app(get_settings())) as client:
        keys.write_text(json.dumps(client.get("/.well-known/jwks.json").json()))
    assert runner.invoke(cli, ["verify", str(receipt), "--jwks", str(keys)]).exit_code == 0
    header, payload, signature = receipt.read_text().strip().split(".")
    changed = tmp_path / "changed.jwt"
    changed.write_text(
        f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    )
    invalid = runner.invoke(cli, ["verify", str(changed), "--jwks", str(keys)])
    assert invalid.exit_code == 1
    assert "invalid: the signature does not verify" in invalid.output
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"keys": []}))
    unknown = runner.invoke(cli, ["verify", str(receipt), "--jwks", str(other)])
    assert unknown.exit_code == 1
    assert "no key" in unknown.output
    missing = runner.invoke(cli, ["verify", str(tmp_path / "nothing.jwt"), "--jwks", str(keys)])
    assert missing.exit_code == 1
    assert "cannot read" in missing.output


def test_serving_the_embedded_default_creates_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert not settings.signing_key_file.exists()
    check_signing_key(settings)
    assert stat.S_IMODE(settings.signing_key_file.stat().st_mode) == 0o600
    settings.signing_key_file.chmod(0o644)
    with pytest.raises(typer.Exit) as refused:
        check_signing_key(settings)
    assert refused.value.exit_code == 2


def test_serving_another_database_does_not_create_a_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    check_signing_key(settings)
    assert not settings.signing_key_file.exists()
