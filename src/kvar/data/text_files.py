"""What a file is, judged by its bytes rather than its name, and a UTF-8 copy when the engine needs one.

* **Format**: Parquet by its ``PAR1`` magic, gzip by ``1f 8b``, else text. Bytes that are not text (NUL
  bytes or other control characters, more than 1 % of the first 64 KiB, not explained by UTF-16) make a
  clear error instead of a page of engine output.
* **Encoding**: a byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32); else UTF-16 without a mark is
  recognised by its zero bytes; else UTF-8 when the first MiB decodes as UTF-8; else Windows-1252 (what
  Excel writes without a mark). ``encoding=`` forces one.
* **Stray carriage returns**: in a file whose lines end in CR LF, a CR not followed by LF would split a
  line in two and shift its values. Each one is replaced by U+FFFD, so that the value holding it fails
  validation with its reason instead of being silently cut.

Everything that is not UTF-8 as the engine reads it (another encoding, a mark, stray CRs, gzip with any
of these) is transcoded once into a temporary UTF-8 file; line numbers stay those of the original file.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import re
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kvar.errors import FileFormatError
from kvar.i18n import tr
from kvar.i18n.formatting import number

SAMPLE_BYTES = 1 << 20
_BINARY_SAMPLE = 1 << 16
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_STRAY_CR = re.compile(r"\r(?!\n)")
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class TextFile:
    """A text file as kvar will read it: its encoding, and whether a UTF-8 copy is needed."""

    path: Path
    encoding: str  # a Python codec name: utf-8, utf-16-le, cp1252, ...
    has_bom: bool
    compressed: bool
    crlf: bool

    @property
    def needs_copy(self) -> bool:
        """True unless the engine can read the file's bytes as they are (plain or gzipped UTF-8, no mark)."""
        return self.encoding != "utf-8" or self.has_bom or self.crlf

    def describe(self) -> str:
        """The encoding as people name it, e.g. ``UTF-8 with BOM`` or ``Windows-1252``."""
        names = {
            "utf-8": "UTF-8",
            "cp1252": "Windows-1252",
            "utf-16-le": "UTF-16 LE",
            "utf-16-be": "UTF-16 BE",
            "utf-32-le": "UTF-32 LE",
            "utf-32-be": "UTF-32 BE",
        }
        name = names.get(self.encoding, self.encoding)
        return f"{name} with BOM" if self.has_bom else name


def file_kind(path: Path) -> str:
    """``parquet``, ``gzip``, ``zip`` (also an Excel workbook) or ``text``, from the first bytes of the file."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head == b"PK\x03\x04":
        return "zip"
    return "text"


def _open_bytes(path: Path, compressed: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if compressed else path.open("rb")  # type: ignore[return-value]


def line_texts(path: Path, numbers: Collection[int]) -> dict[int, str]:
    """The text of the lines ``numbers`` (1-based) of a UTF-8 file, plain or gzipped, as the file has
    them but for the line break; read only as far as the last one wanted."""
    wanted = set(numbers)
    found: dict[int, str] = {}
    if not wanted:
        return found
    last = max(wanted)
    with _open_bytes(path, file_kind(path) == "gzip") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
            if number >= last:
                break
    return found


def inspect_text(path: Path, encoding: str | None = None) -> TextFile:
    """Decide how to decode ``path``; :class:`FileFormatError` when its bytes are not text."""
    compressed = file_kind(path) == "gzip"
    try:
        with _open_bytes(path, compressed) as handle:
            sample = handle.read(SAMPLE_BYTES)
    except (OSError, EOFError) as error:
        raise FileFormatError(tr("{path}: cannot be read ({error})").format(path=path, error=error)) from error
    bom = next((name for mark, name in _BOMS if sample.startswith(mark)), None)
    chosen = codec_name(encoding) if encoding else bom or _guess(path, sample)
    text = sample.decode(chosen, errors="replace")
    if bom and text.startswith("\ufeff"):
        text = text[1:]
    first_line = text.split("\n", 1)[0]
    return TextFile(
        path=path, encoding=chosen, has_bom=bom is not None, compressed=compressed, crlf=first_line.endswith("\r")
    )


def codec_name(encoding: str) -> str:
    """Python's codec name for ``encoding`` (``windows-1252`` -> ``cp1252``); :class:`FileFormatError` if unknown."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise FileFormatError(
            tr("--encoding {encoding!r}: unknown encoding; use e.g. utf-8, cp1252, utf-16, latin-1").format(
                encoding=encoding
            )
        ) from None
    return {"utf-16": "utf-16-le", "utf-32": "utf-32-le", "windows-1252": "cp1252"}.get(name, name)


def _guess(path: Path, sample: bytes) -> str:
    head = sample[:_BINARY_SAMPLE]
    odd_zeros, even_zeros = head[1::2].count(0), head[0::2].count(0)
    # UTF-16 without a mark: every other byte is zero (zeros in both lanes are a binary file's, a database's)
    if len(head) >= 4 and head.count(0) * 3 > len(head) and min(odd_zeros, even_zeros) * 4 < max(odd_zeros, even_zeros):
        return "utf-16-le" if odd_zeros > even_zeros else "utf-16-be"
    if len(_CONTROL.findall(head)) > max(16, len(head) // 100):
        raise FileFormatError(
            tr(
                "{path}: this is not a text file (binary bytes in its first {size} bytes). kvar reads CSV or other delimited text, whitespace-aligned text and Parquet."
            ).format(path=path, size=number(len(head)))
        )
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 4:  # not merely a character cut at the end of the sample
            return "cp1252"
    return "utf-8"


def decoded_lines(source: TextFile, count: int) -> list[str]:
    """The first ``count`` non-blank lines, decoded (line ends and a mark removed)."""
    with _open_bytes(source.path, source.compressed) as handle:
        sample = handle.read(SAMPLE_BYTES)
    text = sample.decode(source.encoding, errors="replace").lstrip("\ufeff")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if len(sample) == SAMPLE_BYTES:
        lines = lines[:-1]  # the last one may be cut
    return [line for line in lines if line.strip()][:count]


@contextlib.contextmanager
def utf8_path(source: TextFile) -> Iterator[Path]:
    """A path the engine can read as UTF-8: the file itself, or a temporary transcoded copy."""
    if not source.needs_copy:
        yield source.path
        return
    with tempfile.TemporaryDirectory(prefix="kvar-") as folder:
        copy = Path(folder) / (source.path.name.removesuffix(".gz") or "data.csv")
        decoder = codecs.getincrementaldecoder(source.encoding)(errors="replace")
        with _open_bytes(source.path, source.compressed) as raw, copy.open("w", encoding="utf-8", newline="") as out:
            first, pending = True, ""
            while block := raw.read(SAMPLE_BYTES):
                text = pending + decoder.decode(block)
                if first:
                    text, first = text.lstrip("\ufeff"), False
                text, pending = (text[:-1], "\r") if text.endswith("\r") else (text, "")
                out.write(_STRAY_CR.sub(REPLACEMENT, text) if source.crlf else text)
            tail = decoder.decode(b"", final=True)
            out.write((_STRAY_CR.sub(REPLACEMENT, tail) if source.crlf else tail) + ("\n" if pending else ""))
        yield copy
