"""Running Alembic from the application, and refusing a database behind the migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

_PACKAGED = Path(__file__).resolve().parent.parent / "_migrations"
_SOURCE_TREE = Path(__file__).resolve().parents[3] / "migrations"


class SchemaBehind(RuntimeError):
    """The database is not at the migrations' head revision."""


def migrations_dir() -> Path:
    """Where the Alembic scripts are: inside an installed wheel, or the source tree."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at this project's migrations."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database behind `connection` up to `revision`."""
    command.upgrade(alembic_config(connection=connection), revision)


def downgrade(connection: Connection, revision: str = "base") -> None:
    """Migrate the database behind `connection` down to `revision`."""
    command.downgrade(alembic_config(connection=connection), revision)


def head_revision() -> str | None:
    """The newest revision of the migration scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_migrated(engine: Engine) -> None:
    """Raise SchemaBehind, saying what to run, unless the database is at head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaBehind(
            f"the database is at revision {current or 'none (empty)'} but the code needs "
            f"{head}; run `ecolabel-registry migrate` with the same ECOLABEL_DATABASE_URL"
        )
