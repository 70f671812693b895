"""Calendar arithmetic in the engine agrees with Python's calendar."""

from __future__ import annotations

import datetime as dt

import narwhals as nw
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from kvar.metrics.periods import boundaries, period_start, truncate, with_epoch_days, with_period_index


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2199, 12, 31)), min_size=1, max_size=50
    )
)
def test_epoch_days_and_period_starts_match_python(values) -> None:
    frame = pl.DataFrame({"t": values}, schema={"t": pl.Datetime("us")}).lazy()
    staged = with_period_index(with_epoch_days(nw.from_native(frame), "t", "days"), "t", "week", "week_index")
    got = (
        staged.with_columns(week=period_start("t", "week"), quarter=period_start("t", "quarter"))
        .collect()
        .to_native()
        .to_dicts()
    )
    for value, row in zip(values, got, strict=True):
        assert row["days"] == (value.date() - dt.date(1970, 1, 1)).days
        assert row["week"] == truncate(value, "week") and row["week"].weekday() == 0
        assert row["quarter"] == truncate(value, "quarter")
        assert row["week_index"] == ((value.date() - dt.date(1970, 1, 5)).days // 7) + 1


def test_boundaries_are_complete_periods() -> None:
    points = boundaries(dt.datetime(2024, 1, 15), dt.datetime(2024, 4, 1), "month")
    assert points == [dt.datetime(2024, m, 1) for m in (1, 2, 3, 4)]
    assert boundaries(dt.datetime(2024, 1, 15), dt.datetime(2024, 3, 31), "quarter") == [dt.datetime(2024, 1, 1)]
