"""``kvar clv`` and ``kvar sbg``: fit the published models from the command line."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from kvar.cli.output import emit, print_json, print_table, stderr
from kvar.cli.sources import open_sources, source_kind
from kvar.errors import FileFormatError, ParameterError
from kvar.metrics.frames import rows_of

def clv(
    transactions: Annotated[Optional[Path], typer.Option(help="CSV or Parquet transactions")] = None,
    model: Annotated[str, typer.Option(help="bgnbd, pareto or gg")] = "bgnbd",
    freq: Annotated[str, typer.Option(help="bucket transactions by D, W or M")] = "D",
    unit: Annotated[Optional[str], typer.Option(help="time unit of the model: D or W (default: freq)")] = None,
    calibration_end: Annotated[Optional[dt.datetime], typer.Option(help="fit on transactions up to this day")] = None,
    horizon: Annotated[int, typer.Option(help="months to predict")] = 12,
    discount_rate: Annotated[float, typer.Option(help="monthly discount rate for CLV")] = 0.01,
    params_only: Annotated[bool, typer.Option("--params-only", help="print only the fitted parameters")] = False,
    workspace: Annotated[Optional[Path], typer.Option(help="read transactions from this workspace")] = None,
    mapping: Annotated[list[str], typer.Option("--map", help="canonical=yours")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fit BG/NBD or Pareto/NBD (and Gamma-Gamma for spend); predict purchases, P(alive) and CLV."""
    from kvar.metrics.purchases import customer_summary
    from kvar.models.clv import customer_value

    unit = (unit or freq).upper()
    sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
    facts = sources.table("transactions", transactions)
    with stderr.status("summarising customers and fitting …"):
        summary = rows_of(customer_summary(facts, freq=freq.upper(), unit=unit, calibration_end=calibration_end))  # type: ignore[arg-type]
        rows, fitted = customer_value(summary, model=model, horizon=horizon, discount_rate=discount_rate, unit=unit)
    parameters = {"model": model, "freq": freq.upper(), "unit": unit, "calibration_end": calibration_end, "horizon": horizon, "discount_rate": discount_rate}
    if params_only:
        chosen = fitted[model]
        param_rows = [{"model": model, **row} for row in chosen.summary]
        if as_json:
            print_json("clv", parameters, param_rows, params=chosen.params_, standard_errors=chosen.standard_errors_, log_likelihood=chosen.log_likelihood_)
        else:
            print_table(f"{model}: log-likelihood {chosen.log_likelihood_:.2f}", param_rows)
        return
    if as_json:
        extra = {name: {"params": m.params_, "log_likelihood": m.log_likelihood_} for name, m in fitted.items()}
        print_json("clv", parameters, rows, models=extra)
    else:
        print_table("clv", sorted(rows, key=lambda row: -(row.get("clv") or row.get("expected_spend") or 0)))


def read_survivors(path: Path, column: str) -> list[float]:
    """A column of survivor counts from a CSV file, in file order."""
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if column not in (reader.fieldnames or []):
            raise FileFormatError(f"{path}: no column {column!r}; columns are {', '.join(reader.fieldnames or [])}")
        values = []
        for line, row in enumerate(reader, start=2):
            try:
                values.append(float(row[column]))
            except (TypeError, ValueError) as error:
                raise FileFormatError(f"{path} row {line}, column {column}: {row[column]!r} is not a number") from error
    return values


def sbg(
    survivors: Annotated[Optional[Path], typer.Option(help="CSV with one row per period: customers still active")] = None,
    column: Annotated[Optional[str], typer.Option(help="the column of survivor counts (with --survivors)")] = None,
    subscriptions: Annotated[Optional[Path], typer.Option(help="or: fit one sBG per acquisition cohort of these subscriptions")] = None,
    period: Annotated[str, typer.Option(help="cohort and renewal period with --subscriptions")] = "year",
    project: Annotated[int, typer.Option(help="project survivors up to this period")] = 12,
    discount_rate: Annotated[float, typer.Option(help="discount rate per period for DERL")] = 0.1,
    workspace: Annotated[Optional[Path], typer.Option(help="read subscriptions from this workspace")] = None,
    mapping: Annotated[list[str], typer.Option("--map", help="canonical=yours")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fit the shifted-beta-geometric model to a cohort's survivors (or to each cohort of subscriptions)."""
    from kvar.models import ShiftedBetaGeometric

    if survivors is None:
        from kvar.models.cohort_retention import sbg_by_cohort

        if subscriptions is None and workspace is None:
            raise ParameterError("give --survivors FILE --column NAME, or --subscriptions FILE (or --workspace)")
        sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
        rows = sbg_by_cohort(sources.table("subscriptions", subscriptions), period=period, project=project)
        shown = rows if as_json else [{k: v for k, v in row.items() if k not in ("observed", "projected")} for row in rows]
        emit("sbg", {"period": period, "project": project}, shown, as_json, title="sBG per cohort")
        return
    if not column:
        raise ParameterError("--survivors needs --column NAME")
    model = ShiftedBetaGeometric().fit(read_survivors(survivors, column))
    rows = model.projected_survivors(project)
    derl = model.discounted_expected_residual_lifetime(discount_rate)
    if as_json:
        print_json("sbg", {"column": column, "project": project, "discount_rate": discount_rate}, rows,
                   alpha=model.params_["alpha"], beta=model.params_["beta"], log_likelihood=model.log_likelihood_,
                   standard_errors=model.standard_errors_, discounted_expected_residual_lifetime=derl)
    else:
        print_table(f"sBG alpha={model.params_['alpha']:.3f} beta={model.params_['beta']:.3f} LL={model.log_likelihood_:.2f}", rows)


def segments(
    transactions: Annotated[Optional[Path], typer.Option(help="CSV or Parquet transactions")] = None,
    workspace: Annotated[Optional[Path], typer.Option(help="read transactions from this workspace")] = None,
    summary_only: Annotated[bool, typer.Option("--summary", help="one row per segment instead of per customer")] = False,
    mapping: Annotated[list[str], typer.Option("--map", help="canonical=yours")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """RFM scores, named segments (Champions … Lost), value tiers and health score per customer."""
    from kvar.models.segments import rfm_segments

    sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
    rows = rows_of(rfm_segments(sources.table("transactions", transactions)))
    if summary_only:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(row["segment"], []).append(row)
        total = sum(row["monetary"] for row in rows) or 1.0
        rows = [
            {"segment": name, "customers": len(members), "share_of_customers": len(members) * 100.0 / len(rows),
             "revenue": sum(m["monetary"] for m in members), "share_of_revenue": sum(m["monetary"] for m in members) * 100.0 / total,
             "average_health": sum(m["health_score"] for m in members) / len(members)}
            for name, members in sorted(groups.items(), key=lambda item: -len(item[1]))
        ]
    emit("segments", {"summary": summary_only}, rows, as_json)


def survival(
    transactions: Annotated[Optional[Path], typer.Option(help="non-contractual: transactions file")] = None,
    subscriptions: Annotated[Optional[Path], typer.Option(help="contractual: subscriptions file")] = None,
    by: Annotated[Optional[str], typer.Option(help="segment to compare (column of the data or customers)")] = None,
    customers: Annotated[Optional[Path], typer.Option(help="customers file with segment attributes")] = None,
    inactivity: Annotated[str, typer.Option(help="non-contractual inactivity window")] = "90d",
    grace: Annotated[Optional[str], typer.Option(help="contractual grace period")] = None,
    workspace: Annotated[Optional[Path], typer.Option(help="read tables from this workspace")] = None,
    mapping: Annotated[list[str], typer.Option("--map", help="canonical=yours")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Kaplan-Meier survival of customer lifetimes by segment, medians, log-rank test, hazard by tenure."""
    from kvar.models.survival import customer_lifetimes, survival_analysis

    kind = source_kind(transactions, subscriptions, workspace)
    sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
    facts = sources.table(kind, transactions if kind == "transactions" else subscriptions)
    people = sources.table_if_given("customers", customers)
    with stderr.status("fitting survival curves …"):
        lifetimes = customer_lifetimes(**{kind: facts}, by=by, customers=people, inactivity=inactivity, grace=grace)
        analysis = survival_analysis(lifetimes, by=by)
    if as_json:
        print_json("survival", {"source": kind, "by": by}, analysis.medians, curves=analysis.curves, hazard=analysis.hazard, logrank=analysis.logrank)
    else:
        print_table("median customer lifetime (days)", analysis.medians)
        if analysis.logrank:
            stderr.print(f"log-rank test: statistic {analysis.logrank['test_statistic']:.2f}, p = {analysis.logrank['p_value']:.3g}")


def churn_causes(
    subscriptions: Annotated[Optional[Path], typer.Option(help="subscriptions file")] = None,
    payments: Annotated[Optional[Path], typer.Option(help="payment attempts file")] = None,
    period: Annotated[str, typer.Option(help="day, week, month, quarter or year")] = "month",
    window: Annotated[str, typer.Option(help="failed payments this close before the churn make it involuntary")] = "30d",
    workspace: Annotated[Optional[Path], typer.Option(help="read tables from this workspace")] = None,
    mapping: Annotated[list[str], typer.Option("--map", help="canonical=yours")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Voluntary vs involuntary (failed payment) churn per period, with the MRR each lost."""
    from kvar.metrics.churn_causes import churn_causes as compute

    sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
    rows = rows_of(compute(sources.table("subscriptions", subscriptions), sources.table("payments", payments), period=period, window=window))
    emit("churn-causes", {"period": period, "window": window}, rows, as_json)


def risk(
    subscriptions: Annotated[Optional[Path], typer.Option(help="subscriptions file")] = None,
    events: Annotated[Optional[Path], typer.Option(help="product events file")] = None,
    payments: Annotated[Optional[Path], typer.Option(help="payment attempts file (optional)")] = None,
    feedback: Annotated[Optional[Path], typer.Option(help="survey answers file (optional)")] = None,
    customers: Annotated[Optional[Path], typer.Option(help="customers file (optional, for channel)")] = None,
    horizon: Annotated[int, typer.Option(help="predict churn within this many days")] = 60,
    top: Annotated[int, typer.Option(help="reasons per customer")] = 3,
    workspace: Annotated[Optional[Path], typer.Option(help="read tables from this workspace")] = None,
    mapping: Annotated[list[str], typer.Option("--map", help="canonical=yours")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Train a churn-risk model (time-based split) and score current customers with their top reasons."""
    from kvar.models.churn_features import churn_features
    from kvar.models.churn_risk import ChurnRiskModel

    sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
    optional = sources.table_if_given

    with stderr.status("building features and training …"):
        table = churn_features(
            sources.table("subscriptions", subscriptions), sources.table("events", events),
            optional("payments", payments), optional("feedback", feedback), optional("customers", customers), horizon_days=horizon,
        ).collect(backend="pandas").to_native()
        model = ChurnRiskModel().fit(table)
        rows = model.latest_scores(table, top=top)
    e = model.evaluation_
    evaluation = {"test_date": e.test_date, "test_rows": e.test_rows, "churn_rate": e.churn_rate, "auc": e.auc, "baseline_auc": e.baseline_auc,
                  "top_decile_lift": e.top_decile_lift, "brier": e.brier, "calibration": e.calibration}
    if as_json:
        print_json("risk", {"horizon_days": horizon}, rows, evaluation=evaluation, drivers=model.importances_)
    else:
        stderr.print(f"held-out AUC {e.auc:.3f} (recency-only baseline {e.baseline_auc:.3f}), top-decile lift {e.top_decile_lift:.1f}, Brier {e.brier:.4f}")
        print_table("churn risk (highest first)", [{**row, "reasons": "; ".join(row["reasons"])} for row in rows])


def expansion(
    subscriptions: Annotated[Optional[Path], typer.Option(help="subscriptions file (plan, quantity = seats)")] = None,
    events: Annotated[Optional[Path], typer.Option(help="product events file")] = None,
    seat_share: Annotated[float, typer.Option(help="seats count as near the limit when active users fill this share")] = 0.9,
    workspace: Annotated[Optional[Path], typer.Option(help="read tables from this workspace")] = None,
    mapping: Annotated[list[str], typer.Option("--map", help="canonical=yours")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Customers with expansion potential: high usage on a low plan, or seats near their limit."""
    from kvar.models.churn_features import churn_features
    from kvar.models.expansion import expansion_potential

    sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
    subs = sources.table("subscriptions", subscriptions)
    features = churn_features(subs, sources.table("events", events)).collect(backend="pandas").to_native()
    rows = expansion_potential(features, subs, seat_share=seat_share)
    emit("expansion", {"seat_share": seat_share}, rows if as_json else [row for row in rows if row["expansion_potential"]], as_json)
