"""Service settings, read from the environment with the ECOLABEL_ prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "ecolabel-registry.sqlite3"
DEFAULT_SIGNING_KEY_FILE = Path("var") / "signing-keys.json"


class Settings(BaseSettings):
    """Settings of one registry process; every field maps to `ECOLABEL_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="ECOLABEL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    public_reads: bool = Field(default=True, description="Whether reads need no API key.")
    api_docs: bool = Field(
        default=True,
        description="Serve the OpenAPI document and the interactive docs (/openapi.json, "
        "/docs, /redoc) to anyone; false: those paths answer 404.",
    )
    max_body_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1024, description="Largest request body accepted."
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest JSON body of a write (a scheme, a certificate, an agreement...).",
    )
    max_batch_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest body of POST /v1/equivalence/batch (10,000 lines take 1-5 MB).",
    )
    max_concurrent_exports: int = Field(
        default=4,
        ge=1,
        description="Certificate exports (?format=csv|jsonl) streamed at once per process; "
        "more answer 503 with Retry-After.",
    )
    export_stall_seconds: float = Field(
        default=30.0,
        gt=0,
        description="An export whose client takes no data for this long is cut off (its "
        "connection closed), which frees its slot.",
    )
    max_lines_at_once: int = Field(
        default=20_000,
        ge=1,
        description="Lines of batches (POST /v1/equivalence/batch) and multi-line decisions "
        "one process answers at once; a request past it waits its turn (first come, first "
        "served) up to lines_wait_seconds, then answers 503 with Retry-After. A request of "
        "more lines than this runs alone.",
    )
    lines_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a batch or decision waits for lines to be free before its 503.",
    )
    decision_lines_per_key_per_hour: int = Field(
        default=100_000,
        ge=0,
        description="Decision lines (a one-question decision is one line) an API key may ask "
        "for the record in an hour, per process; more answer 429 with Retry-After and record "
        "nothing. 0: no limit.",
    )
    max_concurrent_matrices: int = Field(
        default=2,
        ge=1,
        description="Recognition matrices (/recognition, /recognition.csv) not yet cached "
        "that one process works out at once; more answer 503 with Retry-After.",
    )
    page_cache_entries: int = Field(
        default=2000,
        ge=0,
        description="Rendered certificate pages (and their QR codes) kept per process, "
        "keyed by fact revision, certificate version, date and language; 0 keeps none.",
    )
    matrix_cache_entries: int = Field(
        default=16,
        ge=0,
        description="Recognition matrices kept per process (each page or CSV is up to a "
        "few MB), keyed by fact revision, date, filters and language; 0 keeps none.",
    )
    cors_origins: str = Field(
        default="",
        description="Origins allowed to call the API from a browser (CORS), comma-separated, "
        "e.g. https://example.org,https://app.example.org; * allows any; empty: none.",
    )
    db_pool_size: int = Field(default=10, ge=1)
    db_async_pool_size: int = Field(
        default=4,
        ge=0,
        description="PostgreSQL: asynchronous connections per process for the hot reads "
        "(equivalence questions, API key look-ups, one-question decisions, certificate "
        "searches; 0: one blocking connection on the event loop).",
    )
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    gc_young_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Served processes: allocations between collections of Python's youngest "
        "garbage generation (Python's default, 700, costs a 10,000-line batch ~10% in "
        "collections; 0 leaves the default).",
    )
    switch_interval_ms: float = Field(
        default=1.0,
        ge=0,
        description="Served processes: how long a thread may hold the GIL while another waits "
        "for it (Python's default is 5 ms, which a batch's reading thread waits at every "
        "hand-off; 0 leaves the default).",
    )
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        default="auto",
        description="Served processes: the event loop; auto: asyncio for one worker, uvloop "
        "for several. asyncio accepts every waiting connection at once (uvloop's libuv one a "
        "turn of the loop, so a burst of new connections waits a turn each); uvloop shares "
        "new connections fairly between workers, where one asyncio worker may take them all. "
        "asyncio serves one worker only (see docs/adr/0015).",
    )
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    db_lock_timeout_seconds: float = Field(
        default=5.0,
        ge=0,
        description="PostgreSQL: longest wait for a row or table lock before the request "
        "answers 409 (0: no limit).",
    )
    db_statement_timeout_seconds: float = Field(
        default=300.0,
        ge=0,
        description="PostgreSQL: longest one SQL statement may run before the request answers "
        "503 (0: no limit).",
    )
    db_idle_in_transaction_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="PostgreSQL: a session idle inside a transaction this long is ended by the "
        "server, which frees its connection and locks (0: no limit).",
    )
    check_migrations: bool = Field(
        default=True, description="Refuse to start on a database behind the migrations."
    )
    log_json: bool = Field(default=True, description="Structured JSON logs, one line an event.")
    log_level: str = Field(default="INFO")
    registry_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The registry's public base URL, without a trailing slash: the issuer of "
        "decision receipts and the start of each decision's URL.",
    )
    signing_key_file: Path = Field(
        default=DEFAULT_SIGNING_KEY_FILE,
        description="The file of the registry's private signing keys (JSON, mode 0600, shared "
        "by every server of the registry); `ecolabel-registry signing-key create` makes it.",
    )
    webhook_worker: bool = Field(
        default=True,
        description="`serve` runs the webhook worker in each served process; false when "
        "`ecolabel-registry deliver` runs apart (docs/changes.md).",
    )
    webhook_allow_private_addresses: bool = Field(
        default=False,
        description="Accept webhook URLs whose host is or resolves to a private, loopback, "
        "link-local or otherwise non-public address (tests, closed networks).",
    )
    webhook_allow_http: bool = Field(
        default=False, description="Accept http:// webhook URLs, not only https:// ones."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Longest one delivery attempt may take, connecting and answering included.",
    )
    webhook_concurrency: int = Field(
        default=16, ge=1, le=1000, description="Delivery attempts in flight at once per worker."
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often an idle worker looks for new changes."
    )
    webhook_disable_after_hours: float = Field(
        default=72.0,
        ge=24,
        description="A subscription whose every delivery has failed for this long is disabled "
        "(it says so, and why, in its GET).",
    )
    bench_endpoints: bool = Field(
        default=False, description="Mount /bench/trivial, the benchmarks' yardstick (bench/)."
    )

    @field_validator("registry_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        """`https://registry.example.org/` and `https://registry.example.org` are one URL."""
        return value.rstrip("/")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
