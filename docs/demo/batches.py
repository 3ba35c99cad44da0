"""Cut the dataset into what the demo uploads to raw.

  python batches.py 1 DIR   DIR/patients-2024-01.csv: rows 1-400 and three corrupt rows,
                            DIR/patients-2024-01-extra.csv: an empty file (a failed export)
  python batches.py 2 DIR   DIR/patients-2024-02.csv: rows 401-569, arriving later
  python batches.py prod FILE  production rows: batch 2's patients measured by a scanner
                            that reads sizes 40% larger, without the diagnosis (drift)
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "breast_cancer_wisconsin.csv"
FIRST = 400
SIZES = ("radius", "perimeter", "area")


def rows() -> tuple[list[str], list[list[str]]]:
    with open(DATA, newline="") as f:
        table = list(csv.reader(f))
    return table[0], table[1:]


def write(path: Path, header: list[str], body: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)


def corrupt(header: list[str], sample: list[str]) -> list[list[str]]:
    """What a real export gets wrong: a lost field, a text in a number, an unknown label."""
    short = ["9001", *sample[1:-2], sample[-1]]  # one field fewer than the header
    text = ["9002", *sample[1:4], "n/a", *sample[5:]]  # mean_area is not a number
    label = ["9003", *sample[1:-1], "X"]  # a diagnosis that is neither M nor B
    assert len(text) == len(label) == len(header) == len(short) + 1
    return [short, text, label]


def main(what: str, out: str) -> None:
    header, body = rows()
    if what == "1":
        folder = Path(out)
        write(folder / "patients-2024-01.csv", header, body[:FIRST] + corrupt(header, body[0]))
        (folder / "patients-2024-01-extra.csv").write_bytes(b"")
    elif what == "2":
        write(Path(out) / "patients-2024-02.csv", header, body[FIRST:])
    else:
        drop = header.index("diagnosis")
        cols = [c for c in header if c != "diagnosis"]
        scaled = [i for i, c in enumerate(header) if c.split("_", 1)[-1] in SIZES]
        prod = [[f"{float(v) * 1.4:.4g}" if i in scaled else v for i, v in enumerate(r)
                 if i != drop] for r in body[FIRST:]]
        write(Path(out), cols, prod)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
