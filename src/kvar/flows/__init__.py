"""Act: retention flows described as data (channels, policies, flows), checked before anything runs.

This layer sits on the workspace, metrics and models. So far it reads and checks flows files
(:func:`~kvar.flows.spec.read_flows`, ``kvar flows validate``); deciding and delivering come next
(docs/flows.md says what is built).
"""

from kvar.flows.spec import FlowFile, FlowFileError, read_flows, schema

__all__ = ["FlowFile", "FlowFileError", "read_flows", "schema"]
