"""`branchml push` and `branchml clone` against plain git + git-lfs, through real servers.

A project with 20,000 data files on raw (each in git-lfs) and a 1 GiB model on stable/model
is pushed to two bare repositories served by the same nginx + git http-backend + giftless on
127.0.0.1 (tests/servers.py), both with branchml's pre-receive hook: once by `branchml push`,
once by `git push --all` with only git-lfs's pre-push hook. Then each is cloned, checked out at
raw (20,000 LFS files smudged) and at stable/model (1 GiB), by `branchml clone --branch` and
by `git clone -b` (interleaved, best of `--rounds`). The ratio is branchml / plain; the
target is an overhead under 10%.

Peak memory is branchml's own process (VmHWM from /proc, sampled while it runs): the git and
git-lfs processes it starts are not counted, as they are the same on both sides.

Run: `make servers && .venv/bin/python bench/bench_remote.py [--files 20000] [--model-mib 1024]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchenv import BML, isolated

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import HttpGitServer, missing


def sh(args: list[str], cwd: Path, env: dict[str, str] | None = None,
       stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(args, cwd=cwd, capture_output=True, input=stdin,
                          env={**os.environ, **(env or {})}, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stderr.decode(errors='replace')[-2000:]}")
    return done


def timed(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Seconds, and the peak resident memory (KiB) of the process itself."""
    t = time.perf_counter()
    p = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env={**os.environ, **(env or {})})
    peak = [0]

    def sample() -> None:
        status = Path(f"/proc/{p.pid}/status")
        while p.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = p.communicate()
    watcher.join()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({p.returncode}):\n{err.decode()[-2000:]}")
    return time.perf_counter() - t, peak[0]


def project(root: Path, files: int, model_mib: int) -> Path:
    """The project: raw with `files` small CSV files, stable/model with one big model."""
    src = root / "src"
    sh([BML, "init", str(src)], root)
    sh(["git", "switch", "-q", "raw"], src)
    for i in range(files):
        d = src / "data" / f"part{i // 1000:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.csv").write_text(f"id,value\n{i},{i * 7 % 1000}\n")
    sh(["git", "add", "data"], src)
    sh(["git", "commit", "-q", "-m", f"{files} data files"], src)
    sh(["git", "switch", "-q", "stable/model"], src)
    (src / "models").mkdir(exist_ok=True)
    with open(src / "models" / "model.bin", "wb") as f:
        for _ in range(model_mib):
            f.write(os.urandom(1 << 20))
    sh(["git", "add", "models/model.bin"], src)
    sh(["git", "commit", "-q", "-m", "model"], src)
    sh(["git", "switch", "-q", "main"], src)
    return src


def lfs_only_hooks(root: Path) -> Path:
    """A hooks folder with git-lfs's own pre-push hook only: what plain git + git-lfs runs."""
    hooks = root / "lfs-hooks"
    hooks.mkdir()
    hook = hooks / "pre-push"
    hook.write_text('#!/bin/sh\nexec git lfs pre-push "$@"\n')
    hook.chmod(0o755)
    return hooks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--model-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=2, help="clones per side, interleaved")
    args = ap.parse_args()
    if (why := missing()) is not None:
        raise SystemExit(f"the servers are not installed ({why}): run `make servers`.")
    with isolated("remote") as root, HttpGitServer(root / "server") as server:
        env = server.env()
        sh(["git", "lfs", "install", "--skip-repo"], root)  # plain git's side: LFS filters on
        t = time.perf_counter()
        src = project(root, args.files, args.model_mib)
        print(f"project made in {time.perf_counter() - t:.1f} s "
              f"({args.files:,} data files, {args.model_mib:,} MiB model)", flush=True)
        urls = {}
        for name in ("plain", "bml"):
            bare, urls[name] = server.bare(name)
            sh([BML, "install"], bare, env)
            sh(["git", "remote", "add", name, urls[name]], src)
        hooks = lfs_only_hooks(root)
        rows = []
        plain_push = timed(["git", "-c", f"core.hooksPath={hooks}", "push", "-q", "--all",
                            "plain"], src)
        bml_push = timed([BML, "push", "--remote", "bml"], src)
        rows.append(("push", plain_push, bml_push))
        for branch in ("raw", "stable/model"):
            tag = branch.replace("/", "-")
            plain, ours = [], []
            for i in range(args.rounds):  # interleaved, so drift hits both sides alike
                plain.append(timed(["git", "clone", "-q", "-b", branch, urls["plain"],
                                    str(root / f"plain-{tag}-{i}")], root))
                ours.append(timed([BML, "clone", "--branch", branch, urls["bml"],
                                   str(root / f"bml-{tag}-{i}")], root))
                for side in ("plain", "bml"):
                    shutil.rmtree(root / f"{side}-{tag}-{i}")
            rows.append((f"clone --branch {branch} (best of {args.rounds})", min(plain),
                         min(ours)))
        print("| step | git + git-lfs (s) | branchml (s) | ratio | branchml peak RSS (MiB) |\n"
              "|---|---|---|---|---|")
        for step, (tp, _), (tb, peak) in rows:
            print(f"| {step} | {tp:.2f} | {tb:.2f} | {tb / tp:.2f}x | {peak / 1024:.0f} |")


if __name__ == "__main__":
    main()
