"""The command line: parsing and printing only; the work happens in kvar.data and kvar.metrics."""

from kvar.cli.app import app

__all__ = ["app"]
