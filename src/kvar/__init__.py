"""kvar: customer retention analytics — who stays, who leaves, why, and what each customer is worth.

The notebook API: every metric takes your own frame (DuckDB relation, PySpark, Polars, pandas, PyArrow)
with canonical column names and returns the same kind of frame.

>>> import kvar
>>> kvar.retention_rate(customers_start=1000, new_customers=200, customers_end=1150)
95.0
"""

from kvar.data.loading import load_file, load_location
from kvar.data.workspace import Workspace
from kvar.errors import KvarError
from kvar.i18n import set_locale, tr, use_locale
from kvar.metrics.benchmarks import INDUSTRY_RETENTION, benchmark_comparison
from kvar.metrics.churn_causes import churn_causes
from kvar.metrics.cohorts import cohort_table
from kvar.metrics.definitions import PRESETS as DEFINITIONS
from kvar.metrics.definitions import Definition, compare_definitions, define
from kvar.metrics.engagement import stickiness
from kvar.metrics.frames import rows_of
from kvar.metrics.lifetimes import customer_lifetimes
from kvar.metrics.purchases import (
    customer_summary,
    purchase_activity,
    repeat_purchase_rate,
)
from kvar.metrics.renewals import renewal_rate
from kvar.metrics.retention import retention_rate, retention_table, window_retention
from kvar.metrics.revenue import mrr_movements
from kvar.metrics.segments import rfm_segments
from kvar.metrics.sentiment import satisfaction_scores
from kvar.metrics.value import historical_ltv, pareto_concentration, unit_economics

__all__ = [
    "DEFINITIONS",
    "INDUSTRY_RETENTION",
    "Definition",
    "KvarError",
    "Workspace",
    "benchmark_comparison",
    "churn_causes",
    "cohort_table",
    "compare_definitions",
    "customer_lifetimes",
    "define",
    "customer_summary",
    "historical_ltv",
    "load_file",
    "load_location",
    "mrr_movements",
    "pareto_concentration",
    "purchase_activity",
    "renewal_rate",
    "repeat_purchase_rate",
    "retention_rate",
    "retention_table",
    "rfm_segments",
    "window_retention",
    "rows_of",
    "satisfaction_scores",
    "stickiness",
    "unit_economics",
    "set_locale",
    "tr",
    "use_locale",
]
__version__ = "0.1.0"
