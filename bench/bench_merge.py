"""Merging appended data: branchml against git's `merge=union` and git-lfs's merge driver.

A CSV with a header and N rows (default 1,000,000); two branches each append N/2 different
rows; the same history is built for every tool, then each merges in one run:
- branchml pull raw clean, data in git-lfs (the layout `branchml init` sets up);
- branchml pull raw clean, data as plain git blobs (`init --no-lfs`);
- git merge with `*.csv merge=union` (plain blobs);
- git merge through `git lfs merge-driver --program 'git merge-file --union ...'` (git-lfs).
- the two branchml merges again with NumPy's row hashes instead of the C ones
  (BRANCHML_NATIVE=0: what runs where no C compiler built them), and the git-lfs one with
  NumPy and the opt-in row helper (BRANCHML_ROW_HELPER=1, only used without the C hashes).
Time (s) and peak RSS (MiB) are printed with the ratios. The merges run --repeat times
(default 3), interleaved, each from the same start with the merged file's objects deleted
(git would skip compressing them): median time. Memory comes from one more run of each,
all the command's processes together (RSS, and PSS: see `measured`), beside its largest
process.
Then the LFS path at 10x the rows (flat memory), optionally a file over 2 GiB (--big), and
`branchml pull` of 20,000 new small files against `git add` (and `dvc add` when installed).

Run: `make bench` or `.venv/bin/python bench/bench_merge.py [--rows N] [--big]`. `dvc add` is
measured when `dvc` is on PATH (install it in a separate virtualenv: it is not a dependency).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

from benchenv import BML, isolated

TIME = "/usr/bin/time"


def sh(args: list[str], cwd: Path, **kw: object) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, **kw)  # type: ignore[call-overload]


class Run(NamedTuple):
    seconds: float
    rss: float  # MiB
    pss: float  # MiB; 0 when not sampled


def measured(args: list[str], cwd: Path, env: dict[str, str] | None = None,
             sample: bool = False) -> Run:
    """Seconds and peak RSS (MiB) of one run: GNU time's %M (its largest process). With
    `sample`, the peaks of all the command's processes together (branchml's row helper,
    git's children), summed every 5 ms from /proc: their RSS (VmRSS; never less than %M),
    and their PSS (smaps_rollup: a page several processes map, such as libpython's code, is
    shared out among them instead of counted in each). The sampling takes CPU, so time and
    total memory come from separate runs."""
    t = time.perf_counter()
    p = subprocess.Popen([TIME, "-f", "%M", *args], cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env=None if env is None else {**os.environ, **env})
    total = pss = 0
    while sample and p.poll() is None:
        # the same command line: forked, not exec'd yet (its parent's memory)
        pids = [pid for pid, parent in _descendants(p.pid) if _cmdline(pid) != _cmdline(parent)]
        total = max(total, sum(map(_rss, pids)))
        pss = max(pss, sum(map(_pss, pids)))
        time.sleep(0.005)
    out, err = p.communicate()
    took = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{out}\n{err}")
    largest = int(err.strip().splitlines()[-1])
    return Run(took, max(total, largest) / 1024, pss / 1024)


def _descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of every process below `pid`."""
    found: list[tuple[int, int]] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            kids = [int(k) for f in Path(f"/proc/{parent}/task").glob("*/children")
                    for k in f.read_text().split()]
        except OSError:
            continue
        found += [(k, parent) for k in kids]
        todo += kids
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _kib(pid: int, file: str, key: str) -> int:
    """A KiB figure of a process now (`key` in /proc/PID/`file`); 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/{file}").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def _rss(pid: int) -> int:
    return _kib(pid, "status", "VmRSS:")


def _pss(pid: int) -> int:
    return _kib(pid, "smaps_rollup", "Pss:")


def write_rows(path: Path, start: int, count: int, header: bool) -> None:
    with path.open("ab") as f:
        if header:
            f.write(b"id,store,amount,label\n")
        step = 200_000
        for lo in range(start, start + count, step):
            hi = min(lo + step, start + count)
            f.write("".join(f"{i},s{i % 97},{(i * 7919) % 100000 / 100:.2f},l{i % 3}\n"
                            for i in range(lo, hi)).encode())


def history(repo: Path, rows: int, data: Path) -> None:
    """base on raw; clean from it; clean and raw each append rows/2 different rows."""
    csv = repo / "data" / "sales.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    sh(["git", "checkout", "-q", "raw"], repo)
    shutil.copyfile(data / "base.csv", csv)
    sh(["git", "add", "data"], repo)
    sh(["git", "commit", "-q", "--no-verify", "-m", "base"], repo)
    sh(["git", "branch", "-f", "clean", "raw"], repo)
    for branch, part in (("clean", "a"), ("raw", "b")):
        sh(["git", "checkout", "-q", branch], repo)
        shutil.copyfile(data / f"{part}.csv", csv)
        sh(["git", "add", "data"], repo)
        sh(["git", "commit", "-q", "--no-verify", "-m", f"append {part}"], repo)


def make_data(root: Path, rows: int, appended: int | None = None) -> Path:
    """base.csv with `rows` rows; a.csv and b.csv: base plus `appended` (default rows/2)
    different rows each."""
    add = rows // 2 if appended is None else appended
    data = root / f"data-{rows}-{add}"
    if data.is_dir():
        return data
    data.mkdir()
    write_rows(data / "base.csv", 0, rows, True)
    for part, start in (("a", rows), ("b", rows + add)):
        shutil.copyfile(data / "base.csv", data / f"{part}.csv")
        write_rows(data / f"{part}.csv", start, add, False)
    return data


def branchml_repo(root: Path, name: str, data: Path, rows: int, lfs: bool) -> Path:
    repo = root / name
    sh([BML, "init", str(repo), "--no-hooks", *([] if lfs else ["--no-lfs"])], root)
    history(repo, rows, data)
    sh(["git", "checkout", "-q", "main"], repo)
    return repo


def peer_repo(root: Path, name: str, data: Path, rows: int, attrs: str,
              config: dict[str, str]) -> Path:
    repo = root / name
    sh([BML, "init", str(repo), "--no-hooks", "--no-lfs"], root)
    sh(["git", "checkout", "-q", "main"], repo)
    (repo / ".gitattributes").write_text(attrs)
    for k, v in config.items():
        sh(["git", "config", k, v], repo)
    if "lfs" in attrs:
        sh(["git", "lfs", "install", "--local", "--skip-repo"], repo)
    sh(["git", "add", ".gitattributes"], repo)
    sh(["git", "commit", "-q", "--no-verify", "-m", "attrs"], repo)
    for b in ("raw", "clean"):
        sh(["git", "branch", "-f", b, "main"], repo)
    history(repo, rows, data)
    sh(["git", "checkout", "-q", "clean"], repo)
    return repo


def git_out(args: list[str], cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def reset_clean(repo: Path, start: str) -> None:
    if git_out(["symbolic-ref", "HEAD"], repo) == "refs/heads/clean":
        sh(["git", "reset", "-q", "--hard", start], repo)
    else:
        sh(["git", "update-ref", "refs/heads/clean", start], repo)


def forget_result(repo: Path) -> None:
    """Delete the merged file's objects, so that a repeated run writes them again (git skips
    compressing an object it already has)."""
    forget_object(repo, git_out(["rev-parse", "clean:data/sales.csv"], repo))


def forget_object(repo: Path, oid: str) -> None:
    """Delete blob `oid` (loose) and, when it is a git-lfs pointer, the object it names."""
    small = int(git_out(["cat-file", "-s", oid], repo)) < 1024
    pointer = git_out(["cat-file", "-p", oid], repo) if small else ""
    (repo / ".git" / "objects" / oid[:2] / oid[2:]).unlink(missing_ok=True)
    if pointer.startswith("version https://git-lfs"):
        sha = pointer.split("oid sha256:")[1].split()[0]
        (repo / ".git" / "lfs" / "objects" / sha[:2] / sha[2:4] / sha).unlink(missing_ok=True)


def merge_table(root: Path, rows: int, repeat: int) -> None:
    data = make_data(root, rows)
    lfs_repo = branchml_repo(root, "bml-lfs", data, rows, True)
    plain_repo = branchml_repo(root, "bml-plain", data, rows, False)
    union = peer_repo(root, "union", data, rows, "*.csv merge=union\n", {})
    lfs_union = peer_repo(
        root, "lfs-union", data, rows, "*.csv filter=lfs diff=lfs merge=lfs-union -text\n",
        {"merge.lfs-union.driver": "git lfs merge-driver --ancestor %O --current %A --other %B "
         "--marker-size %L --output %A --program 'git merge-file --stdout --marker-size=%%L "
         "--union %%A %%O %%B >%%D'"})
    pull = [BML, "pull", "raw", "clean"]
    merge = ["git", "merge", "-q", "--no-edit", "--no-verify", "raw"]
    numpy = {"BRANCHML_NATIVE": "0"}
    helper = {"BRANCHML_NATIVE": "0", "BRANCHML_ROW_HELPER": "1"}
    runs: list[tuple[str, list[str], Path, dict[str, str] | None]] = [
        ("branchml pull, data in git-lfs", pull, lfs_repo, None),
        ("branchml pull, plain git blobs", pull, plain_repo, None),
        ("git merge, merge=union (plain blobs)", merge, union, None),
        ("git merge, git lfs merge-driver + union", merge, lfs_union, None),
        ("branchml pull, git-lfs, NumPy row hashes (BRANCHML_NATIVE=0)", pull, lfs_repo, numpy),
        ("branchml pull, plain blobs, NumPy row hashes", pull, plain_repo, numpy),
        ("branchml pull, git-lfs, NumPy + row helper (BRANCHML_ROW_HELPER=1)", pull, lfs_repo,
         helper)]
    starts = {repo: git_out(["rev-parse", "clean"], repo) for _, _, repo, _ in runs}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in runs}
    for _ in range(repeat):  # interleaved: the machine's speed drifts over minutes
        for name, args, repo, env in runs:
            reset_clean(repo, starts[repo])
            times[name].append(measured(args, repo, env)[:2])
            forget_result(repo)  # git and git-lfs would skip writing what they already have
    summed = {}
    for name, args, repo, env in runs:  # memory: one more run each, sampled (see measured)
        reset_clean(repo, starts[repo])
        summed[name] = measured(args, repo, env, sample=True)
        forget_result(repo)
    results = [(name, statistics.median(t for t, _ in times[name]), summed[name].rss,
                summed[name].pss, max(r for _, r in times[name])) for name, *_ in runs]
    size = (data / "a.csv").stat().st_size * 1.5 / 2**20
    print(f"\n{rows:,} rows + {rows // 2:,} on each side (result ~{size:.0f} MiB); time: "
          f"median of {repeat} interleaved runs; peak RSS: of all the command's processes "
          "together (one sampled run), as RSS and as PSS (shared pages shared out), and of "
          "its largest process (GNU time, highest of the timed runs)\n")
    print("| merge | time (s) | peak RSS, all processes (MiB) | peak PSS, all processes (MiB) "
          "| largest process (MiB) |\n|---|---|---|---|---|")
    for name, t, rss, pss, top in results:
        print(f"| {name} | {t:.2f} | {rss:.0f} | {pss:.0f} | {top:.0f} |")
    u_t = results[2][1]
    print(f"\nratios: union / branchml-lfs time {u_t / results[0][1]:.1f}x "
          f"(NumPy {u_t / results[4][1]:.1f}x, NumPy + helper {u_t / results[6][1]:.1f}x), "
          f"union / branchml-plain time {u_t / results[1][1]:.1f}x "
          f"(NumPy {u_t / results[5][1]:.1f}x), "
          f"lfs-driver / branchml-lfs time {results[3][1] / results[0][1]:.1f}x; "
          f"branchml-plain RSS / result size {results[1][2] / size:.2f}x")
    reset_clean(lfs_repo, starts[lfs_repo])
    sh(pull, lfs_repo)
    reset_clean(union, starts[union])
    sh(merge, union)
    check_same(lfs_repo, union)


def check_same(lfs_repo: Path, union: Path) -> None:
    """The union result holds every row once too here (no overlap); branchml's order differs:
    ours' rows, then theirs'. Print both row counts as a sanity check."""
    ours = subprocess.run(["git", "lfs", "smudge"], cwd=lfs_repo, capture_output=True, check=True,
                          input=subprocess.run(["git", "cat-file", "-p", "clean:data/sales.csv"],
                                               cwd=lfs_repo, capture_output=True,
                                               check=True).stdout).stdout.count(b"\n")
    theirs = (union / "data" / "sales.csv").read_bytes().count(b"\n")
    print(f"rows after merge: branchml {ours:,}, union {theirs:,}")


def lfs_only(root: Path, rows: int, label: str, appended: int | None = None) -> None:
    data = make_data(root, rows, appended)
    label = label.replace("{size}", f"{(data / 'base.csv').stat().st_size / 2**30:.2f} GiB")
    repo = branchml_repo(root, f"bml-lfs-{rows}-{appended}", data, rows, True)
    start = git_out(["rev-parse", "clean"], repo)
    t = measured([BML, "pull", "raw", "clean"], repo).seconds
    forget_result(repo)
    reset_clean(repo, start)
    mem = measured([BML, "pull", "raw", "clean"], repo, sample=True)
    print(f"| branchml pull, git-lfs, {label} | {t:.2f} | {mem.rss:.0f} | {mem.pss:.0f} |")
    shutil.rmtree(data)
    shutil.rmtree(repo)


def many_files(root: Path, n: int) -> None:
    repo = root / "files"
    sh([BML, "init", str(repo), "--no-hooks"], root)
    sh(["git", "checkout", "-q", "raw"], repo)
    src = root / "small"
    src.mkdir()
    for i in range(n):
        (src / f"f{i:05d}.csv").write_text(f"id,v\n{i},{i * 3}\n")
    shutil.copytree(src, repo / "data" / "batch")
    sh(["git", "add", "data"], repo)
    sh(["git", "commit", "-q", "--no-verify", "-m", "20k files"], repo)
    sh(["git", "checkout", "-q", "main"], repo)
    t_pull = measured([BML, "pull", "raw", "clean"], repo).seconds
    peer = root / "peer"
    sh(["git", "init", "-q", str(peer)], root)
    shutil.copytree(src, peer / "batch")
    t_add = measured(["git", "add", "batch"], peer).seconds
    print(f"\n| {n:,} new small files | time (s) |\n|---|---|")
    print(f"| branchml pull raw clean (blobs exist, trees built) | {t_pull:.2f} |")
    print(f"| git add of the same files (peer: ingesting them) | {t_add:.2f} |")
    if shutil.which("dvc"):
        sh(["dvc", "init", "--no-scm"], peer)
        t_dvc = measured(["dvc", "add", "batch"], peer).seconds
        print(f"| dvc add of the same files | {t_dvc:.2f} |")
    else:
        print("| dvc add | (dvc not installed in this environment) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--big", action="store_true", help="also merge a CSV over 2 GiB")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each merge in the main table, interleaved (median shown)")
    args = ap.parse_args()
    with isolated("merge") as root:
        merge_table(root, args.rows, args.repeat)
        print("\n| memory as the file grows | time (s) | peak RSS, all processes (MiB) "
              "| peak PSS (MiB) |\n|---|---|---|---|")
        half = args.rows // 2
        lfs_only(root, args.rows, f"{args.rows:,} rows + {half:,} a side", half)
        lfs_only(root, args.rows * 10, f"{args.rows * 10:,} rows + {half:,} a side", half)
        lfs_only(root, args.rows * 10, f"{args.rows * 10:,} rows + {half * 10:,} a side")
        if args.big:
            lfs_only(root, 95_000_000, f"95,000,000 rows ({{size}}) + {half:,} a side", half)
        many_files(root, args.files)



if __name__ == "__main__":
    main()
