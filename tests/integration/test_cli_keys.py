"""The command line: migrate, seed and the key life cycle, against a database file of its own."""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ecolabel_registry.app import create_app
from ecolabel_registry.cli import app as cli
from ecolabel_registry.cli import served_app
from ecolabel_registry.seed.loader import reference_data
from ecolabel_registry.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("ECOLABEL_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_commands_refuse_a_database_that_is_not_migrated(database: str) -> None:
    result = runner.invoke(cli, ["keys", "list"])
    assert result.exit_code == 2
    assert "ecolabel-registry migrate" in result.output


def test_key_is_printed_once_works_and_stops_working_when_revoked(database: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(cli, ["keys", "create", "--role", "operator", "--name", "Secretariat"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("erk_")
    listed = runner.invoke(cli, ["keys", "list"])
    assert "Secretariat" in listed.stdout
    assert secret not in listed.stdout
    key_id = re.search(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", listed.stdout)
    assert key_id is not None, listed.stdout
    with TestClient(create_app(Settings(database_url=database))) as client:
        body = {"name": "ASEAN", "members": []}
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.put("/v1/economies/ASEAN", json=body, headers=headers).status_code == 201
        assert runner.invoke(cli, ["keys", "revoke", key_id.group()]).exit_code == 0
        assert client.put("/v1/economies/ASEAN", json=body, headers=headers).status_code == 401


def test_scheme_operator_key_needs_a_known_scheme(database: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(
        cli, ["keys", "create", "--role", "scheme_operator", "--name", "KEITI", "--scheme", "nope"]
    )
    assert result.exit_code == 1
    assert "unknown schemes: nope" in result.output


def test_seed_demo_loads_real_schemes_and_marks_invented_data(database: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    assert runner.invoke(cli, ["seed", "--demo"]).exit_code == 0, "seed --demo failed"
    again = runner.invoke(cli, ["seed", "--demo"])
    assert again.exit_code == 0
    with TestClient(create_app(Settings(database_url=database))) as client:
        eu = client.get("/v1/economies/EU").json()
        gb = next(m for m in eu["members"] if m["member"] == "GB")
        assert gb["valid_to"] == "2020-01-31"
        schemes = client.get("/v1/schemes", params={"limit": 1000}).json()["items"]
        assert len(schemes) >= 40
        agreements = client.get("/v1/agreements", params={"limit": 1000}).json()["items"]
        demo = [a for a in agreements if a["reference"].startswith("DEMO-")]
        assert demo
        assert all("Illustrative" in a["title"] for a in demo)
        answer = client.get(
            "/v1/equivalence",
            params={
                "scheme": "eu-ecolabel",
                "certificate": "DEMO/FR/044/017",
                "target": "KR",
                "on": "2025-03-01",
                "hs_code": "320810",
            },
        ).json()
        assert answer["level"] == "conditional"
        cooperation = client.get(
            "/v1/agreements", params={"limit": 1000, "purpose": "cooperation"}
        ).json()["items"]
        assert cooperation
        marked = {
            a["title"] for a in reference_data()["agreements"] if a.get("purpose") == "cooperation"
        }
        assert {a["title"] for a in cooperation} == marked
        # The EU Ecolabel is at home in the EEA, and every EU country is in the EEA.
        in_eu = client.get(
            "/v1/equivalence",
            params={
                "scheme": "eu-ecolabel",
                "certificate": "DEMO/FR/044/017",
                "target": "EU",
                "on": "2025-03-01",
            },
        ).json()
        assert in_eu["level"] == "native", in_eu
        listed = client.get("/v1/schemes", params={"economy": "FR", "on": "2025-03-01"}).json()
        assert {"eu-ecolabel", "nf-environnement"} <= {s["id"] for s in listed["items"]}


@pytest.mark.parametrize(("young", "interval_ms"), [(0, 0), (30_000, 0.5)])
def test_a_served_app_tunes_garbage_collection_and_thread_switches(
    database: str, young: int, interval_ms: float
) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    before, interval = gc.get_threshold(), sys.getswitchinterval()
    settings = Settings(
        database_url=database, gc_young_threshold=young, switch_interval_ms=interval_ms
    )
    with TestClient(create_app(settings)):  # an app not served: the runtime as it was
        assert gc.get_threshold() == before
        assert sys.getswitchinterval() == interval
    with TestClient(served_app(settings)):
        assert gc.get_threshold() == ((young or before[0]), *before[1:])
        assert sys.getswitchinterval() == pytest.approx(interval_ms / 1000 or interval)
        assert gc.get_freeze_count() > 0  # the warm cache is out of the collections' scans
    assert gc.get_threshold() == before
    assert sys.getswitchinterval() == interval


def test_key_creation_and_revocation_are_in_the_audit_trail(database: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    made = [
        runner.invoke(cli, ["keys", "create", "--role", "operator", "--name", name])
        for name in ("Auditor", "Leaver")
    ]
    assert all(m.exit_code == 0 for m in made), [m.output for m in made]
    auditor, leaver = (m.stdout.strip().splitlines()[-1] for m in made)
    with TestClient(create_app(Settings(database_url=database))) as client:
        headers = {"Authorization": f"Bearer {auditor}"}
        leaver_id = client.get("/v1/audit-events", headers=headers).json()["items"][1]["entity_id"]
        assert runner.invoke(cli, ["keys", "revoke", leaver_id]).exit_code == 0
        response = client.get(
            "/v1/audit-events", params={"entity_type": "api_key"}, headers=headers
        )
    items = response.json()["items"]
    assert [(e["operation"], e["after"]["name"]) for e in items] == [
        ("api_key.create", "Auditor"),
        ("api_key.create", "Leaver"),
        ("api_key.revoke", "Leaver"),
    ]
    assert {e["actor_name"] for e in items} == {"command line"}
    assert auditor not in response.text
    assert leaver not in response.text


@pytest.mark.parametrize(
    ("setting", "workers", "loop"),
    [
        (None, 1, "asyncio"),
        (None, 2, "uvloop"),
        ("uvloop", 1, "uvloop"),
        ("asyncio", 1, "asyncio"),
    ],
)
def test_serve_runs_on_the_event_loop_of_the_setting(
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    workers: int,
    loop: str,
) -> None:
    """By default one worker runs on asyncio, which accepts a burst of new connections at
    once; several run on uvloop, whose libuv accepts one a turn, so that they share them
    (docs/adr/0015-served-on-asyncio-not-uvloop.md)."""
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    if setting is not None:
        monkeypatch.setenv("ECOLABEL_EVENT_LOOP", setting)
    get_settings.cache_clear()
    ran: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **options: ran.update(options, app=app))
    result = runner.invoke(cli, ["serve", "--port", "8123", "--workers", str(workers)])
    assert result.exit_code == 0, result.output
    assert ran["loop"] == loop
    assert ran["app"] == "ecolabel_registry.cli.serve:served_app"
    assert (ran["port"], ran["workers"]) == (8123, workers)


def test_serve_refuses_several_workers_on_asyncio(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    monkeypatch.setenv("ECOLABEL_EVENT_LOOP", "asyncio")
    get_settings.cache_clear()
    ran: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_: ran.append(app))
    result = runner.invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "ECOLABEL_EVENT_LOOP=asyncio serves one worker" in result.output
    assert not ran


def test_serve_runs_several_workers_on_asyncio_where_uvloop_is_not_installed(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    monkeypatch.setattr(
        "ecolabel_registry.cli.serve.find_spec", lambda name: None if name == "uvloop" else 1
    )
    ran: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **options: ran.update(options, app=app))
    result = runner.invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert ran["loop"] == "asyncio"
