"""Every speed bar of docs/quality.md in one run, then one summary table.

    python bench/run_all.py                 # make bench: the small size, a few minutes
    python bench/run_all.py --smoke         # CI: a tiny registry, about a minute, no verdicts
    python bench/run_all.py --large         # the bars' own sizes: 1M certificates (~30 min)

Each step is one of the bench/ scripts (single.py, as_recorded.py, batch.py, decisions.py,
search.py, growth.py, import_bar.py, memory.py, reads_under_writes.py, webhooks.py), on
PostgreSQL and on SQLite where the bar applies; each prints its own table and writes its JSON
under bench/results/. The summary goes to bench/results/summary-<mode>.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from common import ROOT, console, read_result, table, verdict, write_result

ENGINES = ("postgresql", "sqlite")


def run(script: str, *args: object) -> None:
    command = [sys.executable, str(ROOT / "bench" / script), *map(str, args)]
    console.rule(" ".join([script, *map(str, args)]))
    subprocess.run(command, check=True)


def bar(
    what: str, engine: str, figures: str, ratio: float, target: float, higher: bool, digits: int = 2
) -> tuple[str, ...]:
    """A summary row: the bar, its figures, the ratio against its target and the verdict."""
    sign = ">=" if higher else "<="
    return (
        what,
        engine,
        figures,
        f"{ratio:.{digits}f}",
        f"{sign} {target:g}",
        verdict(ratio, target, higher),
    )


def summary(
    size: str, growth: tuple[str, str], rows_imported: int, memory_size: str, writes_size: str
) -> None:
    rows: list[tuple[str, ...]] = []
    data: dict[str, Any] = {}
    for engine in ENGINES:
        single = read_result(f"single-{size}-{engine}")
        if single:
            for r in single["runs"]:
                w = r["workers"]
                rows.append(
                    bar(
                        f"single query vs trivial ({w} worker{'s' * (w > 1)})",
                        engine,
                        f"{r['equivalence']['rps']:,.0f} vs {r['trivial']['rps']:,.0f} req/s",
                        r["ratio"],
                        0.5,
                        True,
                    )
                )
                rows.append(
                    bar(
                        f"p99 / p50 at 32 connections ({w} worker{'s' * (w > 1)})",
                        engine,
                        f"{r['equivalence']['p99_ms']:.2f} / {r['equivalence']['p50_ms']:.2f} ms",
                        r["p99_over_p50"],
                        4.0,
                        False,
                        digits=1,
                    )
                )
            data[f"single-{engine}"] = single
        recorded = read_result(f"as-recorded-{size}-{engine}")
        if recorded:
            for r in recorded["runs"]:
                w = r["workers"]
                rows.append(
                    bar(
                        f"as recorded vs trivial ({w} worker{'s' * (w > 1)}, "
                        f"{recorded['corrections']:,} corrections)",
                        engine,
                        f"{r['as_recorded']['rps']:,.0f} vs {r['trivial']['rps']:,.0f} req/s",
                        r["ratio"],
                        0.25,
                        True,
                    )
                )
            data[f"as-recorded-{engine}"] = recorded
        search = read_result(f"search-{size}-{engine}")
        if search:
            for r in search["runs"]:
                for name in ("search", "page"):
                    rows.append(
                        bar(
                            f"{name} vs trivial ({r['workers']} worker)",
                            engine,
                            f"{r[name]['rps']:,.0f} vs {r['trivial']['rps']:,.0f} req/s, "
                            f"p99/p50 {r[name + '_p99_over_p50']:.1f} (<= 4)",
                            r[name + "_ratio"],
                            0.25,
                            True,
                        )
                    )
            data[f"search-{engine}"] = search
        batch = read_result(f"batch-{size}-{engine}")
        if batch:
            rows.append(
                bar(
                    "batch lines/s vs in-process resolver",
                    engine,
                    f"{batch['http_lines_per_s']:,} vs "
                    f"{batch['in_process_resolver_lines_per_s']:,}",
                    batch["ratio"],
                    0.5,
                    True,
                )
            )
            data[f"batch-{engine}"] = batch
        decisions = read_result(f"decisions-{size}-{engine}")
        if decisions:
            rows.append(
                bar(
                    "one-question decisions vs trivial",
                    engine,
                    f"{decisions['one_question']['rps']:,.0f} vs "
                    f"{decisions['trivial']['rps']:,.0f} req/s",
                    decisions["one_ratio"],
                    0.2,
                    True,
                )
            )
            rows.append(
                bar(
                    "10,000-line decision lines/s vs in-process resolver",
                    engine,
                    f"{decisions['http_lines_per_s']:,} vs "
                    f"{decisions['in_process_resolver_lines_per_s']:,}",
                    decisions["lines_ratio"],
                    0.4,
                    True,
                )
            )
            data[f"decisions-{engine}"] = decisions
        grow = read_result(f"growth-{engine}")
        if grow and (grow["from"]["size"], grow["to"]["size"]) == growth:
            rows.append(
                bar(
                    f"growth {grow['from']['certificates']:,} -> "
                    f"{grow['to']['certificates']:,} certificates",
                    engine,
                    f"{grow['from']['equivalence']:,.0f} -> {grow['to']['equivalence']:,.0f} req/s",
                    grow["slowdown"],
                    1.5,
                    False,
                )
            )
            data[f"growth-{engine}"] = grow
        under = read_result(f"reads-under-writes-{writes_size}-{engine}")
        if under:
            for r in under["runs"]:
                w = r["under_writes"]
                rows.append(
                    bar(
                        f"reads under {w['writes_per_second']:.1f} fact writes/s vs none",
                        engine,
                        f"{w['rps']:,.0f} vs {r['quiet']['rps']:,.0f} req/s",
                        r["ratio"],
                        0.5,
                        True,
                    )
                )
                rows.append(
                    bar(
                        "p99 / p50 under fact writes",
                        engine,
                        f"{w['p99_ms']:.2f} / {w['p50_ms']:.2f} ms",
                        r["p99_over_p50"],
                        4.0,
                        False,
                        digits=1,
                    )
                )
                rows.append(
                    (
                        "answers that missed an acknowledged write",
                        engine,
                        f"{r['stale_answers']} of {r['writes']} writes",
                        "",
                        "0",
                        verdict(r["stale_answers"], 0, False),
                    )
                )
            data[f"reads-under-writes-{engine}"] = under
        hooks = read_result(f"webhooks-{size}-{engine}")
        if hooks:
            rows.append(
                bar(
                    f"webhooks: {hooks['changes']:,} changes delivered vs bare async client",
                    engine,
                    f"{hooks['worker_per_s']:,} vs {hooks['bare_per_s']:,} a second",
                    hooks["ratio"],
                    0.5,
                    True,
                )
            )
            data[f"webhooks-{engine}"] = hooks
        memory = read_result(f"memory-{memory_size}-{engine}")
        if memory:
            rows.append(
                (
                    f"server RSS, {memory['certificates']:,} certificates",
                    engine,
                    f"{memory['rss_after_mb']:.0f} MB",
                    "",
                    "<= 300 MB",
                    verdict(memory["rss_after_mb"], 300, False),
                )
            )
            data[f"memory-{engine}"] = memory
    imported = read_result(f"import-{rows_imported}")
    if imported:
        rows.append(
            bar(
                f"import vs its floor, {imported['rows']:,} rows",
                "postgresql",
                f"{imported['import_seconds']:.2f} vs {imported['floor_seconds']:.2f} s",
                imported["import_over_floor"],
                1.5,
                False,
            )
        )
        data["import"] = imported
    table(f"summary ({size})", rows, ("bar", "engine", "figures", "ratio", "target", "verdict"))
    write_result(f"summary-{size}", data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="Tiny and quick: CI's smoke test.")
    mode.add_argument("--large", action="store_true", help="1M certificates: the bars' sizes.")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    args = parser.parse_args()
    if args.smoke:
        size, seconds, rounds, workers = "smoke", 1, 1, ["1"]
        growth, rows, memory_seconds = None, 2_000, 3
    elif args.large:
        size, seconds, rounds, workers = "large", 15, 2, ["1", "2"]
        growth, rows, memory_seconds = ("small", "large"), 1_000_000, 60
    else:
        size, seconds, rounds, workers = "small", 5, 2, ["1", "2"]
        growth, rows, memory_seconds = ("smoke", "small"), 10_000, 15
    # Reads under writes is a bar of the small registry (5,000 agreements) in every full run.
    writes_size = "smoke" if args.smoke else "small"
    for engine in args.engines:
        sized = ("--size", size, "--engine", engine)
        load = ("--seconds", seconds, "--rounds", rounds)
        timed = (*sized, *load)
        run("generate.py", *sized, "--reuse")
        run("single.py", *timed, "--workers", *workers)
        run("as_recorded.py", *timed, "--workers", *workers)
        run("batch.py", *sized, "--rounds", rounds + 1)
        run("decisions.py", *timed)
        run("search.py", *timed, "--workers", "1")
        if growth is not None:
            run("growth.py", "--engine", engine, "--from", growth[0], "--to", growth[1], *load)
        run("reads_under_writes.py", "--size", writes_size, "--engine", engine, *load)
        run("memory.py", *sized, "--seconds", memory_seconds)
        # 10,000 changes in every full run (the bar's size); 1,000 in the smoke run.
        changes = 1_000 if args.smoke else 10_000
        run("webhooks.py", *sized, "--changes", changes, "--rounds", rounds)
    if "postgresql" in args.engines:
        run("import_bar.py", "--rows", rows)
    summary(size, growth or ("", ""), rows, size, writes_size)


if __name__ == "__main__":
    main()
