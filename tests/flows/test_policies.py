"""Property tests of the sending policies on a simulated clock, in three time zones across their DST changes.

Customers in Stockholm, New York and Sydney (whose clocks change on different dates, Sydney's the other way)
are acquired and fail payments at random instants around the changes; the flows are decided day by day, as a
worker would, with the decisions recorded in a ledger so that caps hold across runs. For every example:
no e-mail is scheduled inside the quiet hours on the customer's own clock; a deferred e-mail goes exactly when
the window opens; no customer gets more marketing e-mails in a local day or week than the caps allow; the
transactional flow is never capped or held out; nobody suppressed or held out is sent anything.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zoneinfo
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvar.flows.decide import GLOBAL_SALT, bucket, decide
from kvar.flows.ledger import Ledger
from kvar.flows.spec import read_flows
from kvar.flows.suppressions import Suppressions
from kvar.flows.triggers import Tables

ZONES = ("Europe/Stockholm", "America/New_York", "Australia/Sydney")
QUIET_START, QUIET_END = dt.time(21, 0), dt.time(8, 0)
FLOWS = """
channels:
  email: {smtp_url: "smtp://127.0.0.1:2525", from: "Shop <hello@shop.example>"}
policies:
  caps: {email: {per_day: 1, per_week: 2}}
  quiet_hours: {start: "21:00", end: "08:00", timezone: UTC}
  holdout: {global: 0.2}
flows:
  - name: welcome
    trigger: {acquired: true}
    holdout: 0.2
    steps: [{email: {template: n.html.j2}}, {wait: 1d}, {email: {template: n.html.j2}}]
  - name: tips
    trigger: {acquired: true}
    steps: [{email: {template: n.html.j2}}, {wait: 2d}, {email: {template: n.html.j2}}]
  - name: dunning
    kind: transactional
    trigger: {payment_failed: true}
    steps: [{email: {template: n.html.j2}}]
"""
#: The first days of the DST changes of 2024 in the three zones (Sydney leaves DST on 7 April, enters on 6 October).
CHANGES = (dt.datetime(2024, 3, 30), dt.datetime(2024, 4, 6), dt.datetime(2024, 10, 5), dt.datetime(2024, 10, 26))

customer = st.tuples(
    st.sampled_from(ZONES),
    st.integers(min_value=0, max_value=3 * 24 * 60 - 1),  # minutes into the three days around the change
    st.booleans(),  # also a failed payment that day
)


def _local(instant: dt.datetime, zone: str) -> dt.datetime:
    return instant.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def _quiet(clock: dt.time) -> bool:
    return clock >= QUIET_START or clock < QUIET_END


@pytest.mark.slow  # about 60 simulated weeks of daily runs
@settings(max_examples=60, deadline=None)
@given(
    change=st.sampled_from(CHANGES),
    people=st.lists(customer, min_size=1, max_size=30),
    suppressed=st.sets(st.integers(0, 29), max_size=5),
)
def test_quiet_hours_caps_exemptions_suppressions_and_holdouts_hold(change, people, suppressed) -> None:
    folder = Path(tempfile.mkdtemp())
    (folder / "flows.yaml").write_text(FLOWS)
    (folder / "n.html.j2").write_text("<p>Hi</p>")
    flows = read_flows(folder / "flows.yaml")
    ids = [f"p{n:02d}" for n in range(len(people))]
    acquired = [change + dt.timedelta(minutes=minute) for _, minute, _ in people]
    tables = Tables(
        transactions=pl.DataFrame({"customer_id": ids, "occurred_at": acquired}),
        payments=pl.DataFrame(
            {
                "payment_id": [f"x{n}" for n in range(len(ids))],
                "customer_id": ids,
                "occurred_at": [when + dt.timedelta(hours=1) for when in acquired],
                "amount": [10.0] * len(ids),
                "status": ["failed" if p[2] else "succeeded" for p in people],
            }
        ),
        customers=pl.DataFrame({"customer_id": ids, "timezone": [zone for zone, *_ in people]}),
    )
    listed = Suppressions(folder / "suppressions.sqlite")
    stopped = {ids[n] for n in suppressed if n < len(ids)}
    for person in stopped:
        listed.add(person, "manual")
    ledger = Ledger(f"sqlite:///{folder / 'state.sqlite'}")
    zone_of = dict(zip(ids, (zone for zone, *_ in people), strict=True))
    messages = []
    day = min(acquired).replace(hour=0, minute=0)
    while day < max(acquired) + dt.timedelta(days=2):  # a daily run, each deciding the day before it
        decided = decide(
            flows,
            tables,
            as_of=day + dt.timedelta(days=1),
            since=day,
            suppressions=listed,
            ledger=ledger,
            store=True,
        )
        ledger.record(decided.rows)
        messages += decided.rows
        day += dt.timedelta(days=1)
    ledger.close()

    sent = [m for m in messages if m["decision"] == "send"]
    for message in sent:
        local = _local(message["scheduled_at"], zone_of[message["customer_id"]])
        assert not _quiet(local.time()), message  # 0 sends in the quiet hours, whatever the DST
        if message["deferred"]:
            assert local.time() == QUIET_END, message  # deferred to the moment the window opens
            assert message["scheduled_at"] - message["occurred_at"] < dt.timedelta(days=3)
    marketing = [m for m in sent if m["flow"] != "dunning"]
    per_day = Counter(
        (m["customer_id"], _local(m["scheduled_at"], zone_of[m["customer_id"]]).date()) for m in marketing
    )
    per_week = Counter(
        (m["customer_id"], _local(m["scheduled_at"], zone_of[m["customer_id"]]).date().isocalendar()[:2])
        for m in marketing
    )
    assert max(per_day.values(), default=0) <= 1 and max(per_week.values(), default=0) <= 2  # 0 over a cap
    dunning = [m for m in messages if m["flow"] == "dunning"]
    assert all(m["decision"] in ("send", "suppressed") for m in dunning)  # exempt: never capped, never held out
    assert len(dunning) == sum(p[2] for p in people)
    assert not [m for m in sent if m["customer_id"] in stopped]  # 0 sends to the suppressed
    for message in sent:  # 0 messages to holdout members
        held_globally = message["flow"] != "dunning" and bucket(GLOBAL_SALT, message["customer_id"]) < 2_000
        held_by_flow = message["flow"] == "welcome" and bucket("welcome", message["customer_id"]) < 2_000
        assert not (held_globally or held_by_flow), message


def test_a_changed_holdout_share_never_reshuffles_anyone_already_assigned(tmp_path) -> None:
    from kvar.flows.decide import holdouts

    (tmp_path / "flows.yaml").write_text(FLOWS)
    (tmp_path / "n.html.j2").write_text("<p>Hi</p>")
    flows = read_flows(tmp_path / "flows.yaml")
    welcome = flows.flows[0]
    ledger = Ledger(f"sqlite:///{tmp_path / 'state.sqlite'}")
    first = holdouts(welcome, [f"c{n}" for n in range(2_000)], 0.2, ledger, store=True)
    widened = type(welcome)(**{**welcome.__dict__, "holdout": 0.5})  # the share raised from 20 % to 50 %
    again = holdouts(widened, [f"c{n}" for n in range(3_000)], 0.2, ledger, store=True)
    assert all(again[c] == first[c] for c in first)  # nobody seen before moves
    newcomers = [again[f"c{n}"] for n in range(2_000, 3_000)]
    assert 0.5 < sum(h is not None for h in newcomers) / 1_000 < 0.7  # newcomers follow the new share (+ global)
