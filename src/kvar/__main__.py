"""``python -m kvar`` runs the command line."""

from kvar.cli import app

app(prog_name="kvar")
