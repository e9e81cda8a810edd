"""Prompt experiments (A/B tests of prompt template versions): cases with assertions, fair runs,
statistics, blind pairwise judging and an improvement loop.

core.py runs (ABTests), judging.py judges, report.py reads and reports, improve.py suggests and
guards against regressions, cases.py holds the case sets, stats.py the statistics, cli.py is
`storynb ab`."""
from .assertions import STRUCTURAL, TYPES as ASSERTION_TYPES
from .cases import CaseSets
from .core import LLM_STAGES, ABTests, Arm, ExperimentWarning
from .heuristic import HEURISTIC_JUDGE, heuristic_judge
from .improve import Regression
from .judging import RUBRIC
from .report import METRICS, Report
from .stats import Paired, mean_ci, paired, sign_test

__all__ = ["ABTests", "Arm", "CaseSets", "ExperimentWarning", "Regression", "Report", "Paired",
           "HEURISTIC_JUDGE", "heuristic_judge", "LLM_STAGES", "METRICS", "RUBRIC", "STRUCTURAL",
           "ASSERTION_TYPES", "mean_ci", "paired", "sign_test"]
