"""Train on the train split, score on the validation split; run by `branchml train`.

The rows come from `branchml split rows` (here its Python twin), which records each request
in tracking/splits.jsonl: the leakage guard of `branchml tag` reads those records.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model

from branchml import api


def read_split(name: str, purpose: str, folder: Path) -> list[dict[str, str]]:
    out = folder / f"{name}.csv"
    api.split_rows(name, out, purpose)
    with open(out, newline="") as f:
        return list(csv.DictReader(f))


def score(fitted: dict[str, object], rows: list[dict[str, str]]) -> dict[str, float]:
    hits = [model.predict(fitted, r) == r[model.LABEL] for r in rows]
    malignant = [h for h, r in zip(hits, rows, strict=True) if r[model.LABEL] == "M"]
    return {"accuracy": round(sum(hits) / len(hits), 4),
            "recall_malignant": round(sum(malignant) / max(len(malignant), 1), 4)}


def log_mlflow(params: dict[str, object], metrics: dict[str, float]) -> None:
    """An MLflow run in ./mlruns when mlflow is installed; `branchml track` copies it to main."""
    try:
        import mlflow
    except ImportError:
        return
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no "creating experiment" chatter
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 opens file stores so
    mlflow.set_tracking_uri(Path("mlruns").resolve().as_uri())
    mlflow.set_experiment("breast-cancer")
    with mlflow.start_run():
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:  # outside the repository, gone after the run
        train = read_split("train", "train", Path(tmp))
        val = read_split("val", "evaluate", Path(tmp))
    fitted = model.fit(train)
    metrics = score(fitted, val)
    params = {**model.PARAMS, "train_rows": len(train)}
    Path("models").mkdir(exist_ok=True)
    Path("models/model.pkl").write_bytes(pickle.dumps(fitted, protocol=4))
    Path("tracking").mkdir(exist_ok=True)
    Path("tracking/metrics.json").write_text(json.dumps(metrics, sort_keys=True) + "\n")
    Path("tracking/params.json").write_text(json.dumps(params, sort_keys=True) + "\n")
    log_mlflow(params, metrics)
    print(f"trained {params['model']} on {len(train)} rows: "
          f"val accuracy {metrics['accuracy']}, malignant recall {metrics['recall_malignant']}")


if __name__ == "__main__":
    main()
