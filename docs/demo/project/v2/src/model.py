"""Nearest centroid: scale every feature by its training mean and spread, then predict the
diagnosis whose average row is closest. Plain Python, no dependency."""
from __future__ import annotations

import math

LABEL = "diagnosis"
KEY = "id"
PARAMS = {"model": "nearest_centroid", "scaling": "z-score"}


def features(rows: list[dict[str, str]]) -> list[str]:
    return [c for c in rows[0] if c not in (LABEL, KEY)]


def fit(rows: list[dict[str, str]]) -> dict[str, object]:
    cols = features(rows)
    mean = {c: sum(float(r[c]) for r in rows) / len(rows) for c in cols}
    spread = {c: math.sqrt(sum((float(r[c]) - mean[c]) ** 2 for r in rows) / len(rows)) or 1.0
              for c in cols}
    centroids = {}
    for label in sorted({r[LABEL] for r in rows}):
        mine = [r for r in rows if r[LABEL] == label]
        centroids[label] = {c: sum((float(r[c]) - mean[c]) / spread[c] for r in mine) / len(mine)
                            for c in cols}
    return {"kind": "nearest_centroid", "mean": mean, "spread": spread, "centroids": centroids}


def predict(model: dict[str, object], row: dict[str, str]) -> str:
    mean, spread = model["mean"], model["spread"]
    centroids = model["centroids"]
    assert isinstance(mean, dict) and isinstance(spread, dict) and isinstance(centroids, dict)
    z = {c: (float(row[c]) - mean[c]) / spread[c] for c in mean}
    return min(centroids, key=lambda lab: sum((z[c] - centroids[lab][c]) ** 2 for c in z))
