"""``kvar`` commands. Errors print one line on stderr and exit with status 2 (bad input) or 1 (other)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from kvar.cli.output import emit, stderr, stdout
from kvar.cli.sources import Sources, load_context, open_sources, report_load, source_kind
from kvar.data.mapping import parse_map_options
from kvar.data.workspace import DEFAULT_PATH, Workspace
from kvar.errors import InputError, KvarError, ParameterError
from kvar.metrics.frames import rows_of

app = typer.Typer(
    name="kvar",
    help="Customer retention analytics: who stays, who leaves, why, and what each customer is worth.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

FileOption = Annotated[Optional[Path], typer.Option(exists=False, dir_okay=False, help="CSV or Parquet file")]
MapOption = Annotated[list[str], typer.Option("--map", help="canonical=yours, e.g. customer_id=CustomerID (repeatable)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object with a rows list on stdout")]
PeriodOption = Annotated[str, typer.Option(help="day, week, month, quarter or year")]
ByOption = Annotated[Optional[str], typer.Option(help="customer attribute to split by (column name)")]
WorkspaceOption = Annotated[Optional[Path], typer.Option(help="read tables from this workspace instead of files")]
TimezoneOption = Annotated[str, typer.Option(help="time zone of naive times in the files")]
DateFormatOption = Annotated[Optional[str], typer.Option(help="strptime format of the dates, if not ISO 8601")]
FxOption = Annotated[Optional[Path], typer.Option(help="FX table (currency,rate) to convert mixed currencies")]
BaseCurrencyOption = Annotated[Optional[str], typer.Option(help="currency the FX rates convert into")]
RejectsOption = Annotated[Optional[Path], typer.Option(help="write rejected rows to this CSV")]
AsOfOption = Annotated[Optional[dt.datetime], typer.Option(help="measure up to this time (default: end of the last day seen)")]


def handles_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn kvar's errors into one line on stderr and an exit status, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except InputError as error:
            stderr.print(f"[red]error:[/red] {error}", highlight=False)
            raise typer.Exit(2) from None
        except KvarError as error:
            stderr.print(f"[red]error:[/red] {error}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def _emit(
    command: str, parameters: dict[str, Any], rows: list[dict[str, Any]], as_json: bool, sources: Sources | None = None,
    notes: list[str] | None = None,
) -> None:
    extra: dict[str, Any] = {"loads": sources.rejects_summary()} if sources and sources.loads else {}
    if notes:
        extra["notes"] = notes
    emit(command, parameters, rows, as_json, **extra)


def observation_notes(kind: str, facts: Any, as_of: dt.datetime | None) -> tuple[dt.datetime | None, list[str]]:
    """The end of observation a subscription metric will use, and a note when later ends are scheduled."""
    if kind != "subscriptions":
        return as_of, []
    import narwhals as nw

    from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, observation, scheduled_ends

    lazy = nw.from_native(facts)
    _, until = observation(lazy, SUBSCRIPTION_OBSERVED, as_of)
    later = scheduled_ends(lazy, until)
    basis = "given" if as_of else "the last observed moment: the end of the day of the latest started_at"
    notes = [f"as of {until:%Y-%m-%d %H:%M} ({basis}); {later:,} subscription end(s) after it are scheduled, not churn yet"] if later else []
    for note in notes:
        stderr.print(f"note: {note}", highlight=False)
    return until, notes


@app.command()
@handles_errors
def init(path: Annotated[Path, typer.Argument(help="workspace file to create")] = DEFAULT_PATH) -> None:
    """Create an embedded workspace (a DuckDB database file)."""
    Workspace.create(path).close()
    stdout.print(f"workspace ready: {path}")


@app.command()
@handles_errors
def load(
    table: Annotated[str, typer.Argument(help="customers, transactions, subscriptions, events, feedback or payments")],
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files")],
    workspace: Annotated[Path, typer.Option(help="workspace file")] = DEFAULT_PATH,
    mapping: MapOption = [],  # noqa: B006 - Typer reads the default
    timezone: TimezoneOption = "UTC",
    date_format: DateFormatOption = None,
    fx: FxOption = None,
    base_currency: BaseCurrencyOption = None,
) -> None:
    """Validate files and add their rows to a workspace table; rejected rows go to the rejects table."""
    context = load_context(timezone, date_format, fx, base_currency)
    with Workspace.open(workspace) as space:
        for path in files:
            with stderr.status(f"loading {path.name} …"):
                result = space.load(table, path, parse_map_options(mapping), context)
            report_load(result)


@app.command()
@handles_errors
def tables(workspace: Annotated[Path, typer.Option(help="workspace file")] = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Row counts of the workspace's tables and of its rejects."""
    with Workspace.open(workspace) as space:
        rows = [{"table": name, "rows": count, "rejected": space.rejects(name).count("*").fetchall()[0][0]} for name, count in space.tables().items()]
    _emit("tables", {"workspace": str(workspace)}, rows, as_json)


@app.command()
@handles_errors
def rejects(
    workspace: Annotated[Path, typer.Option(help="workspace file")] = DEFAULT_PATH,
    table: Annotated[Optional[str], typer.Option(help="only this table")] = None,
    limit: Annotated[int, typer.Option(help="rows to show")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Rejected rows with file, row, column, value and reason."""
    with Workspace.open(workspace) as space:
        relation = space.rejects(table).order("file, row").limit(limit)
        rows = rows_of(relation.select("table_name, file, row, column_name, value, reason"))
    _emit("rejects", {"workspace": str(workspace), "table": table}, rows, as_json)


@app.command()
@handles_errors
def retention(
    transactions: FileOption = None,
    subscriptions: FileOption = None,
    period: PeriodOption = "month",
    by: ByOption = None,
    inactivity: Annotated[str, typer.Option(help="non-contractual: active while the last purchase is this recent (90d, 12w, 3m)")] = "90d",
    grace: Annotated[Optional[str], typer.Option(help="contractual: grace period after a subscription ends")] = None,
    customers: FileOption = None,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    mapping: MapOption = [],  # noqa: B006
    timezone: TimezoneOption = "UTC",
    date_format: DateFormatOption = None,
    fx: FxOption = None,
    base_currency: BaseCurrencyOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Customers at start, new, reactivated, churned, at end; retention = (end - new) / start x 100."""
    from kvar.metrics.retention import retention_table

    kind = source_kind(transactions, subscriptions, workspace)
    sources = open_sources(mapping, timezone, date_format, fx, base_currency, rejects, workspace)
    facts = sources.table(kind, transactions if kind == "transactions" else subscriptions)
    people = sources.table("customers", customers) if customers else None
    as_of, notes = observation_notes(kind, facts, as_of)
    with stderr.status("computing retention …"):
        result = retention_table(
            **{kind: facts}, period=period, by=by, customers=people, inactivity=inactivity, grace=grace, as_of=as_of
        )
        rows = rows_of(result)
    parameters = {"source": kind, "period": period, "by": by, "inactivity": inactivity if kind == "transactions" else None, "grace": grace, "as_of": as_of}
    _emit("retention", parameters, rows, as_json, sources, notes)


@app.command()
@handles_errors
def cohorts(
    transactions: FileOption = None,
    period: PeriodOption = "month",
    value: Annotated[str, typer.Option(help="customers (logo retention) or revenue")] = "customers",
    by: ByOption = None,
    cumulative: Annotated[bool, typer.Option(help="sum values over offsets (revenue to date)")] = False,
    customers: FileOption = None,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    mapping: MapOption = [],  # noqa: B006
    timezone: TimezoneOption = "UTC",
    date_format: DateFormatOption = None,
    fx: FxOption = None,
    base_currency: BaseCurrencyOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cohort matrix by first-purchase period: counts (or revenue) and percent of the cohort's first period."""
    from kvar.metrics.cohorts import cohort_table

    sources = open_sources(mapping, timezone, date_format, fx, base_currency, rejects, workspace)
    facts = sources.table("transactions", transactions)
    people = sources.table("customers", customers) if customers else None
    with stderr.status("computing cohorts …"):
        rows = rows_of(cohort_table(facts, period=period, value=value, by=by, customers=people, as_of=as_of, cumulative=cumulative))  # type: ignore[arg-type]
    _emit("cohorts", {"period": period, "value": value, "by": by, "cumulative": cumulative}, rows, as_json, sources)


@app.command()
@handles_errors
def summary(
    transactions: FileOption = None,
    freq: Annotated[str, typer.Option(help="bucket transactions by D (day), W (week) or M (month)")] = "D",
    unit: Annotated[Optional[str], typer.Option(help="unit of recency and T: D or W (default: freq)")] = None,
    calibration_end: Annotated[Optional[dt.datetime], typer.Option(help="last day of the calibration period (inclusive)")] = None,
    observation_end: Annotated[Optional[dt.datetime], typer.Option(help="last day of the holdout period")] = None,
    workspace: WorkspaceOption = None,
    mapping: MapOption = [],  # noqa: B006
    timezone: TimezoneOption = "UTC",
    date_format: DateFormatOption = None,
    fx: FxOption = None,
    base_currency: BaseCurrencyOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per-customer frequency, recency, T and monetary value (the input of the CLV models)."""
    from kvar.metrics.purchases import customer_summary

    sources = open_sources(mapping, timezone, date_format, fx, base_currency, rejects, workspace)
    facts = sources.table("transactions", transactions)
    with stderr.status("summarising customers …"):
        rows = rows_of(customer_summary(facts, freq=freq.upper(), unit=unit.upper() if unit else None, calibration_end=calibration_end, observation_end=observation_end))  # type: ignore[arg-type]
    parameters = {"freq": freq.upper(), "unit": (unit or freq).upper(), "calibration_end": calibration_end, "observation_end": observation_end}
    _emit("summary", parameters, rows, as_json, sources)


@app.command()
@handles_errors
def mrr(
    subscriptions: FileOption = None,
    period: PeriodOption = "month",
    by: ByOption = None,
    customers: FileOption = None,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    mapping: MapOption = [],  # noqa: B006
    timezone: TimezoneOption = "UTC",
    date_format: DateFormatOption = None,
    fx: FxOption = None,
    base_currency: BaseCurrencyOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """MRR, ARR and MRR movements (new, expansion, contraction, churn, reactivation), GRR, NRR, ARPA."""
    from kvar.metrics.revenue import mrr_movements

    sources = open_sources(mapping, timezone, date_format, fx, base_currency, rejects, workspace)
    subs = sources.table("subscriptions", subscriptions)
    people = sources.table("customers", customers) if customers else None
    as_of, notes = observation_notes("subscriptions", subs, as_of)
    with stderr.status("computing MRR movements …"):
        rows = rows_of(mrr_movements(subs, period=period, by=by, customers=people, as_of=as_of))
    _emit("mrr", {"period": period, "by": by, "as_of": as_of}, rows, as_json, sources, notes)


@app.command()
@handles_errors
def pareto(
    transactions: FileOption = None,
    workspace: WorkspaceOption = None,
    mapping: MapOption = [],  # noqa: B006
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Share of revenue from the top 10 % and 20 % of customers."""
    from kvar.metrics.value import pareto_concentration

    sources = open_sources(mapping, "UTC", None, None, None, rejects, workspace)
    rows = rows_of(pareto_concentration(sources.table("transactions", transactions)))
    _emit("pareto", {}, rows, as_json, sources)


@app.command()
@handles_errors
def report(
    output: Annotated[Path, typer.Option(help="HTML file to write")] = Path("kvar-report.html"),
    workspace: WorkspaceOption = None,
    transactions: FileOption = None,
    subscriptions: FileOption = None,
    events: FileOption = None,
    feedback: FileOption = None,
    payments: FileOption = None,
    customers: FileOption = None,
    period: PeriodOption = "month",
    inactivity: Annotated[str, typer.Option(help="non-contractual inactivity window")] = "90d",
    industry: Annotated[Optional[str], typer.Option(help="benchmark to highlight: software, ecommerce, finance, …")] = None,
    mapping: MapOption = [],  # noqa: B006
) -> None:
    """Write one self-contained HTML report (works offline): KPIs, benchmarks, cohorts, retention, MRR."""
    from kvar.report.html import ReportInputs, write_report

    sources = open_sources(mapping, "UTC", None, None, None, None, workspace)
    pick = sources.table_if_given
    inputs = ReportInputs(
        transactions=pick("transactions", transactions),
        subscriptions=pick("subscriptions", subscriptions),
        events=pick("events", events),
        feedback=pick("feedback", feedback),
        payments=pick("payments", payments),
        customers=pick("customers", customers),
        period=period,
        inactivity=inactivity,
        industry=industry,
    )
    if inputs.transactions is None and inputs.subscriptions is None:
        raise ParameterError("the report needs transactions or subscriptions (files or --workspace)")
    with stderr.status("building the report …"):
        write_report(inputs, output)
    stdout.print(f"report written: {output}")


@app.command()
@handles_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="where to write the demo data, workspace and report")] = Path("kvar-demo"),
    customers: Annotated[int, typer.Option(help="customers to generate")] = 2000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Generate a realistic business, load it into a workspace, print the KPIs and write the report."""
    from kvar.cli.demo import run_demo

    run_demo(directory, customers=customers, seed=seed)


def _register_model_commands() -> None:
    from kvar.cli.models import churn_causes, clv, expansion, risk, sbg, segments, survival

    for command in (clv, sbg, segments, survival, risk, expansion):
        app.command()(handles_errors(command))
    app.command("churn-causes")(handles_errors(churn_causes))


_register_model_commands()
