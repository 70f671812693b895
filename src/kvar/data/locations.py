"""Which local files a location names: a file, a folder of files, or a glob pattern.

A folder or a glob is read as one table, its files in the order of their path text (the order that
decides which of two repeated rows in different files is the first), on every engine.
"""

from __future__ import annotations

import glob
from pathlib import Path

from kvar.errors import FileFormatError
from kvar.i18n import tr

_GLOB_CHARACTERS = frozenset("*?[")


def _is_pattern(location: Path | str) -> bool:
    """Whether ``location`` is a glob pattern rather than the name of one file or folder."""
    return not Path(location).exists() and bool(_GLOB_CHARACTERS & set(str(location)))


def local_files(location: Path | str) -> list[Path]:
    """The files ``location`` names, sorted by their path text: the file itself; the files of a folder
    and its subfolders, but for hidden ones and those whose name starts with ``_`` (a Spark or Hive
    folder's ``_SUCCESS``, ``_metadata``); or the files a glob pattern matches (``**`` spans folders).
    Empty when it names none."""
    path = Path(location)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = (child for child in path.rglob("*") if child.is_file() and not child.name.startswith((".", "_")))
    else:
        found = (Path(name) for name in glob.glob(str(path), recursive=True) if Path(name).is_file())
    return sorted(found, key=str)


def files_named(location: Path | str) -> list[Path]:
    """:func:`local_files`, or an error saying why there are none: no such file, a folder without files,
    or a pattern no file matches."""
    files = local_files(location)
    if files:
        return files
    if Path(location).is_dir():
        raise FileFormatError(tr("{path}: a folder without files").format(path=location))
    if _is_pattern(location):
        raise FileFormatError(tr("{path}: no file matches").format(path=location))
    raise FileFormatError(tr("{path}: no such file").format(path=location))
