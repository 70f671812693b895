"""Act: retention flows described as data (channels, policies, flows), decided in the engine, sent durably.

This layer sits on the workspace, metrics and models: :func:`~kvar.flows.spec.read_flows` reads and checks a
flows file (:func:`~kvar.flows.spec.write_flows` builds one from Python), :func:`~kvar.flows.decide.decide`
decides who gets which message when, :func:`~kvar.flows.worker.run_once` sends what is due on DBOS Transact,
and :func:`~kvar.flows.uplift.uplift` measures what each flow bought. docs/flows.md describes it all.
"""

from kvar.flows.spec import FlowFile, FlowFileError, read_flows, schema, write_flows

__all__ = ["FlowFile", "FlowFileError", "read_flows", "schema", "write_flows"]
