"""riskdash configuration: the validated risk matrix and its safe regime-condition grammar."""

from config.conditions import ConditionError
from config.risk_matrix import RiskMatrix, RiskMatrixError, load_risk_matrix

__all__ = ["ConditionError", "RiskMatrix", "RiskMatrixError", "load_risk_matrix"]
