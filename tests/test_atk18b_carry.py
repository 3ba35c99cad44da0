"""Second security review of issue 18: the proof of a carried removal (ops/carrycheck.py).

atk18b-01: a base that is not on the source's first-parent line proves nothing, and
data/split/assignment.csv is never removed by a carry; atk18b-03: a switch between plain
and git-lfs storage is never a carried removal; atk18b-07: the proof's reads are bounded.
Each attack is made with git plumbing and pushed with --no-verify to a server with
`branchml install`, beside the legitimate twin that must still pass.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from branchml.core import bounds
from tests.conftest import commit, empty_server, git, git_proc

HEAD = "id,x\n"
APPEND_ONLY = "    ops: {data: [add, grow]}\n"


def _project(repo: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """A plain project (no git-lfs): split append-only, raw -> clean -> split with
    data/d.csv (rows 1..3), split assigned by id; everything pushed to an installed server."""
    cfg = (repo / "branchml.yaml").read_text()
    split = "  split:\n    type: data\n    parent: clean\n    may_change: [data, docs, config]\n"
    assert split in cfg
    commit(repo, {"branchml.yaml": cfg.replace(split, split + APPEND_ONLY)}, "append-only",
           branch="main")
    commit(repo, {"data/d.csv": HEAD + "1,a\n2,b\n3,c\n"}, "upload", branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", src, dst, cwd=repo).code == 0
    git("checkout", "-q", "split", cwd=repo)
    assert bml("split", "--key", "id", cwd=repo).code == 0
    server = empty_server(repo, repo.parent)
    pushed = git_proc("push", "origin", "--all", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    return server


def _refs(server: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", cwd=server)


def _merge(repo: Path, tree: str, *parents: str) -> str:
    args = [a for p in parents for a in ("-p", p)]
    return git("commit-tree", tree, *args, "-m", "branchml pull clean into split", cwd=repo)


def _tree_with(repo: Path, rev: str, path: str, oid: str | None) -> str:
    """`rev`'s tree with `path` set to blob `oid` (None: removed), made in a temp index."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "atk-index")}
    subprocess.run(["git", "read-tree", rev], cwd=repo, env=env, check=True)
    cmd = (["git", "update-index", "--force-remove", path] if oid is None else
           ["git", "update-index", "--cacheinfo", f"100644,{oid},{path}"])
    subprocess.run(cmd, cwd=repo, env=env, check=True)
    return subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def _blob(repo: Path, data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=raw,
                          capture_output=True, check=True).stdout.decode().strip()


def _refused(repo: Path, server: Path, why: str, *refs: str) -> None:
    before = _refs(server)
    pushed = git_proc("push", "--no-verify", "origin", *refs, cwd=repo)
    assert pushed.returncode != 0
    assert why in pushed.stderr, pushed.stderr
    assert _refs(server) == before


@pytest.mark.slow
def test_01_no_op_merge_of_split_into_clean_proves_no_removal(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "proj"
    assert bml("init", str(repo), "--no-lfs", "--no-hooks").code == 0
    server = _project(repo, bml)
    s, c = git("rev-parse", "split", cwd=repo), git("rev-parse", "clean", cwd=repo)
    # clean merges split's tip keeping its own tree: the merge base of split and clean
    # becomes a split commit, which holds the assignment and split's own rows
    mc = git("commit-tree", f"{c}^{{tree}}", "-p", c, "-p", s, "-m", "ours", cwd=repo)
    git("update-ref", "refs/heads/clean", mc, cwd=repo)
    gone = _merge(repo, _tree_with(repo, s, "data/split/assignment.csv", None), s, mc)
    git("update-ref", "refs/heads/split", gone, cwd=repo)
    git("checkout", "-q", "-f", "split", cwd=repo)
    moved = commit(repo, {"data/split/assignment.csv": "key,split\n1,train\n2,train\n3,train\n"},
                   "re-assign")
    r = bml("check", "--range", f"{s}..{moved}", "--branch", "split", cwd=repo)
    assert r.code == 1
    assert "data/split/assignment.csv is never removed or cut by a pull" in r.out + r.err
    _refused(repo, server, "a split's items never move", "clean", "split")
    # split's own row (added on split, never on clean) "cleaned" through the same base
    git("update-ref", "refs/heads/split", s, cwd=repo)
    git("checkout", "-q", "-f", "split", cwd=repo)
    own = commit(repo, {"data/d.csv": HEAD + "1,a\n2,b\n3,c\n9,z\n"}, "split's own row")
    mc2 = git("commit-tree", f"{c}^{{tree}}", "-p", c, "-p", own, "-m", "ours", cwd=repo)
    cut = _merge(repo, _tree_with(repo, own, "data/d.csv", _blob(repo, HEAD + "1,a\n2,b\n3,c\n")),
                 own, mc2)
    git("update-ref", "refs/heads/clean", mc2, cwd=repo)
    r = bml("check", "--range", f"{s}..{cut}", "--branch", "split", cwd=repo)
    assert r.code == 1
    assert "were not removed on clean since the last pull, such as '9,z'" in r.out, r.out
    git("update-ref", "refs/heads/split", cut, cwd=repo)
    _refused(repo, server, "such as '9,z'", "clean", "split")


@pytest.mark.slow
def test_01_twin_pull_after_a_no_op_merge_carries_only_what_clean_removed(
        tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The same history, honest: clean then really removes row 2; `branchml pull` carries
    that removal (from clean's state at the last pull, not from the merge base on split),
    keeps split's own row and the assignment, and the server takes it."""
    repo = tmp_path / "proj"
    assert bml("init", str(repo), "--no-lfs", "--no-hooks").code == 0
    server = _project(repo, bml)
    assignment = git("show", "split:data/split/assignment.csv", cwd=repo)
    own = commit(repo, {"data/d.csv": HEAD + "1,a\n2,b\n3,c\n9,z\n"}, "split's own row",
                 branch="split")
    c = git("rev-parse", "clean", cwd=repo)
    mc = git("commit-tree", f"{c}^{{tree}}", "-p", c, "-p", own, "-m", "ours", cwd=repo)
    git("update-ref", "refs/heads/clean", mc, cwd=repo)
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away row 2", branch="clean")
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "clean", "split", cwd=repo)
    assert r.code == 0, r.err
    assert git("show", "split:data/d.csv", cwd=repo) == (HEAD + "1,a\n3,c\n9,z").strip()
    assert git("show", "split:data/split/assignment.csv", cwd=repo) == assignment
    pushed = git_proc("push", "--no-verify", "origin", "clean", "split", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert git("rev-parse", "split", cwd=server) == git("rev-parse", "split", cwd=repo)


def _pointer(repo: Path, content: bytes) -> str:
    oid = hashlib.sha256(content).hexdigest()
    store = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4]
    store.mkdir(parents=True, exist_ok=True)
    (store / oid).write_bytes(content)
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\n"
            f"size {len(content)}\n")


@pytest.mark.slow
def test_03_plain_file_replaced_by_lfs_pointer_is_no_carry(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "proj"
    assert bml("init", str(repo), "--no-lfs", "--no-hooks").code == 0
    server = _project(repo, bml)
    s = git("rev-parse", "split", cwd=repo)
    c = commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away row 2", branch="clean")
    assert git_proc("push", "--no-verify", "origin", "clean", cwd=repo).returncode == 0
    ptr = _blob(repo, _pointer(repo, (HEAD + "1,a\n3,c\n").encode()))
    m = _merge(repo, _tree_with(repo, s, "data/d.csv", ptr), s, c)
    r = bml("check", "--range", f"{s}..{m}", "--branch", "split", cwd=repo)
    assert r.code == 1
    assert "(it moved between git-lfs and plain git storage)" in r.out + r.err
    git("update-ref", "refs/heads/split", m, cwd=repo)
    _refused(repo, server, "moved between git-lfs and plain git storage", "split")
    # and back: a pointer on split replaced by plain text is refused the same way
    p = _merge(repo, _tree_with(repo, m, "data/d.csv", _blob(repo, HEAD + "1,a\n3,c\n")), m, c)
    r = bml("check", "--range", f"{m}..{p}", "--branch", "split", cwd=repo)
    assert r.code == 1
    assert "moved between git-lfs and plain git storage" in r.out + r.err
    # the twin: the same removal as a plain file (what `branchml pull` writes) is taken
    git("update-ref", "refs/heads/split", s, cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    assert bml("pull", "clean", "split", cwd=repo).code == 0
    assert git("show", "split:data/d.csv", cwd=repo) == (HEAD + "1,a\n3,c").strip()
    pushed = git_proc("push", "--no-verify", "origin", "split", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr


@pytest.mark.slow
def test_07_carry_proof_refuses_an_over_long_row_by_name(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "proj"
    assert bml("init", str(repo), "--no-lfs", "--no-hooks").code == 0
    server = _project(repo, bml)
    s = git("rev-parse", "split", cwd=repo)
    c = commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away row 2", branch="clean")
    assert git_proc("push", "--no-verify", "origin", "clean", cwd=repo).returncode == 0
    long = (HEAD + "1,a\n3,c\n").encode() + b"z" * (bounds.CARRY_LINE + 1)
    m = _merge(repo, _tree_with(repo, s, "data/d.csv", _blob(repo, long)), s, c)
    r = bml("check", "--range", f"{s}..{m}", "--branch", "split", cwd=repo)
    assert r.code == 1
    assert "row 4 of its version" in r.out + r.err and "is over 1 MiB" in r.out + r.err
    git("update-ref", "refs/heads/split", m, cwd=repo)
    _refused(repo, server, "longer than the proof reads", "split")
    # the twin: a long row under the limit, appended by split after the carried removal
    ok = (HEAD + "1,a\n3,c\n").encode() + b"z" * (bounds.CARRY_LINE - 100) + b"\n"
    m2 = _merge(repo, _tree_with(repo, s, "data/d.csv", _blob(repo, ok)), s, c)
    r = bml("check", "--range", f"{s}..{m2}", "--branch", "split", cwd=repo)
    assert r.code == 0, r.out + r.err
    git("update-ref", "refs/heads/split", m2, cwd=repo)
    pushed = git_proc("push", "--no-verify", "origin", "split", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert _refs(server).count(m2) == 1


def test_07_long_line_finds_the_first_over_long_row() -> None:
    assert bounds.long_line([b"ab\ncd", b"ef\ng"], 3) == 2
    assert bounds.long_line([b"ab\ncd", b"ef\ng"], 4) is None
    assert bounds.long_line([b"a" * 5], 4) == 1
    assert bounds.long_line([], 1) is None


@pytest.mark.slow
def test_01_git_merge_door_refuses_what_the_off_line_base_would_remove(
        tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """`git merge clean` on split after clean's no-op merge of split: git's merge base is a
    split commit, so git itself drops split's own row and the assignment (theirs "deleted"
    them); the pre-merge-commit hook refuses the merge by the checker's rule."""
    repo = tmp_path / "proj"
    assert bml("init", str(repo), "--no-lfs").code == 0
    _project(repo, bml)
    own = commit(repo, {"data/d.csv": HEAD + "1,a\n2,b\n3,c\n9,z\n"}, "split's own row",
                 branch="split")
    c = git("rev-parse", "clean", cwd=repo)
    mc = git("commit-tree", f"{c}^{{tree}}", "-p", c, "-p", own, "-m", "ours", cwd=repo)
    git("update-ref", "refs/heads/clean", mc, cwd=repo)
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away row 2", branch="clean")
    tip = commit(repo, {"data/d.csv": HEAD + "1,a\n2,b\n3,c\n9,z\n10,y\n"}, "split grows",
                 branch="split")
    merged = git_proc("merge", "--no-edit", "clean", cwd=repo)
    assert merged.returncode != 0
    assert "a split's items never move" in merged.stdout + merged.stderr
    assert git("rev-parse", "split", cwd=repo) == tip
