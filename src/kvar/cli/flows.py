"""``kvar flows …``: retention flows. So far ``validate``; deciding and sending come next (docs/flows.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kvar.cli.options import JsonOption
from kvar.cli.output import emit, print_json, stderr
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
