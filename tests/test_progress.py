"""Progress of long work: shown on a terminal's stderr, never on a pipe, never with --json."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each case starts an interpreter


def _orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    rows = [f"c{n % 50},2024-{1 + n % 12:02d}-{1 + n % 28:02d},{n % 90 + 1}" for n in range(2000)]
    path.write_text("customer_id,occurred_at,amount\n" + "\n".join(rows) + "\n")
    return path


def _kvar(args: list[str], terminal: bool) -> str:
    """What ``kvar ARGS`` writes on stderr, which is a pseudo-terminal when ``terminal``."""
    command = [sys.executable, "-m", "kvar", *args]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    if not terminal:
        return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stderr
    leader, follower = pty.openpty()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            block = os.read(leader, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not block:
            break
        seen += block
    assert child.wait() == 0
    os.close(leader)
    return seen.decode("utf-8", "replace")


def test_a_terminal_sees_each_stage_a_pipe_and_json_see_none(tmp_path: Path) -> None:
    orders = _orders(tmp_path)
    arguments = ["retention", "--transactions", str(orders), "--period", "month"]
    on_terminal = _kvar(arguments, terminal=True)
    assert "reading and validating orders.csv" in on_terminal and "computing retention" in on_terminal
    piped = _kvar(arguments, terminal=False)
    assert "…" not in piped and "computing retention" not in piped
    assert "orders.csv -> transactions: 2,000 read, 2,000 loaded, 0 rejected" in piped  # the load's report stays
    as_json = _kvar([*arguments, "--json"], terminal=True)
    assert "computing retention" not in as_json and "…" not in as_json
