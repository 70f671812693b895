"""kvar's commands as a user runs them (whole processes) next to a hand-written DuckDB job doing the same.

For each size (default 1M and 10M transactions of ``bench_metrics.Customers``, two years; 100M is
possible with the time and disk) the script writes the transactions as Parquet and as CSV, and
subscriptions as Parquet (one interval for each of rows / 10 customers), then times, for each case, ``kvar …`` against a
Python process running the hand-written DuckDB SQL that produces the same result from the same file, and
writes it out the same way (JSON on stdout, or a table in a database file):

* ``load parquet`` / ``load csv``: ``kvar load transactions FILE --workspace W`` (every rule, rejects,
  bookkeeping) against ``CREATE TABLE AS SELECT`` with the casts;
* ``retention``, ``cohorts``, ``summary``, ``pareto``, ``segments`` (per customer and ``--summary``),
  ``clv --params-only`` and ``mrr`` from the file (``--transactions FILE --json``, ``--subscriptions`` for
  ``mrr``: kvar reads and validates the file first) and from the loaded workspace (``--workspace W
  --json``). For ``clv --params-only`` the hand side is the per-customer summary in SQL and kvar's own
  BG/NBD estimator on its rows (the fit is the same code; what is compared is the way to it).

Money is summed exactly on both sides (``DECIMAL(38, 10)``, as kvar does), so that the hand query gives
the same digits as kvar whatever the order of the rows; a plain ``DOUBLE`` sum is a little faster and not
the same result.

The two sides of a case run alternately, ``--repeats`` times (default 3); the table gives the median
wall time, the peak resident memory of the process (its own, from ``wait4``), and the ratio. Each
case's two answers are compared before it is reported (a difference is printed and fails the run).
A Markdown table is written to ``benchmarks/out/cli-<rows>.md``.

Run: ``python benchmarks/bench_cli.py --rows 1000000 10000000``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_metrics import COHORTS_SQL, RETENTION_SQL, SUMMARY_SQL  # noqa: E402

PARETO_SQL = """
WITH c AS (SELECT customer_id, sum(amount::DECIMAL(38, 10)) AS r FROM tx GROUP BY 1),
ranked AS (SELECT r, row_number() OVER (ORDER BY r DESC, customer_id) AS k, count(*) OVER () AS n FROM c)
SELECT s AS share, sum(r) FILTER (WHERE k <= ceil(n * s / 100.0))::DOUBLE AS top_revenue, sum(r)::DOUBLE AS revenue
FROM ranked, (VALUES (10), (20)) v(s) GROUP BY s ORDER BY s
"""

#: RFM segments as docs/definitions.md states them; the rules of SEGMENT_RULES in their order.
SEGMENTS_SQL = """
WITH bounds AS (SELECT date_trunc('day', max(occurred_at)) + INTERVAL 1 DAY AS as_of FROM tx),
c AS (
    SELECT customer_id, max(occurred_at) FILTER (WHERE amount >= 0 OR amount IS NULL) AS last_purchase,
           count(*) FILTER (WHERE amount >= 0 OR amount IS NULL) AS frequency,
           sum(amount::DECIMAL(38, 10))::DOUBLE AS monetary, any_value(as_of) AS as_of
    FROM tx, bounds WHERE occurred_at < as_of GROUP BY customer_id
),
n AS (SELECT *, datediff('day', last_purchase, as_of) - 1 AS recency_days, count(*) OVER () AS n
      FROM c WHERE last_purchase IS NOT NULL),
q AS (
    SELECT customer_id, recency_days, frequency, monetary, n,
           (rank() OVER (ORDER BY recency_days DESC) - 1) * 5 // n + 1 AS r,
           (rank() OVER (ORDER BY frequency) - 1) * 5 // n + 1 AS f,
           (rank() OVER (ORDER BY monetary) - 1) * 5 // n + 1 AS m,
           rank() OVER (ORDER BY monetary DESC) AS value_rank
    FROM n
),
scored AS (
    SELECT *, CASE
        WHEN r BETWEEN 4 AND 5 AND fm BETWEEN 4 AND 5 THEN 'Champions'
        WHEN r BETWEEN 3 AND 5 AND fm BETWEEN 3 AND 5 THEN 'Loyal'
        WHEN r BETWEEN 4 AND 5 AND fm BETWEEN 2 AND 3 THEN 'Potential loyalists'
        WHEN r BETWEEN 4 AND 5 AND fm = 1 THEN 'New customers'
        WHEN r = 3 AND fm BETWEEN 1 AND 2 THEN 'Promising'
        WHEN r = 1 AND fm BETWEEN 4 AND 5 THEN 'Can''t lose them'
        WHEN r BETWEEN 1 AND 2 AND fm BETWEEN 3 AND 5 THEN 'At risk'
        WHEN r = 2 AND fm BETWEEN 1 AND 2 THEN 'Hibernating'
        WHEN r = 1 AND fm BETWEEN 1 AND 2 THEN 'Lost'
        ELSE 'Other' END AS segment,
        CASE WHEN value_rank <= greatest(1, round_even(0.2 * n, 0)) THEN 'top'
             WHEN value_rank <= greatest(1, round_even(0.5 * n, 0)) THEN 'middle' ELSE 'low' END AS value_tier,
        (r - 1) * 25.0 * 0.4 + (f - 1) * 25.0 * 0.3 + (m - 1) * 25.0 * 0.3 AS health_score
    FROM (SELECT *, (f + m + 1) // 2 AS fm FROM q)
)
"""
SEGMENTS_PER_CUSTOMER_SQL = (
    SEGMENTS_SQL
    + """
SELECT customer_id, recency_days, frequency, monetary, r, f, m, fm, segment, value_tier, health_score
FROM scored ORDER BY customer_id
"""
)
SEGMENTS_SUMMARY_SQL = (
    SEGMENTS_SQL
    + """
SELECT segment, count(*) AS customers, sum(monetary::DECIMAL(38, 10))::DOUBLE AS revenue FROM scored
GROUP BY segment ORDER BY customers DESC, segment
"""
)

#: MRR movements per complete month (docs/definitions.md, "Recurring revenue"), boundary "before".
MRR_SQL = """
WITH b AS (SELECT date_trunc('month', min(started_at)) AS first, date_trunc('day', max(started_at)) + INTERVAL 1 DAY AS as_of
           FROM subs),
periods AS (
    SELECT p AS period_start, p + INTERVAL 1 MONTH AS period_end
    FROM (SELECT unnest(generate_series(first, as_of, INTERVAL 1 MONTH)) AS p, as_of FROM b) WHERE p + INTERVAL 1 MONTH <= as_of
),
s AS (SELECT customer_id, started_at, coalesce(ended_at, TIMESTAMP '2200-01-01') AS ended_at, mrr::DECIMAL(38, 10) AS mrr,
             min(started_at) FILTER (WHERE mrr > 0) OVER (PARTITION BY customer_id) AS first_paid FROM subs),
c AS (
    SELECT customer_id, period_start,
           sum(CASE WHEN started_at < period_start AND ended_at >= period_start THEN mrr ELSE 0 END) AS m0,
           sum(CASE WHEN started_at < period_end AND ended_at >= period_end THEN mrr ELSE 0 END) AS m1,
           min(first_paid) >= period_start AS first_time
    FROM s JOIN periods ON started_at <= period_end AND ended_at >= period_start GROUP BY 1, 2
)
SELECT period_start, sum(m0), sum(m1),
       sum(CASE WHEN m0 = 0 AND m1 > 0 AND first_time THEN m1 ELSE 0 END),
       sum(CASE WHEN m0 > 0 AND m1 > m0 THEN m1 - m0 ELSE 0 END),
       sum(CASE WHEN m1 > 0 AND m1 < m0 THEN m1 - m0 ELSE 0 END),
       sum(CASE WHEN m0 > 0 AND m1 = 0 THEN -m0 ELSE 0 END),
       sum(CASE WHEN m0 = 0 AND m1 > 0 AND NOT first_time THEN m1 ELSE 0 END)
FROM c GROUP BY 1 ORDER BY 1
"""

LOAD_SQL = (
    "CREATE TABLE transactions AS SELECT CAST(customer_id AS VARCHAR) AS customer_id, "
    "CAST(occurred_at AS TIMESTAMP) AS occurred_at, CAST(amount AS DOUBLE) AS amount FROM {source}"
)

#: The hand-written side: a child process that runs one query and prints its rows as JSON; for ``fit``,
#: fits BG/NBD (kvar's estimator, the same optimiser) on the query's per-customer rows and prints its
#: parameters.
HAND = """
import duckdb, json, sys
case, source, database, sql, view, table = sys.argv[1:7]
con = duckdb.connect(database)
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
if case == "load":
    con.execute(sql.format(source=source))
else:
    if source != "workspace":
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {source}")
    else:
        con.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM {table}")
    if case == "fit":
        from kvar.models.beta_geo import BetaGeo
        columns = con.execute(sql).fetchnumpy()
        fitted = BetaGeo().fit_arrays(columns["frequency"].astype(float), columns["recency"], columns["t"])
        json.dump(fitted.params_, sys.stdout)
    else:
        rows = con.execute(sql).fetchall()
        json.dump([[str(value) for value in row] for row in rows], sys.stdout)
"""


@dataclass(frozen=True)
class Case:
    name: str
    kvar: Callable[[Path, Path], list[str]]  # (data file, workspace) -> argv after "kvar"
    sql: str
    source: str  # "parquet", "csv" or "workspace"
    table: str  # "transactions" or "subscriptions": the file the case reads, the hand query's view
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


def _segments_kvar(document: dict) -> list:
    rows = document["rows"]
    return [
        len(rows),
        sorted(Counter(r["segment"] for r in rows).items()),
        sorted(Counter(r["value_tier"] for r in rows).items()),
        round(sum(r["health_score"] for r in rows), 3),
    ]


def _segments_sql(rows: list) -> list:
    return [
        len(rows),
        sorted(Counter(row[8] for row in rows).items()),
        sorted(Counter(row[9] for row in rows).items()),
        round(sum(float(row[10]) for row in rows), 3),
    ]


def _segment_summary_kvar(document: dict) -> list:
    return [[r["segment"], r["customers"], round(r["revenue"], 2)] for r in document["rows"]]


def _segment_summary_sql(rows: list) -> list:
    return [[row[0], int(row[1]), round(float(row[2]), 2)] for row in rows]


def _parameters(params: dict) -> dict:
    """Fitted parameters to 4 significant digits (a degenerate one, below 1e-6, as 0)."""
    return {name: float(f"{value:.4g}") if abs(value) > 1e-6 else 0.0 for name, value in params.items()}


MOVEMENT_COLUMNS = (
    "mrr_start",
    "mrr_end",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "reactivation_mrr",
)


def _mrr_kvar(document: dict) -> list:
    return [[r["period_start"][:10], *(round(r[name], 2) for name in MOVEMENT_COLUMNS)] for r in document["rows"]]


def _mrr_sql(rows: list) -> list:
    return [[row[0][:10], *(round(float(value), 2) + 0.0 for value in row[1:])] for row in rows]


def metric_case(label: str, words: list[str], sql: str, answers: tuple, table: str, source: str) -> Case:
    def argv(data: Path, workspace: Path) -> list[str]:
        where = ["--workspace", str(workspace)] if source == "workspace" else [f"--{table}", str(data)]
        return [*words, *where, "--json"]

    return Case(f"{label} ({'workspace' if source == 'workspace' else 'file'})", argv, sql, source, table, *answers)


def _load(kind: str) -> Case:
    return Case(
        f"load {kind}",
        lambda data, workspace: ["load", "transactions", str(data), "--workspace", str(workspace)],
        LOAD_SQL,
        kind,
        "transactions",
        lambda _: None,
        lambda _: None,
    )


#: (label, kvar's words, the hand query, (kvar's answer, the query's answer), the table read)
METRICS = (
    ("retention", ["retention", "--period", "month"], RETENTION_SQL, (_retention_kvar, _retention_sql), "transactions"),
    ("cohorts", ["cohorts", "--period", "month"], COHORTS_SQL, (_cohorts_kvar, _cohorts_sql), "transactions"),
    ("summary", ["summary"], SUMMARY_SQL, (_summary_kvar, _summary_sql), "transactions"),
    ("pareto", ["pareto"], PARETO_SQL, (_pareto_kvar, _pareto_sql), "transactions"),
    ("segments", ["segments"], SEGMENTS_PER_CUSTOMER_SQL, (_segments_kvar, _segments_sql), "transactions"),
    (
        "segments --summary",
        ["segments", "--summary"],
        SEGMENTS_SUMMARY_SQL,
        (_segment_summary_kvar, _segment_summary_sql),
        "transactions",
    ),
    (
        "clv --params-only",
        ["clv", "--params-only"],
        SUMMARY_SQL,
        (lambda document: _parameters(document["params"]), _parameters),
        "transactions",
    ),
    ("mrr", ["mrr", "--period", "month"], MRR_SQL, (_mrr_kvar, _mrr_sql), "subscriptions"),
)
CASES = (
    _load("parquet"),
    _load("csv"),
    *(metric_case(*spec, "parquet") for spec in METRICS),
    *(metric_case(*spec, "workspace") for spec in METRICS),
)


#: A small process that starts each measured child and reports its time and peak memory. The peak of a
#: child counts the memory of the process that forked it, and this one grows as it reads answers of a
#: million rows; the launcher, started while this process is small, stays small.
LAUNCHER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    argv, out_path, err_path = json.loads(line)
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    print(json.dumps([seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]), flush=True)
"""
_launcher: list[subprocess.Popen] = []


def compile_kvar() -> None:
    """Byte-compile kvar's modules, as installing a package does. Where ``PYTHONDONTWRITEBYTECODE`` is set
    (as on some shared machines) an editable install otherwise compiles every module at every start
    (60 ms a command), which a user's installed kvar does not."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("kvar")
    assert spec is not None and spec.submodule_search_locations
    compileall.compile_dir(spec.submodule_search_locations[0], quiet=1)


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident MB (the child's own, from ``wait4``) and stdout of one child process,
    which must succeed; started by the :data:`LAUNCHER` (the first time, after :func:`compile_kvar`)."""
    if not _launcher:
        compile_kvar()
        _launcher.append(
            subprocess.Popen([sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
    launcher = _launcher[0]
    assert launcher.stdin is not None and launcher.stdout is not None
    with tempfile.TemporaryDirectory() as folder:
        out, err = Path(folder) / "out", Path(folder) / "err"
        launcher.stdin.write(json.dumps([argv, str(out), str(err)]) + "\n")
        launcher.stdin.flush()
        seconds, megabytes, code = json.loads(launcher.stdout.readline())
        if code:
            raise SystemExit(f"{' '.join(argv)} failed:\n{err.read_text()[-2000:]}")
        return seconds, megabytes, out.read_text()


def write_files(rows: int, parquet: Path, csv: Path, subscriptions: Path) -> None:
    """The transactions as Parquet and CSV, and one subscription interval per customer."""
    import duckdb
    from bench_metrics import generate
    from bench_report import write_subscriptions

    generate(rows, parquet)
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")
    write_subscriptions(max(rows // 10, 1), subscriptions)


def fresh_workspace(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    subprocess.run([KVAR, "init", str(path)], check=True, capture_output=True)


KVAR = str(Path(sys.executable).with_name("kvar"))


def measure(case: Case, files: dict[str, Path], folder: Path, workspaces: dict[str, Path], repeats: int) -> dict:
    """Time ``case`` (``workspaces``: a loaded workspace per table, each holding that table alone, since
    with subscriptions loaded kvar measures retention on them)."""
    workspace = workspaces[case.table]
    kvar_times, sql_times, kvar_peaks, sql_peaks = [], [], [], []
    answers: dict[str, Any] = {}
    source_file = files["subscriptions"] if case.table == "subscriptions" else files.get(case.source, files["parquet"])
    view = {"transactions": "tx", "subscriptions": "subs"}[case.table]
    for _ in range(repeats):
        if case.name.startswith("load"):
            target = folder / "bench-load.duckdb"
            fresh_workspace(target)
            seconds, peak, out = run([KVAR, *case.kvar(source_file, target)])
            hand_db = folder / "bench-hand.duckdb"
            hand_db.unlink(missing_ok=True)
            reader = f"read_parquet('{source_file}')" if case.source == "parquet" else f"read_csv('{source_file}')"
            hand = run([sys.executable, "-c", HAND, "load", reader, str(hand_db), case.sql, view, case.table])
        else:
            seconds, peak, out = run([KVAR, *case.kvar(source_file, workspace)])
            answers["kvar"] = case.answer_kvar(json.loads(out))
            reader = "workspace" if case.source == "workspace" else f"read_parquet('{source_file}')"
            database = str(workspace) if case.source == "workspace" else ":memory:"
            mode = "fit" if case.name.startswith("clv") else "query"
            hand = run([sys.executable, "-c", HAND, mode, reader, database, case.sql, view, case.table])
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
    parser.add_argument(
        "--generate", nargs=4, metavar=("ROWS", "PARQUET", "CSV", "SUBSCRIPTIONS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    chosen = [case for case in CASES if not args.cases or any(case.name.startswith(prefix) for prefix in args.cases)]
    if not chosen:
        parser.error(
            f"--cases {' '.join(args.cases)}: no case starts so; the cases: {', '.join(c.name for c in CASES)}"
        )
    if args.generate:
        write_files(int(args.generate[0]), *map(Path, args.generate[1:]))
        return
    OUT.mkdir(exist_ok=True)
    for rows in args.rows:
        parquet = OUT / f"transactions_{rows}.parquet"
        csv = OUT / f"transactions_{rows}.csv"
        subscriptions = OUT / f"subscriptions_{rows // 10}.parquet"
        files = {"parquet": parquet, "csv": csv, "subscriptions": subscriptions}
        if not all(path.exists() for path in files.values()):  # in a child: this process stays small (see run)
            subprocess.run([sys.executable, __file__, "--generate", str(rows), *map(str, files.values())], check=True)
        workspaces = {
            "transactions": OUT / f"bench-cli-{rows}.duckdb",
            "subscriptions": OUT / f"bench-cli-subs-{rows}.duckdb",
        }
        for table, path in (("transactions", parquet), ("subscriptions", subscriptions)):
            if not workspaces[table].exists():
                fresh_workspace(workspaces[table])
                subprocess.run([KVAR, "load", table, str(path), "--workspace", str(workspaces[table])], check=True)
        lines = [
            f"# kvar commands vs hand-written DuckDB, {rows:,} transactions",
            "",
            "| case | kvar s | kvar peak MB | hand SQL s | hand peak MB | ratio |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        print(lines[0], flush=True)
        for case in chosen:
            result = measure(case, files, OUT, workspaces, args.repeats)
            line = (
                f"| {result['case']} | {result['kvar_s']:.2f} | {result['kvar_mb']:.0f} | {result['sql_s']:.2f} | "
                f"{result['sql_mb']:.0f} | {result['ratio']:.2f}× |"
            )
            lines.append(line)
            print(line, flush=True)
        (OUT / f"cli-{rows}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
