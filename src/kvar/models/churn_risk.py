"""Churn-risk scores with reasons: gradient boosting on observation-date features, time-based split.

Training uses the labelled observation dates of :func:`~kvar.models.churn_features.churn_features`, split by
time so nothing from a later date leaks into an earlier one: the latest labelled date is the test set, the
dates before it train the model (the last of them calibrates its probabilities: Platt scaling, strictly increasing in the score, so distinct scores never collapse onto one probability), and only dates
whose label window closed before the test date are used. The model is scikit-learn's
``HistGradientBoostingClassifier``. Evaluation on the test date: AUC, lift in the top decile, Brier score
and a calibration table, next to a recency-only baseline (logistic regression on days since the last
event).

Reasons: for each customer and feature, how much the churn probability drops when that feature is set to
the typical (median) value of retained customers; the largest positive drops are the customer's top
reasons, put in words a customer-success manager reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kvar.errors import InputError
from kvar.i18n import marked, tr
from kvar.models.base import require_fit
from kvar.models.churn_features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

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


def _reason(feature: str, row: dict[str, Any]) -> str:
    """One reason in words; a missing value is said as such, never as "nan"."""
    value = row.get(feature)
    if value is None or value != value:
        return (
            tr(_MISSING_REASONS[feature])
            if feature in _MISSING_REASONS
            else tr("no {feature} on record").format(feature=feature.replace("_", " "))
        )
    return tr(_REASONS[feature]).format(**row)


@dataclass
class Evaluation:
    """Held-out quality of the model and of the recency-only baseline."""

    test_date: Any
    test_rows: int
    churn_rate: float
    auc: float
    baseline_auc: float
    top_decile_lift: float
    brier: float
    calibration: list[dict[str, float]] = field(default_factory=list)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


class ChurnRiskModel:
    """Fit/predict churn probabilities with reasons. Learned attributes end in ``_``.

    ``features_`` are the features the model learned from: a numeric feature with no value at all in the
    training rows (no payments or feedback table given, say) is left out rather than learned as noise.
    """

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.08, random_state: int = 0) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _matrix(self, table: Any) -> np.ndarray:
        columns = [table[name].to_numpy(dtype=float, na_value=np.nan) for name in self.numeric_]
        for name in CATEGORICAL_FEATURES:
            lookup = self.categories_[name]
            columns.append(np.array([lookup.get(value, -1) for value in table[name]], dtype=float))
        return np.column_stack(columns)

    def fit(self, table: Any) -> ChurnRiskModel:
        """Train on a pandas feature table from ``churn_features`` (labelled rows only)."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.frozen import FrozenEstimator
        from sklearn.linear_model import LogisticRegression

        # Rows in one fixed order, so that binning, calibration and evaluation cannot depend on input order.
        labelled = table[table["labelled"]].sort_values(["observed_at", "customer_id"], kind="stable")
        dates = sorted(labelled["observed_at"].unique())
        if len(dates) < 4:
            raise InputError(
                tr("churn risk needs at least 4 labelled observation months, got {months}").format(months=len(dates))
            )
        test_date, calibration_date = dates[-1], dates[-2]
        # No leakage: training dates' label windows must close before the test date.
        horizon_ok = labelled["observed_at"] < calibration_date
        train, calibrate, test = (
            labelled[horizon_ok],
            labelled[labelled["observed_at"] == calibration_date],
            labelled[labelled["observed_at"] == test_date],
        )
        if train["label"].nunique() < 2 or test["label"].nunique() < 2:
            raise InputError(tr("churn risk needs both churned and retained customers in the training and test months"))
        self.numeric_ = tuple(name for name in NUMERIC_FEATURES if train[name].notna().any())
        self.features_ = self.numeric_ + CATEGORICAL_FEATURES
        self.categories_ = {
            name: {value: code for code, value in enumerate(sorted(table[name].astype(str).unique()))}
            for name in CATEGORICAL_FEATURES
        }
        categorical = [len(self.numeric_) + index for index in range(len(CATEGORICAL_FEATURES))]
        booster = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            categorical_features=categorical,
            random_state=self.random_state,
        ).fit(self._matrix(train), train["label"].to_numpy())
        self.model_ = CalibratedClassifierCV(FrozenEstimator(booster), method="sigmoid").fit(
            self._matrix(calibrate), calibrate["label"].to_numpy()
        )
        self.booster_ = booster
        retained = train[train["label"] == 0]
        self.reference_ = self._matrix(retained)
        self.typical_ = np.nanmedian(self.reference_, axis=0)
        baseline = LogisticRegression().fit(train[["days_since_event"]].to_numpy(), train["label"].to_numpy())
        self.evaluation_ = self._evaluate(test, baseline)
        self.importances_ = self._importances(test)
        return self

    def latest_scores(self, table: Any, top: int = 3) -> list[dict[str, Any]]:
        """The customers of the latest observation date, riskiest first (ties by ``customer_id``), each
        with ``customer_id``, ``observed_at``, ``churn_probability`` and up to ``top`` ``reasons``."""
        current = table[table["observed_at"] == table["observed_at"].max()]
        probabilities = self.predict_proba(current)
        reasons = self.reasons(current, top=top)
        rows = [
            {"customer_id": cid, "observed_at": at, "churn_probability": float(p), "reasons": r}
            for cid, at, p, r in zip(
                current["customer_id"], current["observed_at"], probabilities, reasons, strict=True
            )
        ]
        return sorted(rows, key=lambda row: (-row["churn_probability"], str(row["customer_id"])))

    def predict_proba(self, table: Any) -> np.ndarray:
        """Calibrated probability of churning within the horizon, per row."""
        require_fit(self, "model_")
        return self.model_.predict_proba(self._matrix(table))[:, 1]

    def _evaluate(self, test: Any, baseline: Any) -> Evaluation:
        from sklearn.metrics import brier_score_loss

        labels = test["label"].to_numpy()
        scores = self.predict_proba(test)
        order = np.argsort(-scores)
        top = order[: max(1, len(order) // 10)]
        lift = labels[top].mean() / labels.mean() if labels.mean() > 0 else float("nan")
        deciles = np.array_split(np.argsort(scores), 10)
        calibration = [
            {
                "decile": index + 1,
                "predicted": float(scores[members].mean()),
                "observed": float(labels[members].mean()),
                "customers": int(len(members)),
            }
            for index, members in enumerate(deciles)
            if len(members)
        ]
        return Evaluation(
            test_date=test["observed_at"].iloc[0],
            test_rows=len(test),
            churn_rate=float(labels.mean()),
            auc=_auc(labels, scores),
            baseline_auc=_auc(labels, baseline.predict_proba(test[["days_since_event"]].to_numpy())[:, 1]),
            top_decile_lift=float(lift),
            brier=float(brier_score_loss(labels, scores)),
            calibration=calibration,
        )

    def _importances(self, test: Any) -> list[dict[str, Any]]:
        """Permutation importance (drop in AUC) on the test month, most important first."""
        from sklearn.inspection import permutation_importance

        result = permutation_importance(
            self.booster_,
            self._matrix(test),
            test["label"].to_numpy(),
            scoring="roc_auc",
            n_repeats=5,
            random_state=self.random_state,
        )
        ranked = sorted(zip(self.features_, result.importances_mean, strict=True), key=lambda item: -item[1])
        return [{"feature": name, "importance": float(value)} for name, value in ranked]

    def reasons(self, table: Any, top: int = 3) -> list[list[str]]:
        """Each row's top reasons, in words: the features whose typical value would lower its risk most."""
        matrix = self._matrix(table)
        base = self.booster_.predict_proba(matrix)[:, 1]
        drops = np.zeros_like(matrix)
        for index in range(matrix.shape[1]):
            changed = matrix.copy()
            changed[:, index] = self.typical_[index]
            drops[:, index] = base - self.booster_.predict_proba(changed)[:, 1]
        records = table.to_dict("records")
        out = []
        for row, contribution in zip(records, drops, strict=True):
            best = [i for i in np.argsort(-contribution)[:top] if contribution[i] > 0.005]
            out.append([_reason(self.features_[i], row) for i in best])
        return out
