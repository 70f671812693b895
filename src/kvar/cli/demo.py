"""``kvar demo``: generate a business, load it into a workspace, print the KPIs, write the report."""

from __future__ import annotations

from pathlib import Path

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
    stdout.print("\n" + tr("workspace: {path}").format(path=workspace_path))
    stdout.print(tr("report:    {path}").format(path=directory / "report.html"))
    stdout.print(
        tr("try: {command}").format(
            command=f"kvar retention --workspace {workspace_path} --period quarter --by channel"
        )
    )
