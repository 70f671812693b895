"""What a template sees of a customer, by hand; and which fields the templates ask for."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kvar.flows.profiles import profiles, template_fields
from kvar.flows.spec import read_flows
from kvar.flows.triggers import Tables

T = dt.datetime


def test_orders_last_order_plan_and_mrr_by_hand() -> None:
    tables = Tables(
        customers=pl.DataFrame({"customer_id": ["a", "b"], "first_name": ["Astrid", "Liam"]}),
        transactions=pl.DataFrame(
            {
                "customer_id": ["a", "a", "a", "b"],
                "occurred_at": [T(2024, 1, 5), T(2024, 2, 9), T(2024, 3, 20), T(2024, 1, 1)],
                "amount": [10.0, 25.0, 99.0, 5.0],  # a's March order is after as_of: not seen yet
            }
        ),
        subscriptions=pl.DataFrame(
            {
                "customer_id": ["a", "a", "b"],
                "plan": ["pro", "addon", "basic"],
                "started_at": [T(2023, 12, 1), T(2024, 1, 10), T(2023, 1, 1)],
                "ended_at": [None, None, T(2024, 1, 1)],  # b ended before as_of
                "mrr": [79.0, 10.0, 29.0],
            }
        ),
    )
    people = profiles(tables, ["a", "b"], as_of=T(2024, 3, 1), fields=set())
    a, b = people["a"], people["b"]
    assert (a["first_name"], a["orders"], a["spent"]) == ("Astrid", 2, 35.0)
    assert a["last_order"] == {"occurred_at": T(2024, 2, 9), "amount": 25.0}
    assert (a["plan"], a["mrr"]) == ("pro", 89.0)  # the largest subscription's plan, MRR summed
    assert "mrr" not in b and b["orders"] == 1  # no active subscription on 1 March


def test_the_fields_a_template_reads_are_found_in_its_syntax(tmp_path) -> None:
    (tmp_path / "flows.yaml").write_text(
        """
channels:
  email: {smtp_url: "smtp://127.0.0.1:2525", from: "Shop <hello@shop.example>"}
flows:
  - name: winback
    trigger: {inactive_for: 60d}
    steps: [{email: {template: w.html.j2, subject: "{{ customer.first_name }}, a gift"}}]
"""
    )
    (tmp_path / "w.html.j2").write_text("{{ customer['segment'] }} {% for r in customer.reasons %}{{ r }}{% endfor %}")
    assert template_fields(read_flows(tmp_path / "flows.yaml")) == {"first_name", "segment", "reasons"}


@pytest.mark.slow  # fits BG/NBD and Gamma-Gamma on CDNOW, the churn-risk model on the demo business
def test_segment_clv_risk_and_reasons(demo_tables, data_dir, con) -> None:
    import kvar

    cdnow = con.table(kvar.load_file(con, "transactions", data_dir / "CDNOW_sample.txt").accepted_table)
    bought = profiles(Tables(transactions=cdnow), ["0001", "0002"], as_of=T(1998, 7, 1))
    assert all(p["segment"] and p["clv"] >= 0 for p in bought.values())
    tables = Tables(**{name: demo_tables[name] for name in ("transactions", "subscriptions", "events", "customers")})
    people = profiles(tables, ["C00001", "C00002", "C00003"], as_of=T(2026, 7, 1))
    # Monthly subscription charges are too regular for BG/NBD, which refuses them: no CLV rather than a wrong one
    assert not any("clv" in p for p in people.values())
    scored = [p for p in people.values() if "risk" in p]
    assert scored and all(0 <= p["risk"] <= 1 and isinstance(p["reasons"], list) for p in scored)
