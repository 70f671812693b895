"""One self-contained HTML report: Plotly's JavaScript is inlined, so it opens offline."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from kvar.i18n import active_locale, marked, tr, use_locale
from kvar.i18n.formatting import date, money, number, percent, plotly_separators, span
from kvar.report.kpis import ReportData, ReportInputs, collect, signed, tiles

_DAYS_PER_MONTH = 30.4375

__all__ = ["ReportInputs", "render", "write_report", "yearly_basis"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1f2933;background:#f7f9fb}
h1{margin-bottom:.2rem} .sub{color:#52606d;margin-top:0} h2{font-size:1.05rem;font-weight:600;margin:.2rem 0 .4rem}
.tiles{display:flex;flex-wrap:wrap;gap:1rem;margin:1.5rem 0}
.tile{background:#fff;border-radius:10px;padding:1rem 1.2rem;min-width:11rem;box-shadow:0 1px 3px #0002}
.tile .label{font-size:.8rem;text-transform:uppercase;color:#52606d}
.tile .value{font-size:1.6rem;font-weight:600;margin:.2rem 0}
.tile .note{font-size:.75rem;color:#7b8794}
section{background:#fff;border-radius:10px;padding:1rem;margin:1rem 0;box-shadow:0 1px 3px #0002}
table{border-collapse:collapse} td,th{padding:.25rem .6rem;border-bottom:1px solid #e4e7eb;text-align:right}
th:first-child,td:first-child,td.text{text-align:left} tr.selected{font-weight:700}
"""


def _figure_html(figure: go.Figure, height: int = 420) -> str:
    """A chart under its own HTML heading (so that no title runs under Plotly's toolbar at any width)."""
    title = figure.layout.title.text or ""
    figure.update_layout(
        title=None,
        margin=dict(l=20, r=20, t=30, b=40),
        template="plotly_white",
        height=height,
        separators=plotly_separators(),
    )
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    chart = figure.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True, "displaylogo": False})
    return f"<h2>{html.escape(title)}</h2>{chart}"


_PERIODS = {
    "day": (marked("day"), marked("days")),
    "week": (marked("week"), marked("weeks")),
    "month": (marked("month"), marked("months")),
    "quarter": (marked("quarter"), marked("quarters")),
    "year": (marked("year"), marked("years")),
}


def _period(period: str) -> str:
    """The period's name, e.g. ``month`` (``månad`` in sv)."""
    return tr(_PERIODS[period][0])


def _periods(period: str) -> str:
    """The period's plural, e.g. ``months``."""
    return tr(_PERIODS[period][1])


def _cohort_heatmap(rows: list[dict[str, Any]], period: str) -> go.Figure:
    cohorts = sorted({row["cohort"] for row in rows})
    offsets = sorted({row["period_offset"] for row in rows})
    grid = {(row["cohort"], row["period_offset"]): row["percent"] for row in rows}
    z = [[grid.get((cohort, offset)) for offset in offsets] for cohort in cohorts]
    labels = [date(cohort) for cohort in cohorts]
    hover = tr("cohort {cohort}<br>{period} +{offset}<br>{share} % of the cohort").format(
        cohort="%{y}", period=_period(period), offset="%{x}", share="%{z:.1f}"
    )
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=offsets,
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=100,
            texttemplate="%{z:.0f}",
            textfont={"size": 9},
            colorbar={"title": {"text": "%"}, "ticksuffix": " %"},
            xgap=1,
            ygap=1,
            hovertemplate=hover + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=tr("Cohort retention: % of each cohort buying again, by {period} since the first purchase").format(
            period=_period(period)
        ),
        xaxis=dict(title=tr("{periods} since first purchase").format(periods=_periods(period)), dtick=1, side="bottom"),
        yaxis=dict(autorange="reversed", type="category", title=tr("cohort (first purchase)")),
    )
    return figure


def _retention_curves(data: ReportData) -> go.Figure:
    """At most six cohorts, evenly spread from the oldest to the newest, on a 0–100 % axis."""
    figure = go.Figure()
    by_cohort: dict[Any, list[tuple[int, float]]] = {}
    for row in data.cohorts:
        by_cohort.setdefault(row["cohort"], []).append((row["period_offset"], row["percent"]))
    names = sorted(by_cohort)
    chosen = sorted({names[round(index * (len(names) - 1) / 5)] for index in range(6)}) if len(names) > 6 else names
    for cohort in chosen:
        points = sorted(by_cohort[cohort])
        figure.add_trace(
            go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=date(cohort))
        )
    figure.update_layout(
        title=tr("Retention curves of {count} cohorts (% of the cohort buying again)").format(count=len(chosen)),
        xaxis_title=tr("{periods} since first purchase").format(periods=_periods(data.period)),
        yaxis=dict(title=tr("% of cohort"), range=[0, 102], ticksuffix=" %"),
    )
    return figure


def _retention_over_time(data: ReportData) -> go.Figure:
    """Retention and churn each on their own axis: a 97 % and a 3 % on one 0–100 axis show nothing."""
    from plotly.subplots import make_subplots

    periods = [row["period_start"] for row in data.retention]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    figure.add_trace(
        go.Scatter(
            x=periods,
            y=[row["retention_rate"] for row in data.retention],
            name=tr("retention rate"),
            mode="lines+markers",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=periods,
            y=[row["churn_rate"] for row in data.retention],
            name=tr("churn rate"),
            mode="lines+markers",
            line=dict(color="#e03131"),
        ),
        row=2,
        col=1,
    )
    figure.update_yaxes(title_text=tr("retention"), ticksuffix=" %", row=1, col=1)
    figure.update_yaxes(title_text=tr("churn"), ticksuffix=" %", rangemode="tozero", row=2, col=1)
    figure.update_xaxes(tickformat="%Y-%m")
    figure.update_layout(
        title=tr("Retention and churn rate per {period}: retention = (end − new) / start").format(
            period=_period(data.period)
        )
    )
    return figure


def _in(currency: str) -> str:
    return currency or tr("amounts as loaded")


def _mrr_over_time(rows: list[dict[str, Any]], currency: str) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=[row["period_start"] for row in rows],
            y=[row["mrr_end"] for row in rows],
            mode="lines+markers",
            fill="tozeroy",
            name="MRR",
            hovertemplate=f"%{{x|%Y-%m}}<br>%{{y:,.0f}} {currency}<extra></extra>",
        )
    )
    figure.update_layout(
        title=tr("MRR at the end of each period ({currency})").format(currency=_in(currency)),
        xaxis=dict(tickformat="%Y-%m"),
        yaxis=dict(title=f"MRR {currency}".strip(), tickformat=",.0f", rangemode="tozero"),
    )
    return figure


def _mrr_chart(rows: list[dict[str, Any]], currency: str) -> go.Figure:
    periods = [row["period_start"] for row in rows]
    figure = go.Figure()
    movements = {
        "new_mrr": (marked("new"), "#2f9e44"),
        "reactivation_mrr": (marked("reactivation"), "#74b816"),
        "expansion_mrr": (marked("expansion"), "#1c7ed6"),
        "contraction_mrr": (marked("contraction"), "#f59f00"),
        "churned_mrr": (marked("churned"), "#e03131"),
    }
    for column, (name, colour) in movements.items():
        figure.add_trace(go.Bar(x=periods, y=[row[column] for row in rows], name=tr(name), marker_color=colour))
    figure.add_trace(
        go.Scatter(
            x=periods,
            y=[row["net_new_mrr"] for row in rows],
            name=tr("net new"),
            mode="lines+markers",
            line=dict(color="#212529"),
        )
    )
    figure.update_layout(
        barmode="relative",
        title=tr("MRR movements per period ({currency})").format(currency=_in(currency)),
        xaxis=dict(tickformat="%Y-%m"),
        yaxis=dict(title=tr("MRR change {currency}").format(currency=currency).strip(), tickformat=",.0f"),
    )
    return figure


def _benchmark_chart(data: ReportData) -> go.Figure:
    rows = data.benchmarks
    labels = [tr("You")] + [tr(row["label"]) for row in rows if row["industry"] not in ("professional_services",)]
    values = [data.yearly_retention] + [
        row["benchmark_rate"] for row in rows if row["industry"] not in ("professional_services",)
    ]
    colours = ["#1c7ed6"] + ["#adb5bd"] * (len(labels) - 1)
    figure = go.Figure(
        go.Bar(x=values, y=labels, orientation="h", marker_color=colours, text=[percent(value) for value in values])
    )
    figure.update_layout(
        title=tr("Annual retention vs industry averages ({basis})").format(basis=yearly_basis(data)),
        yaxis=dict(autorange="reversed"),
        xaxis=dict(title=tr("customers retained over the year"), ticksuffix=" %", range=[0, 100]),
    )
    return figure


def _table(rows: list[dict[str, Any]], columns: dict[str, str]) -> str:
    """An HTML table of ``columns`` (key: heading); numbers in the locale's form, text left-aligned."""
    head = "".join(f"<th>{html.escape(heading)}</th>" for heading in columns.values())
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(number(row[c], 3) if isinstance(row[c], float) else str(row[c]))}</td>"
            if not isinstance(row[c], str)
            else f'<td class="text">{html.escape(row[c])}</td>'
            for c in columns
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _model_sections(data: ReportData) -> list[str]:
    sections = []
    if data.segments:
        labels = [tr(row["segment"]) for row in data.segments]
        figure = go.Figure(
            [
                go.Bar(x=labels, y=[row["customers"] for row in data.segments], name=tr("customers"), offsetgroup=1),
                go.Bar(
                    x=labels,
                    y=[row["revenue"] for row in data.segments],
                    name=tr("net revenue ({currency})").format(currency=_in(data.currency)),
                    yaxis="y2",
                    offsetgroup=2,
                ),
            ]
        )
        figure.update_layout(
            title=tr("RFM segments: customers and revenue"),
            barmode="group",
            legend=dict(orientation="h", y=1.08),
            xaxis=dict(tickangle=-30),
            yaxis=dict(title=tr("customers"), tickformat=",d"),
            yaxis2=dict(
                overlaying="y",
                side="right",
                title=tr("net revenue {currency}").format(currency=data.currency).strip(),
                tickformat=",.0f",
                showgrid=False,
            ),
        )
        sections.append(_figure_html(figure, height=460))
    if data.survival:
        figure = go.Figure(
            go.Scatter(
                x=[r["day"] / _DAYS_PER_MONTH for r in data.survival],
                y=[r["survival"] * 100 for r in data.survival],
                line_shape="hv",
                name="Kaplan-Meier",
                hovertemplate=tr("month {month}<br>{share} % still customers").format(
                    month="%{x:.1f}", share="%{y:.1f}"
                )
                + "<extra></extra>",
            )
        )
        figure.update_layout(
            title=tr("Customer survival (Kaplan-Meier): % still a customer after N months"),
            xaxis_title=tr("months since acquisition ({days} days)").format(days=number(_DAYS_PER_MONTH, 2)),
            yaxis=dict(range=[0, 102], ticksuffix=" %", title=tr("still a customer")),
        )
        sections.append(_figure_html(figure))
    if data.definitions:
        sections.append(_definitions_section(data))
    if data.churn_causes:
        periods = [row["period_start"] for row in data.churn_causes]
        figure = go.Figure(
            [
                go.Bar(x=periods, y=[r["voluntary"] for r in data.churn_causes], name=tr("voluntary")),
                go.Bar(
                    x=periods, y=[r["involuntary"] for r in data.churn_causes], name=tr("involuntary (failed payments)")
                ),
            ]
        )
        figure.update_layout(
            barmode="stack", title=tr("Churned customers: voluntary vs involuntary"), xaxis=dict(tickformat="%Y-%m")
        )
        sections.append(_figure_html(figure))
    if data.clv:
        values = sorted(data.clv["values"])
        cut = values[min(len(values) - 1, int(len(values) * 0.99))]
        shown, above = [value for value in values if value <= cut], sum(value > cut for value in values)
        figure = go.Figure(go.Histogram(x=shown, nbinsx=50))
        figure.update_layout(
            title=tr(
                "Predicted 12-month CLV per customer (BG/NBD x Gamma-Gamma, 1 % monthly discount); "
                "the top 1 % ({count} customers above {amount}) not drawn"
            ).format(count=number(above), amount=money(cut, data.currency)),
            xaxis=dict(title=f"CLV {data.currency}".strip(), tickformat=",.0f"),
            yaxis_title=tr("customers"),
        )
        sections.append(_figure_html(figure))
    if data.risk:
        evaluation = data.risk["evaluation"]
        summary = tr(
            "Held-out month {month}: AUC {auc} (recency-only {baseline}), top-decile lift {lift}, Brier {brier}. Drivers: {drivers}."
        ).format(
            month=f"{evaluation.test_date:%Y-%m}",
            auc=number(evaluation.auc, 3),
            baseline=number(evaluation.baseline_auc, 3),
            lift=number(evaluation.top_decile_lift, 1),
            brier=number(evaluation.brier, 4),
            drivers=", ".join(d["feature"] for d in data.risk["drivers"]),
        )
        columns = {
            "customer_id": tr("customer"),
            "churn_probability": tr("churn probability"),
            "reasons": tr("reasons"),
        }
        heading = tr("Churn risk")
        sections.append(
            f"<h3>{html.escape(heading)}</h3><p>{html.escape(summary)}</p>" + _table(data.risk["top"], columns)
        )
    if data.uplift:
        sections.append(_uplift_section(data))
    if data.skipped:
        heading = tr("Not shown")
        sections.append(
            f"<h3>{html.escape(heading)}</h3><ul>"
            + "".join(f"<li>{html.escape(reason)}</li>" for reason in data.skipped)
            + "</ul>"
        )
    return sections


def _uplift_section(data: ReportData) -> str:
    """Per flow: goal rate of the treated against the held out, the uplift with its 95 % interval, the minimum
    detectable effect and the revenue it implies."""
    heading = tr("Did the flows work? Treated against held out")
    columns = (
        tr("flow"),
        tr("goal"),
        tr("treated"),
        tr("held out"),
        tr("goal rate, treated"),
        tr("goal rate, held out"),
        tr("uplift (95 % interval)"),
        tr("minimum detectable effect"),
        tr("implied revenue"),
    )

    def points(value: float | None) -> str:
        return "–" if value is None else percent(100 * value, 1)

    def shown(row: dict[str, Any]) -> list[str]:
        interval = (
            "–"
            if row["uplift"] is None
            else f"{signed(100 * row['uplift'], 1)} ({points(row['uplift_low'])} … {points(row['uplift_high'])})"
        )
        revenue = "–" if row["implied_revenue"] is None else money(row["implied_revenue"], data.currency)
        return [
            row["flow"],
            row["goal"],
            number(row["treated"]),
            number(row["held_out"]),
            points(row["rate_treated"]),
            points(row["rate_held_out"]),
            interval,
            points(row["minimum_detectable_effect"]),
            revenue,
        ]

    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="text">{html.escape(cell)}</td>' for cell in shown(row)) + "</tr>"
        for row in data.uplift
    )
    note = tr(
        "Entries whose goal window has ended; an interval that contains 0 is no proof of an effect, and an effect "
        "below the minimum detectable one is likely to go unseen at this sample size."
    )
    return f"<h3>{html.escape(heading)}</h3><p>{html.escape(note)}</p><table><tr>{head}</tr>{body}</table>"


def yearly_basis(data: ReportData) -> str:
    """What the annual retention measures, e.g. ``2025-07-01 – 2026-07-01: active at the start, still active at the end``."""
    if data.yearly_span is None:
        return ""
    start, end = data.yearly_span
    return tr("{span}: active at the start, still active at the end").format(span=span(start, end))


def _definitions_section(data: ReportData) -> str:
    """Churn in the last period as each vendor counts it, and the causes of each difference from kvar's."""
    from kvar.metrics.definitions import CAUSES

    first = data.definitions[0]
    heading = tr("Churn as each tool counts it, {span}").format(span=span(first["period_start"], first["period_end"]))
    columns = (
        tr("definition"),
        tr("measured from"),
        tr("customers at start"),
        tr("churned customers"),
        tr("base (denominator)"),
        tr("churn %"),
        "GRR %",
        "NRR %",
    )
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        f'<tr><td class="text">{html.escape(row["definition"])}</td><td>{date(row["window_start"])}</td>'
        f"<td>{number(row['customers_start'])}</td><td>{number(row['churned'])}</td>"
        f"<td>{number(row['base'])}</td><td>{percent(row['churn_rate'], 2)}</td><td>{percent(row['grr'])}</td><td>{percent(row['nrr'])}</td></tr>"
        for row in data.definitions
    )
    causes = "".join(
        "<li>"
        + html.escape(
            tr("kvar -> {other}: churned {churned:+d}, base {base:+d}").format(
                other=row["to"], churned=row["churned_difference"], base=row["base_difference"]
            )
        )
        + ": "
        + html.escape("; ".join(f"{cause['customers']} × {tr(CAUSES[cause['cause']])}" for cause in row["causes"]))
        + "</li>"
        for row in data.reconciliation
    )
    note = tr(
        "Each difference is split by its causes, customer by customer, so the causes add up to it; see docs/definitions.md, Named churn definitions."
    )
    return (
        f"<h2>{html.escape(heading)}</h2><table><tr>{head}</tr>{body}</table>"
        f'<ul>{causes}</ul><p class="sub">{html.escape(note)}</p>'
    )


def _header(data: ReportData) -> str:
    """Data source, period covered, when made, and the rules in one line."""
    parts = [
        tr("Data: {source}").format(source=data.source) if data.source else "",
        tr("covers {span} ({periods})").format(span=span(*data.covered), periods=_periods(data.period))
        if data.covered
        else "",
        tr("amounts in {currency}").format(currency=data.currency) if data.currency else "",
        tr("made {time} UTC").format(time=f"{date(data.made_at)} {data.made_at:%H:%M}"),
    ]
    return " · ".join(part for part in parts if part) + ". " + tr("Periods are complete and half-open; times UTC.")


_VERDICTS = {"above": marked("above"), "below": marked("below"), "equal": marked("equal")}


def _benchmark_table(data: ReportData) -> str:
    shown: dict[str, dict[str, Any]] = {}  # one row per label, the selected industry's if any
    for row in data.benchmarks:
        if row["selected"] or row["label"] not in shown:
            shown[row["label"]] = row
    rows = []
    for row in shown.values():
        difference = tr("{difference} pts").format(difference=signed(row["difference"], 1))
        cells = (tr(row["label"]), percent(row["benchmark_rate"]), difference, tr(_VERDICTS[row["verdict"]]))
        rows.append(
            f'<tr class="{"selected" if row["selected"] else ""}">'
            + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
            + "</tr>"
        )
    headings = "".join(
        f"<th>{html.escape(heading)}</th>"
        for heading in (tr("industry"), tr("average retention"), tr("you vs them"), "")
    )
    return f"<table><tr>{headings}</tr>{''.join(rows)}</table>"


def render(data: ReportData, title: str | None = None, locale: str | None = None) -> str:
    """The report as one HTML string, in ``locale`` (default: the active one)."""
    with use_locale(locale):
        return _render(data, title or tr("kvar retention report"))


def _render(data: ReportData, title: str) -> str:
    shown_tiles = "".join(
        f'<div class="tile"><div class="label">{html.escape(label)}</div><div class="value">{html.escape(value)}</div>'
        f'<div class="note">{html.escape(note)}</div></div>'
        for label, value, note in tiles(data, yearly_basis(data) if data.yearly_span else "")
    )
    sections = []
    if data.benchmarks:
        sections.append(_figure_html(_benchmark_chart(data)))
        sections.append(_benchmark_table(data))
    if data.cohorts:
        cohorts = len({row["cohort"] for row in data.cohorts})
        sections.append(_figure_html(_cohort_heatmap(data.cohorts, data.period), height=max(420, 120 + 22 * cohorts)))
    sections.append(_figure_html(_retention_curves(data)))
    sections.append(_figure_html(_retention_over_time(data)))
    if data.mrr:
        sections.append(_figure_html(_mrr_over_time(data.mrr, data.currency)))
        sections.append(_figure_html(_mrr_chart(data.mrr, data.currency)))
    sections += _model_sections(data)
    body = "".join(f"<section>{section}</section>" for section in sections)
    return (
        f'<!DOCTYPE html><html lang="{active_locale()}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<style>{_STYLE}</style><script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<h1>{html.escape(title)}</h1><p class="sub">{html.escape(_header(data))}</p>'
        f'<div class="tiles">{shown_tiles}</div>{body}</body></html>'
    )


def write_report(inputs: ReportInputs, path: Path, locale: str | None = None) -> ReportData:
    """Compute everything and write the report to ``path`` in ``locale`` (default: the active one); return what it shows."""
    with use_locale(locale):
        data = collect(inputs)
        path.write_text(render(data), encoding="utf-8")
    return data
