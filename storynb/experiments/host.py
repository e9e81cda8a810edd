"""What the mixins of ABTests (Judging, Improving, Reading) use of each other and of ABTests,
declared for the type checker only: at run time `Host` is an empty base class."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Literal, overload

if TYPE_CHECKING:
    import pandas as pd
    import sqlite_utils

    from ..studio import Studio
    from .report import Report


class Host:
    if TYPE_CHECKING:
        studio: Studio
        db: sqlite_utils.Database

        def _row(self, run_id: int) -> dict: ...

        def _rows(self, experiment: str) -> list[dict]: ...

        def _current_rows(self, experiment: str, config: str = "current") -> list[dict]: ...

        @overload
        def _experiment_row(self, experiment: str, *, missing_ok: Literal[False] = False) -> dict: ...

        @overload
        def _experiment_row(self, experiment: str, *, missing_ok: bool) -> dict | None: ...

        def _experiment_row(self, experiment: str, *, missing_ok: bool = False) -> dict | None: ...

        def _order(self, experiment: str, labels: Iterable[str]) -> list[str]: ...

        def _baseline(self, experiment: str, labels: list[str]) -> str: ...

        def _cost(self, call_ids: Iterable[int | None]) -> float: ...

        def _judge_provider(self, name: str | None, generator: Any, *, what: str) -> Any: ...

        def results(self, experiment: str, *, config: str = "current") -> pd.DataFrame: ...

        def judgments(self, experiment: str, *, kind: str | None = None,
                      history: bool = False) -> pd.DataFrame: ...

        def report(self, experiment: str, *, metric: str | None = None,
                   baseline: str | None = None) -> Report: ...

        def _stats(self, frame: pd.DataFrame, metric: str,
                   order: list[str] | None = None) -> pd.DataFrame: ...
