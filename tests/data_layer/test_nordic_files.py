"""Nordic exports: decimal comma, space / no-break-space / dot grouping, Unicode minus, day-first dates,
Windows-1252 and UTF-8 with BOM. Each rule is pinned by hand-written lines; the exports are written from
CDNOW's real purchases with Babel's (CLDR) Swedish and Norwegian number formats and compared with their
dot-decimal twin."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from babel.numbers import format_decimal
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kvar import load_file
from kvar.cli import app
from kvar.data import validation
from kvar.data.validation import LoadContext
from kvar.errors import ParameterError, ValidationError

runner = CliRunner()


def load(con, tmp_path: Path, text: str, encoding: str = "utf-8", **context):
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(encoding))
    return load_file(
        con,
        "transactions",
        path,
        {"customer_id": "kund", "occurred_at": "datum", "amount": "belopp"},
        LoadContext(**context),
    )


def amounts(con, result) -> list[float]:
    return [row[0] for row in con.execute(f'SELECT amount FROM "{result.accepted_table}" ORDER BY _row').fetchall()]


def times(con, result) -> list[dt.datetime]:
    return [
        row[0] for row in con.execute(f'SELECT occurred_at FROM "{result.accepted_table}" ORDER BY _row').fetchall()
    ]


def reasons(con, result) -> list[tuple]:
    return con.execute(f'SELECT row, value, reason FROM "{result.rejects_table}" ORDER BY row').fetchall()


def test_the_issue_example_loads_with_decimal_comma_and_space_grouping(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund;datum;belopp;valuta\nk1;2024-01-05;1 234,50;SEK\nk2;2024-02-10;99,90;SEK\n")
    assert (result.rows_rejected, amounts(con, result)) == (0, [1234.5, 99.9])
    assert result.read_as == ("amount: decimal comma, thousands grouped by space",)
    assert "amount: decimal comma, thousands grouped by space" in result.summary()


@pytest.mark.parametrize(
    ("cells", "expected", "read_as"),
    [
        (["1\u00a0234,50", "99,90"], [1234.5, 99.9], "decimal comma, thousands grouped by space"),  # no-break space
        (
            ["1\u202f234,50", "2\u202f000\u202f000,00"],
            [1234.5, 2e6],
            "decimal comma, thousands grouped by space",
        ),  # narrow nbsp
        (["1.234,50", "12,00"], [1234.5, 12.0], "decimal comma, thousands grouped by dot"),
        (
            ["\u221212,50", "+3,25", "-1 000,00"],
            [-12.5, 3.25, -1000.0],
            "decimal comma, thousands grouped by space",
        ),  # U+2212
        (["1,234.50", "12.00"], [1234.5, 12.0], "decimal point, thousands grouped by comma"),
        (["1 234", "250"], [1234.0, 250.0], "decimal point, thousands grouped by space"),
        (["12,5", "7"], [12.5, 7.0], "decimal comma"),
    ],
)
def test_a_column_is_read_in_the_one_format_that_reads_all_of_it(con, tmp_path, cells, expected, read_as) -> None:
    lines = "".join(f'k{number};2024-01-0{number + 1};"{cell}"\n' for number, cell in enumerate(cells))
    result = load(con, tmp_path, "kund;datum;belopp\n" + lines)
    assert (result.rows_rejected, amounts(con, result), result.read_as) == (0, expected, (f"amount: {read_as}",))


def test_plain_numbers_are_read_as_before_and_say_nothing(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund,datum,belopp\nk1,2024-01-05,12.50\nk2,2024-01-06,-3\nk3,2024-01-07,1e3\n")
    assert (amounts(con, result), result.read_as) == ([12.5, -3.0, 1000.0], ())


def test_a_value_no_format_reads_is_rejected_and_does_not_sway_the_column(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund;datum;belopp\nk1;2024-01-05;1 234,50\nk2;2024-01-06;12 kr\nk3;2024-01-07;5,00\n")
    assert amounts(con, result) == [1234.5, 5.0]
    assert reasons(con, result) == [
        (
            3,
            "12 kr",
            "not a number: expected a number with decimal comma, thousands grouped by space, "
            "as in the rest of the column (e.g. 1 234,50)",
        )
    ]


def test_a_column_mixing_formats_keeps_the_commoner_and_rejects_the_rest_with_the_format(con, tmp_path) -> None:
    result = load(
        con, tmp_path, "kund;datum;belopp\nk1;2024-01-05;1 234,50\nk2;2024-01-06;99,90\nk3;2024-01-07;12.50\n"
    )
    assert amounts(con, result) == [1234.5, 99.9]
    assert reasons(con, result)[0][:2] == (4, "12.50")
    assert "decimal comma" in reasons(con, result)[0][2]


def test_a_column_reading_two_ways_stops_the_load_and_names_both(con, tmp_path) -> None:
    with pytest.raises(ValidationError, match=r"amount reads two ways, e\.g\. '1,234'.*Pass --decimal"):
        load(con, tmp_path, 'kund,datum,belopp\nk1,2024-01-05,"1,234"\nk2,2024-01-06,"2,500"\n')


def test_forcing_the_decimal_mark_resolves_it(con, tmp_path) -> None:
    text = 'kund,datum,belopp\nk1,2024-01-05,"1,234"\nk2,2024-01-06,"2,500"\n'
    assert amounts(con, load(con, tmp_path, text, decimal=",")) == [1.234, 2.5]
    assert amounts(con, load(con, tmp_path, text, decimal=".", thousands=",")) == [1234.0, 2500.0]


def test_dot_groups_without_decimals_read_as_decimals_with_a_note(con, tmp_path) -> None:
    text = "kund;datum;belopp\nk1;2024-01-05;1.000\nk2;2024-01-06;2.500\n"
    result = load(con, tmp_path, text)
    assert amounts(con, result) == [1.0, 2.5]
    assert result.read_as == (
        "amount: decimal point, so '1.000' is not read as thousands (pass --thousands . if it is)",
    )
    assert amounts(con, load(con, tmp_path, text, thousands=".")) == [1000.0, 2500.0]


@pytest.fixture(params=["sampled", "screened"])
def first_rows(request, monkeypatch) -> None:
    """A file above the small-file size has its columns sampled first; a small one is screened alone."""
    if request.param == "sampled":
        monkeypatch.setattr(validation, "SMALL_FILE_BYTES", 0)


@pytest.mark.usefixtures("first_rows")
def test_a_format_first_seen_after_the_first_rows_decides_the_column_as_if_seen_first(con, tmp_path) -> None:
    """The first rows only choose which columns to examine at once; a column whose unusual values come
    later is examined from the whole column all the same, with the same outcome as when they come first."""
    plain = [f"k{n};2024-01-05;10.5" for n in range(12_000)]
    late = ["k1;31.01.2024;1.000", "k2;2024-01-06;1,5"]  # most values plain: 1,5 is the one rejected
    for rows in (plain + late, late + plain):
        result = load(con, tmp_path, "kund;datum;belopp\n" + "\n".join(rows) + "\n")
        assert result.read_as == ("occurred_at: day-first dates (31.01.2024)",)
        assert result.rows_loaded == 12_001 and [why for _, _, why in reasons(con, result)] == [
            "not a number: expected digits with an optional sign and decimal point"
        ]
        assert dt.datetime(2024, 1, 31) in times(con, result)


@pytest.mark.usefixtures("first_rows")
def test_a_format_found_late_in_one_column_keeps_the_format_found_early_in_another(con, tmp_path) -> None:
    """The first rows show the decimal comma of every amount; the day-first dates come after them. Typing
    the rows again for the dates keeps the amounts' decimal comma (it was once read plainly: every row
    rejected as not a number)."""
    rows = [f"k{n};{'2024-01-05' if n < 11_000 else '31.01.2024'};{n % 90 + 1},50" for n in range(12_000)]
    result = load(con, tmp_path, "kund;datum;belopp\n" + "\n".join(rows) + "\n")
    assert result.read_as == ("amount: decimal comma", "occurred_at: day-first dates (31.01.2024)")
    assert (result.rows_loaded, result.rows_rejected) == (12_000, 0)
    assert amounts(con, result)[-1] == 11_999 % 90 + 1.5
    assert times(con, result)[-1] == dt.datetime(2024, 1, 31)


@pytest.mark.usefixtures("first_rows")
def test_a_number_column_left_empty_is_not_unusual(con, tmp_path) -> None:
    """Empty values say nothing of a column's format: sampled, a column of them once went to format
    detection, whose counts of nothing were NULL (a TypeError)."""
    result = load(con, tmp_path, "kund;datum;belopp\nk1;2024-01-05;\nk2;2024-01-06;\n")
    assert (result.rows_loaded, result.read_as, amounts(con, result)) == (2, (), [None, None])


def test_bad_decimal_and_thousands_options_are_refused() -> None:
    from kvar.data.formats import number_formats_allowed

    for decimal, thousands in ((";", None), (None, "x"), (",", ",")):
        with pytest.raises(ParameterError):
            number_formats_allowed(decimal, thousands)


def test_day_first_dates_are_detected_only_when_the_column_is_unambiguous(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund;datum;belopp\nk1;31.01.2024;1\nk2;1.2.2024 14:30;2\nk3;2024-03-05;3\n")
    assert times(con, result) == [dt.datetime(2024, 1, 31), dt.datetime(2024, 2, 1, 14, 30), dt.datetime(2024, 3, 5)]
    assert result.read_as == ("occurred_at: day-first dates (31.01.2024)",)


def test_month_first_dates_with_slashes_are_detected_from_a_day_above_12(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund,datum,belopp\nk1,01/31/2024,1\nk2,2/1/2024,2\n")
    assert times(con, result) == [dt.datetime(2024, 1, 31), dt.datetime(2024, 2, 1)]
    assert result.read_as == ("occurred_at: month-first dates (01/31/2024)",)


def test_dates_that_read_both_ways_are_not_guessed(con, tmp_path) -> None:
    with pytest.raises(ValidationError, match="no day is above 12.*--date-format"):
        load(con, tmp_path, "kund;datum;belopp\nk1;01.02.2024;1\nk2;03.04.2024;2\n")
    result = load(con, tmp_path, "kund;datum;belopp\nk1;01.02.2024;1\nk2;03.04.2024;2\n", date_format="%d.%m.%Y")
    assert times(con, result) == [dt.datetime(2024, 2, 1), dt.datetime(2024, 4, 3)]


def test_an_impossible_day_first_date_is_rejected_with_the_format(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund;datum;belopp\nk1;31.01.2024;1\nk2;30.02.2024;2\n")
    assert reasons(con, result) == [
        (
            3,
            "30.02.2024",
            "unparseable time: expected ISO 8601 (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]) or YYYYMMDD or %d.%m.%Y",
        )
    ]


def test_one_impossible_date_among_iso_dates_does_not_make_the_column_day_first(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund;datum;belopp\nk1;2024-01-05;1\nk2;31/02/2026;2\n")
    assert result.read_as == ()
    assert reasons(con, result) == [
        (3, "31/02/2026", "unparseable time: expected ISO 8601 (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]) or YYYYMMDD")
    ]


def test_day_first_local_times_are_stored_as_utc(con, tmp_path) -> None:
    result = load(con, tmp_path, "kund;datum;belopp\nk1;31.07.2024 14:30;1\n", timezone="Europe/Oslo")
    assert times(con, result) == [dt.datetime(2024, 7, 31, 12, 30)]


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(
    values=st.lists(
        st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False), min_size=2, max_size=8
    ),
    locale=st.sampled_from(["sv_SE", "nb_NO", "da_DK", "fi_FI", "de_DE", "en_US"]),
)
def test_numbers_written_in_any_cldr_locale_read_back_exactly(tmp_path_factory, values, locale) -> None:
    import duckdb

    values = [*values, 1234.5]  # one value with a decimal part and a group, so the column says which format it is
    cells = [format_decimal(value, format="#,##0.00", locale=locale) for value in values]
    con = duckdb.connect()
    result = load(
        con,
        tmp_path_factory.mktemp("cldr"),
        "kund;datum;belopp\n" + "".join(f'k;2024-01-05;"{cell}"\n' for cell in cells),
    )
    assert result.rows_rejected == 0
    assert amounts(con, result) == pytest.approx([float(value) for value in values])


# -- whole exports against their dot-decimal twin ---------------------------------------------------------


def cdnow_rows(data_dir: Path, customers: int = 300) -> list[tuple[str, dt.date, float]]:
    """CDNOW's real purchases of its first customers, amounts in kronor (x 10, so that thousands occur)."""
    rows = []
    for line in (data_dir / "CDNOW_master.txt").read_text().splitlines()[1:]:
        customer, date, _, amount = line.split()
        if int(customer) > customers:
            break
        rows.append((customer, dt.datetime.strptime(date, "%Y%m%d").date(), round(float(amount) * 10, 2)))
    return rows


def nordic_amount(value: float, locale: str, index: int) -> str:
    """A kronor amount as Nordic Excel writes it: CLDR grouping (U+00A0), every third row with a plain space."""
    text = format_decimal(value, format="#,##0.00", locale=locale)
    return text.replace("\u00a0", " ") if index % 3 == 0 else text


def write_exports(folder: Path, rows: list[tuple[str, dt.date, float]]) -> dict[str, Path]:
    twin = folder / "twin.csv"
    with twin.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "occurred_at", "amount", "currency"])
        writer.writerows((customer, date.isoformat(), f"{amount:.2f}", "SEK") for customer, date, amount in rows)
    swedish = "kund;datum;belopp;valuta\r\n" + "".join(
        f"{customer};{date.isoformat()};{nordic_amount(amount, 'sv_SE', index)};SEK\r\n"
        for index, (customer, date, amount) in enumerate(rows)
    )
    norwegian = "kundenr;dato;beløp;valuta\r\n" + "".join(
        f"{customer};{date.day}.{date.month:02d}.{date.year};{nordic_amount(amount, 'nb_NO', index)};SEK\r\n"
        for index, (customer, date, amount) in enumerate(rows)
    )
    paths = {
        "twin": twin,
        "sv-cp1252": folder / "sv-cp1252.csv",
        "sv-bom": folder / "sv-bom.csv",
        "nb-cp1252": folder / "nb-cp1252.csv",
        "nb-bom": folder / "nb-bom.csv",
    }
    paths["sv-cp1252"].write_bytes(swedish.encode("cp1252"))
    paths["sv-bom"].write_bytes(swedish.encode("utf-8-sig"))
    paths["nb-cp1252"].write_bytes(norwegian.encode("cp1252"))
    paths["nb-bom"].write_bytes(norwegian.encode("utf-8-sig"))
    return paths


MAPS = {
    "sv": [
        "--map",
        "customer_id=kund",
        "--map",
        "occurred_at=datum",
        "--map",
        "amount=belopp",
        "--map",
        "currency=valuta",
    ],
    "nb": [
        "--map",
        "customer_id=kundenr",
        "--map",
        "occurred_at=dato",
        "--map",
        "amount=beløp",
        "--map",
        "currency=valuta",
    ],
}


def run(command: list[str]) -> dict:
    result = runner.invoke(app, [*command, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("export", ["sv-cp1252", "sv-bom", "nb-cp1252", "nb-bom"])
def test_an_excel_export_gives_the_figures_of_its_dot_decimal_twin(data_dir, tmp_path, export) -> None:
    paths = write_exports(tmp_path, cdnow_rows(data_dir))
    maps = MAPS[export[:2]]
    for command in (
        ["summary", "--freq", "D", "--unit", "W"],
        ["retention", "--period", "quarter"],
        ["pareto"],
        ["cohorts", "--period", "quarter"],
    ):
        nordic = run([*command, "--transactions", str(paths[export]), *maps])
        twin = run([*command, "--transactions", str(paths["twin"])])
        assert nordic["loads"][0]["rows_rejected"] == 0
        assert "amount: decimal comma, thousands grouped by space" in nordic["loads"][0]["read_as"]
        assert nordic["loads"][0]["encoding"] == ("Windows-1252" if "cp1252" in export else "UTF-8 with BOM")
        # approx: DuckDB's parallel sum of doubles may add in another order (last-digit differences)
        assert nordic["rows"] == [
            {key: pytest.approx(value, rel=1e-12) if isinstance(value, float) else value for key, value in row.items()}
            for row in twin["rows"]
        ], command
    result = runner.invoke(app, ["pareto", "--transactions", str(paths[export]), *maps])
    assert "amount: decimal comma, thousands grouped by space" in result.stderr
    assert ("occurred_at: day-first dates" in result.stderr) == export.startswith("nb")
    assert ("(Windows-1252)" in result.stderr) == ("cp1252" in export)


def test_an_fx_table_and_survivor_counts_from_swedish_excel_are_read(tmp_path) -> None:
    from kvar.cli.models import read_survivors
    from kvar.data.loading import read_fx_table

    rates = tmp_path / "kurser.csv"
    rates.write_bytes("currency;rate\r\nEUR;11,45\r\nNOK;0,98\r\nSEK;1\r\n".encode("cp1252"))
    assert read_fx_table(rates) == {"EUR": 11.45, "NOK": 0.98, "SEK": 1.0}
    survivors = tmp_path / "kvar.csv"
    survivors.write_bytes("år;kvar\r\n0;1\u00a0000\r\n1;631\r\n2;468\r\n".encode("utf-8-sig"))
    assert read_survivors(survivors, "kvar") == [1000.0, 631.0, 468.0]


_AMOUNTS = st.sampled_from(["12.50", "12,50", "1 234,50", "1.234", "1,234.50", "7", "−3,25", "abc", ""])
_DATES = st.sampled_from(["2024-01-05", "31.01.2024", "05.01.2024", "01/31/2024", "2024-01-05 14:30", "x", ""])


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@example(rows=[("", "2024-01-05")])  # an empty column once crashed format detection when sampled
@example(rows=[("12,50", "2024-01-05"), ("7", "31.01.2024")])  # a format found early once lost when typed again
@given(rows=st.lists(st.tuples(_AMOUNTS, _DATES), min_size=1, max_size=12))
def test_the_first_rows_decide_only_how_a_file_is_read_never_what_it_gives(rows, tmp_path_factory) -> None:
    """Sampling the first rows (one row, or all of them) or screening in the typing pass alone only decides
    which columns are examined from their whole column: the rows loaded, the rejects with their reasons,
    the formats read and an error are the same every way."""
    import duckdb

    text = "kund;datum;belopp\n" + "".join(f'k{n};{date};"{amount}"\n' for n, (amount, date) in enumerate(rows))
    folder = tmp_path_factory.mktemp("ways")

    def outcome(sample_rows: int, small_file_bytes: int) -> object:
        with pytest.MonkeyPatch.context() as patch, duckdb.connect() as con:
            patch.setattr(validation, "SAMPLE_ROWS", sample_rows)
            patch.setattr(validation, "SMALL_FILE_BYTES", small_file_bytes)
            try:
                result = load(con, folder, text)
            except ValidationError as error:
                return str(error)
            accepted = f'SELECT _row, amount, occurred_at FROM "{result.accepted_table}" ORDER BY _row'
            return con.execute(accepted).fetchall(), reasons(con, result), result.read_as

    screened_alone = outcome(validation.SAMPLE_ROWS, validation.SMALL_FILE_BYTES)
    assert outcome(1, 0) == screened_alone
    assert outcome(len(rows) + 1, 0) == screened_alone
