"""Act: retention flows described as data (channels, policies, flows), decided in the engine, sent durably.

This layer sits on the workspace, metrics and models: :func:`~kvar.flows.spec.read_flows` reads and checks a
flows file, :func:`~kvar.flows.decide.decide` decides who gets which message when, and
:func:`~kvar.flows.worker.run_once` sends what is due on DBOS Transact. docs/flows.md says what is built.
"""

from kvar.flows.spec import FlowFile, FlowFileError, read_flows, schema

__all__ = ["FlowFile", "FlowFileError", "read_flows", "schema"]
