"""Named churn definitions, written from the vendors' own documentation, and the reconciliation between them.

A definition is a combination of explicit choices (docs/definitions.md, "Named churn definitions"), listed in
:data:`OPTIONS` in the order the reconciliation walks them:

* ``boundary``: which side of an instant a subscription starting or ending exactly there falls on
  (:func:`kvar.metrics.activity.active_at`): ``before`` or ``at``;
* ``window``: what is measured for each reporting period: the ``calendar`` period itself, or a trailing
  window of ``N`` days ending where the period ends (``30d``: "the last 30 days");
* ``unit``: what is counted: a ``customer`` (active while any of their subscriptions is) or a
  ``subscription`` (each ``subscription_id`` on its own);
* ``recognition``: when churn is recognised: at the ``end`` of the subscription (``ended_at``), or ``N``
  days after it (``14d``), on top of the data's ``grace``;
* ``joined_and_left``: what a unit that joins and leaves inside the window counts as: ``ignored``
  (neither churned nor in the base), ``churned`` (in the churned count; the base stays the start units),
  ``churned_and_new`` (churned, and the window's new units join the base);
* ``returns``: a start unit that leaves and comes back inside the window is ``retained`` (the state at the
  end is compared with the state at the start) or ``churned`` (a churn event happened).

``churn_rate = churned / base * 100``, with ``base`` the units active at the window's start (plus the
window's new units under ``churned_and_new``).

The reconciliation of two definitions changes the first into the second one option at a time, in the order
of :data:`OPTIONS`; each step's change in a unit's churned count and base is that option's cause. The causes
therefore add up exactly to the difference, and each names the option that made it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import ParameterError
from kvar.i18n import marked, tr
from kvar.metrics.activity import (
    BOUNDARIES,
    Boundary,
    active_at,
    intervals_from_subscriptions,
    spells,
    touching_periods,
    within_period,
)
from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, measured_periods, trailing_windows
from kvar.metrics.frames import rows_of, table_of
from kvar.metrics.grid import segment_of
from kvar.metrics.revenue import mrr_movements

JoinedAndLeft = Literal["ignored", "churned", "churned_and_new"]
Returns = Literal["retained", "churned"]
Unit = Literal["customer", "subscription"]

#: The options of a definition, in the order the reconciliation changes them.
OPTIONS = ("boundary", "window", "unit", "recognition", "joined_and_left", "returns")
#: The values each option with a fixed list takes.
CHOICES: dict[str, tuple[str, ...]] = {
    "boundary": BOUNDARIES,
    "unit": ("customer", "subscription"),
    "joined_and_left": ("ignored", "churned", "churned_and_new"),
    "returns": ("retained", "churned"),
}
_DAYS = re.compile(r"^([1-9][0-9]{0,3})d$")


@dataclass(frozen=True)
class Definition:
    """One way of counting churn; see the module docstring for each option."""

    name: str
    boundary: Boundary = "before"
    window: str = "calendar"
    unit: Unit = "customer"
    recognition: str = "end"
    joined_and_left: JoinedAndLeft = "ignored"
    returns: Returns = "retained"
    source: str = ""  # where the vendor says so (docs/definitions.md, "Named churn definitions")

    def __post_init__(self) -> None:
        for option, allowed in CHOICES.items():
            if getattr(self, option) not in allowed:
                raise ParameterError(
                    tr("definition {name}: {option} expected one of {allowed}, got {value!r}").format(
                        name=self.name, option=option, allowed=", ".join(allowed), value=getattr(self, option)
                    )
                )
        for option, plain in (("window", "calendar"), ("recognition", "end")):
            value = getattr(self, option)
            if value != plain and not _DAYS.match(value):
                raise ParameterError(
                    tr(
                        "definition {name}: {option} expected {plain} or a number of days such as 30d, got {value!r}"
                    ).format(name=self.name, option=option, plain=plain, value=value)
                )

    def options(self) -> dict[str, str]:
        """The definition's choices by option name, in :data:`OPTIONS` order."""
        return {option: getattr(self, option) for option in OPTIONS}

    def reading(self) -> Reading:
        """How this definition reads activity (everything but its counting rules)."""
        return Reading(self.boundary, self.window, self.unit, self.recognition)


@dataclass(frozen=True)
class Reading:
    """The options that decide which units are active at which instant: one set of flags is built per reading."""

    boundary: Boundary
    window: str
    unit: Unit
    recognition: str

    @property
    def key(self) -> str:
        return f"{self.boundary}_{self.window}_{self.unit}_{self.recognition}"


PRESETS: dict[str, Definition] = {
    "kvar": Definition("kvar", source="docs/definitions.md, Retention"),
    "fightchurn": Definition(
        "fightchurn", boundary="at", source="Gold, Fighting Churn with Data, listings 2.1, 2.2, 2.4"
    ),
    "chartmogul": Definition("chartmogul", returns="churned", source="ChartMogul, Metric: Customer Churn rate (B2B)"),
    "baremetrics": Definition(
        "baremetrics",
        window="30d",
        joined_and_left="churned",
        source="Baremetrics, User and revenue churn; changelog",
    ),
    "profitwell": Definition("profitwell", source="ProfitWell/Paddle, calculating metrics; ProfitWell vs Chargify"),
    "stripe": Definition(
        "stripe",
        window="30d",
        joined_and_left="churned_and_new",
        returns="churned",
        source="Stripe, Calculating churn rate in Billing",
    ),
}


def define(spec: str, known: dict[str, Definition] | None = None) -> Definition:
    """A definition from ``NAME=BASE,option=value,…``: the definition ``BASE`` (a preset, or one defined
    before) with some options changed, e.g. ``monthly_stripe=stripe,window=calendar``."""
    known = {**PRESETS, **(known or {})}
    head, _, rest = spec.partition(",")
    name, equals, base = (part.strip() for part in head.partition("="))
    if not equals or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name) or base not in known:
        raise ParameterError(
            tr("--define {spec!r}: expected NAME=BASE,option=value,… with BASE among {known}").format(
                spec=spec, known=", ".join(known)
            )
        )
    changes: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        option, equals, value = (part.strip() for part in item.partition("="))
        if not equals or option not in OPTIONS:
            raise ParameterError(
                tr("--define {spec!r}: {item!r} is not option=value with option among {options}").format(
                    spec=spec, item=item, options=", ".join(OPTIONS)
                )
            )
        changes[option] = value
    source = f"{base} with {rest.strip()}" if rest.strip() else base
    changed: dict[str, Any] = {"name": name, "source": source, **changes}  # values checked in __post_init__
    return dataclasses.replace(known[base], **changed)


def defined(specs: Iterable[str]) -> dict[str, Definition]:
    """The definitions of several ``--define`` specs, each able to build on the ones before it."""
    out: dict[str, Definition] = {}
    for spec in specs:
        definition = define(spec, out)
        out[definition.name] = definition
    return out


def definitions_named(
    names: str | Sequence[str], option: str = "--definitions", extra: dict[str, Definition] | None = None
) -> list[Definition]:
    """The definitions named (a comma-separated string or a list), in the order given, from the presets and
    ``extra`` (those of ``--define``); errors name ``option``."""
    known = {**PRESETS, **(extra or {})}
    wanted = [name.strip() for name in (names.split(",") if isinstance(names, str) else names) if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise ParameterError(
            tr("{option} {names}: expected names among {presets}").format(
                option=option, names=",".join(unknown) or "''", presets=", ".join(known)
            )
        )
    return [known[name] for name in wanted]


FLAGS = ("at_start", "at_end", "left", "joined_left")


def _total_grace(grace: str | None, recognition: str) -> str | None:
    """The data's grace plus a definition's recognition delay, in days (``None`` when both are nothing)."""
    days = sum(int(_days_of(value)) for value in (grace, recognition) if value and value != "end")
    return f"{days}d" if days else None


def _days_of(window: str) -> int:
    from kvar.metrics.periods import window_offset

    offset = window_offset(window)
    if not offset.endswith("d"):
        raise ParameterError(
            tr(
                "grace: expected days or weeks (e.g. 14d, 2w) when a definition delays recognition, got {grace!r}"
            ).format(grace=window)
        )
    return int(offset[:-1])


def unit_flags(
    subscriptions: IntoFrame, reading: Reading, *, period: str, grace: str | None, as_of: dt.datetime | None
) -> nw.LazyFrame:
    """Per counted unit (customer, or subscription) and reporting period, the 0/1 flags of ``reading``:
    ``at_start`` and ``at_end`` (active at the window's first and last instant, on the reading's side),
    ``left`` (a spell active at the start ends inside the window), ``joined_left`` (a spell starts and ends
    inside it). Only units whose activity touches the window appear.

    Columns: ``customer_id``, ``unit_id``, ``period_start`` (the reporting period), ``period_end``,
    ``window_start`` and the flags.
    """
    needed = ["customer_id", "started_at", "ended_at"] + (["subscription_id"] if reading.unit == "subscription" else [])
    facts, _ = table_of(subscriptions, "subscriptions", needed)
    keep = ("subscription_id",) if reading.unit == "subscription" else ()
    intervals = intervals_from_subscriptions(facts, _total_grace(grace, reading.recognition), keep=keep)
    if reading.unit == "subscription":
        intervals = intervals.with_columns(unit_id=nw.col("subscription_id").cast(nw.String))
    else:
        intervals = intervals.with_columns(unit_id=nw.col("customer_id").cast(nw.String))
    periods, _ = measured_periods(facts, SUBSCRIPTION_OBSERVED, period, as_of)
    windows = trailing_windows(periods, reading.window)
    joined = touching_periods(spells(intervals, ("customer_id", "unit_id")), windows, start="window_start")
    start, stop, p0, p1 = nw.col("spell_start"), nw.col("spell_end"), nw.col("window_start"), nw.col("period_end")
    at_start, at_end = active_at(start, stop, p0, reading.boundary), active_at(start, stop, p1, reading.boundary)
    flags = joined.select(
        "customer_id",
        "unit_id",
        "period_start",
        "period_end",
        "window_start",
        at_start=at_start.cast(nw.Int64),
        at_end=at_end.cast(nw.Int64),
        left=(at_start & ~at_end).cast(nw.Int64),
        joined_left=(within_period(start, p0, p1, reading.boundary) & ~at_end).cast(nw.Int64),
    )
    keys = ("customer_id", "unit_id", "period_start", "period_end", "window_start")
    return flags.group_by(*keys).agg(*(nw.col(name).max() for name in FLAGS))


def _contribution(definition: Definition) -> tuple[nw.Expr, nw.Expr]:
    """``(churned, base)`` of one unit and period, as Int64 0/1, from :func:`unit_flags`' flags."""
    flag = lambda name: nw.col(name) == 1  # noqa: E731 - one flag column
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


def _customer_parts(flags: nw.LazyFrame, prefix: str, variants: dict[str, Definition]) -> nw.LazyFrame:
    """Per customer and period: each variant's churned and base (summed over the customer's units), the
    units at the start, and whether the customer joined and left (for the cause's name)."""
    parts = {}
    for column, definition in variants.items():
        parts[f"{column}_churned"], parts[f"{column}_base"] = _contribution(definition)
    counted = flags.with_columns(**parts)
    summed = counted.group_by("customer_id", "period_start", "period_end").agg(
        nw.col("at_start").sum().alias(f"{prefix}_start"),
        nw.col("joined_left").max().alias(f"{prefix}_joined_left"),
        nw.col("at_start").max().alias(f"{prefix}_any_start"),
        *(nw.col(name).sum() for name in parts),
    )
    counts = [f"{prefix}_start", *parts]  # DuckDB sums integers as 128-bit: back to plain integers
    return summed.with_columns(nw.col(name).cast(nw.Int64) for name in counts)


def definition_counts(
    subscriptions: IntoFrame,
    definition: Definition,
    *,
    period: str,
    grace: str | None,
    as_of: dt.datetime | None,
    by: str | None = None,
    customers: IntoFrame | None = None,
) -> nw.LazyFrame:
    """Per period (``period_start``, and ``by`` when given): the units at the start of the definition's
    window (``customers_start``), its ``definition_churned`` and ``definition_base``."""
    flags = unit_flags(subscriptions, definition.reading(), period=period, grace=grace, as_of=as_of)
    per_customer = _customer_parts(flags, "d", {"v": definition})
    keys: tuple[str, ...] = ()
    if by:
        facts, _ = table_of(subscriptions, "subscriptions", ["customer_id", "started_at"])
        per_customer = per_customer.join(segment_of(facts, by, "started_at", customers), on="customer_id", how="left")
        keys = (by,)
    return per_customer.group_by(*keys, "period_start").agg(
        customers_start=nw.col("d_start").sum(),
        definition_churned=nw.col("v_churned").sum(),
        definition_base=nw.col("v_base").sum(),
    )


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_definitions` finds: the side-by-side table (``rows``) and the explained differences."""

    rows: list[dict[str, Any]]
    differences: list[dict[str, Any]]


def _path(first: Definition, second: Definition) -> list[tuple[str, Definition]]:
    """The definitions met changing ``first`` into ``second`` one option at a time (:data:`OPTIONS` order):
    ``(option changed, definition after the change)`` for each option on which they differ."""
    steps, current = [], first
    for option in OPTIONS:
        if getattr(current, option) != getattr(second, option):
            current = dataclasses.replace(current, name=f"{current.name}+{option}", **{option: getattr(second, option)})
            steps.append((option, current))
    return steps


def _same_rules(a: Definition, b: Definition) -> bool:
    return a.options() == b.options()


def compare_definitions(
    subscriptions: IntoFrame,
    definitions: list[Definition],
    *,
    period: str = "month",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
    examples: int = 3,
) -> Comparison:
    """Churn under each definition side by side, and each pair's differences broken into causes.

    ``rows``: per period and definition, ``window_start``, ``customers_start`` (units at the window's start),
    ``churned``, ``base``, ``churn_rate`` (%) and the MRR ``grr`` and ``nrr`` (%) on the definition's
    boundary side and window. ``differences``: for each period and pair, the difference in churned count
    and base, broken into named causes (:data:`CAUSES`, one per option the pair differs on), with the
    customers concerned and up to ``examples`` ids each.

    Flags are built once per reading (boundary, window, unit, recognition) in use, every definition's part
    (and every intermediate definition's on the way from one to another) is a column of one frame, and only
    the customers whose part changes leave the engine.
    """
    if not definitions:
        definitions_named([])  # raises: no definition named
    variants: list[Definition] = []  # every definition measured: the named ones and the steps between them

    def column_of(definition: Definition) -> str:
        for index, known in enumerate(variants):
            if _same_rules(known, definition):
                return f"v{index}"
        variants.append(definition)
        return f"v{len(variants) - 1}"

    columns = {definition.name: column_of(definition) for definition in definitions}
    paths = {}
    for index, first in enumerate(definitions):
        for second in definitions[index + 1 :]:
            paths[(first.name, second.name)] = [(option, column_of(step)) for option, step in _path(first, second)]
    readings = sorted({variant.reading() for variant in variants}, key=lambda reading: reading.key)
    prefixes = {reading: f"r{index}" for index, reading in enumerate(readings)}
    parts = []
    for reading in readings:
        flags = unit_flags(subscriptions, reading, period=period, grace=grace, as_of=as_of)
        mine = {f"v{index}": variant for index, variant in enumerate(variants) if variant.reading() == reading}
        parts.append(_customer_parts(flags, prefixes[reading], mine))
    keys = ["customer_id", "period_start", "period_end"]
    wide = nw.concat([part.select(*keys) for part in parts]).unique()
    for part in parts:
        wide = wide.join(part, on=keys, how="left")
    counted = [name for name in wide.collect_schema().names() if name not in keys]
    wide = wide.with_columns(nw.col(name).fill_null(0) for name in counted)
    return Comparison(
        _side_by_side(subscriptions, definitions, columns, prefixes, wide, period=period, as_of=as_of),
        _differences(definitions, columns, paths, prefixes, variants, wide, examples),
    )


def _side_by_side(
    subscriptions: IntoFrame,
    definitions: list[Definition],
    columns: dict[str, str],
    prefixes: dict[Reading, str],
    wide: nw.LazyFrame,
    *,
    period: str,
    as_of: dt.datetime | None,
) -> list[dict[str, Any]]:
    sums = [nw.col(f"{prefix}_start").sum() for prefix in prefixes.values()]
    sums += [
        nw.col(f"{column}_{part}").sum() for column in sorted(set(columns.values())) for part in ("churned", "base")
    ]
    counts = {row["period_start"]: row for row in rows_of(wide.group_by("period_start").agg(*sums))}
    money: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for definition in definitions:
        side = (definition.boundary, definition.window)
        if side not in money:
            money[side] = rows_of(
                mrr_movements(subscriptions, period=period, as_of=as_of, boundary=side[0], window=side[1])
            )
    rows = []
    for definition in definitions:
        column, prefix = columns[definition.name], prefixes[definition.reading()]
        for revenue in money[(definition.boundary, definition.window)]:
            count = counts.get(revenue["period_start"], {})
            churned, base = int(count.get(f"{column}_churned") or 0), int(count.get(f"{column}_base") or 0)
            rows.append(
                {
                    "period_start": revenue["period_start"],
                    "period_end": revenue["period_end"],
                    "definition": definition.name,
                    "window_start": revenue.get("window_start", revenue["period_start"]),
                    "customers_start": int(count.get(f"{prefix}_start") or 0),
                    "churned": churned,
                    "base": base,
                    "churn_rate": churned * 100.0 / base if base else None,
                    "grr": revenue["grr"],
                    "nrr": revenue["nrr"],
                }
            )
    return rows


def _differences(
    definitions: list[Definition],
    columns: dict[str, str],
    paths: dict[tuple[str, str], list[tuple[str, str]]],
    prefixes: dict[Reading, str],
    variants: list[Definition],
    wide: nw.LazyFrame,
    examples: int,
) -> list[dict[str, Any]]:
    chains = {pair: [columns[pair[0]]] + [column for _, column in steps] for pair, steps in paths.items() if steps}
    measured = sorted({column for chain in chains.values() for column in chain})
    if len(measured) < 2:
        return []
    # One query for every pair: the customers whose part differs under any two of the definitions measured.
    first = measured[0]
    changed = nw.lit(False)
    for column in measured[1:]:
        for part in ("churned", "base"):
            changed = changed | (nw.col(f"{column}_{part}") != nw.col(f"{first}_{part}"))
    moved = sorted(rows_of(wide.filter(changed)), key=lambda r: (r["period_start"], str(r["customer_id"])))
    out = []
    for (a, b), chain in chains.items():
        by_period: dict[Any, dict[str, dict[str, Any]]] = {}
        for row in moved:
            for (option, after), before in zip(paths[(a, b)], chain, strict=False):
                churned = row[f"{after}_churned"] - row[f"{before}_churned"]
                base = row[f"{after}_base"] - row[f"{before}_base"]
                if not (churned or base):
                    continue
                cause = _cause(option, row, prefixes[variants[int(after[1:])].reading()])
                entry = by_period.setdefault(row["period_start"], {}).setdefault(
                    cause, {"churned": 0, "base": 0, "customers": 0, "examples": []}
                )
                entry["churned"] += churned
                entry["base"] += base
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
                    "causes": [  # in the order of the options that made them
                        {"cause": name, "description": CAUSES[name], **causes[name]}
                        for name in CAUSES
                        if name in causes
                    ],
                }
            )
    return out


CAUSES = {
    "boundary": marked("started or ended exactly at a period boundary"),
    "window": marked("counted over the trailing window instead of the calendar period"),
    "unit": marked("counted per subscription instead of per customer"),
    "recognition": marked("churn recognised on another day after the end"),
    "joined_and_left": marked("joined and left inside the period"),
    "new_in_base": marked("new customers of the period in the base"),
    "returns": marked("left and came back inside the period"),
}


def _cause(option: str, row: dict[str, Any], prefix: str) -> str:
    """The cause of a step that changed ``option``; the joined-and-left rule also moves new customers into
    the base, a cause of its own."""
    if option == "joined_and_left":
        return "joined_and_left" if row[f"{prefix}_joined_left"] and not row[f"{prefix}_any_start"] else "new_in_base"
    return option


def as_definition(definition: str | Definition, extra: dict[str, Definition] | None = None) -> Definition:
    """A definition given by name (a preset, or one of ``extra``) or as itself."""
    if isinstance(definition, Definition):
        return definition
    return definitions_named([cast(str, definition)], "--definition", extra)[0]
