"""A file's digest and line count, found in one pass and remembered only while the file is unchanged."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

from kvar.data.file_facts import FileFacts, file_facts


def test_digest_and_lines_of_plain_and_compressed_text(tmp_path: Path) -> None:
    plain = tmp_path / "tx.csv"
    plain.write_bytes(b"a,b\n1,2\n3,4")  # the last line has no line break: three lines
    packed = tmp_path / "tx.csv.gz"
    packed.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert file_facts(plain).sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()
    assert file_facts(plain).lines == 3
    assert file_facts(packed).sha256 == hashlib.sha256(packed.read_bytes()).hexdigest()  # of the stored bytes
    assert file_facts(packed).lines == 2  # of the text


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_bytes(b"a\n1\n")
    first = file_facts(path)
    path.write_bytes(b"a\n1\n2\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert file_facts(path).lines == 3 and file_facts(path).sha256 != first.sha256


def test_the_line_count_alone_skips_the_digest_and_a_later_digest_is_still_exact(tmp_path) -> None:
    path = tmp_path / "only-lines.csv"
    path.write_bytes(b"a\nb\n")
    assert file_facts(path, digest=False) == FileFacts("", 2)
    assert file_facts(path).sha256 == hashlib.sha256(b"a\nb\n").hexdigest()
    assert file_facts(path, digest=False).sha256 == file_facts(path).sha256  # the known digest is kept


def test_a_file_of_many_blocks_is_hashed_in_order(tmp_path: Path, monkeypatch) -> None:
    import kvar.data.file_facts as facts

    monkeypatch.setattr(facts, "_BLOCK", 7)  # blocks hashed on a second thread while lines are counted
    content = b"".join(b"line %d with some text\n" % number for number in range(500))
    path = tmp_path / "many-blocks.csv"
    path.write_bytes(content)
    assert file_facts(path) == FileFacts(hashlib.sha256(content).hexdigest(), 500)
