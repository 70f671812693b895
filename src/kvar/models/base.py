"""Maximum-likelihood fitting shared by the customer-base models.

A model declares its parameter names (the paper's symbols), a start point and a vectorised
log-likelihood over *compressed* data (unique rows with a ``weight`` = how many customers share them).
This base class does the rest, as lifelines' fitters do: optimisation on the log scale (parameters are
positive), the observed-information standard errors, a summary table and a printed summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, cast

import numpy as np
import pyarrow as pa
from scipy import optimize

from kvar.errors import ConvergenceError, InputError, ModelFitError, NotFittedError
from kvar.i18n import tr
from kvar.metrics.frames import arrow_like, table_of


def require_fit(model: object, attribute: str) -> None:
    """:class:`~kvar.errors.NotFittedError` unless ``model`` has its learned ``attribute`` (set by ``fit``)."""
    if not hasattr(model, attribute):
        raise NotFittedError(tr("{name} is not fitted yet: call fit() first").format(name=type(model).__name__))


@dataclass(frozen=True)
class Fitted:
    """Learned state of a maximum-likelihood fit."""

    params: dict[str, float]
    standard_errors: dict[str, float]
    log_likelihood: float
    iterations: int


class MaximumLikelihoodModel:
    """Base of BG/NBD, Pareto/NBD, Gamma-Gamma and sBG: subclasses declare, this class fits.

    Subclasses set :attr:`param_names`, :attr:`initial` and :attr:`inputs`, and implement
    :meth:`_log_likelihoods` (per compressed row, natural parameters) and ``fit_arrays`` (input checks,
    compression, then :meth:`_fit`). :meth:`fit` on a frame reads the columns and calls ``fit_arrays``.
    """

    param_names: ClassVar[tuple[str, ...]] = ()
    initial: ClassVar[tuple[float, ...]] = ()
    paper: ClassVar[str] = ""
    #: The per-customer summary columns :meth:`fit` reads, in the order :meth:`fit_arrays` takes them.
    inputs: ClassVar[tuple[str, ...]] = ()
    #: Shape parameters past which the mixing distribution has no spread left: the fit has run off to the
    #: edge of the parameter space because the model's assumptions do not hold for the data.
    degenerate_above: ClassVar[dict[str, float]] = {}
    #: What to use instead when the model does not fit (one sentence for the error message).
    instead: ClassVar[str] = ""
    #: Each model's explicit array path: one checked array per name of :attr:`inputs`, returns the model.
    fit_arrays: Callable[..., Any]

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def __repr__(self) -> str:
        state = ", ".join(f"{name}={value:.4g}" for name, value in self.params_.items()) if self._fitted() else ""
        return f"{type(self).__name__}({state or f'penalizer={self.penalizer}'})"

    def fit(self, summary: Any) -> Self:
        """Fit on a per-customer table (any frame kvar accepts) holding the columns of :attr:`inputs`.

        Arrays go through :meth:`fit_arrays` instead; the two paths give the same fit.
        """
        columns = summary_columns(summary, self.inputs)
        return cast(Self, self.fit_arrays(*(columns[name] for name in self.inputs)))

    def _per_customer(self, summary: Any, predict: Callable[..., np.ndarray], name: str) -> Any:
        """``predict`` applied to the summary's :attr:`inputs`, as a frame of the summary's kind with columns
        ``customer_id`` and ``name``, one row per customer in ``customer_id`` order."""
        self._require_fit()
        ids, columns = customer_columns(summary, self.inputs)
        values = predict(*(columns[column] for column in self.inputs))
        return arrow_like(summary, pa.table({"customer_id": ids, name: np.asarray(values, dtype=float)}))

    def _log_likelihoods(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _log_likelihood_gradients(
        self, params: np.ndarray, data: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Optional: per-row log-likelihoods and their gradients (parameters x rows)."""
        raise NotImplementedError

    def _has_gradient(self) -> bool:
        return type(self)._log_likelihood_gradients is not MaximumLikelihoodModel._log_likelihood_gradients

    def _total(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> float:
        values = self._log_likelihoods(params, data)
        return float(np.dot(data["weight"], values))

    def _fit(self, data: dict[str, np.ndarray]) -> Fitted:
        with np.errstate(all="ignore"):  # trial points outside the likelihood's domain are rejected, not reported
            return self._maximise(data)

    def _maximise(self, data: dict[str, np.ndarray]) -> Fitted:
        def objective(log_params: np.ndarray) -> float:
            params = np.exp(log_params)
            value = self._total(params, data)
            if not np.isfinite(value):
                return 1e300
            return -value / total_weight + self.penalizer * float(np.sum(params**2))

        def objective_and_gradient(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            values, gradients = self._log_likelihood_gradients(params, data)
            value = float(np.dot(data["weight"], values))
            if not np.isfinite(value):
                return 1e300, np.zeros_like(params)
            gradient = (gradients @ data["weight"]) * params  # chain rule for the log scale
            penalty = self.penalizer * float(np.sum(params**2))
            return -value / total_weight + penalty, -gradient / total_weight + 2 * self.penalizer * params**2

        total_weight = float(np.sum(data["weight"]))
        start = np.log(np.asarray(self.initial, dtype=float))
        options = {"ftol": 1e-12, "gtol": 1e-8, "maxiter": 2000}
        if self._has_gradient():
            result = optimize.minimize(objective_and_gradient, start, jac=True, method="L-BFGS-B", options=options)
        else:
            result = optimize.minimize(objective, start, method="L-BFGS-B", options=options)
        if not result.success or not np.all(np.isfinite(result.x)):
            # A search that ran off to the edge of the parameter space stays there: say so without polishing.
            if np.all(np.isfinite(result.x)):
                self._refuse_runaway(np.exp(result.x))
            polished = optimize.minimize(
                objective, result.x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}
            )
            if not polished.success:
                raise ConvergenceError(
                    f"{type(self).__name__}: the likelihood has no maximum on these data. {self.instead}".strip()
                )
            result = polished
        self._refuse_runaway(np.exp(result.x))
        params = np.exp(result.x)
        log_likelihood = self._total(params, data)
        errors = self._standard_errors(params, data)
        return Fitted(
            params=dict(zip(self.param_names, params.tolist(), strict=True)),
            standard_errors=dict(zip(self.param_names, errors.tolist(), strict=True)),
            log_likelihood=log_likelihood,
            iterations=int(result.nit),
        )

    def _refuse_runaway(self, params: np.ndarray) -> None:
        """:class:`ModelFitError` when a shape parameter is past :attr:`degenerate_above`."""
        fitted = dict(zip(self.param_names, params.tolist(), strict=True))
        runaway = {name: fitted[name] for name, limit in self.degenerate_above.items() if fitted[name] > limit}
        if runaway:
            shown = ", ".join(f"{name}={value:.3g}" for name, value in runaway.items())
            raise ModelFitError(
                f"{type(self).__name__} does not fit these data: {shown} ran off to the edge of the parameter space "
                f"(no spread left between customers). {self.instead}".strip()
            )

    def _standard_errors(self, params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """Square roots of the diagonal of the inverse observed information (central differences)."""
        size = len(params)
        steps = 1e-4 * np.maximum(np.abs(params), 1e-3)
        hessian = np.empty((size, size))
        if self._has_gradient():
            for i in range(size):
                up, down = params.copy(), params.copy()
                up[i] += steps[i]
                down[i] -= steps[i]
                difference = self._log_likelihood_gradients(up, data)[1] - self._log_likelihood_gradients(down, data)[1]
                hessian[:, i] = (difference @ data["weight"]) / (2 * steps[i])
            hessian = (hessian + hessian.T) / 2
            return self._errors_from_hessian(hessian)
        for i in range(size):
            for j in range(i, size):
                shifts = []
                for di, dj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    point = params.copy()
                    point[i] += di * steps[i]
                    point[j] += dj * steps[j]
                    shifts.append(self._total(point, data))
                value = (shifts[0] - shifts[1] - shifts[2] + shifts[3]) / (4 * steps[i] * steps[j])
                hessian[i, j] = hessian[j, i] = value
        return self._errors_from_hessian(hessian)

    @staticmethod
    def _errors_from_hessian(hessian: np.ndarray) -> np.ndarray:
        try:
            covariance = np.linalg.inv(-hessian)
        except np.linalg.LinAlgError:
            return np.full(len(hessian), np.nan)
        return np.sqrt(np.clip(np.diag(covariance), 0, None))

    def _set(self, fitted: Fitted) -> None:
        self.params_ = fitted.params
        self.standard_errors_ = fitted.standard_errors
        self.log_likelihood_ = fitted.log_likelihood
        self.iterations_ = fitted.iterations

    def _fitted(self) -> bool:
        return hasattr(self, "params_")

    def _require_fit(self) -> None:
        require_fit(self, "params_")

    def _param_array(self) -> np.ndarray:
        self._require_fit()
        return np.array([self.params_[name] for name in self.param_names])

    @property
    def summary(self) -> list[dict[str, Any]]:
        """One row per parameter: estimate, standard error and 95 % interval."""
        self._require_fit()
        rows = []
        for name in self.param_names:
            estimate, error = self.params_[name], self.standard_errors_[name]
            rows.append(
                {
                    "parameter": name,
                    "estimate": estimate,
                    "standard_error": error,
                    "lower_95": estimate - 1.96 * error,
                    "upper_95": estimate + 1.96 * error,
                }
            )
        return rows

    def print_summary(self) -> None:
        """Print the fitted parameters with their standard errors."""
        self._require_fit()
        lines = [f"{type(self).__name__} ({self.paper})", f"log-likelihood = {self.log_likelihood_:.2f}"]
        lines += [
            f"  {row['parameter']:>6} = {row['estimate']:.4f}  (se {row['standard_error']:.4f})" for row in self.summary
        ]
        print("\n".join(lines))


class PurchaseModel(MaximumLikelihoodModel):
    """A model of repeat buying fitted on ``frequency``, ``recency``, ``T`` (BG/NBD, Pareto/NBD): the frame
    predictions are written once here over each model's ``*_arrays`` formulas."""

    inputs: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")

    def probability_alive_arrays(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def expected_purchases_arrays(
        self, t: float, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def probability_alive(self, summary: Any) -> Any:
        """Per customer of ``summary`` (a frame like :meth:`fit`'s): ``customer_id``, ``probability_alive``."""
        return self._per_customer(summary, self.probability_alive_arrays, "probability_alive")

    def expected_purchases(self, summary: Any, t: float) -> Any:
        """Per customer of ``summary``: ``customer_id``, ``expected_purchases`` in the next ``t`` time units."""
        return self._per_customer(
            summary, lambda *columns: self.expected_purchases_arrays(t, *columns), "expected_purchases"
        )


def compress(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Unique rows of ``columns`` with a ``weight`` column counting them (sufficient statistics)."""
    arrays = [np.asarray(values, dtype=float) for values in columns.values()]
    order = np.lexsort(arrays[::-1])
    ordered = [array[order] for array in arrays]
    changed = np.zeros(len(order), dtype=bool)
    changed[0:1] = True
    for array in ordered:
        changed[1:] |= array[1:] != array[:-1]
    starts = np.flatnonzero(changed)
    out = {name: array[starts] for name, array in zip(columns, ordered, strict=True)}
    out["weight"] = np.diff(np.append(starts, len(order))).astype(float)
    return out


def as_float_array(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise InputError(
            tr("{name}: expected a one-dimensional column, got shape {shape}").format(name=name, shape=array.shape)
        )
    if not np.all(np.isfinite(array)):
        raise InputError(tr("{name}: expected finite numbers, found NaN or infinity").format(name=name))
    return array


def summary_columns(summary: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Columns of a per-customer table (any frame kvar accepts) as checked NumPy arrays."""
    return customer_columns(summary, names, keyed=False)[1]


def customer_columns(
    summary: Any, names: tuple[str, ...], *, keyed: bool = True
) -> tuple[pa.Array, dict[str, np.ndarray]]:
    """``customer_id`` and ``names`` of a per-customer table as arrays, in ``customer_id`` order (so that a
    prediction never depends on row order). Without ``keyed`` the ids are neither required nor read."""
    key = ["customer_id"] if keyed else []
    frame, _ = table_of(summary, "customer summary", [*key, *names])
    selected = frame.select(*key, *names)
    table = (selected.sort("customer_id") if keyed else selected).collect(backend="pyarrow").to_native()
    columns = {name: as_float_array(table.column(name).to_numpy(zero_copy_only=False), name) for name in names}
    return (table.column("customer_id") if keyed else pa.array([])), columns


def rfm_arrays(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked frequency, recency and T arrays (:func:`check_rfm`)."""
    x, t_x, big_t = (as_float_array(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T")))
    check_rfm(x, t_x, big_t)
    return x, t_x, big_t


def check_rfm(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> None:
    """Frequency, recency, T must be consistent: 0 <= recency <= T, frequency >= 0, recency 0 if x = 0."""
    problems = []
    if np.any(frequency < 0) or np.any(frequency != np.floor(frequency)):
        problems.append("frequency must be whole numbers >= 0")
    if np.any(recency < 0) or np.any(recency > T + 1e-9):
        problems.append("recency must lie between 0 and T")
    if np.any((frequency == 0) & (recency != 0)):
        problems.append("recency must be 0 when frequency is 0")
    if problems:
        raise InputError("customer summary: " + "; ".join(problems))
    if len(frequency) < 10:
        raise InputError(
            tr("too few customers to fit a model: {customers} (need at least 10)").format(customers=len(frequency))
        )
    if not np.any(frequency > 0):
        raise InputError(tr("every customer has frequency 0: no repeat purchases to learn from"))
