"""Decisions on the record: a row each, and a row of its credential (migration 0012).

The receipt is a compact JWS: the protected header, the payload and the signature, each
base64url-encoded, joined by dots (RFC 7515 section 7.1). The decision's row keeps the header
and the signature as written, `decision_credential` the payload, the credential's JSON,
compressed as a Zstandard frame (RFC 8878; a 10,000-line credential: ~5.8 MB of JSON,
~7.8 MB as base64url, ~0.5 MB stored; ADR 0014); the receipt read back is the same characters.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import anyio.to_thread
import pybase64
import zstandard
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.persistence.driver import run_sql
from ecolabel_registry.persistence.hot import HotReads
from ecolabel_registry.persistence.tables import DecisionCredentialRow, DecisionRow
from ecolabel_registry.services.ports.decisions import StoredDecision

_INSERT = (
    "INSERT INTO decision (id, recorded_at, api_key_id, registry_revision, kind, line_count, "
    "kid, protected, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CREDENTIAL = "INSERT INTO decision_credential (decision_id, payload) VALUES (?, ?)"
_INSERT_BOTH = (  # one statement: the two rows in one transaction on an autocommit connection
    f"WITH added AS ({_INSERT} RETURNING id) "
    "INSERT INTO decision_credential (decision_id, payload) SELECT id, ? FROM added "
    "RETURNING decision_id"
)


class SqlDecisionRepository:
    """Adds and reads decisions in the session's transaction."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # One INSERT each on the session's DBAPI connection: a decision is written once and never
    # changed, so neither the ORM's unit of work nor SQLAlchemy's statement execution (most
    # of a one-question decision's time) has work to do.

    def add_credential(self, decision_id: str, payload: bytes) -> None:
        # Zstandard lets other threads run while it compresses: the signature, meanwhile.
        run_sql(self._s, _INSERT_CREDENTIAL, (decision_id, _stored(payload)))

    def add(self, decision: StoredDecision) -> None:
        run_sql(self._s, _INSERT, _values(decision))

    def get(self, decision_id: str) -> StoredDecision | None:
        found = self._s.execute(
            select(DecisionRow, DecisionCredentialRow.payload)
            .join(DecisionCredentialRow, DecisionCredentialRow.decision_id == DecisionRow.id)
            .where(DecisionRow.id == decision_id)
        ).one_or_none()
        if found is None:
            return None
        row, credential = found
        payload = _credential(credential)
        return StoredDecision(
            id=row.id,
            # SQLite gives back the UTC instant without its zone.
            recorded_at=row.recorded_at
            if row.recorded_at.tzinfo is not None
            else row.recorded_at.replace(tzinfo=dt.UTC),
            api_key_id=row.api_key_id,
            registry_revision=row.registry_revision,
            kind="lines" if row.kind == "lines" else "question",
            line_count=row.line_count,
            kid=row.kid,
            payload=payload,
            receipt=".".join((row.protected, _b64(payload), row.signature)),
        )


ZSTD_LEVEL = 3
"""Zstandard's default level: a 10,000-line credential in ~7 ms to ~0.5 MB (zlib at its
fastest level took ~20 ms to ~0.75 MB), decompressed in ~3 ms."""


_compressors = threading.local()


def _stored(payload: bytes) -> bytes:
    """A credential as `decision_credential` keeps it: one Zstandard frame, its size written
    in the frame's header. The compressor releases the interpreter's lock while it works
    (the receipt is signed meanwhile). A compressor serves one thread at a time: each thread
    keeps its own (making one costs more than compressing a one-question credential)."""
    compressor: zstandard.ZstdCompressor | None = getattr(_compressors, "zstd", None)
    if compressor is None:
        compressor = _compressors.zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor.compress(payload)


def _credential(stored: bytes) -> bytes:
    """The credential's JSON of `_stored`."""
    return zstandard.ZstdDecompressor().decompress(stored)


def _b64(data: bytes) -> str:
    return pybase64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _values(decision: StoredDecision) -> tuple[Any, ...]:
    receipt = decision.receipt
    return (
        decision.id,
        decision.recorded_at,
        decision.api_key_id,
        decision.registry_revision,
        decision.kind,
        decision.line_count,
        decision.kid,
        receipt[: receipt.index(".")],
        receipt[receipt.rindex(".") + 1 :],
    )


_SQLITE_WRITES = threading.Lock()


class DecisionStore:
    """Stores a decision from the event loop, committed when `add` returns.

    PostgreSQL: both rows in one statement in autocommit on the hot reads' asynchronous pool
    (one round trip, its own transaction; no thread, no session). SQLite, whose write lock
    may keep a writer waiting: in a session of its own on a worker thread, as
    `SqlDecisionRepository`.
    """

    def __init__(self, reads: HotReads, sessions: sessionmaker[Session]) -> None:
        self._reads = reads
        self._sessions = sessions

    async def add(self, decision: StoredDecision) -> None:
        if self._reads.asynchronous:
            sql = _INSERT_BOTH.replace("?", self._reads.dialect.mark)
            await self._reads.fetch(sql, (*_values(decision), _stored(decision.payload)))
        else:
            await anyio.to_thread.run_sync(self._add_in_session, decision)

    def _add_in_session(self, decision: StoredDecision) -> None:
        # One writer at a time in this process: the others wait their turn here rather than
        # in SQLite's busy handler, which sleeps in steps of up to 100 ms between tries.
        with _SQLITE_WRITES, self._sessions() as session:
            repository = SqlDecisionRepository(session)
            repository.add_credential(decision.id, decision.payload)
            repository.add(decision)
            session.commit()
