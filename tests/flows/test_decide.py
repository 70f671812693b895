"""Decisions by hand: triggers, waits, quiet hours, caps, exempt flows and holdouts, on a few customers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from kvar.flows.decide import GLOBAL_SALT, bucket, decide
from kvar.flows.spec import read_flows
from kvar.flows.triggers import Tables

T = dt.datetime
FLOWS = """
channels:
  email: {smtp_url: "smtp://127.0.0.1:2525", from: "Shop <hello@shop.example>"}
policies:
  caps: {email: {per_day: 1}}
  quiet_hours: {start: "21:00", end: "08:00", timezone: Europe/Stockholm}
flows:
  - name: welcome
    trigger: {acquired: true}
    steps: [{email: {template: note.html.j2}}]
  - name: tips
    trigger: {acquired: true}
    steps: [{email: {template: note.html.j2}}]
  - name: winback
    trigger: {inactive_for: 60d}
    steps: [{email: {template: note.html.j2}}, {wait: 7d}, {email: {template: note.html.j2, unless: purchased}}]
  - name: anniversary
    trigger: {anniversary_of: acquired_at}
    steps: [{email: {template: note.html.j2}}]
  - name: dunning
    kind: transactional
    trigger: {payment_failed: true}
    steps: [{email: {template: note.html.j2}}]
"""


def _flows(tmp_path: Path) -> object:
    (tmp_path / "flows.yaml").write_text(FLOWS)
    (tmp_path / "note.html.j2").write_text("<p>Hello {{ customer.first_name }}</p>")
    return read_flows(tmp_path / "flows.yaml")


def test_the_day_s_messages_by_hand(tmp_path) -> None:
    purchases = [
        ("new", T(2024, 3, 10, 10, 0)),  # acquired during the day decided
        ("late", T(2024, 3, 10, 21, 30)),  # acquired at 22:30 in Stockholm: inside the quiet hours
        ("lapsed", T(2024, 1, 10, 9, 0)),  # 60 days later is 2024-03-10 09:00 (2024 is a leap year)
        ("loyal", T(2023, 3, 10, 12, 0)),  # a year on 2024-03-10 12:00, and active (bought on 1 February)
        ("loyal", T(2024, 2, 1, 12, 0)),
    ]
    transactions = pl.DataFrame(
        {"customer_id": [p[0] for p in purchases], "occurred_at": [p[1] for p in purchases], "amount": [10.0] * 5}
    )
    payments = pl.DataFrame({"customer_id": ["new"], "occurred_at": [T(2024, 3, 10, 15, 0)], "status": ["failed"]})
    decided = decide(
        _flows(tmp_path),
        Tables(transactions=transactions, payments=payments),
        as_of=T(2024, 3, 11),
        since=T(2024, 3, 10),
    )
    assert decided.skipped == {}
    rows = decided.rows
    got = [(r["flow"], r["step"], r["customer_id"], r["scheduled_at"], r["decision"]) for r in rows]
    assert got == [
        ("winback", 1, "lapsed", T(2024, 3, 10, 9, 0), "send"),
        ("welcome", 1, "new", T(2024, 3, 10, 10, 0), "send"),
        ("tips", 1, "new", T(2024, 3, 10, 10, 0), "capped"),  # one e-mail a day: welcome came first
        ("anniversary", 1, "loyal", T(2023, 3, 10, 12, 0).replace(year=2024), "send"),
        ("dunning", 1, "new", T(2024, 3, 10, 15, 0), "send"),  # transactional: exempt from the cap
        # 22:30 in Stockholm (UTC+1) waits for 08:00 there, 07:00 UTC; the tips e-mail is the second that day
        ("welcome", 1, "late", T(2024, 3, 11, 7, 0), "send"),
        ("tips", 1, "late", T(2024, 3, 11, 7, 0), "capped"),
        ("winback", 3, "lapsed", T(2024, 3, 17, 9, 0), "send"),  # after the 7-day wait
    ]
    late = next(r for r in rows if r["customer_id"] == "late" and r["flow"] == "welcome")
    assert "deferred by quiet hours from 22:30" in late["reason"]
    assert "unless purchased" in rows[-1]["reason"]
    assert len({r["occurrence"] for r in rows}) == 7  # one occurrence per flow and customer that fired


def test_deciding_twice_gives_the_same_messages(tmp_path) -> None:
    transactions = pl.DataFrame({"customer_id": ["a", "b"], "occurred_at": [T(2024, 3, 10, 11), T(2024, 3, 10, 12)]})
    flows = _flows(tmp_path)
    first = decide(flows, Tables(transactions=transactions), as_of=T(2024, 3, 11))
    again = decide(flows, Tables(transactions=transactions.reverse()), as_of=T(2024, 3, 11))
    assert first == again and first.rows
    assert first.skipped == {"dunning": "the payment_failed trigger needs payments"}


def test_holdout_buckets_are_stable_independent_and_the_right_share() -> None:
    customers = [f"C{number:06d}" for number in range(100_000)]
    global_share = sum(bucket(GLOBAL_SALT, c) < 500 for c in customers) / len(customers)
    flow_share = sum(bucket("winback", c) < 1000 for c in customers) / len(customers)
    both = sum(bucket(GLOBAL_SALT, c) < 500 and bucket("winback", c) < 1000 for c in customers) / len(customers)
    assert abs(global_share - 0.05) < 0.005 and abs(flow_share - 0.10) < 0.005
    assert abs(both - 0.005) < 0.001  # independent between salts


def test_kvar_flows_preview_on_a_workspace(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from kvar import Workspace
    from kvar.cli import app

    _flows(tmp_path)
    (tmp_path / "transactions.csv").write_text(
        "customer_id,occurred_at,amount\nnew,2024-03-10 10:00,10\nlapsed,2024-01-10 09:00,10\n"
    )
    with Workspace.create(tmp_path / "shop.duckdb") as space:
        space.load("transactions", tmp_path / "transactions.csv", {})
    result = CliRunner().invoke(
        app,
        ["flows", "preview", str(tmp_path / "flows.yaml"), "--workspace", str(tmp_path / "shop.duckdb"), "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # As of the end of the last observed day, 2024-03-11: the day before holds both occurrences.
    assert document["parameters"]["as_of"] == "2024-03-11T00:00:00"
    assert [(r["flow"], r["customer_id"], r["decision"]) for r in document["rows"]] == [
        ("winback", "lapsed", "send"),
        ("welcome", "new", "send"),
        ("tips", "new", "capped"),
        ("winback", "lapsed", "send"),
    ]
    assert document["skipped"] == {"dunning": "the payment_failed trigger needs payments"}


def test_an_anniversary_of_29_february_falls_on_28_february(tmp_path) -> None:
    from kvar.flows.triggers import occurrences
    from kvar.metrics.frames import rows_of

    subscriptions = pl.DataFrame(
        {
            "customer_id": ["leap", "gone"],
            "started_at": [T(2024, 2, 29, 10), T(2024, 2, 28, 9)],
            "ended_at": [None, T(2024, 12, 1)],  # gone is no customer on its anniversary
            "mrr": [10.0, 10.0],
        },
        schema_overrides={"ended_at": pl.Datetime("us")},
    )
    flow = next(flow for flow in _flows(tmp_path).flows if flow.name == "anniversary")
    fired = occurrences(flow, Tables(subscriptions=subscriptions), since=T(2025, 2, 28), as_of=T(2025, 3, 1))
    assert rows_of(fired) == [{"customer_id": "leap", "occurred_at": T(2025, 2, 28, 10)}]


def test_a_suppressed_customer_is_shown_as_such_in_the_decisions(tmp_path) -> None:
    from kvar.flows.suppressions import Suppressions

    transactions = pl.DataFrame({"customer_id": ["a", "b"], "occurred_at": [T(2024, 3, 10, 11), T(2024, 3, 10, 12)]})
    listed = Suppressions(tmp_path / "suppressions.sqlite")
    listed.add("a", "erased")
    rows = decide(_flows(tmp_path), Tables(transactions=transactions), as_of=T(2024, 3, 11), suppressions=listed).rows
    welcome = {row["customer_id"]: row for row in rows if row["flow"] == "welcome"}
    assert (welcome["a"]["decision"], welcome["b"]["decision"]) == ("suppressed", "send")
    assert welcome["a"]["reason"] == "on the suppression list: erased"


def test_two_occurrences_deferred_to_the_same_opening_meet_the_cap_in_order_of_their_instants(tmp_path) -> None:
    (tmp_path / "flows.yaml").write_text(
        """
channels:
  email: {smtp_url: "smtp://127.0.0.1:2525", from: "Shop <hello@shop.example>"}
policies:
  caps: {email: {per_day: 1}}
  quiet_hours: {start: "21:00", end: "08:00", timezone: UTC}
flows:
  - {name: detractors, trigger: {nps_detractor: true}, steps: [{email: {template: note.html.j2}}]}
"""
    )
    (tmp_path / "note.html.j2").write_text("<p>Sorry</p>")
    flows = read_flows(tmp_path / "flows.yaml")
    answers = [T(2024, 3, 10, 23), T(2024, 3, 10, 22)]  # both deferred to 08:00 on 11 March
    outcomes = []
    for order in (answers, answers[::-1]):
        feedback = pl.DataFrame(
            {"customer_id": ["c1", "c1"], "occurred_at": order, "kind": ["nps"] * 2, "score": [3, 2]}
        )
        rows = decide(flows, Tables(feedback=feedback), as_of=T(2024, 3, 11), since=T(2024, 3, 10)).rows
        outcomes.append([(r["occurred_at"], r["scheduled_at"], r["decision"]) for r in rows])
    assert (
        outcomes[0]
        == outcomes[1]
        == [
            (T(2024, 3, 10, 22), T(2024, 3, 11, 8), "send"),
            (T(2024, 3, 10, 23), T(2024, 3, 11, 8), "capped"),
        ]
    )
