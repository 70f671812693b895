"""Fit times of the CLV models on CDNOW and on 1M simulated customers, and of the churn-risk booster.

Run: ``python benchmarks/bench_models.py`` (``--customers`` and ``--risk-rows`` change the sizes).
Reference libraries are timed when installed (lifetimes); the script says when they are not.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np

from kvar.models import BetaGeo, GammaGamma, ParetoNBD
from kvar.models.beta_geo import simulate_bgnbd

DATA = Path(__file__).parent.parent / "tests" / "data"


def timed(action, repeats: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def cdnow() -> dict[str, np.ndarray]:
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in ("x", "t_x", "T", "zbar")}


def reference_lifetimes(data: dict[str, np.ndarray]) -> None:
    try:
        import pandas as pd
        from lifetimes import BetaGeoFitter
    except Exception as error:  # noqa: BLE001 - any import failure means "not available here"
        print(f"  lifetimes: not available ({type(error).__name__}: {error})")
        return
    frame = pd.DataFrame({"frequency": data["x"], "recency": data["t_x"], "T": data["T"]})
    seconds, _ = timed(lambda: BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"]), repeats=3)
    print(f"  lifetimes BetaGeoFitter on CDNOW: {seconds * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--risk-rows", type=int, default=1_000_000)
    parser.add_argument("--risk-features", type=int, default=50)
    args = parser.parse_args()

    data = cdnow()
    print("CDNOW (2,357 customers, 39-week calibration)")
    for name, fit in (
        ("BG/NBD", lambda: BetaGeo().fit_arrays(data["x"], data["t_x"], data["T"])),
        ("Pareto/NBD", lambda: ParetoNBD().fit_arrays(data["x"], data["t_x"], data["T"])),
        ("Gamma-Gamma", lambda: GammaGamma().fit_arrays(data["x"], data["zbar"])),
    ):
        seconds, model = timed(fit)
        params = ", ".join(f"{k}={v:.4f}" for k, v in model.params_.items())
        print(f"  {name:<12} {seconds * 1000:7.1f} ms  {params}  LL={model.log_likelihood_:.2f}")
    reference_lifetimes(data)

    rng = np.random.default_rng(7)
    T = np.round(rng.uniform(30, 78, args.customers) * 7) / 7  # whole days, in weeks
    simulated = simulate_bgnbd(args.customers, 0.243, 4.414, 0.793, 2.426, T, seed=8)
    simulated["recency"] = np.round(simulated["recency"] * 7) / 7
    seconds, model = timed(
        lambda: BetaGeo().fit_arrays(simulated["frequency"], simulated["recency"], simulated["T"]), repeats=1
    )
    params = ", ".join(f"{k}={v:.4f}" for k, v in model.params_.items())
    print(
        f"BG/NBD on {args.customers:,} simulated customers (truth r=0.243 alpha=4.414 a=0.793 b=2.426): {seconds:.2f} s  {params}"
    )

    from sklearn.ensemble import HistGradientBoostingClassifier

    features = rng.normal(size=(args.risk_rows, args.risk_features)).astype(np.float32)
    logit = features[:, 0] * 1.5 - features[:, 1] + 0.5 * features[:, 2] * features[:, 3] - 2.5
    labels = rng.random(args.risk_rows) < 1 / (1 + np.exp(-logit))
    started = time.perf_counter()
    HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=0).fit(features, labels)
    print(
        f"churn booster (HistGradientBoosting, 200 trees) on {args.risk_rows:,} rows x {args.risk_features} features: {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
