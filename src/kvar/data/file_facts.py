"""What a load needs to know of a file's bytes, found in one pass: its SHA-256 and its line count.

A load wants both (the digest says whether the file was loaded before, the line count whether the CSV
reader saw every line), so they are computed together and remembered for the file as it is now (its
size and modification time): a 500 MB file is read once instead of twice, which is about 0.3 s.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 1 << 24


@dataclass(frozen=True)
class FileFacts:
    sha256: str  #: of the file's bytes, as stored (compressed for ``.gz``)
    lines: int  #: of the text (decompressed for ``.gz``); a last line without a line break counts


def file_facts(path: Path) -> FileFacts:
    """The :class:`FileFacts` of ``path``, computed once for each version of the file."""
    status = path.stat()
    return _facts(path.resolve(), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _facts(path: Path, size: int, modified_ns: int) -> FileFacts:  # noqa: ARG001  # the cache's key
    digest = hashlib.sha256()
    compressed = path.suffix.lower() == ".gz"
    breaks, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            if not compressed:
                breaks += block.count(b"\n")
                last = block[-1:]
    if compressed:
        with gzip.open(path, "rb") as text:
            while block := text.read(_BLOCK):
                breaks += block.count(b"\n")
                last = block[-1:]
    return FileFacts(digest.hexdigest(), breaks + (last != b"\n"))
