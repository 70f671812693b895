"""Mistakes end in at most three lines on stderr and exit status 2, never a traceback; dirt in a file is
rejected line by line with its reason instead of refusing the file (issue: the first hour)."""

from __future__ import annotations

import codecs
import gzip
import os
from pathlib import Path

import duckdb
import pytest

from kvar.cli import main

HEADER = "customer_id,occurred_at,amount\n"
GOOD = "c1,2024-01-05,10\nc2,2024-02-10,20\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(argv)
    captured = capsys.readouterr()
    return int(ended.value.code or 0), captured.out, captured.err


def assert_clean_error(code: int, err: str) -> None:
    """Exit 2, no traceback, and the error itself (from ``error:`` on) in at most three lines."""
    assert code == 2, err
    assert "Traceback" not in err and "duckdb." not in err.lower()
    block = err[err.index("error:") :].strip().splitlines()
    assert 1 <= len(block) <= 3, err
    assert all(len(line) <= 420 for line in block), err


def _bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _parquet(path: Path) -> Path:
    duckdb.sql(
        f"COPY (SELECT 'c1' AS customer_id, TIMESTAMP '2024-01-05' AS occurred_at, 10.0 AS amount) TO '{path}' (FORMAT parquet)"
    )
    return path


#: Files kvar must refuse as a whole, each with one clear message naming the problem.
REFUSED = {
    "empty": lambda p: _bytes(p / "empty.csv", b""),
    "blank lines only": lambda p: _bytes(p / "blank.csv", b"\n\n  \n"),
    "random bytes": lambda p: _bytes(p / "random.csv", bytes((i * 7919 + 13) % 256 for i in range(5000))),
    "a PNG image named .csv": lambda p: _bytes(p / "image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
    "an Excel workbook": lambda p: _bytes(p / "book.xlsx", b"PK\x03\x04" + bytes(range(256)) * 8),
    "a folder": lambda p: (p / "folder").mkdir() or p / "folder",
    "a missing file": lambda p: p / "missing.csv",
    "text named .parquet": lambda p: _bytes(p / "text.parquet", (HEADER + GOOD).encode()),
    "a cut Parquet file": lambda p: _bytes(p / "cut.parquet", _parquet(p / "whole.parquet").read_bytes()[:40]),
    "a broken gzip": lambda p: _bytes(p / "broken.csv.gz", b"\x1f\x8b\x08\x00garbage"),
    "header only": lambda p: _bytes(p / "header.csv", HEADER.encode()),
    "required column missing": lambda p: _bytes(p / "who.csv", b"who,when\nc1,2024-01-01\n"),
    "duplicated header": lambda p: _bytes(
        p / "dup.csv", b"customer_id,occurred_at,amount,amount\nc1,2024-01-05,10,3\n"
    ),
    "every row bad": lambda p: _bytes(p / "allbad.csv", (HEADER + "c1,someday,ten\nc2,never,x\n").encode()),
    "mixed currencies": lambda p: _bytes(
        p / "fx.csv", b"customer_id,occurred_at,amount,currency\nc1,2024-01-05,10,SEK\nc2,2024-01-06,5,NOK\n"
    ),
    "JSON, not CSV": lambda p: _bytes(p / "data.json", b'[{"customer_id": "c1", "occurred_at": "2024-01-05"}]\n'),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_file_that_cannot_be_loaded_gets_one_clear_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = REFUSED[case](tmp_path)
    code, out, err = run(["pareto", "--transactions", str(path), "--json"], capsys)
    assert_clean_error(code, err)
    assert out == ""
    assert path.name in err


def test_a_folder_holding_the_workspace_loads_its_files_but_not_the_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init", str(tmp_path / "w.duckdb")], capsys)[0] == 0
    (tmp_path / "orders.csv").write_bytes(_rows([]))
    code, _, err = run(["load", "transactions", str(tmp_path), "--workspace", str(tmp_path / "w.duckdb")], capsys)
    assert code == 0, err
    assert "orders.csv -> transactions: 2 read, 2 loaded" in err and "w.duckdb ->" not in err


def test_a_binary_file_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A database file is mostly zero bytes, in both byte lanes: not UTF-16 text without a mark."""
    assert run(["init", str(tmp_path / "w.duckdb")], capsys)[0] == 0
    code, _, err = run(["pareto", "--transactions", str(tmp_path / "w.duckdb")], capsys)
    assert_clean_error(code, err)
    assert "w.duckdb: this is not a text file" in err


def _rows(lines: list[str]) -> bytes:
    return (HEADER + GOOD + "".join(lines)).encode()


#: Files with dirt in some lines: the good rows load, every bad line is rejected with this reason.
DIRTY = {
    "a stray CR in a CRLF file": (
        lambda p: _bytes(
            p / "crlf.csv",
            b"customer_id,occurred_at,amount\r\nc1,2024-01-05,10\r\nc2,2024-02-10,2\r0\r\nc3,2024-03-01,5\r\n",
        ),
        2,
        "not a number",
    ),
    "a line with a million columns": (
        lambda p: _bytes(p / "wide.csv", _rows([",".join(["x"] * 1_000_000) + "\n"])),
        2,
        "more fields than the header",
    ),
    "a 50 MB field": (
        lambda p: _bytes(p / "big.csv", _rows(["c3,2024-03-01," + "9" * 50_000_000 + "\n"])),
        2,
        "not a finite number",
    ),
    "a NUL byte as customer id": (
        lambda p: _bytes(p / "nul.csv", _rows(["\x00,2024-03-01,5\n"])),
        2,
        "control character",
    ),
    "a lone tab as customer id": (
        lambda p: _bytes(p / "tab.csv", _rows(["\t,2024-03-01,5\n"])),
        2,
        "control character",
    ),
    "an unbalanced quote inside an id": (
        lambda p: _bytes(p / "quote.csv", _rows(['c"3,2024-03-01,5\n'])),
        2,
        "double quote",
    ),
    "an unbalanced quote opening a field": (
        lambda p: _bytes(p / "open.csv", _rows(['"c3,2024-03-01,5\n', "c4,2024-03-02,6\n"])),
        2,
        "unbalanced quote",
    ),
    "an unparseable date": (lambda p: _bytes(p / "date.csv", _rows(["c3,31/02/2024,5\n"])), 2, "unparseable time"),
    "a date in the future": (lambda p: _bytes(p / "future.csv", _rows(["c3,2999-01-01,5\n"])), 2, "in the future"),
    "a repeated order line": (
        lambda p: _bytes(
            p / "repeat.csv",
            b"transaction_id,customer_id,occurred_at,amount\no1,c1,2024-01-05,10\no2,c2,2024-02-10,20\no2,c2,2024-02-10,20\n",
        ),
        2,
        "duplicate",
    ),
    "an amount with letters": (
        lambda p: _bytes(p / "letters.csv", _rows(["c3,2024-03-01,12 SEK\n"])),
        2,
        "not a number",
    ),
}


#: Cases that take seconds each (they write and read tens of megabytes): run with the slow tests only.
HUGE = {"a 50 MB field", "a line with a million columns"}


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=pytest.mark.slow) if case in HUGE else case for case in sorted(DIRTY)]
)
def test_a_bad_line_is_rejected_with_its_reason_and_the_rest_loads(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, loaded, reason = DIRTY[case]
    path = make(tmp_path)
    rejects = tmp_path / "rejects.csv"
    code, out, err = run(["pareto", "--transactions", str(path), "--rejects", str(rejects), "--json"], capsys)
    assert code == 0, err
    assert f"{loaded:,} loaded" in err
    assert reason in rejects.read_text(encoding="utf-8")


def _encoded(text: str, codec: str, bom: bytes = b"") -> bytes:
    return bom + text.encode(codec)


#: Files that must load whole, whatever their encoding, separator or container.
WHOLE = {
    "UTF-8 with BOM": lambda p: _bytes(p / "bom.csv", _encoded(HEADER + GOOD, "utf-8", codecs.BOM_UTF8)),
    "UTF-16 LE with BOM": lambda p: _bytes(p / "u16.csv", _encoded(HEADER + GOOD, "utf-16-le", codecs.BOM_UTF16_LE)),
    "UTF-16 BE with BOM": lambda p: _bytes(p / "u16be.csv", _encoded(HEADER + GOOD, "utf-16-be", codecs.BOM_UTF16_BE)),
    "UTF-16 without BOM": lambda p: _bytes(p / "u16nobom.csv", _encoded(HEADER + GOOD, "utf-16-le")),
    "Windows-1252": lambda p: _bytes(
        p / "cp1252.csv",
        _encoded("customer_id,occurred_at,amount,city\nc1,2024-01-05,10,Malmö\nc2,2024-02-10,20,Tromsø\n", "cp1252"),
    ),
    "Parquet named .csv": lambda p: _parquet(p / "parquet.csv"),
    "gzip": lambda p: _bytes(p / "orders.csv.gz", gzip.compress((HEADER + GOOD).encode())),
    "semicolons": lambda p: _bytes(
        p / "semi.csv", b"customer_id;occurred_at;amount\nc1;2024-01-05;10\nc2;2024-02-10;20\n"
    ),
    "tabs": lambda p: _bytes(
        p / "tabs.tsv", b"customer_id\toccurred_at\tamount\nc1\t2024-01-05\t10\nc2\t2024-02-10\t20\n"
    ),
    "CRLF": lambda p: _bytes(p / "crlf.csv", (HEADER + GOOD).replace("\n", "\r\n").encode()),
    "a trailing delimiter": lambda p: _bytes(
        p / "trailing.csv", b"customer_id,occurred_at,amount,\nc1,2024-01-05,10,\nc2,2024-02-10,20,\n"
    ),
}


@pytest.mark.parametrize("case", sorted(WHOLE))
def test_a_file_loads_whole_whatever_its_encoding_or_container(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = WHOLE[case](tmp_path)
    code, _, err = run(["pareto", "--transactions", str(path), "--json"], capsys)
    assert code == 0, err
    assert "0 rejected" in err


def test_the_load_summary_names_an_encoding_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = WHOLE["Windows-1252"](tmp_path)
    assert "(Windows-1252)" in run(["pareto", "--transactions", str(path), "--json"], capsys)[2]
    assert (
        "(UTF-16 LE with BOM)"
        in run(["pareto", "--transactions", str(WHOLE["UTF-16 LE with BOM"](tmp_path)), "--json"], capsys)[2]
    )


def test_a_forced_encoding_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _bytes(tmp_path / "latin.csv", "customer_id,occurred_at,amount\nç1,2024-01-05,10\n".encode("latin-1"))
    code, out, err = run(["segments", "--transactions", str(path), "--encoding", "latin-1", "--json"], capsys)
    assert code == 0, err
    assert '"ç1"' in out


@pytest.fixture()
def orders(tmp_path: Path) -> Path:
    return _bytes(tmp_path / "orders.csv", (HEADER + GOOD + "c1,2024-03-05,15\n").encode())


#: Bad options, each caught before any file is read.
BAD_OPTIONS = [
    ["retention", "--period", "banana"],
    ["retention", "--inactivity", "soon"],
    ["retention", "--grace", "a while"],
    ["retention", "--timezone", "Mars/Olympus"],
    ["retention", "--date-format", "%Q"],
    ["retention", "--date-format", "no directives"],
    ["retention", "--encoding", "klingon"],
    ["retention", "--as-of", "yesterday"],
    ["retention", "--by", "no_such_column"],
    ["retention", "--bogus"],
    ["retention", "--map", "foo=bar"],
    ["retention", "--map", "x:customer_id=a"],
    ["retention", "--map", "customers:amount=a"],
    ["retention", "--map", "=a"],
    ["retention", "--map", "amount=Quantity*UnitPrice"],
    ["retention", "--fx", "{tmp}/missing-fx.csv"],
    ["retention", "--rejects", "{tmp}/no/such/folder/rejects.csv"],
    ["cohorts", "--value", "profit"],
    ["summary", "--freq", "Q"],
    ["summary", "--unit", "Y"],
    ["summary", "--calibration-end", "soon"],
    ["clv", "--model", "xyz"],
    ["clv", "--horizon", "0"],
    ["clv", "--discount-rate", "-1"],
    ["clv", "--as-of", "2024-03-01", "--calibration-end", "2024-02-01"],
    ["segments", "--as-of", "1990-01-01"],
    ["report", "--output", "{tmp}/no/such/folder/report.html"],
    ["report", "--output", "{tmp}"],
    ["mrr"],
    ["survival", "--inactivity", "0x"],
]


@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=lambda argv: " ".join(argv))
def test_a_bad_option_gets_one_clear_error(argv: list[str], orders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = [word.replace("{tmp}", str(orders.parent)) for word in argv]
    if words[0] not in ("mrr",):
        words += ["--transactions", str(orders)]
    code, out, err = run(words, capsys)
    assert_clean_error(code, err)
    assert out == ""
    if len(argv) > 1 and words[0] != "segments":
        assert argv[1] in err, "the error names the option that is wrong"
    if words[0] != "segments" and "--by" not in words and "*" not in argv[-1]:
        assert "read" not in err.split("error:")[0], "options are checked before any file is read"


def test_workspace_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_duckdb = _bytes(tmp_path / "notes.duckdb", b"hello")
    foreign = tmp_path / "foreign.duckdb"
    duckdb.connect(str(foreign)).close()
    for workspace in (tmp_path / "missing.duckdb", not_duckdb, foreign):
        code, _, err = run(["retention", "--workspace", str(workspace)], capsys)
        assert_clean_error(code, err)


def test_usage_mistakes_are_three_lines_too(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["nonsense"], ["load"], ["retention", "--period"], ["sbg", "--survivors", "x.csv"]):
        code, _, err = run(argv, capsys)
        assert_clean_error(code, err)


@pytest.mark.slow  # a fresh interpreter per run
def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = _bytes(tmp_path / "who.csv", b"who,when\nc1,2024-01-01\n")
    quiet = subprocess.run(
        [sys.executable, "-m", "kvar", "pareto", "--transactions", str(bad)], capture_output=True, text=True
    )
    loud = subprocess.run(
        [sys.executable, "-m", "kvar", "--debug", "pareto", "--transactions", str(bad)], capture_output=True, text=True
    )
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "MappingError" in loud.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere, so an unwritable path cannot be made")
def test_an_unwritable_output_is_refused_before_any_work(
    tmp_path: Path, orders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    code, _, err = run(["report", "--transactions", str(orders), "--output", str(locked / "r.html")], capsys)
    assert_clean_error(code, err)
    assert "read" not in err.split("error:")[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("kvar ")
