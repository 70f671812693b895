"""The durable worker against a real SMTP server: what is due goes out once, however often the worker runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from kvar.flows.ledger import Ledger
from kvar.flows.spec import read_flows
from kvar.flows.triggers import Tables
from kvar.flows.worker import durable, run_once

T = dt.datetime
pytestmark = pytest.mark.slow  # each test starts DBOS and a mail server: the full suite runs them


def _shop(tmp_path: Path, port: int) -> tuple[object, Tables]:
    (tmp_path / "flows.yaml").write_text(
        f"""
channels:
  email: {{smtp_url: "smtp://127.0.0.1:{port}", from: "Shop <hello@shop.example>"}}
flows:
  - name: welcome
    trigger: {{acquired: true}}
    steps: [{{email: {{template: welcome.html.j2, subject: "Welcome, {{{{ customer.first_name }}}}"}}}}]
"""
    )
    (tmp_path / "welcome.html.j2").write_text("<p>Hello {{ customer.first_name }}, welcome to the shop.</p>")
    people = [f"c{n:03d}" for n in range(120)]
    transactions = pl.DataFrame(
        {"customer_id": people, "occurred_at": [T(2024, 3, 10, 9) + dt.timedelta(minutes=n) for n in range(120)]}
    )
    customers = pl.DataFrame(
        {"customer_id": people, "email": [f"{p}@example.se" for p in people], "first_name": [p.upper() for p in people]}
    )
    return read_flows(tmp_path / "flows.yaml"), Tables(transactions=transactions, customers=customers)


def test_due_messages_go_out_once_however_often_the_worker_runs(tmp_path, mail_server) -> None:
    inbox, port = mail_server
    flows, tables = _shop(tmp_path, port)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    listed = tmp_path / "suppressions.sqlite"
    with durable(url):
        first = run_once(flows, tables, Ledger(url), as_of=T(2024, 3, 11), suppressed=listed)
    with durable(url):  # a second run, as after a restart, over the same day: nothing is sent again
        again = run_once(flows, tables, Ledger(url), as_of=T(2024, 3, 11), since=T(2024, 3, 10), suppressed=listed)
    status = Ledger(url).status()
    assert first.rows == [
        {
            "flow": "welcome",
            "delivered": 120,
            "bounced": 0,
            "failed": 0,
            "disabled": 0,
            "dead": 0,
            "cancelled": 0,
            "suppressed": 0,
            "due": 120,
        }
    ]
    assert again.rows[0]["due"] == 0  # every message of that day is settled
    assert status == [
        {
            "flow": "welcome",
            "entered": 120,
            "scheduled": 0,
            "deferred": 0,
            "sent": 120,
            "bounced": 0,
            "failed": 0,
            "disabled": 0,
            "dead": 0,
            "cancelled": 0,
            "suppressed": 0,
            "capped": 0,
            "held_out": 0,
            "in_holdout": 0,
        }
    ]
    assert len(inbox.messages) == 120 and len({m["Message-ID"] for m in inbox.messages}) == 120
    one = next(m for m in inbox.messages if m["To"] == "c007@example.se")
    assert one["Subject"] == "Welcome, C007"
    assert "Hello C007, welcome" in one.get_body(("html",)).get_content()


def test_kvar_flows_run_once_sends_and_a_rerun_sends_nothing(tmp_path, mail_server) -> None:
    import json

    from typer.testing import CliRunner

    from kvar import Workspace
    from kvar.cli import app

    inbox, port = mail_server
    _, tables = _shop(tmp_path, port)
    tables.transactions.head(3).write_csv(tmp_path / "transactions.csv")
    tables.customers.head(3).write_csv(tmp_path / "customers.csv")
    with Workspace.create(tmp_path / "shop.duckdb") as space:
        space.load("transactions", tmp_path / "transactions.csv", {})
        space.load("customers", tmp_path / "customers.csv", {})
    command = [
        "flows",
        "run",
        str(tmp_path / "flows.yaml"),
        "--workspace",
        str(tmp_path / "shop.duckdb"),
        "--once",
        "--json",
    ]
    first = CliRunner().invoke(app, command)
    again = CliRunner().invoke(app, command)
    refused = CliRunner().invoke(app, command[:-2])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["rows"][0]["delivered"] == 3 and len(inbox.messages) == 3
    assert again.exit_code == 0 and len(inbox.messages) == 3  # nothing twice
    assert (tmp_path / "shop.flows.sqlite").exists()  # DBOS's state beside the workspace, not in it
    assert refused.exit_code == 2 and "--once" in refused.output
    shown = CliRunner().invoke(app, ["flows", "status", "--workspace", str(tmp_path / "shop.duckdb"), "--json"])
    assert shown.exit_code == 0, shown.output
    assert [(r["flow"], r["entered"], r["sent"]) for r in json.loads(shown.stdout)["rows"]] == [("welcome", 3, 3)]


def test_the_suppression_list_is_checked_when_sending_and_learns_hard_bounces(tmp_path, mail_server) -> None:

    from kvar.flows.suppressions import Suppressions

    inbox, port = mail_server
    flows, tables = _shop(tmp_path, port)
    people = tables.customers.head(4).with_columns(
        email=pl.Series(["c000@example.se", "c001@example.se", "gone@refused.example", "c003@example.se"])
    )
    tables = Tables(transactions=tables.transactions.head(4), customers=people)
    listed = Suppressions(tmp_path / "suppressions.sqlite")
    listed.add("c000", "unsubscribed")  # a marketing flow: not sent
    listed.add("c001", "manual", "sms")  # another channel: sent
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with durable(url):
        summary = run_once(flows, tables, Ledger(url), as_of=T(2024, 3, 11), suppressed=listed.path)
    (row,) = summary.rows
    assert (row["delivered"], row["suppressed"], row["bounced"]) == (2, 1, 1)
    assert sorted(m["To"] for m in inbox.messages) == ["c001@example.se", "c003@example.se"]
    assert listed.blocks("c002", "email", marketing=False) == "hard_bounce"  # learnt from the 550
    assert listed.blocks("c000", "email", marketing=False) is None  # unsubscribed still gets receipts


def test_kvar_suppress_add_list_remove(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from kvar.cli import app

    runner, workspace = CliRunner(), str(tmp_path / "shop.duckdb")
    assert (
        runner.invoke(app, ["suppress", "add", "C1", "--workspace", workspace, "--reason", "complaint"]).exit_code == 0
    )
    assert runner.invoke(app, ["suppress", "add", "C2", "--workspace", workspace, "--reason", "angry"]).exit_code == 2
    listed = json.loads(runner.invoke(app, ["suppress", "list", "--workspace", workspace, "--json"]).stdout)
    assert [(r["customer_id"], r["channel"], r["reason"]) for r in listed["rows"]] == [("C1", "*", "complaint")]
    assert runner.invoke(app, ["suppress", "remove", "C1", "--workspace", workspace]).exit_code == 0
    assert runner.invoke(app, ["suppress", "remove", "C1", "--workspace", workspace]).exit_code == 2
    assert (tmp_path / "shop.suppressions.sqlite").exists()


def test_a_template_failing_for_one_customer_dead_letters_that_message_only(tmp_path, mail_server) -> None:
    inbox, port = mail_server
    flows, tables = _shop(tmp_path, port)
    (tmp_path / "welcome.html.j2").write_text("<p>{{ 100 // customer.discount }} % off, {{ customer.first_name }}</p>")
    people = tables.customers.head(3).with_columns(discount=pl.Series([10, 0, 20]))  # c001: division by zero
    tables = Tables(transactions=tables.transactions.head(3), customers=people)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with durable(url):
        summary = run_once(flows, tables, Ledger(url), as_of=T(2024, 3, 11), suppressed=tmp_path / "s.sqlite")
    assert (summary.rows[0]["delivered"], summary.rows[0]["dead"]) == (2, 1)
    assert sorted(m["To"] for m in inbox.messages) == ["c000@example.se", "c002@example.se"]
    (dead,) = [row for row in _messages(url) if row["status"] == "dead"]
    assert dead["customer_id"] == "c001" and "ZeroDivisionError" in dead["detail"]


def _messages(url: str) -> list[dict[str, object]]:
    import sqlalchemy as sa

    from kvar.flows.ledger import MESSAGES

    with Ledger(url).engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.select(MESSAGES))]


def _crm(tmp_path: Path, port: int, customers: int) -> tuple[object, Tables]:
    (tmp_path / "flows.yaml").write_text(
        f"""
channels:
  crm: {{webhook_url: "http://127.0.0.1:{port}/kvar", secret_env: KVAR_TEST_SECRET}}
flows:
  - name: handoff
    trigger: {{acquired: true}}
    steps: [{{webhook: {{channel: crm}}}}]
"""
    )
    people = [f"c{n:03d}" for n in range(customers)]
    transactions = pl.DataFrame({"customer_id": people, "occurred_at": [T(2024, 3, 10, 9)] * customers})
    return read_flows(tmp_path / "flows.yaml"), Tables(transactions=transactions)


def test_a_webhook_outage_delays_messages_by_the_retry_schedule_and_loses_none(tmp_path, receiver) -> None:
    import time

    server, channel = receiver
    server.answers.extend([(500, {}, 0)] * 3)  # down for the first three requests, then up
    flows, tables = _crm(tmp_path, server.server_port, 4)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    began = time.perf_counter()
    with durable(url):
        summary = run_once(flows, tables, Ledger(url), as_of=T(2024, 3, 11), suppressed=tmp_path / "s.sqlite")
    took = time.perf_counter() - began
    assert summary.rows[0]["delivered"] == 4
    ids = [headers["webhook-id"] for headers, _ in server.requests]
    assert len(ids) == 7 and len(set(ids)) == 4  # three retried once, with the same webhook-id
    assert took < 1.2 + 4  # the first retry waits at most 1.2 s (1 s ± 20 %)


def test_a_410_disables_the_endpoint_after_one_attempt(tmp_path, receiver) -> None:
    from kvar.flows.suppressions import Suppressions

    server, channel = receiver
    server.answers.append((410, {}, 0))
    flows, tables = _crm(tmp_path, server.server_port, 3)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with durable(url, concurrency=1):  # one at a time, so that the first answer is known before the next goes
        summary = run_once(flows, tables, Ledger(url), as_of=T(2024, 3, 11), suppressed=tmp_path / "s.sqlite")
    assert summary.rows[0]["disabled"] == 3 and len(server.requests) == 1
    assert "410" in (Suppressions(tmp_path / "s.sqlite").channel_disabled("crm") or "")


def test_kvar_flows_run_loop_keeps_sending_at_the_current_time_until_stopped(tmp_path, mail_server) -> None:
    import signal
    import subprocess
    import sys
    import threading
    import time

    from kvar import Workspace

    inbox, port = mail_server
    _, tables = _shop(tmp_path, port)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    recent = tables.transactions.head(5).with_columns(occurred_at=pl.lit(now - dt.timedelta(hours=2)))
    recent.write_csv(tmp_path / "transactions.csv")
    tables.customers.head(5).write_csv(tmp_path / "customers.csv")
    with Workspace.create(tmp_path / "shop.duckdb") as space:
        space.load("transactions", tmp_path / "transactions.csv", {})
        space.load("customers", tmp_path / "customers.csv", {})
    command = [sys.executable, "-m", "kvar", "flows", "run", str(tmp_path / "flows.yaml")]
    worker = subprocess.Popen(
        [*command, "--workspace", str(tmp_path / "shop.duckdb"), "--loop", "--every", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    documents: list[bytes] = []  # one JSON document per run, read as the worker writes them
    reader = threading.Thread(target=lambda: documents.extend(iter(worker.stdout.readline, b"")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while len(inbox.messages) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    runs = max(3, len(documents) + 2)  # the run that sent (its document may still be on its way) and two more
    while len(documents) < runs and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    reader.join(timeout=10)
    assert worker.returncode == 0, err.decode()[-2000:]
    assert sorted(m["To"] for m in inbox.messages) == [f"c00{n}@example.se" for n in range(5)]
    assert sum(document.count(b'"command": "flows run"') for document in documents) >= 3


def test_a_state_database_that_cannot_be_opened_is_named_in_one_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from kvar.cli import app

    base = ["flows", "status", "--workspace", str(tmp_path / "shop.duckdb"), "--state"]
    for url, expected in (
        ("mysql://shop", "expected sqlite:///FILE or postgresql://"),
        (f"sqlite:///{tmp_path}/missing/folder/state.sqlite", "cannot be opened"),
    ):
        result = CliRunner().invoke(app, [*base, url])
        assert result.exit_code == 2 and expected in result.output and "bug in kvar" not in result.output
