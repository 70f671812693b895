"""The Spark session a command runs on: local, a cluster's master, or a Spark Connect server.

Whatever the master, the session's time zone is UTC (kvar's times are UTC instants; Spark would
otherwise show and cut days in the driver's zone). A local session also gets a small number of shuffle
partitions (two per core instead of Spark's 200) and its Python workers run this Python, which has kvar.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from kvar.errors import ParameterError
from kvar.i18n import tr


def spark_session(master: str | None) -> tuple[Any, bool]:
    """The session for ``master`` (``local[*]``, ``spark://host:7077``, ``yarn``, ``sc://host:15002``;
    None: the one Spark is configured with, e.g. by ``spark-submit --master``, else ``local[*]``), and
    whether it was started here (and so is stopped by the caller when done).

    A session already running in this process (a notebook's, a test run's) is used as it is, with its
    time zone set to UTC.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ParameterError(tr("--engine spark needs PySpark: pip install 'kvar[spark]'")) from None
    remote = bool(master and master.startswith("sc://"))
    active = None if remote else SparkSession.getActiveSession()
    if active is not None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active, False
    builder = SparkSession.builder.appName("kvar").config("spark.sql.session.timeZone", "UTC")
    if remote:
        _check_reachable(str(master))
        builder = builder.remote(str(master))
    else:
        if master:
            builder = builder.master(master)
        # no master and no spark-submit around this process (which sets the gateway port): local[*]
        if master.startswith("local") if master else "PYSPARK_GATEWAY_PORT" not in os.environ:
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1)))
            builder = builder.config("spark.ui.showConsoleProgress", "false")
    session = builder.getOrCreate()
    if not remote:
        session.sparkContext.setLogLevel("ERROR")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session, True


def _check_reachable(address: str) -> None:
    """A Spark Connect address nobody answers at is one line at once: the client would retry for minutes."""
    where = urlsplit(address.split(";", 1)[0])
    host, port = where.hostname or "localhost", where.port or 15002
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        raise ParameterError(
            tr("--spark-master {address}: no Spark Connect server answers at {host}:{port} ({reason})").format(
                address=address, host=host, port=port, reason=error.strerror or error
            )
        ) from None
