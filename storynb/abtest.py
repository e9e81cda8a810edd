"""A/B runs of prompt template versions (kept for existing code; the engine now lives in
`storynb.experiments`)."""
from .experiments import *  # noqa: F401,F403
from .experiments import __all__  # noqa: F401
from .experiments.judging import JUDGE_PROMPT  # noqa: F401
