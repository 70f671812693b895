"""``--engine spark`` gives, command by command, the JSON document the DuckDB engine gives from the same
files: the same rows, and the same loads (rows read, loaded, rejected). Files are read by the test run's
one local Spark session (the ``spark`` fixture: a command uses a session already running)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import kvar
from kvar.cli import app
from kvar.data.demo import generate
from tests.conftest import UNEVEN_LINES, partitioned

pytestmark = pytest.mark.spark
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _json(args: tuple[str, ...]) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    """The demo business's files (with its dirty rows) and the CDNOW sample as CSV."""
    folder = tmp_path_factory.mktemp("spark-cli")
    paths = {name: Path(path) for name, path in generate(customers=250, seed=11).write(folder / "data").items()}
    con = duckdb.connect()
    loaded = kvar.load_file(con, "transactions", data_dir / "CDNOW_sample.txt")
    paths["cdnow"] = folder / "cdnow.csv"
    con.execute(
        f'COPY (SELECT customer_id, occurred_at, amount FROM "{loaded.accepted_table}" ORDER BY _row) '
        f"TO '{paths['cdnow']}' (HEADER)"
    ).fetchall()
    paths["parquet"] = folder / "transactions.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv('{paths['transactions']}', all_varchar=true)) TO '{paths['parquet']}'")
    return paths


COMMANDS: dict[str, list[str]] = {
    "retention": ["retention", "--transactions", "{transactions}", "--period", "quarter"],
    "retention_by": ["retention", "--transactions", "{transactions}", "--by", "channel", "--customers", "{customers}"],
    "retention_subscriptions": ["retention", "--subscriptions", "{subscriptions}", "--grace", "7d"],
    "cohorts": ["cohorts", "--transactions", "{transactions}"],
    "cohorts_revenue": ["cohorts", "--transactions", "{transactions}", "--value", "revenue", "--cumulative"],
    "summary": ["summary", "--transactions", "{cdnow}", "--freq", "D", "--unit", "W"],
    "mrr": ["mrr", "--subscriptions", "{subscriptions}", "--by", "plan", "--customers", "{customers}"],
    "reconcile": ["reconcile", "--subscriptions", "{subscriptions}"],
    "pareto": ["pareto", "--transactions", "{transactions}"],
    "recovery": ["recovery", "--payments", "{payments}"],
    "clv_params": ["clv", "--transactions", "{cdnow}", "--params-only"],
    "clv": ["clv", "--transactions", "{cdnow}", "--calibration-end", "1997-09-30"],
    "segments": ["segments", "--transactions", "{transactions}"],
    "survival": ["survival", "--subscriptions", "{subscriptions}"],
    "churn_causes": ["churn-causes", "--subscriptions", "{subscriptions}", "--payments", "{payments}"],
    "sbg": ["sbg", "--subscriptions", "{subscriptions}"],
    "risk": ["risk", "--subscriptions", "{subscriptions}", "--events", "{events}"],
    "expansion": ["expansion", "--subscriptions", "{subscriptions}", "--events", "{events}"],
    "parquet": ["retention", "--transactions", "{parquet}"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_gives_the_duckdb_document(name: str, files: dict[str, Path], spark: Any) -> None:
    args = [part.format(**{key: str(path) for key, path in files.items()}) for part in COMMANDS[name]]
    expected = _json(tuple(args))
    assert _json((*args, "--engine", "spark")) == expected


def test_rejects_are_the_same_rows_with_the_same_reasons(files: dict[str, Path], spark: Any, tmp_path: Path) -> None:
    text = files["customers"].read_text()
    customers = tmp_path / "customers.csv"  # the demo's and an empty row: the rejects of a second file
    customers.write_text(text + "," * text.splitlines()[0].count(",") + "\n")
    written = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}.csv"
        _json(
            ("retention", "--transactions", str(files["transactions"]), "--customers", str(customers))
            + ("--by", "channel", "--rejects", str(target), "--engine", engine)
        )
        with target.open(newline="") as handle:
            written[engine] = list(csv.DictReader(handle))  # the raw rows too
    assert written["spark"] == written["duckdb"]
    assert {row["reason"].split(":")[0] for row in written["spark"]} >= {"unparseable time", "unknown currency"}
    assert {row["table_name"] for row in written["spark"]} == {"transactions", "customers"}


def test_a_folder_or_glob_of_files_is_read_as_one_table(files: dict[str, Path], spark: Any, tmp_path: Path) -> None:
    lines = files["transactions"].read_text().splitlines()
    folder = tmp_path / "parts"
    folder.mkdir()
    middle = len(lines) // 2
    (folder / "part-1.csv").write_text("\n".join(lines[:middle]) + "\n")
    (folder / "part-2.csv").write_text("\n".join([lines[0], *lines[middle:]]) + "\n")
    whole = _json(("retention", "--transactions", str(files["transactions"])))
    for location in (folder, folder / "part-*.csv"):
        written = {}
        for engine in ("duckdb", "spark"):
            target = tmp_path / f"{engine}.csv"
            parts = _json(("retention", "--transactions", str(location), "--rejects", str(target), "--engine", engine))
            assert parts["rows"] == whole["rows"]
            assert parts["loads"][0]["rows_rejected"] == whole["loads"][0]["rows_rejected"]
            with target.open(newline="") as handle:
                written[engine] = list(csv.DictReader(handle))  # the raw rows too
        # the same rejects on both engines, among them a second-part row repeating row 2 of the first part
        assert written["spark"] == written["duckdb"]
        first_part = (folder / "part-1.csv").absolute()
        assert [(Path(row["file"]).name, row["reason"]) for row in written["duckdb"] if "dupl" in row["reason"]] == [
            ("part-2.csv", f"duplicate line (the same values in every column): first seen at row 2 of {first_part}")
        ]


def test_a_partitioned_folder_is_read_as_on_duckdb(files: dict[str, Path], spark: Any, tmp_path: Path) -> None:
    text = files["customers"].read_text()
    whole = tmp_path / "customers.csv"  # the demo's and an empty row, which a partition of no channel holds
    whole.write_text(text + "," * text.splitlines()[0].count(",") + "\n")
    folder = partitioned(whole, "channel", tmp_path / "customers")
    by_channel = ("retention", "--transactions", str(files["transactions"]), "--by", "channel", "--customers")
    expected = _json((*by_channel, str(whole)))
    written = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}.csv"
        document = _json((*by_channel, str(folder), "--rejects", str(target), "--engine", engine))
        assert document["rows"] == expected["rows"]
        with target.open(newline="") as handle:
            written[engine] = list(csv.DictReader(handle))  # the raw rows, their folder's value with them
    assert written["spark"] == written["duckdb"]
    nulls = [row["raw"] for row in written["spark"] if "channel=__HIVE_DEFAULT_PARTITION__" in row["file"]]
    assert nulls and all('"channel":null' in raw for raw in nulls)


def test_files_at_any_depth_of_a_folder_are_read_as_on_duckdb(
    files: dict[str, Path], spark: Any, tmp_path: Path
) -> None:
    """Spark's own reading of a folder skips a file beside ``key=value`` folders and fails on plain
    subfolders; kvar gives it the files the DuckDB engine reads."""
    lines = files["transactions"].read_text().splitlines()
    header, third = lines[0], len(lines) // 3
    folder = tmp_path / "tx"
    parts = {
        "top.csv": lines[1:third],
        "region=north+east 1/a b.csv": [*lines[third : 2 * third], "T-bad,C00001,someday,1.00,USD,purchase,book"],
        "2026/b.csv": lines[2 * third :],
    }
    for name, part in parts.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("\n".join([header, *part]) + "\n")
    whole = _json(("retention", "--transactions", str(files["transactions"])))
    written = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}.csv"
        document = _json(("retention", "--transactions", str(folder), "--rejects", str(target), "--engine", engine))
        assert document["rows"] == whole["rows"]
        assert document["loads"][0]["rows_read"] == whole["loads"][0]["rows_read"] + 1
        with target.open(newline="") as handle:
            written[engine] = list(csv.DictReader(handle))
    # the same rejects, each naming its file by its path (a space and a plus as they are)
    assert written["spark"] == written["duckdb"]
    assert str(folder / "region=north+east 1" / "a b.csv") in {row["file"] for row in written["spark"]}
    (folder / "2026" / "c.parquet").write_bytes(files["parquet"].read_bytes())
    code, output = run("retention", "--transactions", str(folder), "--engine", "spark")
    assert code == 2 and "holds Parquet files (c.parquet) and text files" in output


def test_lines_with_too_many_or_too_few_fields_are_read_as_on_duckdb(spark: Any, tmp_path: Path) -> None:
    """A longer line is rejected whole, as the file has it; a shorter one is padded (Spark used to reject
    it, and counted a quoted or decimal-comma separator as a field)."""
    path = tmp_path / "uneven.csv"
    path.write_text(UNEVEN_LINES)
    written = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}.csv"
        document = _json(("pareto", "--transactions", str(path), "--rejects", str(target), "--engine", engine))
        assert document["loads"][0]["rows_loaded"] == 3
        with target.open(newline="") as handle:
            written[engine] = list(csv.DictReader(handle))
    assert written["spark"] == written["duckdb"]
    assert [row["raw"] for row in written["spark"]] == ['c2;2024-01-02;2;"a;b";extra;fields']


def test_each_file_of_a_folder_is_read_by_its_own_header_delimiter_and_encoding_as_on_duckdb(
    spark: Any, tmp_path: Path
) -> None:
    """Files in one folder with their columns in another order, another delimiter, spaces around the
    header's names and Windows-1252 text: Spark once took the first file's header for all (and stopped on
    the others: "CSV header does not conform to the schema"), and could not read Windows-1252 at all."""
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text("customer_id,occurred_at,amount\nc1,2024-01-05,10\nc2,2024-01-06,20,extra\n")
    (folder / "b.csv").write_text("occurred_at;customer_id;amount\n2024-01-07;c3;30\n2024-01-08;c4;1;2;3\n")
    (folder / "c.csv").write_text(" customer_id ; occurred_at ; amount\nc5;2024-01-09;12,50\n")
    (folder / "d.csv").write_bytes(
        "customer_id;occurred_at;amount\nKöpenhamn;någon dag;5\nÅsa;2024-01-11;5\n".encode("cp1252")
    )
    outcomes = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}.csv"
        document = _json(("pareto", "--transactions", str(folder), "--rejects", str(target), "--engine", engine))
        with target.open(newline="") as handle:
            outcomes[engine] = document, list(csv.DictReader(handle))
    assert outcomes["spark"] == outcomes["duckdb"]
    document, rejects = outcomes["spark"]
    assert (document["loads"][0]["rows_loaded"], document["loads"][0]["encoding"]) == (4, "UTF-8, Windows-1252")
    assert [(Path(row["file"]).name, row["reason"]) for row in rejects] == [
        ("a.csv", "malformed line: more fields than the header's 3 columns"),
        ("b.csv", "malformed line: more fields than the header's 3 columns"),
        ("d.csv", "unparseable time: expected ISO 8601 (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]) or YYYYMMDD"),
    ]


def test_a_set_whose_files_read_a_value_otherwise_in_their_own_formats_stops_on_spark(
    spark: Any, tmp_path: Path
) -> None:
    """The DuckDB engine chooses formats per file; Spark one per column for the set. Files that only
    choose differently (whole numbers beside decimal commas) read the same; a value that would read
    otherwise (1.234: 1.234 in its own file, 1234 beside 12,50) stops the Spark load, saying which."""
    folder = tmp_path / "same"
    folder.mkdir()
    (folder / "a.csv").write_text("customer_id,occurred_at,amount\nc1,2024-01-05,5\n")
    (folder / "b.csv").write_text("customer_id;occurred_at;amount\nc2;2024-01-06;12,50\n")
    args = ("pareto", "--transactions", str(folder))
    assert _json((*args, "--engine", "spark")) == _json(args)
    (folder / "a.csv").write_text("customer_id,occurred_at,amount\nc1,2024-01-05,1.234\n")
    assert _json(args)["loads"][0]["rows_loaded"] == 2
    code, output = run(*args, "--engine", "spark")
    assert code == 2
    assert "a.csv row 2: amount '1.234' reads otherwise" in " ".join(output.split())


def test_nordic_excel_file_reads_the_same(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "nordic.csv"
    rows = ["kund;datum;belopp"] + [
        f"K{n % 7};{1 + n % 28:02d}.0{1 + n % 9}.2025;{n} {n % 1000:03d},50" for n in range(1, 60)
    ]
    rows.append("K1;31.02.2025;12,50")  # no such day: rejected by both
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = (
        "cohorts",
        "--transactions",
        str(path),
        "--map",
        "customer_id=kund",
        "--map",
        "occurred_at=datum",
        "--map",
        "amount=belopp",
        "--value",
        "revenue",
    )
    expected = _json(args)
    assert expected["loads"][0]["read_as"]  # decimal comma, grouped thousands, day-first dates
    assert _json((*args, "--engine", "spark")) == expected


def test_a_later_value_in_another_format_stops_the_spark_load(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    rows = ["customer_id,occurred_at,amount"] + [f"C{n},2025-01-{1 + n % 28:02d},{n}.5" for n in range(10_050)]
    rows.append('C1,2025-02-01,"1,5"')  # beyond the first 10,000 rows
    path.write_text("\n".join(rows) + "\n")
    code, output = run("pareto", "--transactions", str(path), "--engine", "spark")
    assert code == 2
    assert "amount" in output and "--decimal" in output


def test_report_on_spark_is_the_duckdb_report(files: dict[str, Path], spark: Any, tmp_path: Path) -> None:
    pages = {}
    for engine in ("duckdb", "spark"):
        output = tmp_path / f"{engine}.html"
        code, text = run(
            "report",
            "--transactions",
            str(files["transactions"]),
            "--subscriptions",
            str(files["subscriptions"]),
            "--output",
            str(output),
            "--engine",
            engine,
        )
        assert code == 0, text
        # the same page but for when it was made and the chart elements' random ids
        made = re.sub(r"made [^<]*? UTC", "", output.read_text())
        pages[engine] = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", made)
    assert "Retention" in pages["spark"]
    assert pages["spark"] == pages["duckdb"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--spark-master", "local[1]"], "--spark-master goes with --engine spark"),
        (["--engine", "spark", "--workspace", "w.duckdb"], "a workspace is DuckDB's"),
        (["--engine", "flink"], "--engine 'flink': expected one of duckdb, spark"),
        (["--engine", "spark", "--spark-master", "sc://127.0.0.1:1"], "no Spark Connect server answers at 127.0.0.1:1"),
    ],
)
def test_engine_options_are_checked(args: list[str], expected: str, files: dict[str, Path]) -> None:
    code, output = run("pareto", "--transactions", str(files["transactions"]), *args)
    assert code == 2
    assert expected in output


def test_a_file_spark_cannot_read_is_one_clear_error(data_dir: Path, spark: Any) -> None:
    code, output = run("summary", "--transactions", str(data_dir / "CDNOW_sample.txt"), "--engine", "spark")
    assert code == 2
    assert "header line" in output and "DuckDB engine" in output


_LINES = st.sampled_from(
    [
        "c1;2024-01-05;12,50",
        "c2;2024-01-06;7",
        'c3;2024-01-07;"1 234,50"',
        "c4;31.01.2024;3",
        "c5;x;1",
        "c6;2024-01-08;abc",
        "c7;2024-01-09;1;extra",
        "c8;2024-01-10",
        ";2024-01-11;1",
        " c9 ;2024-01-12; 5 ",
        "kö;2024-01-13;2",
        '"c10";2024-01-14;"3,5"',
        "c11;2024-01-15;1.234",
        "c12;2024-01-16;",
    ]
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(lines=['c3;2024-01-07;"1 234,50"', "c11;2024-01-15;1.234"])  # no format reads both: Spark once stopped
@given(lines=st.lists(_LINES, min_size=1, max_size=8))
def test_any_small_file_loads_on_spark_as_on_duckdb(lines: list[str], spark: Any, tmp_path_factory) -> None:
    """Lines drawn from what exports hold (decimal commas, grouped and ambiguous numbers, day-first dates,
    repeated, long, short and padded lines, quoted values): both engines give the same document, or the
    same error, and the same rejects with their raw rows."""
    folder = tmp_path_factory.mktemp("spark-parity")
    path = folder / "export.csv"
    path.write_text("customer_id;occurred_at;amount\n" + "\n".join(lines) + "\n")
    outcomes = {}
    for engine in ("duckdb", "spark"):
        target = folder / f"{engine}.csv"
        result = runner.invoke(
            app, ["pareto", "--transactions", str(path), "--rejects", str(target), "--engine", engine, "--json"]
        )
        written = target.read_text() if target.exists() else None
        outcomes[engine] = (result.exit_code, result.stdout if result.exit_code == 0 else result.output, written)
    assert outcomes["spark"] == outcomes["duckdb"]
