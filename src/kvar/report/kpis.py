"""The headline numbers of a report, computed from the metrics (no plotting here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from kvar.errors import InputError, KvarError
from kvar.i18n import marked, tr
from kvar.i18n.formatting import date, money, number, percent, span
from kvar.metrics.benchmarks import benchmark_comparison
from kvar.metrics.cohorts import cohort_table
from kvar.metrics.engagement import stickiness
from kvar.metrics.frames import rows_of
from kvar.metrics.purchases import repeat_purchase_rate
from kvar.metrics.retention import retention_table, window_retention
from kvar.metrics.revenue import mrr_movements
from kvar.metrics.sentiment import satisfaction_scores
from kvar.metrics.tables import CustomerTables
from kvar.metrics.value import pareto_concentration


@dataclass
class ReportInputs(CustomerTables):
    """Frames (any kind kvar accepts) and settings for a report; absent tables are skipped."""

    period: str = "month"
    inactivity: str = "90d"
    industry: str | None = None
    source: str = ""  # where the data came from, shown in the header (e.g. "workspace shop.duckdb")
    uplift: list[dict[str, Any]] = field(default_factory=list)  # kvar.flows.uplift rows, when flows have run


@dataclass
class ReportData:
    """Everything a report shows, as plain rows."""

    retention: list[dict[str, Any]] = field(default_factory=list)
    yearly_retention: float | None = None
    yearly_span: tuple[dt.datetime, dt.datetime] | None = None  # the year the annual retention measures
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    cohorts: list[dict[str, Any]] = field(default_factory=list)
    mrr: list[dict[str, Any]] = field(default_factory=list)
    pareto: list[dict[str, Any]] = field(default_factory=list)
    repeat: list[dict[str, Any]] = field(default_factory=list)
    engagement: list[dict[str, Any]] = field(default_factory=list)
    satisfaction: list[dict[str, Any]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)  # one row per RFM segment (segment_summary)
    survival: list[dict[str, Any]] = field(default_factory=list)
    churn_causes: list[dict[str, Any]] = field(default_factory=list)
    definitions: list[dict[str, Any]] = field(default_factory=list)  # churn by named definition, last period
    reconciliation: list[dict[str, Any]] = field(default_factory=list)  # kvar vs each other definition, last period
    clv: dict[str, Any] = field(default_factory=dict)
    risk: dict[str, Any] = field(default_factory=dict)
    uplift: list[dict[str, Any]] = field(default_factory=list)  # per flow: treated vs held out (kvar.flows.uplift)
    skipped: list[str] = field(default_factory=list)  # sections left out, with the reason
    currency: str = ""  # the ISO code of every amount, when the data name one
    period: str = "month"
    source: str = ""
    covered: tuple[dt.datetime, dt.datetime] | None = None  # the complete periods measured
    made_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))  # when the report was made


def collect(inputs: ReportInputs) -> ReportData:
    """Run every metric the inputs allow."""
    data = ReportData(period=inputs.period, source=inputs.source, currency=_currency(inputs))
    source = inputs.activity()
    data.retention = rows_of(retention_table(**source, period=inputs.period, inactivity=inputs.inactivity))
    try:
        (year,) = rows_of(window_retention(**source, months=12, inactivity=inputs.inactivity))
    except InputError as error:
        data.skipped.append(tr("annual retention: {reason}").format(reason=error))
    else:
        if year["retention_rate"] is not None:
            data.yearly_retention = year["retention_rate"]
            data.yearly_span = (year["period_start"], year["period_end"])
    if data.retention:
        data.covered = (data.retention[0]["period_start"], data.retention[-1]["period_end"])
    if data.yearly_retention is not None:
        data.benchmarks = benchmark_comparison(data.yearly_retention, inputs.industry)
    if inputs.transactions is not None:
        data.cohorts = rows_of(cohort_table(inputs.transactions, period=inputs.period))
        data.pareto = rows_of(pareto_concentration(inputs.transactions))
        data.repeat = rows_of(repeat_purchase_rate(inputs.transactions))
    if inputs.subscriptions is not None:
        data.mrr = rows_of(mrr_movements(inputs.subscriptions, period=inputs.period))
    if inputs.events is not None:
        data.engagement = rows_of(stickiness(inputs.events, period="month"))
    if inputs.feedback is not None:
        data.satisfaction = rows_of(satisfaction_scores(inputs.feedback, period=inputs.period))
    collect_models(inputs, data)
    data.uplift = list(inputs.uplift)
    return data


def collect_models(inputs: ReportInputs, data: ReportData) -> None:
    """Segments, survival, churn causes, CLV and churn risk, each when its tables are there.

    A section whose model cannot be fitted on these data is left out, and ``skipped`` says why.
    """
    from kvar.metrics.churn_causes import churn_causes
    from kvar.metrics.lifetimes import customer_lifetimes
    from kvar.metrics.segments import rfm_segments, segment_summary
    from kvar.models.survival import survival_analysis

    def attempt(name: str, action: Any) -> None:
        try:
            action()
        except KvarError as error:
            data.skipped.append(f"{tr(name)}: {error}")

    if inputs.transactions is not None:
        attempt(
            marked("segments"),
            lambda: data.segments.extend(rows_of(segment_summary(rfm_segments(inputs.transactions)))),
        )
        if inputs.subscriptions is None:
            attempt(marked("customer lifetime value"), lambda: data.clv.update(_clv(inputs.transactions)))
        else:
            data.skipped.append(
                tr(
                    "customer lifetime value: BG/NBD and Gamma-Gamma model non-contractual purchases; "
                    "for subscriptions see the sBG projections (kvar sbg --subscriptions)"
                )
            )
    source = inputs.activity()
    attempt(
        marked("survival"),
        lambda: data.survival.extend(
            survival_analysis(customer_lifetimes(**source, inactivity=inputs.inactivity)).curves
        ),
    )
    if inputs.subscriptions is not None and inputs.payments is not None:
        attempt(
            marked("churn causes"),
            lambda: data.churn_causes.extend(
                rows_of(churn_causes(inputs.subscriptions, inputs.payments, period=inputs.period))
            ),
        )
    if inputs.subscriptions is not None:
        attempt(marked("churn by definition"), lambda: _definitions(inputs, data))
    if inputs.subscriptions is not None and inputs.events is not None:
        attempt(marked("churn risk"), lambda: data.risk.update(_risk(inputs)))


def _definitions(inputs: ReportInputs, data: ReportData) -> None:
    """The last complete period's churn under every named definition, and what separates each from kvar's."""
    from kvar.metrics.definitions import PRESETS, compare_definitions

    found = compare_definitions(inputs.subscriptions, list(PRESETS.values()), period=inputs.period)
    last = max(row["period_start"] for row in found.rows)
    data.definitions = [row for row in found.rows if row["period_start"] == last]
    data.reconciliation = [row for row in found.differences if row["period_start"] == last and row["from"] == "kvar"]


def _clv(transactions: Any) -> dict[str, Any]:
    from kvar.metrics.purchases import customer_summary
    from kvar.models.clv import customer_value

    value = customer_value(customer_summary(transactions, freq="D", unit="W"), horizon_months=12)
    import narwhals as nw

    return {
        **value.totals(),
        "params": value.models["bgnbd"].params_,
        "values": [row["clv"] for row in rows_of(nw.from_native(value.customers).select("clv"))],
    }


def _risk(inputs: ReportInputs) -> dict[str, Any]:
    from kvar.metrics.churn_features import churn_features
    from kvar.models.churn_evaluation import assess_churn_risk

    found = assess_churn_risk(
        churn_features(inputs.subscriptions, inputs.events, inputs.payments, inputs.feedback, inputs.customers)
    )
    return {
        "evaluation": found.evaluation,
        "drivers": found.drivers[:6],
        "top": [{**row, "reasons": "; ".join(row["reasons"])} for row in rows_of(found.scores)[:10]],
    }


def _currency(inputs: ReportInputs) -> str:
    """The one ISO currency code of the amounts (loading refuses mixed currencies), or "" when unnamed."""
    import narwhals as nw

    codes: set[str] = set()
    for table in (inputs.subscriptions, inputs.transactions):
        if table is not None:
            frame = nw.from_native(table)
            if "currency" in frame.collect_schema().names():
                codes |= {row["currency"] for row in rows_of(frame.select(nw.col("currency")).drop_nulls().unique())}
    return codes.pop() if len(codes) == 1 else ""


def _latest(rows: list[dict[str, Any]], column: str) -> Any:
    values = [row[column] for row in rows if row.get(column) is not None]
    return values[-1] if values else None


def signed(value: float, decimals: int = 0) -> str:
    """``value`` with its sign in the active locale (``+12``, ``-3``; ``−3,5`` in sv), and zero without one
    (never ``+0`` or ``-0``)."""
    rounded = round(value, decimals)
    if rounded == 0:
        return number(0.0, decimals)
    return ("+" if rounded > 0 else "") + number(rounded, decimals)


def tiles(data: ReportData, yearly_basis: str = "") -> list[tuple[str, str, str]]:
    """KPI tiles (label, formatted value, note) in the active locale; ``yearly_basis`` explains the annual retention."""
    out: list[tuple[str, str, str]] = []
    last = data.retention[-1] if data.retention else None
    if last:
        period = span(last["period_start"], last["period_end"])
        out.append(
            (tr("Customers"), number(last["customers_end"]), tr("at {date}").format(date=date(last["period_end"])))
        )
        if last["retention_rate"] is not None:
            out.append((tr("Retention rate"), percent(last["retention_rate"]), period))
            out.append((tr("Churn rate"), percent(last["churn_rate"]), period))
    if data.yearly_retention is not None:
        out.append((tr("Annual retention"), percent(data.yearly_retention), yearly_basis))
    if data.mrr:
        row = data.mrr[-1]
        out.append(
            (
                "MRR",
                money(row["mrr_end"], data.currency),
                tr("ARR {amount}").format(amount=money(row["arr_end"], data.currency)),
            )
        )
        if row["nrr"] is not None:
            out.append(("NRR / GRR", f"{percent(row['nrr'])} / {percent(row['grr'])}", tr("last period")))
        if row["arpa"] is not None:
            out.append(("ARPA", money(row["arpa"], data.currency, 2), tr("per paying customer, per month")))
    for row in data.pareto:
        if abs(row["top_customers_share"] - 20.0) < 1e-9 and row["revenue_share"] is not None:
            out.append((tr("Top 20 % of customers"), percent(row["revenue_share"]), tr("of net revenue")))
    if data.repeat:
        out.append(
            (
                tr("Repeat purchase rate"),
                percent(data.repeat[0]["repeat_purchase_rate"]),
                tr("customers buying twice or more"),
            )
        )
    answered = [row for row in data.satisfaction if row.get("nps_responses") and row.get("nps") is not None]
    if answered:
        row = answered[-1]
        out.append(
            (
                "NPS",
                signed(row["nps"]),
                tr("{count} answers, {span}").format(
                    count=number(row["nps_responses"]), span=span(row["period_start"], row["period_end"])
                ),
            )
        )
    if (sticky := _latest(data.engagement, "stickiness")) is not None:
        out.append(("DAU / MAU", percent(sticky), tr("last complete month")))
    if data.clv:
        out.append(
            (
                tr("Mean 12-month CLV"),
                money(data.clv["mean_clv"], data.currency, 2),
                tr("BG/NBD + Gamma-Gamma, {share} likely alive").format(share=percent(data.clv["likely_alive"], 0)),
            )
        )
    if data.risk:
        evaluation = data.risk["evaluation"]
        out.append(
            (
                tr("Churn-risk AUC"),
                number(evaluation.auc, 2),
                tr("recency-only baseline {auc}").format(auc=number(evaluation.baseline_auc, 2)),
            )
        )
    return out
