"""``kvar demo``: generate a business, load it into a workspace, print the KPIs, write the report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from kvar.cli.output import print_table, stderr, stdout
from kvar.cli.sources import report_load
from kvar.data.demo import generate
from kvar.data.workspace import Workspace
from kvar.i18n import active_locale, tr
from kvar.i18n.formatting import number
from kvar.report.html import ReportInputs, write_report, yearly_basis
from kvar.report.kpis import tiles

_TABLES = ("customers", "subscriptions", "transactions", "events", "feedback", "payments")
#: The currency the demo business prices in, by locale: a Swedish reader sees SEK.
LOCAL_CURRENCY = {"sv": "SEK", "nb": "NOK", "da": "DKK", "fi": "EUR", "en": "USD"}


def run_demo(directory: Path, *, customers: int, seed: int, currency: str | None = None) -> None:
    """Generate the business (priced in ``currency``, default the locale's), load it, print the KPIs, write the report."""
    currency = currency or LOCAL_CURRENCY[active_locale()]
    steps = 3 + len(_TABLES)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    workspace_path = directory / "demo.duckdb"
    if workspace_path.exists():
        workspace_path.unlink()
    loads = []
    with progress:
        task = progress.add_task(tr("generating a business …"), total=steps)
        paths = generate(customers=customers, seed=seed, currency=currency).write(directory / "data")
        progress.advance(task)
        with Workspace.create(workspace_path) as space:
            for name in _TABLES:
                progress.update(task, description=tr("loading {table} …").format(table=name))
                loads.append(space.load(name, paths[name]))
                progress.advance(task)
            progress.update(task, description=tr("computing metrics and writing the report …"))
            inputs = ReportInputs(
                transactions=space.table("transactions"),
                subscriptions=space.table("subscriptions"),
                events=space.table("events"),
                feedback=space.table("feedback"),
                payments=space.table("payments"),
                customers=space.table("customers"),
                industry="software",
                source=tr(
                    "kvar demo: a generated subscription business ({customers} customers, seed {seed}), workspace {workspace}"
                ).format(customers=number(customers), seed=seed, workspace=workspace_path.name),
            )
            progress.update(task, description=tr("running the flows against a local mail server …"))
            sent = run_demo_flows(directory, workspace_path, inputs)
            inputs.uplift = simulated_uplift(directory, seed)
            data = write_report(inputs, directory / "report.html")
            progress.advance(task, 2)
    for result in loads:
        report_load(result)
    stdout.print()
    basis = yearly_basis(data) if data.yearly_span else ""
    print_table(
        tr("Key figures"),
        [{"metric": label, "value": value, "note": note} for label, value, note in tiles(data, basis)],
    )
    print_table(
        tr("Retention per month (subscriptions)"),
        [
            {
                key: row[key]
                for key in (
                    "period_start",
                    "customers_start",
                    "new_customers",
                    "churned",
                    "customers_end",
                    "retention_rate",
                )
            }
            for row in data.retention[-6:]
        ],
    )
    print_table(
        tr("Flows sent to the local mail server ({outbox})").format(outbox=directory / "outbox"),
        [
            {key: row[key] for key in ("flow", "due", "delivered", "cancelled", "suppressed", "dead")}
            for row in sent.rows
        ],
    )
    print_table(
        tr("Did the flows work? (a simulated win-back history with a true uplift of {effect} points)").format(
            effect=number(100 * SIMULATED_EFFECT, 1)
        ),
        [
            {
                "flow": row["flow"],
                "treated": row["treated"],
                "held_out": row["held_out"],
                "uplift": None if row["uplift"] is None else 100 * row["uplift"],
                "uplift_low": None if row["uplift_low"] is None else 100 * row["uplift_low"],
                "uplift_high": None if row["uplift_high"] is None else 100 * row["uplift_high"],
            }
            for row in inputs.uplift
        ],
    )
    stdout.print("\n" + tr("workspace: {path}").format(path=workspace_path))
    stdout.print(tr("report:    {path}").format(path=directory / "report.html"))
    stdout.print(
        tr("try: {command}").format(
            command=f"kvar retention --workspace {workspace_path} --period quarter --by channel"
        )
    )


#: The true effect of the simulated win-back flow, in rate units (+5 points of customers buying within 30 days).
SIMULATED_EFFECT = 0.05


def run_demo_flows(directory: Path, workspace: Path, tables: Any) -> Any:
    """Decide the demo's flows (``kvar/flows/demo``) over the last week of its data and send what is due to a
    mail server started here on 127.0.0.1, which writes every message it gets into ``directory/outbox``
    (a Maildir); the worker's state goes beside the workspace, as ``kvar flows run`` keeps it."""
    import mailbox
    import shutil
    import socket
    from importlib import resources

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    from kvar.flows.ledger import Ledger, state_path, state_url
    from kvar.flows.spec import read_flows
    from kvar.flows.suppressions import suppressions_path
    from kvar.flows.worker import durable, run_once

    for stale in (state_path(workspace), suppressions_path(workspace), directory / "outbox"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    flows_dir = directory / "flows"
    flows_dir.mkdir(parents=True, exist_ok=True)
    packaged = resources.files("kvar.flows").joinpath("demo")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for item in packaged.iterdir():
        text = item.read_text(encoding="utf-8")
        if item.name == "flows.yaml":
            text = text.replace("smtp://127.0.0.1:2525", f"smtp://127.0.0.1:{port}")
        (flows_dir / item.name).write_text(text, encoding="utf-8")
    mailbox.Maildir(directory / "outbox", create=True)
    server = Controller(Mailbox(directory / "outbox"), hostname="127.0.0.1", port=port)
    server.start()
    url = state_url(workspace)
    ledger = Ledger(url)
    try:
        as_of = tables.observed_until()
        with durable(url):
            return run_once(
                read_flows(flows_dir / "flows.yaml"),
                tables,
                ledger,
                as_of=as_of,
                since=as_of - dt.timedelta(days=7),
                suppressed=suppressions_path(workspace),
            )
    finally:
        ledger.close()
        server.stop()


def simulated_uplift(directory: Path, seed: int) -> list[dict[str, Any]]:
    """The uplift of a simulated win-back flow with a known effect (:func:`kvar.data.flow_history.simulate_flow_history`):
    its purchases in ``directory/winback.duckdb`` and its entries in the worker's ledger beside it, so that
    ``kvar flows uplift --workspace`` on that file measures it again."""
    from kvar.data.flow_history import simulate_flow_history
    from kvar.flows.ledger import Ledger, state_path, state_url
    from kvar.flows.triggers import Tables
    from kvar.flows.uplift import uplift

    history = simulate_flow_history(
        customers=4000, holdout=0.2, base_rate=0.12, effect=SIMULATED_EFFECT, seed=seed, flow="winback_simulated"
    )
    path = directory / "winback.duckdb"
    for stale in (path, state_path(path)):
        if stale.exists():
            stale.unlink()
    csv = directory / "data" / "winback_transactions.csv"
    with csv.open("w", encoding="utf-8") as handle:
        handle.write("transaction_id,customer_id,occurred_at,amount\n")
        for row in history.purchases:
            handle.write(
                f"{row['transaction_id']},{row['customer_id']},{row['occurred_at']:%Y-%m-%d %H:%M:%S},{row['amount']}\n"
            )
    ledger = Ledger(state_url(path))
    try:
        ledger.record_history(
            history.flow, history.entries, ("purchase_within", dt.timedelta(days=history.window_days))
        )
        goals, entries = ledger.goals(), ledger.entries()
    finally:
        ledger.close()
    with Workspace.create(path) as space:
        space.load("transactions", csv)
        tables = Tables(transactions=space.table("transactions"))
        return uplift(goals, tables, entries, as_of=tables.observed_until())
