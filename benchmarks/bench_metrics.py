"""Wall time and peak memory of kvar's retention, cohorts and summary next to the obvious alternatives.

For each size (default 1M and 10M transactions) the script writes a Parquet file of generated
transactions (:class:`Customers`: about one customer per six or seven rows, two years), then runs each
(implementation, metric) pair in its own child process, so that the peak resident memory it reports belongs to that pair alone:

* ``kvar``: kvar's Narwhals metrics on a DuckDB relation (the default engine);
* ``sql``: a hand-written DuckDB SQL query returning the same result;
* ``pandas``: an idiomatic pandas implementation of the same definition.

Run: ``python benchmarks/bench_metrics.py --rows 1000000 10000000`` (add 100000000 if you have the time).
All three are checked to agree before timings are printed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
OUT = HERE / "out"
METRICS = ("retention", "cohorts", "summary")
IMPLEMENTATIONS = ("kvar", "sql", "pandas")
START = np.datetime64("2023-01-01T00:00:00")


#: Days the generated data spans.
DAYS = 730


class Customers:
    """Generated customers who buy as the BG/NBD model says people do, so that its fit has something to
    find: each arrives at a uniform moment of the two years and buys then; purchases follow at a rate
    drawn from a gamma distribution (about one a month on average), and after each purchase the customer
    leaves for good with a probability drawn from a beta distribution (one in ten on average). Purchases
    after the end of the two years are not seen. Amounts are gamma distributed (mean 40).

    :meth:`rows` hands out the purchases of successive customers, as many rows as asked for, so the row
    count is exact and the number of customers follows from it (about one per six or seven rows)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.next_id = 0

    def _batch(self, customers: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        arrival = rng.uniform(0, DAYS, customers)
        rate = rng.gamma(2.0, 0.016, customers)  # purchases per day
        leave = rng.beta(2.0, 18.0, customers)
        purchases = rng.geometric(leave)  # the purchase after which each customer leaves, unseen ones included
        ids = np.repeat(np.arange(customers), purchases)
        gaps = rng.exponential(1.0, ids.size) / rate[ids]
        first = np.concatenate(([0], np.cumsum(purchases)[:-1]))
        gaps[first] = 0.0  # the first purchase is on arrival
        elapsed = np.cumsum(gaps)
        elapsed -= np.repeat(elapsed[first], purchases)
        days = arrival[ids] + elapsed
        seen = days < DAYS
        return ids[seen] + self.next_id, days[seen]

    def rows(self, size: int) -> dict[str, np.ndarray]:
        """The next ``size`` rows: ``customer_id`` (text), ``occurred_at`` (to the second) and ``amount``."""
        ids, days = [], []
        while sum(map(len, ids)) < size:
            batch_ids, batch_days = self._batch(max(size // 8, 1))
            self.next_id = int(batch_ids.max()) + 1 if batch_ids.size else self.next_id
            ids.append(batch_ids)
            days.append(batch_days)
        kept = np.concatenate(ids)[:size], np.concatenate(days)[:size]
        self.next_id = int(kept[0][-1]) + 1  # a customer cut at the end does not continue in the next rows
        order = self.rng.permutation(size)  # rows in no particular order, as exports come
        return {
            "customer_id": np.char.add("C", kept[0][order].astype(str)),
            "occurred_at": (START + (kept[1][order] * 86400).astype("timedelta64[s]")).astype("datetime64[us]"),
            "amount": np.round(self.rng.gamma(2.0, 20.0, size), 2),
        }


def generate(rows: int, path: Path, seed: int = 1) -> None:
    """``rows`` transactions of generated :class:`Customers` as one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(Customers(np.random.default_rng(seed)).rows(rows))
    pq.write_table(table, path, row_group_size=1_000_000)


# --- the three implementations -------------------------------------------------------------------


def load_duckdb(path: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE tx AS SELECT * FROM read_parquet('{path}')").fetchall()
    return con


def run_kvar(metric: str, con: Any) -> Any:
    """kvar's metric on the DuckDB table, materialised as an Arrow table."""
    import kvar

    relation = con.table("tx")
    if metric == "retention":
        return kvar.retention_table(relation, period="month", inactivity="90d").to_arrow_table()
    if metric == "cohorts":
        return kvar.cohort_table(relation, period="month").to_arrow_table()
    return kvar.customer_summary(relation, freq="D").to_arrow_table()


def answer_kvar(metric: str, table: Any) -> list:
    rows = table.to_pylist()
    if metric == "retention":
        return [
            (r["period_start"], r["customers_start"], r["new_customers"], r["churned"], r["customers_end"])
            for r in rows
        ]
    if metric == "cohorts":
        return [(r["cohort"], r["period_offset"], r["value"]) for r in rows if r["value"]]
    return [len(rows), sum(r["frequency"] for r in rows), round(sum(r["T"] for r in rows), 3)]


RETENTION_SQL = """
WITH iv AS (SELECT customer_id, occurred_at AS s, occurred_at + INTERVAL 90 DAY AS e FROM tx),
marked AS (SELECT *, max(e) OVER (PARTITION BY customer_id ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach FROM iv),
numbered AS (SELECT *, sum(CASE WHEN reach IS NULL OR s > reach THEN 1 ELSE 0 END) OVER (PARTITION BY customer_id ORDER BY s, e) AS spell FROM marked),
spells AS (SELECT customer_id, min(s) AS ss, max(e) AS se FROM numbered GROUP BY customer_id, spell),
acquired AS (SELECT *, min(ss) OVER (PARTITION BY customer_id) AS acq FROM spells),
bounds AS (SELECT date_trunc('month', min(s)) AS first, date_trunc('day', max(s)) + INTERVAL 1 DAY AS as_of FROM iv),
cal AS (SELECT m AS ps, m + INTERVAL 1 MONTH AS pe FROM bounds, range(first, as_of, INTERVAL 1 MONTH) r(m) WHERE m + INTERVAL 1 MONTH <= as_of),
states AS (
  SELECT customer_id, ps, max((ss < ps)::INT) AS a0, max((se >= pe)::INT) AS a1
  FROM acquired JOIN cal ON ss < pe AND se >= ps GROUP BY customer_id, ps)
SELECT ps, sum(a0)::BIGINT, sum((a1 = 1 AND a0 = 0)::INT)::BIGINT, sum((a0 = 1 AND a1 = 0)::INT)::BIGINT, sum(a1)::BIGINT
FROM states GROUP BY ps ORDER BY ps
"""

COHORTS_SQL = """
WITH bounds AS (SELECT date_trunc('day', max(occurred_at)) + INTERVAL 1 DAY AS as_of FROM tx),
done AS (SELECT customer_id, occurred_at FROM tx, bounds WHERE date_trunc('month', occurred_at) + INTERVAL 1 MONTH <= as_of),
first AS (SELECT customer_id, min(date_trunc('month', occurred_at)) AS cohort FROM done GROUP BY customer_id)
SELECT cohort, datediff('month', cohort, date_trunc('month', occurred_at)) AS k, count(DISTINCT customer_id)
FROM done JOIN first USING (customer_id) GROUP BY 1, 2 ORDER BY 1, 2
"""

SUMMARY_SQL = """
WITH days AS (SELECT customer_id, date_trunc('day', occurred_at) AS d, sum(amount::DECIMAL(38, 10)) AS a
              FROM tx GROUP BY 1, 2),
last_day AS (SELECT max(d) AS end_day FROM days)
SELECT customer_id, count(*) - 1 AS frequency, datediff('day', min(d), max(d))::DOUBLE AS recency,
       datediff('day', min(d), any_value(end_day))::DOUBLE AS t,
       CASE WHEN count(*) > 1 THEN (sum(a) - arg_min(a, d))::DOUBLE / (count(*) - 1) ELSE 0 END AS monetary_value
FROM days, last_day GROUP BY customer_id ORDER BY customer_id
"""


def run_sql(metric: str, con: Any) -> Any:
    """The hand-written query, materialised as an Arrow table."""
    query = {"retention": RETENTION_SQL, "cohorts": COHORTS_SQL, "summary": SUMMARY_SQL}[metric]
    return con.sql(query).to_arrow_table()


def answer_sql(metric: str, table: Any) -> list:
    rows = [tuple(row.values()) for row in table.to_pylist()]
    if metric == "summary":
        return [len(rows), sum(row[1] for row in rows), round(float(sum(row[3] for row in rows)), 3)]
    return rows


def load_pandas(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path)


def run_pandas(metric: str, tx: Any) -> list:
    import pandas as pd

    as_of = tx["occurred_at"].max().normalize() + pd.Timedelta(days=1)
    if metric == "summary":
        tx["day"] = tx["occurred_at"].dt.normalize()
        days = tx.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
        per = days.groupby("customer_id")["day"].agg(["min", "max", "count"])
        end_day = days["day"].max()
        return [len(per), int((per["count"] - 1).sum()), round(float(((end_day - per["min"]).dt.days).sum()), 3)]
    months = pd.date_range(tx["occurred_at"].min().to_period("M").to_timestamp(), as_of, freq="MS")
    if metric == "cohorts":
        done = tx[tx["occurred_at"] < months[-1]].copy()
        done["month"] = done["occurred_at"].dt.to_period("M")
        done["cohort"] = done.groupby("customer_id")["month"].transform("min")
        done["k"] = (done["month"] - done["cohort"]).apply(lambda offset: offset.n)
        counts = done.groupby(["cohort", "k"])["customer_id"].nunique()
        return [(cohort.to_timestamp().to_pydatetime(), int(k), int(n)) for (cohort, k), n in counts.items()]
    iv = tx[["customer_id", "occurred_at"]].sort_values(["customer_id", "occurred_at"])
    iv["end"] = iv["occurred_at"] + pd.Timedelta(days=90)
    reach = iv.groupby("customer_id")["end"].shift(1)
    iv["spell"] = (reach.isna() | (iv["occurred_at"] > reach)).astype(int).groupby(iv["customer_id"]).cumsum()
    spells = iv.groupby(["customer_id", "spell"]).agg(ss=("occurred_at", "min"), se=("end", "max")).reset_index()
    out = []
    for low, high in itertools.pairwise(months):
        touching = spells[(spells["ss"] < high) & (spells["se"] >= low)]
        flags = pd.DataFrame(
            {"customer_id": touching["customer_id"], "a0": touching["ss"] < low, "a1": touching["se"] >= high}
        )
        per = flags.groupby("customer_id")[["a0", "a1"]].max()
        out.append(
            (
                low.to_pydatetime(),
                int(per["a0"].sum()),
                int((per["a1"] & ~per["a0"]).sum()),
                int((per["a0"] & ~per["a1"]).sum()),
                int(per["a1"].sum()),
            )
        )
    return out


#: implementation -> (load the data, compute the metric (timed), turn the result into a comparable answer)
RUNNERS = {
    "kvar": (load_duckdb, run_kvar, answer_kvar),
    "sql": (load_duckdb, run_sql, answer_sql),
    "pandas": (load_pandas, run_pandas, lambda metric, result: result),
}


def child(implementation: str, metric: str, path: Path) -> None:
    load, run, answer = RUNNERS[implementation]
    data = load(path)
    started = time.perf_counter()
    result = run(metric, data)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "result": repr(answer(metric, result))}))


def measure(implementation: str, metric: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", implementation, metric, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--skip-pandas-above", type=int, default=20_000_000, help="pandas is skipped for larger sizes")
    parser.add_argument("--child", nargs=3, metavar=("IMPL", "METRIC", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return
    OUT.mkdir(exist_ok=True)
    print(f"{'rows':>12} {'metric':<10} {'impl':<7} {'seconds':>9} {'peak MB':>9} {'vs sql':>8} {'pandas/kvar':>12}")
    for rows in args.rows:
        path = OUT / f"transactions_{rows}.parquet"
        if not path.exists():
            generate(rows, path)
        for metric in METRICS:
            results = {}
            for implementation in IMPLEMENTATIONS:
                if implementation == "pandas" and rows > args.skip_pandas_above:
                    continue
                results[implementation] = measure(implementation, metric, path)
            answers = {name: result["result"] for name, result in results.items()}
            if len(set(answers.values())) != 1:
                print(f"  !! {metric} results differ between {', '.join(answers)}", file=sys.stderr)
            for implementation, result in results.items():
                ratio = result["seconds"] / results["sql"]["seconds"]
                speedup = (
                    results["pandas"]["seconds"] / results["kvar"]["seconds"] if "pandas" in results else float("nan")
                )
                print(
                    f"{rows:>12,} {metric:<10} {implementation:<7} {result['seconds']:>9.2f} {result['peak_mb']:>9.0f} {ratio:>7.2f}x "
                    f"{speedup if implementation == 'kvar' else float('nan'):>11.1f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
