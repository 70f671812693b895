"""``kvar flows …``: check a flows file, preview its decisions, send what is due (docs/flows.md)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from kvar.cli.options import AsOfOption, CsvOption, JsonOption
from kvar.cli.output import emit, print_json, stage, stderr
from kvar.errors import ParameterError
from kvar.i18n import lazy_tr, tr

FlowsFile = Annotated[Path, typer.Argument(metavar="FILE", help=lazy_tr("a flows file (YAML; docs/flows.md)"))]


def validate(file: FlowsFile, as_json: JsonOption = False) -> None:
    """Check a flows file: its YAML, the published schema, channels, segments and templates; every problem with its line."""
    from kvar.flows.spec import FlowFileError, read_flows

    parameters = {"file": str(file)}
    try:
        flows = read_flows(file)
    except FlowFileError as error:
        problems = [{"line": p.line, "path": p.path, "message": p.message} for p in error.problems]
        if as_json:
            print_json("flows validate", parameters, [], valid=False, problems=problems)
        for problem in error.problems:
            stderr.print(problem.shown(file), highlight=False, markup=False)
        raise typer.Exit(2) from None
    rows = [_described(flow) for flow in flows.flows]
    if as_json:
        print_json("flows validate", parameters, rows, valid=True, problems=[])
        return
    emit(
        "flows validate",
        parameters,
        rows,
        False,
        title=tr("{file}: {count} flows, valid").format(file=file, count=len(rows)),
    )


def _described(flow: Any) -> dict[str, Any]:
    return {
        "flow": flow.name,
        "kind": flow.kind,
        "trigger": flow.trigger,
        "trigger_value": flow.trigger_value,
        "audience": list(flow.audience),
        "holdout": flow.holdout,
        "goal": f"{flow.goal[0]} {flow.goal[1].days}d" if flow.goal else None,
        "steps": [step.kind if step.kind != "wait" else f"wait {step.wait.days}d" for step in flow.steps],
    }


def preview(
    file: FlowsFile,
    workspace: Annotated[Path, typer.Option(metavar="FILE", help=lazy_tr("workspace file (a kvar DuckDB database)"))],
    as_of: AsOfOption = None,
    since: Annotated[
        Optional[dt.datetime],
        typer.Option(
            metavar="TIME", help=lazy_tr("decide the occurrences from this instant on (default: a day before --as-of)")
        ),
    ] = None,
    state: StateOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """List, without sending, every message the flows decide: flow, step, customer, channel, when and why."""
    from kvar.flows.decide import decide
    from kvar.flows.ledger import Ledger, existing_state
    from kvar.flows.spec import read_flows
    from kvar.flows.suppressions import Suppressions, suppressions_path

    if since is not None and as_of is not None and since >= as_of:  # before anything is read
        raise ParameterError(tr("--since must be before --as-of"))
    flows = read_flows(file)
    listed = suppressions_path(workspace)
    # What a worker already recorded (holdout assignments, decisions) wins; a preview stores nothing.
    url = existing_state(workspace, state)
    ledger = Ledger(url) if url else None
    try:
        with _tables(workspace) as tables:
            moment = as_of or tables.observed_until()
            with stage(tr("deciding flows")):
                decided = decide(
                    flows,
                    tables,
                    as_of=moment,
                    since=since,
                    suppressions=Suppressions(listed) if listed.exists() else None,
                    ledger=ledger,
                )
    finally:
        if ledger is not None:
            ledger.close()
    rows = decided.rows
    for name, reason in decided.skipped.items():
        stderr.print(
            tr("flow {name} not decided: {reason}").format(name=name, reason=reason), highlight=False, markup=False
        )
    parameters = {"file": str(file), "workspace": str(workspace), "as_of": moment, "since": since}
    counts = Counter(row["decision"] for row in rows)
    emit(
        "flows preview",
        parameters,
        rows,
        as_json,
        title=tr(
            "{count} messages decided: {send} to send, {held} held out, {suppressed} suppressed, {capped} over a cap"
        ).format(
            count=len(rows),
            send=counts["send"],
            held=counts["held_out"],
            suppressed=counts["suppressed"],
            capped=counts["capped"],
        ),
        as_csv=as_csv,
        shown=("flow", "step", "customer_id", "channel", "scheduled_at", "decision", "reason"),
        **({"skipped": decided.skipped} if as_json else {}),
    )


StateOption = Annotated[
    Optional[str],
    typer.Option(
        metavar="URL",
        help=lazy_tr(
            "the worker's state database (default: an SQLite file beside the workspace; postgresql://… for several workers)"
        ),
    ),
]
WorkspaceOption = Annotated[Path, typer.Option(metavar="FILE", help=lazy_tr("workspace file (a kvar DuckDB database)"))]


def run(
    file: FlowsFile,
    workspace: WorkspaceOption,
    once: Annotated[bool, typer.Option("--once", help=lazy_tr("decide, send what is due, and exit"))] = False,
    loop: Annotated[
        bool, typer.Option("--loop", help=lazy_tr("keep running: decide and send at the current time, every --every"))
    ] = False,
    every: Annotated[
        int, typer.Option(metavar="SECONDS", min=1, help=lazy_tr("seconds between runs with --loop"))
    ] = 60,
    as_of: AsOfOption = None,
    since: Annotated[
        Optional[dt.datetime],
        typer.Option(
            metavar="TIME",
            help=lazy_tr("decide the occurrences from this instant on (default: where the previous run stopped)"),
        ),
    ] = None,
    state: StateOption = None,
    worker: Annotated[
        str,
        typer.Option(
            metavar="NAME", help=lazy_tr("this worker's name; a restarted worker resumes the messages of its name")
        ),
    ] = "local",
    as_json: JsonOption = False,
) -> None:
    """Send what the flows decide, durably (DBOS): every due message once, whatever crashes or reruns."""
    import signal
    import threading

    from kvar.flows.ledger import Ledger, state_url
    from kvar.flows.spec import read_flows
    from kvar.flows.suppressions import suppressions_path
    from kvar.flows.worker import durable, run_loop, run_once

    if once == loop:
        raise ParameterError(tr("kvar flows run needs one of --once and --loop"))
    if loop and (as_of is not None or since is not None):
        raise ParameterError(tr("--loop decides at the current time: --as-of and --since go with --once"))
    if since is not None and as_of is not None and since >= as_of:
        raise ParameterError(tr("--since must be before --as-of"))
    flows = read_flows(file)
    url = state or state_url(workspace)
    parameters = {"file": str(file), "workspace": str(workspace)}
    ledger = Ledger(url)
    try:
        if once:
            with _tables(workspace) as tables:
                moment = as_of or tables.observed_until()
                with stage(tr("sending what is due")), durable(url, executor=worker):
                    summary = run_once(
                        flows, tables, ledger, as_of=moment, since=since, suppressed=suppressions_path(workspace)
                    )
            emit("flows run", parameters | {"as_of": moment}, summary.rows, as_json)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())

        def report(summary: Any) -> None:
            emit("flows run", parameters | {"as_of": summary.as_of}, summary.rows, as_json)

        with durable(url, executor=worker, drain_seconds=10):
            try:
                run_loop(
                    file,
                    lambda: _tables(workspace),
                    ledger,
                    suppressed=suppressions_path(workspace),
                    every=dt.timedelta(seconds=every),
                    stop=stop,
                    report=report,
                )
            except KeyboardInterrupt:
                stop.set()
    finally:
        ledger.close()


@contextmanager
def _tables(workspace: Path) -> Iterator[Any]:
    """The workspace's tables, read from the file for the duration of the block."""
    from kvar.data.workspace import Workspace
    from kvar.flows.triggers import Tables

    with Workspace.open(workspace, read_only=True) as space:
        names = ("transactions", "subscriptions", "feedback", "payments", "customers", "events")
        yield Tables(**{name: space.table(name) for name in names if space.has(name)})


def status(
    workspace: WorkspaceOption, state: StateOption = None, as_json: JsonOption = False, as_csv: CsvOption = False
) -> None:
    """Per flow: occurrences entered, messages scheduled, deferred, sent, suppressed, failed, dead, and customers in holdout."""
    from kvar.flows.ledger import Ledger, existing_state

    url = existing_state(workspace, state)
    if url is None:
        rows: list[dict[str, Any]] = []
    else:
        ledger = Ledger(url)
        try:
            rows = ledger.status()
        finally:
            ledger.close()
    emit(
        "flows status",
        {"workspace": str(workspace)},
        rows,
        as_json,
        as_csv=as_csv,
        title=tr("flows of {workspace}").format(workspace=workspace),
    )


def uplift(
    workspace: WorkspaceOption,
    state: StateOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Did each flow work? Goal rate of the customers treated against those held out, the uplift with its 95 % interval, the minimum detectable effect and the revenue it implies."""
    from kvar.flows.ledger import Ledger, existing_state
    from kvar.flows.uplift import uplift as measured

    url = existing_state(workspace, state)
    if url is None:
        raise ParameterError(
            tr("{workspace}: no flows have run on this workspace yet (kvar flows run)").format(workspace=workspace)
        )
    ledger = Ledger(url)
    try:
        goals, entries = ledger.goals(), ledger.entries()
    finally:
        ledger.close()
    with _tables(workspace) as tables:
        moment = as_of or tables.observed_until()
        with stage(tr("measuring uplift")):
            rows = measured(goals, tables, entries, as_of=moment)
    emit(
        "flows uplift",
        {"workspace": str(workspace), "as_of": moment},
        rows,
        as_json,
        as_csv=as_csv,
        title=tr(
            "Uplift per flow: treated against held out, entries whose goal window has ended by {at:%Y-%m-%d}"
        ).format(at=moment),
        shown=(
            "flow",
            "goal",
            "treated",
            "held_out",
            "rate_treated",
            "rate_held_out",
            "uplift",
            "uplift_low",
            "uplift_high",
            "minimum_detectable_effect",
            "implied_revenue",
        ),
    )


SuppressWorkspace = Annotated[
    Path, typer.Option("--workspace", metavar="FILE", help=lazy_tr("workspace file (a kvar DuckDB database)"))
]
ChannelOption = Annotated[
    str, typer.Option(metavar="CHANNEL", help=lazy_tr("a channel of the flows file, or * for all"))
]


def add(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help=lazy_tr("the customer_id"))],
    workspace: SuppressWorkspace,
    reason: Annotated[
        str,
        typer.Option(metavar="REASON", help=lazy_tr("unsubscribed, hard_bounce, complaint, manual or erased")),
    ] = "manual",
    channel: ChannelOption = "*",
) -> None:
    """Stop messages to a customer: unsubscribed stops marketing only, every other reason stops all."""
    from kvar.flows.suppressions import Suppressions, suppressions_path

    Suppressions(suppressions_path(workspace)).add(customer, reason, channel)
    stderr.print(
        tr("{customer} suppressed on {channel}: {reason}").format(customer=customer, channel=channel, reason=reason),
        highlight=False,
        markup=False,
    )


def remove(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help=lazy_tr("the customer_id"))],
    workspace: SuppressWorkspace,
    channel: ChannelOption = "*",
) -> None:
    """Lift a customer's suppression on a channel."""
    from kvar.flows.suppressions import Suppressions, suppressions_path

    if not Suppressions(suppressions_path(workspace)).remove(customer, channel):
        raise ParameterError(tr("{customer} is not suppressed on {channel}").format(customer=customer, channel=channel))


def enable(
    channel: Annotated[str, typer.Argument(metavar="CHANNEL", help=lazy_tr("a channel of the flows file"))],
    workspace: SuppressWorkspace,
) -> None:
    """Send on a channel again after its webhook answered 410 Gone and kvar disabled it."""
    from kvar.flows.suppressions import Suppressions, suppressions_path

    if not Suppressions(suppressions_path(workspace)).enable_channel(channel):
        raise ParameterError(tr("channel {channel} is not disabled").format(channel=channel))


def suppressed(workspace: SuppressWorkspace, as_json: JsonOption = False, as_csv: CsvOption = False) -> None:
    """The suppression list: customer, channel, reason and when it was added (UTC)."""
    from kvar.flows.suppressions import Suppressions, suppressions_path

    rows = Suppressions(suppressions_path(workspace)).rows()
    emit("suppress list", {"workspace": str(workspace)}, rows, as_json, as_csv=as_csv)
