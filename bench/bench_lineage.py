"""Row lineage: `branchml lineage --rows` and `branchml impact` beside a plain Python baseline.

The repository (bench/lineagerepo.py): raw's history of --uploads uploads holding --rows rows
in git-lfs (new CSV files and files grown at their end), then `pull raw clean`, a cleaning
commit that drops and rewrites a few rows, `pull clean split`, `split --key customer`, `pull split
stable/model`, `split rows train`, a model, `tag --client acme` (acme-v1). It is kept in
bench/.work/ (--work) under the arguments and reused by a rerun (--rebuild makes it again).

Measured, each command its own process under /usr/bin/time (wall s, user + system CPU s,
peak RSS of its largest process): `branchml lineage models/model.bin --rev acme-v1 --rows
--json`, `branchml impact --from <the middle upload> --json`, `branchml impact --rows <1,000
rows> --json`, and the same three questions answered by bench/lineage_baseline.py (dicts and
sets of row bytes). The answers are compared (they must be equal) and each branchml figure is
judged against the issue's target: under 10 s and under 500 MiB (at 10M rows from 1,000
uploads).

  .venv/bin/python bench/bench_lineage.py [--rows 10000000] [--uploads 1000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from benchenv import BML, isolated
from lineagerepo import build

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "lineage_baseline.py"
LAYOUT = 2  # bump when lineagerepo.py builds a different repository: old caches are not reused
TARGET_S, TARGET_MIB = 10.0, 500.0


class Run(NamedTuple):
    seconds: float
    cpu: float  # user + system seconds: what a busy machine inflates least
    mib: float
    out: dict[str, Any]


def measured(args: list[str], cwd: Path) -> Run:
    """One child process under /usr/bin/time; exit 1 is `impact`'s "a release holds them"."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(["/usr/bin/time", "-o", t.name, "-f", "%e %U %S %M", *args],
                           cwd=cwd, capture_output=True, text=True)
        wall, user, system, rss = t.read().split()[-4:]
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args[:5])} ... failed ({p.returncode}): "
                         f"{p.stderr.strip()[-800:]}")
    return Run(float(wall), float(user) + float(system), int(rss) / 1024,
               json.loads(p.stdout))


def repository(work: Path, rows: int, uploads: int, rebuild: bool) -> dict[str, Any]:
    """The cached repository for these arguments, built when missing (into a temporary
    folder renamed at the end, so an interrupted build is never reused)."""
    where = work.resolve() / f"lineage-r{rows}-u{uploads}-v{LAYOUT}"
    if rebuild:
        shutil.rmtree(where, ignore_errors=True)
    if (where / "meta.json").exists():
        print(f"reusing the repository built earlier in {where} (--rebuild makes it again)")
        return json.loads((where / "meta.json").read_text())  # type: ignore[no-any-return]
    where.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=where.name + ".", dir=where.parent))
    print(f"building {rows:,} rows from {uploads:,} uploads in {where} ...", flush=True)
    took = measured_build(part, uploads, rows)
    meta = json.loads((part / "meta.json").read_text())
    for key in ("train", "withdraw", "repo"):  # the paths inside the final folder
        meta[key] = str(where / Path(meta[key]).relative_to(part))
    (part / "meta.json").write_text(json.dumps(meta))
    part.rename(where)
    print(f"built in {took:.0f} s: " + ", ".join(f"{k} {v:.1f} s"
                                                  for k, v in meta["steps"].items()))
    return meta  # type: ignore[no-any-return]


def measured_build(part: Path, uploads: int, rows: int) -> float:
    import time

    t = time.perf_counter()
    build(part, uploads, rows)
    return time.perf_counter() - t


def has_impact() -> bool:
    return subprocess.run([BML, "impact", "--help"], capture_output=True).returncode == 0


def questions(meta: dict[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    """Label -> (branchml's command, the baseline's)."""
    base = [sys.executable, str(BASELINE), meta["repo"], meta["train"]]
    return {
        "lineage models/model.bin --rev acme-v1 --rows":
            ([BML, "lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json"],
             [*base, "lineage"]),
        "impact --from <middle upload>":
            ([BML, "impact", "--from", meta["middle"], "--json"],
             [*base, "impact", "--from", meta["middle"]]),
        f"impact --rows <{Path(meta['withdraw']).name}>":
            ([BML, "impact", "--rows", meta["withdraw"], "--json"],
             [*base, "impact", "--rows", meta["withdraw"]]),
    }


def differences(ours: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """What branchml's answer says differently from the baseline's (the fields both give)."""
    if isinstance(base["rows"], dict):  # lineage
        a, b = ours["rows"], base["rows"]
        found = [f"{k}: {a.get(k)} != {b[k]}" for k in ("total", "matched", "unmatched")
                 if a.get(k) != b[k]]
        per = {u["commit"]: (u["rows"], u["upload_rows"]) for u in a.get("uploads", [])}
        want = {u["commit"]: (u["rows"], u["upload_rows"]) for u in b["uploads"]}
        wrong = [c for c in want.keys() | per.keys() if per.get(c) != want.get(c)]
        return found + ([f"{len(wrong)} upload(s) counted differently, e.g. {wrong[0][:10]}: "
                         f"{per.get(wrong[0])} != {want.get(wrong[0])}"] if wrong else [])
    found = [f"{k}: {ours.get(k)} != {base[k]}" for k in ("rows", "held")
             if ours.get(k) != base[k]]
    for k, name in (("releases", "tag"), ("branches", "branch"), ("splits", "split")):
        a = {x[name]: x["rows"] for x in ours.get(k, [])}
        b = {x[name]: x["rows"] for x in base[k]}
        found += [f"{k}: {a} != {b}"] if a != b else []
    return found


def verdict(run: Run) -> str:
    ok = run.seconds < TARGET_S and run.mib < TARGET_MIB
    return "PASS" if ok else "FAIL"


def table(runs: dict[str, tuple[Run | None, Run]], full: bool) -> None:
    print("\n| command | branchml s (CPU s) / MiB | baseline s (CPU s) / MiB "
          "| baseline / branchml time | baseline / branchml memory "
          "| target (< 10 s, < 500 MiB) |")
    print("|---|---|---|---|---|---|")
    for label, (ours, base) in runs.items():
        theirs = f"{base.seconds:.2f} ({base.cpu:.2f}) / {base.mib:.0f}"
        if ours is None:
            print(f"| {label} | (not in this tree) | {theirs} | | | |")
            continue
        judged = verdict(ours) if full else f"{verdict(ours)} (judged at 10M / 1,000 only)"
        print(f"| {label} | {ours.seconds:.2f} ({ours.cpu:.2f}) / {ours.mib:.0f} | {theirs} | "
              f"{base.seconds / ours.seconds:.2f}x | {base.mib / ours.mib:.2f}x | {judged} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows on raw, all uploads")
    ap.add_argument("--uploads", type=int, default=1_000, help="commits on raw")
    ap.add_argument("--quick", action="store_true", help="200,000 rows from 50 uploads")
    ap.add_argument("--rebuild", action="store_true", help="build the repository again")
    ap.add_argument("--work", type=Path, default=HERE / ".work",
                    help="where built repositories are kept (default bench/.work)")
    a = ap.parse_args()
    rows, uploads = (200_000, 50) if a.quick else (a.rows, a.uploads)
    load = os.getloadavg()[0]
    with isolated("lineage"):
        meta = repository(a.work, rows, uploads, a.rebuild)
        present = has_impact()
        if not present:
            print("`branchml impact` is not in this tree: only the baseline is measured.")
        runs: dict[str, tuple[Run | None, Run]] = {}
        wrong: list[str] = []
        for label, (ours_cmd, base_cmd) in questions(meta).items():
            ours = measured(ours_cmd, Path(meta["repo"])) if present else None
            base = measured(base_cmd, Path(meta["repo"]))
            runs[label] = (ours, base)
            wrong += [f"{label}: {d}" for d in (differences(ours.out, base.out)
                                                if ours else [])]
    table(runs, full=rows >= 10_000_000 and uploads >= 1_000)
    print(f"1-minute load average {load:.2f} before the run, {os.getloadavg()[0]:.2f} after "
          f"({os.cpu_count()} cores)")
    if present:
        print("same answers as the baseline" if not wrong else
              "DIFFERENT answers from the baseline:\n  " + "\n  ".join(wrong))
    raise SystemExit(1 if wrong else 0)


if __name__ == "__main__":
    main()
