"""A partitioned dataset of many small files, as a user's daily exports arrive, read as one table.

Writes (once, into ``benchmarks/out/``) ``--files`` CSV files of ``--rows-per-file`` transactions each,
one per day in ``day=YYYY-MM-DD/part-0.csv`` folders, each row with a unique ``transaction_id`` (so the
rule on repeated rows compares every file with those before it), and the same rows as one CSV file.
Then times, whole processes, alternated, median of ``--repeats``:

* ``kvar pareto --transactions FOLDER --json``: every file read and checked as if given alone, the
  folder's ``day`` a column, duplicates found across the files;
* ``kvar pareto --transactions ONE.csv --json``: the same rows in one file;
* a hand-written DuckDB job: the Pareto query of ``bench_cli`` over ``read_csv('FOLDER/*/*.csv')``,

checks that the three answers agree, and prints the time per file that reading a folder adds.

Run: ``python benchmarks/bench_file_sets.py --files 1000 --rows-per-file 1000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_cli import HAND, KVAR, PARETO_SQL, _pareto_kvar, _pareto_sql, run  # noqa: E402

HEADER = "transaction_id,customer_id,occurred_at,amount\n"


def write_set(files: int, rows_per_file: int, folder: Path, whole: Path) -> None:
    """``files`` daily files of ``rows_per_file`` rows under ``folder``, and all their rows in ``whole``."""
    chance = random.Random(11)
    customers = max(files * rows_per_file // 20, 1)
    lines: list[str] = []
    for number in range(files):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=number)
        part = [
            f"T{number}-{row},C{chance.randrange(customers)},{day} {chance.randrange(24):02d}:00:00,"
            f"{chance.randrange(100, 99_999) / 100:.2f}\n"
            for row in range(rows_per_file)
        ]
        (folder / f"day={day}").mkdir(parents=True, exist_ok=True)
        (folder / f"day={day}" / "part-0.csv").write_text(HEADER + "".join(part))
        lines.extend(part)
    whole.write_text(HEADER + "".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rows-per-file", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.files < 1 or args.rows_per_file < 1 or args.repeats < 1:
        parser.error("--files, --rows-per-file and --repeats: expected at least 1")
    folder = OUT / f"fileset-{args.files}x{args.rows_per_file}"
    whole = OUT / f"fileset-{args.files}x{args.rows_per_file}.csv"
    if not whole.exists():
        write_set(args.files, args.rows_per_file, folder, whole)
    times: dict[str, list[float]] = {"folder": [], "one file": [], "hand": []}
    answers = {}
    for _ in range(args.repeats):
        for name, location in (("folder", folder), ("one file", whole)):
            seconds, _, out = run([KVAR, "pareto", "--transactions", str(location), "--json"])
            times[name].append(seconds)
            answers[name] = _pareto_kvar(json.loads(out))
        reader = f"read_csv('{folder}/*/*.csv')"
        seconds, _, out = run(
            [sys.executable, "-c", HAND, "query", reader, ":memory:", PARETO_SQL, "tx", "transactions"]
        )
        times["hand"].append(seconds)
        answers["hand"] = _pareto_sql(json.loads(out))
    if len({json.dumps(answer) for answer in answers.values()}) != 1:
        raise SystemExit(f"the answers disagree: {answers}")
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.files:,} files of {args.rows_per_file:,} rows (median of {args.repeats}, whole processes):")
    for name, seconds in median.items():
        print(f"  {name:9} {seconds:6.2f} s")
    extra = (median["folder"] - median["one file"]) / args.files * 1000
    print(
        f"  reading a folder adds {extra:.1f} ms a file; kvar on the folder / hand-written = "
        f"{median['folder'] / median['hand']:.2f}×"
    )


if __name__ == "__main__":
    main()
