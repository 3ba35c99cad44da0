"""Second security review of issue 18 (atk18b), split stability and lineage findings: an
assignment that held items is never deleted, and a re-added one is compared with the one before
it (02); a `Pulled-From` hop is proven only by a commit on the named branch's first-parent
history (05). Each attack made with git plumbing the way the reviewer made it, beside its
legitimate twin."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from branchml.core.changes import Change
from branchml.core.splitcheck import ASSIGNMENT, deletion, paired
from tests.conftest import BIN, commit, empty_server, git, git_proc

DELETED = ("split: data/split/assignment.csv is deleted while it assigns items; an item once "
           "assigned never moves and an assignment is never deleted, so keep the file (restore "
           "it from the commit before)")
MOVED = "split: item '1' moved from test to train; an item once assigned never moves"
ALL_TRAIN = "key,split\n1,train\n2,train\n3,train\n"


def refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def bml_bin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user (and the hooks) run it."""
    return subprocess.run([f"{BIN}/branchml", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def split_project(tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """The finding's project: the default config (`init --no-lfs`, hooks installed), rows 1..3
    on raw pulled to clean and split, split by id (item 1 in test, 2 and 3 in train)."""
    repo = tmp_path / "proj"
    assert bml("init", str(repo), "--no-lfs").code == 0
    commit(repo, {"data/d.csv": "id,x\n1,a\n2,b\n3,c\n"}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", src, dst, cwd=repo).code == 0
    git("checkout", "-q", "split", cwd=repo)
    assert bml("split", "--key", "id", cwd=repo).code == 0
    assert git("show", f"split:{ASSIGNMENT}", cwd=repo) == "key,split\n1,test\n2,train\n3,train"
    return repo


@pytest.fixture
def split_server(split_project: Path, tmp_path: Path) -> Path:
    """A bare server with `branchml install`, every branch pushed to it."""
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    assert bml_bin("install", cwd=bare).returncode == 0
    git("remote", "add", "origin", str(bare), cwd=split_project)
    pushed = git_proc("push", "origin", "--all", cwd=split_project)
    assert pushed.returncode == 0, pushed.stderr
    return bare


def plumbing_commit(repo: Path, parent: str, files: dict[str, str | None], msg: str) -> str:
    """A commit made by hand on `parent` (no hook runs): `files` written (None: removed) into
    a scratch index, `git write-tree`, `git commit-tree`; the branch is not moved."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "atk-index")}

    def run(*args: str, input: str | None = None) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              input=input, check=True, env=env).stdout.strip()

    run("read-tree", parent)
    for path, content in files.items():
        if content is None:
            run("update-index", "--force-remove", path)
        else:
            blob = run("hash-object", "-w", "--stdin", input=content)
            run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = run("write-tree")
    (repo / ".git" / "atk-index").unlink()
    return git("commit-tree", tree, "-p", parent, "-m", msg, cwd=repo)


def delete_then_readd(repo: Path, content: str = ALL_TRAIN) -> tuple[str, str, str]:
    """(split before, the deletion, the re-add) made with plumbing, split moved onto it."""
    before = git("rev-parse", "split", cwd=repo)
    dropped = plumbing_commit(repo, before, {ASSIGNMENT: None}, "drop")
    readded = plumbing_commit(repo, dropped, {ASSIGNMENT: content}, "re-assign")
    git("update-ref", "refs/heads/split", readded, cwd=repo)
    return before, dropped, readded


# -- 02: the assignment deleted, then re-added with items moved --------------------------------
def test_02_core_a_deletion_is_refused_only_when_items_were_assigned() -> None:
    def of(text: bytes):  # type: ignore[no-untyped-def]
        return lambda: [text]

    assert deletion(of(b"key,split\n1,test\n"), 1000) == (
        "data/split/assignment.csv is deleted while it assigns items")
    assert deletion(of(b"key,split\n"), 1000) is None  # held no item: nothing can move
    assert deletion(of(b""), 1000) is None
    assert deletion(of(b"not,a header\n1,x\n"), 1000) is not None  # unreadable: held items
    assert deletion(None, 1000) == ("data/split/assignment.csv is deleted and its content "
                                    "cannot be read here to show it assigned no item")


def test_02_core_a_readded_assignment_is_compared_with_the_last_one_before_it() -> None:
    z = "0" * 40
    walk = [("c1", Change("M", ASSIGNMENT, "a0", "a1")), ("c2", Change("D", ASSIGNMENT, "a1", z)),
            ("c3", Change("A", ASSIGNMENT, z, "a3")), ("c4", Change("M", ASSIGNMENT, "a3", "a4"))]
    assert [(s, c.status, c.old_oid, c.new_oid) for s, c in paired(walk)] == [
        ("c1", "M", "a0", "a1"), ("c2", "D", "a1", z), ("c3", "M", "a1", "a3"),
        ("c4", "M", "a3", "a4")]
    first = [("c1", Change("A", ASSIGNMENT, z, "a1"))]  # the first split: nothing before it
    assert list(paired(first)) == first


def test_02_check_range_refuses_the_deletion_and_compares_the_readd(split_project: Path,
                                                                   bml) -> None:  # type: ignore[no-untyped-def]
    before, dropped, readded = delete_then_readd(split_project)
    r = bml("check", "--range", f"{before}..split", "--branch", "split", "--json",
            cwd=split_project)
    assert r.code == 1
    found = [(v["commit"], v["rule"], v["message"]) for v in json.loads(r.out)["violations"]]
    assert found == [(dropped, "split-stable", DELETED), (readded, "split-stable", MOVED)]


def test_02_the_deletion_alone_is_refused_by_check_range(split_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    before = git("rev-parse", "split", cwd=split_project)
    dropped = plumbing_commit(split_project, before, {ASSIGNMENT: None}, "drop")
    r = bml("check", "--range", f"{before}..{dropped}", "--branch", "split", cwd=split_project)
    assert r.code == 1 and DELETED in r.out


def test_02_pre_commit_refuses_a_staged_deletion(split_project: Path) -> None:
    git("checkout", "-q", "split", cwd=split_project)
    head = git("rev-parse", "HEAD", cwd=split_project)
    git("rm", "-q", ASSIGNMENT, cwd=split_project)
    done = git_proc("commit", "-qm", "drop the assignment", cwd=split_project)  # hooks run
    assert done.returncode != 0 and DELETED in done.stdout + done.stderr
    assert git("rev-parse", "HEAD", cwd=split_project) == head


@pytest.mark.slow
def test_02_one_push_of_deletion_and_readd_is_refused_server_unchanged(
        split_project: Path, split_server: Path) -> None:
    before = refs(split_server)
    delete_then_readd(split_project)
    pushed = git_proc("push", "--no-verify", "origin", "split", cwd=split_project)
    assert pushed.returncode != 0 and "pre-receive hook declined" in pushed.stderr
    assert DELETED in pushed.stderr and MOVED in pushed.stderr
    assert refs(split_server) == before
    assert git("show", f"split:{ASSIGNMENT}", cwd=split_server).startswith("key,split\n1,test")


@pytest.mark.slow
def test_02_two_pushes_the_deletion_is_refused_server_unchanged(split_project: Path,
                                                                split_server: Path) -> None:
    before = refs(split_server)
    dropped = plumbing_commit(split_project, git("rev-parse", "split", cwd=split_project),
                              {ASSIGNMENT: None}, "drop")
    git("update-ref", "refs/heads/split", dropped, cwd=split_project)
    pushed = git_proc("push", "--no-verify", "origin", "split", cwd=split_project)
    assert pushed.returncode != 0 and DELETED in pushed.stderr
    assert refs(split_server) == before
    # the pre-push door refuses it too (a push without --no-verify)
    pushed = git_proc("push", "origin", "split", cwd=split_project)
    assert pushed.returncode != 0 and DELETED in pushed.stdout + pushed.stderr
    assert refs(split_server) == before


@pytest.mark.slow
def test_02_deleting_a_pulled_assignment_on_stable_is_refused(split_project: Path,
                                                             split_server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(split_project, {"src/train.py": "print(1)\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=split_project).code == 0
    assert bml("pull", "split", "stable/model", cwd=split_project).code == 0
    for branch in ("dev/model", "stable/model"):
        assert git_proc("push", "origin", branch, cwd=split_project).returncode == 0
    before = refs(split_server)
    tip = git("rev-parse", "stable/model", cwd=split_project)
    dropped = plumbing_commit(split_project, tip, {ASSIGNMENT: None}, "drop")
    git("update-ref", "refs/heads/stable/model", dropped, cwd=split_project)
    pushed = git_proc("push", "--no-verify", "origin", "stable/model", cwd=split_project)
    assert pushed.returncode != 0 and DELETED in pushed.stderr
    assert refs(split_server) == before


@pytest.mark.slow
def test_02_twin_a_carried_removal_and_a_grown_assignment_are_accepted(
        split_project: Path, split_server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """00-legit-twins: clean removes row 2, `pull clean split` carries it, `split --key id`
    grows the assignment by item 4; pushed with the hooks, accepted; the assignment keeps 2."""
    commit(split_project, {"data/d.csv": "id,x\n1,a\n3,c\n4,d\n"}, branch="clean")
    assert bml("pull", "clean", "split", cwd=split_project).code == 0
    git("checkout", "-q", "split", cwd=split_project)
    assert bml("split", "--key", "id", cwd=split_project).code == 0
    pushed = git_proc("push", "origin", "clean", "split", cwd=split_project)
    assert pushed.returncode == 0, pushed.stderr
    assert git("rev-parse", "split", cwd=split_server) == git("rev-parse", "split",
                                                              cwd=split_project)
    assert git("show", f"split:{ASSIGNMENT}", cwd=split_server) == (
        "key,split\n1,test\n2,train\n3,train\n4,train")
    assert git("show", "split:data/d.csv", cwd=split_server) == "id,x\n1,a\n3,c\n4,d"


# -- 05: a hop proven by a commit merged into the branch, not the branch's own -----------------
def _side_on_raw(repo: Path) -> str:
    """The reviewer's first step: a ROOT commit SIDE holding data/evil.csv, and on raw a
    no-op merge (raw's tree unchanged) whose second parent is SIDE. Returns SIDE."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input="id,x\n999,1\n")
    data = git("mktree", cwd=repo, input=f"100644 blob {blob}\tevil.csv\n")
    side = git("commit-tree", git("mktree", cwd=repo, input=f"040000 tree {data}\tdata\n"),
               "-m", "side", cwd=repo)
    raw = git("rev-parse", "raw", cwd=repo)
    noop = git("commit-tree", f"{raw}^{{tree}}", "-p", raw, "-p", side, "-m", "merge", cwd=repo)
    git("update-ref", "refs/heads/raw", noop, cwd=repo)
    return side


def _pull_side_into_stable(repo: Path, side: str) -> None:
    git("checkout", "-q", "stable/model", cwd=repo)
    git("merge", "-q", "--no-ff", "--no-verify", "--allow-unrelated-histories", side, "-m",
        f"branchml pull raw into stable/model\n\nPulled-From: raw {side}", cwd=repo)
    commit(repo, {"models/model.pkl": "w2"}, branch="stable/model")


def _hops(repo: Path, bml, rev: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    r = bml("lineage", "models/model.pkl", "--rev", rev, "--json", cwd=repo)
    assert r.code == 0, r.err
    return json.loads(r.out)["chain"]  # type: ignore[no-any-return]


def _not_own(side: str) -> str:
    return (f"{side[:10]} is not on raw's own (first-parent) history, only merged into it, so "
            "it was never raw's data")


@pytest.mark.slow
def test_05_a_hop_through_a_no_op_merge_on_raw_is_unproven_and_refused(  # type: ignore[no-untyped-def]
        released: Path, tmp_path: Path, bml) -> None:
    server = empty_server(released, tmp_path)
    assert git_proc("push", "origin", "--all", cwd=released).returncode == 0
    side = _side_on_raw(released)
    pushed = git_proc("push", "--no-verify", "origin", "raw", cwd=released)
    assert pushed.returncode == 0, pushed.stderr  # raw's tree unchanged: raw only grew
    _pull_side_into_stable(released, side)
    chain = _hops(released, bml, "stable/model")
    assert chain["end"] == "unproven" and len(chain["hops"]) == 1
    hop = chain["hops"][0]
    assert (hop["branch"], hop["commit"], hop["proven"], hop["why"]) == (
        "raw", side, False, _not_own(side))
    text = bml("lineage", "models/model.pkl", "--rev", "stable/model", cwd=released).out
    assert "unproven, not followed" in text and "the data was committed there" not in text
    assert bml("tag", "--client", "acme", cwd=released).code == 0
    r = bml("verify", "acme-v2", cwd=released)
    assert r.code == 1 and f"pulled_from: {_not_own(side)}" in r.out
    pushed = git_proc("push", "origin", "stable/model", cwd=released)  # its LFS objects too
    assert pushed.returncode == 0, pushed.stderr  # a data append: a trailer is no rule
    before = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=server)
    pushed = git_proc("push", "--no-verify", "origin", "acme-v2", cwd=released)
    assert pushed.returncode != 0 and _not_own(side) in pushed.stderr
    assert git("for-each-ref", "--format=%(refname) %(objectname)", cwd=server) == before
    assert git("tag", "-l", "acme-v2", cwd=server) == ""


@pytest.mark.slow
def test_05_twin_pulls_of_raws_own_commits_stay_proven_after_such_a_merge(  # type: ignore[no-untyped-def]
        released: Path, tmp_path: Path, bml) -> None:
    """raw holds the same no-op merge of SIDE, then new rows; pulled the branchml way
    (raw's own tip each time) to stable and released: every hop proven, verified, and the
    server takes the release in one atomic push."""
    server = empty_server(released, tmp_path)
    assert git_proc("push", "origin", "--all", cwd=released).returncode == 0
    _side_on_raw(released)
    commit(released, {"data/d.csv": "id,x\n1,2\n2,4\n3,6\n"}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split"), ("split", "stable/model")):
        assert bml("pull", src, dst, cwd=released).code == 0
    commit(released, {"models/model.pkl": "w3"}, branch="stable/model")
    chain = _hops(released, bml, "stable/model")
    assert chain["end"] == "origin" and [h["proven"] for h in chain["hops"]] == [True] * 3
    assert bml("tag", "--client", "acme", cwd=released).code == 0
    assert bml("verify", "acme-v2", cwd=released).code == 0
    pushed = git_proc("push", "--atomic", "origin", "raw", "clean", "split",
                      "stable/model", "acme-v2", cwd=released)
    assert pushed.returncode == 0, pushed.stderr
    assert git("tag", "-l", "acme-v2", cwd=server) == "acme-v2"


def test_05_the_first_parent_walk_is_bounded(released: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A hop's commit deeper than FIRST_PARENTS commits below the tip is unverified (never
    proven, never read on); within the bound it is proven."""
    from branchml.content import lineage
    from branchml.repo.reader import Git

    g = Git(released)
    for i in range(3):
        commit(released, {"data/d.csv": f"id,x\n1,2\n2,4\n{i},9\n"}, branch="raw")
    tip = git("rev-parse", "raw", cwd=released)
    assert lineage.own_history(g, tip, tip) is True
    monkeypatch.setattr(lineage, "FIRST_PARENTS", 2)
    assert lineage.own_history(g, tip, git("rev-parse", "raw~1", cwd=released)) is True
    deep = git("rev-parse", "raw~3", cwd=released)
    assert lineage.own_history(g, tip, deep) is None
    monkeypatch.setattr(lineage, "FIRST_PARENTS", 100)
    assert lineage.own_history(g, tip, deep) is True
