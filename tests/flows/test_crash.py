"""Crash tests: the worker killed with SIGKILL at random moments, again and again, then left to finish.

2,000 messages (1,000 customers, a two-step flow) go to a real SMTP server in this process. Every message must
arrive (0 lost), and once each after de-duplication on its ``Message-ID`` (the idempotency key); deliveries
repeated by a crash between the server's acceptance and DBOS recording it are counted and reported. The same
with two workers on one PostgreSQL server, both killed at random.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from .postgres import throwaway_postgres
from .test_delivery import Inbox

pytestmark = pytest.mark.slow

CUSTOMERS = 1_000
KILLS = 20
AS_OF = "2024-03-12T00:00:00"


def _shop(folder: Path, port: int) -> Path:
    """A workspace of 1,000 customers acquired on 10 March 2024, and a welcome flow of two e-mails."""
    from kvar import Workspace

    (folder / "flows.yaml").write_text(
        f"""
channels:
  email: {{smtp_url: "smtp://127.0.0.1:{port}", from: "Shop <hello@shop.example>"}}
flows:
  - name: welcome
    trigger: {{acquired: true}}
    steps:
      - email: {{template: welcome.html.j2, subject: "Welcome, {{{{ customer.first_name }}}}"}}
      - wait: 1h
      - email: {{template: welcome.html.j2, subject: "Getting started, {{{{ customer.first_name }}}}"}}
"""
    )
    (folder / "welcome.html.j2").write_text("<p>Hello {{ customer.first_name }}.</p>")
    people = [f"c{n:04d}" for n in range(CUSTOMERS)]
    start = dt.datetime(2024, 3, 10, 8)
    pl.DataFrame(
        {
            "customer_id": people,
            "occurred_at": [start + dt.timedelta(seconds=30 * n) for n in range(CUSTOMERS)],
            "amount": [10.0] * CUSTOMERS,
        }
    ).write_csv(folder / "transactions.csv")
    pl.DataFrame(
        {"customer_id": people, "email": [f"{p}@example.se" for p in people], "first_name": [p.upper() for p in people]}
    ).write_csv(folder / "customers.csv")
    with Workspace.create(folder / "shop.duckdb") as space:
        space.load("transactions", folder / "transactions.csv", {})
        space.load("customers", folder / "customers.csv", {})
    return folder / "shop.duckdb"


def _worker(folder: Path, workspace: Path, state: str, name: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "kvar", "flows", "run", str(folder / "flows.yaml"), "--workspace", str(workspace)]
    command += ["--once", "--as-of", AS_OF, "--since", "2024-03-10", "--state", state, "--worker", name, "--json"]
    with (folder / f"{name}.log").open("ab") as log:  # a file, not a pipe: a full pipe would stall the worker
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)


def _kill_at_random(started: subprocess.Popen[bytes], inbox: Inbox, rng: random.Random) -> bool:
    """Let the worker send for a random while, then SIGKILL it; whether it was killed before it finished."""
    before = len(inbox.messages)
    deadline = time.monotonic() + 30
    while len(inbox.messages) == before and started.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # wait for it to start sending, so the kill lands amid deliveries
    time.sleep(rng.uniform(0.0, 0.8))
    finished = started.poll() is not None
    started.kill()
    started.wait()
    return not finished


def _check(inbox: Inbox) -> Counter[str]:
    ids = Counter(message["Message-ID"] for message in inbox.messages)
    assert len(ids) == 2 * CUSTOMERS  # 0 lost
    subjects = Counter(message["Subject"].split(",")[0] for message in inbox.messages)
    assert set(subjects) == {"Welcome", "Getting started"}
    per_customer = Counter(message["To"] for message in {m["Message-ID"]: m for m in inbox.messages}.values())
    assert set(per_customer.values()) == {2}  # after de-duplication: each customer both messages, once
    return ids


def _report(title: str, ids: Counter[str], kills: int) -> None:
    repeated = sum(count - 1 for count in ids.values())
    print(f"\n{title}: {kills} kills, {len(ids)} unique messages, 0 lost, {repeated} raw duplicate deliveries")


def test_a_worker_killed_20_times_loses_nothing_and_sends_nothing_twice(tmp_path, mail_server) -> None:
    inbox, port = mail_server
    rng = random.Random(20241)
    workspace = _shop(tmp_path, port)
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    kills = 0
    while kills < KILLS and len({m["Message-ID"] for m in inbox.messages}) < 2 * CUSTOMERS:
        kills += _kill_at_random(_worker(tmp_path, workspace, state, "w1"), inbox, rng)
    last = _worker(tmp_path, workspace, state, "w1")
    assert last.wait(timeout=300) == 0, (tmp_path / "w1.log").read_text()[-3000:]
    assert kills >= KILLS
    _report("SQLite, one worker", _check(inbox), kills)


def test_two_workers_on_postgresql_killed_at_random_lose_nothing(tmp_path, mail_server) -> None:
    inbox, port = mail_server
    rng = random.Random(20242)
    with throwaway_postgres() as state:
        workspace = _shop(tmp_path, port)
        kills = 0
        while kills < KILLS and len({m["Message-ID"] for m in inbox.messages}) < 2 * CUSTOMERS:
            pair = [_worker(tmp_path, workspace, state, name) for name in ("w1", "w2")]
            victim = rng.choice(pair)
            kills += _kill_at_random(victim, inbox, rng)
            for other in pair:
                if other is not victim:
                    time.sleep(rng.uniform(0.0, 0.3))
                    kills += _kill_at_random(other, inbox, rng) if other.poll() is None else 0
        last = [_worker(tmp_path, workspace, state, name) for name in ("w1", "w2")]
        for name, worker in zip(("w1", "w2"), last, strict=True):
            assert worker.wait(timeout=300) == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
    assert kills >= KILLS
    _report("PostgreSQL, two workers", _check(inbox), kills)
