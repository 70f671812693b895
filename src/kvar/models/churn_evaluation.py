"""How good is a fitted :class:`~kvar.models.churn_risk.ChurnRisk`, and what drives it.

Both are measured on the held-out date of :func:`~kvar.models.churn_risk.time_split` (the latest labelled
observation date), which the model never trained on:

* :func:`evaluate`: AUC, lift in the top decile (churn rate among the riskiest 10 % ÷ overall churn rate),
  Brier score and a calibration table by decile of predicted risk, next to a recency-only baseline
  (logistic regression on ``days_since_event``, trained on the same training dates).
* :func:`feature_importance`: permutation importance, the drop in AUC when one feature's values are
  shuffled (5 repeats, seeded by the model's ``random_state``).

:func:`assess_churn_risk` is the one call the command line and the report make: fit, score the latest
date with reasons, evaluate, rank the drivers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from kvar.metrics.frames import arrow_like
from kvar.models.base import require_fit
from kvar.models.churn_risk import ChurnRisk, feature_table, time_split


@dataclass(frozen=True)
class Evaluation:
    """Held-out quality of the model and of the recency-only baseline (AUC, lift and Brier as fractions)."""

    test_date: Any
    test_rows: int
    churn_rate: float
    auc: float
    baseline_auc: float
    top_decile_lift: float
    brier: float
    calibration: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Assessment:
    """A fitted model, its latest scores (a frame of the features' kind), evaluation and top drivers."""

    model: ChurnRisk
    scores: Any
    evaluation: Evaluation
    drivers: list[dict[str, Any]]


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def evaluate(model: ChurnRisk, features: Any) -> Evaluation:
    """The model's quality on the held-out date of ``features`` (the table it was fitted on)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss

    require_fit(model, "model_")
    split = time_split(feature_table(features))
    labels = split.test["label"].to_numpy()
    scores = model.probabilities(split.test)
    top = np.argsort(-scores, kind="stable")[: max(1, len(scores) // 10)]
    lift = labels[top].mean() / labels.mean() if labels.mean() > 0 else float("nan")
    calibration = [
        {
            "decile": index + 1,
            "predicted": float(scores[members].mean()),
            "observed": float(labels[members].mean()),
            "customers": int(len(members)),
        }
        for index, members in enumerate(np.array_split(np.argsort(scores, kind="stable"), 10))
        if len(members)
    ]
    recency = LogisticRegression().fit(split.train[["days_since_event"]].to_numpy(), split.train["label"].to_numpy())
    baseline = recency.predict_proba(split.test[["days_since_event"]].to_numpy())[:, 1]
    return Evaluation(
        test_date=split.test_date,
        test_rows=len(split.test),
        churn_rate=float(labels.mean()),
        auc=_auc(labels, scores),
        baseline_auc=_auc(labels, baseline),
        top_decile_lift=float(lift),
        brier=float(brier_score_loss(labels, scores)),
        calibration=calibration,
    )


def feature_importance(model: ChurnRisk, features: Any, *, repeats: int = 5) -> list[dict[str, Any]]:
    """Permutation importance (drop in held-out AUC) per learned feature, most important first."""
    from sklearn.inspection import permutation_importance

    require_fit(model, "model_")
    test = time_split(feature_table(features)).test
    result = permutation_importance(
        model.booster_,
        model.matrix(test),
        test["label"].to_numpy(),
        scoring="roc_auc",
        n_repeats=repeats,
        random_state=model.random_state,
    )
    ranked = sorted(zip(model.features_, result.importances_mean, strict=True), key=lambda item: (-item[1], item[0]))
    return [{"feature": name, "importance": float(value)} for name, value in ranked]


def assess_churn_risk(features: Any, *, top: int = 3, model: ChurnRisk | None = None) -> Assessment:
    """Fit ``model`` (a default :class:`ChurnRisk` when none is given) on ``features``, score the latest
    observation date with ``top`` reasons each, evaluate on the held-out date and rank the drivers."""
    table = feature_table(features)  # computed once in the engine, for all four steps
    fitted = (model or ChurnRisk()).fit(table)
    scores = pa.Table.from_pandas(fitted.score_latest(table, top=top), preserve_index=False)
    return Assessment(
        model=fitted,
        scores=arrow_like(features, scores),
        evaluation=evaluate(fitted, table),
        drivers=feature_importance(fitted, table),
    )
