"""Which way a metric sorts: losses and errors ascending, scores descending, by name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# A metric named by one of these words (as a whole word of the name: `val_loss`, `test-rmse`,
# `error_rate`, `logloss`) is better when lower; any other metric is better when higher.
LOWER_IS_BETTER = ("loss", "logloss", "error", "err", "mse", "rmse", "mae", "mape", "smape",
                   "msle", "rmsle", "wer", "cer", "perplexity", "ppl", "brier", "cost",
                   "latency", "regret", "deviance", "distance", "fpr", "fnr")
_WORDS = re.compile(r"[a-z0-9]+")


def lower_is_better(metric: str) -> bool:
    """Whether `metric` is a loss or an error by its name (split at `_`, `-`, `.`, `/`,
    spaces and case changes: `valLoss` is `val loss`)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", metric).lower()
    return any(word in LOWER_IS_BETTER or word.endswith("loss")
               for word in _WORDS.findall(spaced))


def sort_runs(rows: Sequence[Mapping[str, Any]], metric: str, ascending: bool | None = None
              ) -> list[Mapping[str, Any]]:
    """`rows` best first by `metric`: ascending when asked, else by the metric's name. A run
    without the metric, or whose value is not a number, goes last whichever the direction;
    ties keep their order (newest first)."""
    up = lower_is_better(metric) if ascending is None else ascending
    numbered: list[tuple[float, Mapping[str, Any]]] = []
    rest: list[Mapping[str, Any]] = []
    for r in rows:
        value = _number((r.get("metrics") or {}).get(metric))
        if value is None:
            rest.append(r)
        else:
            numbered.append((value, r))
    numbered.sort(key=lambda p: p[0] if up else -p[0])
    return [r for _, r in numbered] + rest


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        n = float(value)
    except ValueError:
        return None
    return None if n != n else n  # NaN sorts nowhere: last
