"""Issue 21 fix round (fr): `reproduce --keep`'s removal command, verify's sentence about
differing fields, the environment list cut in the text, and a re-run interrupted by Ctrl-C
or killed -9 (real git, real git-lfs, a real `branchml` process for the signals)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from branchml.ops.release import Verification
from tests.conftest import BIN, commit, git, git_proc
from tests.test_reproduce import (
    COMMAND,
    TRAIN_PY,
    _config,
    _hand_made,
    _setup,
    _train_and_tag,
    _train_config,
    runs,
)

# the re-run sleeps when BML_TEST_SLEEP names a file (written once it sleeps), so a test can
# signal a `branchml reproduce` whose command is running
SLEEPY = """\
import os, time
if os.environ.get("BML_TEST_SLEEP"):
    open(os.environ["BML_TEST_SLEEP"], "w").close()
    time.sleep(120)
""" + TRAIN_PY


@pytest.fixture
def released(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """stable/model trained by `branchml train` (a script that can be made to sleep),
    committed and tagged acme-v1."""
    _setup(project, bml, script=SLEEPY)
    assert _train_and_tag(project, bml) == "acme-v1"
    return project


_runs = runs


def _worktrees(repo: Path) -> int:
    return len(git("worktree", "list", cwd=repo).splitlines())


def test_keep_prints_a_removal_command_that_works(released: Path, bml,  # type: ignore[no-untyped-def]
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BML_TEST_NOISE", "0.5")  # a re-run that differs: files modified
    r = bml("reproduce", "acme-v1", "--keep", cwd=released)
    assert r.code == 1, r.err
    said = r.out.split("(remove it with `")[1].split("`)")[0]
    assert said.startswith("git worktree remove --force ")
    kept = Path(shlex.split(said)[-1])
    assert (kept / "models/model.json").is_file()  # the re-run's outputs: plain remove refuses
    plain = git_proc("worktree", "remove", str(kept), cwd=released)
    assert plain.returncode != 0 and "modified or untracked files" in plain.stderr
    assert kept.is_dir()
    p = subprocess.run(shlex.split(said), cwd=released, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert not kept.exists() and _worktrees(released) == 1


@pytest.mark.parametrize(("fields", "said"), [
    (["train"], "its manifest's train field does not match what its commit holds"),
    (["promotion", "pulled_from"],
     "its manifest's fields promotion and pulled_from do not match what its commit holds"),
    (["data", "splits", "train"],
     "its manifest's fields data, splits and train do not match what its commit holds"),
])
def test_verify_sentence_agrees_in_number(fields: list[str], said: str) -> None:
    v = Verification("acme-v9", "0" * 40, fields, [], 0, 0)
    assert v.problems() == [said]


def test_verify_of_a_forged_train_field_reads_as_a_sentence(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    _hand_made(released, "acme-v2", ["sh", "-c", "touch /tmp/pwned-by-manifest"])
    r = bml("verify", "acme-v2", cwd=released)
    assert r.code == 1
    assert r.out.splitlines() == [
        "acme-v2: train: its command was never main's train.command",
        "acme-v2: its manifest's train field does not match what its commit holds"]
    r = bml("reproduce", "acme-v2", cwd=released)
    assert r.code == 1 and "acme-v2 does not verify, so it is not re-run: train: its " \
        "command was never main's train.command." in r.err
    assert _runs(released) == []


def test_environment_text_lists_twenty_and_json_all(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    env = json.loads((released / "tracking/environment.json").read_text())
    env["packages"] = sorted(env["packages"] + [[f"gone-{i:03}", "1.0"] for i in range(150)])
    commit(released, {"tracking/environment.json": json.dumps(env)})
    assert bml("tag", "--client", "acme", "--allow-same", cwd=released).code == 0
    r = bml("reproduce", "acme-v2", cwd=released)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    at = lines.index("Environment differences (listed only; they never change the verdict):")
    assert lines[at + 1:at + 21] == [f"  package gone-{i:03} 1.0 removed" for i in range(20)]
    assert lines[at + 21] == "  ... and 130 more (--json lists all)"
    r = bml("reproduce", "acme-v2", "--json", cwd=released)
    assert r.code == 0 and len(json.loads(r.out)["environment"]) == 150


def _start(repo: Path, tmp_path: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    """A real `branchml reproduce acme-v1` process, its command asleep once it returns."""
    marker = tmp_path / name
    p = subprocess.Popen([f"{BIN}/branchml", "reproduce", "acme-v1"], cwd=repo,
                         env={**os.environ, "BML_TEST_SLEEP": str(marker)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)  # its own group: a test's kill -9 reaches all
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "the re-run never started its command"
        time.sleep(0.05)
    return p, marker


@pytest.mark.slow
def test_ctrl_c_removes_the_worktree(released: Path, tmp_path: Path) -> None:
    p, _ = _start(released, tmp_path, "asleep")
    assert len(_runs(released)) == 1 and _worktrees(released) == 2
    p.send_signal(signal.SIGINT)  # to branchml alone: it must stop its command itself
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (out, err)  # typer's exit for Ctrl-C
    assert _runs(released) == [] and _worktrees(released) == 1


@pytest.mark.slow
def test_kill_9_leftover_is_pruned_by_the_next_run(released: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    p, _ = _start(released, tmp_path, "killed")
    left = _runs(released)
    os.killpg(p.pid, signal.SIGKILL)  # branchml and its command: nothing cleans up
    p.communicate(timeout=30)
    assert _runs(released) == left and _worktrees(released) == 2
    # the twin: a re-run still running when the next one starts keeps its worktree
    running, _ = _start(released, tmp_path, "running")
    ours = [w for w in _runs(released) if w not in left]
    r = bml("reproduce", "acme-v1", cwd=released)
    assert r.code == 0 and r.out.startswith("acme-v1: identical"), r.err
    assert _runs(released) == ours and _worktrees(released) == 2
    running.send_signal(signal.SIGINT)
    running.communicate(timeout=30)
    assert running.returncode == 130
    assert _runs(released) == [] and _worktrees(released) == 1


def test_kept_worktree_survives_the_next_run(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("reproduce", "acme-v1", "--keep", cwd=released)
    kept = Path(shlex.split(r.out.split("(remove it with `")[1].split("`)")[0])[-1])
    assert kept.name.startswith("kept-")
    assert bml("reproduce", "acme-v1", cwd=released).code == 0
    assert _runs(released) == [kept] and _worktrees(released) == 2


# docs/reproducibility.md's pattern: the script asks for its rows itself, so the re-run in a
# fresh checkout reads the release's rows (no file left by an earlier `split rows -o`)
SELF_SPLITTING = """\
import json, os, tempfile
from pathlib import Path

from branchml import api

with tempfile.TemporaryDirectory() as tmp:
    api.split_rows("train", Path(tmp) / "train.csv", "train")
    rows = (Path(tmp) / "train.csv").read_text().splitlines()[1:]
xs = [float(r.split(",")[1]) for r in rows]
os.makedirs("models", exist_ok=True)
os.makedirs("tracking", exist_ok=True)
Path("models/model.json").write_text(json.dumps({"mean": sum(xs) / len(xs)}))
Path("tracking/metrics.json").write_text(json.dumps({"rows": len(xs)}))
"""


def test_documented_self_splitting_script_reproduces(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    _config(trained, _train_config(COMMAND))
    commit(trained, {"src/train.py": SELF_SPLITTING}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=trained).code == 0
    git("checkout", "-q", "stable/model", cwd=trained)
    assert _train_and_tag(trained, bml) == "acme-v1"
    m = json.loads(bml("show", "acme-v1", "--json", cwd=trained).out)
    assert [(s["split"], s["purpose"]) for s in m["splits"]] == [("train", "train")]
    r = bml("reproduce", "acme-v1", "--json", cwd=trained)
    assert r.code == 0, r.err
    assert json.loads(r.out)["verdict"] == "identical"
