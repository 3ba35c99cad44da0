"""`branchml monitor check` side by side with Evidently 0.7.23 on the same CSVs, and
`branchml monitor log` time and memory.

Data (made in the bench's temporary folder): training 200,000 rows x 20 numeric features
(f0-f19) and one categorical (cat), plus the label; production --rows rows (1,000,000 by
default) with the prediction, drift injected in six columns (DRIFT). Every command runs in a
child process measured by /usr/bin/time (wall, CPU, peak RSS). Evidently is installed by the
bench into .venv-evidently at the repository root (reused when there; skipped with a sentence
when it cannot be installed) and runs bench/evidently_side.py there: its default
DataDriftPreset (with and without its HTML) and the num_method "psi" and "ks" variants.
The figures are then checked against an exact recomputation on every row (SciPy, in that
virtualenv, not timed).

Run: `.venv/bin/python bench/bench_monitor.py [--rows N] [--log-rows N]` (part of `make
bench`); --log-rows 10000000 also times `monitor log` of a file of that many rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from benchenv import BML, isolated
from monitorfigures import Run, print_tables  # DRIFT there: what block() injects

ROOT = Path(__file__).resolve().parents[1]
SIDE = Path(__file__).resolve().parent / "evidently_side.py"
EVIDENTLY = ROOT / ".venv-evidently"
PINS = ["evidently==0.7.23", "pandas<3"]  # 0.7.23 does not import with pandas 3
TRAIN_ROWS = 200_000
BLOCK = 100_000
CATS = ["a", "b", "c", "d", "e"]


def sh(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def measured(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """One child process under /usr/bin/time; a failure (other than exit 1, a drift alert)
    stops the bench with the command's own last words."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(["/usr/bin/time", "-o", t.name, "-f", "%e %U %S %M", *args],
                           cwd=cwd, capture_output=True, text=True, env=env)
        wall, user, system, rss = t.read().split()[-4:]
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args[:4])} ... failed ({p.returncode}): "
                         f"{p.stderr.strip()[-600:]}")
    return Run(float(wall), float(user) + float(system), int(rss) / 1024, p.returncode,
               p.stdout)


def block(rng: np.random.Generator, n: int, drifted: bool) -> tuple[Any, list[str]]:
    """n rows of f0-f19 and the categorical column; drifted: production with DRIFT."""
    x = np.empty((n, 20))
    x[:, 0] = rng.normal(0.5 if drifted else 0.0, 1, n)
    x[:, 1] = rng.normal(0, 1.5 if drifted else 1.0, n)
    x[:, 2] = rng.normal(0.15 if drifted else 0.0, 1, n)
    x[:, 3] = rng.lognormal(0, 0.5, n) * (1.3 if drifted else 1.0)
    x[:, 4] = rng.poisson(4 if drifted else 3, n)
    x[:, 5] = rng.uniform(0, 1, n)
    x[:, 6] = rng.exponential(1, n)
    x[:, 7] = rng.integers(0, 10, n)
    for i in range(8, 20):
        x[:, i] = rng.normal(i, 1 + i % 3, n)
    shares = [0.25, 0.25, 0.2, 0.15, 0.15] if drifted else [0.4, 0.25, 0.15, 0.12, 0.08]
    return x, [CATS[i] for i in rng.choice(len(CATS), n, p=shares)]


def write_csv(path: Path, rows: int, drifted: bool, seed: int) -> None:
    """Training (label) or production (prediction) CSV, written 100,000 rows at a time."""
    rng = np.random.default_rng(seed)
    last = "prediction" if drifted else "label"
    with path.open("w") as f:
        f.write(",".join([f"f{i}" for i in range(20)] + [last, "cat"]) + "\n")
        for lo in range(0, rows, BLOCK):
            x, cats = block(rng, min(BLOCK, rows - lo), drifted)
            score = 1 / (1 + np.exp(-(x[:, 0] - x[:, 2] + 0.3 * x[:, 4] - 1)))
            y = score if drifted else (rng.uniform(0, 1, len(score)) < score).astype(float)
            lines = _formatted(np.column_stack([x, y])).splitlines()
            f.write("\n".join(f"{a},{c}" for a, c in zip(lines, cats, strict=True)) + "\n")


def _formatted(x: Any) -> str:
    import io

    buf = io.StringIO()
    np.savetxt(buf, x, fmt=["%.4f"] * 4 + ["%d"] + ["%.4f"] * 2 + ["%d"] + ["%.4f"] * 13,
               delimiter=",")
    return buf.getvalue()


def repeated(src: Path, dest: Path, rows: int) -> None:
    """A file of `rows` rows made of src's rows over and over (the time and memory of
    `monitor log` do not depend on the values; writing 10M fresh rows takes minutes)."""
    with src.open("rb") as f:
        header = f.readline()
        body = f.read()
    per = body.count(b"\n")
    with dest.open("wb") as out:
        out.write(header)
        for _ in range(rows // per):
            out.write(body)
        rest = rows % per
        if rest:
            out.write(b"".join(body.splitlines(keepends=True)[:rest]))


def evidently_python() -> Path | None:
    """.venv-evidently/bin/python with Evidently 0.7.23 (made once, then reused), or None
    with one printed sentence when it cannot be installed."""
    python = EVIDENTLY / "bin" / "python"
    probe = [str(python), "-c", "import evidently, scipy; print(evidently.__version__)"]
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    if python.exists() and subprocess.run(probe, capture_output=True, text=True, env=env
                                          ).stdout.strip() == "0.7.23":
        return python
    print(f"installing {' '.join(PINS)} into {EVIDENTLY} (once) ...", flush=True)
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(EVIDENTLY)],
                          capture_output=True, text=True)
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], env=env,
                         capture_output=True, text=True) if made.returncode == 0 else made
    if pip.returncode != 0:
        last = (pip.stderr.strip().splitlines() or ["no message"])[-1]
        print(f"Evidently is left out: it could not be installed into {EVIDENTLY} ({last}).")
        return None
    return python


def setup(root: Path, train: Path) -> Path:
    """A project whose release acme-v1 was trained on `train` (data/train.csv on raw)."""
    repo = root / "p"
    sh([BML, "init", str(repo), "--no-hooks"], root)
    cfg = (repo / "branchml.yaml").read_text().replace("  target: null", "  target: label")
    (repo / "branchml.yaml").write_text(cfg)
    sh(["git", "commit", "-qam", "target"], repo)
    sh(["git", "checkout", "-q", "raw"], repo)
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_bytes(train.read_bytes())
    sh(["git", "add", "data"], repo)
    sh(["git", "commit", "-qm", "train"], repo)
    sh([BML, "pull", "raw", "stable/model"], repo)
    sh(["git", "checkout", "-q", "stable/model"], repo)
    (repo / "models").mkdir()
    (repo / "models" / "m.bin").write_bytes(b"w")
    sh(["git", "add", "models"], repo)
    sh(["git", "commit", "-qm", "model"], repo)
    sh([BML, "tag", "--client", "acme"], repo)
    sh(["git", "checkout", "-q", "main"], repo)
    return repo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="production rows")
    ap.add_argument("--log-rows", type=int, default=0,
                    help="also time `monitor log` of a file of this many rows")
    ap.add_argument("--no-evidently", action="store_true", help="branchml alone")
    args = ap.parse_args()
    python = None if args.no_evidently else evidently_python()
    with isolated("mon") as root:
        train, prod = root / "train.csv", root / "prod.csv"
        write_csv(train, TRAIN_ROWS, False, 1)
        write_csv(prod, args.rows, True, 2)
        repo = setup(root, train)
        log = measured([BML, "monitor", "log", str(prod), "--client", "acme", "--tag",
                        "acme-v1"], repo)
        check = [BML, "monitor", "check", "--tag", "acme-v1", "--json"]
        runs = {"branchml monitor check --json": measured(check, repo),
                "branchml monitor check --json --report r.html":
                    measured([*check, "--report", str(root / "r.html")], repo)}
        report = json.loads(runs["branchml monitor check --json"].out)
        found = evidently(python, root, train, prod, report, runs) if python else None
        logs = {args.rows: log}
        if args.log_rows:
            big = root / "prod-big.csv"
            repeated(prod, big, args.log_rows)
            logs[args.log_rows] = measured([BML, "monitor", "log", str(big), "--client",
                                            "acme", "--tag", "acme-v1"], repo)
        print_tables(args.rows, prod.stat().st_size / 2**20, runs, logs, report, found)
        pages = [(n, root / f) for n, f in (("branchml", "r.html"), ("Evidently",
                                                                    "evidently.html"))]
        print("HTML reports: " + ", ".join(f"{n} {p.stat().st_size / 2**10:,.0f} KiB"
                                           for n, p in pages if p.exists()))


def evidently(python: Path, root: Path, train: Path, prod: Path, report: dict[str, Any],
              runs: dict[str, Run]) -> dict[str, Any]:
    """Evidently's runs (timed) and the exact figures (not timed): {"default": columns, ...,
    "exact": {column: figures}}."""
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    found: dict[str, Any] = {}
    for label, method, html in (("default", None, False), ("default", None, True),
                                ("psi", "psi", False), ("ks", "ks", False)):
        out = root / f"evidently-{label}.json"
        cmd = [str(python), str(SIDE), "run", str(train), str(prod), str(out)]
        cmd += ["--method", method] if method else []
        cmd += ["--html", str(root / "evidently.html")] if html else []
        name = f"Evidently DataDriftPreset ({'num_method=' + method if method else 'default'}"
        runs[name + (", HTML)" if html else ")")] = measured(cmd, root, env)
        found[label] = json.loads(out.read_text())
    edges = {}  # branchml's bins, when its result names them (issue 19): inner edges
    for f in report["features"]:
        if f.get("kind") == "numeric" and f.get("edges"):
            edges[f["feature"]] = f["edges"][1:-1]
        elif f.get("categories"):
            edges[f["feature"]] = [c for c in f["categories"] if c != "(other)"]
    (root / "edges.json").write_text(json.dumps(edges))
    sh([str(python), str(SIDE), "exact", str(train), str(prod), str(root / "exact.json"),
        "--edges", str(root / "edges.json")], root)
    found["exact"] = json.loads((root / "exact.json").read_text())
    return found


if __name__ == "__main__":
    main()
