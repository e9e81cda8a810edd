"""Prompt experiments (A/B tests of prompt template versions): cases with assertions, fair runs,
statistics, blind pairwise judging and an improvement loop. See `storynb.experiments.core`."""
from .assertions import STRUCTURAL, TYPES as ASSERTION_TYPES
from .cases import CaseSets
from .core import (LLM_STAGES, METRICS, RUBRIC, ABTests, Arm, ExperimentWarning, Regression,
                   Report)
from .heuristic import HEURISTIC_JUDGE, heuristic_judge
from .stats import Paired, mean_ci, paired, sign_test

__all__ = ["ABTests", "Arm", "CaseSets", "ExperimentWarning", "Regression", "Report", "Paired",
           "HEURISTIC_JUDGE", "heuristic_judge", "LLM_STAGES", "METRICS", "RUBRIC", "STRUCTURAL",
           "ASSERTION_TYPES", "mean_ci", "paired", "sign_test"]
