"""Named churn definitions pinned by a hand-computed month, and the reconciliation's causes adding up exactly."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from kvar import load_file, retention_table, rows_of
from kvar.cli import app
from kvar.data.demo import generate
from kvar.errors import ParameterError
from kvar.metrics.definitions import (
    CAUSES,
    PRESETS,
    compare_definitions,
    define,
    definitions_named,
)

from .test_boundaries import subscriptions

D = dt.datetime
JANUARY = D(2024, 1, 1)
# One month, January 2024, with one customer per case the vendors' wordings tell apart.
CASES = [
    ("stays", D(2023, 12, 1), None),
    ("returns", D(2023, 12, 1), D(2024, 1, 15)),
    ("returns", D(2024, 1, 20), None),  # leaves and comes back
    ("joins_and_leaves", D(2024, 1, 5), D(2024, 1, 25)),
    ("ends_at_feb_1", D(2023, 12, 1), D(2024, 2, 1)),
    ("joins", D(2024, 1, 10), None),
    ("churns", D(2023, 12, 1), D(2024, 1, 12)),
    ("starts_at_jan_1", D(2024, 1, 1), None),
]


def january(name: str) -> tuple:
    data = subscriptions([(customer, start, end, 10.0) for customer, start, end in CASES])
    rows = compare_definitions(data, [PRESETS[name]], period="month", as_of=D(2024, 3, 1)).rows
    row = next(row for row in rows if row["period_start"] == JANUARY)
    return row["customers_start"], row["churned"], row["base"], round(row["churn_rate"], 3)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # just before Jan 1: stays, returns, ends_at_feb_1, churns; churned: churns
        ("kvar", (4, 1, 4, 25.0)),
        # at Jan 1 starts_at_jan_1 is a start customer; at Feb 1 ends_at_feb_1 is gone (Gold's listing 2.2)
        ("fightchurn", (5, 2, 5, 40.0)),
        # a churn event: returns left inside January, even though it came back [CM-churn]
        ("chartmogul", (4, 2, 4, 50.0)),
        # the last 30 days, Jan 2 to Feb 1 [BM-churn]: starts_at_jan_1 is active 30 days ago, so 5 at the start;
        # sign-up-and-cancel inside the window counts as churn [BM-changelog]: churns, joins_and_leaves
        ("baremetrics", (5, 2, 5, 40.0)),
        # same-month sign-up-and-churn ignored entirely [PW-calc]
        ("profitwell", (4, 1, 4, 25.0)),
        # churned in the past 30 days (Jan 2 to Feb 1) ÷ (active 30 days ago: 5 + new subscribers in those 30 days:
        # joins, joins_and_leaves); churned: churns, returns (a churn event), joins_and_leaves [ST-churn]
        ("stripe", (5, 3, 7, 42.857)),
    ],
)
def test_each_preset_counts_the_hand_computed_month(name, expected) -> None:
    assert january(name) == expected


def test_unknown_definitions_are_named() -> None:
    with pytest.raises(ParameterError, match="--definitions gainsight"):
        definitions_named("kvar,gainsight")


def test_the_causes_add_up_exactly_to_every_difference(tmp_path) -> None:
    paths = generate(customers=250, seed=4).write(tmp_path)
    connection = duckdb.connect()
    data = connection.table(load_file(connection, "subscriptions", paths["subscriptions"]).accepted_table)
    chosen = list(PRESETS.values())
    found = compare_definitions(data, chosen)
    table = {(row["period_start"], row["definition"]): row for row in found.rows}
    differences = found.differences
    assert differences
    # The kvar preset is the retention table's own churn: the same start customers and churned per period.
    retention = {row["period_start"]: row for row in rows_of(retention_table(subscriptions=data))}
    for (start, name), row in table.items():
        if name == "kvar":
            assert (row["customers_start"], row["churned"]) == (
                retention[start]["customers_start"],
                retention[start]["churned"],
            )
    for difference in differences:
        first, second = (
            table[(difference["period_start"], difference["from"])],
            table[(difference["period_start"], difference["to"])],
        )
        assert difference["churned_difference"] == second["churned"] - first["churned"]
        assert difference["base_difference"] == second["base"] - first["base"]
        assert sum(cause["churned"] for cause in difference["causes"]) == difference["churned_difference"]
        assert sum(cause["base"] for cause in difference["causes"]) == difference["base_difference"]
        assert {cause["cause"] for cause in difference["causes"]} <= set(CAUSES)


def test_kvar_reconcile_prints_both_tables_as_json(data_dir, tmp_path) -> None:
    path = tmp_path / "subscriptions.csv"
    path.write_text(
        "customer_id,started_at,ended_at,mrr\n"
        + "".join(
            f"{customer},{start:%Y-%m-%d},{end:%Y-%m-%d},10\n" if end else f"{customer},{start:%Y-%m-%d},,10\n"
            for customer, start, end in CASES
        )
    )
    result = CliRunner().invoke(
        app,
        [
            "reconcile",
            "--subscriptions",
            str(path),
            "--definitions",
            "kvar,fightchurn",
            "--as-of",
            "2024-03-01",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["parameters"]["definitions"] == ["kvar", "fightchurn"]
    january = [row for row in document["rows"] if row["period_start"].startswith("2024-01")]
    assert [(row["definition"], row["customers_start"], row["churned"]) for row in january] == [
        ("kvar", 4, 1),
        ("fightchurn", 5, 2),
    ]
    (pair,) = [row for row in document["differences"] if row["period_start"].startswith("2024-01")]
    assert (pair["churned_difference"], pair["base_difference"]) == (1, 1)
    assert pair["causes"][0]["cause"] == "boundary" and sorted(pair["causes"][0]["examples"]) == [
        "ends_at_feb_1",
        "starts_at_jan_1",
    ]


def _cases_csv(tmp_path) -> str:
    path = tmp_path / "subscriptions.csv"
    path.write_text(
        "customer_id,started_at,ended_at,mrr\n"
        + "".join(
            f"{customer},{start:%Y-%m-%d},{end.strftime('%Y-%m-%d') if end else ''},10\n"
            for customer, start, end in CASES
        )
    )
    return str(path)


def test_retention_with_a_definition_adds_its_churn_and_reads_its_boundary(tmp_path) -> None:
    path = _cases_csv(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        app, ["retention", "--subscriptions", path, "--definition", "stripe", "--as-of", "2024-03-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    jan = next(row for row in json.loads(result.stdout)["rows"] if row["period_start"].startswith("2024-01"))
    assert (jan["customers_start"], jan["churned"], jan["definition_churned"], jan["definition_base"]) == (4, 1, 3, 7)
    at = runner.invoke(
        app, ["mrr", "--subscriptions", path, "--definition", "fightchurn", "--as-of", "2024-03-01", "--json"]
    )
    side = runner.invoke(app, ["mrr", "--subscriptions", path, "--boundary", "at", "--as-of", "2024-03-01", "--json"])
    assert json.loads(at.stdout)["rows"] == json.loads(side.stdout)["rows"]
    both = runner.invoke(app, ["mrr", "--subscriptions", path, "--definition", "kvar", "--boundary", "at"])
    assert both.exit_code == 2 and "give --definition or --boundary, not both" in both.stderr
    unknown = runner.invoke(app, ["retention", "--subscriptions", path, "--definition", "gainsight"])
    assert unknown.exit_code == 2 and "--definition gainsight: expected names among kvar, fightchurn" in unknown.stderr


def _month(data, definition, start: dt.datetime) -> tuple:
    rows = compare_definitions(data, [definition], period="month", as_of=D(2024, 4, 1)).rows
    row = next(row for row in rows if row["period_start"] == start)
    return row["customers_start"], row["churned"], row["base"]


def test_each_option_can_be_set_alone_and_counts_by_hand() -> None:
    # x switches to a new subscription on Jan 15 (one customer, two subscriptions); y cancels an add-on on
    # Jan 20 and keeps its main subscription; z ends Jan 25; w ends Dec 20.
    table = pa.table(
        {
            "customer_id": ["x", "x", "y", "y", "z", "w"],
            "subscription_id": ["x1", "x2", "y1", "y2", "z1", "w1"],
            "started_at": [
                D(2023, 12, 1),
                D(2024, 1, 15),
                D(2023, 12, 1),
                D(2023, 12, 1),
                D(2023, 12, 1),
                D(2023, 11, 1),
            ],
            "ended_at": pa.array(
                [D(2024, 1, 15), None, None, D(2024, 1, 20), D(2024, 1, 25), D(2023, 12, 20)], pa.timestamp("us")
            ),
            "mrr": [10.0] * 6,
        }
    )
    data = duckdb.connect().from_arrow(table)
    kvar_rules = PRESETS["kvar"]
    # Customers: x, y, z at the start of January; z churns.
    assert _month(data, kvar_rules, JANUARY) == (3, 1, 3)
    # Subscriptions: x1, y1, y2, z1 at the start; x1 (replaced), y2 (cancelled add-on) and z1 end in January.
    per_subscription = define("subs=kvar,unit=subscription")
    assert _month(data, per_subscription, JANUARY) == (4, 3, 4)
    # Churn recognised 14 days after the end: w (Dec 20) is still counted at Jan 1 and churns in January;
    # z (Jan 25) churns in February instead.
    later = define("late=kvar,recognition=14d")
    assert _month(data, later, JANUARY) == (4, 1, 4)
    assert _month(data, later, D(2024, 2, 1)) == (3, 1, 3)
    assert _month(data, kvar_rules, D(2024, 2, 1)) == (2, 0, 2)


def test_the_reconciliation_names_the_option_behind_each_part_of_a_difference() -> None:
    data = subscriptions([(customer, start, end, 10.0) for customer, start, end in CASES])
    differences = compare_definitions(data, [PRESETS["kvar"], PRESETS["baremetrics"]], as_of=D(2024, 3, 1)).differences
    (january,) = [row for row in differences if row["period_start"] == JANUARY]
    causes = {cause["cause"]: cause for cause in january["causes"]}
    # The trailing window starts on Jan 2: starts_at_jan_1 is already there at its start (base +1).
    assert (causes["window"]["base"], causes["window"]["churned"], causes["window"]["examples"]) == (
        1,
        0,
        ["starts_at_jan_1"],
    )
    # Baremetrics counts sign-up-and-cancel inside the window as churn.
    assert (causes["joined_and_left"]["churned"], causes["joined_and_left"]["examples"]) == (1, ["joins_and_leaves"])
    assert set(causes) == {"window", "joined_and_left"}
    assert (january["churned_difference"], january["base_difference"]) == (1, 1)


def test_define_builds_on_a_preset_and_refuses_what_it_cannot_read() -> None:
    mine = define("monthly_stripe=stripe,window=calendar")
    assert (mine.window, mine.joined_and_left, mine.returns, mine.source) == (
        "calendar",
        "churned_and_new",
        "churned",
        "stripe with window=calendar",
    )
    for spec, message in [
        ("mine=gainsight", "BASE among"),
        ("mine", "NAME=BASE"),
        ("mine=kvar,colour=blue", "option among"),
        ("mine=kvar,window=monthly", "calendar or a number of days"),
        ("mine=kvar,unit=seat", "customer, subscription"),
    ]:
        with pytest.raises(ParameterError, match=message):
            define(spec)


def test_kvar_reconcile_compares_a_defined_definition(tmp_path) -> None:
    path = _cases_csv(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "reconcile",
            "--subscriptions",
            path,
            "--define",
            "trailing=kvar,window=30d",
            "--definitions",
            "kvar,trailing",
            "--as-of",
            "2024-03-01",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["parameters"]["options"]["trailing"]["window"] == "30d"
    january = [row for row in document["rows"] if row["period_start"].startswith("2024-01")]
    # The last 30 days of January start on Jan 2, when starts_at_jan_1 is already a customer.
    assert [(row["definition"], row["window_start"][:10], row["customers_start"]) for row in january] == [
        ("kvar", "2024-01-01", 4),
        ("trailing", "2024-01-02", 5),
    ]
    (pair,) = [row for row in document["differences"] if row["period_start"].startswith("2024-01")]
    assert [(cause["cause"], cause["base"], cause["examples"]) for cause in pair["causes"]] == [
        ("window", 1, ["starts_at_jan_1"])
    ]
