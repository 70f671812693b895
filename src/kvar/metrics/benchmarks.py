"""Published average customer retention rates by industry, and how a business compares.

Source: the industry averages most often cited for customer retention rate (e.g. in CustomerGauge's and
Statista's round-ups of retention by industry): all industries 75.5 %, media and professional services
84 %, automotive and transport 83 %, finance 78 %, software 77 %, travel, hospitality and restaurants 55 %,
e-commerce 30 %. They are annual customer retention rates measured with the same formula kvar uses,
``(end - new) / start * 100``; compare them with a yearly retention rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from kvar.errors import ParameterError
from kvar.i18n import marked, tr


@dataclass(frozen=True)
class Benchmark:
    """One published industry average (percent)."""

    industry: str
    label: str
    retention_rate: float


INDUSTRY_RETENTION: tuple[Benchmark, ...] = (
    Benchmark("all", marked("All industries"), 75.5),
    Benchmark("media", marked("Media and professional services"), 84.0),
    Benchmark("professional_services", marked("Media and professional services"), 84.0),
    Benchmark("auto", marked("Automotive and transport"), 83.0),
    Benchmark("finance", marked("Finance"), 78.0),
    Benchmark("software", marked("Software"), 77.0),
    Benchmark("travel", marked("Travel, hospitality and restaurants"), 55.0),
    Benchmark("ecommerce", marked("E-commerce"), 30.0),
)


def benchmark_comparison(retention_rate: float, industry: str | None = None) -> list[dict[str, object]]:
    """Each benchmark with ``difference`` = your rate - benchmark (percentage points, rounded to 0.1 as the
    rates are published) and ``verdict``: ``above``, ``below`` or ``equal`` (within 0.05 points).

    ``industry`` (one of the keys in :data:`INDUSTRY_RETENTION`) marks the row to highlight.
    """
    keys = {benchmark.industry for benchmark in INDUSTRY_RETENTION}
    if industry is not None and industry not in keys:
        raise ParameterError(
            tr("industry: expected one of {industries}, got {industry!r}").format(
                industries=", ".join(sorted(keys)), industry=industry
            )
        )
    rows = []
    for benchmark in INDUSTRY_RETENTION:
        difference = round(retention_rate - benchmark.retention_rate, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
        rows.append(
            {
                "industry": benchmark.industry,
                "label": benchmark.label,
                "benchmark_rate": benchmark.retention_rate,
                "your_rate": retention_rate,
                "difference": difference,
                "verdict": "above" if difference > 0 else "below" if difference < 0 else "equal",
                "selected": benchmark.industry == industry,
            }
        )
    return rows
