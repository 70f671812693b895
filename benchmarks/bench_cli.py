"""kvar's commands as a user runs them (whole processes) next to a hand-written DuckDB job doing the same.

For each size (default 1M and 10M transactions, one customer per ~10 rows, two years; 100M is possible
with the time and disk) the script writes the transactions as Parquet and as CSV, then times, for each
case, ``kvar …`` against a Python process running the hand-written DuckDB SQL that produces the same
result from the same file, and writes it out the same way (JSON on stdout, or a table in a database file):

* ``load parquet`` / ``load csv``: ``kvar load transactions FILE --workspace W`` (every rule, rejects,
  bookkeeping) against ``CREATE TABLE AS SELECT`` with the casts;
* ``retention``, ``cohorts``, ``summary``, ``pareto`` from the file (``--transactions FILE --json``: kvar
  reads and validates the file first) and from the loaded workspace (``--workspace W --json``).

The two sides of a case run alternately, ``--repeats`` times (default 3); the table gives the median
wall time, the peak resident memory of the process (its own, from ``wait4``), and the ratio. Each
case's two answers are compared before it is reported (a difference is printed and fails the run).
A Markdown table is written to ``benchmarks/out/cli-<rows>.md``.

Run: ``python benchmarks/bench_cli.py --rows 1000000 10000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_metrics import COHORTS_SQL, RETENTION_SQL, SUMMARY_SQL  # noqa: E402

PARETO_SQL = """
WITH c AS (SELECT customer_id, sum(amount) AS r FROM tx GROUP BY 1),
ranked AS (SELECT r, row_number() OVER (ORDER BY r DESC, customer_id) AS k, count(*) OVER () AS n FROM c)
SELECT s AS share, sum(r) FILTER (WHERE k <= ceil(n * s / 100.0)) AS top_revenue, sum(r) AS revenue
FROM ranked, (VALUES (10), (20)) v(s) GROUP BY s ORDER BY s
"""

LOAD_SQL = (
    "CREATE TABLE transactions AS SELECT CAST(customer_id AS VARCHAR) AS customer_id, "
    "CAST(occurred_at AS TIMESTAMP) AS occurred_at, CAST(amount AS DOUBLE) AS amount FROM {source}"
)

#: The hand-written side: a child process that runs one query and prints its rows as JSON.
HAND = """
import duckdb, json, sys
case, source, database = sys.argv[1:4]
con = duckdb.connect(database)
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
if case == "load":
    con.execute(sys.argv[4].format(source=source))
else:
    if source != "workspace":
        con.execute(f"CREATE VIEW tx AS SELECT * FROM {source}")
    else:
        con.execute("CREATE TEMP VIEW tx AS SELECT * FROM transactions")
    rows = con.execute(sys.argv[4]).fetchall()
    json.dump([[str(value) for value in row] for row in rows], sys.stdout)
"""


@dataclass(frozen=True)
class Case:
    name: str
    kvar: Callable[[Path, Path], list[str]]  # (data file, workspace) -> argv after "kvar"
    sql: str
    source: str  # "parquet", "csv" or "workspace"
    answer_kvar: Callable[[Any], Any]
    answer_sql: Callable[[Any], Any]


def _retention_kvar(document: dict) -> list:
    return [
        [r["period_start"][:10], r["customers_start"], r["new_customers"], r["churned"], r["customers_end"]]
        for r in document["rows"]
    ]


def _retention_sql(rows: list) -> list:
    return [[row[0][:10], *map(int, row[1:])] for row in rows]


def _cohorts_kvar(document: dict) -> list:
    return [[r["cohort"][:10], r["period_offset"], r["value"]] for r in document["rows"] if r["value"]]


def _cohorts_sql(rows: list) -> list:
    return [[row[0][:10], int(row[1]), int(row[2])] for row in rows]


def _summary_kvar(document: dict) -> list:
    rows = document["rows"]
    return [len(rows), sum(r["frequency"] for r in rows), round(sum(r["T"] for r in rows), 3)]


def _summary_sql(rows: list) -> list:
    return [len(rows), sum(int(row[1]) for row in rows), round(sum(float(row[3]) for row in rows), 3)]


def _pareto_kvar(document: dict) -> list:
    return [[int(r["top_customers_share"]), round(r["top_revenue"], 2)] for r in document["rows"]]


def _pareto_sql(rows: list) -> list:
    return [[int(row[0]), round(float(row[1]), 2)] for row in rows]


def _metric(name: str, extra: list[str], sql: str, answers: tuple, source: str) -> Case:
    def argv(data: Path, workspace: Path) -> list[str]:
        where = ["--workspace", str(workspace)] if source == "workspace" else ["--transactions", str(data)]
        return [name, *extra, *where, "--json"]

    return Case(f"{name} ({'workspace' if source == 'workspace' else 'file'})", argv, sql, source, *answers)


def _load(kind: str) -> Case:
    return Case(
        f"load {kind}",
        lambda data, workspace: ["load", "transactions", str(data), "--workspace", str(workspace)],
        LOAD_SQL,
        kind,
        lambda _: None,
        lambda _: None,
    )


METRICS = (
    ("retention", ["--period", "month"], RETENTION_SQL, (_retention_kvar, _retention_sql)),
    ("cohorts", ["--period", "month"], COHORTS_SQL, (_cohorts_kvar, _cohorts_sql)),
    ("summary", [], SUMMARY_SQL, (_summary_kvar, _summary_sql)),
    ("pareto", [], PARETO_SQL, (_pareto_kvar, _pareto_sql)),
)
CASES = (
    _load("parquet"),
    _load("csv"),
    *(_metric(name, extra, sql, answers, "parquet") for name, extra, sql, answers in METRICS),
    *(_metric(name, extra, sql, answers, "workspace") for name, extra, sql, answers in METRICS),
)


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident MB (the child's own, from ``wait4``) and stdout of one child process,
    which must succeed. The peak counts what the child inherited at fork, so this process keeps small:
    it generates no data itself."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode:
            raise SystemExit(f"{' '.join(argv)} failed:\n{err.read()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def write_files(rows: int, parquet: Path, csv: Path) -> None:
    import duckdb
    from bench_metrics import generate

    generate(rows, parquet)
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")


def fresh_workspace(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    subprocess.run([KVAR, "init", str(path)], check=True, capture_output=True)


KVAR = str(Path(sys.executable).with_name("kvar"))


def measure(case: Case, files: dict[str, Path], folder: Path, workspace: Path, repeats: int) -> dict:
    kvar_times, sql_times, kvar_peaks, sql_peaks = [], [], [], []
    answers: dict[str, Any] = {}
    source_file = files.get(case.source, files["parquet"])
    for _ in range(repeats):
        if case.name.startswith("load"):
            target = folder / "bench-load.duckdb"
            fresh_workspace(target)
            seconds, peak, out = run([KVAR, *case.kvar(source_file, target)])
            hand_db = folder / "bench-hand.duckdb"
            hand_db.unlink(missing_ok=True)
            reader = f"read_parquet('{source_file}')" if case.source == "parquet" else f"read_csv('{source_file}')"
            hand = run([sys.executable, "-c", HAND, "load", reader, str(hand_db), case.sql])
        else:
            seconds, peak, out = run([KVAR, *case.kvar(source_file, workspace)])
            answers["kvar"] = case.answer_kvar(json.loads(out))
            reader = "workspace" if case.source == "workspace" else f"read_parquet('{source_file}')"
            database = str(workspace) if case.source == "workspace" else ":memory:"
            hand = run([sys.executable, "-c", HAND, "query", reader, database, case.sql])
            answers["sql"] = case.answer_sql(json.loads(hand[2]))
        kvar_times.append(seconds)
        kvar_peaks.append(peak)
        sql_times.append(hand[0])
        sql_peaks.append(hand[1])
    if answers and answers["kvar"] != answers["sql"]:
        raise SystemExit(f"{case.name}: kvar and the hand-written query disagree:\n{answers}")
    kvar_s, sql_s = statistics.median(kvar_times), statistics.median(sql_times)
    return {
        "case": case.name,
        "kvar_s": kvar_s,
        "kvar_mb": max(kvar_peaks),
        "sql_s": sql_s,
        "sql_mb": max(sql_peaks),
        "ratio": kvar_s / sql_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="*", help="only the cases whose name starts with one of these")
    parser.add_argument("--generate", nargs=3, metavar=("ROWS", "PARQUET", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    chosen = [case for case in CASES if not args.cases or any(case.name.startswith(prefix) for prefix in args.cases)]
    if not chosen:
        parser.error(
            f"--cases {' '.join(args.cases)}: no case starts so; the cases: {', '.join(c.name for c in CASES)}"
        )
    if args.generate:
        write_files(int(args.generate[0]), Path(args.generate[1]), Path(args.generate[2]))
        return
    OUT.mkdir(exist_ok=True)
    for rows in args.rows:
        parquet = OUT / f"transactions_{rows}.parquet"
        csv = OUT / f"transactions_{rows}.csv"
        if not parquet.exists() or not csv.exists():  # in a child: this process stays small (see run)
            subprocess.run([sys.executable, __file__, "--generate", str(rows), str(parquet), str(csv)], check=True)
        workspace = OUT / f"bench-cli-{rows}.duckdb"
        if not workspace.exists():
            fresh_workspace(workspace)
            subprocess.run([KVAR, "load", "transactions", str(parquet), "--workspace", str(workspace)], check=True)
        lines = [
            f"# kvar commands vs hand-written DuckDB, {rows:,} transactions",
            "",
            "| case | kvar s | kvar peak MB | hand SQL s | hand peak MB | ratio |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        print(lines[0], flush=True)
        for case in chosen:
            result = measure(case, {"parquet": parquet, "csv": csv}, OUT, workspace, args.repeats)
            line = (
                f"| {result['case']} | {result['kvar_s']:.2f} | {result['kvar_mb']:.0f} | {result['sql_s']:.2f} | "
                f"{result['sql_mb']:.0f} | {result['ratio']:.2f}× |"
            )
            lines.append(line)
            print(line, flush=True)
        (OUT / f"cli-{rows}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
