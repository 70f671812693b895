"""Rejection reasons: stored in English, shown in the reader's language, every template recognised."""

from __future__ import annotations

import re

import duckdb
import pytest

from kvar import load_file
from kvar.data import reasons
from kvar.data.reasons import TEMPLATES, reason, shown_reason
from kvar.i18n import tr, use_locale


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_stored_reason_is_shown_translated(template) -> None:
    fields = re.findall(r"\{(\w+)\}", template)
    stored = reason(template, **{name: f"<{name}>" for name in fields})
    with use_locale("sv"):
        assert shown_reason(stored) == tr(template).format(**{name: f"<{name}>" for name in fields})
        assert shown_reason(stored) != stored or tr(template) == template


def test_parts_that_are_texts_are_translated_too() -> None:
    stored = reason(
        reasons.WITH_HINT,
        reason=reason(reasons.BAD_TIME_OR, format="%d.%m.%Y"),
        hint=reason(reasons.AMBIGUOUS_DATES, day_first="%d.%m.%Y", month_first="%m.%d.%Y"),
    )
    number = reason(reasons.NOT_IN_FORMAT, format="decimal comma, thousands grouped by space", example="1 234,50")
    with use_locale("nb"):
        assert shown_reason(stored) == (
            "uleselig tid: forventet ISO 8601 (ÅÅÅÅ-MM-DD[ TT:MM[:SS]][+TT:MM]), ÅÅÅÅMMDD eller %d.%m.%Y; "
            "ingen dag er større enn 12, så datoene kan leses med dagen eller måneden først; oppgi "
            "--date-format, f.eks. %d.%m.%Y (dagen først) eller %m.%d.%Y (måneden først)"
        )
        assert shown_reason(number) == (
            "ikke et tall: forventet et tall med desimalkomma, tusener skilt med mellomrom, som i resten av "
            "kolonnen (f.eks. 1 234,50)"
        )
    assert shown_reason("a reason from elsewhere") == "a reason from elsewhere"


def test_a_swedish_load_stores_english_reasons(tmp_path) -> None:
    path = tmp_path / "ordrar.csv"
    path.write_text(
        "transaction_id;customer_id;occurred_at;amount\no1;k1;2024-01-05;1 234,50\no2;k2;2024-01-06;12 kr\n"
        "o1;k1;2024-01-05;1 234,50\n",
        encoding="utf-8",
    )
    con = duckdb.connect()
    with use_locale("sv"):
        result = load_file(con, "transactions", path)
        shown = [shown_reason(why) for _, why, _ in result.reasons]
    stored = [row[0] for row in con.execute(f'SELECT reason FROM "{result.rejects_table}" ORDER BY row').fetchall()]
    assert stored == [
        "not a number: expected a number with decimal comma, thousands grouped by space, as in the rest of the column (e.g. 1 234,50)",
        "duplicate line (the same values in every column): first seen at row 2",
    ]
    assert sorted(shown) == [
        "dubblett av raden (samma värden i alla kolumner): först sedd på rad N",
        "inget tal: förväntade ett tal med decimalkomma, tusental avgränsade med mellanslag, som i resten av kolumnen (t.ex. 1 234,50)",
    ]
