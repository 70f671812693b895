"""Named churn definitions, written from the vendors' own documentation, and the reconciliation between them.

A definition is a combination of explicit choices (docs/definitions.md, "Named definitions"):

* ``boundary``: which side of a period's first instant a subscription starting or ending exactly there
  falls on (:func:`kvar.metrics.activity.active_at`);
* ``joined_and_left``: what a customer who joins and leaves inside the period counts as: ``ignored``
  (neither churned nor in the base), ``churned`` (in the churned count; the base stays the start
  customers), ``churned_and_new`` (churned, and the period's new customers join the base);
* ``returns``: a start customer who leaves and comes back inside the period is ``retained`` (the state at
  the end is compared with the state at the start) or ``churned`` (a churn event happened).

``churn_rate = churned / base * 100``, with ``base`` the start customers (plus the period's new customers
under ``churned_and_new``). Every definition measures the same calendar periods and recognises churn when
activity ends (``ended_at``, plus ``grace``); the trailing 30-day windows of Baremetrics and Stripe are not
built, so those presets apply their counting rules to calendar periods (said in the docs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import ParameterError
from kvar.i18n import marked, tr
from kvar.metrics.activity import (
    Boundary,
    active_at,
    activity_source,
    spells,
    touching_periods,
    within_period,
)
from kvar.metrics.calendar import calendar, observation
from kvar.metrics.frames import rows_of
from kvar.metrics.revenue import mrr_movements


@dataclass(frozen=True)
class Definition:
    """One way of counting churn; see the module docstring for each choice."""

    name: str
    boundary: Boundary = "before"
    joined_and_left: Literal["ignored", "churned", "churned_and_new"] = "ignored"
    returns: Literal["retained", "churned"] = "retained"
    source: str = ""  # where the vendor says so (docs/definitions.md, "Named definitions")


PRESETS: dict[str, Definition] = {
    "kvar": Definition("kvar", source="docs/definitions.md, Retention"),
    "fightchurn": Definition(
        "fightchurn", boundary="at", source="Gold, Fighting Churn with Data, listings 2.1, 2.2, 2.4"
    ),
    "chartmogul": Definition("chartmogul", returns="churned", source="ChartMogul, Metric: Customer Churn rate (B2B)"),
    "baremetrics": Definition(
        "baremetrics", joined_and_left="churned", source="Baremetrics, User and revenue churn; changelog"
    ),
    "profitwell": Definition("profitwell", source="ProfitWell/Paddle, calculating metrics; ProfitWell vs Chargify"),
    "stripe": Definition(
        "stripe",
        joined_and_left="churned_and_new",
        returns="churned",
        source="Stripe, Calculating churn rate in Billing",
    ),
}


def definitions_named(names: str | list[str], option: str = "--definitions") -> list[Definition]:
    """The presets named (a comma-separated string or a list), in the order given; errors name ``option``."""
    wanted = [name.strip() for name in (names.split(",") if isinstance(names, str) else names) if name.strip()]
    unknown = [name for name in wanted if name not in PRESETS]
    if unknown or not wanted:
        raise ParameterError(
            tr("{option} {names}: expected names among {presets}").format(
                option=option, names=",".join(unknown) or "''", presets=", ".join(PRESETS)
            )
        )
    return [PRESETS[name] for name in wanted]


FLAGS = ("at_start", "at_end", "left", "joined_left", "on_boundary")


def customer_flags(
    subscriptions: IntoFrame, *, boundary: Boundary, period: str, grace: str | None, as_of: dt.datetime | None
) -> nw.LazyFrame:
    """Per customer and period (customers whose activity touches it), 0/1 flags read on ``boundary``'s side:
    ``at_start``, ``at_end``, ``left`` (the spell active at the start ends inside the period),
    ``joined_left`` (a spell starts and ends inside it), ``on_boundary`` (a spell starts or ends exactly at
    one of the period's two instants). The rows do not depend on the side, only the flags do."""
    source = activity_source(None, subscriptions, inactivity="0d", grace=grace)  # inactivity: transactions only
    first, end = observation(source.facts, source.time_columns, as_of)
    joined = touching_periods(spells(source.intervals), calendar(source.facts, period, first, end))
    start, stop, p0, p1 = nw.col("spell_start"), nw.col("spell_end"), nw.col("period_start"), nw.col("period_end")
    at_start, at_end = active_at(start, stop, p0, boundary), active_at(start, stop, p1, boundary)
    flags = joined.select(
        "customer_id",
        "period_start",
        "period_end",
        at_start=at_start.cast(nw.Int64),
        at_end=at_end.cast(nw.Int64),
        left=(at_start & ~at_end).cast(nw.Int64),
        joined_left=(within_period(start, p0, p1, boundary) & ~at_end).cast(nw.Int64),
        on_boundary=((start == p0) | (start == p1) | (stop == p0) | (stop == p1)).cast(nw.Int64),
    )
    return flags.group_by("customer_id", "period_start", "period_end").agg(*(nw.col(name).max() for name in FLAGS))


def contributions(flags: nw.LazyFrame, definition: Definition) -> nw.LazyFrame:
    """Each customer's part in ``definition``'s churned count and base (0/1 columns ``churned``, ``base``)."""
    churned, base = _contribution(definition, "")
    return flags.with_columns(churned=churned, base=base)


def _contribution(definition: Definition, prefix: str) -> tuple[nw.Expr, nw.Expr]:
    """``(churned, base)`` of one customer and period, as Int64 0/1, from the flags named ``prefix + flag``."""
    flag = lambda name: nw.col(prefix + name) == 1  # noqa: E731 - one flag column
    at_start, at_end = flag("at_start"), flag("at_end")
    joined_left = flag("joined_left") & ~at_start & ~at_end
    churned = at_start & ~at_end
    if definition.returns == "churned":
        churned = churned | (at_start & flag("left"))
    if definition.joined_and_left != "ignored":
        churned = churned | joined_left
    base = at_start
    if definition.joined_and_left == "churned_and_new":
        base = base | (~at_start & at_end) | joined_left
    return churned.cast(nw.Int64), base.cast(nw.Int64)


def definition_counts(
    subscriptions: IntoFrame, definition: Definition, *, period: str, grace: str | None, as_of: dt.datetime | None
) -> nw.LazyFrame:
    """Per period (``period_start``): ``customers_start`` on the definition's boundary side, and its
    ``definition_churned`` and ``definition_base``."""
    flags = contributions(
        customer_flags(subscriptions, boundary=definition.boundary, period=period, grace=grace, as_of=as_of), definition
    )
    return flags.group_by("period_start").agg(
        customers_start=nw.col("at_start").sum(),
        definition_churned=nw.col("churned").sum(),
        definition_base=nw.col("base").sum(),
    )


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` finds: the side-by-side table (``rows``) and the explained differences."""

    rows: list[dict[str, Any]]
    differences: list[dict[str, Any]]


def compare(
    subscriptions: IntoFrame,
    definitions: list[Definition],
    *,
    period: str = "month",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
    examples: int = 3,
) -> Comparison:
    """Churn under each definition side by side, and each pair's differences broken into causes.

    The flags are built once per boundary side in use (not once per definition), every definition's part
    is a column of one frame, and only the customers whose part differs between two definitions leave the
    engine. ``rows``: per period and definition ``customers_start``, ``churned``, ``base``, ``churn_rate``
    (%) and the MRR ``grr`` and ``nrr`` (%) on its side. ``differences``: for each period and pair, the
    difference in churned count and base, broken into named causes (each customer whose part differs is
    given the first cause of :data:`CAUSES` that applies, so the causes add up exactly to the differences),
    with up to ``examples`` ids each.
    """
    if not definitions:
        definitions_named([])  # raises: no definition named
    sides = sorted({definition.boundary for definition in definitions})
    keys = ("customer_id", "period_start", "period_end")
    wide: nw.LazyFrame | None = None
    for side in sides:
        flags = customer_flags(subscriptions, boundary=side, period=period, grace=grace, as_of=as_of)
        named = flags.select(*keys, *(nw.col(name).alias(f"{side}_{name}") for name in FLAGS))
        wide = named if wide is None else wide.join(named, on=list(keys), how="inner")  # same rows on both sides
    parts = {}
    for definition in definitions:
        churned, base = _contribution(definition, f"{definition.boundary}_")
        parts[f"{definition.name}_churned"], parts[f"{definition.name}_base"] = churned, base
    wide = wide.with_columns(**parts)  # type: ignore[union-attr]  # one side at least: definitions is not empty
    return Comparison(
        _side_by_side(subscriptions, definitions, wide, sides, period=period, as_of=as_of),
        _differences(wide, definitions, examples),
    )


def _side_by_side(
    subscriptions: IntoFrame,
    definitions: list[Definition],
    wide: nw.LazyFrame,
    sides: list[Boundary],
    *,
    period: str,
    as_of: dt.datetime | None,
) -> list[dict[str, Any]]:
    sums = [nw.col(f"{side}_at_start").sum().alias(f"{side}_start") for side in sides]
    sums += [nw.col(f"{d.name}_{part}").sum() for d in definitions for part in ("churned", "base")]
    counts = {row["period_start"]: row for row in rows_of(wide.group_by("period_start").agg(*sums))}
    money = {side: rows_of(mrr_movements(subscriptions, period=period, as_of=as_of, boundary=side)) for side in sides}
    rows = []
    for definition in definitions:
        for revenue in money[definition.boundary]:
            count = counts.get(revenue["period_start"], {})
            churned, base = (
                int(count.get(f"{definition.name}_churned") or 0),
                int(count.get(f"{definition.name}_base") or 0),
            )
            rows.append(
                {
                    "period_start": revenue["period_start"],
                    "period_end": revenue["period_end"],
                    "definition": definition.name,
                    "customers_start": int(count.get(f"{definition.boundary}_start") or 0),
                    "churned": churned,
                    "base": base,
                    "churn_rate": churned * 100.0 / base if base else None,
                    "grr": revenue["grr"],
                    "nrr": revenue["nrr"],
                }
            )
    return rows


def _differences(wide: nw.LazyFrame, definitions: list[Definition], examples: int) -> list[dict[str, Any]]:
    out = []
    for index, first in enumerate(definitions):
        for second in definitions[index + 1 :]:
            a, b = first.name, second.name
            differing = wide.filter(
                (nw.col(f"{a}_churned") != nw.col(f"{b}_churned")) | (nw.col(f"{a}_base") != nw.col(f"{b}_base"))
            )
            by_period: dict[Any, dict[str, dict[str, Any]]] = {}
            for row in sorted(rows_of(differing), key=lambda r: (r["period_start"], str(r["customer_id"]))):
                cause = _cause(first, second, row)
                entry = by_period.setdefault(row["period_start"], {}).setdefault(
                    cause, {"churned": 0, "base": 0, "customers": 0, "examples": []}
                )
                entry["churned"] += row[f"{b}_churned"] - row[f"{a}_churned"]
                entry["base"] += row[f"{b}_base"] - row[f"{a}_base"]
                entry["customers"] += 1
                if len(entry["examples"]) < examples:
                    entry["examples"].append(row["customer_id"])
            for start, causes in sorted(by_period.items()):
                out.append(
                    {
                        "period_start": start,
                        "from": a,
                        "to": b,
                        "churned_difference": sum(c["churned"] for c in causes.values()),
                        "base_difference": sum(c["base"] for c in causes.values()),
                        "causes": [
                            {"cause": name, "description": CAUSES[name], **values} for name, values in causes.items()
                        ],
                    }
                )
    return out


def churn_by_definition(
    subscriptions: IntoFrame,
    definitions: list[Definition],
    *,
    period: str = "month",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The side-by-side table of :func:`compare` (``rows``)."""
    return compare(subscriptions, definitions, period=period, grace=grace, as_of=as_of).rows


def reconcile(
    subscriptions: IntoFrame,
    definitions: list[Definition],
    *,
    period: str = "month",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
    examples: int = 3,
) -> list[dict[str, Any]]:
    """The explained differences of :func:`compare`."""
    return compare(subscriptions, definitions, period=period, grace=grace, as_of=as_of, examples=examples).differences


CAUSES = {
    "boundary": marked("started or ended exactly at a period boundary"),
    "joined_and_left": marked("joined and left inside the period"),
    "returns": marked("left and came back inside the period"),
    "new_in_base": marked("new customers of the period in the base"),
    "other": marked("other"),
}


def _cause(first: Definition, second: Definition, row: dict[str, Any]) -> str:
    """The first cause of :data:`CAUSES` that explains why ``row``'s customer counts differently."""

    def flag(name: str) -> bool:  # under either definition
        return bool(row[f"{first.boundary}_{name}"] or row[f"{second.boundary}_{name}"])

    if first.boundary != second.boundary and flag("on_boundary"):
        return "boundary"
    if first.joined_and_left != second.joined_and_left and flag("joined_left") and not flag("at_start"):
        return "joined_and_left"
    if first.returns != second.returns and flag("left") and flag("at_end"):
        return "returns"
    if "churned_and_new" in (first.joined_and_left, second.joined_and_left) and not flag("at_start") and flag("at_end"):
        return "new_in_base"
    return "other"
