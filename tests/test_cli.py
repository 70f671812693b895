"""The command-line contract: forms and JSON shapes that scripts depend on, and clean errors."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kvar.cli import app
from kvar.data.demo import generate
from tests.conftest import partitioned

runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_summary_reproduces_cdnow_published_table(data_dir) -> None:
    document = run_json(
        "summary",
        "--transactions",
        str(data_dir / "CDNOW_sample.txt"),
        "--freq",
        "D",
        "--unit",
        "W",
        "--calibration-end",
        "1997-09-30",
    )
    assert document["command"] == "summary"
    rows = {int(row["customer_id"]): row for row in document["rows"]}
    with (data_dir / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        for expected in csv.DictReader(handle):
            row = rows[int(expected["ID"])]
            assert row["frequency"] == int(expected["x"])
            assert abs(row["recency"] - float(expected["t_x"])) <= 0.0051
            assert abs(row["T"] - float(expected["T"])) <= 0.0051
            assert abs(row["monetary_value"] - float(expected["zbar"])) <= 0.0051


def test_retention_cohorts_and_mrr_json(data_dir, tmp_path) -> None:
    retention = run_json(
        "retention", "--transactions", str(data_dir / "CDNOW_master.txt"), "--period", "month", "--inactivity", "90d"
    )
    first = retention["rows"][1]
    assert set(first) >= {
        "period_start",
        "customers_start",
        "new_customers",
        "churned",
        "customers_end",
        "retention_rate",
        "churn_rate",
    }
    assert first["retention_rate"] == pytest.approx(
        (first["customers_end"] - first["new_customers"]) * 100 / first["customers_start"]
    )
    cohorts = run_json(
        "cohorts", "--transactions", str(data_dir / "CDNOW_master.txt"), "--period", "quarter", "--value", "revenue"
    )
    # Q1 1997's cohort spent, in Q1 1997, the dollars of every Q1 1997 line of the file (all first purchases
    # fall in Q1): summed here straight from the text.
    lines = (data_dir / "CDNOW_master.txt").read_text().splitlines()[1:]
    spent = sum(float(fields[3]) for fields in map(str.split, lines) if fields[1] < "19970401")
    assert cohorts["rows"][0]["period_offset"] == 0 and cohorts["rows"][0]["value"] == pytest.approx(spent, abs=1e-6)
    subs = tmp_path / "subs.csv"
    subs.write_text("sub,cust,start,end,monthly,tier\ns1,a,2024-01-10,2024-03-05,30,basic\ns2,b,2024-01-20,,50,pro\n")
    mrr = run_json(
        "mrr",
        "--subscriptions",
        str(subs),
        "--period",
        "month",
        "--as-of",
        "2024-03-06",
        "--map",
        "subscription_id=sub",
        "--map",
        "customer_id=cust",
        "--map",
        "started_at=start",
        "--map",
        "ended_at=end",
        "--map",
        "mrr=monthly",
    )
    assert [row["mrr_end"] for row in mrr["rows"]] == [80.0, 80.0]
    by_plan = run_json(
        "retention",
        "--subscriptions",
        str(subs),
        "--by",
        "plan",
        "--as-of",
        "2024-03-06",
        "--map",
        "customer_id=cust",
        "--map",
        "started_at=start",
        "--map",
        "ended_at=end",
        "--map",
        "mrr=monthly",
    )
    assert {(row["plan"], row["customers_end"]) for row in by_plan["rows"]} == {("basic", 1), ("pro", 1)}


def test_bad_input_gives_one_line_and_exit_2_without_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("who,when\nc1,2024-01-01\n")
    result = subprocess.run(
        [sys.executable, "-m", "kvar", "retention", "--transactions", str(bad), "--json"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "needs column(s) customer_id, occurred_at" in result.stderr
    assert result.stdout == ""
    missing = runner.invoke(app, ["cohorts", "--transactions", str(tmp_path / "none.csv"), "--json"])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_rejects_are_reported_and_written(tmp_path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer_id,occurred_at,amount\nc1,2024-01-01,5\nc2,yesterday,5\nc1,2024-02-02,5\nc1,2024-03-03,5\n"
    )
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(app, ["retention", "--transactions", str(orders), "--json", "--rejects", str(rejects)])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["loads"][0]["rows_rejected"] == 1
    assert "unparseable time" in rejects.read_text()


def test_the_rejects_file_holds_the_rejects_of_every_file_a_command_reads(tmp_path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,occurred_at,amount\nc1,2024-01-01,5\nc2,yesterday,5\nc1,2024-03-03,5\n")
    people = tmp_path / "people.csv"
    people.write_text("customer_id,country\nc1,SE\n,NO\nc2,NO\n")
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(
        app,
        ["retention", "--transactions", str(orders), "--customers", str(people), "--by", "country"]
        + ["--json", "--rejects", str(rejects)],
    )
    assert result.exit_code == 0, result.output
    with rejects.open(newline="") as handle:
        written = [(row["table_name"], row["row"], row["column_name"]) for row in csv.DictReader(handle)]
    assert sorted(written) == [("customers", "3", "customer_id"), ("transactions", "3", "occurred_at")]


def test_a_folder_or_glob_is_one_table_for_a_command_and_its_files_for_a_load(tmp_path, data_dir) -> None:
    lines = (data_dir / "CDNOW_sample.txt").read_text().splitlines(keepends=True)
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "1997.txt").write_text("".join(lines[:3000]))
    (folder / "1998.txt").write_text("".join(lines[3000:]) + "99999 99999 19980230 1 1.00\n")  # no 30 February
    whole = run_json("pareto", "--transactions", str(data_dir / "CDNOW_sample.txt"))
    for location in (folder, folder / "199?.txt"):
        parts = run_json("pareto", "--transactions", str(location))
        assert parts["rows"] == whole["rows"]
        assert [(load["file"], load["rows_loaded"]) for load in parts["loads"]] == [(str(location), 6919)]
    shown = runner.invoke(app, ["pareto", "--transactions", str(folder)])
    assert f"e.g. {folder / '1998.txt'}, row 3920, occurred_at=" in shown.output  # which file of the folder
    workspace = tmp_path / "ws.duckdb"
    assert runner.invoke(app, ["init", str(workspace)]).exit_code == 0
    mistyped = runner.invoke(
        app, ["load", "transactions", str(folder), str(tmp_path / "*.csv"), "--workspace", str(workspace)]
    )
    assert mistyped.exit_code == 2 and "no file matches" in mistyped.output
    assert run_json("tables", "--workspace", str(workspace))["rows"] == []  # nothing loaded
    loaded = runner.invoke(app, ["load", "transactions", str(folder), "--workspace", str(workspace)])
    assert loaded.exit_code == 0
    assert (
        "1997.txt -> transactions: 3,000 read" in loaded.output
        and "1998.txt -> transactions: 3,920 read" in loaded.output
    )
    assert run_json("tables", "--workspace", str(workspace))["rows"][0]["rows"] == 6919


def test_a_partitioned_folder_gives_its_keys_as_columns_to_commands_and_loads(tmp_path) -> None:
    files = generate(customers=120, seed=3).write(tmp_path / "demo")
    customers = partitioned(Path(files["customers"]), "channel", tmp_path / "customers")
    by_channel = ("retention", "--transactions", str(files["transactions"]), "--by", "channel", "--customers")
    whole = run_json(*by_channel, str(files["customers"]))
    assert run_json(*by_channel, str(customers))["rows"] == whole["rows"]
    # the same content in two partitions is two files' rows, and a load run again skips both
    tx = tmp_path / "tx"
    for region, amount in (("north", 10), ("south", 20), ("west", 10)):  # west's file is north's again
        (tx / f"region={region}").mkdir(parents=True)
        (tx / f"region={region}" / "part.csv").write_text(f"customer_id,occurred_at,amount\nc1,2024-01-01,{amount}\n")
    workspace = tmp_path / "ws.duckdb"
    assert runner.invoke(app, ["init", str(workspace)]).exit_code == 0
    first = runner.invoke(app, ["load", "transactions", str(tx), "--workspace", str(workspace)])
    assert first.exit_code == 0, first.output
    loaded = duckdb.connect(str(workspace)).execute("SELECT region FROM transactions ORDER BY 1").fetchall()
    assert loaded == [("north",), ("south",), ("west",)]
    again = runner.invoke(app, ["load", "transactions", str(tx), "--workspace", str(workspace)])
    assert again.output.count("already loaded (same content)") == 3


def test_workspace_commands(tmp_path, data_dir) -> None:
    workspace = tmp_path / "ws.duckdb"
    assert runner.invoke(app, ["init", str(workspace)]).exit_code == 0
    loaded = runner.invoke(
        app, ["load", "transactions", str(data_dir / "CDNOW_sample.txt"), "--workspace", str(workspace)]
    )
    assert loaded.exit_code == 0 and "6,919 loaded" in loaded.output
    again = runner.invoke(
        app, ["load", "transactions", str(data_dir / "CDNOW_sample.txt"), "--workspace", str(workspace)]
    )
    assert "already loaded" in again.output
    tables = run_json("tables", "--workspace", str(workspace))
    assert tables["rows"] == [{"table": "transactions", "rows": 6919, "rejected": 0}]
    from_workspace = run_json("summary", "--workspace", str(workspace), "--calibration-end", "1997-09-30")
    assert len(from_workspace["rows"]) == 2357


@pytest.mark.slow  # a whole report; the report tests of tests/i18n and the browser run with the full suite
def test_report_is_self_contained(tmp_path, data_dir) -> None:
    output = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "report",
            "--transactions",
            str(data_dir / "CDNOW_master.txt"),
            "--output",
            str(output),
            "--industry",
            "ecommerce",
        ],
    )
    assert result.exit_code == 0, result.output
    html = output.read_text()
    assert 'src="http' not in html
    assert "Plotly.newPlot" in html and "Cohort retention" in html and "E-commerce" in html
    assert "Mean 12-month CLV" in html and "RFM segments" in html  # models fitted on CDNOW's $0.00 rows too


def test_clv_params_only_gives_the_paper_values(data_dir) -> None:
    common = [
        "clv",
        "--transactions",
        str(data_dir / "CDNOW_sample.txt"),
        "--freq",
        "D",
        "--unit",
        "W",
        "--calibration-end",
        "1997-09-30",
        "--params-only",
    ]
    bg = run_json(*common)
    assert {k: round(v, 3) for k, v in bg["params"].items()} == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(bg["log_likelihood"], 1) == -9582.4
    pareto = run_json(*common, "--model", "pareto")
    assert abs(pareto["params"]["beta"] - 11.669) <= 0.0015 and round(pareto["log_likelihood"], 1) == -9595.0
    gg = run_json(*common, "--model", "gg")
    for name, published in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert abs(gg["params"][name] - published) <= 0.015


def test_clv_predictions_per_customer(data_dir) -> None:
    document = run_json(
        "clv",
        "--transactions",
        str(data_dir / "CDNOW_sample.txt"),
        "--unit",
        "W",
        "--calibration-end",
        "1997-09-30",
        "--horizon",
        "12",
    )
    first = document["rows"][0]
    assert first["customer_id"] == "0001" and abs(first["probability_alive"] - 0.7266) < 1e-4
    assert first["expected_spend"] == pytest.approx(24.65, abs=0.01) and first["clv"] > 0
    assert len(document["rows"]) == 2357


def test_sbg_command(data_dir) -> None:
    document = run_json(
        "sbg", "--survivors", str(data_dir / "sbg_survivors.csv"), "--column", "high_end", "--project", "12"
    )
    assert round(document["alpha"], 3) == 0.668 and round(document["beta"], 3) == 3.806
    assert [row["period"] for row in document["rows"]][-1] == 12
    bad = runner.invoke(app, ["sbg", "--survivors", str(data_dir / "sbg_survivors.csv"), "--column", "nope", "--json"])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output


@pytest.mark.slow
def test_demo_then_understanding_commands_on_its_workspace(tmp_path) -> None:
    result = runner.invoke(app, ["demo", "--dir", str(tmp_path / "demo"), "--customers", "600", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Key figures" in result.output and (tmp_path / "demo" / "report.html").exists()
    workspace = str(tmp_path / "demo" / "demo.duckdb")
    assert re.search(
        r"transactions\.csv -> transactions: [\d,]+ read, [\d,]+ loaded, 3 rejected", result.output
    )  # the three dirty rows
    segments = run_json("segments", "--workspace", workspace, "--summary")
    assert sum(row["customers"] for row in segments["rows"]) == 600
    survival = run_json("survival", "--workspace", workspace, "--by", "channel")
    assert survival["logrank"]["degrees_of_freedom"] == 3 and survival["curves"]
    causes = run_json("churn-causes", "--workspace", workspace, "--period", "quarter")
    # The demo's failing cards end some subscriptions: involuntary churn is found, and it is the smaller part.
    involuntary = sum(row["involuntary"] for row in causes["rows"])
    assert 0 < involuntary < sum(row["voluntary"] for row in causes["rows"])
    risk = run_json("risk", "--workspace", workspace)
    assert risk["evaluation"]["auc"] > 0.5 and risk["evaluation"]["test_rows"] > 100
    assert len({row["customer_id"] for row in risk["rows"]}) == len(risk["rows"])
