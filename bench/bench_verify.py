"""`branchml verify` of a release with a 1 GiB model, beside `sha256sum` of the same object.

`verify` recomputes the size and SHA-256 of every LFS object the release names; hashing the
bytes once is the floor, and `sha256sum` of the object file is that floor. The repository and
its 1 GiB model are made in a temp dir and deleted after. `openssl dgst -sha256` is shown too:
Python's hashlib uses OpenSSL's SHA-256 (SHA-NI where the CPU has it), coreutils its own. All
read the object from the page cache (it is read once before timing), so the figure is the
hashing, not the disk. CPU time is given beside wall time: the machine may be shared.

  .venv/bin/python bench/bench_verify.py [--mib 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

from benchenv import BML, isolated


def sh(args: list[str], cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


class Timing(NamedTuple):
    wall: float  # median seconds
    cpu: float  # median user + system seconds
    rss: int  # largest peak RSS, KiB


def timed(args: list[str], cwd: Path, repeat: int) -> Timing:
    walls, cpus, peak = [], [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(p.pid, 0)
        walls.append(time.perf_counter() - t)
        assert p.stderr is not None
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(args)} failed: {p.stderr.read().decode()[-500:]}")
        p.stderr.close()
        cpus.append(usage.ru_utime + usage.ru_stime)
        peak = max(peak, usage.ru_maxrss)
    return Timing(statistics.median(walls), statistics.median(cpus), peak)


def build(root: Path, mib: int) -> tuple[Path, Path]:
    """A release acme-v1 whose model is `mib` MiB of random bytes; (repo, its LFS object)."""
    repo = root / "repo"
    sh([BML, "init", str(repo), "--no-hooks"], root)
    (repo / "src").mkdir()
    (repo / "src" / "train.py").write_text("print('train')\n")
    sh(["git", "checkout", "-q", "dev/model"], repo)
    sh(["git", "add", "src"], repo)
    sh(["git", "commit", "-q", "-m", "code"], repo)
    sh([BML, "promote", "dev/model", "stable/model"], repo)
    sh(["git", "checkout", "-q", "stable/model"], repo)
    (repo / "models").mkdir()
    with (repo / "models" / "model.pkl").open("wb") as f:
        for _ in range(mib // 8):
            f.write(os.urandom(8 << 20))
    sh(["git", "add", "models"], repo)
    sh(["git", "commit", "-q", "-m", "train"], repo)
    sh([BML, "tag", "--client", "acme"], repo)
    sh(["git", "checkout", "-q", "main"], repo)  # the 1 GiB working copy goes away
    oid = sh(["git", "lfs", "ls-files", "-l", "acme-v1"], repo).split()[0]
    return repo, repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1024, help="Model size in MiB (default 1024).")
    ap.add_argument("--repeat", type=int, default=3, help="Runs per tool (median).")
    args = ap.parse_args()
    with isolated("verify") as root:
        repo, obj = build(root, args.mib)
        assert obj.stat().st_size == args.mib << 20
        # warm the page cache for both tools alike
        subprocess.run(["cat", str(obj)], stdout=subprocess.DEVNULL, check=True)
        rows = {"sha256sum (the floor)": timed(["sha256sum", str(obj)], repo, args.repeat),
                "openssl dgst -sha256": timed(["openssl", "dgst", "-sha256", str(obj)], repo,
                                              args.repeat),
                "branchml verify acme-v1": timed([BML, "verify", "acme-v1"], repo,
                                                 args.repeat)}
        print(f"model: {args.mib} MiB in git-lfs; medians of {args.repeat} runs")
        for name, t in rows.items():
            print(f"{name:<26} wall {t.wall:6.3f} s  cpu {t.cpu:6.3f} s  "
                  f"peak RSS {t.rss / 1024:4.0f} MiB")
        v, floor = rows["branchml verify acme-v1"], rows["sha256sum (the floor)"]
        print(f"ratio verify / sha256sum: wall {v.wall / floor.wall:.2f}x, "
              f"cpu {v.cpu / floor.cpu:.2f}x; verify at {args.mib / 1024 / v.wall:.2f} GiB/s")

if __name__ == "__main__":
    main()
