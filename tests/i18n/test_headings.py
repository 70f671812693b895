"""Every column a command prints has a heading, so a terminal table reads in the user's language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kvar.cli import app
from kvar.cli.headings import HEADINGS, heading
from kvar.data.demo import generate
from kvar.i18n import use_locale

runner = CliRunner()
ATTRIBUTES = {"channel", "plan", "country"}  # --by columns: the data's own names


@pytest.mark.slow
def test_every_column_of_every_command_has_a_heading(tmp_path, data_dir) -> None:
    paths = generate(customers=300, seed=5).write(tmp_path)
    sample, survivors = str(data_dir / "CDNOW_sample.txt"), str(data_dir / "sbg_survivors.csv")
    subscriptions = ["--subscriptions", str(paths["subscriptions"])]
    commands = [
        ["retention", *subscriptions, "--by", "plan"],
        ["retention", "--transactions", sample],
        ["mrr", *subscriptions],
        ["cohorts", "--transactions", sample],
        ["summary", "--transactions", sample],
        ["pareto", "--transactions", sample],
        ["segments", "--transactions", sample],
        ["segments", "--transactions", sample, "--summary"],
        ["clv", "--transactions", sample, "--freq", "D", "--unit", "W"],
        ["clv", "--transactions", sample, "--params-only"],
        ["sbg", "--survivors", survivors, "--column", "regular"],
        ["sbg", *subscriptions],
        ["survival", *subscriptions, "--by", "plan", "--customers", str(paths["customers"])],
        ["churn-causes", *subscriptions, "--payments", str(paths["payments"])],
        ["risk", *subscriptions, "--events", str(paths["events"]), "--payments", str(paths["payments"])],
        ["expansion", *subscriptions, "--events", str(paths["events"])],
        ["reconcile", *subscriptions],
        ["flows", "validate", str(Path(__file__).parents[2] / "docs" / "examples" / "flows" / "flows.yaml")],
    ]
    missing = set()
    for command in commands:
        result = runner.invoke(app, [*command, "--json"])
        assert result.exit_code == 0, (command, result.output[-300:])
        for row in json.loads(result.stdout)["rows"]:
            missing |= set(row) - set(HEADINGS) - ATTRIBUTES
    assert missing == set()


def test_headings_are_translated_and_unknown_columns_keep_their_name() -> None:
    with use_locale("sv"):
        assert (heading("customers_start"), heading("retention_rate"), heading("channel")) == (
            "kunder vid start",
            "kundbehållning %",
            "channel",
        )
    with use_locale("en"):
        assert heading("probability_alive") == "P(still a customer)"
