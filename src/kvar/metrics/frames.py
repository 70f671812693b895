"""The edges between the user's data frames and kvar's Narwhals expressions.

Metrics accept any frame Narwhals understands (DuckDB relation, PySpark, Polars, pandas, PyArrow) and
return the same kind: lazy in, lazy out; eager in, eager out. Nothing here pulls raw rows into Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pyarrow as pa
from narwhals.typing import IntoFrame

from kvar.errors import MappingError
from kvar.i18n import tr

Finish = Callable[[nw.LazyFrame], Any]


def as_lazy(native: IntoFrame | nw.LazyFrame | nw.DataFrame) -> tuple[nw.LazyFrame, Finish]:
    """Wrap the user's frame as a Narwhals LazyFrame and return a function that hands a result back.

    The returned ``finish`` turns a result LazyFrame into the user's kind of frame: a lazy native frame
    (DuckDB relation, Spark DataFrame, Polars LazyFrame) stays lazy; an eager one is collected with the
    same library.

    Date columns (a notebook's ``try_parse_dates``, say) become timestamps at midnight UTC, so that every
    time column is an instant, as in a workspace.
    """
    frame = native if isinstance(native, (nw.LazyFrame, nw.DataFrame)) else nw.from_native(native)
    if isinstance(frame, nw.DataFrame):
        backend = frame.implementation
        return _instants(frame.lazy()), lambda result: _fresh_index(result.collect(backend=backend).to_native())
    return _instants(frame), lambda result: result.to_native()


def _instants(frame: nw.LazyFrame) -> nw.LazyFrame:
    dates = [name for name, dtype in frame.collect_schema().items() if dtype == nw.Date]
    return frame.with_columns(nw.col(name).cast(nw.Datetime("us")) for name in dates) if dates else frame


def _fresh_index(native: Any) -> Any:
    """pandas keeps the row labels of a sort; hand back 0..n-1 like every other library."""
    return native.reset_index(drop=True) if hasattr(native, "reset_index") else native


def table_of(
    native: IntoFrame | nw.LazyFrame | nw.DataFrame, table: str, columns: Sequence[str]
) -> tuple[nw.LazyFrame, Finish]:
    """The start of every metric: the user's frame as a LazyFrame (:func:`as_lazy`) with the ``columns`` the
    metric reads checked (:func:`require_columns`, naming ``table``)."""
    frame, finish = as_lazy(native)
    require_columns(frame, table, columns)
    return frame, finish


def exact_sum(column: str, like: nw.LazyFrame) -> nw.Expr:
    """The sum of a money column, the same whatever order the engine adds in (``like``: any frame of the
    engine the sum runs in).

    Parallel engines (DuckDB, Spark, Polars) add floating-point partial sums in whatever order their threads
    finish, so the last digits of a float sum could change from run to run. There the values are added as
    decimals (10 places, exactly) and the total is returned as a float. pandas and PyArrow add in row order
    (and accept only plain aggregations), so their sums are the plain float sums.
    """
    impl = like.implementation
    if impl.is_pandas_like() or impl.is_pyarrow():
        return nw.col(column).sum()
    return nw.col(column).cast(nw.Decimal(38, 10)).sum().cast(nw.Float64)


def require_columns(frame: nw.LazyFrame, table: str, columns: Sequence[str]) -> None:
    """Raise :class:`MappingError` naming every required column ``frame`` lacks."""
    present = set(frame.collect_schema().names())
    missing = [name for name in columns if name not in present]
    if missing:
        raise MappingError(
            tr(
                "{table}: missing column(s) {missing}; found {found}. Hint: rename your columns with --map canonical=yours (e.g. --map customer_id=CustomerID)."
            ).format(table=table, missing=", ".join(missing), found=", ".join(sorted(present)))
        )


def frame_like(like: nw.LazyFrame, columns: Mapping[str, Sequence[Any]]) -> nw.LazyFrame:
    """A small LazyFrame built from Python values, living in the same engine (and session) as ``like``.

    Used for calendars of period boundaries, which must join the user's data inside its own engine.
    Values may be ``int``, ``float``, ``str`` or naive ``datetime`` (UTC).
    """
    if not columns or not len(next(iter(columns.values()))):
        raise ValueError("frame_like needs at least one row")
    if like.implementation.is_duckdb():
        native = _duckdb_values(like.to_native(), columns)
    else:
        native = arrow_like(like, pa.table({name: list(values) for name, values in columns.items()}))
    frame = nw.from_native(native)
    return frame.lazy() if isinstance(frame, nw.DataFrame) else frame


def _duckdb_values(relation: Any, columns: Mapping[str, Sequence[Any]]) -> Any:
    """``columns`` as a relation on ``relation``'s connection, scanned from NumPy arrays typed as PyArrow
    types Python values (int64, float64, bool, text, naive microsecond timestamps). Not through PyArrow,
    which imports pandas to build any array: a third of a short command's time."""
    arrays = {name: _numpy_column(list(values)) for name, values in columns.items()}  # noqa: F841  # read by name below
    return relation.query("_kvar_like", "SELECT * FROM arrays")


def _numpy_column(values: list[Any]) -> np.ndarray:
    if all(isinstance(value, dt.datetime) for value in values):
        return np.array(values, dtype="datetime64[us]")
    column = np.asarray(values)
    return column.astype(object) if column.dtype.kind == "U" else column


def arrow_like(like: IntoFrame | nw.LazyFrame | nw.DataFrame, table: pa.Table) -> Any:
    """``table`` as the same kind of native frame as ``like``: a pandas, Polars or PyArrow frame of its
    library; a lazy frame in its own engine and session (DuckDB connection, Spark session, Polars lazy).

    This is how a result computed outside the engine (a model's per-customer predictions) is handed back
    in the user's kind of frame.
    """
    frame = like if isinstance(like, (nw.LazyFrame, nw.DataFrame)) else nw.from_native(like)
    impl = frame.implementation
    if isinstance(frame, nw.DataFrame):
        return nw.from_arrow(table, backend=impl).to_native()
    native = frame.to_native()
    if impl.is_duckdb():
        arrow_result = table  # noqa: F841  # read by name below: DuckDB scans the Python variable in place
        return native.query("_kvar_like", "SELECT * FROM arrow_result")
    if impl.is_pyspark() or impl.is_pyspark_connect():
        return native.sparkSession.createDataFrame(table)
    eager = nw.from_arrow(table, backend=nw.Implementation.POLARS if impl.is_polars() else impl)
    return eager.lazy().to_native()


def rows_of(frame: nw.LazyFrame | Any) -> list[dict[str, Any]]:
    """Collect a small result into a list of plain dicts (for JSON, reports and tests).

    Timestamps come back as naive UTC ``datetime``; Spark's tz-aware UTC values are normalised.
    """
    return arrow_of(frame).to_pylist()


def arrow_of(frame: nw.LazyFrame | Any) -> pa.Table:
    """Collect a result as a PyArrow table, its timestamps naive UTC (as :func:`rows_of`'s)."""
    lazy, _ = as_lazy(frame)
    if lazy.implementation.is_duckdb():  # DuckDB's own export: Narwhals' Arrow frame imports pyarrow.compute (50 ms)
        table = lazy.to_native().to_arrow_table()
    else:
        table = lazy.collect(backend="pyarrow").to_native()
    table = table.drop([name for name in table.column_names if name.startswith("__index_level_")])
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:  # the UTC instant, made naive
            table = table.set_column(index, field.name, table.column(index).cast(pa.timestamp(field.type.unit)))
    return table


def rows_in(table: pa.Table, batch_rows: int = 65_536) -> Iterator[dict[str, Any]]:
    """The rows of an :func:`arrow_of` table as plain dicts, made a batch at a time: a result of millions of
    customers is written out without all of them in Python at once."""
    for batch in table.to_batches(max_chunksize=batch_rows):
        yield from batch.to_pylist()
