"""Concurrency soak (issue 16, item 4): 8 processes run mixed write commands on one
repository for a bounded time. Zero corruption (`git fsck --full`, `git lfs fsck`), every
refusal is the lock message with exit 4, and tags minted at the same time for one client get
distinct numbers. BRANCHML_SOAK_SECONDS sets the time (a few seconds in `make test`, 30 in the
fault run)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, git
from tests.corpus.runner import build_templates, env_for

WORKERS = 8
SECONDS = float(os.environ.get("BRANCHML_SOAK_SECONDS", "4"))
LOCK_MESSAGES = ("another branchml command holds", "could not take")


@dataclass
class Outcome:
    worker: int
    op: str
    code: int
    out: str
    err: str


def _ops(worker: int, n: int, files: Path) -> list[str]:
    """The n-th operation of a worker: the first two workers tag acme at once; after that
    each worker cycles through every kind of write, on names of its own where names collide."""
    log = files / f"w{worker}-{n}.csv"
    log.write_text(f"x1,x2,cat,prediction\n{worker}.5,{n},a,{n % 2}\n")
    cycle = [
        ["tag", "--client", "acme", "--allow-same"],
        ["monitor", "log", str(log), "--client", "acme", "--tag", "acme-v1"],
        ["branch", "create", f"dev/w{worker}-{n}"],
        ["pull", "raw", "clean"],
        ["deploy", "--client", "acme", "acme-v1"],
        ["track", "stable/model"],
        ["analysis", "start", f"c{worker}-{n}"],
        ["tag", "--client", f"beta{worker % 2}", "--allow-same"],
    ]
    return cycle[0 if n == 0 and worker < 2 else (worker + n) % len(cycle)]


def _worker(worker: int, repo: Path, env: dict[str, str], files: Path, start: threading.Barrier,
            deadline: list[float], out: list[Outcome]) -> None:
    start.wait()
    n = 0
    while time.monotonic() < deadline[0]:
        args = _ops(worker, n, files)
        done = subprocess.run([f"{BIN}/branchml", *args], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=300)
        out.append(Outcome(worker, " ".join(args[:2]), done.returncode, done.stdout,
                           done.stderr))
        n += 1


@dataclass
class Soak:
    repo: Path
    env: dict[str, str]
    outcomes: list[Outcome]


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Soak:
    """One soak run, judged by the tests below."""
    env = env_for(home)
    base = tmp_path_factory.mktemp("soak")
    repo = build_templates(base, env)["released"]
    files = base / "files"
    files.mkdir()
    outcomes: list[Outcome] = []
    start = threading.Barrier(WORKERS)
    deadline = [time.monotonic() + SECONDS]
    threads = [threading.Thread(target=_worker, args=(w, repo, env, files, start, deadline,
                                                      outcomes)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = Counter((o.op, o.code) for o in outcomes)
    print(f"soak: {len(outcomes)} operations in {SECONDS:g} s, {WORKERS} workers: "
          + ", ".join(f"{op} exit {code}: {k}" for (op, code), k in sorted(summary.items())))
    return Soak(repo, env, outcomes)


def _said(o: Outcome) -> str:
    return f"worker {o.worker} `{o.op}`: exit {o.code}\n{o.out}{o.err}"


@pytest.mark.slow
def test_soak_leaves_no_corruption(soak: Soak) -> None:
    assert len(soak.outcomes) >= WORKERS
    for o in soak.outcomes:
        assert "Traceback" not in _said(o) and o.code != 70, _said(o)
    fsck = subprocess.run(["git", "fsck", "--full", "--no-dangling"], cwd=soak.repo,
                          env=soak.env, capture_output=True, text=True)
    assert fsck.returncode == 0 and not fsck.stdout.strip(), fsck.stdout + fsck.stderr
    lfs = subprocess.run(["git", "lfs", "fsck"], cwd=soak.repo, env=soak.env,
                         capture_output=True, text=True)
    assert lfs.returncode == 0, lfs.stdout + lfs.stderr
    assert git("status", "--porcelain", cwd=soak.repo) == ""  # main's worktree is its head


@pytest.mark.slow
def test_soak_tags_get_distinct_numbers(soak: Soak) -> None:
    minted = [m for o in soak.outcomes if o.code == 0
              for m in re.findall(r"^Tagged (\S+):", o.out, re.M)]
    twice = [t for t, k in Counter(minted).items() if k > 1]
    assert not twice, twice
    tags = set(git("tag", "--list", cwd=soak.repo).split())
    assert set(minted) <= tags and len(tags) == len(minted) + 1  # acme-v1 was there before
    racing = [o for o in soak.outcomes if o.worker < 2 and o.op == "tag --client"]
    assert len(racing) >= 2  # the first two workers tagged acme at the same moment


@pytest.mark.slow
def test_soak_every_refusal_is_the_lock_message(soak: Soak) -> None:
    for o in soak.outcomes:
        if o.code != 0:
            assert o.code == 4 and any(m in o.err for m in LOCK_MESSAGES), _said(o)
            assert len(o.err.strip().splitlines()) == 1, _said(o)


@pytest.mark.slow
def test_soak_refusals_other_than_tag_races_are_the_lock_message(soak: Soak) -> None:
    """What holds already: every refusal but a tag's lost race is the lock message."""
    for o in soak.outcomes:
        if o.code != 0 and not (o.op == "tag --client" and o.code == 3
                                and "already exists here; run the command again" in o.err):
            assert o.code == 4 and any(m in o.err for m in LOCK_MESSAGES), _said(o)
