"""``kvar`` commands: each parses its options, calls one library function and prints the result.

Errors print at most three lines on stderr and exit with status 2 (``kvar --debug …`` shows the traceback).
"""

from __future__ import annotations

import datetime as dt
import inspect
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from kvar.cli.errors import EXIT_ERROR, debug, handles_errors, print_error
from kvar.cli.options import (
    AsOfOption,
    BoundaryOption,
    ByOption,
    CsvOption,
    DefineOption,
    DefinitionOption,
    Frequency,
    Grace,
    Inactivity,
    JsonOption,
    LocaleOption,
    PeriodOption,
    TableFile,
    Unit,
    check_choice,
    check_frequency,
    check_output_file,
    check_periods,
    check_window,
    chosen_definition,
    reads_data,
    speaks_locale,
)
from kvar.cli.output import emit, stage, stderr, stdout
from kvar.cli.sources import Sources, customers_for, source_kind
from kvar.data.reasons import shown_reason
from kvar.data.workspace import DEFAULT_PATH, Workspace
from kvar.errors import KvarError, ParameterError
from kvar.i18n import lazy, lazy_tr, marked, set_locale, tr
from kvar.i18n.formatting import date, number
from kvar.metrics.frames import arrow_of, rows_in, rows_of

app = typer.Typer(
    name="kvar",
    help=lazy_tr("Customer retention analytics: who stays, who leaves, why, and what each customer is worth."),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

WorkspaceFile = Annotated[Path, typer.Option(metavar="FILE", help=lazy_tr("workspace file (a kvar DuckDB database)"))]


def command_help(function: Callable[..., None]) -> str:
    """A command's help: its docstring, in the active locale (the catalogs hold every command's docstring)."""
    return tr(inspect.cleandoc(function.__doc__ or ""))


def command(
    name: str | None = None, group: typer.Typer | None = None, **settings: Any
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a function as a ``kvar`` command (or one of ``group``'s, such as ``kvar flows``): it
    understands ``--locale``, ends any error in three lines, and its help (the docstring) is translated when
    shown."""

    def register(function: Callable[..., None]) -> Callable[..., None]:
        target = group or app
        target.command(name, help=lazy(command_help, function), **settings)(speaks_locale(handles_errors(function)))
        return function

    return register


def _version(show: bool) -> None:
    if show:
        stdout.print(f"kvar {version('kvar')}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help=lazy_tr("print the version and exit"))
    ] = False,
    show_debug: Annotated[
        bool, typer.Option("--debug", help=lazy_tr("show the Python traceback when a command fails"))
    ] = False,
    locale: LocaleOption = None,
) -> None:
    """Customer retention analytics: who stays, who leaves, why, and what each customer is worth."""
    debug["enabled"] = show_debug
    set_locale(locale)


def locale_in(argv: list[str]) -> str | None:
    """The value of ``--locale`` anywhere in ``argv`` (help and usage errors come before any command runs)."""
    for index, argument in enumerate(argv):
        if argument == "--locale" and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith("--locale="):
            return argument.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> None:
    """The ``kvar`` program: help in the chosen locale; usage errors too end in at most three lines and exit status 2."""
    arguments = sys.argv[1:] if argv is None else argv
    try:
        set_locale(locale_in(arguments))
    except KvarError as error:
        print_error(str(error))
        raise SystemExit(EXIT_ERROR) from None
    try:
        code = app(args=arguments, prog_name="kvar", standalone_mode=False)
    except Exception as error:  # click's usage errors carry format_message(); anything else is handled per command
        if not hasattr(error, "format_message"):
            raise
        context = getattr(error, "ctx", None)
        command = context.command_path if context is not None else "kvar"
        print_error(
            tr("{format_message}\nsee `{command} --help`").format(
                format_message=error.format_message(), command=command
            )
        )
        raise SystemExit(EXIT_ERROR) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _emit(
    command: str,
    parameters: dict[str, Any],
    rows: Iterable[dict[str, Any]],
    as_json: bool,
    sources: Sources | None = None,
    notes: list[str] | None = None,
    as_csv: bool = False,
    shown: tuple[str, ...] = (),
    title: str | None = None,
    **more: Any,
) -> None:
    extra: dict[str, Any] = {"loads": sources.rejects_summary()} if sources and sources.loads else {}
    if notes:
        extra["notes"] = notes
    emit(command, parameters, rows, as_json, as_csv=as_csv, shown=shown, title=title, **extra, **more)


def observation_notes(kind: str, facts: Any, as_of: dt.datetime | None) -> tuple[dt.datetime | None, list[str]]:
    """The end of observation a subscription metric will use, and a note when later ends are scheduled."""
    if kind != "subscriptions":
        return as_of, []
    import narwhals as nw

    from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, observation, scheduled_ends

    lazy = nw.from_native(facts)
    _, until = observation(lazy, SUBSCRIPTION_OBSERVED, as_of)
    later = scheduled_ends(lazy, until)
    basis = tr("given") if as_of else tr("the last observed moment: the end of the day of the latest started_at")
    notes = (
        [
            tr("as of {time} ({basis}); {count} subscription end(s) after it are scheduled, not churn yet").format(
                time=f"{until:%Y-%m-%d %H:%M}", basis=basis, count=number(later)
            )
        ]
        if later
        else []
    )
    for note in notes:
        stderr.print(tr("note: {note}").format(note=note), highlight=False, markup=False)
    return until, notes


@command()
def init(
    path: Annotated[Path, typer.Argument(metavar="FILE", help=lazy_tr("workspace file to create"))] = DEFAULT_PATH,
) -> None:
    """Create an embedded workspace (a DuckDB database file)."""
    Workspace.create(path).close()
    stdout.print(tr("workspace ready: {path}").format(path=path), highlight=False)


def _columns_of_every_table() -> str:
    from kvar.data.contracts import CONTRACTS

    return (
        tr("Columns (required; optional): ")
        + "; ".join(
            f"{name}: {', '.join(c.name for c in contract.columns if c.required)}"
            f" ({', '.join(c.name for c in contract.columns if not c.required)})"
            for name, contract in CONTRACTS.items()
        )
        + ". "
        + tr("See docs/data-model.md.")
    )


@command(epilog=lazy(_columns_of_every_table))
@reads_data
def load(
    table: Annotated[
        str,
        typer.Argument(
            metavar="TABLE", help=lazy_tr("customers, transactions, subscriptions, events, feedback or payments")
        ),
    ],
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...", help=lazy_tr("CSV or Parquet files, folders of them, or quoted glob patterns")
        ),
    ],
    workspace: WorkspaceFile = DEFAULT_PATH,
    *,
    sources: Sources,
) -> None:
    """Validate files and add their rows to a workspace table; rejected rows go to the rejects table."""
    from kvar.data.contracts import contract_for
    from kvar.data.locations import files_named, folder_values

    contract_for(table)
    # every location's files found before the first is loaded (a mistyped name loads nothing), but for the
    # workspace's own files, which a folder holding the workspace lists too; each with its folder names' keys
    own = {workspace.absolute(), Path(f"{workspace}.wal").absolute()}
    named = [[file for file in files_named(location) if file.absolute() not in own] for location in files]
    for location, found in zip(files, named, strict=True):
        for path, folders in zip(found, folder_values(location, found), strict=True):
            sources.load_into_workspace(table, path, folders)


@command()
def tables(workspace: WorkspaceFile = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Row counts of the workspace's tables and of its rejects."""
    with Workspace.open(workspace) as space:
        rows = [
            {"table": name, "rows": count, "rejected": space.rejected(name)} for name, count in space.tables().items()
        ]
    _emit("tables", {"workspace": str(workspace)}, rows, as_json)


@command()
def rejects(
    workspace: WorkspaceFile = DEFAULT_PATH,
    table: Annotated[Optional[str], typer.Option(metavar="TABLE", help=lazy_tr("only this table"))] = None,
    limit: Annotated[int, typer.Option(metavar="N", min=1, help=lazy_tr("rows to show"))] = 50,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Rejected rows with file, row, column, value and reason."""
    with Workspace.open(workspace) as space:
        relation = space.rejects(table).order("file, row, column_name, reason").limit(limit)
        rows = rows_of(relation.select("table_name, file, row, column_name, value, reason"))
    if not as_json:  # people read the reasons in their language; JSON keeps them as stored
        rows = [{**row, "reason": shown_reason(row["reason"])} for row in rows]
    _emit("rejects", {"workspace": str(workspace), "table": table}, rows, as_json, as_csv=as_csv)


@command()
@reads_data
def retention(
    transactions: TableFile("transactions", marked("non-contractual business")) = None,
    subscriptions: TableFile("subscriptions", marked("contractual business")) = None,
    period: PeriodOption = "month",
    by: ByOption = None,
    inactivity: Inactivity = "90d",
    grace: Grace = None,
    customers: TableFile("customers", marked("attributes for --by")) = None,
    as_of: AsOfOption = None,
    boundary: BoundaryOption = "before",
    definition: DefinitionOption = None,
    define: DefineOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Customers at start, new, reactivated, churned, at end; retention = (end - new) / start x 100."""
    from kvar.metrics.retention import retention_table

    check_periods(period=period)
    boundary, chosen = chosen_definition(boundary, definition, define)
    check_window("--inactivity", inactivity)
    check_window("--grace", grace)
    kind = source_kind(transactions, subscriptions, sources)
    if chosen and kind != "subscriptions":  # before any file is read
        raise ParameterError(tr("--definition: named churn definitions measure subscriptions"))
    facts = sources.table(kind, transactions if kind == "transactions" else subscriptions)
    people = customers_for(sources, customers, by)
    as_of, notes = observation_notes(kind, facts, as_of)
    with stage(tr("computing retention")):
        result = retention_table(
            **{kind: facts},
            period=period,
            by=by,
            customers=people,
            inactivity=inactivity,
            grace=grace,
            as_of=as_of,
            boundary=boundary,
            definition=chosen,
        )
        rows = rows_of(result)
    parameters = {
        "source": kind,
        "period": period,
        "by": by,
        "inactivity": inactivity if kind == "transactions" else None,
        "grace": grace,
        "as_of": as_of,
        "boundary": boundary,
        "definition": definition,
        **({"definition_options": chosen.options()} if chosen else {}),
    }
    shown = (
        *((by,) if by else ()),
        "period_start",
        *(("definition_churn_rate",) if definition else ()),
        "retention_rate",
        "churn_rate",
        "customers_start",
        "new_customers",
        "churned",
        "customers_end",
    )
    _emit("retention", parameters, rows, as_json, sources, notes, as_csv, shown)


@command()
@reads_data
def cohorts(
    transactions: TableFile("transactions") = None,
    period: PeriodOption = "month",
    value: Annotated[
        str, typer.Option(metavar="VALUE", help=lazy_tr("customers (logo retention) or revenue"))
    ] = "customers",
    by: ByOption = None,
    cumulative: Annotated[
        bool, typer.Option("--cumulative", help=lazy_tr("sum values over offsets (revenue to date)"))
    ] = False,
    customers: TableFile("customers", marked("attributes for --by")) = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Cohort matrix by first-purchase period: counts (or revenue) and percent of the cohort's first period."""
    from kvar.metrics.cohorts import cohort_table

    check_periods(period=period)
    check_choice("--value", value, ("customers", "revenue"))
    facts = sources.table("transactions", transactions)
    people = customers_for(sources, customers, by)
    with stage(tr("computing cohorts")):
        rows = rows_of(
            cohort_table(facts, period=period, value=value, by=by, customers=people, as_of=as_of, cumulative=cumulative)
        )
    _emit(
        "cohorts",
        {"period": period, "value": value, "by": by, "cumulative": cumulative},
        rows,
        as_json,
        sources,
        as_csv=as_csv,
    )


@command()
@reads_data
def summary(
    transactions: TableFile("transactions") = None,
    freq: Frequency = "D",
    unit: Unit = None,
    calibration_end: Annotated[
        Optional[dt.datetime],
        typer.Option(
            metavar="DAY", formats=["%Y-%m-%d"], help=lazy_tr("last day of the calibration period (inclusive)")
        ),
    ] = None,
    observation_end: Annotated[
        Optional[dt.datetime],
        typer.Option(metavar="DAY", formats=["%Y-%m-%d"], help=lazy_tr("last day of the holdout period")),
    ] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Per-customer frequency, recency, T and monetary value (the input of the CLV models)."""
    from kvar.metrics.purchases import customer_summary

    freq, unit = check_frequency(freq, unit)
    facts = sources.table("transactions", transactions)
    with stage(tr("summarising customers")):
        table = arrow_of(
            customer_summary(
                facts, freq=freq, unit=unit, calibration_end=calibration_end, observation_end=observation_end
            )
        )
    parameters = {"freq": freq, "unit": unit, "calibration_end": calibration_end, "observation_end": observation_end}
    _emit("summary", parameters, rows_in(table), as_json, sources, as_csv=as_csv)


@command()
@reads_data
def mrr(
    subscriptions: TableFile("subscriptions") = None,
    period: PeriodOption = "month",
    by: ByOption = None,
    customers: TableFile("customers", marked("attributes for --by")) = None,
    as_of: AsOfOption = None,
    boundary: BoundaryOption = "before",
    definition: DefinitionOption = None,
    define: DefineOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """MRR, ARR and MRR movements (new, expansion, contraction, churn, reactivation), GRR, NRR, ARPA."""
    from kvar.metrics.revenue import mrr_movements

    check_periods(period=period)
    boundary, chosen = chosen_definition(boundary, definition, define)
    window = chosen.window if chosen else "calendar"
    subs = sources.table("subscriptions", subscriptions)
    people = customers_for(sources, customers, by)
    as_of, notes = observation_notes("subscriptions", subs, as_of)
    with stage(tr("computing MRR movements")):
        rows = rows_of(
            mrr_movements(subs, period=period, by=by, customers=people, as_of=as_of, boundary=boundary, window=window)
        )
    shown = (
        *((by,) if by else ()),
        "period_start",
        "mrr_end",
        "nrr",
        "grr",
        "new_mrr",
        "expansion_mrr",
        "contraction_mrr",
        "churned_mrr",
        "reactivation_mrr",
        "arpa",
    )
    _emit(
        "mrr",
        {
            "period": period,
            "by": by,
            "as_of": as_of,
            "boundary": boundary,
            "definition": definition,
            **({"window": window} if chosen else {}),
        },
        rows,
        as_json,
        sources,
        notes,
        as_csv,
        shown,
    )


@command()
@reads_data
def reconcile(
    subscriptions: TableFile("subscriptions") = None,
    period: PeriodOption = "month",
    definitions: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAMES",
            help=lazy_tr(
                "comma-separated churn definitions to compare: kvar, fightchurn, chartmogul, baremetrics, profitwell, "
                "stripe and those of --define [default: all of them]"
            ),
        ),
    ] = None,
    define: DefineOption = None,
    grace: Grace = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Churn under each named definition side by side, and each difference broken into named causes."""
    from kvar.metrics.definitions import CAUSES, PRESETS, compare_definitions, defined, definitions_named

    check_periods(period=period)
    check_window("--grace", grace)
    extra = defined(define or [])
    chosen = definitions_named(definitions or [*PRESETS, *extra], extra=extra)
    subs = sources.table("subscriptions", subscriptions)
    as_of, notes = observation_notes("subscriptions", subs, as_of)
    with stage(tr("reconciling churn definitions")):
        found = compare_definitions(subs, chosen, period=period, grace=grace, as_of=as_of)
        rows, differences = found.rows, found.differences
    parameters = {
        "period": period,
        "definitions": [definition.name for definition in chosen],
        "options": {definition.name: definition.options() for definition in chosen},
        "grace": grace,
        "as_of": as_of,
    }
    shown = (
        "period_start",
        "definition",
        "window_start",
        "customers_start",
        "churned",
        "base",
        "churn_rate",
        "grr",
        "nrr",
    )
    _emit(
        "reconcile",
        parameters,
        rows,
        as_json,
        sources,
        notes,
        as_csv,
        shown,
        title=tr("churn by definition"),
        **({"differences": differences} if as_json else {}),
    )
    if as_json or as_csv:
        return
    last = max((difference["period_start"] for difference in differences), default=None)
    for difference in (difference for difference in differences if difference["period_start"] == last):
        causes = "; ".join(
            f"{cause['customers']} × {tr(CAUSES[cause['cause']])} ({', '.join(map(str, cause['examples']))})"
            for cause in difference["causes"]
        )
        stdout.print(
            tr("{period}: {first} -> {second}: churned {churned:+d}, base {base:+d}: {causes}").format(
                period=date(difference["period_start"]),
                first=difference["from"],
                second=difference["to"],
                churned=difference["churned_difference"],
                base=difference["base_difference"],
                causes=causes,
            ),
            highlight=False,
            markup=False,
        )


@command()
@reads_data
def pareto(
    transactions: TableFile("transactions") = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Share of revenue from the top 10 % and 20 % of customers."""
    from kvar.metrics.value import pareto_concentration

    facts = sources.table("transactions", transactions)
    with stage(tr("ranking customers by revenue")):
        rows = rows_of(pareto_concentration(facts))
    _emit("pareto", {}, rows, as_json, sources, as_csv=as_csv)


@command()
@reads_data
def recovery(
    payments: TableFile("payments", marked("attempts with status and failure_code")) = None,
    window: Annotated[
        str,
        typer.Option(metavar="WINDOW", help=lazy_tr("a failed invoice paid within this window is recovered, e.g. 30d")),
    ] = "30d",
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    *,
    sources: Sources,
) -> None:
    """Failed-payment recovery per decline code: failed invoices, recovered (count and amount), recovery rate over its stated denominator, hard declines, involuntary churn."""
    from kvar.flows.dunning import EXPIRY_NOTICE_DAYS, RETRY_DAYS
    from kvar.metrics.recovery import HARD_DECLINES, payment_recovery

    check_window("--window", window)
    attempts = sources.table("payments", payments)
    with stage(tr("following failed invoices")):
        rows = payment_recovery(attempts, window=window, as_of=as_of)
    extra = {
        "denominator": tr("failed invoices whose {window} recovery window has closed (recovered + lost)").format(
            window=window
        ),
        "schedule": {
            "retry_days": list(RETRY_DAYS),
            "notice_days": [0, max(RETRY_DAYS) - 1],
            "card_expiry_notice_days": list(EXPIRY_NOTICE_DAYS),
            "never_retried": sorted(HARD_DECLINES),
        },
    }
    emit(
        "recovery",
        {"window": window, "as_of": as_of},
        rows,
        as_json,
        as_csv=as_csv,
        title=tr("Failed-payment recovery (rate over {denominator})").format(denominator=extra["denominator"]),
        **(extra if as_json else {}),
    )


@command()
@reads_data
def report(
    output: Annotated[Path, typer.Option(metavar="FILE", help=lazy_tr("HTML file to write"))] = Path(
        "kvar-report.html"
    ),
    transactions: TableFile("transactions") = None,
    subscriptions: TableFile("subscriptions") = None,
    events: TableFile("events", marked("for DAU/MAU")) = None,
    feedback: TableFile("feedback", marked("for NPS/CSAT")) = None,
    payments: TableFile("payments", marked("for failed-payment churn")) = None,
    customers: TableFile("customers") = None,
    period: PeriodOption = "month",
    inactivity: Inactivity = "90d",
    industry: Annotated[
        Optional[str],
        typer.Option(metavar="NAME", help=lazy_tr("benchmark to highlight: software, ecommerce, finance, …")),
    ] = None,
    *,
    sources: Sources,
) -> None:
    """Write one self-contained HTML report (works offline): KPIs, benchmarks, cohorts, retention, MRR."""
    from kvar.report.html import ReportInputs, write_report

    check_output_file(output)
    check_periods(period=period)
    check_window("--inactivity", inactivity)
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
        source=describe_source(sources),
    )
    if inputs.transactions is None and inputs.subscriptions is None:
        raise ParameterError(tr("the report needs transactions or subscriptions (files or --workspace)"))
    if sources.workspace is not None:
        inputs.uplift = flows_uplift(sources.workspace.path, inputs)
    with stage(tr("building the report")):
        write_report(inputs, output)
    stdout.print(tr("report written: {output}").format(output=output), highlight=False)


def flows_uplift(workspace: Path, tables: Any) -> list[dict[str, Any]]:
    """The uplift of the flows that ran on ``workspace`` (its worker's state file beside it), else nothing."""
    from kvar.flows.ledger import Ledger, existing_state
    from kvar.flows.uplift import uplift

    url = existing_state(workspace)
    if url is None:
        return []
    ledger = Ledger(url)
    try:
        goals, entries = ledger.goals(), ledger.entries()
    finally:
        ledger.close()
    return uplift(goals, tables, entries, as_of=tables.observed_until()) if goals and entries else []


def describe_source(sources: Sources) -> str:
    """Where the data came from, for the report's header: the workspace, or the files."""
    if sources.workspace is not None:
        return tr("workspace {name}").format(name=sources.workspace.path.name)
    return ", ".join(Path(load.file).name for load in sources.loads)


@command()
def demo(
    directory: Annotated[
        Path,
        typer.Option("--dir", metavar="FOLDER", help=lazy_tr("where to write the demo data, workspace and report")),
    ] = Path("kvar-demo"),
    customers: Annotated[int, typer.Option(metavar="N", min=50, help=lazy_tr("customers to generate"))] = 2000,
    seed: Annotated[int, typer.Option(metavar="N", help=lazy_tr("random seed"))] = 7,
    currency: Annotated[
        Optional[str],
        typer.Option(
            metavar="CODE", help=lazy_tr("price the business in USD, EUR, SEK, NOK or DKK (default: the locale's)")
        ),
    ] = None,
) -> None:
    """Generate a realistic business, load it into a workspace, print the KPIs and write the report."""
    from kvar.cli.demo import run_demo
    from kvar.data.demo import PRICE_FACTORS

    if currency:
        check_choice("--currency", currency.upper(), tuple(PRICE_FACTORS))
    run_demo(directory, customers=customers, seed=seed, currency=currency.upper() if currency else None)


def _register_model_commands() -> None:
    from kvar.cli.models import (
        churn_causes,
        clv,
        expansion,
        risk,
        sbg,
        segments,
        survival,
    )

    for function in (clv, sbg, segments, survival, risk, expansion):
        command()(function)
    command("churn-causes")(churn_causes)


_register_model_commands()


def _register_export() -> None:
    from kvar.cli.export import export

    command()(export)


_register_export()

flows_app = typer.Typer(
    help=lazy_tr("Retention flows: check a flows file, preview its decisions, send what is due."),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(flows_app, name="flows")


suppress_app = typer.Typer(
    help=lazy_tr("The suppression list: customers who must not get messages."),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(suppress_app, name="suppress")


def _register_flow_commands() -> None:
    from kvar.cli.flows import add, enable, preview, remove, run, status, suppressed, uplift, validate

    for function in (validate, preview, run, status, uplift, enable):
        command(group=flows_app)(function)
    command(group=suppress_app)(add)
    command(group=suppress_app)(remove)
    command("list", group=suppress_app)(suppressed)


_register_flow_commands()
