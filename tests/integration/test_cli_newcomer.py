"""What a newcomer meets at the command line: which database, mistakes named once, a quiet seed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ecolabel_registry.app import create_app
from ecolabel_registry.cli import app as cli
from ecolabel_registry.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "newcomer.sqlite3"
    monkeypatch.setenv("ECOLABEL_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def use_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("ECOLABEL_DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.mark.parametrize("command", [["keys", "list"], ["seed", "--demo"], ["serve"]])
def test_a_refused_database_is_named(database: Path, command: list[str]) -> None:
    result = runner.invoke(cli, command)
    assert result.exit_code == 2
    assert "ecolabel-registry migrate" in result.output
    assert f"database: SQLite file {database} (from ECOLABEL_DATABASE_URL)" in result.output


def test_an_unreachable_server_is_named_without_its_password(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 on the loopback address: nothing listens there, the connection is refused.
    use_url(monkeypatch, "postgresql+psycopg://registry:s3cret@127.0.0.1:1/ecolabel")
    result = runner.invoke(cli, ["keys", "list"])
    assert result.exit_code == 2
    assert "cannot open the database" in result.output
    assert "database: postgresql+psycopg://registry:***@127.0.0.1:1/ecolabel" in result.output
    assert "s3cret" not in result.output


def test_a_url_that_is_no_database_url_is_said_so(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_url(monkeypatch, "var/registry.sqlite3")
    result = runner.invoke(cli, ["keys", "list"])
    assert result.exit_code == 2
    assert "'var/registry.sqlite3' is not a database URL" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (
            ["--role", "certification_body"],
            "error: --certification-body: a certification body key names its body",
        ),
        (
            ["--role", "certification_body", "--certification-body", "nobody"],
            "error: --certification-body: unknown certification body 'nobody'",
        ),
        (
            ["--role", "operator", "--certification-body", "some-body"],
            "error: --certification-body: only certification body keys name a body",
        ),
        (
            ["--role", "scheme_operator"],
            "error: --scheme: a scheme operator key is bound to one or more schemes",
        ),
    ],
)
def test_a_keys_create_mistake_is_printed_once_naming_the_flag(
    database: Path, options: list[str], line: str
) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(cli, ["keys", "create", "--name", "Someone", *options])
    assert result.exit_code == 1
    assert result.output.splitlines() == [line]


def test_seed_run_twice_is_one_quiet_line_and_adds_nothing(database: Path) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    first = runner.invoke(cli, ["seed", "--demo"])
    assert first.exit_code == 0, first.output
    assert len(first.output.splitlines()) == 1, first.output
    assert first.output.startswith("seed --demo: added ")
    with TestClient(create_app(Settings(database_url=f"sqlite:///{database}"))) as client:
        before = client.get("/v1/schemes", params={"limit": 1000}).json()["items"]
        agreements = client.get("/v1/agreements", params={"limit": 1000}).json()["items"]
    again = runner.invoke(cli, ["seed", "--demo"])
    assert again.exit_code == 0, again.output
    assert len(again.output.splitlines()) == 1, again.output
    assert again.output.startswith("seed --demo: nothing new to add; already there: ")
    assert "skipped" not in again.output
    with TestClient(create_app(Settings(database_url=f"sqlite:///{database}"))) as client:
        assert client.get("/v1/schemes", params={"limit": 1000}).json()["items"] == before
        assert client.get("/v1/agreements", params={"limit": 1000}).json()["items"] == agreements


def test_make_run_serves_on_the_port_given() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[2]
    # -n prints the commands without running any of them.
    plan = subprocess.run(
        [make, "-n", "--no-print-directory", "run", "PORT=8123"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    serve = [line for line in plan.splitlines() if "ecolabel-registry serve" in line]
    assert serve, plan
    assert serve[-1].endswith("--port 8123"), plan
