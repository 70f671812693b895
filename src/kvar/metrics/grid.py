"""Helpers every per-period metric shares: a customer's segment, a calendar grid with zero counts, flag counts.

They used to live in :mod:`kvar.metrics.retention`; they are here so that every metric imports them from a
module that measures nothing itself.
"""

from __future__ import annotations

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import ParameterError
from kvar.i18n import tr
from kvar.metrics.activity import first_attribute
from kvar.metrics.frames import as_lazy, require_columns


def segment_of(facts: nw.LazyFrame, by: str, time_column: str, customers: IntoFrame | None) -> nw.LazyFrame:
    """Each customer's segment: from ``customers`` when it has the column, else their first fact row."""
    if customers is not None:
        people, _ = as_lazy(customers)
        if by in people.collect_schema().names():
            require_columns(people, "customers", ["customer_id"])
            return people.group_by("customer_id").agg(
                nw.col(by).min()
            )  # one value per customer, whatever the row order
    if by not in facts.collect_schema().names():
        raise ParameterError(tr("--by {by}: no such column in the data or the customers table").format(by=by))
    return first_attribute(facts, by, time_column)


def fill_calendar(
    counts: nw.LazyFrame,
    periods: nw.LazyFrame,
    states: nw.LazyFrame,
    segment_keys: tuple[str, ...],
    count_columns: tuple[str, ...],
) -> nw.LazyFrame:
    """Give every (segment, period) of the calendar a row, with zero counts where nobody was active."""
    grid = periods.select("period_start", "period_end")
    if segment_keys:
        grid = grid.join(states.select(*segment_keys).unique(), how="cross")
    types = counts.collect_schema()
    filled = grid.join(counts, on=[*segment_keys, "period_start"], how="left")
    return filled.with_columns(*(nw.col(name).fill_null(0).cast(types[name]) for name in count_columns)).sort(
        *segment_keys, "period_start"
    )


def sum_flags(frame: nw.LazyFrame, keys: tuple[str, ...], flags: dict[str, nw.Expr]) -> nw.LazyFrame:
    """Per group of ``keys``, how many rows meet each named condition (Int64 counts).

    The conditions become 0/1 columns before grouping, so every engine runs a plain grouped sum.
    """
    marked = frame.with_columns(**{name: condition.cast(nw.Int64) for name, condition in flags.items()})
    summed = marked.group_by(*keys).agg(*(nw.col(name).sum() for name in flags))
    return summed.with_columns(*(nw.col(name).cast(nw.Int64) for name in flags))
