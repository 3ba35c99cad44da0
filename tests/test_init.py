"""`branchml init`: a new repository, an adopted one, idempotence, dry-run, bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from branchml.repo import oplog
from branchml.repo.hooks import MARKER
from tests.conftest import BIN, commit, git, snapshot, write

BRANCHES = ["clean", "dev/model", "main", "monitoring", "raw", "split", "stable/model"]


def branches(repo: Path) -> list[str]:
    return sorted(git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=repo)
                  .splitlines())


def test_new_repository_layout(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "myproj"
    r = bml("init", str(repo))
    assert r.code == 0, r.err
    assert branches(repo) == BRANCHES
    main = git("rev-parse", "main", cwd=repo)
    for b in BRANCHES:  # every branch starts at main's scaffold commit in a new repo
        assert git("rev-parse", b, cwd=repo) == main
    files = git("ls-tree", "-r", "--name-only", "main", cwd=repo).splitlines()
    assert files == [".gitattributes", ".gitignore", "README.md", "branchml.yaml",
                     "docs/data.md", "docs/model_card.md", "docs/problem.md", "docs/structure.md"]
    assert "# myproj" in (repo / "README.md").read_text()
    attrs = (repo / ".gitattributes").read_text()
    assert "data/** filter=lfs diff=lfs merge=branchml-append -text" in attrs
    assert "models/** filter=lfs diff=lfs merge=branchml-overwrite -text" in attrs
    assert git("config", "--local", "merge.branchml-append.driver", cwd=repo) == \
        "branchml merge-driver append %O %A %B %P"
    assert git("status", "--porcelain", cwd=repo) == ""
    assert git("symbolic-ref", "HEAD", cwd=repo) == "refs/heads/main"
    for hook in ("pre-commit", "pre-push", "post-checkout", "post-commit", "post-merge"):
        assert MARKER in (repo / ".git" / "hooks" / hook).read_text()
    assert git("config", "--local", "filter.lfs.process", cwd=repo) == "git-lfs filter-process"
    git("fsck", "--strict", cwd=repo)
    events = [e["event"] for e in oplog.read(repo / ".git")]
    assert events == ["begin", "end"]


def test_twice_changes_nothing_and_says_so(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(project)
    r = bml("init", str(project))
    assert r.code == 0
    assert r.out == f"Nothing to do: {project} is already set up for branchml.\n"
    assert snapshot(project) == before


def test_dry_run_new_path_writes_nothing(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("init", str(tmp_path / "p"), "--dry-run")
    assert r.code == 0
    assert r.out.startswith(f"Would do in {tmp_path / 'p'}:\n  - create repository")
    assert "create stable/model" in r.out
    assert not (tmp_path / "p").exists()


def test_dry_run_adopt_writes_nothing(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"notes.md": "hi\n"})
    before = snapshot(repo)
    r = bml("init", str(repo), "--dry-run", "--json")
    assert r.code == 0
    plan = json.loads(r.out)
    assert plan["dry_run"] and "README.md" in plan["files"]
    assert snapshot(repo) == before


def test_init_primes_the_config_cache(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The first command after init reads the parsed config from the cache: the hook (and a
    pull) never loads PyYAML or jsonschema. A dry run writes no cache."""
    import subprocess
    import sys

    bml("init", str(tmp_path / "dry"), "--dry-run")
    old = tmp_path / "old"
    old.mkdir()
    git("init", "-q", "-b", "main", cwd=old)
    commit(old, {"notes.md": "hi\n"})
    bml("init", str(old), "--dry-run")
    assert not (old / ".git" / "branchml").exists()
    repo = tmp_path / "p"
    assert bml("init", str(repo)).code == 0
    assert list((repo / ".git" / "branchml" / "cache").glob("config-*.json"))
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, io; sys.stdin = io.StringIO('');"
         "from branchml.cli.main import main; main(['hook', 'pre-commit']);"
         "print(sorted(m for m in ('jsonschema', 'yaml') if m in sys.modules))"],
        capture_output=True, text=True, cwd=repo)
    assert probe.stdout.splitlines()[-1] == "[]", probe.stderr


def test_adopt_existing_repository(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("lfs", "install", "--local", cwd=repo)
    git("lfs", "track", "*.bin", cwd=repo)
    write(repo, ".gitignore", "secret.txt")  # no final newline
    write(repo, "README.md", "# Mine\n")
    first = commit(repo, {".gitattributes": (repo / ".gitattributes").read_text(),
                          ".gitignore": "secret.txt", "README.md": "# Mine\n",
                          "blob.bin": b"\x00" * 100})
    r = bml("init", str(repo))
    assert r.code == 0, r.err
    head = git("rev-parse", "main", cwd=repo)
    assert git("rev-parse", "main^", cwd=repo) == first  # history untouched, one commit on top
    assert (repo / "README.md").read_text() == "# Mine\n"  # never overwritten
    attrs = (repo / ".gitattributes").read_text()
    assert attrs.startswith("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    assert "data/** filter=lfs" in attrs
    assert (repo / ".gitignore").read_text().startswith("secret.txt\n# added by branchml init\n")
    assert branches(repo) == BRANCHES
    assert git("rev-parse", "raw", cwd=repo) == head
    # the user's own `git lfs track` line keeps working
    commit(repo, {"more.bin": b"\x01" * 50}, branch="dev/model")
    assert "more.bin" in git("lfs", "ls-files", cwd=repo)
    git("fsck", "--strict", cwd=repo)


def test_adopt_master_only_repository(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "master", cwd=repo)
    first = commit(repo, {"a.md": "a\n"})
    assert bml("init", str(repo), "--no-lfs").code == 0
    assert git("rev-parse", "main^", cwd=repo) == first
    assert git("rev-parse", "master", cwd=repo) == first
    assert git("symbolic-ref", "HEAD", cwd=repo) == "refs/heads/master"


def test_keeps_existing_branches(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    first = commit(repo, {"a.md": "a\n"})
    git("branch", "raw", cwd=repo)
    r = bml("init", str(repo), "--no-lfs")
    assert "Kept existing branches: raw" in r.out
    assert git("rev-parse", "raw", cwd=repo) == first
    assert git("merge-base", "--is-ancestor", "raw", "clean", cwd=repo) == ""


def test_model_name(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--model", "churn", "--no-lfs").code == 0
    assert "dev/churn" in branches(repo) and "stable/churn" in branches(repo)


def test_no_lfs_no_hooks(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--no-lfs", "--no-hooks").code == 0
    attrs = (repo / ".gitattributes").read_text()
    assert "filter=lfs" not in attrs and "data/** merge=branchml-append\n" in attrs
    assert "lfs: []" in (repo / "branchml.yaml").read_text()
    assert not [p for p in (repo / ".git" / "hooks").iterdir() if not p.name.endswith(".sample")]
    assert git("config", "--local", "filter.lfs.process", cwd=repo, check=False) == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "a/b"], "--model 'a/b' must be one name part, without '/'."),
    (["--model", "x.lock"], "'dev/x.lock' is not a valid branch name: it starts or ends with "
                            "'/', or ends with '.' or '.lock'."),
])
def test_bad_model(tmp_path: Path, bml, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    r = bml("init", str(tmp_path / "p"), *args)
    assert (r.code, r.err) == (2, f"branchml: error: {message}\n")
    assert not (tmp_path / "p").exists()


def test_path_is_a_file(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path, "f", "x")
    r = bml("init", str(tmp_path / "f"))
    assert (r.code, r.err) == (2, f"branchml: error: {tmp_path / 'f'} is a file; give a folder "
                                  "for the repository.\n")


def test_inside_another_repository(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(project)
    r = bml("init", str(project / "docs"))
    assert r.code == 2
    assert r.err == (f"branchml: error: {project / 'docs'} is inside the repository at "
                     f"{project}: run `branchml init {project}` to adopt that repository.\n")
    assert snapshot(project) == before


def test_bare_repository(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("init", "-q", "--bare", str(tmp_path / "b.git"), cwd=tmp_path)
    r = bml("init", str(tmp_path / "b.git"))
    assert r.code == 2 and "is a bare repository" in r.err


def test_dirty_worktree_on_main(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"a.md": "a\n"})
    write(repo, "a.md", "changed\n")
    before = snapshot(repo)
    r = bml("init", str(repo), "--no-lfs")
    assert r.code == 4
    assert r.err == ("branchml: error: the working tree of main has uncommitted or untracked "
                     "files that init would overwrite (a.md): commit, stash or move them, then "
                     "run `branchml init` again.\n")
    assert snapshot(repo) == before


def test_untracked_file_in_the_way(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"a.md": "a\n"})
    write(repo, "docs/problem.md", "mine\n")
    before = snapshot(repo)
    r = bml("init", str(repo), "--no-lfs")
    assert r.code == 4 and "(docs/problem.md)" in r.err
    assert snapshot(repo) == before
    assert (repo / "docs/problem.md").read_text() == "mine\n"


def test_plain_folder_with_files_in_the_way(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "p", "README.md", "mine\n")
    r = bml("init", str(tmp_path / "p"), "--no-lfs")
    assert r.code == 4 and "already holds README.md" in r.err
    assert not (tmp_path / "p" / ".git").exists()


def test_missing_git_lfs(tmp_path: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    only_git = tmp_path / "bin"
    only_git.mkdir()
    os.symlink(shutil.which("git") or "/usr/bin/git", only_git / "git")
    monkeypatch.setenv("PATH", f"{only_git}{os.pathsep}{BIN}")
    r = bml("init", str(tmp_path / "p"))
    assert r.code == 4
    assert r.err == ("branchml: error: git-lfs is not installed or not on PATH: install it "
                     "(apt-get install -y git-lfs), or pass --no-lfs to keep data and models as "
                     "plain git blobs.\n")
    assert not (tmp_path / "p").exists()
    assert bml("init", str(tmp_path / "p"), "--no-lfs").code == 0


def test_invalid_existing_config_changes_nothing(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"branchml.yaml": "version: 1\nlfs: [dta]\n"})
    before = snapshot(repo)
    r = bml("init", str(repo))
    assert r.code == 2
    assert r.err == ("branchml: error: branchml.yaml: lfs[0]: 'dta' is not a path class "
                     "(code, data, models, tracking, docs, config).\n")
    assert snapshot(repo) == before


def test_no_identity(tmp_path: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"a.md": "a\n"})
    git("config", "user.name", "", cwd=repo)
    git("config", "user.email", "", cwd=repo)
    before = snapshot(repo)
    r = bml("init", str(repo), "--no-lfs")
    assert r.code == 4 and "git does not know who you are" in r.err
    assert snapshot(repo) == before
