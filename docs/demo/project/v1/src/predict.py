"""Serve the model on a file: python src/predict.py IN.csv OUT.csv writes IN's rows plus a
`prediction` column, 1 for malignant and 0 for benign (what production logs to the monitoring
branch; monitoring summarises predictions as numbers)."""
from __future__ import annotations

import csv
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model


def main(src: str, dst: str) -> None:
    # The model this checkout committed itself (stable/model, in git-lfs): our own pickle.
    fitted = pickle.loads(Path("models/model.pkl").read_bytes())  # noqa: S301
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, [*rows[0], "prediction"], lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({**row, "prediction": int(model.predict(fitted, row) == "M")})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
