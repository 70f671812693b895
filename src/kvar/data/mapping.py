"""Match the user's column names to a table contract's canonical names.

Order of precedence for each canonical column: an explicit ``--map canonical=theirs``; a column already
named canonically; the first alias found (names compared lower-case without spaces or punctuation, so
``Customer ID`` matches ``customer_id``). A mapping value may also be the product of two columns
(``amount=Quantity*UnitPrice``). Columns not mapped are kept as extra attributes under their own names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kvar.data.contracts import TableContract
from kvar.errors import MappingError
from kvar.i18n import tr

_PRODUCT = re.compile(r"^\s*([^*]+?)\s*\*\s*([^*]+?)\s*$")


def normalise(name: str) -> str:
    """``'Created (UTC)'`` -> ``'createdutc'``: the form in which names and aliases are compared."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True)
class ColumnSource:
    """Where a canonical column comes from: one source column, or the product of two."""

    columns: tuple[str, ...]

    def sql(self, number: Callable[[str], str]) -> str:
        """SQL of the column's value; a product multiplies ``number(column)``, each factor read as a number."""
        if len(self.columns) == 1:
            return f'"{self.columns[0]}"'
        return " * ".join(number(column) for column in self.columns)


@dataclass(frozen=True)
class ResolvedMapping:
    """The source of each canonical column present, and the extra columns kept as they are."""

    sources: dict[str, ColumnSource]
    extras: tuple[str, ...]


@dataclass(frozen=True)
class TableMappings:
    """``--map`` options: renames for every file of a command, and renames for one table's files.

    ``customer_id=CustomerID`` applies to every file whose table has a ``customer_id`` column;
    ``customers:customer_id=account_id`` only to the customers file, and wins over the first form.
    """

    shared: dict[str, str]
    per_table: dict[str, dict[str, str]]

    def for_table(self, contract: TableContract) -> dict[str, str]:
        """The renames that apply to a file of ``contract``'s table."""
        shared = {canonical: theirs for canonical, theirs in self.shared.items() if canonical in contract.names}
        return {**shared, **self.per_table.get(contract.name, {})}


def parse_map_options(options: Iterable[str], contracts: Mapping[str, TableContract]) -> TableMappings:
    """Parse CLI ``--map`` options (``canonical=theirs`` or ``table:canonical=theirs``) against ``contracts``."""
    shared: dict[str, str] = {}
    per_table: dict[str, dict[str, str]] = {}
    for option in options:
        target, separator, theirs = option.partition("=")
        table, _, canonical = target.rpartition(":")
        canonical, theirs, table = canonical.strip(), theirs.strip(), table.strip()
        if not separator or not canonical or not theirs:
            raise MappingError(
                tr(
                    "--map {option!r}: expected canonical=their_column (e.g. customer_id=CustomerID), or table:canonical=their_column"
                ).format(option=option)
            )
        if table:
            if table not in contracts:
                raise MappingError(
                    tr("--map {option!r}: unknown table {table!r}; tables are {contracts}").format(
                        option=option, table=table, contracts=", ".join(contracts)
                    )
                )
            if canonical not in contracts[table].names:
                raise MappingError(
                    tr("--map {option!r}: {table} has no column {canonical!r}; its columns are {names}").format(
                        option=option, table=table, canonical=canonical, names=", ".join(contracts[table].names)
                    )
                )
            per_table.setdefault(table, {})[canonical] = theirs
        elif not any(canonical in contract.names for contract in contracts.values()):
            raise MappingError(
                tr("--map {option!r}: no table has a column {canonical!r} (see docs/data-model.md)").format(
                    option=option, canonical=canonical
                )
            )
        else:
            shared[canonical] = theirs
    return TableMappings(shared=shared, per_table=per_table)


def resolve(contract: TableContract, columns: Sequence[str], explicit: Mapping[str, str], file: str) -> ResolvedMapping:
    """Decide the source of every canonical column; raise :class:`MappingError` for missing required ones."""
    unknown = [name for name in explicit if name not in contract.names]
    if unknown:
        raise MappingError(
            tr("{file}: --map names unknown {name} column(s) {unknown}; known: {names}").format(
                file=file, name=contract.name, unknown=", ".join(unknown), names=", ".join(contract.names)
            )
        )
    by_normal = {normalise(name): name for name in reversed(columns)}
    sources: dict[str, ColumnSource] = {}
    used: set[str] = set()
    for canonical, theirs in explicit.items():
        product = _PRODUCT.match(theirs)
        parts = (product.group(1), product.group(2)) if product else (theirs,)
        for part in parts:
            if part not in columns:
                raise MappingError(
                    tr("{file}: --map {canonical}={theirs}: no column {part!r}; columns are {columns}").format(
                        file=file, canonical=canonical, theirs=theirs, part=part, columns=", ".join(columns)
                    )
                )
        sources[canonical] = ColumnSource(parts)
        used.update(parts)
    for column in contract.columns:
        if column.name in sources:
            continue
        for candidate in (column.name, *column.aliases):
            found = by_normal.get(normalise(candidate))
            if found is not None and found not in used:
                sources[column.name] = ColumnSource((found,))
                used.add(found)
                break
    missing = [column.name for column in contract.columns if column.required and column.name not in sources]
    if missing:
        raise MappingError(
            tr(
                "{file}: {name} needs column(s) {missing}; found {columns}. Hint: --map {first}=<your column name>"
            ).format(
                file=file, name=contract.name, missing=", ".join(missing), columns=", ".join(columns), first=missing[0]
            )
        )
    extras = tuple(name for name in columns if name not in used) if contract.keeps_extra_columns else ()
    return ResolvedMapping(sources=sources, extras=extras)
