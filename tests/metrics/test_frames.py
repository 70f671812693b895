"""Small frames built from Python values: the same columns and rows in every engine, and cheap to build."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import narwhals as nw
import polars as pl
import pyarrow as pa

from kvar.metrics.frames import frame_like, rows_of

VALUES = {
    "number": [1, 2],
    "share": [0.1, 0.25],
    "flag": [True, False],
    "name": ["it's", "Ålesund"],
    "moment": [dt.datetime(2024, 1, 31, 23, 59, 59, 999999), dt.datetime(2024, 2, 1)],
}


def test_a_small_duckdb_frame_has_the_types_and_rows_pyarrow_gives() -> None:
    on_duckdb = frame_like(nw.from_native(duckdb.connect().sql("SELECT 1 AS x")), VALUES)
    on_polars = frame_like(nw.from_native(pl.LazyFrame({"x": [1]})), VALUES)
    expected = pa.table(VALUES)
    assert dict(on_duckdb.collect_schema()) == dict(on_polars.collect_schema())
    assert on_duckdb.collect(backend="pyarrow").to_native().schema == expected.schema
    assert rows_of(on_duckdb) == rows_of(on_polars) == expected.to_pylist()


def test_a_metric_command_does_not_import_pandas(tmp_path: Path) -> None:
    # pandas takes about 0.3 s to import: a third of a short command's time. PyArrow imports it to build
    # any array from Python values, so the calendars kvar builds on DuckDB must not go through PyArrow.
    data = tmp_path / "tx.csv"
    data.write_text(
        "customer_id,occurred_at,amount\n"
        + "".join(f"c{n % 7},2024-{n % 12 + 1:02d}-{n % 28 + 1:02d},{n}.5\n" for n in range(200)),
        encoding="utf-8",
    )
    program = (
        "import sys\n"
        "from kvar.cli.app import main\n"
        "sys.argv = ['kvar', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "print('pandas' in sys.modules)\n"
    )
    for command in (["cohorts", "--period", "month"], ["retention", "--period", "month"], ["pareto"]):
        run = subprocess.run(
            [sys.executable, "-c", program, *command, "--transactions", str(data), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert run.stdout.splitlines()[-1] == "False", command
