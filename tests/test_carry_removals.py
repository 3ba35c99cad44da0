"""Cleaning reaches training: removals carried by pulls out of clean and split (issue 18).

Both doors (`branchml pull` and a plain `git merge` through the merge driver) and the
checker's proof of a carried removal, on append-only split and stable/* branches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import commit, empty_server, git, git_proc, write

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


def test_dry_run_and_json_name_the_removals(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    import json

    repo = plain_project
    setup_chain(repo, bml)
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n", "data/img/a.bin": None}, "clean",
           branch="clean")
    git("checkout", "-q", "main", cwd=repo)
    before = git("rev-parse", "split", cwd=repo)
    r = bml("pull", "clean", "split", "--dry-run", "--json", cwd=repo)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["removed"] == {"data/d.csv": 1} and out["removed_files"] == ["data/img/a.bin"]
    assert git("rev-parse", "split", cwd=repo) == before


def test_driver_carries_nothing_from_a_branch_no_pair_names(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """`git merge ds/acme` on split: ds/acme dropped a row, split grew; the row stays, as
    with `branchml merge` (test_no_carry_out_of_other_branches)."""
    repo = plain_project
    setup_chain(repo, bml)
    git("branch", "ds/acme", "split", cwd=repo)
    commit(repo, {"data/d.csv": HEAD + "1,a\n"}, "drop on ds", branch="ds/acme")
    commit(repo, {"data/d.csv": HEAD + ROWS + "5,e\n"}, "split grows", branch="split")
    p = git_proc("merge", "--no-edit", "--no-verify", "ds/acme", cwd=repo)
    assert p.returncode == 0, p.stderr + p.stdout
    assert (repo / "data/d.csv").read_text() == HEAD + ROWS + "5,e\n"


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


# -- the checker: a removal on an append-only branch must be proven by its source ----------

APPEND_ONLY = {
    "  split:\n    type: data\n    parent: clean\n    may_change: [data, docs, config]\n":
    "  split:\n    type: data\n    parent: clean\n    may_change: [data, docs, config]\n"
    "    ops: {data: [add, grow]}\n",
    "    may_change: [code, data, models, tracking, docs, config]\n    promoted: [code]\n":
    "    may_change: [code, data, models, tracking, docs, config]\n    promoted: [code]\n"
    "    ops: {data: [add, grow]}\n",
}


def append_only(repo: Path) -> None:
    """split and stable/* take data only by adding and growing (main's config)."""
    cfg = show(repo, "main:branchml.yaml")
    for old, new in APPEND_ONLY.items():
        assert old in cfg
        cfg = cfg.replace(old, new)
    commit(repo, {"branchml.yaml": cfg}, "split and stable/* append-only", branch="main")


def cleaned(repo: Path, bml) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The chain on an append-only split, then row 2 cleaned away on clean: (split, clean)."""
    append_only(repo)
    setup_chain(repo, bml)
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away 2", branch="clean")
    git("checkout", "-q", "main", cwd=repo)
    return git("rev-parse", "split", cwd=repo), git("rev-parse", "clean", cwd=repo)


def forged_merge(repo: Path, parents: list[str], csv: str, on: str = "split") -> str:
    """A merge commit made by hand: `on`'s tree with data/d.csv replaced, any parents."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=csv)
    entries = [ln for ln in git("ls-tree", f"{on}:data", cwd=repo).splitlines()
               if not ln.endswith("\td.csv")] + [f"100644 blob {blob}\td.csv"]
    data = git("mktree", cwd=repo, input="\n".join(entries) + "\n")
    top = [ln for ln in git("ls-tree", on, cwd=repo).splitlines() if not ln.endswith("\tdata")]
    tree = git("mktree", cwd=repo, input="\n".join([*top, f"040000 tree {data}\tdata"]) + "\n")
    args = [a for p in parents for a in ("-p", p)]
    return git("commit-tree", tree, *args, "-m", "branchml pull clean into split\n\n"
               f"Pulled-From: clean {parents[-1]}", cwd=repo)


def judged(repo: Path, bml, old: str, new: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    r = bml("check", "--range", f"{old}..{new}", "--branch", "split", cwd=repo)
    return r.code, r.out + r.err


def test_checker_accepts_a_pull_that_carries_cleaning(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    old, _ = cleaned(repo, bml)
    r = bml("pull", "clean", "split", cwd=repo)  # judged by the same rules before it commits
    assert r.code == 0, r.out + r.err
    assert show(repo, "split:data/d.csv") == (HEAD + "1,a\n3,c").strip()
    code, out = judged(repo, bml, old, git("rev-parse", "split", cwd=repo))
    assert code == 0, out


def test_checker_refuses_removals_the_source_never_made(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A hand-made merge (second parent: clean's tip) that also deletes row 1 on split."""
    repo = plain_project
    old, clean_tip = cleaned(repo, bml)
    forged = forged_merge(repo, [old, clean_tip], HEAD + "3,c\n")
    code, out = judged(repo, bml, old, forged)
    assert code == 1
    assert ("data on split is append-only: data/d.csv loses rows this merge does not prove "
            "were cleaned on its source (1 row(s) it removes were not removed on clean since "
            "the last pull, such as '1,a')") in out
    twin = forged_merge(repo, [old, clean_tip], HEAD + "1,a\n3,c\n")  # what the pull writes
    code, out = judged(repo, bml, old, twin)
    assert code == 0, out


def test_checker_refuses_edits_hidden_behind_a_carried_removal(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    old, clean_tip = cleaned(repo, bml)
    forged = forged_merge(repo, [old, clean_tip], HEAD + "3,c\n1,a\n")  # row 2 gone, 1 moved
    code, out = judged(repo, bml, old, forged)
    assert code == 1 and "its other rows were edited or moved" in out


def test_checker_refuses_swapped_parents(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    old, clean_tip = cleaned(repo, bml)
    forged = forged_merge(repo, [clean_tip, old], HEAD + "1,a\n3,c\n")
    code, out = judged(repo, bml, old, forged)
    assert code == 1
    assert "data on split is append-only" in out


@pytest.mark.parametrize("where", ["dangling", "refs/x/clean", "tag"])
def test_checker_refuses_a_second_parent_off_clean(plain_project: Path, bml, where: str) -> None:  # type: ignore[no-untyped-def]
    """The second parent removes row 1 on a clean look-alike that is not clean's history."""
    repo = plain_project
    old, clean_tip = cleaned(repo, bml)
    fake = forged_merge(repo, [clean_tip], HEAD + "3,c\n", on="clean")
    if where == "refs/x/clean":
        git("update-ref", "refs/x/clean", fake, cwd=repo)
    elif where == "tag":
        git("tag", "clean-v9", fake, cwd=repo)
    forged = forged_merge(repo, [old, fake], HEAD + "3,c\n")
    code, out = judged(repo, bml, old, forged)
    assert code == 1
    assert f"its second parent {fake[:10]} is not on the first-parent history of clean" in out
    twin = forged_merge(repo, [old, clean_tip], HEAD + "1,a\n3,c\n")
    assert judged(repo, bml, old, twin)[0] == 0


@pytest.mark.parametrize("source", ["raw", "monitoring"])
def test_checker_refuses_a_removal_carried_out_of_raw_or_monitoring(
        plain_project: Path, bml, source: str) -> None:  # type: ignore[no-untyped-def]
    """A row removed on raw or monitoring (by hand, hooks skipped) and merged into split:
    no pair carries removals out of them, so the removal is refused."""
    repo = plain_project
    old, _ = cleaned(repo, bml)
    git("branch", "-f", source, "raw", cwd=repo)
    tip = commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "remove 2", branch=source)
    git("checkout", "-q", "main", cwd=repo)
    forged = forged_merge(repo, [old, tip], HEAD + "1,a\n3,c\n")
    code, out = judged(repo, bml, old, forged)
    assert code == 1
    assert f"its second parent {tip[:10]} is not on the first-parent history of clean" in out


def _refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


@pytest.mark.slow
def test_server_refuses_a_forged_removal_pushed_without_hooks(plain_project: Path, bml,
                                                              tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`git push --no-verify` of a hand-made merge that deletes a row clean never removed,
    to a bare server with `branchml install`: refused, the server's refs do not move; the
    pull of the same cleaning is accepted."""
    repo = plain_project
    append_only(repo)
    setup_chain(repo, bml)
    bare = empty_server(repo, tmp_path)
    p = git_proc("push", "origin", "--all", cwd=repo)
    assert p.returncode == 0, p.stderr
    old = git("rev-parse", "split", cwd=repo)
    clean_tip = commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away 2", branch="clean")
    git("checkout", "-q", "main", cwd=repo)
    forged = forged_merge(repo, [old, clean_tip], HEAD + "3,c\n")
    git("update-ref", "refs/heads/split", forged, cwd=repo)
    before = _refs(bare)
    p = git_proc("push", "--no-verify", "origin", "clean", "split", cwd=repo)
    assert p.returncode != 0
    assert ("data/d.csv loses rows this merge does not prove were cleaned on its source "
            "(1 row(s) it removes were not removed on clean since the last pull, "
            "such as '1,a')") in p.stderr
    assert _refs(bare) == before
    git("update-ref", "refs/heads/split", old, cwd=repo)
    r = bml("pull", "clean", "split", cwd=repo)
    assert r.code == 0, r.err
    p = git_proc("push", "--no-verify", "origin", "clean", "split", cwd=repo)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "split", cwd=bare) == git("rev-parse", "split", cwd=repo)


@pytest.mark.slow
def test_lfs_pull_carried_through_hooks_and_server(project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With git-lfs and every hook: the pull, `git merge` through pre-merge-commit, pre-push
    and the server's pre-receive all accept a removal clean made."""
    repo = project
    append_only(repo)
    setup_chain(repo, bml)
    empty_server(repo, tmp_path)
    p = git_proc("push", "origin", "--all", cwd=repo)
    assert p.returncode == 0, p.stderr
    commit(repo, {"data/d.csv": HEAD + "1,a\n3,c\n"}, "clean away 2", branch="clean")
    git("checkout", "-q", "split", cwd=repo)
    p = git_proc("merge", "--no-edit", "clean", cwd=repo)  # the driver, then pre-merge-commit
    assert p.returncode == 0, p.stderr + p.stdout
    assert (repo / "data/d.csv").read_text() == HEAD + "1,a\n3,c\n"
    p = git_proc("push", "origin", "clean", "split", cwd=repo)
    assert p.returncode == 0, p.stderr


# -- core: one reading of a removal (the pull, the driver and the checker call these) -------

def _src(data: bytes):  # type: ignore[no-untyped-def]
    import io

    return lambda: io.BytesIO(data)


@pytest.mark.parametrize(("before", "after", "gone"), [
    (b"h\n1\n2\n", b"h\n1\n2\n3\n", {}),                 # grew: nothing read
    (b"h\n1\n2\n3\n", b"h\n1\n3\n", {b"2": 1}),
    (b"h\n1\n2\n2\n", b"h\n2\n1\n", {b"2": 1}),          # a multiset: one of two copies
    (b"h\r\n1\r\n2\r\n", b"h\r\n2\r\n", {b"1": 1}),      # rows without terminators
    (b'h\n"a\nb"\n2\n', b"h\n2\n", {b'"a\nb"': 1}),      # a quoted newline is one row
    (b"h\n1\n2\n", None, {b"1": 1, b"2": 1}),           # the file is gone
])
def test_removed_rows(before: bytes, after: bytes | None, gone: dict[bytes, int]) -> None:
    from branchml.core.removals import removed_rows
    from branchml.core.rows import RowFormat

    assert dict(removed_rows(RowFormat.CSV, _src(before), None if after is None
                             else _src(after))) == gone


@pytest.mark.parametrize(("src", "rows", "out", "n"), [
    (b"h\n1\n2\n3\n", {b"2": 1}, b"h\n1\n3\n", 1),
    (b"h\n2\n1\n2\n", {b"2": 1}, b"h\n1\n2\n", 1),      # the first copy (the base's) goes
    (b"h\n1\n", {b"9": 1}, b"h\n1\n", 0),
    (b"h\r\n1\r\n2", {b"1": 1}, b"h\r\n2\r\n", 1),       # ours' terminator
])
def test_drop_rows(src: bytes, rows: dict[bytes, int], out: bytes, n: int) -> None:
    import io
    from collections import Counter

    from branchml.core.removals import drop_rows
    from branchml.core.rows import RowFormat

    buf = io.BytesIO()
    assert drop_rows(RowFormat.CSV, _src(src), Counter(rows), buf) == n
    assert buf.getvalue() == out


def test_pairs_and_sources() -> None:
    from branchml.core.carry import CarryPair, carries, pairs_of, sources_into

    pairs = pairs_of({"pulls": {"carry_removals": [{"from": "clean", "to": "split"},
                                                   {"from": "dev/*", "to": "stable/*"}]}})
    assert pairs == (CarryPair("clean", "split"), CarryPair("dev/*", "stable/*"))
    assert sources_into(pairs, "stable/churn") == ["dev/churn"]
    assert carries(pairs, "clean", "split") and not carries(pairs, "raw", "split")
    assert sources_into(pairs, "raw") == []


def test_a_file_clean_deleted_keeps_splits_own_rows_and_passes_the_checker(
        plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    append_only(repo)
    setup_chain(repo, bml)
    commit(repo, {"data/d.csv": HEAD + ROWS + "7,g\n"}, "split's own row", branch="split")
    old = git("rev-parse", "split", cwd=repo)
    commit(repo, {"data/d.csv": None, "data/img/a.bin": None}, "clean drops the files",
           branch="clean")
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "clean", "split", cwd=repo)
    assert r.code == 0, r.out + r.err
    assert show(repo, "split:data/d.csv") == (HEAD + "7,g").strip()
    assert git("ls-tree", "--name-only", "split:data/img", cwd=repo) == "b.bin"
    code, out = judged(repo, bml, old, git("rev-parse", "split", cwd=repo))
    assert code == 0, out
    # a hand-made twin that deletes the file split added its own row to: refused
    forged = git("commit-tree", git("rev-parse", "split^{tree}", cwd=repo), "-p", old, "-p",
                 git("rev-parse", "clean", cwd=repo), "-m", "m", cwd=repo)
    gone = [ln for ln in git("ls-tree", f"{forged}:data", cwd=repo).splitlines()
            if not ln.endswith("\td.csv")]
    data = git("mktree", cwd=repo, input="\n".join(gone) + "\n")
    top = [ln for ln in git("ls-tree", forged, cwd=repo).splitlines() if not ln.endswith("\tdata")]
    tree = git("mktree", cwd=repo, input="\n".join([*top, f"040000 tree {data}\tdata"]) + "\n")
    forged = git("commit-tree", tree, "-p", old, "-p", git("rev-parse", "clean", cwd=repo),
                 "-m", "m", cwd=repo)
    code, out = judged(repo, bml, old, forged)
    assert code == 1 and "data/d.csv was changed here since the last pull" in out
