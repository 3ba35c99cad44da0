"""The repository bench_lineage.py measures: raw's history of N uploads holding R rows, built
with `git fast-import` and the LFS store written directly, then the real pipeline through
branchml commands up to the release acme-v1 trained through `split rows train`.

Uploads as teams make them: each file is created by one upload and grown at its end by up to
GROWS later ones, the uploads of different files interleaved; authors and dates vary. Rows:
`id,customer,store,amount,qty,channel,label`, a unique id per new row, ~4 rows a customer,
and about 1% of each upload copied byte for byte from earlier uploads (the duplicates lineage
credits to the earliest). The split is keyed by customer (rows of one customer stay in one
split): `split rows` reads at most 4,000,000 items (core/bounds.py SPLIT_ROWS), so 10M rows
keyed by their unique id would be refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from benchenv import BML

GROWS = 3  # a file: created, then grown up to 3 times
HEADER = b"id,customer,store,amount,qty,channel,label\n"
CHANNELS = ("web", "app", "shop", "phone")
TEAMS = (("Ana Ortiz", "ana@acme.example"), ("Bo Li", "bo@acme.example"),
         ("Cy Dube", "cy@partner.example"), ("Di Park", "di@partner.example"))
CLEANED_FILES = 3  # files cleaning rewrites on clean: 10 rows dropped, 10 rewritten in each
WITHDRAW_ROWS = 1_000
START = 1_767_225_600  # 2026-01-01, the first upload's date


def sh(args: list[str], cwd: Path, stdin: bytes | None = None,
       env: dict[str, str] | None = None) -> str:
    p = subprocess.run(args, cwd=cwd, input=stdin, capture_output=True,
                       env=None if env is None else {**os.environ, **env})
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed: {p.stderr.decode()[-800:]}")
    return p.stdout.decode().strip()


@dataclass
class LfsFile:
    """The newest version of a data file: its hasher (grown by copy, so a grown version is
    hashed by its new bytes only), size and object path."""
    path: str
    hasher: object = field(default_factory=hashlib.sha256)
    size: int = 0
    obj: Path | None = None


def lfs_object(git_dir: Path, f: LfsFile, part: bytes) -> bytes:
    """Write f's next version (its old bytes + part) into .git/lfs/objects; its pointer."""
    h = f.hasher.copy()  # type: ignore[attr-defined]
    h.update(part)
    oid = h.hexdigest()
    dest = git_dir / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    dest.parent.mkdir(parents=True, exist_ok=True)
    if f.obj is not None:
        shutil.copyfile(f.obj, dest)
    with dest.open("ab") as out:
        out.write(part)
    f.hasher, f.size, f.obj = h, f.size + len(part), dest
    return pointer(oid, f.size)


def pointer(oid: str, size: int) -> bytes:
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
            ).encode()


def new_rows(rng: np.random.Generator, first_id: int, n: int, customers: int) -> list[bytes]:
    """n rows with ids first_id.. (formatted from NumPy columns: ~1 us a row)."""
    who = rng.integers(0, customers, n).tolist()
    store = rng.integers(0, 50, n).tolist()
    cents = rng.integers(100, 100_000, n).tolist()
    qty = rng.integers(1, 10, n).tolist()
    chan = rng.integers(0, len(CHANNELS), n).tolist()
    label = (rng.random(n) < 0.3).astype(int).tolist()
    return [b"r%09d,c%08d,s%02d,%d.%02d,%d,%s,%d\n" % (first_id + i, w, s, c // 100, c % 100,
                                                         q, CHANNELS[ch].encode(), y)
            for i, (w, s, c, q, ch, y) in enumerate(zip(who, store, cents, qty, chan, label,
                                                        strict=True))]


def schedule(uploads: int, rows: int, seed: int) -> list[tuple[int, int]]:
    """(file number, rows) per upload in history order: files of 1 + GROWS uploads each,
    interleaved; sizes 0.5-1.5x the mean, adding up to `rows`."""
    rnd = random.Random(seed)
    files = -(-uploads // (1 + GROWS))
    order = [i % files for i in range(uploads)]
    rnd.shuffle(order)
    sizes = [rnd.uniform(0.5, 1.5) for _ in range(uploads)]
    scale = rows / sum(sizes)
    counts = [max(1, int(s * scale)) for s in sizes]
    counts[-1] += rows - sum(counts)
    return list(zip(order, counts, strict=True))


def raw_history(repo: Path, uploads: int, rows: int, seed: int = 21) -> list[bytes]:
    """Commit the uploads on raw in one `git fast-import`; the sample rows kept for the
    withdrawal file."""
    git_dir = repo / ".git"
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    files: dict[int, LfsFile] = {}
    pool: list[bytes] = []  # some rows of every upload: duplicates and the withdrawal file
    next_id = 0
    stream = bytearray(b"feature done\n")
    base = sh(["git", "rev-parse", "refs/heads/raw"], repo)
    for n, (fileno, count) in enumerate(schedule(uploads, rows, seed)):
        dups = min(count // 100, len(pool))
        body = new_rows(rng, next_id, count - dups, max(1, rows // 4))
        next_id += count - dups
        body += rnd.sample(pool, dups)
        pool += rnd.sample(body[:count - dups], min(50, count - dups))
        f = files.setdefault(fileno, LfsFile(f"data/uploads/batch-{fileno:05d}.csv"))
        part = (HEADER if f.size == 0 else b"") + b"".join(body)
        ptr = lfs_object(git_dir, f, part)
        name, email = TEAMS[n % len(TEAMS)]
        when = START + n * 3_600
        msg = f"upload {n}: {count} rows into {f.path}\n".encode()
        stream += b"commit refs/heads/raw\n"
        stream += b"author %s <%s> %d +0000\n" % (name.encode(), email.encode(), when)
        stream += b"committer %s <%s> %d +0000\n" % (name.encode(), email.encode(), when)
        stream += b"data %d\n%s" % (len(msg), msg)
        stream += b"from %s\n" % base.encode() if n == 0 else b""
        stream += b"M 100644 inline %s\ndata %d\n%s\n" % (f.path.encode(), len(ptr), ptr)
    stream += b"done\n"
    sh(["git", "fast-import", "--quiet", "--force"], repo, bytes(stream))
    return pool


def cleaning(repo: Path) -> int:
    """One commit on clean that drops 10 rows and rewrites 10 (the amount) in each of a few
    files: the rewritten rows are in no raw upload. Returns the rows rewritten."""
    listing = sh(["git", "ls-tree", "-r", "refs/heads/clean", "data/uploads/"], repo)
    paths = sorted(line.split("\t")[1] for line in listing.splitlines())[:CLEANED_FILES]
    stream = bytearray(b"feature done\ncommit refs/heads/clean\n")
    msg = b"clean: drop rows with bad ids, fix amounts\n"
    stream += b"committer Ana Ortiz <ana@acme.example> %d +0000\n" % (START + 10**7)
    stream += b"data %d\n%s" % (len(msg), msg)
    stream += b"from %s\n" % sh(["git", "rev-parse", "refs/heads/clean"], repo).encode()
    rewritten = 0
    for path in paths:
        ptr = sh(["git", "cat-file", "-p", f"refs/heads/clean:{path}"], repo)
        oid = ptr.split("oid sha256:")[1].split()[0]
        lines = (repo / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid).read_bytes()
        head, *body = lines.splitlines(keepends=True)
        del body[5:15]  # dropped
        for i in range(20, 30):  # rewritten: the amount gains a cent's worth of digits
            body[i] = body[i].replace(b".", b".9", 1)
            rewritten += 1
        f = LfsFile(path)
        new = lfs_object(repo / ".git", f, head + b"".join(body))
        stream += b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(new), new)
    stream += b"done\n"
    sh(["git", "fast-import", "--quiet", "--force"], repo, bytes(stream))
    return rewritten


def build(where: Path, uploads: int, rows: int) -> dict[str, object]:
    """The whole repository under where/p; what the bench needs to know about it, with the
    seconds each step of the build took (the branchml commands among them at this size)."""
    repo, train = where / "p", where / "train.csv"
    steps: dict[str, float] = {}

    def step(label: str, args: list[str], env: dict[str, str] | None = None) -> None:
        t = time.perf_counter()
        sh(args, repo if repo.exists() else where, env=env)
        steps[label] = round(time.perf_counter() - t, 2)

    step("branchml init", [BML, "init", str(repo)])
    t = time.perf_counter()
    pool = raw_history(repo, uploads, rows)
    steps["raw uploads (fast-import + LFS store)"] = round(time.perf_counter() - t, 2)
    commits = sh(["git", "rev-list", "--reverse", "refs/heads/raw"], repo).splitlines()[1:]
    step("branchml pull raw clean", [BML, "pull", "raw", "clean"])
    rewritten = cleaning(repo)
    step("branchml pull clean split", [BML, "pull", "clean", "split"])
    step("branchml split --key customer", [BML, "split", "--key", "customer"])
    step("branchml pull split stable/model", [BML, "pull", "split", "stable/model"])
    sh(["git", "checkout", "-q", "stable/model"], repo, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    step("branchml split rows train", [BML, "split", "rows", "train", "-o", str(train),
                                       "--for", "train"])
    (repo / "models").mkdir(exist_ok=True)
    (repo / "models" / "model.bin").write_bytes(os.urandom(4096))
    (repo / "tracking" / "metrics.json").write_text('{"auc": 0.81}\n')
    sh(["git", "add", "models/model.bin", "tracking"], repo)
    sh(["git", "commit", "-qm", "model trained on the train split"], repo)
    step("branchml tag --client acme", [BML, "tag", "--client", "acme"])
    withdraw = where / "withdraw.csv"
    sample = random.Random(7).sample(pool, min(WITHDRAW_ROWS, len(pool)))
    withdraw.write_bytes(HEADER + b"".join(sample))
    meta = {"uploads": commits, "middle": commits[len(commits) // 2], "rewritten": rewritten,
            "train": str(train), "withdraw": str(withdraw), "repo": str(repo), "steps": steps}
    (where / "meta.json").write_text(json.dumps(meta))
    return meta
