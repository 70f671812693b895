"""The user's language: which locale is active, and the translation of every user-visible text.

Texts are written in English in the code, wrapped in :func:`tr` (or :func:`lazy_tr` where the text is
needed before the locale is known, such as command-line help), and translated with the gettext
catalogs in ``kvar/i18n/locales`` (Swedish and Norwegian bokmål complete; Danish and Finnish format
numbers and dates in their own way and read English texts). The catalogs are kept with Babel:
``python scripts/translations.py`` extracts, updates and compiles them; ``docs/glossary.md`` holds the
terms they use.

The locale is chosen by ``--locale`` (or ``locale=`` in Python), else by the environment: ``KVAR_LOCALE``,
then ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` (``sv_SE.UTF-8`` is ``sv``; ``no`` and ``nn`` read as ``nb``);
anything else is English.
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext
import os
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import LazyProxy

LOCALES = ("en", "sv", "nb", "da", "fi")
TRANSLATED = ("sv", "nb")  # the locales whose catalogs are complete
CATALOG_DIR = Path(__file__).parent / "locales"
DOMAIN = "kvar"
_ALIASES = {"no": "nb", "nn": "nb", "nb": "nb", "sv": "sv", "da": "da", "fi": "fi", "en": "en"}

_active: contextvars.ContextVar[str | None] = contextvars.ContextVar("kvar_locale", default=None)


def locale_from_environment() -> str:
    """The locale the environment asks for (``KVAR_LOCALE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else ``en``."""
    for variable in ("KVAR_LOCALE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return _ALIASES.get(value.split(".")[0].split("_")[0].split("-")[0].lower(), "en")
    return "en"


def check_locale(name: str) -> str:
    """``name`` as one of :data:`LOCALES` (``no`` is ``nb``); :class:`~kvar.errors.ParameterError` otherwise."""
    locale = _ALIASES.get(name.lower().replace("-", "_").split("_")[0])
    if locale is None:
        from kvar.errors import ParameterError

        raise ParameterError(
            tr("--locale {name!r}: expected one of {choices}").format(name=name, choices=", ".join(LOCALES))
        )
    return locale


def active_locale() -> str:
    """The locale in force: the one set with :func:`use_locale` / :func:`set_locale`, else the environment's."""
    return _active.get() or locale_from_environment()


def set_locale(name: str | None) -> None:
    """Make ``name`` the active locale (None: back to the environment's)."""
    _active.set(check_locale(name) if name else None)


@contextlib.contextmanager
def use_locale(name: str | None) -> Iterator[str]:
    """Within the block, ``name`` (None: the active one) is the locale; yields it."""
    token = _active.set(check_locale(name) if name else _active.get())
    try:
        yield active_locale()
    finally:
        _active.reset(token)


@cache
def _catalog(locale: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=CATALOG_DIR, languages=[locale], fallback=True)


def tr(message: str) -> str:
    """``message`` in the active locale's language (English when there is no translation)."""
    return _catalog(active_locale()).gettext(message)


def lazy_tr(message: str) -> LazyProxy:
    """``message``, translated only when it is used (for texts defined before the locale is known)."""
    return LazyProxy(tr, message, enable_cache=False)


def lazy(make: Callable[..., str], *args: Any) -> LazyProxy:
    """The text ``make(*args)`` builds, built only when it is used (in the locale active then)."""
    return LazyProxy(make, *args, enable_cache=False)


def marked(message: str) -> str:
    """``message`` unchanged, marked for the catalogs: data (labels, templates) translated where shown, with :func:`tr`."""
    return message
