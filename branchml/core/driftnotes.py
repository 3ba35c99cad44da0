"""Sentences `monitor check` adds to its result (`notes`) where a figure alone would mislead:
a clear shift reading "no drift" because a default limit is off for a small training table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from branchml.core.drift import DEFAULT_LIMITS, DISTANCES, SMALL_REFERENCE

NAMED = 5  # feature names a note spells out before "..."
LABELS = {"wasserstein": "Wasserstein", "js": "Jensen-Shannon"}


def small_reference(features: Sequence[Mapping[str, Any]], train_rows: Mapping[str, int]
                    ) -> list[str]:
    """One sentence per distance (Wasserstein, Jensen-Shannon) whose default limit is off for
    some features because their training data has SMALL_REFERENCE rows or fewer (drift.limits_for):
    which features, how many training rows, and the config key that turns the limit on."""
    notes = []
    for key in DISTANCES:
        off = [f for f in features if f.get(key) is not None
               and key not in (f.get("thresholds") or {}) and DEFAULT_LIMITS[key] is not None
               and train_rows.get(str(f["feature"]), SMALL_REFERENCE + 1) <= SMALL_REFERENCE]
        if not off:
            continue
        names = [str(f["feature"]) for f in off]
        shown = ", ".join(names[:NAMED]) + (", ..." if len(names) > NAMED else "")
        rows = sorted({train_rows[n] for n in names})
        counted = f"{rows[0]:,}" if len(rows) == 1 else f"{rows[0]:,} to {rows[-1]:,}"
        notes.append(f"{shown} ({len(names)} feature{'s' if len(names) > 1 else ''}): no "
                     f"default {LABELS[key]} threshold, because the training data has "
                     f"{SMALL_REFERENCE:,} rows or fewer ({counted}); set "
                     f"monitor.thresholds.{key} to alert on it.")
    return notes
