"""The report in a real browser (Debian's headless Chromium): it renders its charts and logs no console
message, at the widths of a laptop and of a narrow window."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kvar.data.demo import generate
from kvar.data.workspace import Workspace
from kvar.report.html import ReportInputs, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (scripts/test.sh installs it as root: apt-get install chromium)",
    ),
]
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    paths = generate(customers=300, seed=3).write(folder / "data")
    with Workspace.create(folder / "demo.duckdb") as space:
        for name, path in paths.items():
            space.load(name, path)
        tables = {name: space.table(name) for name in paths}
        write_report(ReportInputs(**tables, industry="software", source="browser test"), folder / "report.html")
    return folder / "report.html"


def _chromium(report: Path, width: int, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = report.parent / f"profile-{width}-{len(extra)}"
    command = [
        CHROMIUM,
        *_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={width},2000",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        report.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [1280, 800])
def test_the_report_renders_every_chart_without_console_messages(report: Path, width: int) -> None:
    result = _chromium(report, width, "--dump-dom")
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "\n".join(console)
    charts = len(re.findall(r'class="plotly-graph-div[" ]', result.stdout))
    rendered = len(re.findall(r'class="main-svg"', result.stdout))
    assert charts >= 8 and rendered >= charts, (charts, rendered)
    assert "USD" in result.stdout and "browser test" in result.stdout


def test_a_screenshot_is_not_blank(report: Path) -> None:
    from PIL import Image

    shot = report.parent / "shot.png"
    _chromium(report, 1280, f"--screenshot={shot}", "--hide-scrollbars")
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2000)
    assert len(image.getcolors(maxcolors=1 << 24) or ()) > 50  # text, tiles and charts, not an empty page
