"""Removals carried on pulls (issue 18): `branchml pull clean split` with pulls.carry_removals
(the default) against the same pull with it off and against plain git's merge.

A CSV (`id,store,amount,label`) with a header and N rows (default 1,000,000) on clean, pulled
to split; then clean appends N/2 new rows and, in case B, removes K rows (default 10) from the
middle (case A: append only, the prefix fast path). The repositories are made on the spot
with `branchml init` (data in git-lfs) and `branchml init --no-lfs` (plain blobs); on each:
- (1) `branchml pull clean split` with the default carry pairs;
- (2) the same with `pulls.carry_removals: []` in main's branchml.yaml (append never
  deletes): main is moved between the two config commits before each run;
- (3) the peer: `git merge clean` on split in a plain git copy of the same history, without
  branchml's .gitattributes merge drivers, so git's own three-way merge decides (split did
  not change the file since the last pull, so git takes clean's version: removals included).
Time (s, median of --repeat interleaved runs, each from the same start, after one untimed
run of each that caches the parsed config) and peak RSS (MiB, of
all the command's processes, one more sampled run; and of its largest process) as in
bench_merge.py, with the ratios carry / no-carry and git / carry. In case B the split file of
(1) and (3) must be the same bytes ("same result" / "differ") and (2) must keep the removed
rows.

Run: `.venv/bin/python bench/bench_carry.py [--rows N] [--remove K] [--repeat R]`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import NamedTuple

from bench_merge import forget_object, git_out, measured, sh, write_rows
from benchenv import BML, isolated

CSV = "data/sales.csv"


def removed_ids(rows: int, k: int) -> list[int]:
    """K ids spread over the middle half of the file."""
    step = max(1, rows // (2 * max(k, 1)))
    return [rows // 4 + i * step for i in range(min(k, rows // 2))]


def row_bytes(i: int) -> bytes:
    """Row `i` as write_rows writes it."""
    return f"{i},s{i % 97},{(i * 7919) % 100000 / 100:.2f},l{i % 3}\n".encode()


def make_data(root: Path, rows: int, k: int) -> Path:
    """base.csv: `rows` rows; A.csv: base + rows/2 new rows; B.csv: the same without the
    removed rows."""
    data = root / "data"
    data.mkdir()
    write_rows(data / "base.csv", 0, rows, True)
    gone = {1 + i for i in removed_ids(rows, k)}  # line numbers (the header is line 0)
    with (data / "base.csv").open("rb") as src, (data / "B.csv").open("wb") as out:
        out.writelines(line for n, line in enumerate(src) if n not in gone)
    shutil.copyfile(data / "base.csv", data / "A.csv")
    for case in ("A", "B"):
        write_rows(data / f"{case}.csv", rows, rows // 2, False)
    return data


def commit_file(repo: Path, branch: str, src: Path, message: str) -> None:
    sh(["git", "checkout", "-q", branch], repo)
    (repo / "data").mkdir(exist_ok=True)
    shutil.copyfile(src, repo / CSV)
    sh(["git", "add", "data"], repo)
    sh(["git", "commit", "-q", "--no-verify", "-m", message], repo)


class Repo(NamedTuple):
    path: Path
    start: str  # split before the measured pull
    mains: dict[str, str]  # "on" / "off" -> the main commit whose config carries or not


def branchml_repo(root: Path, data: Path, case: str, lfs: bool) -> Repo:
    repo = root / f"bml-{case}-{'lfs' if lfs else 'plain'}"
    sh([BML, "init", str(repo), "--no-hooks", *([] if lfs else ["--no-lfs"])], root)
    commit_file(repo, "clean", data / "base.csv", "base")
    sh(["git", "checkout", "-q", "main"], repo)
    sh([BML, "pull", "clean", "split"], repo)  # the last pull: split holds base
    commit_file(repo, "clean", data / f"{case}.csv", f"clean: case {case}")
    sh(["git", "checkout", "-q", "main"], repo)
    on = git_out(["rev-parse", "main"], repo)
    cfg = repo / "branchml.yaml"
    text = cfg.read_text()
    if re.search(r"^pulls:", text, re.M):
        raise SystemExit("branchml.yaml's template sets pulls: update bench_carry.py")
    cfg.write_text(text + "\npulls:\n  carry_removals: []\n")
    sh(["git", "commit", "-q", "--no-verify", "-am", "carry no removals"], repo)
    off = git_out(["rev-parse", "main"], repo)
    sh(["git", "checkout", "-q", "--detach"], repo)  # main's ref moves between runs
    return Repo(repo, git_out(["rev-parse", "split"], repo), {"on": on, "off": off})


def peer_repo(root: Path, data: Path, case: str) -> Repo:
    """The same history in plain git: no .gitattributes, no drivers, no hooks."""
    repo = root / f"git-{case}"
    sh(["git", "init", "-q", str(repo)], root)
    (repo / "README").write_text("peer\n")
    sh(["git", "add", "README"], repo)
    sh(["git", "commit", "-q", "-m", "init"], repo)
    sh(["git", "branch", "clean"], repo)
    sh(["git", "branch", "split"], repo)
    commit_file(repo, "clean", data / "base.csv", "base")
    sh(["git", "checkout", "-q", "split"], repo)
    sh(["git", "merge", "-q", "--no-ff", "--no-edit", "clean"], repo)
    commit_file(repo, "clean", data / f"{case}.csv", f"clean: case {case}")
    sh(["git", "checkout", "-q", "split"], repo)
    return Repo(repo, git_out(["rev-parse", "split"], repo), {})


class Setup(NamedTuple):
    name: str
    args: list[str]
    repo: Repo
    carry: str  # "on", "off", "" (the peer)


def reset(s: Setup) -> None:
    if s.carry:
        sh(["git", "update-ref", "refs/heads/main", s.repo.mains[s.carry]], s.repo.path)
        sh(["git", "update-ref", "refs/heads/split", s.repo.start], s.repo.path)
    else:
        sh(["git", "reset", "-q", "--hard", s.repo.start], s.repo.path)


def forget_result(repo: Path) -> None:
    """Delete the merged file's objects so that a repeated run writes them again; not when
    they are clean's own (carrying every removal gives clean's bytes: they exist anyway)."""
    oid = git_out(["rev-parse", f"split:{CSV}"], repo)
    if oid != git_out(["rev-parse", f"clean:{CSV}"], repo):
        forget_object(repo, oid)


def split_bytes(repo: Path) -> bytes:
    """split's data file as a checkout would write it (git-lfs pointers smudged)."""
    blob = subprocess.run(["git", "cat-file", "-p", f"split:{CSV}"], cwd=repo,
                          capture_output=True, check=True).stdout
    if not blob.startswith(b"version https://git-lfs"):
        return blob
    return subprocess.run(["git", "lfs", "smudge"], cwd=repo, input=blob, capture_output=True,
                          check=True).stdout


class Result(NamedTuple):
    seconds: float
    rss: float  # all processes, one sampled run
    largest: float  # largest process, highest of the timed runs


def measure_all(setups: list[Setup], repeat: int) -> list[Result]:
    for s in setups:  # untimed: main's other config is parsed once and cached (by digest)
        reset(s)
        sh(s.args, s.repo.path)
        forget_result(s.repo.path)
    times: dict[str, list[tuple[float, float]]] = {s.name: [] for s in setups}
    for _ in range(repeat):  # interleaved: the machine's speed drifts over minutes
        for s in setups:
            reset(s)
            times[s.name].append(measured(s.args, s.repo.path)[:2])
            forget_result(s.repo.path)
    out = []
    for s in setups:  # memory: one more run each, sampled (see bench_merge.measured)
        reset(s)
        rss = measured(s.args, s.repo.path, sample=True).rss
        forget_result(s.repo.path)
        t = times[s.name]
        out.append(Result(statistics.median(x for x, _ in t), rss, max(r for _, r in t)))
    return out


def run_case(root: Path, data: Path, case: str, rows: int, k: int, repeat: int) -> None:
    lfs, plain = branchml_repo(root, data, case, True), branchml_repo(root, data, case, False)
    peer = peer_repo(root, data, case)
    pull = [BML, "pull", "clean", "split"]
    setups = [Setup("(1) branchml pull, carry (default), git-lfs", pull, lfs, "on"),
              Setup("(2) branchml pull, carry_removals: [], git-lfs", pull, lfs, "off"),
              Setup("(1) branchml pull, carry (default), plain blobs", pull, plain, "on"),
              Setup("(2) branchml pull, carry_removals: [], plain blobs", pull, plain, "off"),
              Setup("(3) git merge clean, plain git (own 3-way merge)",
                    ["git", "merge", "-q", "--no-edit", "--no-verify", "clean"], peer, "")]
    results = measure_all(setups, repeat)
    what = "append only" if case == "A" else f"append + {k:,} rows removed from the middle"
    print(f"\nCase {case}: {rows:,} rows on clean and split, clean then {what}, "
          f"{rows // 2:,} new rows; time: median of {repeat} interleaved runs\n")
    print("| pull | time (s) | peak RSS, all processes (MiB) | largest process (MiB) |\n"
          "|---|---|---|---|")
    for s, r in zip(setups, results, strict=True):
        print(f"| {s.name} | {r.seconds:.2f} | {r.rss:.0f} | {r.largest:.0f} |")
    t = [r.seconds for r in results]
    print(f"\nratios: carry / no-carry time {t[0] / t[1]:.2f}x (git-lfs), {t[2] / t[3]:.2f}x "
          f"(plain blobs); git / carry time {t[4] / t[0]:.2f}x (git-lfs), "
          f"{t[4] / t[2]:.2f}x (plain blobs)")
    check_results(setups, case, rows, k)


def check_results(setups: list[Setup], case: str, rows: int, k: int) -> None:
    """(1) and (3) give the same bytes; (2) keeps the removed rows (case B)."""
    got = {}
    for s in setups:
        reset(s)
        sh(s.args, s.repo.path)
        got[s.name] = split_bytes(s.repo.path)
        forget_result(s.repo.path)
    carried = [got[s.name] for s in setups if s.carry == "on"]
    peer = got[setups[-1].name]
    same = all(c == peer for c in carried)
    print(f"carry (git-lfs and plain) against git merge: {'same result' if same else 'differ'}")
    if case == "B":
        kept = [sum(b"\n" + row_bytes(i) in got[s.name] for i in removed_ids(rows, k))
                for s in setups if s.carry == "off"]
        print(f"carry_removals: [] keeps the removed rows: {kept} of {k} (git-lfs, plain)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--remove", type=int, default=10, help="rows clean removes in case B")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each pull, interleaved (median shown)")
    args = ap.parse_args()
    with isolated("carry") as root:
        data = make_data(root, args.rows, args.remove)
        for case in ("A", "B"):
            run_case(root, data, case, args.rows, args.remove, args.repeat)


if __name__ == "__main__":
    main()
