"""The report in Swedish and Norwegian: every text translated, numbers and money in the locale's form."""

from __future__ import annotations

import html
import re

import pytest

from kvar import Workspace
from kvar.data.demo import generate
from kvar.report.html import ReportInputs, write_report

from .test_locales import ENGLISH

_TEXT_IN_CHARTS = re.compile(r'"(?:text|name|hovertemplate)":\s*"((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    paths = generate(customers=300, seed=3, currency="SEK").write(folder / "data")
    space = Workspace.create(folder / "demo.duckdb")
    for table in ("customers", "subscriptions", "transactions", "events", "feedback", "payments"):
        space.load(table, paths[table])
    yield folder, space
    space.close()


def visible_text(page: str) -> str:
    """What a reader sees: the page's text outside scripts and styles, and the charts' titles, names and hovers."""
    charts = " ".join(_TEXT_IN_CHARTS.findall(page))
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body) + " " + charts)


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["sv", "nb"])
def test_the_report_has_no_english_left_and_writes_numbers_the_local_way(demo_workspace, locale) -> None:
    folder, space = demo_workspace
    inputs = ReportInputs(
        **{
            name: space.table(name)
            for name in ("transactions", "subscriptions", "events", "feedback", "payments", "customers")
        },
        industry="software",
        source="demo",
    )
    path = folder / f"report-{locale}.html"
    write_report(inputs, path, locale=locale)
    page = path.read_text()
    assert f'<html lang="{locale}">' in page
    text = visible_text(page)
    identifiers = re.sub(r"\b\w+_\w+\b|\bC\d+\b", " ", text)  # feature names and customer ids are data
    assert ENGLISH.findall(identifiers) == []
    assert re.search(r"\d\u00a0\d{3}\u00a0SEK", text)  # MRR: grouped by a no-break space, with the ISO code
    assert re.search(r"\d+,\d\u00a0%", text)  # rates with a decimal comma
    assert '"separators":",\u00a0"' in page or '"separators":",\\u00a0"' in page  # the charts' numbers too


@pytest.mark.slow
def test_kvar_demo_in_swedish_prices_in_sek_and_writes_a_swedish_report(tmp_path) -> None:
    from kvar.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["demo", "--locale", "sv", "--customers", "200", "--dir", str(tmp_path / "demo")])
    assert ended.value.code == 0
    page = (tmp_path / "demo" / "report.html").read_text()
    assert '<html lang="sv">' in page and "kvar-rapport om kundbehållning" in page and "belopp i SEK" in page
    assert "SEK" in (tmp_path / "demo" / "data" / "subscriptions.csv").read_text().splitlines()[1]
