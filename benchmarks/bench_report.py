"""The descriptive part of ``kvar report`` at 100M transactions on one machine, from Parquet.

Generates (once, in chunks, into ``benchmarks/out/``) ``--rows`` transactions (default 100M, two
years, of customers who come and go as :class:`bench_metrics.Customers` says: about 15M at 100M rows)
and ``--rows / 10`` subscription intervals, one per subscriber (a quarter of them ended, MRR 10-200),
then runs as a user would, each a whole process, the report's descriptive
metrics straight from the files, each next to the hand-written DuckDB query of ``bench_cli`` that gives
the same answer from the same file (checked equal), once each at this size:

* ``kvar retention --transactions tx.parquet --period month --json``
* ``kvar cohorts --transactions tx.parquet --period month --json``
* ``kvar summary --transactions tx.parquet --json``
* ``kvar mrr --subscriptions subs.parquet --period month --json``

and then the same four in one process, as ``kvar report`` runs them: each file read and validated
once, then the metrics over the validated rows (the per-customer summary kept in the engine, as the
report's models use it, not turned into Python rows). It prints the wall time of each step and the peak
resident memory of the process (its own, from ``wait4``), and writes a Markdown table to
``benchmarks/out/report-<rows>.md``. Aim (issue 11): 30 s and 4 GB on a 2-core machine.

Run: ``python benchmarks/bench_report.py`` (or ``--rows 10000000`` for a quicker look).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_cli import METRICS, measure, metric_case, run  # noqa: E402
from bench_metrics import DAYS, START, Customers  # noqa: E402

CHUNK = 10_000_000


def write_transactions(rows: int, path: Path, seed: int = 1) -> None:
    """``rows`` transactions of generated :class:`Customers` over two years, written chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    customers = Customers(np.random.default_rng(seed))
    schema = pa.schema([("customer_id", pa.string()), ("occurred_at", pa.timestamp("us")), ("amount", pa.float64())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, CHUNK):
            size = min(CHUNK, rows - start)
            writer.write_table(pa.table(customers.rows(size), schema=schema), row_group_size=1_000_000)


def write_subscriptions(customers: int, path: Path, seed: int = 2) -> None:
    """One interval per customer: started in the two years, a quarter of them ended since, MRR 10-200."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    schema = pa.schema(
        [
            ("subscription_id", pa.string()),
            ("customer_id", pa.string()),
            ("started_at", pa.timestamp("us")),
            ("ended_at", pa.timestamp("us")),
            ("mrr", pa.float64()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, customers, CHUNK):
            size = min(CHUNK, customers - start)
            ids = np.arange(start, start + size).astype(str)
            started = START + rng.integers(0, DAYS * 86400, size).astype("timedelta64[s]")
            lasted = rng.integers(30 * 86400, DAYS * 86400, size).astype("timedelta64[s]")
            ended = (started + lasted).astype("datetime64[us]")
            open_ended = (rng.random(size) >= 0.25) | (ended > START + np.timedelta64(DAYS, "D"))
            writer.write_table(
                pa.table(
                    {
                        "subscription_id": pa.array(np.char.add("S", ids)),
                        "customer_id": pa.array(np.char.add("C", ids)),
                        "started_at": pa.array(started.astype("datetime64[us]")),
                        "ended_at": pa.array(ended, mask=open_ended),
                        "mrr": pa.array(np.round(rng.uniform(10, 200, size), 0)),
                    },
                    schema=schema,
                )
            )


#: The report's descriptive part in one process: prints {step: seconds} as JSON.
REPORT = """
import json, sys, time
from pathlib import Path
import kvar
from kvar.cli.sources import Sources
from kvar.metrics.frames import rows_of

steps, started = {}, time.perf_counter()
def step(name):
    global started
    now = time.perf_counter()
    steps[name] = now - started
    started = now

sources = Sources()
transactions = sources.table("transactions", Path(sys.argv[1])); step("read and validate transactions")
subscriptions = sources.table("subscriptions", Path(sys.argv[2])); step("read and validate subscriptions")
rows_of(kvar.retention_table(transactions, period="month", inactivity="90d")); step("retention")
rows_of(kvar.cohort_table(transactions, period="month")); step("cohorts")
kvar.customer_summary(transactions).to_arrow_table(); step("summary (kept as Arrow)")
rows_of(kvar.mrr_movements(subscriptions, period="month")); step("MRR movements")
print(json.dumps(steps))
"""


#: The report's descriptive metrics, among bench_cli's cases.
REPORTED = ("retention", "cohorts", "summary", "mrr")


def cases() -> list:
    """The four commands over the Parquet files, each with its hand-written query and answers."""
    return [metric_case(*entry, "parquet") for entry in METRICS if entry[0] in REPORTED]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    transactions = OUT / f"report_tx_{args.rows}.parquet"
    subscriptions = OUT / f"report_subs_{args.rows}.parquet"
    if args.generate:
        write_transactions(args.rows, transactions)
        write_subscriptions(max(args.rows // 10, 1), subscriptions)
        return
    if not transactions.exists() or not subscriptions.exists():  # in a child: this process stays small
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--generate"], check=True)
    lines = [
        f"# kvar report's descriptive part from Parquet, {args.rows:,} transactions, {args.rows // 10:,} subscriptions",
        "",
        "| command | kvar s | kvar peak MB | hand SQL s | hand peak MB | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    print(lines[0], flush=True)
    files = {"parquet": transactions, "subscriptions": subscriptions}
    no_workspace = dict.fromkeys(("transactions", "subscriptions"), OUT)  # every case reads the files
    totals = {"kvar_s": 0.0, "sql_s": 0.0, "kvar_mb": 0.0, "sql_mb": 0.0}
    for case in cases():
        result = measure(case, files, OUT, no_workspace, repeats=1)
        for key in totals:
            totals[key] = totals[key] + result[key] if key.endswith("_s") else max(totals[key], result[key])
        lines.append(
            f"| {case.name.removesuffix(' (file)')} | {result['kvar_s']:.1f} | {result['kvar_mb']:.0f} | "
            f"{result['sql_s']:.1f} | {result['sql_mb']:.0f} | {result['ratio']:.2f}× |"
        )
        print(lines[-1], flush=True)
    lines.append(
        f"| **all four** | **{totals['kvar_s']:.1f}** | **{totals['kvar_mb']:.0f}** (largest) | "
        f"**{totals['sql_s']:.1f}** | **{totals['sql_mb']:.0f}** (largest) | **{totals['kvar_s'] / totals['sql_s']:.2f}×** |"
    )
    print(lines[-1])
    seconds, megabytes, out = run([sys.executable, "-c", REPORT, str(transactions), str(subscriptions)])
    lines += ["", "In one process, as `kvar report` runs them:", "", "| step | s |", "|---|---:|"]
    lines += [f"| {name} | {taken:.1f} |" for name, taken in json.loads(out).items()]
    lines.append(f"| **whole process** | **{seconds:.1f}** (peak {megabytes:.0f} MB) |")
    print("\n".join(lines[-(len(json.loads(out)) + 6) :]))
    (OUT / f"report-{args.rows}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
