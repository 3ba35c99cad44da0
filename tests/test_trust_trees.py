"""Issue 15.6: trees git refuses to check out, or that poison a branch, are refused.

Each attack builds its commit the way an attacker would (`git hash-object -w`, `git mktree`,
`git commit-tree`, `git update-ref`, `git push --no-verify`), and has a legitimate twin that
must still pass."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from branchml.core.changes import Change
from branchml.core.model import PathClass
from branchml.core.paths import TreeRules, refused_part, tree_verdict
from tests.conftest import commit, copied_fixtures, git, git_proc

project, installed_server = copied_fixtures(server=True)

TYPES = {"160000": "commit", "040000": "tree"}


def blob(repo: Path, content: str | bytes) -> str:
    data = content.encode() if isinstance(content, str) else content
    p = git_proc("hash-object", "-w", "--stdin", cwd=repo, input=data.decode("latin-1"))
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def put(repo: Path, tree: str | None, parts: list[str], mode: str, oid: str) -> str:
    """`tree` with the entry at `parts` set (sub-trees rebuilt with `git mktree`, which takes
    names such as `..` and `.git` as they are)."""
    entries: dict[str, tuple[str, str, str]] = {}
    for line in (git("ls-tree", tree, cwd=repo).splitlines() if tree else []):
        meta, name = line.split("\t", 1)
        m, t, o = meta.split()
        entries[name] = (m, t, o)
    if len(parts) == 1:
        entries[parts[0]] = (mode, TYPES.get(mode, "blob"), oid)
    else:
        sub = entries.get(parts[0])
        entries[parts[0]] = ("040000", "tree",
                             put(repo, sub[2] if sub else None, parts[1:], mode, oid))
    listing = "".join(f"{m} {t} {o}\t{n}\n" for n, (m, t, o) in entries.items())
    return git("mktree", cwd=repo, input=listing)


def forge(repo: Path, branch: str, entries: dict[str, tuple[str, str]], msg: str = "forged"
          ) -> tuple[str, str]:
    """A commit on `branch` adding `path -> (mode, oid)` entries by hand; (old tip, new tip)."""
    git("checkout", "-q", "--detach", cwd=repo)  # the branch moves behind git's back
    old = git("rev-parse", f"refs/heads/{branch}", cwd=repo)
    tree = git("rev-parse", f"{old}^{{tree}}", cwd=repo)
    for path, (mode, oid) in entries.items():
        tree = put(repo, tree, path.split("/"), mode, oid)
    new = git("commit-tree", tree, "-p", old, "-m", msg, cwd=repo)
    git("update-ref", f"refs/heads/{branch}", new, old, cwd=repo)
    return old, new


def check(bml, repo: Path, old: str, new: str, branch: str):  # type: ignore[no-untyped-def]
    return bml("check", "--range", f"{old}..{new}", "--branch", branch, cwd=repo)


# --- the pure rules -----------------------------------------------------------------------

@pytest.mark.parametrize(("path", "part"), [
    ("data/..", ".."), ("data/../x", ".."), ("./data/a", "."), ("data/.git/hooks/x", ".git"),
    ("data/.GIT/config", ".GIT"), ("data/.Git", ".Git"), (".git", ".git"),
    ("data/.git./x", ".git."), ("data/.git . /x", ".git . "), ("data/git~1/x", "git~1"),
    ("data/GIT~1", "GIT~1"), ("data/.git:stream", ".git"), ("data\\.git\\hooks", ".git"),
    ("data/.g\u200cit/x", ".g\u200cit"), ("data/\ufeff.git", "\ufeff.git"),
    ("data//a", ""), ("/data/a", ""), ("data/a/", ""),
])
def test_paths_git_refuses(path: str, part: str) -> None:
    assert refused_part(path) == part


@pytest.mark.parametrize("path", [
    "data/a.csv", "data/...", "data/..a", "data/a..b.csv", "data/.gitkeep", "data/.gitignore",
    "data/.github/x", "data/git~1x", "data/x.git", "data/.gi", "docs/ünïcode.md", "data/ .git",
])
def test_paths_git_accepts(path: str) -> None:
    assert refused_part(path) is None


def test_symlinked_gitmodules_refused_plain_one_fine() -> None:
    assert refused_part("src/.gitmodules", "120000") == ".gitmodules"
    assert refused_part(".GITMODULES", "120000") == ".GITMODULES"
    assert refused_part(".gitmodules", "100644") is None


def _change(status: str, old: str, new: str, path: str = "data/a") -> Change:
    return Change(status, path, "1" * 40, "2" * 40, old, new)


@pytest.mark.parametrize(("change", "cls", "append_only", "rules", "rule"), [
    (_change("A", "000000", "120000"), PathClass.DATA, True, TreeRules(), "symlink"),
    (_change("A", "000000", "120000"), PathClass.MODELS, False, TreeRules(), "symlink"),
    (_change("A", "000000", "120000"), PathClass.CODE, False, TreeRules(), None),
    (_change("A", "000000", "120000"), PathClass.DATA, True,
     TreeRules(symlinks=frozenset({PathClass.DATA})), None),
    (_change("A", "000000", "160000"), PathClass.MODELS, False, TreeRules(), "gitlink"),
    (_change("A", "000000", "160000"), PathClass.CODE, False, TreeRules(), None),
    (_change("M", "100644", "100755"), PathClass.DATA, True, TreeRules(), "mode-change"),
    (_change("T", "100644", "120000"), PathClass.DATA, True,
     TreeRules(symlinks=frozenset({PathClass.DATA})), "mode-change"),
    (_change("M", "100644", "100755"), PathClass.DATA, False, TreeRules(), None),
    (_change("M", "100644", "100755"), PathClass.DATA, True, TreeRules(mode_changes=True), None),
    (_change("M", "100644", "100644"), PathClass.DATA, True, TreeRules(), None),
    (_change("D", "120000", "000000", "data/.."), PathClass.DATA, True, TreeRules(), None),
    (_change("A", "000000", "100644", "data/.."), PathClass.DATA, True, TreeRules(),
     "bad-path"),
])
def test_tree_verdict(change: Change, cls: PathClass, append_only: bool, rules: TreeRules,
                      rule: str | None) -> None:
    verdict = tree_verdict(change, cls, append_only, rules)
    assert (verdict[0] if verdict else None) == rule


# --- paths git refuses, on a real repository --------------------------------------------------

@pytest.mark.parametrize(("path", "part"), [
    ("data/..", ".."), ("data/.git/hooks/x", ".git"), ("data/.GIT/hooks/x", ".GIT"),
    ("data/git~1/x", "git~1"),
])
def test_range_refuses_paths_git_will_not_check_out(plain_project: Path, bml, path: str,
                                                    part: str) -> None:  # type: ignore[no-untyped-def]
    old, new = forge(plain_project, "raw", {path: ("100644", blob(plain_project, "evil\n"))})
    r = check(bml, plain_project, old, new, "raw")
    assert r.code == 1
    assert (f"{path} cannot be checked out: git refuses a path with the part {part!r}; remove "
            "it from the commit") in r.out


def test_range_accepts_dotted_names_twin(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    b = blob(plain_project, "ok\n")
    old, new = forge(plain_project, "raw", {"data/a..b.csv": ("100644", b),
                                            "data/.gitkeep": ("100644", b),
                                            "data/.github/x.csv": ("100644", b)})
    r = check(bml, plain_project, old, new, "raw")
    assert r.code == 0, r.out


# --- symlinks, gitlinks, modes ------------------------------------------------------------------

def test_data_symlink_refused_code_symlink_accepted(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    link = blob(plain_project, "/etc/passwd")
    old, new = forge(plain_project, "raw", {"data/users.csv": ("120000", link)})
    r = check(bml, plain_project, old, new, "raw")
    assert r.code == 1
    assert ("data/users.csv is a symbolic link, which data on raw may not hold: commit the file "
            "itself, or allow it under trees.symlinks in branchml.yaml on main") in r.out
    old, new = forge(plain_project, "dev/model", {"src/cfg.py": ("120000", link)})
    assert check(bml, plain_project, old, new, "dev/model").code == 0


def test_data_symlink_allowed_by_config(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=plain_project).replace(
        "symlinks: [code, tracking, docs, config]", "symlinks: [code, data]")
    commit(plain_project, {"branchml.yaml": cfg + "\n"}, branch="main")
    old, new = forge(plain_project, "raw", {"data/l.csv": ("120000", blob(plain_project, "a"))})
    assert check(bml, plain_project, old, new, "raw").code == 0


def test_gitlink_in_models_refused(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    target = git("rev-parse", "main", cwd=plain_project)
    old, new = forge(plain_project, "stable/model", {"models/sub": ("160000", target)})
    r = check(bml, plain_project, old, new, "stable/model")
    assert r.code == 1
    assert "models/sub is a gitlink (submodule), which models on stable/model may not hold" \
        in r.out
    old, new = forge(plain_project, "dev/model", {"vendor/lib": ("160000", target)})
    assert check(bml, plain_project, old, new, "dev/model").code == 0


def test_mode_only_change_on_append_only_refused(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/a.csv": "a\n1\n"}, branch="raw")
    oid = git("rev-parse", "raw:data/a.csv", cwd=plain_project)
    old, new = forge(plain_project, "raw", {"data/a.csv": ("100755", oid)})
    r = check(bml, plain_project, old, new, "raw")
    assert r.code == 1
    assert ("data on raw is append-only: data/a.csv changed its mode from 100644 to 100755; "
            "keep its mode, or set trees.mode_changes: true on main") in r.out
    # twin: the same change on clean, where data is not append-only
    commit(plain_project, {"data/a.csv": "a\n1\n"}, branch="clean")
    old, new = forge(plain_project, "clean", {"data/a.csv": ("100755", oid)})
    assert check(bml, plain_project, old, new, "clean").code == 0


def test_staged_symlink_refused_by_pre_commit_check(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("checkout", "-q", "raw", cwd=plain_project)
    link = blob(plain_project, "/etc/passwd")
    git("update-index", "--add", "--cacheinfo", f"120000,{link},data/p.csv", cwd=plain_project)
    r = bml("check", "--staged", cwd=plain_project)
    assert r.code == 1 and "data/p.csv is a symbolic link" in r.out


def test_pull_does_not_carry_a_symlink_into_clean(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """raw poisoned behind the checker's back (update-ref): pull raw clean still refuses."""
    forge(plain_project, "raw", {"data/users.csv": ("120000", blob(plain_project, "/etc/passwd"))})
    before = git("rev-parse", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 1 and "data/users.csv is a symbolic link" in r.out + r.err
    assert git("rev-parse", "clean", cwd=plain_project) == before


# --- git-lfs pointers that lie about their size ----------------------------------------------

def _pointer(oid: str, size: int) -> str:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


def test_lfs_pointer_with_a_larger_size_is_not_growth(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = git("rev-parse", "raw", cwd=project)
    commit(project, {"data/big.csv": "h\n1\n"}, branch="raw")
    commit(project, {"data/big.csv": "h\n1\n2\n"})  # the object of the grown file is stored
    git("checkout", "-q", "main", cwd=project)
    oid = hashlib.sha256(b"h\n1\n2\n").hexdigest()
    good = git("rev-parse", "raw", cwd=project)
    git("update-ref", "refs/heads/raw", "raw~1", cwd=project)
    lie = blob(project, _pointer(oid, 99))
    _, new = forge(project, "raw", {"data/big.csv": ("100644", lie)})
    r = check(bml, project, base, new, "raw")
    assert r.code == 1
    assert (f"(its git-lfs pointer says 99 bytes, but its object {oid[:12]} holds 6)") in r.out
    # twin: the honest pointer of the same object
    assert check(bml, project, base, good, "raw").code == 0


# --- the server: receive.fsckObjects and pre-receive -----------------------------------------

@pytest.mark.slow
def test_install_in_bare_turns_on_fsck_and_refuses_dotgit(project: Path,
                                                          installed_server: Path) -> None:
    bare = installed_server
    assert git("config", "receive.fsckObjects", cwd=bare) == "true"
    before = git("rev-parse", "raw", cwd=bare)
    forge(project, "raw", {"data/.git/hooks/post-checkout": ("100755", blob(project, "#!/bin/sh\n"))})
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0
    assert "hasDotgit" in p.stderr  # refused by git's own fsck, before any hook ran
    assert git("rev-parse", "raw", cwd=bare) == before
    git("update-ref", "refs/heads/raw", before, cwd=project)  # twin: an honest file goes in
    commit(project, {"data/ok.csv": "a\n"}, branch="raw")
    p = git_proc("push", "origin", "raw", cwd=project)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "raw", cwd=bare) == git("rev-parse", "raw", cwd=project)


@pytest.mark.slow
def test_pre_push_and_pre_receive_refuse_data_symlink(project: Path,
                                                       installed_server: Path) -> None:
    """fsck has no opinion on symlinks: branchml's own pre-push and pre-receive refuse them."""
    bare = installed_server
    before = git("rev-parse", "raw", cwd=bare)
    forge(project, "raw", {"data/p.csv": ("120000", blob(project, "/etc/passwd"))})
    p = git_proc("push", "origin", "raw", cwd=project)  # the client's pre-push refuses first
    assert p.returncode != 0
    assert "data/p.csv is a symbolic link, which data on raw may not hold" in p.stderr
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0
    assert "data/p.csv is a symbolic link, which data on raw may not hold" in p.stderr
    assert git("rev-parse", "raw", cwd=bare) == before
