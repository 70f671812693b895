"""A folder or a glob of files read as one table (``load_location``): the rows of every file, each file's
own rejects, and the rules that compare rows held across the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvar.data.loading import load_file, load_location
from kvar.data.locations import files_named, folder_values, local_files
from kvar.errors import FileFormatError, ValidationError

HEADER = "customer_id,occurred_at,amount,transaction_id,currency\n"


def parts(folder: Path, texts: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(HEADER + text)
    return folder


def write(folder: Path, texts: dict[str, str]) -> Path:
    """Files at paths below ``folder`` (subfolders made as needed)."""
    for name, text in texts.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def rows(con, table: str, columns: str) -> list[tuple]:
    return con.execute(f'SELECT {columns} FROM "{table}" ORDER BY ALL').fetchall()


def test_the_files_of_a_folder_are_its_files_and_subfolders_files_in_path_order(tmp_path) -> None:
    folder = tmp_path / "exports"
    (folder / "2024").mkdir(parents=True)
    for name in ("b.csv", "a.csv", "2024/z.csv", ".hidden.csv", "_SUCCESS"):
        (folder / name).write_text(HEADER)
    assert [path.relative_to(folder).as_posix() for path in local_files(folder)] == ["2024/z.csv", "a.csv", "b.csv"]
    assert [path.name for path in local_files(folder / "*.csv")] == ["a.csv", "b.csv"]
    assert [path.name for path in local_files(f"{folder}/**/*.csv")] == ["z.csv", "a.csv", "b.csv"]
    with pytest.raises(FileFormatError, match="no file matches"):
        files_named(folder / "*.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileFormatError, match="a folder without files"):
        files_named(tmp_path / "empty")
    with pytest.raises(FileFormatError, match="no such file"):
        files_named(tmp_path / "missing.csv")


def test_load_file_reads_one_file_and_says_what_reads_a_folder(con, tmp_path) -> None:
    with pytest.raises(FileFormatError, match="is a folder, not a file; load_location reads"):
        load_file(con, "transactions", tmp_path)


def test_a_folder_reads_as_the_one_file_its_parts_were_cut_from(con, tmp_path) -> None:
    lines = [f"c{i % 7},2024-0{1 + i % 9}-1{i % 10},{i}.5,T{i},SEK\n" for i in range(40)]
    lines[5] = "c1,someday,3,T5,SEK\n"  # rejected in the first part
    lines[33] = "c2,2024-03-03,abc,T33,SEK\n"  # rejected in the second part
    whole = tmp_path / "whole.csv"
    whole.write_text(HEADER + "".join(lines))
    folder = parts(tmp_path / "parts", {"part-1.csv": "".join(lines[:20]), "part-2.csv": "".join(lines[20:])})
    one = load_file(con, "transactions", whole)
    both = load_location(con, "transactions", folder)
    columns = "customer_id, occurred_at, amount, transaction_id"
    assert rows(con, both.accepted_table, columns) == rows(con, one.accepted_table, columns)
    assert (both.file, both.rows_read, both.rows_loaded, both.rows_rejected) == (str(folder), 40, 38, 2)
    assert rows(con, both.rejects_table, "file, row, column_name") == [
        (str((folder / "part-1.csv").absolute()), 7, "occurred_at"),
        (str((folder / "part-2.csv").absolute()), 15, "amount"),
    ]


def test_a_row_repeating_a_row_of_an_earlier_file_is_a_later_duplicate(con, tmp_path) -> None:
    folder = parts(
        tmp_path / "parts",
        {
            "a.csv": "c1,2024-01-01,10,T1,SEK\nc2,2024-01-02,20,T2,SEK\n",
            # T1 again (its first copy is row 2 of a.csv), and T3 twice in this file
            "b.csv": "c3,2024-01-03,30,T3,SEK\nc1,2024-01-01,10,T1,SEK\nc3,2024-01-03,30,T3,SEK\n",
            # every row repeats an earlier file's: the file keeps nothing, the set goes on
            "c.csv": "c2,2024-01-02,20,T2,SEK\n",
        },
    )
    result = load_location(con, "transactions", folder)
    assert rows(con, result.accepted_table, "transaction_id") == [("T1",), ("T2",), ("T3",)]
    # the reason names the file of the first copy when it is another file of the set
    a_csv = (folder / "a.csv").absolute()
    assert rows(con, result.rejects_table, "regexp_extract(file, '[a-z]\\.csv$'), row, reason") == [
        ("b.csv", 3, f"duplicate line (the same values in every column): first seen at row 2 of {a_csv}"),
        ("b.csv", 4, "duplicate line (the same values in every column): first seen at row 2"),
        ("c.csv", 2, f"duplicate line (the same values in every column): first seen at row 3 of {a_csv}"),
    ]
    assert result.rows_rejected == 3
    assert result.reasons == (
        ("transaction_id", "duplicate line (the same values in every column): first seen at row N", 3),
    )


def test_every_later_copy_of_a_row_names_the_first_file_whatever_file_it_is_in(con, tmp_path) -> None:
    """Each file is compared with the set's table of first rows, which each file adds to: a row first seen
    in the first file is named so from any later file, even when it repeats in that file too."""
    texts = {
        f"{index}.csv": f"c{index},2024-01-0{index},1,T{index},SEK\nc1,2024-01-01,10,T0,SEK\n" for index in range(1, 6)
    }
    texts["1.csv"] = "c1,2024-01-01,10,T0,SEK\n"
    texts["3.csv"] += "c1,2024-01-01,10,T0,SEK\n"  # twice in the third file
    result = load_location(con, "transactions", parts(tmp_path / "parts", texts))
    assert rows(con, result.accepted_table, "transaction_id") == [("T0",), ("T2",), ("T3",), ("T4",), ("T5",)]
    first = (tmp_path / "parts" / "1.csv").absolute()
    found = rows(con, result.rejects_table, "regexp_extract(file, '[0-9]\\.csv$'), row, reason")
    assert found == [
        (name, row, f"duplicate line (the same values in every column): first seen at row 2 of {first}")
        for name, row in (("2.csv", 3), ("3.csv", 3), ("3.csv", 4), ("4.csv", 3), ("5.csv", 3))
    ]


def test_the_files_must_share_one_currency_and_keep_some_row(con, tmp_path) -> None:
    mixed = parts(tmp_path / "mixed", {"a.csv": "c1,2024-01-01,10,T1,SEK\n", "b.csv": "c2,2024-01-02,20,T2,NOK\n"})
    with pytest.raises(ValidationError, match=r"mixed: transactions.currency mixes NOK \(1 rows\), SEK \(1 rows\)"):
        load_location(con, "transactions", mixed)
    broken = parts(tmp_path / "broken", {"a.csv": "c1,never,10,T1,SEK\n", "b.csv": "c2,never,20,T2,SEK\n"})
    with pytest.raises(ValidationError, match="broken: all 2 rows were rejected"):
        load_location(con, "transactions", broken)


def test_key_value_folder_names_give_a_text_value_per_key_and_file(tmp_path) -> None:
    lake = write(
        tmp_path / "lake",
        {
            "top.csv": "",  # at the top: no key named, so null for every key
            "country=SE/year=2026/a.csv": "",
            "country=NO/2026/b.csv": "",  # a folder name without "=" gives no key
            "country=G%C3%B6teborg%20x/c.csv": "",  # %-escapes decoded, as Hive and Spark write them
            "country=__HIVE_DEFAULT_PARTITION__/d.csv": "",  # Hive's and Spark's null
            "Country=DK/e.csv": "",  # a key is one key whatever its case: its first spelling names it
        },
    )
    files = local_files(lake)
    found = {
        path.relative_to(lake).as_posix(): values
        for path, values in zip(files, folder_values(lake, files), strict=True)
    }
    assert found == {
        "Country=DK/e.csv": {"Country": "DK", "year": None},
        "country=G%C3%B6teborg%20x/c.csv": {"Country": "Göteborg x", "year": None},
        "country=NO/2026/b.csv": {"Country": "NO", "year": None},
        "country=SE/year=2026/a.csv": {"Country": "SE", "year": "2026"},
        "country=__HIVE_DEFAULT_PARTITION__/d.csv": {"Country": None, "year": None},
        "top.csv": {"Country": None, "year": None},
    }
    # a glob's folders count below its first pattern character; a file named alone has none
    pattern = f"{lake}/country=*/year=*/*.csv"
    assert folder_values(pattern, local_files(pattern)) == [{"country": "SE", "year": "2026"}]
    alone = lake / "country=SE/year=2026/a.csv"
    assert folder_values(alone, [alone]) == [{}]
    twice = write(tmp_path / "twice", {"year=2025/year=2026/a.csv": ""})
    with pytest.raises(FileFormatError, match="its folder names give the key year twice"):
        folder_values(twice, local_files(twice))


def test_a_partitioned_folder_reads_its_keys_as_columns_of_every_file(con, tmp_path) -> None:
    header = "customer_id,signed_up_at\n"
    folder = write(
        tmp_path / "customers",
        {"country=SE/a.csv": header + "c1,2024-01-01\n", "country=NO/b.csv": header + "c2,2024-01-02\nc3,later\n"},
    )
    (folder / "country=DK").mkdir()
    con.execute(
        f"COPY (SELECT 'c4' AS customer_id, DATE '2024-01-04' AS signed_up_at) TO '{folder}/country=DK/c.parquet'"
    )
    result = load_location(con, "customers", folder)
    assert rows(con, result.accepted_table, "customer_id, country") == [("c1", "SE"), ("c2", "NO"), ("c4", "DK")]
    # a reject quotes the row as read, its folder's value with it
    assert rows(con, result.rejects_table, "row, column_name, raw") == [
        (3, "signed_up_at", '{"customer_id":"c3","signed_up_at":"later","country":"NO"}')
    ]
    # a file named alone is read without its folders' keys (DuckDB's own guess from the path is off)
    for alone in ("country=SE/a.csv", "country=DK/c.parquet"):
        result = load_location(con, "customers", folder / alone)
        assert "country" not in [row[0] for row in con.execute(f'DESCRIBE "{result.accepted_table}"').fetchall()]


def test_a_key_that_names_a_column_of_the_contract_is_read_and_checked_as_that_column(con, tmp_path) -> None:
    header = "customer_id,occurred_at,amount,transaction_id\n"
    folder = write(
        tmp_path / "tx",
        {
            "currency=SEK/a.csv": header + "c1,2024-01-01,10,T1\n",
            "currency=XYZ/b.csv": header + "c2,2024-01-02,20,T2\n",
        },
    )
    result = load_location(con, "transactions", folder)
    assert rows(con, result.accepted_table, "transaction_id, currency") == [("T1", "SEK")]
    assert rows(con, result.rejects_table, "column_name, value, split_part(reason, ':', 1)") == [
        ("currency", "XYZ", "unknown currency")
    ]


def test_a_key_that_is_also_a_column_of_the_file_stops_the_load(con, tmp_path) -> None:
    folder = write(tmp_path / "customers", {"country=SE/a.csv": "customer_id,Country\nc1,NO\n"})
    with pytest.raises(FileFormatError, match=r"a\.csv: country is both a column of the file and a key of its folder"):
        load_location(con, "customers", folder)


_ROWS = st.sampled_from(
    [
        "c1,2024-01-01,10,T1,SEK",
        "c2,2024-01-02,20,T2,SEK",
        "c3,2024-01-03,30,T1,SEK",  # T1 again with other values
        "c4,someday,3,T4,SEK",
        "c5,2024-01-05,abc,T5,SEK",
        ",2024-01-06,1,T6,SEK",
        "c7,2024-01-07,7,,SEK",
    ]
)


@pytest.mark.slow
@settings(max_examples=50, deadline=None)
@given(lines=st.lists(_ROWS, min_size=1, max_size=10), cuts=st.sets(st.integers(1, 9), max_size=3))
def test_a_folder_of_parts_gives_the_rows_and_rejects_of_the_file_they_were_cut_from(
    lines, cuts, tmp_path_factory
) -> None:
    """Cut a file into parts anywhere: the folder of parts loads the same rows, and each reject, its row
    and the row a duplicate's reason names, moved from its part to the whole file, is the whole file's."""
    import duckdb

    root = tmp_path_factory.mktemp("cut")
    bounds = [0, *sorted(cut for cut in cuts if cut < len(lines)), len(lines)]
    pieces = [lines[start:end] for start, end in zip(bounds, bounds[1:], strict=False)]
    whole = write(root, {"whole.csv": HEADER + "".join(f"{line}\n" for line in lines)}) / "whole.csv"
    folder = write(
        root / "parts",
        {f"part-{n}.csv": HEADER + "".join(f"{line}\n" for line in piece) for n, piece in enumerate(pieces)},
    )
    offsets = {str((folder / f"part-{n}.csv").absolute()): start for n, start in enumerate(bounds[:-1])}

    def in_whole(file: str, row: int, reason: str) -> tuple[int, str]:
        """A reject's row and reason as the whole file has them."""
        named = re.search(r"first seen at row (\d+) of (.+)$", reason)
        if named:
            reason = f"{reason[: named.start()]}first seen at row {offsets[named[2]] + int(named[1])}"
        plain = re.search(r"first seen at row (\d+)$", reason)
        if plain and not named:
            reason = f"{reason[: plain.start()]}first seen at row {offsets[file] + int(plain[1])}"
        return offsets.get(file, 0) + row, reason

    with duckdb.connect() as con:
        try:
            one = load_file(con, "transactions", whole)
        except ValidationError:
            with pytest.raises(ValidationError):
                load_location(con, "transactions", folder)
            return
        cut = load_location(con, "transactions", folder)
        columns = "customer_id, occurred_at, amount, transaction_id"
        assert rows(con, cut.accepted_table, columns) == rows(con, one.accepted_table, columns)
        found = rows(con, cut.rejects_table, "file, row, column_name, value, reason")
        assert sorted((*in_whole(file, row, why), column, value) for file, row, column, value, why in found) == sorted(
            (row, why, column, value)
            for row, column, value, why in rows(con, one.rejects_table, "row, column_name, value, reason")
        )
        assert (cut.rows_read, cut.rows_loaded, cut.rows_rejected) == (
            one.rows_read,
            one.rows_loaded,
            one.rows_rejected,
        )
