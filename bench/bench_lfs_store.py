"""The server's LFS object check (ops/lfs_gate.py) on a 1 GiB model pushed over HTTP.

A project is served by tests/servers.py (nginx + git http-backend + giftless on 127.0.0.1)
with branchml's pre-receive hook (`branchml install` in the bare repository). A 1 GiB model
of random bytes is committed on stable/model and pushed (git-lfs uploads it to giftless,
then the refs go; the hook hashes the whole object and records it). The same pre-receive is
then replayed in the bare repository (`branchml hook pre-receive` with the push's ref line
on stdin): with the record removed (the object hashed whole, as on the first push), and with
the record in place (an object already verified: not hashed). `sha256sum`-free floor: the
same hook on a push that adds no LFS pointer. Medians of --repeat runs; the object is in
the page cache. Everything is made in a temp dir and deleted after.

  .venv/bin/python bench/bench_lfs_store.py [--mib 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchenv import BML, isolated

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import HttpGitServer, missing  # after the path: the repository root


def sh(args: list[str], cwd: Path, stdin: str | None = None) -> str:
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, input=stdin)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {p.stderr[-800:]}")
    return p.stdout.strip()


def timed(args: list[str], cwd: Path, stdin: str) -> tuple[float, float, int]:
    """(wall s, user + sys CPU s, peak RSS KiB) of one run. The peak RSS is GNU time's: the
    rusage of a child forked from this Python process counts this process's pages first."""
    t = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", *args], cwd=cwd, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stderr is not None
    p.stdin.write(stdin.encode())
    p.stdin.close()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {err[-800:]}")
    return wall, usage.ru_utime + usage.ru_stime, int(err.split()[-1])


def median(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            max(r[2] for r in runs))


def model(repo: Path, mib: int) -> str:
    sh(["git", "checkout", "-q", "stable/model"], repo)
    (repo / "models").mkdir(exist_ok=True)
    with (repo / "models" / "big.bin").open("wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    (repo / "tracking").mkdir(exist_ok=True)
    (repo / "tracking" / "metrics.json").write_text('{"acc": 0.9}\n')
    sh(["git", "add", "models/big.bin", "tracking/metrics.json"], repo)
    sh(["git", "commit", "-q", "--no-verify", "-m", "big model"], repo)
    return sh(["git", "show", "HEAD:models/big.bin"], repo).split("oid sha256:")[1].split()[0]


def run(mib: int, repeat: int) -> None:
    with isolated("lfs-store") as root, HttpGitServer(root / "srv") as server:
        bare, url = server.bare("bench")
        sh([BML, "install"], bare)
        project = root / "proj"
        sh([BML, "init", str(project)], root)
        sh(["git", "remote", "add", "origin", url], project)
        sh(["git", "push", "-q", "origin", "--all"], project)
        old = sh(["git", "rev-parse", "stable/model"], project)
        oid = model(project, mib)
        new = sh(["git", "rev-parse", "stable/model"], project)
        t = time.perf_counter()
        sh(["git", "push", "-q", "origin", "stable/model"], project)
        push = time.perf_counter() - t
        record = bare / "branchml" / "lfs-verified" / oid[:2] / oid
        assert record.is_file(), "the first push left no record"
        line = f"{old} {new} refs/heads/stable/model\n"
        hook = [BML, "hook", "pre-receive"]
        first, again = [], []
        for _ in range(repeat):
            kept = record.read_bytes()
            record.unlink()
            first.append(timed(hook, bare, line))  # hashes the whole object, records it
            again.append(timed(hook, bare, line))  # finds the record: no hash
            record.write_bytes(kept)
        tip = sh(["git", "rev-parse", "main"], project)
        plain = [timed(hook, bare, f"{tip} {tip} refs/heads/main\n") for _ in range(repeat)]
        obj = bare / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        floor = [timed(["openssl", "dgst", "-sha256", str(obj)], bare, "")
                 for _ in range(repeat)] if shutil.which("openssl") else []
    print(f"{mib} MiB model: `git push origin stable/model` over HTTP (LFS upload + refs + "
          f"pre-receive hashing it): {push:.2f} s")
    print("| pre-receive of that push | wall | CPU (user + sys) | peak RSS |")
    print("|---|---|---|---|")
    rows = [("first push: object hashed whole, record written", median(first)),
            ("already verified: record found, no hash", median(again)),
            ("a push with no LFS pointer (the hook's fixed cost)", median(plain))]
    if floor:
        rows.append(("`openssl dgst -sha256` of the object (the floor)", median(floor)))
    for name, (wall, cpu, rss) in rows:
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss // 1024} MiB |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    reason = missing()
    if reason:
        raise SystemExit(reason)
    run(args.mib, args.repeat)


if __name__ == "__main__":
    main()
