"""Shared fixtures: paths to the bundled data, frames on every engine, one Spark session per run."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import settings

DATA = Path(__file__).parent / "data"
# CI runs the same examples every time (a failure there can be replayed); locally Hypothesis explores.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")
os.environ["KVAR_LOCALE"] = "en"  # the tests' texts are English whatever the machine's LANG; locale tests set their own


@pytest.fixture(autouse=True)
def environment_locale() -> Iterator[None]:
    """Each test starts in the environment's locale (English here), whatever a CLI run before it chose."""
    from kvar.i18n import set_locale

    set_locale(None)
    yield
    set_locale(None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture()
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'").fetchall()
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole run (UTC, small shuffles, no UI)."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("kvar-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo business (1,000 customers, seed 5) loaded once per run: its tables as DuckDB relations."""
    import kvar
    from kvar.data.demo import generate

    paths = generate(customers=1000, seed=5).write(tmp_path_factory.mktemp("demo"))
    connection = duckdb.connect()
    names = ("customers", "subscriptions", "transactions", "events", "feedback", "payments")
    return {name: connection.table(kvar.load_file(connection, name, paths[name]).accepted_table) for name in names}


@pytest.fixture(scope="session")
def demo_features(demo_tables: dict[str, Any]) -> Any:
    """The demo business's churn-risk feature table with every optional input, as a pandas frame."""
    from kvar.metrics.churn_features import churn_features

    tables = demo_tables
    return churn_features(
        tables["subscriptions"], tables["events"], tables["payments"], tables["feedback"], tables["customers"]
    ).df()


def arrow_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


Maker = Callable[[pa.Table], Any]


@pytest.fixture()
def duckdb_frame(con: duckdb.DuckDBPyConnection) -> Maker:
    """Turn an Arrow table into a DuckDB relation on the test's connection."""

    def make(table: pa.Table) -> Any:
        return con.from_arrow(table)

    return make


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def partitioned(source: Path, key: str, folder: Path) -> Path:
    """``source`` (a CSV file) cut into a partitioned dataset as Hive and Spark write one: a file
    ``folder/KEY=VALUE/part.csv`` per value of the column ``key``, which the files then lack."""
    import csv

    with source.open(newline="") as handle:
        reader = csv.DictReader(handle)
        names = [name for name in reader.fieldnames or [] if name != key]
        groups: dict[str, list[dict[str, str]]] = {}
        for row in reader:
            groups.setdefault(row.pop(key) or "__HIVE_DEFAULT_PARTITION__", []).append(row)
    for value, rows in groups.items():
        part = folder / f"{key}={value}"
        part.mkdir(parents=True)
        with (part / "part.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, names)
            writer.writeheader()
            writer.writerows(rows)
    return folder


#: A file with a line of too many fields (one of them a quoted separator) and a line of too few.
UNEVEN_LINES = (
    "customer_id;occurred_at;amount;product\n"
    "c1;2024-01-01;1,50;book\n"
    'c2;2024-01-02;2;"a;b";extra;fields\n'  # rejected whole, quoted as the file has it
    "c3;2024-01-03;3\n"  # padded: no product, which no rule asks for
    "c4;2024-01-04;4;pen\n"
)
