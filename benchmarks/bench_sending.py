"""How fast one worker sends: ``kvar.flows.worker.run_once`` to a local SMTP sink (aiosmtpd), on SQLite.

Each run generates ``--customers`` customers acquired during one day, decides a one-step welcome flow for them and
sends every message through DBOS (one durable workflow per message, the state in a fresh SQLite file), then
runs again to show that a rerun sends nothing. Prints messages per second of the sending run.

Run: ``python benchmarks/bench_sending.py --customers 1000 5000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from aiosmtpd.controller import Controller

from kvar.flows.spec import read_flows
from kvar.flows.triggers import Tables
from kvar.flows.worker import durable, run_once


class Sink:
    """Counts what arrives."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.received += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    print(f"{'customers':>10} {'sent':>6} {'seconds':>8} {'messages/s':>11} {'rerun sent':>11}")
    try:
        for customers in args.customers:
            folder = Path(tempfile.mkdtemp())
            (folder / "flows.yaml").write_text(
                f'channels:\n  email: {{smtp_url: "smtp://127.0.0.1:{port}", from: "Shop <hi@shop.example>"}}\n'
                "flows:\n  - {name: welcome, trigger: {acquired: true}, steps: [{email: {template: w.html.j2}}]}\n"
            )
            (folder / "w.html.j2").write_text("<p>Hello {{ customer.first_name }}</p>")
            people = [f"c{n:06d}" for n in range(customers)]
            day = dt.datetime(2024, 3, 10)
            tables = Tables(
                transactions=pl.DataFrame(
                    {
                        "customer_id": people,
                        "occurred_at": [day + dt.timedelta(seconds=n % 86_000) for n in range(customers)],
                    }
                ),
                customers=pl.DataFrame({"customer_id": people, "email": [f"{p}@example.se" for p in people]}),
            )
            flows = read_flows(folder / "flows.yaml")
            before = sink.received
            with durable(f"sqlite:///{folder / 'state.sqlite'}"):
                began = time.perf_counter()
                run_once(flows, tables, as_of=day + dt.timedelta(days=1), suppressed=folder / "suppressions.sqlite")
                seconds = time.perf_counter() - began
                sent = sink.received - before
                run_once(flows, tables, as_of=day + dt.timedelta(days=1), suppressed=folder / "suppressions.sqlite")
                again = sink.received - before - sent
            print(f"{customers:>10,} {sent:>6,} {seconds:>8.2f} {sent / seconds:>11.0f} {again:>11,}")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
