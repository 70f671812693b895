"""How long deciding flows takes: kvar's triggers in DuckDB for 1M and 10M purchases, next to pandas.

For each size the script generates purchases of ``rows / 4`` customers (first purchases spread over three
years, then up to five more), loads them into an in-memory DuckDB, and times for one day (``--as-of``):

* ``kvar <trigger>``: :func:`kvar.flows.triggers.occurrences` for ``acquired``, ``inactive_for: 60d`` and
  ``anniversary_of`` (the engine's part: every customer examined, the day's occurrences out);
* ``kvar decide``: :func:`kvar.flows.decide.decide` on a file with the three flows (triggers, holdouts, quiet
  hours and caps for the day's messages);
* ``pandas inactive_for``: the obvious alternative for one trigger, ``groupby().max()`` on the purchases and a
  filter, checked to find the same customers.

Run: ``python benchmarks/bench_flows.py --rows 1000000 10000000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute

from kvar.flows.decide import decide
from kvar.flows.spec import read_flows
from kvar.flows.triggers import Tables, occurrences

AS_OF = dt.datetime(2025, 1, 1)
FLOWS = """
channels:
  email: {smtp_url: "smtp://127.0.0.1:2525", from: "Shop <hello@shop.example>"}
policies:
  caps: {email: {per_day: 1, per_week: 3}}
  quiet_hours: {start: "21:00", end: "08:00", timezone: Europe/Stockholm}
  holdout: {global: 0.05}
flows:
  - {name: welcome, trigger: {acquired: true}, steps: [{email: {template: note.j2}}]}
  - {name: winback, trigger: {inactive_for: 60d}, holdout: 0.1, steps: [{email: {template: note.j2}}, {wait: 7d}, {email: {template: note.j2}}]}
  - {name: anniversary, trigger: {anniversary_of: acquired_at}, steps: [{email: {template: note.j2}}]}
"""


def purchases(rows: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    customers = rows // 4
    first = AS_OF - dt.timedelta(days=3 * 365)
    start = rng.integers(0, 3 * 365 * 86400, customers)
    counts = rng.integers(1, 7, customers)
    owner = np.repeat(np.arange(customers), counts)[:rows]
    gaps = rng.exponential(45 * 86400, len(owner)).astype(np.int64)
    order = np.concatenate([np.arange(n) for n in counts])[: len(owner)]
    seconds = start[owner] + np.where(order == 0, 0, gaps * order)
    keep = seconds < 3 * 365 * 86400
    moments = np.datetime64(first, "s") + seconds[keep].astype("timedelta64[s]")
    return pa.table(
        {
            "customer_id": pa.array(np.char.add("C", owner[keep].astype(str))),
            "occurred_at": pa.array(moments.astype("datetime64[us]")),
            "amount": pa.array(np.round(rng.uniform(5, 200, int(keep.sum())), 2)),
        }
    )


def timed(action):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    (folder / "flows.yaml").write_text(FLOWS)
    (folder / "note.j2").write_text("Hello {{ customer.first_name }}")
    flows = read_flows(folder / "flows.yaml")
    since = AS_OF - dt.timedelta(days=1)
    print(f"{'rows':>12} {'customers':>10} {'run':<22} {'seconds':>8} {'found':>8}")
    for rows in args.rows:
        measure(flows, purchases(rows), rows, since)


def measure(flows: object, table: pa.Table, rows: int, since: dt.datetime) -> None:
    """Time every run on one generated table and print a line each."""
    tables = Tables(transactions=duckdb.connect().from_arrow(table))
    customers = len(pa.compute.unique(table.column("customer_id")))
    for flow in flows.flows:  # type: ignore[attr-defined]
        seconds, found = timed(
            lambda flow=flow: len(occurrences(flow, tables, since=since, as_of=AS_OF).to_native().fetchall())
        )
        print(f"{rows:>12,} {customers:>10,} {'kvar ' + flow.trigger:<22} {seconds:>8.2f} {found:>8,}")
    seconds, decided = timed(lambda: decide(flows, tables, as_of=AS_OF))  # type: ignore[arg-type]
    print(f"{rows:>12,} {customers:>10,} {'kvar decide':<22} {seconds:>8.2f} {len(decided.rows):>8,}")
    frame = table.to_pandas()

    def pandas_inactive() -> int:
        last = frame[frame["occurred_at"] < AS_OF].groupby("customer_id")["occurred_at"].max() + pd.Timedelta(days=60)
        return int(((last >= since) & (last < AS_OF)).sum())

    seconds, found = timed(pandas_inactive)
    print(f"{rows:>12,} {customers:>10,} {'pandas inactive_for':<22} {seconds:>8.2f} {found:>8,}")


if __name__ == "__main__":
    main()
