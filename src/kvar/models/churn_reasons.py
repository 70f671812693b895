"""The words of a churn-risk reason: one template per feature, filled with the customer's own values.

Templates are stored in English and translated when shown (:func:`kvar.i18n.tr`). A missing value is said
as such ("no NPS answer in the last 180 days"), never as "nan".
"""

from __future__ import annotations

from typing import Any

from kvar.i18n import marked, tr

_REASONS: dict[str, str] = {
    "activity_trend": marked(
        "usage fell: {events_30d:.0f} events in the last 30 days vs {events_prev:.0f} the month before"
    ),
    "events_30d": marked("low usage: {events_30d:.0f} events in the last 30 days"),
    "events_prev": marked("usage a month ago was {events_prev:.0f} events"),
    "days_since_event": marked("no activity for {days_since_event:.0f} days"),
    "users_30d": marked("only {users_30d:.0f} active users in the last 30 days"),
    "failed_payments_30d": marked("{failed_payments_30d:.0f} failed payment(s) in the last 30 days"),
    "last_nps": marked("last NPS answer was {last_nps:.0f}"),
    "mrr_change_90d": marked("MRR changed by {mrr_change_90d:+.0f} in 90 days"),
    "mrr": marked("pays {mrr:.0f} a month"),
    "tenure_days": marked("customer for {tenure_days:.0f} days"),
    "plan": marked("on the {plan} plan"),
    "channel": marked("acquired through {channel}"),
}
#: Reasons for a feature the customer has no value of (a missing value can raise the risk too).
_MISSING_REASONS: dict[str, str] = {
    "last_nps": marked("no NPS answer in the last 180 days"),
    "days_since_event": marked("no activity on record"),
    "mrr_change_90d": marked("no MRR 90 days ago to compare with"),
}


def reason(feature: str, row: dict[str, Any]) -> str:
    """The reason ``feature`` gives for the customer whose feature values are ``row``, in words."""
    value = row.get(feature)
    if value is None or value != value:
        return (
            tr(_MISSING_REASONS[feature])
            if feature in _MISSING_REASONS
            else tr("no {feature} on record").format(feature=feature.replace("_", " "))
        )
    return tr(_REASONS[feature]).format(**row)
