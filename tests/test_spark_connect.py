"""``--spark-master sc://…``: kvar as a Spark Connect client, against a real Spark Connect server started
from PySpark's own scripts on 127.0.0.1, gives the DuckDB engine's JSON document.

The server is a Spark driver of its own (a second JVM), so this is one test, run whole-process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvar.data.demo import generate

pytestmark = [pytest.mark.spark, pytest.mark.slow]
KVAR = str(Path(sys.executable).with_name("kvar"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("grpc", reason="the Spark Connect client needs pyspark[connect] (grpcio)")
    pyspark = pytest.importorskip("pyspark")
    home = Path(pyspark.__file__).parent
    folder = tmp_path_factory.mktemp("connect")
    port = free_port()
    environment = dict(
        os.environ,
        SPARK_HOME=str(home),
        SPARK_LOG_DIR=str(folder / "logs"),
        SPARK_PID_DIR=str(folder / "pids"),
        PYSPARK_PYTHON=sys.executable,  # the server's Python workers run kvar's checks
    )
    subprocess.run(
        [
            "bash",
            str(home / "sbin" / "start-connect-server.sh"),
            "--master",
            "local[2]",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.shuffle.partitions=4",
        ],
        env=environment,
        check=True,
        capture_output=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = "".join(path.read_text(errors="replace") for path in (folder / "logs").glob("*.out"))
            if "Spark Connect server started" in logs:
                break
            time.sleep(1)
        else:
            pytest.fail(f"the Spark Connect server did not start within 120 s:\n{logs[-2000:]}")
        yield f"sc://127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(home / "sbin" / "stop-connect-server.sh")], env=environment, capture_output=True)


def test_a_spark_connect_server_gives_the_duckdb_document(connect_server: str, tmp_path: Path) -> None:
    paths = generate(customers=150, seed=3).write(tmp_path / "data")
    for command in (
        ["retention", "--transactions", str(paths["transactions"])],
        ["mrr", "--subscriptions", str(paths["subscriptions"])],
    ):
        duckdb_run = subprocess.run([KVAR, *command, "--json"], capture_output=True, text=True, check=True)
        connect_run = subprocess.run(
            [KVAR, *command, "--json", "--engine", "spark", "--spark-master", connect_server],
            capture_output=True,
            text=True,
        )
        assert connect_run.returncode == 0, connect_run.stderr[-3000:]
        assert json.loads(connect_run.stdout) == json.loads(duckdb_run.stdout)
