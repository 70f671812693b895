"""The command line: parsing and printing only; the work happens in kvar.data, kvar.metrics and kvar.models."""

from kvar.cli.app import app, main

__all__ = ["app", "main"]
