"""One self-contained HTML report: Plotly's JavaScript is inlined, so it opens offline."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from kvar.report.kpis import ReportData, ReportInputs, collect, money, signed

_DAYS_PER_MONTH = 30.4375

__all__ = ["ReportInputs", "render", "write_report"]

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
    figure.update_layout(title=None, margin=dict(l=20, r=20, t=30, b=40), template="plotly_white", height=height)
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    chart = figure.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True, "displaylogo": False})
    return f"<h2>{html.escape(title)}</h2>{chart}"


def _periods(period: str) -> str:
    return f"{period}s"


def _cohort_heatmap(rows: list[dict[str, Any]], period: str) -> go.Figure:
    cohorts = sorted({row["cohort"] for row in rows})
    offsets = sorted({row["period_offset"] for row in rows})
    grid = {(row["cohort"], row["period_offset"]): row["percent"] for row in rows}
    z = [[grid.get((cohort, offset)) for offset in offsets] for cohort in cohorts]
    labels = [f"{cohort:%Y-%m-%d}" for cohort in cohorts]
    figure = go.Figure(go.Heatmap(
        z=z, x=offsets, y=labels, colorscale="Blues", zmin=0, zmax=100, texttemplate="%{z:.0f}", textfont={"size": 9},
        colorbar={"title": {"text": "%"}, "ticksuffix": " %"}, xgap=1, ygap=1,
        hovertemplate=f"cohort %{{y}}<br>{period} +%{{x}}<br>%{{z:.1f}} % of the cohort<extra></extra>"))
    figure.update_layout(title=f"Cohort retention: % of each cohort buying again, by {period} since the first purchase",
                         xaxis=dict(title=f"{_periods(period)} since first purchase", dtick=1, side="bottom"),
                         yaxis=dict(autorange="reversed", type="category", title="cohort (first purchase)"))
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
        figure.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=f"{cohort:%Y-%m}"))
    figure.update_layout(title=f"Retention curves of {len(chosen)} cohorts (% of the cohort buying again)",
                         xaxis_title=f"{_periods(data.period)} since first purchase", yaxis=dict(title="% of cohort", range=[0, 102], ticksuffix=" %"))
    return figure


def _retention_over_time(data: ReportData) -> go.Figure:
    """Retention and churn each on their own axis: a 97 % and a 3 % on one 0–100 axis show nothing."""
    from plotly.subplots import make_subplots

    periods = [row["period_start"] for row in data.retention]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    figure.add_trace(go.Scatter(x=periods, y=[row["retention_rate"] for row in data.retention], name="retention rate", mode="lines+markers"), row=1, col=1)
    figure.add_trace(go.Scatter(x=periods, y=[row["churn_rate"] for row in data.retention], name="churn rate", mode="lines+markers",
                                line=dict(color="#e03131")), row=2, col=1)
    figure.update_yaxes(title_text="retention", ticksuffix=" %", row=1, col=1)
    figure.update_yaxes(title_text="churn", ticksuffix=" %", rangemode="tozero", row=2, col=1)
    figure.update_layout(title=f"Retention and churn rate per {data.period}: retention = (end − new) / start")
    return figure


def _mrr_over_time(rows: list[dict[str, Any]], currency: str) -> go.Figure:
    figure = go.Figure(go.Scatter(x=[row["period_start"] for row in rows], y=[row["mrr_end"] for row in rows], mode="lines+markers",
                                  fill="tozeroy", name="MRR", hovertemplate=f"%{{x|%Y-%m}}<br>%{{y:,.0f}} {currency}<extra></extra>"))
    figure.update_layout(title=f"MRR at the end of each period ({currency or 'amounts as loaded'})",
                         yaxis=dict(title=f"MRR {currency}".strip(), tickformat=",.0f", rangemode="tozero"))
    return figure


def _mrr_chart(rows: list[dict[str, Any]], currency: str) -> go.Figure:
    periods = [row["period_start"] for row in rows]
    figure = go.Figure()
    colours = {"new_mrr": "#2f9e44", "reactivation_mrr": "#74b816", "expansion_mrr": "#1c7ed6",
               "contraction_mrr": "#f59f00", "churned_mrr": "#e03131"}
    for column, colour in colours.items():
        figure.add_trace(go.Bar(x=periods, y=[row[column] for row in rows], name=column.replace("_mrr", ""), marker_color=colour))
    figure.add_trace(go.Scatter(x=periods, y=[row["net_new_mrr"] for row in rows], name="net new", mode="lines+markers", line=dict(color="#212529")))
    figure.update_layout(barmode="relative", title=f"MRR movements per period ({currency or 'amounts as loaded'})",
                         yaxis=dict(title=f"MRR change {currency}".strip(), tickformat=",.0f"))
    return figure


def _benchmark_chart(data: ReportData) -> go.Figure:
    rows = data.benchmarks
    labels = ["You"] + [row["label"] for row in rows if row["industry"] not in ("professional_services",)]
    values = [data.yearly_retention] + [row["benchmark_rate"] for row in rows if row["industry"] not in ("professional_services",)]
    colours = ["#1c7ed6"] + ["#adb5bd"] * (len(labels) - 1)
    figure = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color=colours, text=[f"{v:.1f} %" for v in values]))
    figure.update_layout(title=f"Annual retention vs industry averages ({data.yearly_basis})", yaxis=dict(autorange="reversed"),
                         xaxis=dict(title="customers retained over the year", ticksuffix=" %", range=[0, 100]))
    return figure


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(f'{row[c]:.3f}' if isinstance(row[c], float) else str(row[c]))}</td>" if not isinstance(row[c], str)
                         else f'<td class="text">{html.escape(row[c])}</td>' for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _model_sections(data: ReportData) -> list[str]:
    sections = []
    if data.segments:
        counts: dict[str, list[float]] = {}
        for row in data.segments:
            counts.setdefault(row["segment"], [0, 0.0])
            counts[row["segment"]][0] += 1
            counts[row["segment"]][1] += row["monetary"]
        names = sorted(counts, key=lambda name: -counts[name][0])
        figure = go.Figure([go.Bar(x=names, y=[counts[n][0] for n in names], name="customers", offsetgroup=1),
                            go.Bar(x=names, y=[counts[n][1] for n in names], name=f"net revenue ({data.currency or 'as loaded'})", yaxis="y2", offsetgroup=2)])
        figure.update_layout(title="RFM segments: customers and revenue", barmode="group", legend=dict(orientation="h", y=1.08),
                             xaxis=dict(tickangle=-30), yaxis=dict(title="customers", tickformat=",d"),
                             yaxis2=dict(overlaying="y", side="right", title=f"net revenue {data.currency}".strip(), tickformat=",.0f", showgrid=False))
        sections.append(_figure_html(figure, height=460))
    if data.survival:
        figure = go.Figure(go.Scatter(x=[r["day"] / _DAYS_PER_MONTH for r in data.survival], y=[r["survival"] * 100 for r in data.survival],
                                      line_shape="hv", name="Kaplan-Meier", hovertemplate="month %{x:.1f}<br>%{y:.1f} % still customers<extra></extra>"))
        figure.update_layout(title="Customer survival (Kaplan-Meier): % still a customer after N months",
                             xaxis_title="months since acquisition (30.44 days)", yaxis=dict(range=[0, 102], ticksuffix=" %", title="still a customer"))
        sections.append(_figure_html(figure))
    if data.churn_causes:
        periods = [row["period_start"] for row in data.churn_causes]
        figure = go.Figure([go.Bar(x=periods, y=[r["voluntary"] for r in data.churn_causes], name="voluntary"),
                            go.Bar(x=periods, y=[r["involuntary"] for r in data.churn_causes], name="involuntary (failed payments)")])
        figure.update_layout(barmode="stack", title="Churned customers: voluntary vs involuntary")
        sections.append(_figure_html(figure))
    if data.clv:
        values = sorted(data.clv["values"])
        cut = values[min(len(values) - 1, int(len(values) * 0.99))]
        shown, above = [value for value in values if value <= cut], sum(value > cut for value in values)
        figure = go.Figure(go.Histogram(x=shown, nbinsx=50))
        figure.update_layout(title=f"Predicted 12-month CLV per customer (BG/NBD x Gamma-Gamma, 1 % monthly discount); "
                                   f"the top 1 % ({above:,} customers above {money(cut, data.currency)}) not drawn",
                             xaxis=dict(title=f"CLV {data.currency}".strip(), tickformat=",.0f"), yaxis_title="customers")
        sections.append(_figure_html(figure))
    if data.risk:
        evaluation = data.risk["evaluation"]
        summary = (f"<h3>Churn risk</h3><p>Held-out month {evaluation.test_date:%Y-%m}: AUC {evaluation.auc:.3f} "
                   f"(recency-only {evaluation.baseline_auc:.3f}), top-decile lift {evaluation.top_decile_lift:.1f}, "
                   f"Brier {evaluation.brier:.4f}. Drivers: {html.escape(', '.join(d['feature'] for d in data.risk['drivers']))}.</p>")
        sections.append(summary + _table(data.risk["top"], ["customer_id", "churn_probability", "reasons"]))
    if data.skipped:
        sections.append("<h3>Not shown</h3><ul>" + "".join(f"<li>{html.escape(reason)}</li>" for reason in data.skipped) + "</ul>")
    return sections


def _header(data: ReportData) -> str:
    """Data source, period covered, when made, and the rules in one line."""
    parts = [f"Data: {data.source}" if data.source else "", f"covers {data.covered} ({_periods(data.period)})" if data.covered else "",
             f"amounts in {data.currency}" if data.currency else "", f"made {data.made_at}" if data.made_at else ""]
    return " · ".join(part for part in parts if part) + ". Periods are complete and half-open; times UTC."


def render(data: ReportData, title: str = "kvar retention report") -> str:
    """The report as one HTML string."""
    tiles = "".join(
        f'<div class="tile"><div class="label">{html.escape(label)}</div><div class="value">{html.escape(value)}</div>'
        f'<div class="note">{html.escape(note)}</div></div>'
        for label, value, note in data.tiles
    )
    sections = []
    if data.benchmarks:
        sections.append(_figure_html(_benchmark_chart(data)))
        shown: dict[str, dict[str, Any]] = {}  # one row per label, the selected industry's if any
        for row in data.benchmarks:
            if row["selected"] or row["label"] not in shown:
                shown[row["label"]] = row
        rows = "".join(
            f'<tr class="{"selected" if row["selected"] else ""}"><td>{html.escape(row["label"])}</td><td>{row["benchmark_rate"]:.1f} %</td>'
            f'<td>{signed(row["difference"], 1)} pts</td><td>{row["verdict"]}</td></tr>'
            for row in shown.values()
        )
        sections.append(f"<table><tr><th>industry</th><th>average retention</th><th>you vs them</th><th></th></tr>{rows}</table>")
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
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style><script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"sub\">{html.escape(_header(data))}</p>"
        f"<div class=\"tiles\">{tiles}</div>{body}</body></html>"
    )


def write_report(inputs: ReportInputs, path: Path) -> ReportData:
    """Compute everything and write the report to ``path``; return what it shows."""
    data = collect(inputs)
    path.write_text(render(data), encoding="utf-8")
    return data
