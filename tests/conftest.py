"""Test databases: one migrated database per run, one rolled-back transaction per test.

The engine is chosen by ECOLABEL_TEST_ENGINE (`sqlite`, the default, or `postgresql`). On
PostgreSQL each run creates its own database from ECOLABEL_TEST_POSTGRES_URL and drops it at
the end. Where no PostgreSQL server answers, those tests skip with the reason, unless
ECOLABEL_TEST_POSTGRES_REQUIRED=1 (as in CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.app import create_app
from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence import status_changes
from ecolabel_registry.persistence.engine import configure_sqlite_connection
from ecolabel_registry.persistence.migrate import upgrade
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository, SqlRegistry
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.services.signing import SigningKeyFile
from ecolabel_registry.settings import Settings

ENGINE = os.environ.get("ECOLABEL_TEST_ENGINE", "sqlite")
POSTGRES_URL = os.environ.get(
    "ECOLABEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POSTGRES_REQUIRED = os.environ.get("ECOLABEL_TEST_POSTGRES_REQUIRED") == "1"


def sqlite_test_engine(url: str) -> Engine:
    """A SQLite engine on which SAVEPOINT-based rollback works (the pysqlite workaround)."""
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        configure_sqlite_connection(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database for this run; its URL."""
    admin = create_engine(
        POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"ecolabel_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        message = f"no PostgreSQL server at {make_url(POSTGRES_URL).render_as_string()}: {exc.orig}"
        if POSTGRES_REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of the engine under test, for this run only."""
    if ENGINE == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.sqlite3'}"
    elif ENGINE == "postgresql":
        url = create_postgres_database()
        try:
            yield url
        finally:
            drop_postgres_database(url)
    else:  # pragma: no cover - a misconfigured run
        raise pytest.UsageError(f"ECOLABEL_TEST_ENGINE must be sqlite or postgresql, not {ENGINE}")


def make_test_engine(url: str) -> Engine:
    return sqlite_test_engine(url) if url.startswith("sqlite") else create_engine(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The run's database, migrated to head by Alembic."""
    engine = make_test_engine(database_url)
    with engine.begin() as conn:
        upgrade(conn)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection in a transaction that is rolled back after the test.

    Before the rollback, every certificate's `status_changes` must still be its status
    events (whatever wrote them during the test).
    """
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        if transaction.is_active:
            stale = stale_status_changes(conn)
            transaction.rollback()
            assert not stale, f"status_changes not kept with the status events: {stale}"


def stale_status_changes(conn: Connection) -> list[tuple[str, str]]:
    """Certificates whose `status_changes` differ from their events (none, if the test's
    transaction can still be read)."""
    postgres = conn.dialect.name == "postgresql"
    events = status_changes.aggregate(postgres, "c.id")
    differ = (
        f"CAST(c.status_changes AS jsonb) <> CAST({events} AS jsonb)"
        if postgres
        else f"json(c.status_changes) <> json({events})"
    )
    try:
        with conn.begin_nested():
            rows = conn.execute(text(f"SELECT scheme_id, number FROM certificate c WHERE {differ}"))
            return [(r[0], r[1]) for r in rows]
    except DBAPIError:  # a transaction the test left failed: nothing to read
        return []


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits are savepoints inside the test's transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def registry(session: Session) -> SqlRegistry:
    """Repositories for arranging data directly (services run as the command line)."""
    return SqlRegistry(session)


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's receipt signing key file (never the one `make run` keeps in var/)."""
    path = tmp_path_factory.mktemp("keys") / "signing-keys.json"
    SigningKeyFile(path).create()
    return path


@pytest.fixture
def settings(signing_key_file: Path) -> Settings:
    return Settings(
        database_url="sqlite://",
        check_migrations=False,
        max_body_bytes=1024 * 1024,
        signing_key_file=signing_key_file,
    )


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return create_app(settings, session_factory=session_factory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def make_key(
    session: Session,
    role: Role,
    *,
    name: str = "test key",
    schemes: tuple[str, ...] = (),
    body: str | None = None,
) -> dict[str, str]:
    """Headers with a new API key of the given role."""
    _, secret = ApiKeyService(SqlApiKeyRepository(session)).create(name, role, schemes, body)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def operator(session: Session) -> dict[str, str]:
    """Headers of a registry operator."""
    return make_key(session, Role.OPERATOR, name="test operator")


def here() -> Path:
    return Path(__file__).parent
