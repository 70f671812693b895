"""Statistical models fitted on per-customer tables: CLV (BG/NBD, Pareto/NBD, Gamma-Gamma), sBG and churn risk.

Every model follows one contract (tests/models/test_contract.py): settings in ``__init__``, ``fit(frame)``
returning the model (arrays through ``fit_arrays``), learned state ending in ``_``, ``NotFittedError``
before a fit, and per-customer predictions keyed by ``customer_id`` in the caller's kind of frame.
"""

from kvar.errors import ConvergenceError, NotFittedError
from kvar.models.beta_geo import BetaGeo
from kvar.models.churn_evaluation import Assessment, Evaluation, assess_churn_risk, evaluate, feature_importance
from kvar.models.churn_risk import ChurnRisk
from kvar.models.clv import CustomerValue, customer_value, discounted_clv
from kvar.models.gamma_gamma import GammaGamma
from kvar.models.pareto_nbd import ParetoNBD
from kvar.models.shifted_beta_geometric import ShiftedBetaGeometric

__all__ = [
    "Assessment",
    "BetaGeo",
    "ChurnRisk",
    "ConvergenceError",
    "CustomerValue",
    "Evaluation",
    "GammaGamma",
    "NotFittedError",
    "ParetoNBD",
    "ShiftedBetaGeometric",
    "assess_churn_risk",
    "customer_value",
    "discounted_clv",
    "evaluate",
    "feature_importance",
]
