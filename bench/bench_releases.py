"""Reading releases from tags: branchml against GTO (git tags as a model registry).

One repository holds N branchml release tags (acme-v1..N, real manifests) and N GTO tags
(model@v0.0.1.., GTO's own format and annotation), written with `git fast-import`; each tool
reads its own. Times: `branchml releases`, `branchml show acme-v<N/2>`, `branchml tag` (one
more), and `gto show`, at 1,000 and 10,000 tags, with the ratios.

GTO is not a dependency: install it in its own virtualenv and pass its path, e.g.
  python3 -m venv /tmp/gtovenv && /tmp/gtovenv/bin/pip install gto
  .venv/bin/python bench/bench_releases.py --gto /tmp/gtovenv/bin/gto
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from benchenv import BML, isolated


def sh(args: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, **kw)  # type: ignore[call-overload,no-any-return]


def timed(args: list[str], cwd: Path, repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.run(args, cwd=cwd, capture_output=True)
        runs.append(time.perf_counter() - t)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {p.stderr.decode()[-500:]}")
    return statistics.median(runs)


def build(root: Path, n: int) -> Path:
    repo = root / f"repo-{n}"
    sh([BML, "init", str(repo), "--no-hooks"], root)
    files = {"src/train.py": "print('train')\n"}
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    sh(["git", "checkout", "-q", "dev/model"], repo)
    sh(["git", "add", "src"], repo)
    sh(["git", "commit", "-q", "-m", "code"], repo)
    sh([BML, "promote", "dev/model", "stable/model"], repo)
    sh(["git", "checkout", "-q", "stable/model"], repo)
    (repo / "models").mkdir()
    (repo / "models" / "model.pkl").write_bytes(os.urandom(4096))
    (repo / "tracking").mkdir()
    (repo / "tracking" / "metrics.json").write_text('{"accuracy": 0.91, "auc": 0.95}')
    sh(["git", "add", "models", "tracking"], repo)
    sh(["git", "commit", "-q", "-m", "train"], repo)
    first = json.loads(sh([BML, "tag", "--client", "acme", "--json"], repo).stdout)
    commit = first["commit"]
    stream = []
    for i in range(2, n + 1):
        m = {**first, "tag": f"acme-v{i}", "n": i}
        msg = (f"acme-v{i}: stable/model at {commit[:10]}\n\n-----BEGIN BRANCHML MANIFEST-----\n"
               + json.dumps(m, indent=2, sort_keys=True) + "\n-----END BRANCHML MANIFEST-----\n")
        stream.append(_tag(f"acme-v{i}", commit, msg))
    for i in range(1, n + 1):
        version = f"v0.{i // 1000}.{i % 1000}"
        stream.append(_tag(f"model@{version}", commit,
                           f"Registering artifact model version {version}\n"))
    sh(["git", "fast-import", "--quiet"], repo, input=b"".join(stream))
    sh(["git", "pack-refs", "--all"], repo)
    return repo


def _tag(name: str, commit: str, msg: str) -> bytes:
    data = msg.encode()
    return (f"tag {name}\nfrom {commit}\ntagger Bench <b@example.com> 1700000000 +0000\n"
            f"data {len(data)}\n").encode() + data + b"\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gto", default=shutil.which("gto"), help="path of the gto executable")
    ap.add_argument("--sizes", default="1000,10000")
    args = ap.parse_args()
    print("| tags | branchml releases | branchml show | branchml tag | gto show | "
          "gto / releases | gto / show |\n|---|---|---|---|---|---|---|")
    with isolated("rel") as root:
        for n in map(int, args.sizes.split(",")):
            repo = build(root, n)
            t_rel = timed([BML, "releases"], repo)
            t_show = timed([BML, "show", f"acme-v{n // 2}"], repo)
            t = time.perf_counter()
            sh([BML, "tag", "--client", "acme", "--allow-same"], repo)
            t_tag = time.perf_counter() - t
            if args.gto:
                t_gto = timed([args.gto, "show"], repo, 1)
                peer = f"{t_gto:.2f} | {t_gto / t_rel:.0f}x | {t_gto / t_show:.0f}x"
            else:
                peer = "not run | | "
            print(f"| {n:,} | {t_rel:.3f} | {t_show:.3f} | {t_tag:.3f} | {peer} |")
            shutil.rmtree(repo)



if __name__ == "__main__":
    main()
