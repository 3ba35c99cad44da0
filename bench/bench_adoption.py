"""An existing repository adopted with `branchml init .`, then its first push to a server.

Builds the shape of issue 17 with `git fast-import` (2,000 commits adding 50,000 code files,
with data files mixed in), adopts it (`branchml init .`), and pushes every branch in one
`git push --all` to a bare repository where `branchml install` wrote the pre-receive hook.
Prints the time of `init`, and the first push's outcome and time: once as a user pushes
(the local pre-push hook, then the server's pre-receive) and once with `--no-verify` into a
second server (its pre-receive alone), beside the same push into a bare repository without
any hook (git's own cost).

Run: `.venv/bin/python bench/bench_adoption.py [--commits N] [--files N]`.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from benchenv import BML, isolated

DATA_EVERY = 10  # every tenth commit also grows a data file, as a project's history does


def history_stream(commits: int, files: int, start: int = 1_500_000_000) -> bytes:
    """A fast-import stream: `commits` commits on main adding `files` code files between them
    (spread evenly), dated one hour apart from `start`."""
    per = max(1, files // commits)
    out: list[bytes] = []
    n = 0
    rows = ""
    for i in range(commits):
        stamp = f"{start + 3600 * i} +0000"
        msg = f"change {i}\n".encode()
        out += [b"commit refs/heads/main\n",
                f"author Dev <dev@example.com> {stamp}\n".encode(),
                f"committer Dev <dev@example.com> {stamp}\n".encode(),
                b"data %d\n" % len(msg), msg]
        for _ in range(per if i < commits - 1 else max(per, files - n)):
            body = f"def f{n}():\n    return {n}\n".encode()
            out += [f"M 100644 inline src/m{n // 1000}/f{n}.py\n".encode(),
                    b"data %d\n" % len(body), body]
            n += 1
        if i % DATA_EVERY == 0:
            rows += f"{i},{i * 7 % 13}\n"
            data = f"id,value\n{rows}".encode()
            out += [b"M 100644 inline data/table.csv\n", b"data %d\n" % len(data), data]
        out.append(b"\n")
    return b"".join(out)


def build(repo: Path, commits: int, files: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, check=True,
                   input=history_stream(commits, files))
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=repo, check=True)


def timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--files", type=int, default=50_000)
    args = ap.parse_args()
    with isolated("adoption") as root:
        repo = root / "project"
        t = time.perf_counter()
        build(repo, args.commits, args.files)
        print(f"history: {args.commits} commits, {args.files} code files "
              f"(built in {time.perf_counter() - t:.1f} s)")
        took, done = timed([BML, "init", "."], repo)
        print(f"branchml init .: {took:.2f} s (exit {done.returncode})")
        hook_alone(repo, root / "empty.git")
        for name, extra in (("server", []), ("server-no-verify", ["--no-verify"]),
                            ("plain", ["--no-verify"])):
            first_push(repo, root / f"{name}.git", name, extra)
        receive_alone(repo, root / "plain.git")


def heads(repo: Path) -> list[tuple[str, str]]:
    out = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)",
                          "refs/heads"], cwd=repo, check=True, capture_output=True, text=True)
    return [(ref, sha) for ref, _, sha in (ln.partition(" ") for ln in out.stdout.splitlines())]


def receive_alone(repo: Path, plain: Path) -> None:
    """branchml's pre-receive check of the first push by itself: the plain server holds the
    objects; its branches are deleted, and the hook is given the push's lines."""
    pushed = heads(plain)
    subprocess.run(["git", "update-ref", "--stdin"], cwd=plain, check=True, text=True,
                   input="".join(f"delete {ref}\n" for ref, _ in pushed))
    rows = "".join(f"{'0' * 40} {sha} {ref}\n" for ref, sha in pushed)
    t = time.perf_counter()
    done = subprocess.run([BML, "hook", "pre-receive"], cwd=plain, input=rows,
                          capture_output=True, text=True)
    verdict = "accepted" if done.returncode == 0 else "refused"
    print(f"branchml hook pre-receive alone: {time.perf_counter() - t:.2f} s, {verdict}")


def hook_alone(repo: Path, empty: Path) -> None:
    """branchml's own pre-push check of the first push, without git-lfs's pre-push (which
    scans the whole history for pointers, and runs in the same hook)."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(empty)], check=True)
    rows = "".join(f"{ref} {sha} {ref} {'0' * 40}\n" for ref, sha in heads(repo))
    t = time.perf_counter()
    done = subprocess.run([BML, "hook", "pre-push", "empty", str(empty)], cwd=repo, input=rows,
                          capture_output=True, text=True)
    verdict = "accepted" if done.returncode == 0 else "refused"
    print(f"branchml hook pre-push alone (no git-lfs): {time.perf_counter() - t:.2f} s, "
          f"{verdict}")


def first_push(repo: Path, server: Path, name: str, extra: list[str]) -> None:
    """`git push --all` into a new bare repository with branchml's pre-receive hook."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(server)], check=True)
    if name != "plain":
        subprocess.run([BML, "install"], cwd=server, check=True, capture_output=True)
    else:  # the floor: git alone, with the fsck of received objects that install turns on
        subprocess.run(["git", "config", "receive.fsckObjects", "true"], cwd=server, check=True)
    subprocess.run(["git", "remote", "add", name, str(server)], cwd=repo, check=True)
    took, done = timed(["git", "push", *extra, "--all", name], repo)
    lines = done.stderr.splitlines()
    hooks = ("no hook" if name == "plain" else "pre-receive" if extra
             else "pre-push + pre-receive")
    verdict = "accepted" if done.returncode == 0 else "refused"
    print(f"first push ({' '.join(['--all', *extra])}, {hooks}): {took:.2f} s, {verdict}, "
          f"{len(lines)} lines on stderr")
    for line in [ln for ln in lines if "rejected" in ln][:1]:
        print(f"  {line[:160]}")

if __name__ == "__main__":
    main()
