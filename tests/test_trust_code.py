"""Issue 15.7: code from untrusted branches never runs.

Each attack plants code where a branch other than the trusted main can put it, and asserts
that the marker it would write never appears; beside it, the trusted twin still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from branchml.content import rowworker
from branchml.core import native
from tests.conftest import BIN, commit, git, write
from tests.test_monitor import table


def marker_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')\n"


def with_config(repo: Path, old: str, new: str) -> None:
    cfg = git("show", "main:branchml.yaml", cwd=repo)
    assert old in cfg
    commit(repo, {"branchml.yaml": cfg.replace(old, new) + "\n"}, branch="main")


# --- monitor check: user checks come from main's tree at the trusted ref -------------------

@pytest.fixture
def released(plain_project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    repo = plain_project
    with_config(repo, "  target: null", "  target: label")
    commit(repo, {"data/train.csv": table(500)}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/m.pkl": "w"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    git("checkout", "-q", "main", cwd=repo)
    return repo


def test_monitor_check_never_runs_checks_from_the_monitoring_branch(
        released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    evil = marker_code(marker) + "def check(train, monitored):\n    return ['evil']\n"
    commit(released, {"monitoring/checks/evil.py": evil}, branch="monitoring")
    git("checkout", "-q", "main", cwd=released)
    f = write(tmp_path, "p.csv", table(200, seed=5, label=False))
    assert bml("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1",
               cwd=released).code == 0
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=released)
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["alerts"] == [] and not marker.exists()
    # twin: the same check committed on main runs
    commit(released, {"monitoring/checks/mean.py":
                      "def check(train, monitored):\n    return ['main check ran']\n"},
           branch="main")
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=released)
    assert r.code == 1 and json.loads(r.out)["alerts"] == ["mean.py: main check ran"]
    assert not marker.exists()


def test_monitor_check_refuses_a_check_stored_as_lfs_pointer(released: Path, bml,
                                                             tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64
               + "\nsize 12\n")
    commit(released, {"monitoring/checks/mean.py": pointer}, branch="main")
    f = write(tmp_path, "p.csv", table(50, seed=5, label=False))
    bml("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1", cwd=released)
    r = bml("monitor", "check", "--tag", "acme-v1", cwd=released)
    assert r.code == 4
    assert ("monitoring/checks/mean.py on refs/heads/main is stored in git-lfs, so it cannot "
            "run: add `monitoring/checks/** !filter !diff !merge !text` to .gitattributes on "
            "main and commit the check again.") in r.err


def test_check_committed_the_normal_way_on_main_is_a_plain_blob(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """With git-lfs on, `monitoring/**` is stored in git-lfs, but not the checks under it;
    and main (which takes no data) accepts them as config."""
    base = git("rev-parse", "main", cwd=project)
    code = "def check(train, monitored):\n    return []\n"
    commit(project, {"monitoring/checks/ok.py": code}, branch="main", verify=True)
    assert git("cat-file", "-p", "main:monitoring/checks/ok.py", cwd=project) == code.strip()
    assert bml("check", "--range", f"{base}..main", "--branch", "main", cwd=project).code == 0
    commit(project, {"monitoring/x.csv": "a\n"}, branch="monitoring")
    assert git("cat-file", "-p", "monitoring:monitoring/x.csv",
               cwd=project).startswith("version https://git-lfs")


# --- validate: commands run among main's files, never the working tree's ------------------

VALIDATE = ("validate:\n  - glob: \"data/**/*.csv\"\n"
            f"    command: [{json.dumps(sys.executable)}, \"{{script}}\"]\n")


def test_validator_script_of_a_checked_out_dev_branch_never_runs(
        plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, marker = plain_project, tmp_path / "pwned"
    with_config(repo, "validate: []\n", VALIDATE.format(script="tools/check.py"))
    commit(repo, {"tools/check.py": marker_code(marker)}, branch="dev/model")
    commit(repo, {"data/a.csv": "id\n1\n"}, branch="raw")
    git("checkout", "-q", "dev/model", cwd=repo)  # its tools/check.py is in the worktree
    r = bml("pull", "raw", "clean", "--validate", "--json", cwd=repo)
    assert r.code == 0, r.err
    assert not marker.exists()
    dropped = json.loads(r.out)["dropped"]["data/a.csv"]
    assert dropped.startswith(f"`{sys.executable} tools/check.py` exited 2")  # not on main


def test_validator_script_from_main_runs(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The twin: a script kept on main (in a folder of the config class) runs; the dev
    branch's file of the same name, checked out, does not."""
    repo, marker = plain_project, tmp_path / "pwned"
    with_config(repo, "validate: []\n", VALIDATE.format(script="validators/check.py"))
    with_config(repo, "config: [branchml.yaml,", "config: [\"validators/**\", branchml.yaml,")
    script = ("import sys\nif b'bad' in open(sys.argv[1], 'rb').read():\n"
              "    print('says bad'); sys.exit(1)\n")
    commit(repo, {"validators/check.py": script}, branch="main")
    commit(repo, {"validators/check.py": marker_code(marker)}, branch="dev/model")
    commit(repo, {"data/good.csv": "id\n1\n", "data/bad.csv": "id\nbad\n"}, branch="raw")
    git("checkout", "-q", "dev/model", cwd=repo)
    r = bml("pull", "raw", "clean", "--validate", "--json", cwd=repo)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["added"] == ["data/good.csv"]
    assert out["dropped"] == {"data/bad.csv":
                              f"`{sys.executable} validators/check.py` exited 1: says bad"}
    assert not marker.exists()
    assert not list((repo / ".git" / "branchml" / "tmp").glob("trusted-*"))  # cleaned up


# --- the row helper imports only the installed branchml ------------------------------------

def test_row_helper_never_imports_a_checked_out_branchml(
        plain_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    commit(plain_project, {"branchml/__init__.py": marker_code(marker),
                           "branchml/content/__init__.py": "",
                           "branchml/content/rowworker.py": marker_code(marker)},
           branch="dev/model")
    monkeypatch.chdir(plain_project)  # the folder the command (and so the helper) starts in
    monkeypatch.setenv("BRANCHML_ROW_HELPER", "1")
    monkeypatch.setenv("PYTHONPATH", "")  # an empty entry would mean the current folder too
    monkeypatch.setattr(native, "_lib", None)  # the helper only starts without the C hashes
    rowworker.start()
    try:
        files = {n: tmp_path / n for n in ("base", "ours", "theirs")}
        for name, data in (("base", b"a\n"), ("ours", b"a\nb\nc\n"), ("theirs", b"a\nc\nd\n")):
            files[name].write_bytes(data)
        pending = rowworker.submit("text", files["base"], files["ours"], files["theirs"])
        assert pending.result() == Counter({b"c": 1})  # the installed helper answered
    finally:
        rowworker.stop()
    assert not marker.exists()


def test_pull_with_the_helper_from_a_branch_holding_branchml(plain_project: Path,
                                                             tmp_path: Path) -> None:
    """Through the console script, as a user runs it: `pull` starts the helper first."""
    marker = tmp_path / "pwned"
    commit(plain_project, {"data/a.csv": "id\n1\n"}, branch="raw")
    commit(plain_project, {"branchml/__init__.py": marker_code(marker)}, branch="dev/model")
    env = {"BRANCHML_ROW_HELPER": "1", "BRANCHML_NATIVE": "0", "PATH": f"{BIN}:/usr/bin:/bin",
           "HOME": str(Path.home()), "GIT_CONFIG_NOSYSTEM": "1"}
    r = subprocess.run([f"{BIN}/branchml", "pull", "raw", "clean"], cwd=plain_project, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
