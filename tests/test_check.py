"""`branchml check`: staged, ranges, JSON, the trusted side, git-lfs growth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import commit, copied_fixtures, git, snapshot, write

project = copied_fixtures()


YAML_LOOSE_RAW = ("version: 1\nbranches:\n  main: {type: main, may_change: [docs, config]}\n"
                  "  raw: {type: data, parent: main, may_change: [data, docs, config]}\n")


def test_staged_ok_and_violation(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    write(plain_project, "docs/x.md", "x\n")
    git("add", "docs/x.md", cwd=plain_project)
    r = bml("check", "--staged", cwd=plain_project)
    assert r.code == 0
    assert r.out == ("ok: main: the 1 staged change(s) follow the policy "
                     "(HEAD:branchml.yaml).\n")
    write(plain_project, "src/a.py", "x\n")
    git("add", "src/a.py", cwd=plain_project)
    r = bml("check", "--staged", "--json", cwd=plain_project)
    assert r.code == 1
    data = json.loads(r.out)
    assert data["ok"] is False
    assert data["violations"] == [{
        "rule": "class-not-allowed", "commit": "", "path": "src/a.py", "branch": "main",
        "message": "main takes no code: commit src/a.py on a dev/* branch instead"}]


def test_range_names_commit_path_rule_and_fix(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = git("rev-parse", "raw", cwd=plain_project)
    commit(plain_project, {"data/2024-01.csv": "a\n1\n"}, branch="raw")
    bad = commit(plain_project, {"data/2024-01.csv": "a\n2\n"})
    r = bml("check", "--range", f"{base}..raw", "--branch", "raw", cwd=plain_project)
    assert r.code == 1
    assert r.out.splitlines() == [
        f"raw: commit {bad[:10]}: data on raw is append-only: data/2024-01.csv was edited, not "
        "only grown at its end (its old bytes changed); keep its old bytes as they were and "
        "append, or add a new file",
        "1 violation of the policy (refs/heads/main:branchml.yaml).",
    ]


def test_range_growth_and_new_files_pass(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = git("rev-parse", "raw", cwd=plain_project)
    commit(plain_project, {"data/a.csv": "a\n1\n"}, branch="raw")
    commit(plain_project, {"data/a.csv": "a\n1\n2\n", "data/b.csv": "b\n"})
    r = bml("check", "--range", f"{base}..HEAD", "--json", cwd=plain_project)
    assert r.code == 0
    assert json.loads(r.out)["commits_checked"] == 2


def test_range_judges_by_main_policy_not_the_pushed_config(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = git("rev-parse", "raw", cwd=plain_project)
    commit(plain_project, {"data/a.csv": "a\n"}, branch="raw")
    git("branch", "-f", "good", "raw", cwd=plain_project)
    mid = git("rev-parse", "raw", cwd=plain_project)
    commit(plain_project, {"branchml.yaml": YAML_LOOSE_RAW, "data/a.csv": None})
    r = bml("check", "--range", f"{mid}..raw", "--branch", "raw", "--json", cwd=plain_project)
    data = json.loads(r.out)
    assert r.code == 1
    assert data["policy"] == "refs/heads/main:branchml.yaml"
    assert [v["rule"] for v in data["violations"]] == ["append-only"]
    assert bml("check", "--range", f"{base}..{mid}", "--branch", "raw",
               cwd=plain_project).code == 0


def test_main_range_judged_by_config_before_it(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = git("rev-parse", "main", cwd=plain_project)
    loose = (plain_project / "branchml.yaml").read_text().replace(
        "may_change: [docs, config, tracking]", "may_change: [docs, config, tracking, code]", 1)
    commit(plain_project, {"branchml.yaml": loose}, branch="main")
    commit(plain_project, {"src/a.py": "x\n"})
    r = bml("check", "--range", f"{base}..main", "--branch", "main", "--json", cwd=plain_project)
    assert r.code == 1
    data = json.loads(r.out)
    assert data["policy"] == f"{base}:branchml.yaml"
    assert [v["path"] for v in data["violations"]] == ["src/a.py"]


def test_code_on_stable_only_by_promotion(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = git("rev-parse", "stable/model", cwd=plain_project)
    commit(plain_project, {"models/m.pkl": "w1", "src/train.py": "x\n"}, branch="stable/model")
    r = bml("check", "--range", f"{base}..HEAD", cwd=plain_project)
    assert r.code == 1
    assert ("code on stable/model changes only by promotion: change src/train.py on a dev/* "
            "branch and run `branchml promote dev/<name> stable/model`") in r.out


def test_merge_commit_judged_by_first_parent_diff(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/a.csv": "a\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    base = git("rev-parse", "HEAD", cwd=plain_project)
    git("merge", "-q", "--no-ff", "--no-verify", "-m", "pull raw", "raw", cwd=plain_project)
    r = bml("check", "--range", f"{base}..clean", "--json", cwd=plain_project)
    data = json.loads(r.out)
    assert r.code == 0 and data["commits_checked"] == 1


def test_unknown_branch(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = git("rev-parse", "main", cwd=plain_project)
    git("checkout", "-q", "-b", "feature/x", cwd=plain_project)
    commit(plain_project, {"docs/a.md": "a\n"})
    r = bml("check", "--range", f"{base}..HEAD", cwd=plain_project)
    assert r.code == 1
    assert r.out.startswith("feature/x: branch feature/x matches no branch type in branchml.yaml")


@pytest.mark.parametrize(("spec", "message"), [
    ("HEAD", "--range 'HEAD' is not of the form A..B; give two revisions."),
    ("..HEAD", "--range '..HEAD' is not of the form A..B; give two revisions."),
    ("HEAD..", "--range 'HEAD..' is not of the form A..B; give two revisions."),
    ("HEAD...main", "--range 'HEAD...main' is not of the form A..B; give two revisions."),
    ("nope..HEAD", "'nope' is not a commit in this repository; check the --range."),
    ("--output=x..HEAD", "'--output=x' is not a commit in this repository; check the --range."),
])
def test_bad_ranges(plain_project: Path, bml, spec: str, message: str) -> None:  # type: ignore[no-untyped-def]
    r = bml("check", f"--range={spec}", cwd=plain_project)
    assert (r.code, r.err) == (2, f"branchml: error: {message}\n")
    assert not (plain_project / "x").exists()


@pytest.mark.parametrize("args", [[], ["--staged", "--range", "a..b"]])
def test_staged_xor_range(plain_project: Path, bml, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    r = bml("check", *args, cwd=plain_project)
    assert (r.code, r.err) == (2, "branchml: error: give exactly one of --staged, --range A..B or --gates.\n")


def test_bad_branch_option(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("check", "--range", "main..main", "--branch", "--upload-pack=x", cwd=plain_project)
    assert r.code == 2 and "is not a valid branch name: it starts with '-'" in r.err


def test_detached_head(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("checkout", "-q", "--detach", "main", cwd=plain_project)
    r = bml("check", "--staged", cwd=plain_project)
    assert r.code == 0 and "note: detached HEAD" in r.out


def test_not_a_repository(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("check", "--staged", cwd=tmp_path)
    assert r.code == 4
    assert r.err == (f"branchml: error: {tmp_path} is not in a git repository: run `branchml "
                     "init` there, or pass -C PATH.\n")


def test_dash_c(plain_project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("-C", str(plain_project), "check", "--staged", cwd=tmp_path).code == 0
    r = bml("-C", str(tmp_path / "nope"), "status", cwd=tmp_path)
    assert (r.code, r.err) == (2, f"branchml: error: -C {tmp_path / 'nope'}: no such folder.\n")


class TestLfs:
    """Growth of a git-lfs file is judged through its objects, not its pointers."""

    def test_grow_ok_edit_refused(self, project: Path, bml) -> None:  # type: ignore[no-untyped-def]
        base = git("rev-parse", "raw", cwd=project)
        commit(project, {"data/big.csv": "h\n" + "1\n" * 1000}, branch="raw")
        assert "data/big.csv" in git("lfs", "ls-files", cwd=project)
        commit(project, {"data/big.csv": "h\n" + "1\n" * 1000 + "2\n"})
        assert bml("check", "--range", f"{base}..raw", cwd=project).code == 0
        commit(project, {"data/big.csv": "h\n" + "3\n" * 1001})
        r = bml("check", "--range", f"{base}..raw", cwd=project)
        assert r.code == 1 and "(its old bytes changed)" in r.out

    def test_missing_object_cannot_be_verified(self, project: Path, bml) -> None:  # type: ignore[no-untyped-def]
        base = git("rev-parse", "raw", cwd=project)
        commit(project, {"data/big.csv": "h\n1\n"}, branch="raw")
        commit(project, {"data/big.csv": "h\n1\n2\n"})
        git("checkout", "-q", "main", cwd=project)  # else `git status` re-cleans the file
        shutil.rmtree(project / ".git" / "lfs" / "objects")
        before = snapshot(project)
        r = bml("check", "--range", f"{base}..raw", "--branch", "raw", cwd=project)
        assert r.code == 1
        assert "is not in this repository's LFS store, so its growth cannot be verified: fetch " \
               "it (`git lfs fetch`)" in r.out
        assert snapshot(project) == before

    def test_pointer_to_plain_is_not_growth(self, project: Path, bml) -> None:  # type: ignore[no-untyped-def]
        base = git("rev-parse", "raw", cwd=project)
        commit(project, {"data/a.csv": "h\n1\n"}, branch="raw")
        commit(project, {".gitattributes": "", "data/a.csv": "h\n1\n2\n"})
        r = bml("check", "--range", f"{base}..raw", cwd=project)
        assert r.code == 1 and "moved between git-lfs and plain git storage" in r.out


def test_git_reader_dropped_unclosed_leaves_no_process(plain_project: Path) -> None:
    """A `Git` nobody closed still ends its `git cat-file` when dropped, even with an
    object half read (its stdout is closed before it is waited for)."""
    import gc
    import os

    from branchml.repo.reader import Git

    commit(plain_project, {"big.txt": "x" * 3_000_000}, "big")  # more than a read and a pipe
    g = Git(plain_project)
    assert g.resolve("HEAD")
    stream = g.cat.stream("HEAD:big.txt")
    assert stream is not None and next(stream)
    pid = g.cat.p.pid
    del g, stream
    gc.collect()
    with pytest.raises(ChildProcessError):  # waited for already: no zombie, nothing running
        os.waitpid(pid, os.WNOHANG)
