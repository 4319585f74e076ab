"""The command line's certificate import: its summary, its JSON outcome and its exit codes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ecolabel_registry.cli import app as cli
from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import Coverage, ProductCategory, Scheme, SchemeType
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.services.schemes import SchemeService
from ecolabel_registry.settings import get_settings

runner = CliRunner()
HEADER = "number,category_code,holder_name,holder_economy,product_name,hs_codes,valid_from,valid_to"
GOOD = f"{HEADER}\nC-1,paints,Holder,KR,Paint,320810,2023-01-01,2026-12-31\n"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("ECOLABEL_DATABASE_URL", url)
    get_settings.cache_clear()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    engine = create_engine(url)
    with Session(engine) as session:
        schemes = SchemeService(SqlRegistry(session))
        schemes.create(
            SYSTEM, Scheme("cli-label", "CLI", "op", SchemeType.ISO14024, ("KR",), Coverage.PARTIAL)
        )
        schemes.create_category(
            SYSTEM,
            ProductCategory(
                "cli-label", "paints", "Paints", "1", dt.date(2015, 1, 1), None, ("3208",)
            ),
        )
        session.commit()
    engine.dispose()
    yield url
    get_settings.cache_clear()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "certificates.csv"
    path.write_text(text, "utf-8")
    return path


def test_json_outcome_counts_and_times_each_phase(database: str, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    args = ["import", "certificates", str(path), "--scheme", "cli-label", "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (outcome["created"], outcome["updated"], outcome["unchanged"]) == (1, 0, 0)
    assert list(outcome["phases"]) == ["reading", "comparing", "writing", "committing"]
    again = json.loads(runner.invoke(cli, args).stdout.strip().splitlines()[-1])
    assert (again["created"], again["unchanged"]) == (0, 1)


def test_the_table_summary_names_the_phases(database: str, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = runner.invoke(cli, ["import", "certificates", str(path), "--scheme", "cli-label"])
    assert result.exit_code == 0, result.output
    assert "writing" in result.stderr
    assert "created" in result.stderr


def test_a_rejected_file_exits_1_and_says_how_many_rows_were_bad(
    database: str, tmp_path: Path
) -> None:
    path = write(tmp_path, GOOD + "C-2,paints,Holder,XX,Paint,320810,2023-01-01,2026-12-31\n")
    args = ["import", "certificates", str(path), "--scheme", "cli-label", "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "rejected": 1,
        "rows": 2,
        "error_count": 1,
    }
    table = runner.invoke(cli, args[:-1])
    assert table.exit_code == 1
    assert "row 2: holder_economy: unknown economy 'XX'" in table.stderr


def test_a_untp_dcc_export_imports_into_another_scheme_as_the_same_certificate(
    database: str, tmp_path: Path
) -> None:
    engine = create_engine(database)
    with Session(engine) as session:
        schemes = SchemeService(SqlRegistry(session))
        schemes.create(SYSTEM, Scheme("other-label", "Other", "op", SchemeType.ISO14024, ("KR",)))
        schemes.create_category(
            SYSTEM,
            ProductCategory(
                "other-label", "paints", "Paints", "1", dt.date(2015, 1, 1), None, ("3208",)
            ),
        )
        session.commit()
    engine.dispose()
    imported = runner.invoke(
        cli, ["import", "certificates", str(write(tmp_path, GOOD)), "--scheme", "cli-label"]
    )
    assert imported.exit_code == 0, imported.output
    dcc = tmp_path / "certificates.dcc.jsonl"
    args = ["export", "certificates", "--scheme", "cli-label", "--format", "untp-dcc"]
    exported = runner.invoke(cli, [*args, "--output", str(dcc)])
    assert exported.exit_code == 0, exported.output
    [credential] = [json.loads(line) for line in dcc.read_text("utf-8").splitlines()]
    assert "DigitalConformityCredential" in credential["type"]
    assert credential["credentialSubject"]["scope"]["name"] == "CLI"

    args = ["import", "certificates", str(dcc), "--scheme", "other-label", "--format", "untp-dcc"]
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["created"] == 1

    def jsonl(scheme: str) -> str:
        out = runner.invoke(
            cli, ["export", "certificates", "--scheme", scheme, "--format", "jsonl"]
        )
        assert out.exit_code == 0, out.output
        return out.stdout

    assert jsonl("other-label") == jsonl("cli-label")
    assert '"number": "C-1"' in jsonl("other-label")


def test_an_import_while_another_writer_holds_the_database_says_so_in_a_line(
    database: str, tmp_path: Path
) -> None:
    path = write(tmp_path, GOOD)
    holder = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer, holding SQLite's write lock
        result = runner.invoke(cli, ["import", "certificates", str(path), "--scheme", "cli-label"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1, result.output
    assert "another write to the registry was in progress" in result.output
    assert "nothing was written" in result.output
    assert "Traceback" not in result.output
    # Nothing was written: the same import succeeds once the other writer is gone.
    again = runner.invoke(cli, ["import", "certificates", str(path), "--scheme", "cli-label"])
    assert again.exit_code == 0, again.output
    assert "created" in again.stderr
