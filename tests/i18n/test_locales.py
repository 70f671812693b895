"""Output in the user's locale: CLDR formatting, Excel-friendly CSV, translated report and help, JSON unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from kvar.cli import app
from kvar.i18n import active_locale, locale_from_environment, tr, use_locale
from kvar.i18n.formatting import date, money, number, percent

runner = CliRunner()
NBSP = "\u00a0"
# Words only an English text has; a Swedish or Norwegian text showing one was left untranslated. PROSE
# leaves out the words that are also option values and table names (customers, month, revenue).
PROSE = r"the|of|and|or|with|since|still|each|after|before|between|shown|rate|churned|retention|likely|alive|answers|paying|buying|industry|average|file|files|column|rows"
ENGLISH_PROSE = re.compile(rf"\b({PROSE})\b")
ENGLISH = re.compile(rf"\b({PROSE}|customers|customer|month|months|revenue)\b")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("sv", ("1\u00a0234,50", "95,0\u00a0%", "1\u00a0234\u00a0SEK", "2024-07-01")),
        ("nb", ("1\u00a0234,50", "95,0\u00a0%", "1\u00a0234\u00a0SEK", "01.07.2024")),
        ("da", ("1.234,50", "95,0\u00a0%", "1.234\u00a0SEK", "01.07.2024")),
        ("fi", ("1\u00a0234,50", "95,0\u00a0%", "1\u00a0234\u00a0SEK", "1.7.2024")),
        ("en", ("1,234.50", "95.0%", "SEK\u00a01,234", "2024-07-01")),
    ],
)
def test_numbers_percentages_money_and_dates_follow_cldr(locale, expected) -> None:
    shown = (
        number(1234.5, 2, locale),
        percent(95.0, 1, locale),
        money(1234.4, "SEK", 0, locale),
        date(dt.date(2024, 7, 1), locale),
    )
    assert shown == expected


def test_money_always_names_the_iso_code_never_kr() -> None:
    for locale in ("sv", "nb", "da"):
        for code in ("SEK", "NOK", "DKK"):
            assert money(10, code, 0, locale).endswith(code)


def test_missing_values_read_as_a_dash() -> None:
    assert (number(None), percent(float("nan")), money(None, "SEK")) == ("—", "—", "—")


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LANG": "sv_SE.UTF-8"}, "sv"),
        ({"LANG": "nb_NO.UTF-8"}, "nb"),
        ({"LANG": "no_NO"}, "nb"),
        ({"LANG": "nn_NO"}, "nb"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_ALL": "da_DK", "LANG": "sv_SE"}, "da"),
        ({"KVAR_LOCALE": "fi", "LC_ALL": "sv_SE"}, "fi"),
        ({}, "en"),
    ],
)
def test_the_default_locale_comes_from_the_environment(monkeypatch, environment, expected) -> None:
    for variable in ("KVAR_LOCALE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert locale_from_environment() == expected


def test_use_locale_restores_the_previous_one() -> None:
    before = active_locale()
    with use_locale("sv"):
        assert tr("Retention rate") == "Kundbehållning"
        with use_locale("nb"):
            assert tr("Retention rate") == "Kundebevaring"
    assert active_locale() == before


def _pareto(*options: str):
    return runner.invoke(app, ["pareto", "--transactions", "tests/data/CDNOW_sample.txt", *options])


def _floats_near(document):
    """Floats compared to 12 digits: DuckDB's parallel sums may add in another order from run to run."""
    if isinstance(document, dict):
        return {key: _floats_near(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_floats_near(value) for value in document]
    return pytest.approx(document, rel=1e-12) if isinstance(document, float) else document


def test_json_never_changes_with_the_locale() -> None:
    english, swedish = _pareto("--json"), _pareto("--json", "--locale", "sv")
    assert english.exit_code == swedish.exit_code == 0
    assert json.loads(swedish.stdout) == _floats_near(json.loads(english.stdout))


def test_csv_in_a_decimal_comma_locale_is_what_excel_there_reads() -> None:
    document = json.loads(_pareto("--json").stdout)
    result = _pareto("--csv", "--locale", "sv")
    assert result.stdout.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff")), delimiter=";"))
    shares = [float(row["revenue_share"].replace(",", ".")) for row in rows]
    assert shares == _floats_near([row["revenue_share"] for row in document["rows"]])
    english = _pareto("--csv", "--locale", "en").stdout
    assert not english.startswith("\ufeff") and english.splitlines()[0].count(",") == len(rows[0]) - 1


def test_a_terminal_table_in_swedish_groups_with_no_break_spaces() -> None:
    result = runner.invoke(
        app, ["retention", "--transactions", "tests/data/CDNOW_master.txt", "--period", "quarter", "--locale", "sv"]
    )
    assert result.exit_code == 0
    assert re.search(r"\d\u00a0\d{3}", result.stdout) and re.search(r"\d,\d\d", result.stdout)


def test_errors_speak_the_locale_and_keep_the_file_name() -> None:
    result = runner.invoke(app, ["pareto", "--transactions", "no-such.csv", "--locale", "sv"])
    assert result.exit_code == 2
    assert "fel: no-such.csv: filen finns inte" in result.stderr.splitlines()
    assert "no such file" not in result.stderr


def _help(locale: str, *command: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "kvar", "--locale", locale, *command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["sv", "nb"])
def test_help_is_translated_when_shown(locale) -> None:
    """Every command's summary and option help; Typer's own frame (Usage, Options, [default: …]) stays as it is."""
    overview = _help(locale)
    assert "Customer retention analytics" not in overview
    for command in ("report", "retention", "load"):
        text = _help(locale, command)
        own = [
            re.sub(r"\[(default|required)[^\]]*\]", " ", line)
            for line in text.splitlines()
            if not re.search(r"Usage:|Options:|Arguments:|Show this message", line)
        ]
        text_only = re.sub(r"\s+", " ", " ".join(own)).replace("Fighting Churn with Data", " ")  # a book's title
        leaked = ENGLISH_PROSE.findall(
            re.sub(r"--[a-z-]+|\b\w+_\w+\b|\b\w+,\w+\b|[A-Z]+\b|\b(before|at)\b(?= \()", " ", text_only)
        )
        assert leaked == [], (command, leaked)


def test_the_load_summary_and_the_rejects_file_speak_swedish(tmp_path) -> None:
    orders = tmp_path / "ordrar.csv"
    orders.write_text("kund;datum;belopp\nk1;2024-01-05;1 234,50\nk2;2024-01-06;fel\n", encoding="utf-8")
    rejects = tmp_path / "avvisade.csv"
    result = runner.invoke(
        app,
        [
            "pareto",
            "--transactions",
            str(orders),
            "--map",
            "customer_id=kund",
            "--map",
            "occurred_at=datum",
            "--map",
            "amount=belopp",
            "--rejects",
            str(rejects),
            "--locale",
            "sv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 lästa, 1 inlästa, 1 avvisade; amount: decimalkomma, tusental avgränsade med mellanslag" in result.stderr
    written = rejects.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf") and written.decode("utf-8-sig").splitlines()[0].startswith(
        "table_name;file;row;"
    )
