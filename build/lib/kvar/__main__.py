"""``python -m kvar`` runs the command line."""

from kvar.cli import main

main()
