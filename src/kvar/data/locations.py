"""Which local files a location names (a file, a folder of files, or a glob pattern), and the columns
their folder names give.

A folder or a glob is read as one table, its files in the order of their path text (the order that
decides which of two repeated rows in different files is the first), on every engine. The folders of a
partitioned dataset (``orders/country=SE/2026.csv``) add a column per key (:func:`folder_values`).
"""

from __future__ import annotations

import glob
from collections.abc import Collection
from pathlib import Path
from urllib.parse import unquote

from kvar.errors import FileFormatError
from kvar.i18n import tr

_GLOB_CHARACTERS = frozenset("*?[")

#: The folder name Hive and Spark write for a key whose value is null.
_NULL_FOLDER_VALUE = "__HIVE_DEFAULT_PARTITION__"


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


def folder_values(location: Path | str, files: list[Path]) -> list[dict[str, str | None]]:
    """Per file of ``files`` (those ``location`` names), the values its ``key=value`` folder names give,
    over the keys of all the files: the columns a partitioned dataset keeps in its folders.

    The folders counted are those between the location's base and the file: the folder itself, or a glob
    pattern's folders before its first pattern character (``lake/*/x.csv``: below ``lake``); a file
    named alone gives none. A folder name without ``=`` (``2026``) gives no key. Values are text,
    ``%XX`` escapes decoded, as Hive and Spark write them; a key that a file's folders do not name, an
    empty value and Hive's ``__HIVE_DEFAULT_PARTITION__`` are null. Keys in the order they first appear.

    Raises :class:`~kvar.errors.FileFormatError` when one file's folders name a key twice.
    """
    base = _base(location)
    spelling: dict[str, str] = {}  # a key in lower case -> its first spelling, which names its column
    found: list[dict[str, str | None]] = []  # per file: key in lower case -> value
    for path in files:
        values: dict[str, str | None] = {}
        folders = path.parent.relative_to(base).parts if base is not None and path.is_relative_to(base) else ()
        for folder in folders:
            key, equals, value = folder.partition("=")
            if not equals or not key:
                continue
            if key.lower() in values:
                raise FileFormatError(
                    tr("{path}: its folder names give the key {key} twice").format(path=path, key=key)
                )
            spelling.setdefault(key.lower(), key)
            decoded = unquote(value)
            values[key.lower()] = None if decoded in ("", _NULL_FOLDER_VALUE) else decoded
        found.append(values)
    return [{spelled: values.get(key) for key, spelled in spelling.items()} for values in found]


def check_folder_keys(columns: Collection[str], keys: Collection[str], path: Path | str) -> None:
    """Raise :class:`~kvar.errors.FileFormatError` when a key of the file's folder names (:func:`folder_values`)
    is also a column of the file (names compared without case, as the engines do): which to read is not
    kvar's to guess."""
    own = {column.lower() for column in columns}
    for key in keys:
        if key.lower() in own:
            raise FileFormatError(
                tr(
                    "{path}: {key} is both a column of the file and a key of its folder names ({key}=…); rename one"
                ).format(path=path, key=key)
            )


def _base(location: Path | str) -> Path | None:
    """The folder below which a location's folder names are keys: the folder, a pattern's folders before
    its first pattern character, none for a file."""
    path = Path(location)
    if path.is_dir():
        return path
    if not _is_pattern(location):
        return None
    fixed = []
    for part in path.parts:
        if _GLOB_CHARACTERS & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path()
