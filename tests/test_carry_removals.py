"""Cleaning reaches training: removals carried by pulls out of clean and split (issue 18).

Both doors (`branchml pull` and a plain `git merge` through the merge driver) and the
checker's proof of a carried removal, on append-only split and stable/* branches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import commit, git, git_proc, write

HEAD = "id,x\n"
ROWS = "1,a\n2,b\n3,c\n"


def show(repo: Path, rev: str) -> str:
    return git("show", rev, cwd=repo)


def setup_chain(repo: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """raw -> clean -> split with data/d.csv and an image, split assigned by id."""
    commit(repo, {"data/d.csv": HEAD + ROWS, "data/img/a.bin": "A", "data/img/b.bin": "B"},
           "upload", branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        r = bml("pull", src, dst, cwd=repo)
        assert r.code == 0, r.err
    git("checkout", "-q", "split", cwd=repo)
    r = bml("split", "--key", "id", cwd=repo)
    assert r.code == 0, r.err


def test_default_pairs_and_refused_pairs(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    ok = write(tmp_path, "ok.yaml", "version: 1\n")
    r = bml("config", "validate", str(ok))
    assert r.code == 0, r.err
    from branchml import config

    pulls = config.load_file(ok)["pulls"]
    assert pulls == {"carry_removals": [{"from": "clean", "to": "split"},
                                        {"from": "split", "to": "stable/*"}]}
    for src, dst, why in (
        ("raw", "clean", "from: raw is a raw branch, which never removes rows"),
        ("monitoring", "split", "from: monitoring is a monitoring branch"),
        ("monitoring/*", "split", "from: monitoring/* is a monitoring branch"),
        ("clean", "raw", "to: raw is a raw branch, which never takes removals"),
        ("clean", "nowhere", "to: 'nowhere' is not a branch defined under branches"),
    ):
        bad = write(tmp_path, "bad.yaml", "version: 1\npulls:\n  carry_removals:\n"
                    f"    - {{from: \"{src}\", to: \"{dst}\"}}\n")
        r = bml("config", "validate", str(bad))
        assert r.code == 2, (src, dst, r.out)
        assert f"pulls.carry_removals[0].{why}" in r.err
        assert len(r.err.strip().splitlines()) == 1
    off = write(tmp_path, "off.yaml", "version: 1\npulls: {carry_removals: []}\n")
    assert config.load_file(off)["pulls"] == {"carry_removals": []}


def test_pull_carries_cleaning_to_split_and_stable(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The issue's scenario: a row cleaned away after it reached split leaves split and
    stable/*; split's own rows, rows edited on split, and the assignment stay."""
    repo = plain_project
    setup_chain(repo, bml)
    assignment = show(repo, "split:data/split/assignment.csv")
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n4,d\n", "data/img/b.bin": None},
           "clean away row 2 and image b", branch="clean")
    commit(repo, {"data/d.csv": HEAD + ROWS + "9,z\n"}, "split's own row", branch="split")
    r = bml("pull", "clean", "split", cwd=repo)
    assert r.code == 0, r.err
    assert "data/d.csv: 1 row(s) removed, as on clean" in r.out
    assert "data/img/b.bin removed, as on clean" in r.out
    assert show(repo, "split:data/d.csv") == (HEAD + "1,a\n3,c\n9,z\n4,d").strip()
    assert git("ls-tree", "--name-only", "split:data/img", cwd=repo) == "a.bin"
    assert show(repo, "split:data/split/assignment.csv") == assignment  # items never move
    assert "1 row(s) removed as on clean, 1 file(s) removed as on clean" in git(
        "log", "-1", "--format=%B", "split", cwd=repo)
    # on into stable/*: the default pair split -> stable/*
    git("branch", "stable/m", "main", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "split", "stable/m", cwd=repo)
    assert r.code == 0, r.err
    commit(repo, {"data/d.csv": HEAD + "1,a\n9,z\n4,d\n"}, "clean row 3 on split",
           branch="split")
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "split", "stable/m", cwd=repo)
    assert r.code == 0, r.err
    assert show(repo, "stable/m:data/d.csv") == (HEAD + "1,a\n9,z\n4,d").strip()


def test_rows_edited_or_added_on_the_destination_stay(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    setup_chain(repo, bml)
    commit(repo, {"data/d.csv": HEAD + "3,c\n"}, "clean away 1 and 2", branch="clean")
    # split edited row 1 (then it is split's own row) and added row 2 once more itself
    commit(repo, {"data/d.csv": HEAD + "1,A\n2,b\n3,c\n2,b\n"}, "split edits", branch="split")
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "clean", "split", cwd=repo)
    assert r.code == 0, r.err
    # 2,b: the base's copy goes, split's own copy stays; 1,A was changed on split: stays
    assert show(repo, "split:data/d.csv") == (HEAD + "1,A\n3,c\n2,b").strip()


def test_pairs_off_keeps_append_never_deletes(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    cfg = show(repo, "main:branchml.yaml") + "\npulls: {carry_removals: []}\n"
    commit(repo, {"branchml.yaml": cfg}, "no carry", branch="main")
    for b in ("raw", "clean", "split"):
        git("checkout", "-q", b, cwd=repo)
        git("merge", "-q", "--no-edit", "--no-verify", "main", cwd=repo)
    setup_chain(repo, bml)
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away 2", branch="clean")
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "clean", "split", cwd=repo)
    assert r.code == 0, r.err
    assert show(repo, "split:data/d.csv") == (HEAD + ROWS).strip()


def test_no_carry_out_of_other_branches(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A merge into split from a branch no pair names (dev/x) deletes nothing."""
    repo = plain_project
    setup_chain(repo, bml)
    git("branch", "ds/acme", "split", cwd=repo)
    commit(repo, {"data/d.csv": HEAD + "1,a\n"}, "drop on ds", branch="ds/acme")
    commit(repo, {"data/d.csv": HEAD + ROWS + "5,e\n"}, "split grows", branch="split")
    r = bml("merge", "ds/acme", "--into", "split", cwd=repo)
    assert r.code == 0, r.err
    assert show(repo, "split:data/d.csv") == (HEAD + ROWS + "5,e").strip()


def _doors(repo: Path, bml, lfs: bool) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The same pull done by `branchml pull` and by `git merge` (the driver): both trees."""
    setup_chain(repo, bml)
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n4,d\n", "data/img/b.bin": None},
           "clean away", branch="clean")
    commit(repo, {"data/d.csv": HEAD + ROWS + "9,z\n"}, "split's own row", branch="split")
    git("branch", "-f", "keep", "split", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "clean", "split", cwd=repo)
    assert r.code == 0, r.err
    by_pull = git("rev-parse", "split^{tree}", cwd=repo)
    git("checkout", "-q", "split", cwd=repo)
    git("reset", "-q", "--hard", "keep", cwd=repo)
    p = git_proc("merge", "--no-edit", "--no-verify", "clean", cwd=repo)
    assert p.returncode == 0, p.stderr + p.stdout
    return by_pull, git("rev-parse", "HEAD^{tree}", cwd=repo)


def test_both_doors_give_the_same_tree(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    by_pull, by_git = _doors(plain_project, bml, lfs=False)
    assert by_pull == by_git
    assert "2,b" not in show(plain_project, "HEAD:data/d.csv")


@pytest.mark.slow
def test_both_doors_give_the_same_tree_with_lfs(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    by_pull, by_git = _doors(project, bml, lfs=True)
    assert by_pull == by_git
    assert (project / "data/d.csv").read_text() == HEAD + "1,a\n3,c\n9,z\n4,d\n"

