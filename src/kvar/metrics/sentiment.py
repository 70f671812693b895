"""Customer sentiment from survey answers: Net Promoter Score and CSAT.

Definitions (docs/definitions.md, "Sentiment"). Feedback rows have ``kind`` ``nps`` (score 0-10) or
``csat`` (score 1-5); other kinds (exit, review) are ignored here.

* NPS = % promoters (9-10) - % detractors (0-6) of the period's NPS answers, from -100 to 100;
* CSAT = % of the period's CSAT answers that are satisfied (4 or 5).

Each answer counts once; a customer answering twice counts twice, as in the survey tools that define
these scores.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.metrics.calendar import measured_periods, place_in_periods
from kvar.metrics.frames import table_of
from kvar.metrics.grid import fill_calendar, segment_of, sum_flags

_COUNTS = ("nps_responses", "promoters", "passives", "detractors", "csat_responses", "satisfied")


def satisfaction_scores(
    feedback: IntoFrame,
    *,
    period: str = "month",
    by: str | None = None,
    customers: IntoFrame | None = None,
    as_of: dt.datetime | None = None,
) -> Any:
    """Columns ``[by], period_start, period_end, nps_responses, promoters, passives, detractors, nps,
    csat_responses, satisfied, csat`` (scores null in periods without answers)."""
    facts, finish = table_of(feedback, "feedback", ["customer_id", "occurred_at", "kind", "score"])
    periods, as_of = measured_periods(facts, ["occurred_at"], period, as_of)
    keys: tuple[str, ...] = (by,) if by else ()
    answers = facts.filter(nw.col("kind").cast(nw.String).str.to_lowercase().is_in(["nps", "csat"]))
    answers = answers.with_columns(kind=nw.col("kind").cast(nw.String).str.to_lowercase())
    if by:
        answers = answers.join(segment_of(facts, by, "occurred_at", customers), on="customer_id", how="left")
    placed = place_in_periods(answers, "occurred_at", periods, period)
    score = nw.col("score").cast(nw.Float64)
    is_nps, is_csat = nw.col("kind") == "nps", nw.col("kind") == "csat"
    counts = sum_flags(
        placed,
        (*keys, "period_start"),
        {
            "nps_responses": is_nps,
            "promoters": is_nps & (score >= 9),
            "passives": is_nps & (score >= 7) & (score < 9),
            "detractors": is_nps & (score <= 6),
            "csat_responses": is_csat,
            "satisfied": is_csat & (score >= 4),
        },
    )
    filled = fill_calendar(counts, periods, answers, keys, _COUNTS)
    nps_n = nw.col("nps_responses").cast(nw.Float64)
    result = filled.with_columns(
        nps=nw.when(nw.col("nps_responses") > 0).then(
            (nw.col("promoters") - nw.col("detractors")).cast(nw.Float64) * 100.0 / nps_n
        ),
        csat=nw.when(nw.col("csat_responses") > 0).then(
            nw.col("satisfied").cast(nw.Float64) * 100.0 / nw.col("csat_responses").cast(nw.Float64)
        ),
    )
    return finish(result)
