"""Table contracts: the canonical columns of each input table, their types, meaning and common aliases.

Written out for people in docs/data-model.md; this module is the single source the loader checks against.
Column kinds:

* ``id``: text identifier, compared exactly (leading zeros kept);
* ``text``: free text or a category;
* ``time``: an instant; stored as a naive timestamp in UTC (naive input is read in the load's time zone,
  UTC unless told otherwise);
* ``money``: a decimal amount in ``currency`` (refunds negative); ``number``: any real number;
* ``currency``: an ISO 4217 code such as ``USD``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kvar.errors import ParameterError
from kvar.i18n import tr

Kind = Literal["id", "text", "time", "money", "number", "currency"]


@dataclass(frozen=True)
class Column:
    """One canonical column of a table contract."""

    name: str
    kind: Kind
    required: bool = False
    aliases: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    choices: dict[str, str] = field(default_factory=dict)  # accepted spelling -> canonical value
    description: str = ""
    scheduled: bool = False  # a time that may lie in the future (a scheduled end), so never "in the future"


@dataclass(frozen=True)
class TableContract:
    """The columns a table must or may have, and which identify a row.

    ``key`` identifies a record. When ``line_key`` is set, a record may have several rows (an order and
    its lines): rows sharing ``key`` are lines of one record, and a line is identified by ``key`` and
    ``line_key`` or, without a ``line_key`` column, by all its values.
    """

    name: str
    columns: tuple[Column, ...]
    key: str | None = None
    line_key: str | None = None
    keeps_extra_columns: bool = True

    def row_identity(self, present: Sequence[str]) -> tuple[str, ...]:
        """The columns of ``present`` whose values, all equal, make two rows duplicates (empty: no check)."""
        if self.key is None or self.key not in present:
            return ()
        if self.line_key is None:
            return (self.key,)
        if self.line_key in present:
            return (self.key, self.line_key)
        return tuple(name for name in self.names if name in present)

    def stored_identity(self, present: Sequence[str], stored: Sequence[str]) -> tuple[str, ...]:
        """The columns that find a row of this file among rows already stored with columns ``stored``:
        the record key, with the line key when both have it (empty: no check)."""
        if self.key is None or self.key not in present or self.key not in stored:
            return ()
        both = self.line_key is not None and self.line_key in present and self.line_key in stored
        if both and self.line_key is not None:
            return (self.key, self.line_key)
        return (self.key,)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


_CUSTOMER = Column(
    "customer_id",
    "id",
    required=True,
    aliases=("customer", "customerid", "cust_id", "customer_no", "client_id"),
    description="who the row belongs to",
)
_CURRENCY = Column(
    "currency",
    "currency",
    aliases=("currency_code", "cur"),
    description="ISO 4217 code; one per table unless an FX table is given",
)

CUSTOMERS = TableContract(
    "customers",
    (
        Column("customer_id", "id", required=True, aliases=("id", "customer", "customerid", "cust_id", "client_id")),
        Column(
            "signed_up_at",
            "time",
            aliases=("signup_at", "signup_date", "created", "created_at", "created_utc", "signup"),
            description="when the customer was acquired",
        ),
        Column(
            "channel",
            "text",
            aliases=("acquisition_channel", "source", "utm_source"),
            description="acquisition channel",
        ),
        Column("country", "text", aliases=("country_code",)),
        Column("plan", "text", aliases=("plan_name", "tier")),
        Column("email", "text", aliases=("e_mail", "email_address", "mail"), description="where flows send e-mail"),
        Column("first_name", "text", aliases=("firstname", "given_name"), description="for templates"),
        Column(
            "timezone",
            "text",
            aliases=("time_zone", "tz"),
            description="IANA zone (Europe/Stockholm) for quiet hours and caps",
        ),
        Column(
            "card_expires_at",
            "time",
            aliases=("card_expiry", "card_expires", "card_exp", "card_expiration"),
            description="when the card on file expires (the first instant it no longer works), for card-expiry notices",
        ),
    ),
    key="customer_id",
)

TRANSACTIONS = TableContract(
    "transactions",
    (
        Column(
            "transaction_id",
            "id",
            aliases=("id", "order_id", "charge_id", "payment_id", "invoice_id", "invoiceno", "invoice_no"),
            description="the order: rows sharing it are lines of one purchase",
        ),
        Column(
            "line_id",
            "id",
            aliases=("line", "line_no", "line_number", "order_line_id"),
            description="the line within its order, if the export numbers lines",
        ),
        _CUSTOMER,
        Column(
            "occurred_at",
            "time",
            required=True,
            aliases=(
                "date",
                "created",
                "created_at",
                "created_utc",
                "timestamp",
                "order_date",
                "invoicedate",
                "purchased_at",
                "time",
            ),
        ),
        Column(
            "amount",
            "money",
            aliases=("value", "revenue", "total", "dollar_value", "price", "sales"),
            description="net amount; refunds are negative or have kind refund",
        ),
        _CURRENCY,
        Column(
            "kind",
            "text",
            choices={
                "purchase": "purchase",
                "sale": "purchase",
                "order": "purchase",
                "charge": "purchase",
                "payment": "purchase",
                "refund": "refund",
                "return": "refund",
            },
            description="purchase or refund; a refund with a positive amount is stored negative",
        ),
        Column("product", "text", aliases=("product_id", "sku", "stockcode", "item")),
        Column("quantity", "number", aliases=("qty", "number_of_cds", "units")),
    ),
    key="transaction_id",
    line_key="line_id",
)

SUBSCRIPTIONS = TableContract(
    "subscriptions",
    (
        Column("subscription_id", "id", aliases=("id", "sub_id")),
        _CUSTOMER,
        Column("plan", "text", aliases=("plan_name", "product", "tier", "price_id")),
        Column(
            "started_at",
            "time",
            required=True,
            aliases=("start", "start_date", "started", "start_utc", "start_date_utc", "created_utc"),
        ),
        Column(
            "ended_at",
            "time",
            aliases=("end", "end_date", "ended", "ended_at_utc", "canceled_at", "canceled_at_utc"),
            description="exclusive end; empty while the interval is open; a future end is scheduled",
            scheduled=True,
        ),
        Column(
            "mrr",
            "money",
            required=True,
            minimum=0,
            aliases=("monthly_amount", "mrr_amount", "monthly_recurring_revenue"),
            description="monthly recurring revenue of the interval",
        ),
        _CURRENCY,
        Column("quantity", "number", minimum=0, aliases=("seats", "qty")),
    ),
    key="subscription_id",
)

EVENTS = TableContract(
    "events",
    (
        _CUSTOMER,
        Column("occurred_at", "time", required=True, aliases=("timestamp", "time", "created_at", "date", "event_time")),
        Column("event", "text", required=True, aliases=("event_name", "name", "action")),
        Column("user_id", "id", aliases=("user",), description="the person inside a customer account"),
        Column("value", "number"),
    ),
)

FEEDBACK = TableContract(
    "feedback",
    (
        _CUSTOMER,
        Column("occurred_at", "time", required=True, aliases=("date", "created_at", "answered_at", "timestamp")),
        Column(
            "kind",
            "text",
            required=True,
            aliases=("type", "survey"),
            choices={"nps": "nps", "csat": "csat", "exit": "exit", "review": "review"},
        ),
        Column("score", "number", aliases=("rating",), description="NPS 0-10, CSAT 1-5"),
        Column("text", "text", aliases=("comment", "feedback", "message")),
        Column("reason", "text", aliases=("exit_reason", "cancel_reason")),
    ),
)

PAYMENTS = TableContract(
    "payments",
    (
        Column("payment_id", "id", aliases=("id", "attempt_id", "charge_id")),
        _CUSTOMER,
        Column("invoice_id", "id", aliases=("invoice",)),
        Column(
            "occurred_at",
            "time",
            required=True,
            aliases=("created", "created_at", "created_utc", "date", "attempted_at"),
        ),
        Column("amount", "money", required=True, minimum=0),
        _CURRENCY,
        Column(
            "status",
            "text",
            required=True,
            choices={
                "succeeded": "succeeded",
                "paid": "succeeded",
                "success": "succeeded",
                "failed": "failed",
                "declined": "failed",
                "pending": "pending",
                "refunded": "refunded",
            },
        ),
        Column("failure_code", "text", aliases=("decline_code", "failure_reason")),
    ),
    key="payment_id",
)

CONTRACTS: dict[str, TableContract] = {
    contract.name: contract for contract in (CUSTOMERS, TRANSACTIONS, SUBSCRIPTIONS, EVENTS, FEEDBACK, PAYMENTS)
}

#: Rules with a score range per feedback kind (checked in addition to the column rules).
SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5)}


def contract_for(table: str) -> TableContract:
    """The contract of ``table`` or a :class:`ParameterError` listing the known tables."""
    if table not in CONTRACTS:
        raise ParameterError(
            tr("table: expected one of {tables}, got {table!r}").format(tables=", ".join(CONTRACTS), table=table)
        )
    return CONTRACTS[table]
