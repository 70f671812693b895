"""The model commands: CLV, sBG, RFM segments, survival, churn causes, churn risk and expansion."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import typer

from kvar.cli.options import (
    AsOfOption,
    ByOption,
    CsvOption,
    Frequency,
    Grace,
    Inactivity,
    JsonOption,
    PeriodOption,
    TableFile,
    Unit,
    check_choice,
    check_frequency,
    check_periods,
    check_window,
    reads_data,
)
from kvar.cli.output import emit, print_json, print_table, stage, stderr
from kvar.cli.sources import Sources, customers_for, source_kind
from kvar.data.small_tables import read_small_csv, small_number
from kvar.errors import FileFormatError, ParameterError
from kvar.i18n import lazy_tr, marked, tr
from kvar.i18n.formatting import number
from kvar.metrics.frames import arrow_of, rows_in, rows_of


@reads_data
def clv(
    transactions: TableFile("transactions") = None,
    model: Annotated[str, typer.Option(metavar="MODEL", help=lazy_tr("bgnbd, pareto or gg"))] = "bgnbd",
    freq: Frequency = "D",
    unit: Unit = None,
    calibration_end: Annotated[
        Optional[dt.datetime],
        typer.Option(
            metavar="DAY", formats=["%Y-%m-%d"], help=lazy_tr("fit on transactions up to this day (inclusive)")
        ),
    ] = None,
    as_of: AsOfOption = None,
    horizon: Annotated[int, typer.Option(metavar="MONTHS", min=1, help=lazy_tr("months to predict"))] = 12,
    discount_rate: Annotated[
        float, typer.Option(metavar="RATE", min=0.0, help=lazy_tr("monthly discount rate for CLV, e.g. 0.01"))
    ] = 0.01,
    params_only: Annotated[
        bool, typer.Option("--params-only", help=lazy_tr("print only the fitted parameters"))
    ] = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Fit BG/NBD or Pareto/NBD (and Gamma-Gamma for spend); predict purchases, P(alive) and CLV.

    --as-of T measures up to the instant T: the same as --calibration-end on the day before T.
    """
    from kvar.metrics.purchases import customer_summary
    from kvar.models.clv import customer_value, fitted_model

    check_choice("--model", model, ("bgnbd", "pareto", "gg"))
    freq, unit = check_frequency(freq, unit)
    if as_of is not None and calibration_end is not None:
        raise ParameterError(tr("give --as-of or --calibration-end, not both"))
    if as_of is not None:
        calibration_end = as_of - dt.timedelta(microseconds=1)
    facts = sources.table("transactions", transactions)
    with stage(tr("summarising customers and fitting")):
        summary = customer_summary(facts, freq=freq, unit=unit, calibration_end=calibration_end)
        if params_only:
            fitted = {model: fitted_model(summary, model=model)}
        else:
            value = customer_value(summary, model=model, horizon_months=horizon, discount_rate=discount_rate, unit=unit)
            table, fitted = arrow_of(value.customers), value.models
    parameters = {
        "model": model,
        "freq": freq,
        "unit": unit,
        "calibration_end": calibration_end,
        "horizon": horizon,
        "discount_rate": discount_rate,
    }
    if params_only:
        chosen = fitted[model]
        param_rows = [{"model": model, **row} for row in chosen.summary]
        if as_json:
            print_json(
                "clv",
                parameters,
                param_rows,
                params=chosen.params_,
                standard_errors=chosen.standard_errors_,
                log_likelihood=chosen.log_likelihood_,
            )
        else:
            emit(
                "clv",
                parameters,
                param_rows,
                False,
                title=tr("{model}: log-likelihood {value}").format(
                    model=model, value=number(chosen.log_likelihood_, 2)
                ),
                as_csv=as_csv,
            )
        return
    if as_json:
        extra = {name: {"params": m.params_, "log_likelihood": m.log_likelihood_} for name, m in fitted.items()}
        print_json("clv", parameters, rows_in(table), models=extra)
    else:
        ranked = sorted(rows_in(table), key=lambda row: -(row.get("clv") or row.get("expected_spend") or 0))
        emit(
            "clv",
            parameters,
            ranked,
            False,
            as_csv=as_csv,
            shown=("customer_id", "p_alive", "expected_purchases", "expected_spend", "clv"),
        )


def read_survivors(path: Path, column: str) -> list[float]:
    """A column of survivor counts from a CSV file (``,`` or ``;``, any Excel encoding), in file order."""
    names, rows = read_small_csv(path)
    if column not in names:
        raise FileFormatError(
            tr("{path}: no column {column!r}; columns are {items}").format(
                path=path, column=column, items=", ".join(names)
            )
        )
    values = []
    for line, row in enumerate(rows, start=2):
        try:
            values.append(small_number(row[column]))
        except ValueError as error:
            raise FileFormatError(
                tr("{path} row {line}, column {column}: {row!r} is not a number").format(
                    path=path, line=line, column=column, row=row[column]
                )
            ) from error
    return values


@reads_data
def sbg(
    survivors: Annotated[
        Optional[Path],
        typer.Option(
            metavar="FILE", help=lazy_tr("CSV with one row per period and a column of customers still active")
        ),
    ] = None,
    column: Annotated[
        Optional[str], typer.Option(metavar="COLUMN", help=lazy_tr("the column of survivor counts (with --survivors)"))
    ] = None,
    subscriptions: TableFile("subscriptions", marked("or: fit one sBG per acquisition cohort")) = None,
    period: Annotated[
        str,
        typer.Option(
            metavar="PERIOD", help=lazy_tr("cohort and renewal period with --subscriptions: month, quarter or year")
        ),
    ] = "year",
    project: Annotated[int, typer.Option(metavar="N", min=1, help=lazy_tr("project survivors up to this period"))] = 12,
    discount_rate: Annotated[
        float, typer.Option(metavar="RATE", min=0.0, help=lazy_tr("discount rate per period for DERL"))
    ] = 0.1,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Fit the shifted-beta-geometric model to a cohort's survivors (or to each cohort of subscriptions)."""
    from kvar.models import ShiftedBetaGeometric

    if survivors is None:
        from kvar.models.cohort_retention import sbg_by_cohort

        check_periods(period=period)
        if subscriptions is None and sources.workspace is None:
            raise ParameterError(
                tr("give --survivors FILE --column NAME, or --subscriptions FILE (or --workspace FILE)")
            )
        rows = sbg_by_cohort(sources.table("subscriptions", subscriptions), period=period, project=project)
        shown = (
            rows if as_json else [{k: v for k, v in row.items() if k not in ("observed", "projected")} for row in rows]
        )
        emit("sbg", {"period": period, "project": project}, shown, as_json, title=tr("sBG per cohort"), as_csv=as_csv)
        return
    if not column:
        raise ParameterError(tr("--survivors needs --column NAME"))
    model = ShiftedBetaGeometric().fit_arrays(read_survivors(survivors, column))
    rows = model.projected_survivors(project)
    derl = model.discounted_expected_residual_lifetime(discount_rate)
    if as_json:
        print_json(
            "sbg",
            {"column": column, "project": project, "discount_rate": discount_rate},
            rows,
            alpha=model.params_["alpha"],
            beta=model.params_["beta"],
            log_likelihood=model.log_likelihood_,
            standard_errors=model.standard_errors_,
            discounted_expected_residual_lifetime=derl,
        )
    else:
        emit(
            "sbg",
            {},
            rows,
            False,
            as_csv=as_csv,
            title=f"sBG alpha={model.params_['alpha']:.3f} beta={model.params_['beta']:.3f} LL={model.log_likelihood_:.2f}",
        )


@reads_data
def segments(
    transactions: TableFile("transactions") = None,
    summary_only: Annotated[
        bool, typer.Option("--summary", help=lazy_tr("one row per segment instead of per customer"))
    ] = False,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """RFM scores, named segments (Champions … Lost), value tiers and health score per customer."""
    from kvar.metrics.segments import rfm_segments, segment_summary

    facts = sources.table("transactions", transactions)
    with stage(tr("scoring recency, frequency and monetary value")):
        scored = rfm_segments(facts, as_of=as_of, ordered=not summary_only)
        table = arrow_of(segment_summary(scored) if summary_only else scored)
    emit("segments", {"summary": summary_only, "as_of": as_of}, rows_in(table), as_json, as_csv=as_csv)


@reads_data
def survival(
    transactions: TableFile("transactions", marked("non-contractual business")) = None,
    subscriptions: TableFile("subscriptions", marked("contractual business")) = None,
    by: ByOption = None,
    customers: TableFile("customers", marked("attributes for --by")) = None,
    inactivity: Inactivity = "90d",
    grace: Grace = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    *,
    sources: Sources,
) -> None:
    """Kaplan-Meier survival of customer lifetimes by segment, medians, log-rank test, hazard by tenure."""
    from kvar.metrics.lifetimes import customer_lifetimes
    from kvar.models.survival import survival_analysis

    check_window("--inactivity", inactivity)
    check_window("--grace", grace)
    kind = source_kind(transactions, subscriptions, sources)
    facts = sources.table(kind, transactions if kind == "transactions" else subscriptions)
    people = customers_for(sources, customers, by)
    with stage(tr("fitting survival curves")):
        lifetimes = customer_lifetimes(
            **{kind: facts}, by=by, customers=people, inactivity=inactivity, grace=grace, as_of=as_of
        )
        analysis = survival_analysis(lifetimes, by=by)
    if as_json:
        print_json(
            "survival",
            {"source": kind, "by": by, "as_of": as_of},
            analysis.medians,
            curves=analysis.curves,
            hazard=analysis.hazard,
            logrank=analysis.logrank,
        )
    else:
        print_table(tr("median customer lifetime (days)"), analysis.medians)
        if analysis.logrank:
            stderr.print(
                tr("log-rank test: statistic {statistic}, p = {p_value}").format(
                    statistic=number(analysis.logrank["test_statistic"], 2),
                    p_value=f"{analysis.logrank['p_value']:.3g}",
                )
            )


@reads_data
def churn_causes(
    subscriptions: TableFile("subscriptions") = None,
    payments: TableFile("payments") = None,
    period: PeriodOption = "month",
    window: Annotated[
        str,
        typer.Option(
            metavar="WINDOW", help=lazy_tr("failed payments this close before the churn make it involuntary, e.g. 30d")
        ),
    ] = "30d",
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Voluntary vs involuntary (failed payment) churn per period, with the MRR each lost."""
    from kvar.metrics.churn_causes import churn_causes as compute

    check_periods(period=period)
    check_window("--window", window)
    subs, attempts = sources.table("subscriptions", subscriptions), sources.table("payments", payments)
    with stage(tr("classifying churn")):
        rows = rows_of(compute(subs, attempts, period=period, window=window, as_of=as_of))
    emit("churn-causes", {"period": period, "window": window, "as_of": as_of}, rows, as_json, as_csv=as_csv)


@reads_data
def risk(
    subscriptions: TableFile("subscriptions") = None,
    events: TableFile("events", marked("product usage")) = None,
    payments: TableFile("payments", marked("optional")) = None,
    feedback: TableFile("feedback", marked("optional")) = None,
    customers: TableFile("customers", marked("optional, for channel")) = None,
    horizon: Annotated[
        int, typer.Option(metavar="DAYS", min=1, help=lazy_tr("predict churn within this many days"))
    ] = 60,
    top: Annotated[int, typer.Option(metavar="N", min=0, help=lazy_tr("reasons per customer"))] = 3,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Train a churn-risk model (time-based split) and score current customers with their top reasons."""
    from kvar.metrics.churn_features import churn_features
    from kvar.models.churn_evaluation import assess_churn_risk

    optional = sources.table_if_given
    subs, usage = sources.table("subscriptions", subscriptions), sources.table("events", events)
    extra = optional("payments", payments), optional("feedback", feedback), optional("customers", customers)
    with stage(tr("building features and training")):
        found = assess_churn_risk(churn_features(subs, usage, *extra, horizon_days=horizon, as_of=as_of), top=top)
    rows, e = rows_of(found.scores), found.evaluation
    if as_json:
        print_json(
            "risk", {"horizon_days": horizon, "as_of": as_of}, rows, evaluation=e.as_dict(), drivers=found.drivers
        )
    else:
        stderr.print(
            tr(
                "held-out AUC {auc} (recency-only baseline {baseline_auc}), top-decile lift {lift}, Brier {brier}"
            ).format(
                auc=number(e.auc, 3),
                baseline_auc=number(e.baseline_auc, 3),
                lift=number(e.top_decile_lift, 1),
                brier=number(e.brier, 4),
            )
        )
        emit(
            "risk",
            {},
            [{**row, "reasons": "; ".join(row["reasons"])} for row in rows],
            False,
            title=tr("churn risk (highest first)"),
            as_csv=as_csv,
            shown=("customer_id", "churn_probability", "reasons"),
        )


@reads_data
def expansion(
    subscriptions: TableFile("subscriptions", marked("plan, quantity = seats")) = None,
    events: TableFile("events", marked("product usage")) = None,
    seat_share: Annotated[
        float,
        typer.Option(
            metavar="SHARE",
            min=0.0,
            max=1.0,
            help=lazy_tr("seats count as near the limit when active users fill this share, e.g. 0.9"),
        ),
    ] = 0.9,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Customers with expansion potential: high usage on a low plan, or seats near their limit."""
    from kvar.metrics.churn_features import churn_features
    from kvar.metrics.expansion import expansion_potential

    subs, usage = sources.table("subscriptions", subscriptions), sources.table("events", events)
    with stage(tr("measuring usage against plans")):
        rows = rows_of(expansion_potential(churn_features(subs, usage, as_of=as_of), subs, seat_share=seat_share))
    emit(
        "expansion",
        {"seat_share": seat_share},
        rows if as_json else [row for row in rows if row["expansion_potential"]],
        as_json,
        as_csv=as_csv,
    )
