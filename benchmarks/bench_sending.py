"""How fast one worker sends: ``kvar.flows.worker.run_once`` to a local SMTP sink (aiosmtpd), on SQLite and on
PostgreSQL.

Each run generates ``--customers`` customers acquired during one day, decides a one-step welcome flow for them and
sends every message through DBOS (one durable workflow per message from the queue, ``--concurrency`` at a time,
the state in a fresh SQLite file or a throwaway PostgreSQL cluster made with ``initdb``), then runs again over
the same day to show that a rerun sends nothing. Prints messages per second of the sending run.

Run from the repository's root: ``python benchmarks/bench_sending.py --customers 1000 5000 --state sqlite postgres``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from kvar.flows.ledger import Ledger
from kvar.flows.spec import read_flows
from kvar.flows.triggers import Tables
from kvar.flows.worker import durable, run_once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--state", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The sink in its own process (aiosmtpd's discarding handler), as a mail server would be: it does not share
    # the worker's interpreter. Messages are counted from what the worker recorded as delivered.
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    )
    time.sleep(1.0)
    print(f"{'state':>8} {'customers':>10} {'sent':>6} {'seconds':>8} {'messages/s':>11} {'rerun sent':>11}")
    try:
        for state in args.state:
            with _state_database(state) as url:
                for customers in args.customers:
                    _run(state, url, customers, port, args.concurrency)
    finally:
        sink.terminate()


@contextmanager
def _state_database(state: str) -> Iterator[str | None]:
    """``None`` for a fresh SQLite file per run, or the URL of a throwaway PostgreSQL cluster."""
    if state == "sqlite":
        yield None
        return
    from tests.flows.postgres import throwaway_postgres

    with throwaway_postgres() as url:
        yield url


def _run(state: str, url: str | None, customers: int, port: int, concurrency: int) -> None:
    folder = Path(tempfile.mkdtemp())
    (folder / "flows.yaml").write_text(
        f'channels:\n  email: {{smtp_url: "smtp://127.0.0.1:{port}", from: "Shop <hi@shop.example>"}}\n'
        "flows:\n  - {name: welcome, trigger: {acquired: true}, steps: [{email: {template: w.html.j2}}]}\n"
    )
    (folder / "w.html.j2").write_text("<p>Hello {{ customer.first_name }}</p>")
    people = [f"{state}{customers}-{n:06d}" for n in range(customers)]
    day = dt.datetime(2024, 3, 10)
    tables = Tables(
        transactions=pl.DataFrame(
            {"customer_id": people, "occurred_at": [day + dt.timedelta(seconds=n % 86_000) for n in range(customers)]}
        ),
        customers=pl.DataFrame({"customer_id": people, "email": [f"{p}@example.se" for p in people]}),
    )
    flows = read_flows(folder / "flows.yaml")
    url = url or f"sqlite:///{folder / 'state.sqlite'}"
    ledger, listed, as_of = Ledger(url), folder / "suppressions.sqlite", day + dt.timedelta(days=1)
    with durable(url, concurrency=concurrency):
        began = time.perf_counter()
        sent = run_once(flows, tables, ledger, as_of=as_of, since=day, suppressed=listed).rows[0]["delivered"]
        seconds = time.perf_counter() - began
        again = run_once(flows, tables, ledger, as_of=as_of, since=day, suppressed=listed).rows[0]["delivered"]
    ledger.close()
    print(f"{state:>8} {customers:>10,} {sent:>6,} {seconds:>8.2f} {sent / seconds:>11.0f} {again:>11,}")


if __name__ == "__main__":
    main()
