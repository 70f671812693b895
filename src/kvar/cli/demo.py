"""``kvar demo``: generate a business, load it into a workspace, print the KPIs, write the report."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kvar.cli.output import print_table, stderr, stdout
from kvar.cli.sources import report_load
from kvar.data.demo import generate
from kvar.data.workspace import Workspace
from kvar.report.html import ReportInputs, write_report

_TABLES = ("customers", "subscriptions", "transactions", "events", "feedback", "payments")


def run_demo(directory: Path, *, customers: int, seed: int) -> None:
    steps = 3 + len(_TABLES)
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=stderr, transient=True)
    workspace_path = directory / "demo.duckdb"
    if workspace_path.exists():
        workspace_path.unlink()
    loads = []
    with progress:
        task = progress.add_task("generating a business …", total=steps)
        paths = generate(customers=customers, seed=seed).write(directory / "data")
        progress.advance(task)
        with Workspace.create(workspace_path) as space:
            for name in _TABLES:
                progress.update(task, description=f"loading {name} …")
                loads.append(space.load(name, paths[name]))
                progress.advance(task)
            progress.update(task, description="computing metrics and writing the report …")
            inputs = ReportInputs(
                transactions=space.table("transactions"), subscriptions=space.table("subscriptions"),
                events=space.table("events"), feedback=space.table("feedback"), payments=space.table("payments"),
                customers=space.table("customers"), industry="software",
                source=f"kvar demo: a generated subscription business ({customers:,} customers, seed {seed}), workspace {workspace_path.name}",
            )
            data = write_report(inputs, directory / "report.html")
            progress.advance(task, 2)
    for result in loads:
        report_load(result)
    stdout.print()
    print_table("Key figures", [{"metric": label, "value": value, "note": note} for label, value, note in data.tiles])
    print_table("Retention per month (subscriptions)", [
        {key: row[key] for key in ("period_start", "customers_start", "new_customers", "churned", "customers_end", "retention_rate")}
        for row in data.retention[-6:]
    ])
    stdout.print(f"\nworkspace: {workspace_path}\nreport:    {directory / 'report.html'}")
    stdout.print(f"try: kvar retention --workspace {workspace_path} --period quarter --by channel")
