"""What a purchase is: the one rule every purchase-counting metric and model follows.

Definitions (docs/definitions.md, "Orders and purchases"):

* An *order* is the set of transaction rows (order lines) of one customer sharing a ``transaction_id``;
  a row without a ``transaction_id`` (or a table without that column) is an order on its own.
* An order happens at its earliest line's ``occurred_at``; its ``amount`` is the sum of its lines' amounts
  (refund lines are negative).
* A *purchase* is an order whose amount is not negative (a free order counts: the customer ordered).
  An order with a negative amount is a *refund*: it reduces revenue but is not a purchase, never makes a
  customer active, and never counts as a repeat purchase. Without an ``amount`` column every order is a
  purchase.
"""

from __future__ import annotations

import narwhals as nw

from kvar.metrics.frames import exact_sum


def orders(transactions: nw.LazyFrame) -> nw.LazyFrame:
    """One row per order: ``customer_id``, ``occurred_at``, ``amount`` (Float64, when the table has
    amounts) and ``is_purchase`` (bool)."""
    names = transactions.collect_schema().names()
    has_amount = "amount" in names
    lines = transactions.select(
        "customer_id",
        "occurred_at",
        *(["transaction_id"] if "transaction_id" in names else []),
        *([nw.col("amount").cast(nw.Float64)] if has_amount else []),
    )
    if "transaction_id" in names:
        single = lines.filter(nw.col("transaction_id").is_null()).drop("transaction_id")
        grouped = (
            lines.filter(~nw.col("transaction_id").is_null())
            .group_by("customer_id", "transaction_id")
            .agg(nw.col("occurred_at").min(), *([exact_sum("amount", transactions)] if has_amount else []))
            .drop("transaction_id")
        )
        lines = nw.concat([grouped, single.select(grouped.collect_schema().names())], how="vertical")
    return lines.with_columns(is_purchase=is_purchase(has_amount))


def is_purchase(has_amount: bool = True) -> nw.Expr:
    """The purchase rule on an order's ``amount``: not negative (unknown or no amount: a purchase)."""
    return ((nw.col("amount") >= 0) | nw.col("amount").is_null()) if has_amount else nw.lit(True)


def purchases(transactions: nw.LazyFrame) -> nw.LazyFrame:
    """The purchase orders only: ``customer_id``, ``occurred_at`` and, when present, ``amount``."""
    return orders(transactions).filter(nw.col("is_purchase")).drop("is_purchase")
