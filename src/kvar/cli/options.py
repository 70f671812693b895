"""Options shared by the commands, declared once, and checked before any file is read.

:func:`reads_data` gives every command that reads tables the same loading options (``--workspace``,
``--map``, ``--encoding``, ``--timezone``, ``--date-format``, ``--decimal``, ``--thousands``, ``--fx``, ``--base-currency``, ``--rejects``)
and hands the command one :class:`~kvar.cli.sources.Sources` built from them.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, get_type_hints

import duckdb
import typer

from kvar.cli.output import progress_quiet
from kvar.cli.sources import Sources
from kvar.data.contracts import CONTRACTS
from kvar.data.formats import number_formats_allowed
from kvar.data.loading import read_fx_table
from kvar.data.mapping import parse_map_options
from kvar.data.text_files import codec_name
from kvar.data.validation import LoadContext
from kvar.data.workspace import Workspace
from kvar.errors import FileFormatError, ParameterError
from kvar.i18n import check_locale, lazy, lazy_tr, tr, use_locale

if TYPE_CHECKING:
    from kvar.metrics.definitions import Definition
from kvar.metrics.periods import check_period, window_offset

JsonOption = Annotated[bool, typer.Option("--json", help=lazy_tr("print one JSON object with a rows list on stdout"))]
CsvOption = Annotated[bool, typer.Option("--csv", help=lazy_tr("print the rows as CSV on stdout (all columns)"))]
PeriodOption = Annotated[str, typer.Option(metavar="PERIOD", help=lazy_tr("day, week, month, quarter or year"))]
ByOption = Annotated[
    Optional[str],
    typer.Option(
        metavar="COLUMN", help=lazy_tr("customer attribute to split by: a column of the data or of the customers table")
    ),
]
AsOfOption = Annotated[
    Optional[dt.datetime],
    typer.Option(
        metavar="TIME",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        help=lazy_tr("measure up to this instant, e.g. 2024-07-01 (default: the end of the last day seen)"),
    ),
]

BoundaryOption = Annotated[
    str,
    typer.Option(
        metavar="SIDE",
        help=lazy_tr(
            "side of a period boundary on which a customer starting or ending exactly there counts: before (the state just "
            "before the instant) or at (the state at the instant, as in Fighting Churn with Data)"
        ),
    ),
]
DefinitionOption = Annotated[
    Optional[str],
    typer.Option(
        metavar="NAME",
        help=lazy_tr(
            "count churn as a named definition does: kvar, fightchurn, chartmogul, baremetrics, profitwell, stripe "
            "or one of --define (sets the boundary side; see kvar reconcile)"
        ),
    ),
]
DefineOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--define",
        metavar="NAME=BASE,OPTION=VALUE",
        help=lazy_tr(
            "a churn definition of your own: a named one with options changed, e.g. "
            "monthly=stripe,window=calendar (options: boundary, window, unit, recognition, joined_and_left, "
            "returns); repeat for more"
        ),
    ),
]


def chosen_definition(
    boundary: str, definition: str | None, defines: list[str] | None
) -> tuple[str, Definition | None]:
    """The boundary side to measure on and the definition chosen: ``--boundary``'s side, or the
    ``--definition``'s (a preset or one of ``--define``), not both."""
    from kvar.metrics.activity import BOUNDARIES
    from kvar.metrics.definitions import defined, definitions_named

    check_choice("--boundary", boundary, BOUNDARIES)
    extra = defined(defines or [])
    if definition is None:
        if extra:
            raise ParameterError(tr("--define: name the definition to use with --definition NAME"))
        return boundary, None
    if boundary != "before":
        raise ParameterError(tr("give --definition or --boundary, not both"))
    (chosen,) = definitions_named([definition], "--definition", extra)
    return chosen.boundary, chosen


Inactivity = Annotated[
    str,
    typer.Option(
        metavar="WINDOW",
        help=lazy_tr("non-contractual: a customer is active while the last purchase is this recent: 90d, 12w, 3m"),
    ),
]
Grace = Annotated[
    Optional[str],
    typer.Option(metavar="WINDOW", help=lazy_tr("contractual: grace period after a subscription ends, e.g. 14d")),
]
Frequency = Annotated[
    str, typer.Option(metavar="FREQ", help=lazy_tr("bucket transactions by D (day), W (week) or M (month)"))
]
Unit = Annotated[
    Optional[str],
    typer.Option(
        metavar="UNIT", help=lazy_tr("unit of recency and T (and of the model): D or W (default: the --freq)")
    ),
]


def table_help(table: str, purpose: str = "") -> str:
    """Help text for a ``--TABLE FILE`` option: what it is for (marked for translation) and the columns the file needs."""
    contract = CONTRACTS[table]
    required = ", ".join(column.name for column in contract.columns if column.required)
    optional = ", ".join(column.name for column in contract.columns if not column.required)
    text = tr("CSV or Parquet {table} file, or a folder or quoted glob of them, with {columns}").format(
        table=table, columns=required
    )
    if optional:
        text += " " + tr("(optional: {columns})").format(columns=optional)
    return f"{tr(purpose)}; {text}" if purpose else text


def TableFile(table: str, purpose: str = "") -> Any:  # noqa: N802 - reads like the type it declares
    """The ``Annotated`` type of an optional ``--TABLE FILE`` option (``purpose`` given with :func:`marked`)."""
    return Annotated[Optional[Path], typer.Option(metavar="FILE", help=lazy(table_help, table, purpose))]


def check_window(option: str, window: str | None) -> None:
    """Raise :class:`ParameterError` naming ``option`` unless ``window`` reads like 90d, 12w, 3m or 1y."""
    if window is not None:
        try:
            window_offset(window)
        except ParameterError:
            raise ParameterError(
                tr("{option} {window!r}: expected a number and a unit d, w, m or y, e.g. 90d, 12w, 3m, 1y").format(
                    option=option, window=window
                )
            ) from None


def check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ParameterError(
            tr("{option} {value!r}: expected one of {choices}").format(
                option=option, value=value, choices=", ".join(choices)
            )
        )


def check_frequency(freq: str, unit: str | None) -> tuple[str, str]:
    """``--freq`` and ``--unit`` upper-cased and checked."""
    freq, unit = freq.upper(), (unit or freq).upper()
    check_choice("--freq", freq, ("D", "W", "M"))
    check_choice("--unit", unit, ("D", "W", "M"))
    return freq, unit


def check_periods(**options: str) -> None:
    """Check ``--period``-like options (``name=value``) before any data is read."""
    for name, value in options.items():
        try:
            check_period(value)
        except ParameterError:
            raise ParameterError(
                tr("{option} {value!r}: expected one of day, week, month, quarter, year").format(
                    option="--" + name.replace("_", "-"), value=value
                )
            ) from None


def check_timezone(timezone: str) -> None:
    """The time zone must be one the engine knows (IANA names such as Europe/Stockholm, or UTC). The
    default, UTC, is known without asking the engine (which costs a command 20 ms)."""
    if timezone == "UTC":
        return
    known = duckdb.execute("SELECT 1 FROM pg_timezone_names() WHERE name = ?", [timezone]).fetchall()
    if not known:
        raise ParameterError(
            tr(
                "--timezone {timezone!r}: not a time zone name; use an IANA name such as Europe/Stockholm, Europe/Oslo or UTC"
            ).format(timezone=timezone)
        )


_DATE_DIRECTIVES = set("aAwdbBhmyYHIpMSfzZjUWGVugcxX%") | {"-d", "-m", "-H", "-I", "-M", "-S", "-j", "-y"}


def check_date_format(date_format: str | None) -> None:
    """A strptime format made only of directives the engine knows, with at least one of them."""
    if date_format is None:
        return
    found, index = [], 0
    while (index := date_format.find("%", index)) != -1:
        directive = (
            date_format[index + 1 : index + 3]
            if date_format[index + 1 : index + 2] == "-"
            else date_format[index + 1 : index + 2]
        )
        if directive not in _DATE_DIRECTIVES:
            raise ParameterError(
                tr(
                    "--date-format {date_format!r}: %{directive} is not a date directive; use e.g. %d.%m.%Y or %m/%d/%Y %H:%M"
                ).format(date_format=date_format, directive=directive)
            )
        found.append(directive)
        index += 1 + len(directive)
    if not [directive for directive in found if directive != "%"]:
        raise ParameterError(
            tr("--date-format {date_format!r}: no date directive; use e.g. %d.%m.%Y or %m/%d/%Y %H:%M").format(
                date_format=date_format
            )
        )


def check_output_file(path: Path, option: str = "--output") -> None:
    """Fail before any work when ``path`` cannot be written: a folder, a missing folder, no permission."""
    if path.is_dir():
        raise ParameterError(
            tr("{option} {path}: is a folder; give a file name, e.g. {value}").format(
                option=option, path=path, value=path / "report.html"
            )
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ParameterError(
            tr("{option} {path}: the folder {folder} does not exist; create it first").format(
                option=option, path=path, folder=folder
            )
        )
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ParameterError(
            tr("{option} {path}: not allowed to write there; choose another place").format(option=option, path=path)
        )


def loading_context(
    timezone: str,
    date_format: str | None,
    encoding: str | None,
    fx: Path | None,
    base_currency: str | None,
    decimal: str | None = None,
    thousands: str | None = None,
) -> LoadContext:
    """A checked :class:`LoadContext` from the loading options."""
    check_timezone(timezone)
    check_date_format(date_format)
    number_formats_allowed(decimal, thousands)
    if encoding:
        codec_name(encoding)
    try:
        rates = read_fx_table(fx) if fx else None
    except FileFormatError as error:
        raise ParameterError(f"--fx {error}") from None
    return LoadContext(
        timezone=timezone,
        date_format=date_format,
        decimal=decimal,
        thousands=thousands,
        encoding=encoding,
        fx_rates=rates,
        base_currency=base_currency.upper() if base_currency else None,
    )


_LOADING_OPTIONS: dict[str, tuple[Any, Any]] = {
    "mapping": (
        Annotated[
            list[str],
            typer.Option(
                "--map",
                metavar="[TABLE:]CANONICAL=YOURS",
                help=(
                    lazy_tr(
                        "rename a column: customer_id=CustomerID; only in one table's file: customers:customer_id=account_id; a product of two columns: amount=Quantity*UnitPrice (repeatable)"
                    )
                ),
            ),
        ],
        [],
    ),
    "encoding": (
        Annotated[
            Optional[str],
            typer.Option(
                metavar="NAME",
                help=lazy_tr("text encoding of the files, e.g. utf-8, cp1252, utf-16 (default: detected)"),
            ),
        ],
        None,
    ),
    "timezone": (
        Annotated[
            str,
            typer.Option(metavar="ZONE", help=lazy_tr("time zone of times without an offset, e.g. Europe/Stockholm")),
        ],
        "UTC",
    ),
    "date_format": (
        Annotated[
            Optional[str],
            typer.Option(
                metavar="FORMAT", help=lazy_tr("strptime format of dates that are not ISO 8601, e.g. %d.%m.%Y")
            ),
        ],
        None,
    ),
    "decimal": (
        Annotated[
            Optional[str],
            typer.Option(
                metavar="MARK", help=lazy_tr("decimal mark of numbers: . or , (default: detected per column)")
            ),
        ],
        None,
    ),
    "thousands": (
        Annotated[
            Optional[str],
            typer.Option(
                metavar="SEP",
                help=lazy_tr("thousands grouping of numbers: space, . , , or none (default: detected per column)"),
            ),
        ],
        None,
    ),
    "fx": (
        Annotated[
            Optional[Path],
            typer.Option(metavar="FILE", help=lazy_tr("FX table (CSV: currency,rate) to convert mixed currencies")),
        ],
        None,
    ),
    "base_currency": (
        Annotated[
            Optional[str],
            typer.Option(metavar="CODE", help=lazy_tr("the currency the FX rates convert into, e.g. SEK")),
        ],
        None,
    ),
    "rejects": (
        Annotated[
            Optional[Path], typer.Option(metavar="FILE", help=lazy_tr("also write the rejected rows to this CSV file"))
        ],
        None,
    ),
}
_WORKSPACE = (
    Annotated[
        Optional[Path],
        typer.Option(
            metavar="FILE", help=lazy_tr("read tables from this workspace (a kvar DuckDB file) instead of files")
        ),
    ],
    None,
)

_ENGINE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "engine": (
        Annotated[
            str,
            typer.Option(
                metavar="ENGINE",
                help=lazy_tr("where the work runs: duckdb (embedded, the default) or spark (files read by Spark)"),
            ),
        ],
        "duckdb",
    ),
    "spark_master": (
        Annotated[
            Optional[str],
            typer.Option(
                metavar="URL",
                help=lazy_tr(
                    "with --engine spark: local[*], a cluster master (spark://host:7077, yarn) or Spark Connect (sc://host:15002); default: as spark-submit set it, else local[*]"
                ),
            ),
        ],
        None,
    ),
}


LocaleOption = Annotated[
    Optional[str],
    typer.Option(
        "--locale",
        metavar="LANG",
        help=lazy_tr(
            "language and number format of tables, CSV and the report: sv, nb, da, fi or en (default: from the environment, KVAR_LOCALE or LANG)"
        ),
    ),
]


def extend_signature(
    command: Callable[..., None], wrapper: Callable[..., None], added: dict[str, tuple[Any, Any]]
) -> Callable[..., None]:
    """Give ``wrapper`` the signature Typer reads: ``command``'s own parameters (without ``sources``)
    followed by the keyword options ``added`` (name: (annotation, default))."""
    signature = inspect.signature(command, eval_str=True)
    hints = get_type_hints(command, include_extras=True)
    own = [parameter for name, parameter in signature.parameters.items() if name != "sources"]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in added.items()
    ]
    functools.update_wrapper(wrapper, command)
    wrapper.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{name: hint for name, hint in hints.items() if name != "sources"},
        **{parameter.name: parameter.annotation for parameter in extra},
    }
    delattr(wrapper, "__wrapped__")  # Typer must read the new signature, not the command's own
    return wrapper


def speaks_locale(command: Callable[..., None]) -> Callable[..., None]:
    """Add ``--locale`` to ``command`` and make that locale (or the environment's) active while it runs.

    With ``--json`` the locale is English whatever is asked: a JSON document, its notes and texts
    included, never changes with the locale, so scripts may rely on it; and no progress is shown.
    """

    def wrapper(*args: Any, locale: str | None = None, **kwargs: Any) -> None:
        if locale:  # else the one `kvar --locale` or the environment set (see kvar.cli.app.main_options)
            check_locale(locale)  # checked even under --json
        as_json = bool(kwargs.get("as_json"))
        with use_locale("en" if as_json else locale), progress_quiet(as_json):
            command(*args, **kwargs)

    return extend_signature(command, wrapper, {"locale": (LocaleOption, None)})


def reads_data(command: Callable[..., None]) -> Callable[..., None]:
    """Add the loading options to ``command``'s signature and call it with ``sources=`` built from them.

    The options are checked (time zone, date format, encoding, FX table, ``--map`` syntax) before the
    command runs, and so before any file is read.
    """
    own_workspace = "workspace" in inspect.signature(command).parameters
    shared = (
        dict(_LOADING_OPTIONS) if own_workspace else dict(_LOADING_OPTIONS, workspace=_WORKSPACE, **_ENGINE_OPTIONS)
    )

    def wrapper(**kwargs: Any) -> None:
        options = {name: kwargs.pop(name) for name in shared}
        if own_workspace:
            options["workspace"] = kwargs["workspace"]
        context = loading_context(
            options["timezone"],
            options["date_format"],
            options["encoding"],
            options["fx"],
            options["base_currency"],
            options["decimal"],
            options["thousands"],
        )
        mappings = parse_map_options(options["mapping"], CONTRACTS)
        rejects: Path | None = options["rejects"]
        if rejects is not None:
            check_output_file(rejects, "--rejects")
        engine = options.get("engine", "duckdb")
        check_choice("--engine", engine, ("duckdb", "spark"))
        if options.get("spark_master") and engine != "spark":
            raise ParameterError(tr("--spark-master goes with --engine spark"))
        if engine == "spark" and options["workspace"]:
            raise ParameterError(
                tr("--engine spark reads files (--transactions FILE, a folder or a glob); a workspace is DuckDB's")
            )
        workspace = Workspace.open(options["workspace"]) if options["workspace"] else None
        sources = Sources(
            mappings=mappings,
            context=context,
            rejects_path=rejects,
            workspace=workspace,
            engine=engine,
            spark_master=options.get("spark_master"),
        )
        try:
            command(**kwargs, sources=sources)
        finally:
            sources.close()

    return extend_signature(command, wrapper, shared)
