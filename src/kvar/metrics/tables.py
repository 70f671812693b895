"""The customer data a business hands kvar, as one bundle of frames (any kind kvar accepts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kvar.metrics.activity import defining_table


@dataclass
class CustomerTables:
    """A business's tables; absent ones are ``None``."""

    transactions: Any = None
    subscriptions: Any = None
    events: Any = None
    feedback: Any = None
    payments: Any = None
    customers: Any = None

    def activity(self) -> dict[str, Any]:
        """The table that defines activity (:func:`~kvar.metrics.activity.defining_table`), as the keyword
        ``retention_table``, ``customer_lifetimes`` and ``activity_source`` take."""
        kind = defining_table(self.transactions is not None, self.subscriptions is not None)
        return {kind: getattr(self, kind)}
