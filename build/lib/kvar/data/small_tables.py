"""Small side tables people write by hand or in Excel (an FX table, survivor counts): read as they come.

The encoding is detected as for data files (:func:`kvar.data.text_files.inspect_text`: a BOM, UTF-8, else
Windows-1252), the separator is the commonest of ``,`` ``;`` and tab in the header, and a number may be
written with a decimal point or, as Nordic Excel writes it, a decimal comma with thousands grouped by a
space, a no-break space or a dot (``11,45``, ``1 250,5``), with a Unicode minus.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from kvar.data.text_files import inspect_text
from kvar.errors import FileFormatError
from kvar.i18n import tr

_DECIMAL_COMMA = re.compile(r"[+\-\u2212]?(\d{1,3}([ \u00a0\u202f.]\d{3})+|\d+)(,\d+)?")


def read_small_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a small delimited file, decoded and split as described above."""
    if not path.exists():
        raise FileFormatError(tr("{path}: no such file").format(path=path))
    source = inspect_text(path)
    text = path.read_bytes().decode(source.encoding, errors="replace").lstrip("\ufeff")
    header = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = [{key.strip(): (value or "").strip() for key, value in row.items() if key is not None} for row in reader]
    return [name.strip() for name in reader.fieldnames or []], rows


def small_number(text: str) -> float:
    """``text`` as a number: ``11.45``, ``11,45``, ``1 250,5`` or ``−3``; :class:`ValueError` otherwise."""
    value = text.strip().replace("\u2212", "-")
    try:
        return float(value)
    except ValueError:
        if not _DECIMAL_COMMA.fullmatch(value):
            raise
        return float(re.sub(r"[ \u00a0\u202f.]", "", value).replace(",", "."))
