"""The catalogs are complete, and no user-visible text bypasses them."""

from __future__ import annotations

import ast
import re

import pytest

from kvar.i18n import TRANSLATED
from kvar.i18n.catalogs import PACKAGE, placeholders, problems, template

_WORD = re.compile(r"[A-Za-z]{2,}")
# not words to translate: options, `code`, identifiers, parameters (alpha=), the product's name, model names
_OPTION_OR_CODE = re.compile(r"--[a-z][a-z-]*|`[^`]*`|\b[a-z]+_[a-z_]+\b|\b\w+=|\bkvar\b|\bsBG\b")
_SHOWN_BY = {"print_error", "stage", "print", "print_table"}  # calls whose first text argument people read


@pytest.fixture(scope="module")
def source():
    return template()


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_catalog_is_complete_and_compiled(source, locale) -> None:
    assert problems(locale, source) == []


def test_the_template_holds_every_command_help_and_error(source) -> None:
    texts = {message.id for message in source}
    assert "Write one self-contained HTML report (works offline): KPIs, benchmarks, cohorts, retention, MRR." in texts
    assert "{path}: no such file" in texts
    assert "Retention rate" in texts
    assert len(texts) > 300


def test_every_literal_given_to_tr_is_in_the_template(source) -> None:
    """A tr("…") the extractor cannot see (inside an f-string, say) would never be translated."""
    texts = {message.id for message in source}
    unseen = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("tr", "lazy_tr", "marked")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value not in texts
            ):
                unseen.append(f"{path.name}:{node.lineno}: {node.args[0].value!r}")
    assert unseen == []


def test_placeholders_are_read_like_str_format() -> None:
    assert placeholders("{path} row {line:,}: {value!r} {{literal}}") == {"path", "line", "value"}


def _words(node: ast.expr) -> list[str]:
    """The words of a literal or f-string people would read (option names, `code` and identifiers aside)."""
    parts = (
        [node.value]
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        else [value.value for value in node.values if isinstance(value, ast.Constant)]
        if isinstance(node, ast.JoinedStr)
        else []
    )
    return [word for part in parts for word in _WORD.findall(_OPTION_OR_CODE.sub(" ", part))]


def _untranslated(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.id
            if isinstance(node.func, ast.Name)
            else node.func.attr
            if isinstance(node.func, ast.Attribute)
            else ""
        )
        raised = name.endswith("Error") and name[0].isupper() and name != "ValueError"
        if (raised or name in _SHOWN_BY) and node.args and _words(node.args[0]):
            found.append((node.lineno, ast.unparse(node.args[0])[:80]))
        for keyword in node.keywords:
            if keyword.arg in ("help", "title", "epilog") and _words(keyword.value):
                found.append((keyword.value.lineno, ast.unparse(keyword.value)[:80]))
    return found


def test_no_message_people_read_is_written_outside_the_catalogs() -> None:
    """Errors raised, lines printed, stages, table titles and help texts go through tr() / lazy_tr()."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "i18n" in path.parts:
            continue
        offenders += [
            f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
            for line, text in _untranslated(ast.parse(path.read_text()))
        ]
    assert offenders == []
