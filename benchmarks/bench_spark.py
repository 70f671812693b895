"""kvar's commands on the DuckDB engine and on local Spark (``--engine spark``), from the same Parquet file.

Uses the transactions ``bench_cli.py`` writes (``benchmarks/out/transactions_<rows>.parquet``: one
customer per ~10 rows, two years; generated here if missing) and runs, as whole processes, each of
``retention``, ``cohorts``, ``summary`` and ``pareto`` with ``--json`` on both engines (Spark:
``--spark-master local[*]``, so the process includes Spark's start), checks the two documents' rows
are equal, and prints wall time and peak resident memory of the kvar process (its own, from ``wait4``;
local Spark's JVM is a process of its own, not counted). A Markdown table goes to
``benchmarks/out/spark-<rows>.md``.

Run: ``python benchmarks/bench_spark.py --rows 10000000``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_cli import KVAR, run  # noqa: E402

COMMANDS = {
    "retention": ["retention", "--period", "month"],
    "cohorts": ["cohorts", "--period", "month"],
    "summary": ["summary"],
    "pareto": ["pareto"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--commands", nargs="*", choices=list(COMMANDS), help="only these commands")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    parquet = OUT / f"transactions_{args.rows}.parquet"
    if not parquet.exists():
        csv = OUT / f"transactions_{args.rows}.csv"
        subprocess.run(
            [sys.executable, str(HERE / "bench_cli.py"), "--generate", str(args.rows), str(parquet), str(csv)],
            check=True,
        )
    lines = [
        f"# kvar on DuckDB and on Spark ({args.master}), {args.rows:,} transactions from Parquet",
        "",
        "| command | DuckDB s | DuckDB peak MB | Spark s | Spark peak MB | Spark / DuckDB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    print(lines[0], flush=True)
    for name, command in COMMANDS.items():
        if args.commands and name not in args.commands:
            continue
        argv = [KVAR, *command, "--transactions", str(parquet), "--json"]
        duck_s, duck_mb, duck_out = run(argv)
        spark_s, spark_mb, spark_out = run([*argv, "--engine", "spark", "--spark-master", args.master])
        if json.loads(duck_out)["rows"] != json.loads(spark_out)["rows"]:
            raise SystemExit(f"{name}: the engines disagree")
        lines.append(
            f"| {name} | {duck_s:.1f} | {duck_mb:.0f} | {spark_s:.1f} | {spark_mb:.0f} | {spark_s / duck_s:.1f}× |"
        )
        print(lines[-1], flush=True)
    (OUT / f"spark-{args.rows}{'-' + '-'.join(args.commands) if args.commands else ''}.md").write_text(
        "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    main()
