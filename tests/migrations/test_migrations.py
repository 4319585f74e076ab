"""The schema is made by Alembic alone: up, down and up again, with no drift from the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

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


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database of the engine under test."""
    if ENGINE == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        engine = make_engine(Settings(database_url=url))
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


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


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
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


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
