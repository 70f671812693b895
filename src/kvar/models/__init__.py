"""Statistical models fitted on per-customer tables: CLV (BG/NBD, Pareto/NBD, Gamma-Gamma) and sBG."""

from kvar.errors import ConvergenceError, NotFittedError
from kvar.models.beta_geo import BetaGeo
from kvar.models.clv import discounted_clv
from kvar.models.gamma_gamma import GammaGamma
from kvar.models.pareto_nbd import ParetoNBD
from kvar.models.shifted_beta_geometric import ShiftedBetaGeometric

__all__ = [
    "BetaGeo",
    "ConvergenceError",
    "GammaGamma",
    "NotFittedError",
    "ParetoNBD",
    "ShiftedBetaGeometric",
    "discounted_clv",
]
