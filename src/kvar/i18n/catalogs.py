"""Keeping the gettext catalogs complete: extract every user-visible text, update the ``.po`` files,
compile the ``.mo`` files, and list what is missing (used by ``scripts/translations.py`` and the tests).

The texts are those passed to :func:`~kvar.i18n.tr`, :func:`~kvar.i18n.lazy_tr` and :func:`~kvar.i18n.marked`
anywhere in the package, plus the docstring of every ``kvar`` command (its
help). A catalog is complete when every text has a translation that is not fuzzy, keeps the same
``{placeholders}``, and the catalog holds nothing else; its ``.mo`` must be compiled from its ``.po``.
"""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from kvar.i18n import CATALOG_DIR, DOMAIN, TRANSLATED

PACKAGE = Path(__file__).resolve().parents[1]
KEYWORDS = {"tr": None, "lazy_tr": None, "marked": None}
_LANGUAGES = {"sv": "Swedish", "nb": "Norwegian (bokmål)"}
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)[^{}]*\}(?!\})")


def template() -> Catalog:
    """Every user-visible text of the package, with where it occurs."""
    catalog = Catalog(project="kvar", domain=DOMAIN, charset="utf-8")
    for filename, line, message, comments, _context in extract_from_dir(
        PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, locations=[(f"kvar/{filename}", line)], auto_comments=comments)
    for text, where in command_docstrings():
        catalog.add(text, locations=[where])
    return catalog


def command_docstrings() -> list[tuple[str, tuple[str, int]]]:
    """The help of each command (its docstring, as shown) and where it is written."""
    from kvar.cli.app import app

    found = []
    for info in app.registered_commands:
        if info.callback is None:
            continue
        function = inspect.unwrap(info.callback)
        if function.__doc__:
            path = Path(inspect.getsourcefile(function) or "").resolve().relative_to(PACKAGE.parent)
            found.append((inspect.cleandoc(function.__doc__), (str(path), inspect.getsourcelines(function)[1])))
    return found


def po_path(locale: str) -> Path:
    return CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, charset="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    """The ``.mo`` bytes of ``catalog`` (fuzzy entries left out)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def update(locale: str, source: Catalog | None = None) -> Catalog:
    """Bring ``locale``'s ``.po`` in line with the package's texts (keeping translations; obsolete entries
    dropped, near matches marked fuzzy) and compile its ``.mo``."""
    catalog = read_catalog(locale)
    catalog.update(source or template(), update_header_comment=False, update_creation_date=False)
    catalog.project, catalog.version, catalog.fuzzy = "kvar", "", False
    catalog.copyright_holder, catalog.msgid_bugs_address = "the kvar authors", ""
    catalog.last_translator = catalog.language_team = "kvar developers (terms: docs/glossary.md)"
    catalog.header_comment = (
        f"# {_LANGUAGES[locale]} texts of kvar. Kept with scripts/translations.py; terms in docs/glossary.md."
    )
    path = po_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, ignore_obsolete=True, sort_output=True, include_lineno=False)
    path.with_suffix(".mo").write_bytes(compiled(read_catalog(locale)))
    return catalog


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a ``str.format`` template."""
    return set(_PLACEHOLDER.findall(text))


def problems(locale: str, source: Catalog | None = None) -> list[str]:
    """What keeps ``locale``'s catalog from being complete, one line each (empty: complete)."""
    source = source or template()
    catalog = read_catalog(locale)
    wanted = {message.id for message in source if message.id}
    found = []
    for message in catalog:
        if not message.id:
            continue
        text = message.id if isinstance(message.id, str) else message.id[0]
        translation = message.string if isinstance(message.string, str) else (message.string or ("",))[0]
        if message.id not in wanted:
            found.append(f"{locale}: not used any more: {text!r}")
        elif not translation:
            found.append(f"{locale}: not translated: {text!r}")
        elif message.fuzzy:
            found.append(f"{locale}: fuzzy (check it): {text!r}")
        elif placeholders(text) != placeholders(translation):
            found.append(f"{locale}: placeholders differ in {text!r}: {sorted(placeholders(translation))}")
    known = {message.id for message in catalog if message.id}
    found += [
        f"{locale}: missing: {identifier if isinstance(identifier, str) else identifier[0]!r}"
        for identifier in wanted - known
    ]
    mo = po_path(locale).with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != compiled(catalog):
        found.append(
            f"{locale}: {mo.name} is not compiled from {po_path(locale).name}: run python scripts/translations.py"
        )
    return found


def update_all() -> dict[str, list[str]]:
    """Update and compile every translated locale; what is still missing in each."""
    source = template()
    for locale in TRANSLATED:
        update(locale, source)
    return {locale: problems(locale, source) for locale in TRANSLATED}
