"""What a load needs to know of a file's bytes, found in one pass: its SHA-256 and its line count.

A workspace load wants both (the digest says whether the file was loaded before, the line count whether
the CSV reader saw every line), so they are computed together and remembered for the file as it is now
(its size and modification time): a 500 MB file is read once instead of twice, which is about 0.3 s. A
one-off command (``--transactions FILE``) records nothing and asks for the line count alone.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_BLOCK = 1 << 24


@dataclass(frozen=True)
class FileFacts:
    sha256: str  #: of the file's bytes, as stored (compressed for ``.gz``); empty when not asked for
    lines: int  #: of the text (decompressed for ``.gz``); a last line without a line break counts


_KEPT = 16
_known: dict[tuple[Path, int, int], tuple[bool, Future[FileFacts]]] = {}  # key -> (with digest, facts)
_lock = threading.Lock()
_readers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kvar-file-facts")


def file_facts(path: Path, *, digest: bool = True) -> FileFacts:
    """The :class:`FileFacts` of ``path``, computed once for each version of the file (its size and
    modification time); ``digest=False``: the line count is enough (a one-off command, which records
    nothing, does not pay for the SHA-256)."""
    return facts_soon(path, digest=digest).result()


def facts_soon(path: Path, *, digest: bool = True) -> Future[FileFacts]:
    """:func:`file_facts` computed on a background thread, to be read when needed: a load starts it before
    DuckDB reads the file, so the two reads overlap (the digest and count let go of the GIL). Asking again
    for the same version of the file gives the same computation, whether it is done or still running."""
    status = path.stat()
    key = (path.resolve(), status.st_size, status.st_mtime_ns)
    with _lock:
        known = _known.get(key)
        if known is not None and (known[0] or not digest):
            return known[1]
        facts = _readers.submit(_read_facts, key[0], digest)
        _known.pop(key, None)
        _known[key] = (digest, facts)
        if len(_known) > _KEPT:
            del _known[next(iter(_known))]
    return facts


def _read_facts(path: Path, digest: bool) -> FileFacts:
    """One read of the file: each block is hashed on a second thread (the hash lets go of the GIL) while
    its line breaks are counted, which takes the read of 430 MB from 0.45 s to 0.35 s."""
    hashed = hashlib.sha256() if digest else None
    compressed = path.suffix.lower() == ".gz"
    breaks, last = 0, b"\n"
    with path.open("rb") as handle, ThreadPoolExecutor(max_workers=1) as hasher:
        hashing: Future[None] | None = None
        while block := handle.read(_BLOCK):
            if hashed is not None:
                if hashing is not None:
                    hashing.result()  # one block at a time waits for the hasher: two blocks in memory at most
                hashing = hasher.submit(hashed.update, block)
            if not compressed:
                breaks += _line_breaks(block)
                last = block[-1:]
        if hashing is not None:
            hashing.result()
    if compressed:
        with gzip.open(path, "rb") as text:
            while block := text.read(_BLOCK):
                breaks += _line_breaks(block)
                last = block[-1:]
    return FileFacts(hashed.hexdigest() if hashed is not None else "", breaks + (last != b"\n"))


def _line_breaks(block: bytes) -> int:
    """The ``\\n`` bytes of ``block``, counted by NumPy: 2.4 times as fast as ``bytes.count``, and it lets go
    of the GIL, so the hash runs alongside."""
    return int(np.count_nonzero(np.frombuffer(block, np.uint8) == ord("\n")))
