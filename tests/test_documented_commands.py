"""Every command and example in the README and docs runs as written, so that none of them can rot.

The fenced ``bash`` and ``python`` blocks of README.md and docs/*.md are run in order in one folder that
holds the files they name: a shop's orders (CDNOW's real purchases, with a country and a channel per
customer), the same orders as a Swedish and a Norwegian Excel export, the demo business (``kvar demo``) and
its tables (its customers also as ``accounts.csv`` keyed by ``account_id``), CDNOW's sample and the sBG
survivors. Lines
of a bash block that are not ``kvar`` commands (setup scripts, ``source``) are left to CI itself. Each
inline ``kvar …`` mention in the prose must name a real command and real options.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from kvar.cli import app, main

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```(bash|python)\n(.*?)```", re.S)
_INLINE = re.compile(r"(?<!`)`(kvar [^`]+)`")
COUNTRIES = ("SE", "NO", "DK", "FI", "DE", "GB", "US")
CHANNELS = ("organic", "paid_search", "referral", "partner")

pytestmark = pytest.mark.slow


def kvar_commands(text: str) -> list[list[str]]:
    """The ``kvar`` command lines of a bash block, continuation lines joined and comments removed."""
    joined = text.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "kvar":
            commands.append(words[1:])
    return commands


def documented_blocks() -> list[tuple[str, str, str]]:
    """(document, language, code) of every fenced block, in document order."""
    return [
        (path.name, language, code)
        for path in DOCUMENTS
        for language, code in _BLOCK.findall(path.read_text(encoding="utf-8"))
    ]


def _write_orders(master: Path, target: Path) -> None:
    """CDNOW's purchases as a shop's order export: one order per line, with country and channel."""
    with master.open(encoding="utf-8") as source, target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["transaction_id", "customer_id", "occurred_at", "amount", "country", "channel"])
        for number, line in enumerate(source):
            fields = line.split()
            if not fields or not fields[0].isdigit():
                continue
            customer, day, _, dollars = fields
            date = f"{day[:4]}-{day[4:6]}-{day[6:]}"
            writer.writerow(
                [f"o{number}", customer, date, dollars, COUNTRIES[int(customer) % 7], CHANNELS[int(customer) % 4]]
            )


def _write_nordic(orders: Path, folder: Path) -> None:
    """The shop's orders as a Swedish Excel export (Windows-1252, ``;``, decimal comma, space grouping) and a
    Norwegian one (UTF-8 with BOM, day-first dates, no-break-space grouping), amounts in kronor."""
    from babel.numbers import format_decimal

    with orders.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    swedish, norwegian = ["kund;datum;belopp;valuta"], ["kundenr;dato;beløp;valuta"]
    for row in rows:
        kronor = float(row["amount"]) * 10
        year, month, day = row["occurred_at"].split("-")
        swedish.append(
            f"{row['customer_id']};{row['occurred_at']};{format_decimal(kronor, '#,##0.00', locale='sv').replace(chr(0xA0), ' ')};SEK"
        )
        norwegian.append(
            f"{row['customer_id']};{int(day)}.{month}.{year};{format_decimal(kronor, '#,##0.00', locale='nb')};NOK"
        )
    (folder / "forsaljning.csv").write_bytes(("\r\n".join(swedish) + "\r\n").encode("cp1252"))
    (folder / "salg.csv").write_bytes(("\r\n".join(norwegian) + "\r\n").encode("utf-8-sig"))


def _split_by_year(transactions: Path, folder: Path) -> None:
    """The demo's transactions as two yearly exports whose customer column is called CustomerID."""
    with transactions.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for year, name in (("2024", "orders-2024.csv"), ("2025", "orders-2025.csv")):
        chosen = [row for row in rows if row["occurred_at"].startswith(year)]
        with (folder / name).open("w", newline="", encoding="utf-8") as out:
            fields = ["CustomerID" if key == "customer_id" else key for key in rows[0]]
            writer = csv.writer(out)
            writer.writerow(fields)
            writer.writerows([list(row.values()) for row in chosen])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    place = tmp_path_factory.mktemp("documented")
    previous = os.getcwd()
    os.chdir(place)
    try:
        with pytest.raises(SystemExit) as ended:
            main(["demo", "--customers", "400"])
        assert ended.value.code == 0
    finally:
        os.chdir(previous)
    for table in ("subscriptions", "customers", "events", "payments", "feedback"):
        shutil.copy(place / "kvar-demo" / "data" / f"{table}.csv", place / f"{table}.csv")
    _split_by_year(place / "kvar-demo" / "data" / "transactions.csv", place)
    accounts = (place / "customers.csv").read_text(encoding="utf-8").replace("customer_id", "account_id", 1)
    (place / "accounts.csv").write_text(accounts, encoding="utf-8")
    _write_orders(data_dir / "CDNOW_master.txt", place / "orders.csv")
    _write_nordic(place / "orders.csv", place)
    shutil.copy(data_dir / "CDNOW_sample.txt", place / "CDNOW_sample.txt")
    shutil.copy(data_dir / "sbg_survivors.csv", place / "survivors.csv")
    examples = Path(__file__).parents[1] / "docs" / "examples"
    shutil.copytree(examples, place / "docs" / "examples")
    return place


def test_the_documents_have_commands_to_run() -> None:
    blocks = documented_blocks()
    assert sum(len(kvar_commands(code)) for _, language, code in blocks if language == "bash") >= 15
    assert any(language == "python" for _, language, _ in blocks)


def test_every_documented_block_runs_as_written(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(folder)
    failures = []
    namespaces: dict[str, dict[str, object]] = {}
    for document, language, code in documented_blocks():
        if language == "python":  # a document's blocks build on each other, like cells of one notebook
            try:
                exec(
                    compile(code, f"{document} python block", "exec"),
                    namespaces.setdefault(document, {"__name__": "documented"}),
                )  # noqa: S102 - the documented example itself
            except Exception as error:  # noqa: BLE001 - collect every failure, then report them together
                failures.append(f"{document}: python block failed: {type(error).__name__}: {error}")
            continue
        for words in kvar_commands(code):
            with pytest.raises(SystemExit) as ended:
                main(words)
            captured = capsys.readouterr()
            if ended.value.code != 0:
                failures.append(
                    f"{document}: kvar {shlex.join(words)} -> exit {ended.value.code}: {captured.err.strip()[-300:]}"
                )
    assert not failures, "\n".join(failures)


def _options_of(words: list[str]) -> set[str]:
    """The options of the command the words name (``flows validate`` names a command of a group)."""
    import typer.main

    found: Any = typer.main.get_command(app)
    for word in words:
        if not hasattr(found, "commands") or word.startswith("-"):  # a group has commands, a command has none
            break
        found = found.commands.get(word)
    if found is None or hasattr(found, "commands"):
        return set()
    return {name for parameter in found.params for name in parameter.opts + parameter.secondary_opts}


def test_inline_mentions_name_real_commands_and_options() -> None:
    wrong = []
    for path in DOCUMENTS:
        for mention in _INLINE.findall(path.read_text(encoding="utf-8")):
            words = shlex.split(mention.replace("…", ""))[1:]
            if not words or words[0].startswith("-") or words[0].isupper():  # `kvar --debug`, `kvar COMMAND …`
                continue
            options = _options_of(words)
            if not options:
                wrong.append(f"{path.name}: `{mention}`: no command {words[0]!r}")
                continue
            unknown = [
                word.split("=")[0] for word in words[1:] if word.startswith("--") and word.split("=")[0] not in options
            ]
            if unknown:
                wrong.append(f"{path.name}: `{mention}`: {words[0]} has no option {', '.join(unknown)}")
    assert not wrong, "\n".join(wrong)
