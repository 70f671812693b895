"""Failed-payment recovery: which failed invoices were paid after all, and which customers a failed payment lost.

From the payments table (one row per attempt; ``status`` succeeded / failed, ``failure_code`` the decline code):

* an **invoice** is ``invoice_id`` (or the attempt's ``payment_id`` when there is none); it **failed** when it
  has a failed attempt; its first failure is ``failed_at`` and that attempt's code is its ``failure_code``;
* it is **recovered** when a succeeded attempt on it follows ``failed_at`` within the recovery ``window``
  (default ``30d``; ``2w``, ``1m`` …); the recovered amount is that attempt's amount;
* it is **lost** when the window has ended by ``as_of`` without a success, and **open** while it runs;
* **recovery rate** = recovered ÷ (recovered + lost): the denominator is the failed invoices whose window has
  closed (open ones cannot be judged yet), stated in every result as ``denominator``;
* **involuntary churn**: customers with a lost invoice and no succeeded payment at all after its ``failed_at``
  up to ``as_of``;
* a **hard decline** (:data:`HARD_DECLINES`) is a code after which the card must not be tried again;
  ``retried_after_hard_decline`` counts the attempts that were made anyway.

Rows: one per decline code (empty code: ``"unknown"``) and a ``total`` row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.metrics.frames import rows_of, table_of
from kvar.metrics.periods import window_offset

#: Decline codes after which a retry cannot succeed or is forbidden by the card networks (Stripe's decline-code
#: reference advises the customer to use another card or contact the issuer; Visa's "never approve" category).
HARD_DECLINES = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "fraudulent",
        "merchant_blacklist",
        "restricted_card",
        "security_violation",
        "do_not_try_again",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "stop_payment_order",
        "invalid_account",
        "account_closed",
        "new_account_information_available",
        "incorrect_number",
        "invalid_number",
        "expired_card",
        "card_not_supported",
        "currency_not_supported",
        "transaction_not_allowed",
    }
)

TOTAL = "total"


def is_hard_decline(code: str | None) -> bool:
    """Whether a decline code forbids retrying the same card."""
    return (code or "").strip().casefold() in HARD_DECLINES


def payment_recovery(
    payments: IntoFrame, *, window: str = "30d", as_of: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Per decline code and in total: failed invoices, recovered (count, amount), lost, open, the recovery rate
    over its stated denominator, hard declines, retries after them, and customers lost involuntarily."""
    attempts, _ = table_of(payments, "payments", ["customer_id", "occurred_at", "amount", "status"])
    offset = window_offset(window)
    names = attempts.collect_schema().names()
    invoice = nw.coalesce(nw.col("invoice_id").cast(nw.String), nw.col("payment_id").cast(nw.String))
    if "invoice_id" not in names:
        invoice = nw.col("payment_id").cast(nw.String) if "payment_id" in names else nw.col("customer_id")
    code = nw.col("failure_code").cast(nw.String) if "failure_code" in names else nw.lit(None, nw.String)
    attempts = attempts.select(
        nw.col("customer_id").cast(nw.String),
        "occurred_at",
        nw.col("amount").cast(nw.Float64),
        "status",
        invoice=invoice,
        code=nw.when(code.is_null() | (code.str.strip_chars() == ""))
        .then(nw.lit("unknown"))
        .otherwise(code.str.strip_chars().str.to_lowercase()),
    )
    if as_of is None:
        as_of = rows_of(attempts.select(nw.col("occurred_at").max()))[0]["occurred_at"]
    attempts = attempts.filter(nw.col("occurred_at") <= nw.lit(as_of))
    failures = attempts.filter(nw.col("status") == "failed")
    first = failures.group_by("invoice").agg(
        failed_at=nw.col("occurred_at").min(), customer_id=nw.col("customer_id").min()
    )
    first_code = (
        failures.join(first.select("invoice", "failed_at"), on="invoice")
        .filter(nw.col("occurred_at") == nw.col("failed_at"))
        .group_by("invoice")
        .agg(code=nw.col("code").min())
    )
    later = attempts.join(first.select("invoice", "failed_at"), on="invoice").filter(
        nw.col("occurred_at") > nw.col("failed_at")
    )
    paid = (
        later.filter(nw.col("status") == "succeeded", nw.col("occurred_at") <= nw.col("failed_at").dt.offset_by(offset))
        .group_by("invoice")
        .agg(recovered_at=nw.col("occurred_at").min())
    )
    paid_amount = (
        later.join(paid, on="invoice")
        .filter(nw.col("occurred_at") == nw.col("recovered_at"), nw.col("status") == "succeeded")
        .group_by("invoice")
        .agg(recovered_amount=nw.col("amount").max())
    )
    retried = later.group_by("invoice").agg(retries=nw.len())
    invoices = (
        first.join(first_code, on="invoice")
        .join(paid_amount, on="invoice", how="left")
        .join(retried, on="invoice", how="left")
        .with_columns(
            recovered=~nw.col("recovered_amount").is_null(),
            closed=nw.col("failed_at").dt.offset_by(offset) <= nw.lit(as_of),
            hard=nw.col("code").is_in(sorted(HARD_DECLINES)),
        )
        .with_columns(lost=~nw.col("recovered") & nw.col("closed"))
    )
    succeeded = attempts.filter(nw.col("status") == "succeeded").select("customer_id", paid_at="occurred_at")
    came_back = (
        invoices.filter(nw.col("lost"))
        .select("invoice", "customer_id", "failed_at")
        .join(succeeded, on="customer_id")
        .filter(nw.col("paid_at") > nw.col("failed_at"))
        .select("invoice")
        .unique()
        .with_columns(came_back=nw.lit(True))
    )
    invoices = invoices.join(came_back, on="invoice", how="left").with_columns(
        churned=nw.col("lost") & nw.col("came_back").is_null()
    )
    per_code = rows_of(
        invoices.group_by("code").agg(
            failed_invoices=nw.len(),
            recovered=nw.col("recovered").cast(nw.Int64).sum().cast(nw.Int64),  # counts as integers on every engine
            recovered_amount=nw.col("recovered_amount").fill_null(0.0).sum(),
            lost=nw.col("lost").cast(nw.Int64).sum().cast(nw.Int64),
            hard_declines=nw.col("hard").cast(nw.Int64).sum().cast(nw.Int64),
            retried_after_hard_decline=nw.when(nw.col("hard"))
            .then(nw.col("retries").fill_null(0))
            .otherwise(0)
            .sum()
            .cast(nw.Int64),
        )
    )
    churned = rows_of(invoices.filter(nw.col("churned")).select("code", "customer_id").unique())
    return _with_rates(per_code, churned)


def _with_rates(per_code: list[dict[str, Any]], churned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counted = (
        "failed_invoices",
        "recovered",
        "recovered_amount",
        "lost",
        "hard_declines",
        "retried_after_hard_decline",
    )
    total: dict[str, Any] = {"code": TOTAL, **dict.fromkeys(counted, 0)}
    rows = []
    for row in sorted(per_code, key=lambda r: (-r["failed_invoices"], r["code"])):
        for name in counted:
            total[name] += row[name]
        row["involuntary_churn"] = len({r["customer_id"] for r in churned if r["code"] == row["code"]})
        rows.append(row)
    total["involuntary_churn"] = len({r["customer_id"] for r in churned})
    rows.append(total)
    for row in rows:
        row["open"] = row["failed_invoices"] - row["recovered"] - row["lost"]
        row["denominator"] = row["recovered"] + row["lost"]
        row["recovery_rate"] = 100 * row["recovered"] / row["denominator"] if row["denominator"] else None
        row["hard_decline"] = row["code"] != TOTAL and row["code"] in HARD_DECLINES
    return rows
