"""The schema is made by Alembic alone: up, down and up again, with no drift from the models."""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zstandard
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

from ecolabel_registry.persistence import search
from ecolabel_registry.persistence.engine import make_engine
from ecolabel_registry.persistence.migrate import (
    SchemaBehind,
    downgrade,
    ensure_migrated,
    head_revision,
    upgrade,
)
from ecolabel_registry.persistence.tables import Base
from ecolabel_registry.settings import Settings
from tests.conftest import ENGINE, create_postgres_database, drop_postgres_database


@contextmanager
def _new_empty_engine(tmp_path: Path, name: str) -> Iterator[Engine]:
    if ENGINE == "sqlite":
        engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / name}.sqlite3"))
        yield engine
        engine.dispose()
    else:
        url = create_postgres_database()
        engine = make_engine(Settings(database_url=url))
        try:
            yield engine
        finally:
            engine.dispose()
            drop_postgres_database(url)


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database of the engine under test."""
    with _new_empty_engine(tmp_path, "migrations") as engine:
        yield engine


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"} - search.NOT_MODELS


def test_upgrade_downgrade_upgrade_is_clean(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        upgrade(conn)
    assert _tables(empty_engine) == set(Base.metadata.tables)
    with empty_engine.begin() as conn:
        downgrade(conn)
    assert _tables(empty_engine) == set()
    with empty_engine.begin() as conn:
        upgrade(conn)
    assert _tables(empty_engine) == set(Base.metadata.tables)


def test_models_and_migrations_do_not_drift(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        upgrade(conn)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": search.include_name}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def _model_indexes(engine: Engine) -> dict[str, str]:
    """The models' indexes in the database, each as the database writes its definition
    (the columns, the method, a partial index's condition), which `compare_metadata` does
    not compare."""
    names = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        else:
            query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        found = {
            str(name): " ".join(str(sql).replace('"', "").split())
            for name, sql in conn.execute(text(query))
        }
    return {name: sql for name, sql in found.items() if name in names}


def test_models_and_migrations_make_the_same_indexes(empty_engine: Engine, tmp_path: Path) -> None:
    with empty_engine.begin() as conn:
        upgrade(conn)
    with _new_empty_engine(tmp_path, "models") as models:
        Base.metadata.create_all(models)
        made = _model_indexes(models)
    assert made
    assert _model_indexes(empty_engine) == made


def test_every_iso_country_is_an_economy_after_migrating(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        upgrade(conn)
    with empty_engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM economy WHERE kind = 'country'")
        ).scalar_one()
        germany = conn.execute(text("SELECT name FROM economy WHERE code = 'DE'")).scalar_one()
    assert count >= 249
    assert germany == "Germany"


def test_a_database_behind_the_migrations_is_refused_with_what_to_run(empty_engine: Engine) -> None:
    with pytest.raises(SchemaBehind, match="ecolabel-registry migrate"):
        ensure_migrated(empty_engine)
    with empty_engine.begin() as conn:
        upgrade(conn)
    ensure_migrated(empty_engine)
    assert head_revision() is not None


def test_upgrading_copies_each_certificates_events_to_its_row(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        upgrade(conn, "0002")
    with empty_engine.begin() as conn:
        _certificates_at_0002(conn)
        upgrade(conn)
    with empty_engine.connect() as conn:
        rows = dict(
            conn.execute(text("SELECT number, status_changes FROM certificate")).tuples().all()
        )
    assert {number: json.loads(changes) for number, changes in rows.items()} == {
        # In recording order (the ids), not by date.
        "C-1": [["active", "2024-01-01"], ["withdrawn", "2024-06-01"], ["suspended", "2024-03-01"]],
        "C-2": [["active", "2024-02-01"]],
        "C-3": [],
    }


def _certificates_at_0002(conn: Connection) -> None:
    """Three certificates as revision 0002 stored them: events only in their own table."""
    conn.execute(
        text(
            "INSERT INTO scheme (id, name, operator, type, certificate_coverage, version) "
            "VALUES ('s', 'S', 'Op', 'iso14024', 'partial', 1)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO product_category (scheme_id, code, name, criteria_version, valid_from, "
            "hs_codes, criteria, version) VALUES ('s', 'c', 'C', '1', '2020-01-01', '[]', "
            "'[]', 1)"
        )
    )
    for n in (1, 2, 3):
        conn.execute(
            text(
                "INSERT INTO certificate (id, scheme_id, number, category_code, holder_name, "
                "holder_economy, product_name, gtins, hs_codes, valid_from, valid_to, version) "
                "VALUES (:n, 's', :number, 'c', 'H', 'DE', 'P', '[]', '[]', '2024-01-01', "
                "'2026-01-01', 1)"
            ),
            {"n": n, "number": f"C-{n}"},
        )
    for event_id, certificate_id, status, day in (
        (1, 1, "active", "2024-01-01"),
        (2, 2, "active", "2024-02-01"),
        (3, 1, "withdrawn", "2024-06-01"),
        (4, 1, "suspended", "2024-03-01"),
    ):
        conn.execute(
            text(
                "INSERT INTO certificate_status_event (id, certificate_id, status, "
                "effective_date, reason) VALUES (:id, :c, :s, :d, '')"
            ),
            {"id": event_id, "c": certificate_id, "s": status, "d": dt.date.fromisoformat(day)},
        )


def test_upgrading_stores_every_gtin_in_its_14_digit_form(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        upgrade(conn, "0003")
    with empty_engine.begin() as conn:
        _certificates_at_0002(conn)
        stored = {
            1: ["4006381333931", "04006381333931", "96385074"],
            # Not a GTIN (check digit): kept as it was, next to a valid one that is normalized.
            2: ["4006381333932", "5901234123457"],
            3: ["00000096385074"],
        }
        for certificate_id, gtins in stored.items():
            conn.execute(
                text("UPDATE certificate SET gtins = :g WHERE id = :id"),
                {"g": json.dumps(gtins), "id": certificate_id},
            )
            for gtin in dict.fromkeys(gtins):
                conn.execute(
                    text("INSERT INTO certificate_gtin (certificate_id, gtin) VALUES (:id, :g)"),
                    {"id": certificate_id, "g": gtin},
                )
        upgrade(conn)
    with empty_engine.connect() as conn:
        stored_now = {
            number: json.loads(value) if isinstance(value, str) else value
            for number, value in conn.execute(text("SELECT number, gtins FROM certificate"))
        }
        index = sorted(
            conn.execute(text("SELECT certificate_id, gtin FROM certificate_gtin")).tuples()
        )
    assert stored_now == {
        "C-1": ["04006381333931", "00000096385074"],
        "C-2": ["4006381333932", "05901234123457"],
        "C-3": ["00000096385074"],
    }
    assert index == [
        (1, "00000096385074"),
        (1, "04006381333931"),
        (2, "05901234123457"),
        (2, "4006381333932"),
        (3, "00000096385074"),
    ]


def test_a_stored_receipt_is_split_into_its_parts_and_joined_again_on_downgrade(
    empty_engine: Engine,
) -> None:
    credential = '{"issuer":"https://registry.example.org","credentialSubject":{"id":"é"}}'
    payload = base64.urlsafe_b64encode(credential.encode()).rstrip(b"=").decode()
    receipt = f"eyJhbGciOiJFUzI1NiJ9.{payload}.c2lnbmF0dXJl"
    with empty_engine.begin() as conn:
        upgrade(conn, "0011")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_key (id, name, role, scheme_ids, key_hash) "
                "VALUES ('k', 'customs', 'operator', '[]', 'h')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO decision (id, recorded_at, api_key_id, registry_revision, kind, "
                "line_count, kid, receipt) VALUES ('d', '2026-11-29T12:00:00Z', 'k', 7, "
                "'question', 1, 'kid', :receipt)"
            ),
            {"receipt": receipt},
        )
        upgrade(conn, "0012")
    parts = text(
        "SELECT protected, payload, signature FROM decision "
        "JOIN decision_credential ON decision_id = id"
    )
    with empty_engine.connect() as conn:
        row = conn.execute(parts).one()
    assert (row.protected, row.signature) == ("eyJhbGciOiJFUzI1NiJ9", "c2lnbmF0dXJl")
    assert zlib.decompress(row.payload).decode() == credential
    with empty_engine.begin() as conn:
        upgrade(conn)  # 0013: the credential compressed again, as a Zstandard frame
    with empty_engine.connect() as conn:
        row = conn.execute(parts).one()
    assert (row.protected, row.signature) == ("eyJhbGciOiJFUzI1NiJ9", "c2lnbmF0dXJl")
    assert zstandard.ZstdDecompressor().decompress(row.payload).decode() == credential
    with empty_engine.begin() as conn:
        downgrade(conn, "0011")
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT receipt FROM decision")).scalar_one() == receipt
