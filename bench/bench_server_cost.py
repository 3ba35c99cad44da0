"""What the server's checks cost as history grows (docs/scaling.md).

A repository whose dev/model branch has H commits of history (H = 1,000, 10,000, 50,000 by
default); on it, the pre-receive hook judges (a) a push of 10 new commits onto dev/model and
(b) a push that creates a new dev/* branch of 10 commits from dev/model's tip. Side by side:
`git rev-list --count` of the whole history, the floor of anything that walks it.

Run: `.venv/bin/python bench/bench_server_cost.py [--histories 1000,10000,50000]`.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from bench_check import build_history, run, timed, timed_input
from benchenv import BML, isolated


def grow(repo: Path, branch: str, start: str, n: int, tag: str) -> str:
    lines = []
    for i in range(n):
        body = f"# {tag} {i}\n".encode()
        lines += [f"commit refs/heads/{branch}\n".encode(),
                  b"committer Bench <b@example.com> %d +0000\n" % (1800000000 + i),
                  b"data 4\nmore\n"]
        if i == 0:
            lines.append(f"from {start}\n".encode())
        lines.append(b"M 100644 inline src/%s/f%d.py\ndata %d\n%s\n"
                     % (tag.encode(), i, len(body), body))
    run(["git", "fast-import", "--quiet"], repo, input=b"".join(lines))
    return run(["git", "rev-parse", branch], repo).stdout.decode().strip()


def measure(root: Path, history: int) -> tuple[float, float, float]:
    repo = root / f"h{history}"
    run([BML, "init", str(repo), "--no-lfs", "--no-hooks"], root)
    main = run(["git", "rev-parse", "main"], repo).stdout.decode().strip()
    run(["git", "branch", "-D", "dev/model"], repo)
    build_history(repo, history, 2, main)
    old = run(["git", "rev-parse", "dev/model"], repo).stdout.decode().strip()
    new = grow(repo, "bench/next", old, 10, "next")
    t_update = timed_input([BML, "hook", "pre-receive"], repo,
                           f"{old} {new} refs/heads/dev/model\n".encode(), 3)
    t_new = timed_input([BML, "hook", "pre-receive"], repo,
                        f"{'0' * 40} {new} refs/heads/dev/other\n".encode(), 3)
    t_floor = timed(["git", "rev-list", "--count", "dev/model"], repo, 3)
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    return t_update, t_new, t_floor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--histories", default="1000,10000,50000")
    args = ap.parse_args()
    with isolated("server") as root:
        print("| history (commits) | push of 10 commits (s) | new branch of 10 commits (s) "
              "| git rev-list --count (s) |\n|---|---|---|---|")
        for h in (int(x) for x in args.histories.split(",")):
            up, new, floor = measure(root, h)
            print(f"| {h:,} | {up:.3f} | {new:.3f} | {floor:.3f} |")


if __name__ == "__main__":
    main()
