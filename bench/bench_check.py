"""Benchmarks of the foundation, side by side with the floor or the peer, in one run.

1. `branchml check --range` over 10,000 commits touching 100,000 paths, against
   `git log --raw` reading the same facts (the floor any checker has to pay).
2. Cost grows with changed paths, not repository size: the last 100 commits checked in the
   10,000-commit repository and in a repository of only 100 commits.
3. The pre-commit hook's added time on a one-file commit, against the same commit with no hook.
4. `branchml --version`.
5. The server's pre-receive hook on a push of 1,000 commits / 100,000 paths (one branch moved
   from OLD to NEW), against `check --range OLD..NEW` of the same commits.

Run: `make bench` (or `.venv/bin/python bench/bench_check.py [--commits N]`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
BML = str(BIN / "branchml")


def run(args: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, **kw)  # type: ignore[call-overload,no-any-return]


def timed(args: list[str], cwd: Path, repeat: int = 5) -> float:
    best = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=False, capture_output=True)
        best.append(time.perf_counter() - t)
    return statistics.median(best)


def timed_input(args: list[str], cwd: Path, data: bytes, repeat: int = 5) -> float:
    best = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, check=False, capture_output=True, input=data)
        best.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr.decode()}")
    return statistics.median(best)


def build_history(repo: Path, commits: int, paths_per_commit: int, start: str) -> None:
    """`commits` commits on dev/model via git fast-import, each adding or editing files."""
    lines: list[bytes] = []
    for i in range(commits):
        mark = i + 1
        msg = f"commit {i}".encode()
        lines.append(b"commit refs/heads/dev/model\n")
        lines.append(b"mark :%d\n" % mark)
        lines.append(b"committer Bench <b@example.com> %d +0000\n" % (1700000000 + i))
        lines.append(b"data %d\n%s\n" % (len(msg), msg))
        if i == 0:
            lines.append(f"from {start}\n".encode())
        for j in range(paths_per_commit):
            body = f"# {i} {j}\nvalue = {i * j}\n".encode()
            # a commit edits one module folder (100 folders of up to 200 files)
            path = f"src/pkg{i % 100}/m{((i // 100) * paths_per_commit + j) % 200}.py"
            lines.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(body), body))
    run(["git", "fast-import", "--quiet"], repo, input=b"".join(lines))
    run(["git", "repack", "-adq"], repo)  # as a real repository is: packed with deltas


def make_repo(root: Path, name: str, commits: int, paths: int) -> Path:
    repo = root / name
    run([BML, "init", str(repo), "--no-lfs", "--no-hooks"], root)
    main = run(["git", "rev-parse", "main"], repo).stdout.decode().strip()
    run(["git", "branch", "-D", "dev/model"], repo)
    build_history(repo, commits, paths, main)
    return repo


def hook_cost(root: Path) -> tuple[float, float]:
    repo = root / "hooked"
    run([BML, "init", str(repo), "--no-lfs"], root)
    nohook = root / "empty-hooks"
    nohook.mkdir()

    def commit_once(extra: list[str]) -> float:
        (repo / "docs" / "note.md").write_text(str(time.perf_counter()))
        run(["git", "add", "docs/note.md"], repo)
        t = time.perf_counter()
        run(["git", *extra, "commit", "-q", "-m", "note"], repo)
        return time.perf_counter() - t

    commit_once([])  # the first run parses and caches the config
    with_hook = statistics.median(commit_once([]) for _ in range(15))
    without = statistics.median(commit_once(["-c", f"core.hooksPath={nohook}"])
                                for _ in range(15))
    return with_hook, without


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=10_000)
    ap.add_argument("--paths", type=int, default=10, help="paths changed per commit")
    args = ap.parse_args()
    # as after `pip install`: byte-code compiled and used (some machines set the opposite)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "branchml"), quiet=1)
    env_home = tempfile.mkdtemp(prefix="bml-bench-home-")
    os.environ.update(HOME=env_home, GIT_CONFIG_NOSYSTEM="1",
                      PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    Path(env_home, ".gitconfig").write_text(
        "[user]\n\tname = Bench\n\temail = b@example.com\n[init]\n\tdefaultBranch = main\n")
    root = Path(tempfile.mkdtemp(prefix="bml-bench-"))
    try:
        big = make_repo(root, "big", args.commits, args.paths)
        small = make_repo(root, "small", 100, args.paths)
        total = args.commits * args.paths
        check = [BML, "check", "--range", "main..dev/model", "--branch", "dev/model"]
        t_check = timed(check, big, 3)
        t_floor = timed(["git", "log", "--raw", "--no-renames", "--first-parent",
                         "main..dev/model"], big, 3)
        last = [BML, "check", "--range", "dev/model~100..dev/model", "--branch", "dev/model"]
        t_big_last, t_small_last = timed(last, big), timed(
            [BML, "check", "--range", "main..dev/model", "--branch", "dev/model"], small)
        pushed = make_repo(root, "pushed", 1000, 100)
        old, new = (run(["git", "rev-parse", r], pushed).stdout.decode().strip()
                    for r in ("main", "dev/model"))
        receive = f"{old} {new} refs/heads/dev/model\n".encode()
        t_receive = timed_input([BML, "hook", "pre-receive"], pushed, receive, 3)
        t_range = timed([BML, "check", "--range", f"{old}..{new}", "--branch", "dev/model"],
                        pushed, 3)
        with_hook, without = hook_cost(root)
        t_version = timed([BML, "--version"], root, 10)
        rows = [
            (f"check --range, {args.commits:,} commits / {total:,} paths", t_check,
             f"git log --raw (floor) {t_floor:.3f} s", t_check / t_floor, "< 2 s"),
            ("check last 100 commits, in the big repo", t_big_last,
             f"same 100 in a 100-commit repo {t_small_last:.3f} s", t_big_last / t_small_last,
             "~1x (size-independent)"),
            ("one-file commit with the pre-commit hook", with_hook,
             f"same commit, no hook {without:.3f} s", with_hook / without,
             f"adds {1000 * (with_hook - without):.0f} ms (< 200 ms)"),
            ("branchml --version", t_version, "", 0.0, "< 150 ms"),
            ("pre-receive, a push of 1,000 commits / 100,000 paths", t_receive,
             f"check --range of the same commits {t_range:.3f} s", t_receive / t_range,
             "< 1.2x"),
        ]
        print("| measure | branchml (s) | side by side | ratio | target |\n|---|---|---|---|---|")
        for name, ours, peer, ratio, target in rows:
            print(f"| {name} | {ours:.3f} | {peer} | {ratio:.2f}x | {target} |"
                  if ratio else f"| {name} | {ours:.3f} | | | {target} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(env_home, ignore_errors=True)


if __name__ == "__main__":
    main()
