"""Named churn definitions pinned by a hand-computed month, and the reconciliation's causes adding up exactly."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from typer.testing import CliRunner

from kvar import load_file
from kvar.cli import app
from kvar.data.demo import generate
from kvar.errors import ParameterError
from kvar.metrics.definitions import (
    PRESETS,
    churn_by_definition,
    definitions_named,
    reconcile,
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
    rows = churn_by_definition(data, [PRESETS[name]], period="month", as_of=D(2024, 3, 1))
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
        # sign-up-and-cancel inside the window counts as churn [BM-changelog]; the base is the start customers [BM-churn]
        ("baremetrics", (4, 2, 4, 50.0)),
        # same-month sign-up-and-churn ignored entirely [PW-calc]
        ("profitwell", (4, 1, 4, 25.0)),
        # churned ÷ (active at the start + new subscribers of the window): joins, starts_at_jan_1, joins_and_leaves [ST-churn]
        ("stripe", (4, 3, 7, 42.857)),
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
    table = {(row["period_start"], row["definition"]): row for row in churn_by_definition(data, chosen)}
    differences = reconcile(data, chosen)
    assert differences
    for difference in differences:
        first, second = (
            table[(difference["period_start"], difference["from"])],
            table[(difference["period_start"], difference["to"])],
        )
        assert difference["churned_difference"] == second["churned"] - first["churned"]
        assert difference["base_difference"] == second["base"] - first["base"]
        assert sum(cause["churned"] for cause in difference["causes"]) == difference["churned_difference"]
        assert "other" not in {cause["cause"] for cause in difference["causes"]}


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
