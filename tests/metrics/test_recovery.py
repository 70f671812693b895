"""Failed-payment recovery on a hand-made month of attempts, and the dunning schedule."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kvar.flows.dunning import dunning_schedule, expiry_notices
from kvar.metrics.recovery import payment_recovery

T = dt.datetime


def _attempts() -> pl.DataFrame:
    rows = [
        # invoice, customer, time, amount, status, code
        ("i1", "a", T(2024, 1, 1), 50.0, "failed", "insufficient_funds"),  # recovered on day 5
        ("i1", "a", T(2024, 1, 6), 50.0, "succeeded", None),
        ("i2", "b", T(2024, 1, 2), 80.0, "failed", "insufficient_funds"),  # paid on day 40: too late -> lost
        ("i2", "b", T(2024, 2, 11), 80.0, "succeeded", None),  # b came back: not involuntary churn
        ("i3", "c", T(2024, 1, 3), 30.0, "failed", "stolen_card"),  # hard, retried once anyway, lost
        ("i3", "c", T(2024, 1, 4), 30.0, "failed", "stolen_card"),
        ("i4", "d", T(2024, 2, 20), 20.0, "failed", None),  # window still open on 1 March
        ("i5", "e", T(2024, 1, 10), 40.0, "succeeded", None),  # never failed: not counted
    ]
    return pl.DataFrame(
        rows,
        schema=["invoice_id", "customer_id", "occurred_at", "amount", "status", "failure_code"],
        orient="row",
    ).with_columns(payment_id=pl.format("p{}", pl.int_range(pl.len())))


def test_recovery_by_hand() -> None:
    rows = {row["code"]: row for row in payment_recovery(_attempts(), window="30d", as_of=T(2024, 3, 1))}
    total = rows["total"]
    assert (total["failed_invoices"], total["recovered"], total["lost"], total["open"]) == (4, 1, 2, 1)
    assert total["recovered_amount"] == 50.0
    assert total["denominator"] == 3 and abs(total["recovery_rate"] - 100 / 3) < 1e-9
    assert total["involuntary_churn"] == 1  # c only: b paid again later
    stolen = rows["stolen_card"]
    assert stolen["hard_decline"] and stolen["hard_declines"] == 1 and stolen["retried_after_hard_decline"] == 1
    assert rows["unknown"]["open"] == 1 and rows["unknown"]["recovery_rate"] is None
    assert rows["insufficient_funds"]["recovery_rate"] == 50.0


def test_hard_declines_are_never_retried_and_notices_frame_the_final_attempt() -> None:
    day0 = T(2024, 1, 1, 9)
    assert [(s["day"], s["action"]) for s in dunning_schedule("lost_card", day0)] == [(0, "notice")]
    assert [(s["day"], s["action"]) for s in dunning_schedule("insufficient_funds", day0)] == [
        (0, "notice"),
        (3, "retry"),
        (5, "retry"),
        (6, "final_notice"),
        (7, "retry"),
    ]
    assert expiry_notices(T(2024, 6, 1)) == [T(2024, 5, 2), T(2024, 5, 17), T(2024, 5, 25)]


def test_kvar_recovery_states_its_denominator(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from kvar.cli import app

    _attempts().write_csv(tmp_path / "payments.csv")
    result = CliRunner().invoke(
        app, ["recovery", "--payments", str(tmp_path / "payments.csv"), "--as-of", "2024-03-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert "recovery window has closed" in shown["denominator"]
    assert "stolen_card" in shown["schedule"]["never_retried"]
    assert shown["rows"][-1]["code"] == "total" and shown["rows"][-1]["recovered"] == 1
