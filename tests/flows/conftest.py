"""Fixtures shared by the flows tests."""

from .test_delivery import receiver  # noqa: F401 - the HTTP receiver on 127.0.0.1, for the worker tests too
