"""``kvar export``: a segment or churn-risk list, with the reasons, to CSV or Parquet for a CRM or a campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import pyarrow as pa
import typer

from kvar.cli.options import AsOfOption, TableFile, check_output_file, reads_data
from kvar.cli.output import stage, stderr
from kvar.cli.sources import Sources
from kvar.errors import ParameterError
from kvar.i18n import lazy_tr, marked, tr
from kvar.metrics.frames import rows_of

LISTS = ("segments", "risk")
FORMATS = (".csv", ".parquet")


@reads_data
def export(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help=lazy_tr("segments or risk"))],
    output: Annotated[Path, typer.Option(metavar="FILE", help=lazy_tr("file to write: .csv or .parquet"))],
    segment: Annotated[
        Optional[list[str]],
        typer.Option(metavar="NAME", help=lazy_tr("only customers of this RFM segment (repeatable)")),
    ] = None,
    above: Annotated[
        Optional[float],
        typer.Option(metavar="P", min=0.0, max=1.0, help=lazy_tr("only customers with a churn risk above P")),
    ] = None,
    transactions: TableFile("transactions", marked("for segments")) = None,
    subscriptions: TableFile("subscriptions", marked("for risk")) = None,
    events: TableFile("events", marked("for risk")) = None,
    payments: TableFile("payments", marked("optional, for risk")) = None,
    feedback: TableFile("feedback", marked("optional, for risk")) = None,
    customers: TableFile("customers", marked("optional, for risk")) = None,
    as_of: AsOfOption = None,
    *,
    sources: Sources,
) -> None:
    """Write a segment list (RFM scores and why) or a churn-risk list (probability and its reasons) to CSV or Parquet."""
    if list_name not in LISTS:
        raise ParameterError(
            tr("LIST: expected one of {lists}, got {name!r}").format(lists=", ".join(LISTS), name=list_name)
        )
    if output.suffix.lower() not in FORMATS:
        raise ParameterError(tr("--output {path}: expected a file ending in .csv or .parquet").format(path=output))
    check_output_file(output)
    if list_name == "segments":
        rows = _segments(sources.table("transactions", transactions), segment, as_of)
    else:
        optional = sources.table_if_given
        tables = (
            sources.table("subscriptions", subscriptions),
            sources.table("events", events),
            optional("payments", payments),
            optional("feedback", feedback),
            optional("customers", customers),
        )
        rows = _risk(tables, above, as_of)
    _write(rows, output)
    stderr.print(
        tr("{count} customers written to {path}").format(count=len(rows), path=output), highlight=False, markup=False
    )


def _segments(facts: Any, wanted: list[str] | None, as_of: Any) -> list[dict[str, Any]]:
    from kvar.flows.spec import SEGMENTS
    from kvar.metrics.segments import rfm_segments

    chosen = None
    if wanted:
        unknown = [name for name in wanted if name.casefold() not in SEGMENTS]
        if unknown:
            raise ParameterError(
                tr("--segment {name!r}: expected one of {names}").format(
                    name=unknown[0], names=", ".join(sorted(set(SEGMENTS.values())))
                )
            )
        chosen = {SEGMENTS[name.casefold()] for name in wanted}
    with stage(tr("scoring recency, frequency and monetary value")):
        rows = rows_of(rfm_segments(facts, as_of=as_of))
    return [
        {
            **row,
            "reason": tr("recency {r}/5 ({days} days), frequency {f}/5 ({orders} orders), monetary {m}/5").format(
                r=row["r_score"], days=row["recency_days"], f=row["f_score"], orders=row["frequency"], m=row["m_score"]
            ),
        }
        for row in rows
        if chosen is None or row["segment"] in chosen
    ]


def _risk(tables: tuple[Any, ...], above: float | None, as_of: Any) -> list[dict[str, Any]]:
    from kvar.metrics.churn_features import churn_features
    from kvar.models.churn_risk import current_risk

    with stage(tr("building features and training")):
        rows = rows_of(current_risk(churn_features(*tables, as_of=as_of)))
    return [
        {**row, "reasons": "; ".join(row["reasons"])}
        for row in rows
        if above is None or row["churn_probability"] > above
    ]


def _write(rows: list[dict[str, Any]], output: Path) -> None:
    import pyarrow.csv as csv
    import pyarrow.parquet as parquet

    table = pa.Table.from_pylist(rows) if rows else pa.table({"customer_id": pa.array([], pa.string())})
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".parquet":
        parquet.write_table(table, output)
    else:
        csv.write_csv(table, output)
