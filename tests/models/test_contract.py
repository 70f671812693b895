"""One estimator contract, applied to every fitted model (scikit-learn's rules, and kvar's own).

* ``__init__`` stores its settings and nothing else; ``repr`` works fitted or not.
* Asking an unfitted model for anything raises ``NotFittedError`` (also an ``AttributeError``).
* ``fit`` takes a frame of any kind kvar accepts, returns ``self``, and adds only attributes ending in ``_``.
* The frame path and the explicit array path give the same fit; row order never changes a fit.
* Per-customer predictions come back keyed by ``customer_id``, in the caller's kind of frame.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import kvar
from kvar.errors import NotFittedError
from kvar.models import BetaGeo, ChurnRisk, GammaGamma, ParetoNBD, ShiftedBetaGeometric


@dataclass(frozen=True)
class Case:
    """A model, the table it fits on, how to ask it for something, and its per-customer predictions."""

    make: Callable[[], Any]
    table: str  # fixture name of a pandas frame
    ask: Callable[[Any, Any], Any]
    predictions: dict[str, Callable[[Any, Any], Any]]


CASES = {
    "BetaGeo": Case(
        BetaGeo,
        "cdnow",
        lambda model, table: model.summary,
        {
            "probability_alive": lambda model, table: model.probability_alive(table),
            "expected_purchases": lambda model, table: model.expected_purchases(table, 39),
        },
    ),
    "ParetoNBD": Case(
        ParetoNBD,
        "cdnow",
        lambda model, table: model.summary,
        {
            "probability_alive": lambda model, table: model.probability_alive(table),
            "expected_purchases": lambda model, table: model.expected_purchases(table, 39),
        },
    ),
    "GammaGamma": Case(
        GammaGamma,
        "cdnow",
        lambda model, table: model.summary,
        {"expected_spend": lambda model, table: model.expected_spend(table)},
    ),
    "ShiftedBetaGeometric": Case(ShiftedBetaGeometric, "cohort", lambda model, table: model.projected_survivors(3), {}),
    "ChurnRisk": Case(
        lambda: ChurnRisk(max_iter=30),
        "features",
        lambda model, table: model.predict_proba(table),
        {"churn_probability": lambda model, table: model.predict_proba(table)},
    ),
}


@pytest.fixture(scope="module")
def cdnow(data_dir) -> pd.DataFrame:
    table = pd.read_csv(data_dir / "cdnow_customers_summary_with_transactions.csv")
    return pd.DataFrame(
        {
            "customer_id": table["ID"].map("{:04d}".format),
            "frequency": table["x"],
            "recency": table["t_x"],
            "T": table["T"],
            "monetary_value": table["zbar"],
        }
    )


@pytest.fixture(scope="module")
def cohort(data_dir) -> pd.DataFrame:
    table = pd.read_csv(data_dir / "sbg_survivors.csv")
    return pd.DataFrame({"period": table["year"], "survivors": table["regular"]})


@pytest.fixture(scope="module")
def features(demo_features) -> pd.DataFrame:
    return demo_features


def _table(request: pytest.FixtureRequest, case: Case) -> pd.DataFrame:
    return request.getfixturevalue(case.table)


@pytest.fixture(scope="module")
def fitted(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    """Each model fitted once on its pandas table, for the tests that only ask it for predictions."""
    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            cache[name] = CASES[name].make().fit(_table(request, CASES[name]))
        return cache[name]

    return get


def _learned(model: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(model).items() if name.endswith("_")}


@pytest.mark.parametrize("name", CASES)
def test_init_stores_only_its_settings(name) -> None:
    model = CASES[name].make()
    settings = set(inspect.signature(type(model).__init__).parameters) - {"self"}
    assert set(vars(model)) == settings
    assert repr(model).startswith(type(model).__name__ + "(")


@pytest.mark.parametrize("name", CASES)
def test_an_unfitted_model_says_so(name, request) -> None:
    case = CASES[name]
    with pytest.raises(NotFittedError, match="is not fitted yet: call fit\\(\\) first") as raised:
        case.ask(case.make(), _table(request, case))
    assert isinstance(raised.value, AttributeError)


@pytest.mark.parametrize("name", CASES)
def test_fit_returns_self_and_learns_only_underscored_state(name, request) -> None:
    case = CASES[name]
    model = case.make()
    before = set(vars(model))
    assert model.fit(_table(request, case)) is model
    added = set(vars(model)) - before
    assert added and all(attribute.endswith("_") for attribute in added)
    assert repr(model).startswith(type(model).__name__ + "(")


@pytest.mark.parametrize("name", CASES)
def test_row_order_and_frame_kind_never_change_the_fit(name, request) -> None:
    case = CASES[name]
    table = _table(request, case)
    reference = _learned(case.make().fit(table))
    shuffled = table.sample(frac=1.0, random_state=7).reset_index(drop=True)
    for other in (shuffled, pl.from_pandas(shuffled), duckdb.from_df(shuffled)):
        again = _learned(case.make().fit(other))
        if name == "ChurnRisk":  # fitted scikit-learn objects: compare what they predict instead
            assert again["features_"] == reference["features_"]
            assert np.array_equal(again["typical_"], reference["typical_"], equal_nan=True)
        else:
            assert again["params_"] == reference["params_"]
            assert again["log_likelihood_"] == reference["log_likelihood_"]


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.table == "cdnow"])
def test_the_frame_path_and_the_array_path_fit_alike(name, cdnow) -> None:
    model = CASES[name].make()
    by_frame = type(model)().fit(cdnow)
    by_arrays = type(model)().fit_arrays(*(cdnow[column].to_numpy() for column in model.inputs))
    assert by_frame.params_ == by_arrays.params_


@pytest.mark.parametrize(
    ("name", "prediction"),
    [(name, prediction) for name, case in CASES.items() for prediction in case.predictions],
)
@pytest.mark.parametrize("kind", ["pandas", "polars", "duckdb"])
def test_predictions_are_keyed_by_customer_in_the_callers_kind(name, prediction, kind, request, fitted) -> None:
    case = CASES[name]
    table = _table(request, case)
    model = fitted(name)
    reference = case.predictions[prediction](model, table)
    assert isinstance(reference, pd.DataFrame)
    shuffled = table.sample(frac=1.0, random_state=3).reset_index(drop=True)
    native = {"pandas": shuffled, "polars": pl.from_pandas(shuffled), "duckdb": duckdb.from_df(shuffled)}[kind]
    found = case.predictions[prediction](model, native)
    assert isinstance(found, {"pandas": pd.DataFrame, "polars": pl.DataFrame, "duckdb": duckdb.DuckDBPyRelation}[kind])
    rows = kvar.rows_of(found)
    assert {"customer_id", prediction} <= set(rows[0])
    keys = ["customer_id", "observed_at"] if "observed_at" in rows[0] else ["customer_id"]
    got = {tuple(row[key] for key in keys): row[prediction] for row in rows}
    expected = {tuple(row[key] for key in keys): row[prediction] for row in kvar.rows_of(reference)}
    assert len(got) == len(table) and got == pytest.approx(expected, rel=1e-12)
