"""kvar export: segment and churn-risk lists to CSV and Parquet, with the reasons."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from typer.testing import CliRunner

from kvar.cli import app


def _transactions(tmp_path):
    rows = []
    for n in range(40):
        for k in range(1 + n % 5):
            rows.append((f"c{n:02d}", dt.datetime(2024, 1, 1) + dt.timedelta(days=3 * n + 20 * k), 10.0 + n))
    path = tmp_path / "transactions.csv"
    pl.DataFrame(rows, schema=["customer_id", "occurred_at", "amount"], orient="row").write_csv(path)
    return path


def test_a_segment_list_goes_to_parquet_with_its_reason(tmp_path) -> None:
    from kvar.metrics.segments import rfm_segments

    source = _transactions(tmp_path)
    out = tmp_path / "champions.parquet"
    result = CliRunner().invoke(
        app, ["export", "segments", "--transactions", str(source), "--segment", "champions", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = pl.read_parquet(out)
    expected = pl.from_pandas(rfm_segments(pl.read_csv(source, try_parse_dates=True).to_pandas()))
    champions = expected.filter(pl.col("segment") == "Champions")["customer_id"].sort().to_list()
    assert written["customer_id"].sort().to_list() == champions and champions
    assert written["reason"][0].startswith("recency ")


def test_export_refuses_an_unknown_list_segment_or_format(tmp_path) -> None:
    source = str(_transactions(tmp_path))
    runner = CliRunner()
    base = ["--transactions", source, "--output"]
    assert runner.invoke(app, ["export", "churners", *base, str(tmp_path / "x.csv")]).exit_code == 2
    assert runner.invoke(app, ["export", "segments", *base, str(tmp_path / "x.xlsx")]).exit_code == 2
    bad = runner.invoke(app, ["export", "segments", *base, str(tmp_path / "x.csv"), "--segment", "VIPs"])
    assert bad.exit_code == 2 and "Champions" in bad.output


@pytest.mark.slow  # trains the churn-risk model on a generated business
def test_a_risk_list_goes_to_csv_with_its_reasons(tmp_path) -> None:
    from kvar.data.demo import generate

    paths = generate(customers=300, seed=5).write(tmp_path / "data")
    out = tmp_path / "risky.csv"
    command = ["export", "risk", "--subscriptions", str(paths["subscriptions"]), "--events", str(paths["events"])]
    result = CliRunner().invoke(app, [*command, "--above", "0.05", "--output", str(out)])
    assert result.exit_code == 0, result.output
    written = pl.read_csv(out)
    assert written.height > 0 and (written["churn_probability"] > 0.05).all()
    assert written["reasons"].str.len_chars().max() > 0
