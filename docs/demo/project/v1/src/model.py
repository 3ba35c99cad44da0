"""Baseline: predict the diagnosis seen most often in training, whatever the row says.

Every later model must beat this number; a model that does not has learned nothing.
"""
from __future__ import annotations

from collections import Counter

LABEL = "diagnosis"
PARAMS = {"model": "majority"}


def fit(rows: list[dict[str, str]]) -> dict[str, object]:
    counts = Counter(row[LABEL] for row in rows)
    return {"kind": "majority", "label": counts.most_common(1)[0][0]}


def predict(model: dict[str, object], row: dict[str, str]) -> str:
    return str(model["label"])
