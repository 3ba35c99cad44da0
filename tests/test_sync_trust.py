"""`branchml sync` and `clone` against a hostile remote (a bare repository with no hook, its
refs written by hand): a move the checker refuses is not made here, a ref that does not
point at a commit is skipped, and a sync that changes main's commands says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, git, git_proc
from tests.test_clone_sync import cloned, push_all, shared  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def with_file(repo: Path, rev: str, path: str, content: str) -> str:
    """The tree of `rev` with `path` replaced by `content` (through git's clean filters, so
    an LFS-tracked file becomes its pointer), no branch moved."""
    git("checkout", "-q", "--detach", rev, cwd=repo)
    made = commit(repo, {path: content})
    git("checkout", "-q", "main", cwd=repo)
    return git("rev-parse", f"{made}^{{tree}}", cwd=repo)


def push_raw(project: Path, rev: str) -> None:
    r = git_proc("push", "-q", "--no-verify", "origin", f"{rev}:refs/heads/raw", cwd=project)
    assert r.returncode == 0, r.stderr


def test_swapped_parent_merge_dropping_raw_rows_is_not_taken(  # finding 10
        shared: Path, project: Path, cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    # the legitimate twin: an honest append on raw is fast-forwarded
    honest = commit(project, {"data/rows.csv": "a\nb\nc\n"}, branch="raw")
    push_raw(project, honest)
    r = bml("sync", "--json", cwd=cloned)
    assert r.code == 0, r.err
    assert {b["branch"]: b["action"] for b in json.loads(r.out)["branches"]} == {
        "raw": "fast-forwarded"}
    assert git("rev-parse", "raw", cwd=cloned) == honest
    # the attack: a merge whose first parent is raw's older commit, its tree dropping b, c
    tree = with_file(project, honest, "data/rows.csv", "a\n")
    evil = git("commit-tree", tree, "-p", f"{honest}~1", "-p", honest, "-m", "Merge",
               cwd=project)
    push_raw(project, evil)
    r = bml("sync", "--json", cwd=cloned)
    assert r.code == 1
    rep = json.loads(r.out)
    raw = {b["branch"]: b for b in rep["branches"]}["raw"]
    assert rep["refused"] and rep["attention"]
    assert (raw["action"], raw["old"], raw["new"]) == ("refused", honest, honest)
    assert "data/rows.csv" in raw["why"] and "\n" not in raw["why"]
    assert raw["inspect"].startswith(f"branchml check --range {honest[:12]}..origin/raw")
    assert git("rev-parse", "raw", cwd=cloned) == honest  # the local raw did not move
    assert git("rev-parse", "origin/raw", cwd=cloned) == evil  # there to inspect
    text = bml("sync", cwd=cloned)
    assert text.code == 1 and "raw: refused (" in text.out and "inspect with:" in text.out
    check = bml("check", "--range", f"{honest}..origin/raw", "--branch", "raw", cwd=cloned)
    assert check.code == 1  # the command the report names finds the same refusal


def test_refused_move_does_not_stop_the_others(  # finding 10, other branches still move
        shared: Path, project: Path, cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    old = git("rev-parse", "raw", cwd=project)
    tree = with_file(project, old, "data/a.csv", "x\n")  # drops the row 1
    evil = git("commit-tree", tree, "-p", old, "-m", "drop", cwd=project)
    push_raw(project, evil)
    dev = commit(project, {"src/new.py": "x = 1\n"}, branch="dev/model")
    git("push", "-q", "--no-verify", "origin", "dev/model", cwd=project)
    rep = json.loads(bml("sync", "--json", cwd=cloned).out)
    acts = {b["branch"]: b["action"] for b in rep["branches"]}
    assert acts == {"raw": "refused", "dev/model": "fast-forwarded"}
    assert git("rev-parse", "raw", cwd=cloned) == old
    assert git("rev-parse", "dev/model", cwd=cloned) == dev


def test_new_branch_judged_from_its_parent(  # a new stable/* with unpromoted code
        shared: Path, project: Path, cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base = git("rev-parse", "stable/model", cwd=project)
    tree = with_file(project, base, "src/train.py", "print('evil')\n")
    evil = git("commit-tree", tree, "-p", base, "-m", "code on stable", cwd=project)
    git("push", "-q", "--no-verify", "origin", f"{evil}:refs/heads/stable/evil", cwd=project)
    git("push", "-q", "--no-verify", "origin", "main:refs/heads/dev/fresh", cwd=project)
    r = bml("sync", "--json", cwd=cloned)
    assert r.code == 1
    acts = {b["branch"]: b for b in json.loads(r.out)["branches"]}
    assert acts["stable/evil"]["action"] == "refused"
    assert acts["stable/evil"]["inspect"].startswith("branchml check --range 0000..")
    assert acts["dev/fresh"]["action"] == "created"  # the twin: a normal new branch
    assert git_proc("rev-parse", "-q", "--verify", "refs/heads/stable/evil",
                    cwd=cloned).returncode
    assert git("rev-parse", "dev/fresh", cwd=cloned)


def hostile_refs(bare: Path) -> tuple[str, str]:
    """Branches and release tags at a blob and a tree, written as files (no hook, no git
    check), as a server's administrator or a non-branchml host can."""
    blob = git("hash-object", "-w", "--stdin", cwd=bare, input="hello\n")
    tree = git("rev-parse", "main^{tree}", cwd=bare)
    (bare / "refs" / "heads" / "dev").mkdir(parents=True, exist_ok=True)
    (bare / "refs" / "heads" / "dev" / "evil").write_text(blob + "\n")
    (bare / "refs" / "heads" / "dev" / "tree").write_text(tree + "\n")
    (bare / "refs" / "tags" / "acme-v8").write_text(blob + "\n")
    git("update-ref", "refs/tags/acme-v9", "main", cwd=bare)  # lightweight
    return blob, tree


def test_refs_not_at_a_commit_are_skipped(  # finding 05
        shared: Path, project: Path, cloned: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    hostile_refs(shared)
    dev = commit(project, {"src/ok.py": "ok = 1\n"}, branch="dev/model")  # the twin
    git("push", "-q", "--no-verify", "origin", "dev/model", cwd=project)
    r = bml("sync", "--json", cwd=cloned)
    assert r.code == 0, r.err
    rep = json.loads(r.out)
    skipped = {s["ref"]: s["why"] for s in rep["skipped"]}
    assert skipped["refs/heads/dev/evil"] == "not a commit (a blob)"
    assert skipped["refs/heads/dev/tree"] == "not a commit (a tree)"
    assert skipped["refs/tags/acme-v8"] == "not an annotated tag of a commit (a blob)"
    assert skipped["refs/tags/acme-v9"] == "not an annotated tag of a commit (a commit)"
    assert rep["changes"]["releases"] == []  # skipped tags are not new releases
    text = bml("sync", cwd=cloned).out
    assert "new releases" not in text
    assert "Not taken: refs/tags/acme-v8 (not an annotated tag of a commit (a blob))" in text
    assert {b["branch"]: b["action"] for b in rep["branches"]} == {
        "dev/model": "fast-forwarded"}
    assert git("rev-parse", "dev/model", cwd=cloned) == dev
    refs = git("for-each-ref", "--format=%(refname) %(objecttype)", cwd=cloned)
    assert "evil" not in refs and "dev/tree" not in refs and "acme-v8" not in refs
    assert all(ln.split()[1] in ("commit", "tag") for ln in refs.splitlines())
    c2 = bml("clone", shared.as_uri(), str(tmp_path / "c2"), "--json")
    assert c2.code == 0, c2.err
    assert {s["ref"] for s in json.loads(c2.out)["skipped"]} >= {
        "refs/heads/dev/evil", "refs/heads/dev/tree", "refs/tags/acme-v8", "refs/tags/acme-v9"}
    assert "evil" not in git("for-each-ref", cwd=tmp_path / "c2")


def test_protected_branch_at_a_blob_does_not_stop_sync(  # finding 05, attack 2
        shared: Path, project: Path, cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    blob, _ = hostile_refs(shared)
    raw = git("rev-parse", "raw", cwd=cloned)
    git("update-ref", "-d", "refs/heads/raw", cwd=shared)
    (shared / "refs" / "heads" / "raw").write_text(blob + "\n")
    for _ in range(2):  # and every later sync
        r = bml("sync", "--json", cwd=cloned)
        assert r.code == 0, r.err
        rep = json.loads(r.out)
        assert {s["ref"]: s["why"] for s in rep["skipped"]}["refs/heads/raw"] == (
            "not a commit (a blob)")
        assert not any(b["branch"] == "raw" for b in rep["branches"])  # not "deleted" either
        assert git("rev-parse", "raw", cwd=cloned) == raw
        assert git("rev-parse", "origin/raw", cwd=cloned) == raw


def test_sync_says_when_main_changes_commands(
        shared: Path, project: Path, cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg = (project / "branchml.yaml").read_text()
    commit(project, {"README.md": "hello\n"}, branch="main")  # the twin: no command changed
    git("push", "-q", "origin", "main", cwd=project)
    rep = json.loads(bml("sync", "--json", cwd=cloned).out)
    assert rep["commands_changed"] == []
    new = cfg.replace("validate: []", "validate:\n  - glob: 'data/**'\n    command: [sh, x]")
    new = new.replace("require: []", "require: ['pytest -q']")
    assert new != cfg
    commit(project, {"branchml.yaml": new,
                     "monitoring/checks/evil.py": "def check(t):\n    return []\n"},
           branch="main")
    git("push", "-q", "--no-verify", "origin", "main", cwd=project)
    r = bml("sync", cwd=cloned)
    assert r.code == 0, r.err
    line = next(ln for ln in r.out.splitlines() if "changed commands" in ln)
    assert "validate, promote.require, monitoring/checks/*.py" in line
    assert git("rev-parse", "main", cwd=cloned) == git("rev-parse", "main", cwd=project)
