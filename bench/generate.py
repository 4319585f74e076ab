"""Generate a realistic registry of a given size, deterministic from a seed.

    python bench/generate.py --size small --engine postgresql     # 10k certificates
    python bench/generate.py --size large --engine postgresql     # 1M certificates
    python bench/generate.py --size small --engine sqlite

Economies are the ISO countries `migrate` creates, plus ~10 groups with membership histories.
Schemes, product categories and agreements (bilateral and multilateral, mutual and
unilateral, with scope amendments, agreement and party suspensions, a few chaining-allowed)
go through the services layer with the SYSTEM actor in one transaction. Certificates with
status histories are written as one CSV file per scheme and loaded with the project's own
bulk path (the import service that `ecolabel-registry import certificates` runs), one
transaction per file. The database is `bench_<size>_postgresql` on PostgreSQL (created
fresh; `_<tag>` appended when ECOLABEL_BENCH_DB_TAG is set, to keep apart the databases of
several checkouts on one server) or `var/bench/<size>_sqlite.sqlite3`; the files and
`manifest.json` (the URL and a sample of certificate numbers for the load generators) go
to `var/bench/<size>_<engine>/`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pycountry
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.errors import DomainError
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Chaining,
    Condition,
    Coverage,
    Direction,
    Level,
    Membership,
    ProductCategory,
    Scheme,
    SchemeType,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.persistence.bulk import SqlCertificateBulkStore
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.services.agreements import AgreementService
from ecolabel_registry.services.certificates import CertificateService
from ecolabel_registry.services.economies import EconomyService
from ecolabel_registry.services.imports import CertificateImportService, ImportFormat
from ecolabel_registry.services.schemes import SchemeService

ROOT = Path(__file__).resolve().parent.parent
CORRECTIONS_A_TRANSACTION = 10
TAG = os.environ.get("ECOLABEL_BENCH_DB_TAG", "")
NAME_SUFFIX = f"_{TAG}" if TAG else ""
"""Appended to the registry's name (database and folder): runs of several checkouts of the
project on one PostgreSQL server do not share (and drop) each other's database."""
ADMIN_URL = os.environ.get(
    "ECOLABEL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class Size:
    certificates: int
    groups: int
    schemes: int
    categories_per_scheme: int
    agreements: int
    certified_schemes: int  # schemes that hold certificates in this registry
    corrections: int  # recorded one by one after the load (record_corrections)


SIZES = {
    "smoke": Size(2_000, 4, 60, 4, 150, 6, 1_000),
    "small": Size(10_000, 10, 500, 10, 5_000, 40, 10_000),
    "large": Size(1_000_000, 10, 500, 10, 5_000, 40, 10_000),
}
HS_HEADINGS = (
    "3208", "3209", "3402", "4011", "4418", "4802", "4818", "6109", "6302", "8415",
    "8418", "8450", "8471", "8528", "9401", "9403", "9405", "3924", "4819", "8516",
)  # fmt: skip
HEADER = (
    "number",
    "category_code",
    "holder_name",
    "holder_economy",
    "product_name",
    "brand",
    "model",
    "gtins",
    "hs_codes",
    "valid_from",
    "valid_to",
    "status_events",
)
START = dt.date(2015, 1, 1)
LEVELS = (Level.FULL, Level.FULL, Level.CONDITIONAL, Level.ASSESSMENT_RESULTS)


def day(rng: random.Random, span: int, start: dt.date = START) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(span))


def countries() -> list[str]:
    return sorted(c.alpha_2 for c in pycountry.countries)


def small_facts(session: Session, size: Size, rng: random.Random) -> dict[str, list[str]]:
    """Groups, schemes, categories and agreements through the services; one transaction."""
    registry = SqlRegistry(session)
    codes = countries()
    economies = EconomyService(registry)
    for g in range(size.groups):
        members = []
        for code in rng.sample(codes, rng.randrange(5, 28)):
            joined = day(rng, 2000, dt.date(2000, 1, 1))
            left = None
            if rng.random() < 0.15:  # some left, and some of those joined again
                left = joined + dt.timedelta(days=365 + rng.randrange(3000))
                members.append(Membership(code, joined, left))
                if rng.random() < 0.3:
                    back = left + dt.timedelta(days=200 + rng.randrange(500))
                    members.append(Membership(code, back, None))
                continue
            members.append(Membership(code, joined, left))
        economies.put_group(SYSTEM, f"BG{g:02d}", f"Bench group {g} (generated)", members, None)
    schemes = SchemeService(registry)
    categories: dict[str, list[str]] = {}
    scheme_ids = [f"bench-{i:04d}" for i in range(size.schemes)]
    for i, scheme_id in enumerate(scheme_ids):
        homes = tuple(sorted(rng.sample(codes, 1 if rng.random() < 0.9 else 3)))
        schemes.create(
            SYSTEM,
            Scheme(
                scheme_id,
                f"Bench scheme {i} (generated)",
                "Bench operator (generated)",
                rng.choice(list(SchemeType)),
                homes,
                Coverage.COMPLETE if rng.random() < 0.3 else Coverage.PARTIAL,
            ),
        )
        categories[scheme_id] = []
        for k, heading in enumerate(rng.sample(HS_HEADINGS, size.categories_per_scheme)):
            code = f"cat-{k:02d}"
            schemes.create_category(
                SYSTEM,
                ProductCategory(
                    scheme_id,
                    code,
                    f"Category {heading} (generated)",
                    str(1 + rng.randrange(4)),
                    dt.date(2010, 1, 1),
                    None,
                    (heading,),
                ),
            )
            categories[scheme_id].append(code)
    agreements = AgreementService(registry)
    certified = scheme_ids[: size.certified_schemes]
    for a in range(size.agreements):
        # Most agreements involve a certified scheme, so that questions find routes.
        first = rng.choice(certified) if rng.random() < 0.7 else rng.choice(scheme_ids)
        multilateral = rng.random() < 0.1
        others = [s for s in rng.sample(scheme_ids, 6) if s != first]
        parties = [first, *others[: rng.randrange(2, 5) if multilateral else 1]]
        unilateral = not multilateral and rng.random() < 0.3
        effective = day(rng, 2500)
        entries = []
        for recognized in parties[: 3 if multilateral else 2]:
            level = rng.choice(
                (Level.FULL, Level.FULL, Level.CONDITIONAL, Level.ASSESSMENT_RESULTS)
            )
            entries.append(
                ScopeEntry(
                    "",
                    recognized,
                    level,
                    effective,
                    category_code=rng.choice(categories[recognized])
                    if rng.random() < 0.3
                    else None,
                    conditions=(Condition("additional factory audit (generated)"),)
                    if level is Level.CONDITIONAL
                    else (),
                )
            )
            if unilateral:
                break
        saved = agreements.create(
            SYSTEM,
            Agreement(
                id="",
                title=f"Bench agreement {a} (generated)",
                reference=f"BENCH-MRA-{a:05d}",
                signed_on=effective - dt.timedelta(days=30),
                direction=Direction.UNILATERAL if unilateral else Direction.MUTUAL,
                chaining=Chaining.ALLOWED if rng.random() < 0.02 else Chaining.NOT_ALLOWED,
                effective_from=effective,
                effective_to=None,
                parties=tuple(AgreementParty(p) for p in parties),
                scope_entries=tuple(entries),
                recognizing_scheme_id=parties[1] if unilateral else None,
                recognized_scheme_id=parties[0] if unilateral else None,
            ),
        )
        dice = rng.random()
        later = effective + dt.timedelta(days=100 + rng.randrange(1500))
        if dice < 0.15:  # scope amendment: an entry ended, a narrower one added
            entry = saved.scope_entries[0]
            agreements.end_scope_entry(SYSTEM, saved.id, entry.id, later, 1)
            agreements.add_scope_entry(
                SYSTEM,
                saved.id,
                ScopeEntry(
                    "",
                    entry.recognized_scheme_id,
                    Level.FULL,
                    later + dt.timedelta(days=1),
                    hs_prefixes=(rng.choice(HS_HEADINGS),),
                ),
            )
        elif dice < 0.22:  # suspended, sometimes back in force
            agreements.add_status_event(
                SYSTEM, saved.id, StatusEvent("suspended", later, "review (generated)")
            )
            if rng.random() < 0.5:
                agreements.add_status_event(
                    SYSTEM,
                    saved.id,
                    StatusEvent("in_force", later + dt.timedelta(days=90), "review closed"),
                )
        elif dice < 0.27:  # one party suspended
            agreements.add_party_status_event(
                SYSTEM,
                saved.id,
                parties[-1],
                StatusEvent("suspended", later, "accreditation lapsed (generated)"),
            )
    return categories


def write_certificates(
    folder: Path, size: Size, categories: dict[str, list[str]], rng: random.Random
) -> tuple[list[tuple[str, Path, int]], list[list[str]]]:
    """One CSV per certified scheme (a skewed share each); a sample of numbers to ask about."""
    certified = list(categories)[: size.certified_schemes]
    weights = [1 / (i + 1) for i in range(len(certified))]
    total = sum(weights)
    counts = [int(size.certificates * w / total) for w in weights]
    counts[0] += size.certificates - sum(counts)
    codes = countries()
    files, sample = [], []
    for scheme_id, count in zip(certified, counts, strict=True):
        path = folder / f"{scheme_id}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(HEADER)
            for n in range(count):
                number = f"{scheme_id.upper()}-{n:07d}"
                valid_from = day(rng, 3000)
                valid_to = valid_from + dt.timedelta(days=365 * (2 + rng.randrange(4)))
                events = [
                    {"status": "active", "effective_date": str(valid_from), "reason": "issued"}
                ]
                dice = rng.random()
                if dice < 0.12:
                    when = valid_from + dt.timedelta(days=30 + rng.randrange(300))
                    events.append(
                        {"status": "suspended", "effective_date": str(when), "reason": "audit"}
                    )
                    if dice < 0.06:
                        back = when + dt.timedelta(days=20 + rng.randrange(100))
                        events.append(
                            {"status": "active", "effective_date": str(back), "reason": "fixed"}
                        )
                    elif dice < 0.09:
                        gone = when + dt.timedelta(days=60)
                        events.append(
                            {"status": "withdrawn", "effective_date": str(gone), "reason": "gone"}
                        )
                writer.writerow(
                    (
                        number,
                        rng.choice(categories[scheme_id]),
                        f"Holder {rng.randrange(50_000):05d} (generated)",
                        rng.choice(codes),
                        f"Product {n} (generated)",
                        f"Brand {rng.randrange(2000)}",
                        "",
                        "",
                        "",
                        valid_from.isoformat(),
                        valid_to.isoformat(),
                        json.dumps(events, separators=(",", ":")),
                    )
                )
                if rng.random() < 20_000 / size.certificates:
                    sample.append([scheme_id, number])
        files.append((scheme_id, path, count))
    return files, sample


def load_certificates(url: str, files: list[tuple[str, Path, int]]) -> None:
    engine = create_engine(url)
    try:
        for scheme_id, path, _count in files:
            with Session(engine) as session:
                bulk = SqlCertificateBulkStore(session, 100_000)
                service = CertificateImportService(SqlRegistry(session), bulk)
                with path.open("rb") as f:
                    chunks = iter(lambda: f.read(1 << 20), b"")
                    service.import_certificates(SYSTEM, scheme_id, chunks, ImportFormat.CSV)
                session.commit()
        # Fresh statistics, as autovacuum would gather them (it may be off, as on the CI box).
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    finally:
        engine.dispose()


def record_corrections(
    url: str, size: Size, sample: list[list[str]], rng: random.Random, count: int
) -> int:
    """`count` corrections recorded over time, so the registry has a history to
    be asked about as recorded (`as_recorded`): mostly backdated certificate status events
    (suspensions, reinstatements, now and then a withdrawal) and certificate corrections,
    and one in two hundred a change of the facts (an agreement or party suspension, a
    scheme's coverage, a category's validity). A refused one (a status after a withdrawal)
    is skipped and another drawn, until `count` are recorded (or twice as many were tried).
    CORRECTIONS_A_TRANSACTION go together in one transaction (one revision): recorded one by
    one on a busy machine they took an hour. The number recorded."""
    engine = create_engine(url)
    recorded = tried = 0
    try:
        while recorded < count and tried < 2 * count:
            with Session(engine) as session, session.begin():
                registry = SqlRegistry(session)
                for _ in range(min(CORRECTIONS_A_TRANSACTION, count - recorded)):
                    scheme_id, number = rng.choice(sample)
                    tried += 1
                    try:  # a refused correction is refused before it writes anything
                        _correction(registry, size, rng, tried - 1, scheme_id, number)
                    except DomainError:
                        continue
                    recorded += 1
    finally:
        engine.dispose()
    return recorded


def _correction(
    registry: SqlRegistry, size: Size, rng: random.Random, n: int, scheme_id: str, number: str
) -> None:
    if n % 200 == 199:
        _fact_correction(registry, size, rng)
    elif rng.random() < 0.85:
        status = rng.choice(("suspended", "suspended", "active", "withdrawn"))
        on = day(rng, 1200, dt.date(2022, 1, 1))
        CertificateService(registry).add_status_event(
            SYSTEM, scheme_id, number, StatusEvent(status, on, "correction (generated)")
        )
    else:
        certificates = CertificateService(registry)
        current = certificates.get(scheme_id, number)
        changes = rng.choice(
            (
                {"holder_name": f"{current.holder_name} (corrected)"[:300]},
                {"valid_to": current.valid_to - dt.timedelta(days=90)},
            )
        )
        certificates.update(SYSTEM, scheme_id, number, changes, current.version)


def _fact_correction(registry: SqlRegistry, size: Size, rng: random.Random) -> None:
    agreements = AgreementService(registry)
    schemes = SchemeService(registry)
    scheme_id = f"bench-{rng.randrange(size.schemes):04d}"
    dice = rng.random()
    if dice < 0.5:
        found = agreements.find(None, 1, scheme=scheme_id)
        if found.items:
            agreement = found.items[0]
            party = agreement.parties[-1].scheme_id
            agreements.add_party_status_event(
                SYSTEM,
                agreement.id,
                party,
                StatusEvent(
                    rng.choice(("suspended", "active")),
                    day(rng, 1200, dt.date(2022, 1, 1)),
                    "correction (generated)",
                ),
            )
    elif dice < 0.75:
        scheme = schemes.get(scheme_id)
        coverage = (
            Coverage.PARTIAL
            if scheme.certificate_coverage is Coverage.COMPLETE
            else Coverage.COMPLETE
        )
        schemes.update(SYSTEM, scheme_id, {"certificate_coverage": coverage}, scheme.version)
    else:
        category = schemes.get_category(scheme_id, "cat-00")
        valid_to = None if category.valid_to is not None else dt.date(2026, 12, 31)
        schemes.update_category(
            SYSTEM, scheme_id, "cat-00", {"valid_to": valid_to}, category.version
        )


def database(engine_name: str, name: str, folder: Path) -> str:
    if engine_name == "sqlite":
        path = folder.parent / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    db = f"bench_{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=db).render_as_string(hide_password=False)


def generate(size_name: str, engine_name: str, seed: int, certificates: int | None) -> dict:
    size = SIZES[size_name]
    if certificates is not None:
        size = Size(certificates, *list(vars(size).values())[1:])
    name = f"{size_name}_{engine_name}{NAME_SUFFIX}"
    folder = ROOT / "var" / "bench" / name
    folder.mkdir(parents=True, exist_ok=True)
    url = database(engine_name, name, folder)
    env = {**os.environ, "ECOLABEL_DATABASE_URL": url, "ECOLABEL_LOG_JSON": "false"}
    cli = str(Path(sys.executable).with_name("ecolabel-registry"))
    subprocess.run([cli, "migrate"], env=env, check=True, capture_output=True)
    rng = random.Random(seed)
    timings = {}
    started = time.perf_counter()
    engine = create_engine(url)
    with Session(engine) as session:
        categories = small_facts(session, size, rng)
        session.commit()
    engine.dispose()
    timings["small_facts_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    files, sample = write_certificates(folder, size, categories, rng)
    timings["write_files_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    load_certificates(url, files)
    timings["import_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    corrections = record_corrections(url, size, sample, rng, size.corrections)
    timings["corrections_seconds"] = round(time.perf_counter() - started, 1)
    for _scheme, path, _count in files:
        path.unlink()
    targets = sorted({*countries(), *(f"BG{g:02d}" for g in range(size.groups))})
    manifest = {
        "size": size_name,
        "engine": engine_name,
        "seed": seed,
        "database_url": url,
        "certificates": size.certificates,
        "schemes": size.schemes,
        "agreements": size.agreements,
        "corrections": corrections,
        "sample": sample,
        "targets": targets,
        **timings,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest) + "\n", "utf-8")
    return manifest


def manifest_path(size_name: str, engine_name: str) -> Path:
    return ROOT / "var" / "bench" / f"{size_name}_{engine_name}{NAME_SUFFIX}" / "manifest.json"


def ensure(size_name: str, engine_name: str, seed: int = 6, fresh: bool = False) -> dict:
    """The registry of this size, generated when it does not exist yet (or when `fresh`)."""
    path = manifest_path(size_name, engine_name)
    if path.exists() and not fresh:
        manifest: dict = json.loads(path.read_text("utf-8"))
        if manifest.get("seed") == seed:
            return manifest
    return generate(size_name, engine_name, seed, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--certificates", type=int, help="Override the size's certificate count.")
    parser.add_argument(
        "--reuse", action="store_true", help="Keep a registry already generated with this seed."
    )
    args = parser.parse_args()
    if args.reuse and args.certificates is None:
        manifest = ensure(args.size, args.engine, args.seed)
    else:
        manifest = generate(args.size, args.engine, args.seed, args.certificates)
    shown = {k: v for k, v in manifest.items() if k not in ("sample", "targets")}
    print(json.dumps(shown, indent=2))


if __name__ == "__main__":
    main()
