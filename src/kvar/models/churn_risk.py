"""Churn-risk scores with reasons: gradient boosting on observation-date features, time-based split.

The model learns from the labelled observation dates of :func:`~kvar.metrics.churn_features.churn_features`,
split by time (:func:`time_split`) so nothing from a later date leaks into an earlier one: the latest
labelled date is held out for evaluation (:mod:`kvar.models.churn_evaluation`), the dates before it train
the model, and the last of those calibrates its probabilities (Platt scaling, strictly increasing in the
score, so distinct scores never collapse onto one probability). Only dates whose label window closed
before the held-out date train. The model is scikit-learn's ``HistGradientBoostingClassifier``.

Reasons: for each customer and feature, how much the churn probability drops when that feature is set to
the typical (median) value of retained customers; the largest positive drops are the customer's top
reasons, in the words of :mod:`kvar.models.churn_reasons`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from kvar.errors import InputError
from kvar.i18n import tr
from kvar.metrics.churn_features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from kvar.metrics.frames import arrow_like, table_of
from kvar.models.base import require_fit
from kvar.models.churn_reasons import reason

#: A reason is given only when setting the feature to its typical value lowers the risk by more than this.
_NOTABLE_DROP = 0.005


@dataclass(frozen=True)
class Split:
    """The time-based split of a feature table's labelled rows (pandas frames, in a fixed row order)."""

    train: Any
    calibrate: Any
    test: Any
    test_date: dt.datetime


def feature_table(features: Any) -> Any:
    """A feature table of any kind as a pandas frame in one fixed row order (``observed_at``, ``customer_id``),
    so that binning, calibration and evaluation cannot depend on input order."""
    frame, _ = table_of(
        features, "churn features", ["customer_id", "observed_at", "label", "labelled", *NUMERIC_FEATURES]
    )
    table = frame.collect(backend="pandas").to_native()
    return table.sort_values(["observed_at", "customer_id"], kind="stable").reset_index(drop=True)


def current_risk(features: Any, *, top: int = 3) -> Any:
    """Fit :class:`ChurnRisk` on ``features`` and score the latest observation date, with up to ``top`` reasons
    (what a flow trigger, a template's profile or an export needs: no held-out evaluation, unlike
    :func:`kvar.models.churn_evaluation.assess_churn_risk`)."""
    table = feature_table(features)  # built once in the engine, fitted and scored alike
    return ChurnRisk().fit(table).score_latest(table, top=top)


def time_split(table: Any) -> Split:
    """The rule: the latest labelled date is the test date, the one before it calibrates, earlier dates
    train; at least four labelled dates, and both outcomes in training and test."""
    labelled = table[table["labelled"]]
    dates = sorted(labelled["observed_at"].unique())
    if len(dates) < 4:
        raise InputError(
            tr("churn risk needs at least 4 labelled observation months, got {months}").format(months=len(dates))
        )
    test_date, calibration_date = dates[-1], dates[-2]
    split = Split(
        train=labelled[labelled["observed_at"] < calibration_date],
        calibrate=labelled[labelled["observed_at"] == calibration_date],
        test=labelled[labelled["observed_at"] == test_date],
        test_date=pd.Timestamp(test_date).to_pydatetime(),
    )
    if split.train["label"].nunique() < 2 or split.test["label"].nunique() < 2:
        raise InputError(tr("churn risk needs both churned and retained customers in the training and test months"))
    return split


class ChurnRisk:
    """Fit/predict churn probabilities with reasons. Learned attributes end in ``_``.

    ``features_`` are the features the model learned from: a numeric feature with no value at all in the
    training rows (no payments or feedback table given, say) is left out rather than learned as noise.
    Every method takes a feature table of any kind kvar accepts and returns the same kind of frame.
    """

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.08, random_state: int = 0) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    def __repr__(self) -> str:
        return (
            f"ChurnRisk(max_iter={self.max_iter}, learning_rate={self.learning_rate}, random_state={self.random_state})"
        )

    def fit(self, features: Any) -> ChurnRisk:
        """Train on the dates before the held-out one (:func:`time_split`); nothing else is computed."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.frozen import FrozenEstimator

        table = feature_table(features)
        split = time_split(table)
        self.numeric_ = tuple(name for name in NUMERIC_FEATURES if split.train[name].notna().any())
        self.features_ = self.numeric_ + CATEGORICAL_FEATURES
        self.categories_ = {
            name: {value: code for code, value in enumerate(sorted(table[name].astype(str).unique()))}
            for name in CATEGORICAL_FEATURES
        }
        categorical = [len(self.numeric_) + index for index in range(len(CATEGORICAL_FEATURES))]
        self.booster_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            categorical_features=categorical,
            random_state=self.random_state,
        ).fit(self.matrix(split.train), split.train["label"].to_numpy())
        self.model_ = CalibratedClassifierCV(FrozenEstimator(self.booster_), method="sigmoid").fit(
            self.matrix(split.calibrate), split.calibrate["label"].to_numpy()
        )
        self.typical_ = np.nanmedian(self.matrix(split.train[split.train["label"] == 0]), axis=0)
        self.test_date_ = split.test_date
        return self

    def matrix(self, table: Any) -> np.ndarray:
        """The learned features of a pandas feature table as a float matrix (categories as codes, unseen -1)."""
        require_fit(self, "categories_")
        columns = [table[name].to_numpy(dtype=float, na_value=np.nan) for name in self.numeric_]
        for name in CATEGORICAL_FEATURES:
            lookup = self.categories_[name]
            columns.append(np.array([lookup.get(value, -1) for value in table[name]], dtype=float))
        return np.column_stack(columns)

    def probabilities(self, table: Any) -> np.ndarray:
        """Calibrated probability of churning within the horizon, per row of a pandas feature table."""
        return self.model_.predict_proba(self.matrix(table))[:, 1]

    def predict_proba(self, features: Any) -> Any:
        """``customer_id``, ``observed_at``, ``churn_probability`` per row of ``features``."""
        require_fit(self, "model_")
        table = feature_table(features)
        return self._frame(features, table, churn_probability=self.probabilities(table))

    def score_latest(self, features: Any, *, top: int = 3) -> Any:
        """The customers of the latest observation date, riskiest first (ties by ``customer_id``):
        ``customer_id``, ``observed_at``, ``churn_probability`` and up to ``top`` ``reasons`` (a list)."""
        require_fit(self, "model_")
        table = feature_table(features)
        current = table[table["observed_at"] == table["observed_at"].max()]
        probabilities = self.probabilities(current)
        order = np.lexsort((current["customer_id"].astype(str).to_numpy(), -probabilities))
        ranked = current.iloc[order]
        return self._frame(
            features, ranked, churn_probability=probabilities[order], reasons=self.reasons(ranked, top=top)
        )

    def reasons(self, table: Any, *, top: int = 3) -> list[list[str]]:
        """Each row's top reasons, in words: the features whose typical value would lower its risk most."""
        matrix = self.matrix(table)
        base = self.booster_.predict_proba(matrix)[:, 1]
        drops = np.zeros_like(matrix)
        for index in range(matrix.shape[1]):
            changed = matrix.copy()
            changed[:, index] = self.typical_[index]
            drops[:, index] = base - self.booster_.predict_proba(changed)[:, 1]
        out = []
        for row, contribution in zip(table.to_dict("records"), drops, strict=True):
            best = [i for i in np.argsort(-contribution, kind="stable")[:top] if contribution[i] > _NOTABLE_DROP]
            out.append([reason(self.features_[i], row) for i in best])
        return out

    @staticmethod
    def _frame(like: Any, rows: Any, **columns: Any) -> Any:
        keys = pa.Table.from_pandas(rows[["customer_id", "observed_at"]], preserve_index=False)
        table = keys.append_column("churn_probability", pa.array(columns.pop("churn_probability"), pa.float64()))
        for name, values in columns.items():
            table = table.append_column(name, pa.array(values))
        return arrow_like(like, table)
