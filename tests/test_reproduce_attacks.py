"""Issue 21 fix round (fr2), a hostile reviewer's findings on train/reproduce: a command main
trusted only in passing, a PYTHONPATH into the checkout, a relative argv[0], a virtualenv
inside the checkout, metrics a float cannot hold, symlinked outputs, SIGTERM/SIGHUP (real
git, real git-lfs, real `branchml` processes for the signals; docs/reproducibility.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from branchml.core import environment as env
from branchml.core import manifest as core
from branchml.errors import UsageError
from branchml.ops.train import python_of
from tests.conftest import BIN, commit, git
from tests.test_reproduce import (
    COMMAND,
    TRAIN_PY,
    _setup,
    _train_and_tag,
    runs,
)

# the honest script, plus two ways to cheat and a way to sleep (set by a test's environment)
SCRIPT = """\
import os, sys, time
if os.environ.get("BML_TEST_LINK"):
    os.makedirs("models", exist_ok=True)
    os.makedirs("tracking", exist_ok=True)
    for rel in ("models/model.json", "tracking/metrics.json"):
        os.symlink(os.path.join(os.environ["BML_TEST_LINK"], rel), rel)
    raise SystemExit(0)
if os.environ.get("BML_TEST_PIDFILE"):
    with open(os.environ["BML_TEST_PIDFILE"] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.environ["BML_TEST_PIDFILE"] + ".tmp", os.environ["BML_TEST_PIDFILE"])
    time.sleep(120)
""" + TRAIN_PY


def _released(project: Path, bml, command: list[str] = COMMAND) -> Path:  # type: ignore[no-untyped-def]
    _setup(project, bml, script=SCRIPT, command=command)
    assert _train_and_tag(project, bml) == "acme-v1"
    return project


@pytest.fixture
def released(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    return _released(project, bml)


def _main_config(repo: Path, edit: str, old: str, new: str) -> None:
    cfg = git("show", "main:branchml.yaml", cwd=repo)
    assert old in cfg
    commit(repo, {"branchml.yaml": cfg.replace(old, new)}, edit, branch="main")
    git("checkout", "-q", "stable/model", cwd=repo)


def _forge(repo: Path, name: str, command: list[str]) -> None:
    m = core.parse(git("tag", "-l", "--format=%(contents)", "acme-v1", cwd=repo))
    assert m is not None
    m.update(tag=name, n=int(name.rsplit("v", 1)[1]))
    m["train"]["command"] = command
    git("tag", "-a", name, "-F", "-", m["commit"], cwd=repo,
        input=core.render(core.summary(m), m))


# 1 (08): a command main named only between two commits of one fast-forwarded PR

def test_transient_main_command_is_proven_history_not_run(released: Path, bml,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = ["sh", "-c", f"touch {marker}"]
    current = json.dumps(COMMAND)
    _main_config(released, "config: try a command", current, json.dumps(evil))
    _main_config(released, "config: back", json.dumps(evil), current)  # no net change
    _forge(released, "acme-v2", evil)
    assert bml("verify", "acme-v2", cwd=released).code == 0  # history: it was main's once
    r = bml("reproduce", "acme-v2", cwd=released)
    assert r.code == 1 and not marker.exists()
    assert r.err.strip().splitlines()[-1].endswith(
        f"acme-v2 records the command `sh -c 'touch {marker}'`, which is neither main's "
        "train.command nor listed in main's reproduce.commands, so it is not run; add it to "
        "reproduce.commands in branchml.yaml on main if the team trusts it.")
    # the twin: main's current command runs
    r = bml("reproduce", "acme-v1", cwd=released)
    assert r.code == 0 and r.out.startswith("acme-v1: identical"), r.err
    # listed in reproduce.commands, it runs; removed from there, it is revoked
    listed = f"\nreproduce:\n  commands:\n    - {json.dumps(evil)}"
    cfg = git("show", "main:branchml.yaml", cwd=released)
    commit(released, {"branchml.yaml": cfg + listed}, "trust it", branch="main")
    git("checkout", "-q", "stable/model", cwd=released)
    r = bml("reproduce", "acme-v2", cwd=released)
    assert marker.exists() and r.out.startswith("acme-v2: differs"), (r.out, r.err)
    marker.unlink()
    _main_config(released, "revoke it", listed, "")
    r = bml("reproduce", "acme-v2", cwd=released)
    assert r.code == 1 and not marker.exists() and "is not run" in r.err


def test_runnable_commands_are_main_s_current_ones() -> None:
    cfg = {"train": {"command": ["python", "t.py"]},
           "reproduce": {"commands": [["python", "old.py"], "not a list", []]}}
    assert env.runnable_commands(cfg) == [["python", "t.py"], ["python", "old.py"]]
    assert env.runnable_commands({}) == [] and env.runnable_commands(None) == []


# 2 (14): PYTHONPATH into the checkout must not let a branch write the environment record

def test_probe_ignores_a_pythonpath_into_the_checkout(released: Path, bml,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    meta = "Metadata-Version: 2.1\nName: {0}\nVersion: 6.6.6\n"
    commit(released, {"evilpkg-6.6.6.dist-info/METADATA": meta.format("evilpkg")},
           branch="stable/model")
    monkeypatch.setenv("PYTHONPATH", str(released))
    assert bml("train", cwd=released).code == 0
    recorded = json.loads((released / env.ENVIRONMENT_FILE).read_text())
    assert not [p for p in recorded["packages"] if p[0] == "evilpkg"]
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    assert not [c for c in json.loads(r.out)["environment"] if "evilpkg" in c], r.out
    # the twin: a PYTHONPATH outside the repository is the user's, and is kept
    outside = tmp_path / "site"
    (outside / "goodpkg-1.0.dist-info").mkdir(parents=True)
    (outside / "goodpkg-1.0.dist-info/METADATA").write_text(meta.format("goodpkg"))
    monkeypatch.setenv("PYTHONPATH", f"{released}{os.pathsep}{outside}")
    git("checkout", "-q", "--", env.ENVIRONMENT_FILE, cwd=released)
    assert bml("train", cwd=released).code == 0
    recorded = json.loads((released / env.ENVIRONMENT_FILE).read_text())
    assert ["goodpkg", "6.6.6"] in recorded["packages"]
    assert not [p for p in recorded["packages"] if p[0] == "evilpkg"]


def test_an_emptied_path_finds_no_interpreter(tmp_path: Path) -> None:
    """reproduce's PATH with every entry inside the repository: nothing, never the caller's."""
    with pytest.raises(UsageError, match="is not found on PATH"):
        python_of(["python3", "t.py"], tmp_path, "")


# 3 (07): a relative argv[0] names a file the branch committed

@pytest.mark.parametrize(("extra", "ok"), [
    ("train:\n  command: [bin/python3, src/train.py]\n", False),
    ("train:\n  command: [./train.sh]\n", False),
    ("train:\n  command: [python3]\nreproduce:\n  commands: [[tools/py, t.py]]\n", False),
    ("train:\n  command: [python3, src/train.py]\n", True),
    (f"train:\n  command: [{sys.executable}, src/train.py]\n", True),
])
def test_relative_argv0_with_a_slash_is_refused(project: Path, bml, extra: str,  # type: ignore[no-untyped-def]
                                                ok: bool) -> None:
    cfg = git("show", "main:branchml.yaml", cwd=project)
    (project / "branchml.yaml").write_text(cfg + "\n" + extra)
    r = bml("config", "validate", cwd=project)
    if ok:
        assert r.code == 0, r.err
        return
    assert r.code != 0 and "is a path inside the checkout; name a program on PATH or an " \
        "absolute path." in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize(("argv0", "refused"), [
    ("bin/python3", True), ("./train.sh", True), ("python3", False), ("/usr/bin/python3", False),
])
def test_the_run_time_guard_names_the_same_programs(argv0: str, refused: bool) -> None:
    """train and reproduce check again at run time (a config cached before the rule)."""
    assert env.names_a_checkout_file([argv0, "t.py"]) is refused


# 4 (12): a virtualenv inside the checkout is not what the re-run uses, and it says so

def test_repo_local_venv_is_named_before_the_verdict(project: Path, bml,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    system = "/usr/bin/python3"
    if not os.access(system, os.X_OK):
        pytest.skip("no /usr/bin/python3 to re-run with")
    venv = project / ".venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True)
    with open(project / ".git/info/exclude", "a") as f:
        f.write(".venv\n")
    monkeypatch.setenv("PATH", f"{venv}/bin{os.pathsep}/usr/bin{os.pathsep}/bin")
    _released(project, bml, ["python3", "src/train.py"])
    recorded = json.loads((project / env.ENVIRONMENT_FILE).read_text())
    assert recorded["executable"] == f"{venv}/bin/python3"
    r = bml("reproduce", "acme-v1", cwd=project)
    first, second = r.out.splitlines()[:2]
    assert first.startswith(f"train ran {venv}/bin/python3; reproduce runs /usr/bin/python3, "
                            "because PATH entries inside the repository are dropped: "
                            "activate a virtualenv outside it or name the interpreter by "
                            "absolute path in train.command."), r.out
    assert second.startswith("acme-v1: ")
    assert f"interpreter {venv}/bin/python3 -> /usr/bin/python3" in r.out


# 5 (06, 04): metrics compared exactly, and outputs a command only linked

@pytest.mark.parametrize(("recorded", "actual", "tolerance", "outside", "within"), [
    (2**53 + 1, 2**53, 0, ["metric m 9007199254740993 -> 9007199254740992 (over 0)"], []),
    (2**53 + 1, 2**53, 1, [], ["metric m 9007199254740993 -> 9007199254740992 (within 1)"]),
    (float("nan"), float("nan"), 0, [], []),
    (float("nan"), 1.0, 0, ["metric m nan -> 1.0"], []),
    (10**400, 2 * 10**400, 0.5, ["metric m 100000000000000000...000000000000000000 (401 "
                                 "characters) -> 200000000000000000...000000000000000000 "
                                 "(401 characters) (over 0.5)"], []),
    (10**400, 1.5, 0, ["metric m 100000000000000000...000000000000000000 (401 characters) "
                       "-> 1.5 (over 0)"], []),
    (1, 1.0, 0, [], []),
    (0.5, 0.5000001, 0.001, [], ["metric m 0.5 -> 0.5000001 (within 0.001)"]),
])
def test_metrics_compare_exactly_and_never_crash(recorded: object, actual: object,
                                                 tolerance: object, outside: list[str],
                                                 within: list[str]) -> None:
    assert env.metric_changes({"m": recorded}, {"m": actual}, tolerance) == (outside, within)


def test_symlinked_model_and_metrics_differ(released: Path, bml,  # type: ignore[no-untyped-def]
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BML_TEST_LINK", str(released))  # link to the checkout's own files
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    out = json.loads(r.out)
    assert r.code == 1 and out["verdict"] == "differs"
    assert out["models"] == {"models/model.json": "symlink"}
    assert "model models/model.json is a symlink, not a file the command wrote" \
        in out["differences"]
    assert "tracking/metrics.json is a symlink, not a file the command wrote" \
        in out["differences"]
    monkeypatch.delenv("BML_TEST_LINK")  # the twin: the honest run
    r = bml("reproduce", "acme-v1", cwd=released)
    assert r.code == 0 and r.out.startswith("acme-v1: identical"), r.err


# 6 (05): SIGTERM and SIGHUP clean up as Ctrl-C does

_runs = runs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "group"), [(signal.SIGTERM, False), (signal.SIGHUP, False),
                                            (signal.SIGTERM, True)])
def test_sigterm_and_sighup_remove_the_worktree_and_stop_the_command(
        released: Path, tmp_path: Path, sig: signal.Signals, group: bool) -> None:
    pidfile = tmp_path / "child.pid"
    p = subprocess.Popen([f"{BIN}/branchml", "reproduce", "acme-v1"], cwd=released,
                         env={**os.environ, "BML_TEST_PIDFILE": str(pidfile)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not pidfile.exists():
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "the re-run never started its command"
        time.sleep(0.05)
    child = int(pidfile.read_text())
    assert len(_runs(released)) == 1
    if group:
        os.killpg(p.pid, sig)  # a supervisor's kill of the whole job
    else:
        p.send_signal(sig)  # `kill`, `timeout`: branchml alone
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (out, err)
    assert _runs(released) == []
    assert len(git("worktree", "list", cwd=released).splitlines()) == 1
    assert not _alive(child)
