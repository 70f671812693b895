"""What reading Nordic number and date formats costs: kvar's loading of a Norwegian Excel-style export next to
the same rows as a plain export, and next to the obvious alternatives.

For each size (default 1M and 10M transactions) the script writes the same generated rows twice: ``plain.csv``
(``,``, decimal point, ISO dates) and ``nordic.csv`` (``;``, decimal comma, thousands grouped by a no-break
space, Unicode minus on refunds, day-first dates ``31.01.2024``, UTF-8 with BOM). Each run is its own child
process, so the peak resident memory it reports is its own:

* ``kvar plain`` / ``kvar nordic``: :func:`kvar.load_file` into an in-memory DuckDB (every rule, detection,
  rejects) -- the difference is what the per-column format detection and parsing cost;
* ``duckdb nordic``: DuckDB's own ``read_csv`` with ``decimal_separator=','`` into a table, hand-written casts
  (no validation, no rejects; DuckDB has no thousands grouping, so the spaces are stripped in SQL);
* ``pandas nordic``: ``pandas.read_csv(sep=';', decimal=',', thousands='\\xa0')`` and ``to_datetime`` with the
  day-first format.

All four are checked to give the same row count and amount total before timings are printed.
Run: ``python benchmarks/bench_nordic_loading.py --rows 1000000 10000000``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
OUT = HERE / "out"
RUNS = ("kvar plain", "kvar nordic", "duckdb nordic", "pandas nordic")


def generate(rows: int, folder: Path, seed: int = 1) -> None:
    """The same transactions as a plain export and as a Norwegian Excel-style one."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    customers = rng.integers(0, max(rows // 10, 1), rows)
    days = np.datetime64("2023-01-01") + rng.integers(0, 730, rows).astype("timedelta64[D]")
    cents = np.round(rng.gamma(2.0, 2000.0, rows) * 100).astype(np.int64) * np.where(rng.random(rows) < 0.02, -1, 1)
    ids = pa.array(np.char.add("K", customers.astype(str)))
    stamps = pa.array(days.astype("datetime64[s]"))
    plain = pa.table(
        {
            "customer_id": ids,
            "occurred_at": pc.strftime(stamps, "%Y-%m-%d"),
            "amount": pa.array(np.char.mod("%.2f", cents / 100)),
        }
    )
    pcsv.write_csv(plain, folder / "plain.csv", pcsv.WriteOptions(quoting_style="none"))
    whole, fraction = np.abs(cents) // 100, np.abs(cents) % 100
    pad = lambda values, width: pc.utf8_lpad(pa.array(values.astype(str)), width, "0")  # noqa: E731
    grouped = pc.if_else(
        pa.array(whole >= 1000),
        pc.binary_join_element_wise(pa.array((whole // 1000).astype(str)), pad(whole % 1000, 3), "\u00a0"),
        pa.array(whole.astype(str)),
    )
    signed = pc.if_else(pa.array(cents < 0), pc.binary_join_element_wise("\u2212", grouped, ""), grouped)
    amount = pc.binary_join_element_wise(signed, pad(fraction, 2), ",")
    nordic = pa.table({"kundenr": ids, "dato": pc.strftime(stamps, "%d.%m.%Y"), "beløp": amount})
    path = folder / "nordic.csv"
    pcsv.write_csv(nordic, path, pcsv.WriteOptions(delimiter=";", quoting_style="none"))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def run(name: str, folder: Path) -> dict[str, float]:
    """One implementation on the files in ``folder``: seconds, rows and the amount total."""
    started = time.perf_counter()
    if name.startswith("kvar"):
        import duckdb

        from kvar import load_file

        con = duckdb.connect()
        if name == "kvar plain":
            result = load_file(con, "transactions", folder / "plain.csv")
        else:
            result = load_file(
                con,
                "transactions",
                folder / "nordic.csv",
                {"customer_id": "kundenr", "occurred_at": "dato", "amount": "beløp"},
            )
        rows, total = con.execute(f'SELECT count(*), sum(amount) FROM "{result.accepted_table}"').fetchone()
    elif name == "duckdb nordic":
        import duckdb

        con = duckdb.connect()
        con.execute(f"""CREATE TABLE t AS SELECT kundenr AS customer_id, strptime(dato, '%d.%m.%Y') AS occurred_at,
                        CAST(replace(replace(replace("beløp", chr(160), ''), '−', '-'), ',', '.') AS DOUBLE) AS amount
                        FROM read_csv('{folder / "nordic.csv"}', delim=';', header=true, all_varchar=true)""")
        rows, total = con.execute("SELECT count(*), sum(amount) FROM t").fetchone()
    else:
        import pandas as pd

        frame = pd.read_csv(
            folder / "nordic.csv",
            sep=";",
            decimal=",",
            thousands="\u00a0",
            encoding="utf-8-sig",
            dtype={"kundenr": str, "dato": str, "beløp": str},
        )
        frame["beløp"] = pd.to_numeric(
            frame["beløp"].str.replace("\u00a0", "").str.replace("\u2212", "-").str.replace(",", ".")
        )
        frame["dato"] = pd.to_datetime(frame["dato"], format="%d.%m.%Y")
        rows, total = len(frame), float(frame["beløp"].sum())
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": int(rows), "total": round(float(total), 2), "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--child", nargs=2, metavar=("RUN", "FOLDER"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(run(options.child[0], Path(options.child[1]))))
        return
    OUT.mkdir(exist_ok=True)
    lines = ["| rows | run | seconds | peak MB | vs kvar plain |", "|---|---|---|---|---|"]
    for rows in options.rows:
        folder = OUT / f"nordic-{rows}"
        folder.mkdir(exist_ok=True)
        if not (folder / "nordic.csv").exists():
            generate(rows, folder)
        results = {
            name: json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--child", name, str(folder)], check=True, capture_output=True, text=True
                ).stdout
            )
            for name in RUNS
        }
        checks = {(result["rows"], round(result["total"], -2)) for result in results.values()}
        if len(checks) != 1:
            raise SystemExit(f"the runs disagree at {rows:,} rows: {results}")
        base = results["kvar plain"]["seconds"]
        for name, result in results.items():
            lines.append(
                f"| {rows:,} | {name} | {result['seconds']:.2f} | {result['peak_mb']:.0f} | {result['seconds'] / base:.2f}x |"
            )
            print(lines[-1], flush=True)
    (OUT / "nordic_loading.md").write_text("\n".join(lines) + "\n")
    print(f"written: {OUT / 'nordic_loading.md'}")


if __name__ == "__main__":
    main()
