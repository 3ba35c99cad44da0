"""Adopted repositories (issue 17): history from before `branchml init .` is not judged.

A repository with a few hundred commits of code and data (built with `git fast-import`) is
adopted with `init .`, then pushed to real bare servers with branchml's pre-receive hook
(`branchml install`). The cut-off is recorded on main and read from the trusted side only;
the attacks try to move it, or to pass a new commit off as old history.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, commit, git, git_proc

COMMITS = 300
OLD = 1_500_000_000  # the history's first date (2017)


def history(commits: int) -> bytes:
    """A fast-import stream: each commit adds a code file; every fifth grows a CSV."""
    out: list[bytes] = []
    rows = "id,value\n"
    for i in range(commits):
        stamp = f"{OLD + 3600 * i} +0000"
        body = f"def f{i}():\n    return {i}\n".encode()
        out += [b"commit refs/heads/main\n",
                f"author Dev <dev@example.com> {stamp}\n".encode(),
                f"committer Dev <dev@example.com> {stamp}\n".encode(),
                b"data %d\nchange %d\n" % (len(b"change %d\n" % i), i),
                f"M 100644 inline src/f{i}.py\n".encode(), b"data %d\n" % len(body), body]
        if i % 5 == 0:
            rows += f"{i},{i % 7}\n"
            out += [b"M 100644 inline data/table.csv\n", b"data %d\n" % len(rows),
                    rows.encode()]
        out.append(b"\n")
    return b"".join(out)


def bare_server(path: Path) -> Path:
    git("init", "-q", "--bare", "-b", "main", str(path), cwd=path.parent)
    done = subprocess.run([f"{BIN}/branchml", "install"], cwd=path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return path


def refs(repo: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo)


def config_at(repo: Path, rev: str) -> dict[str, object]:
    return dict(yaml.safe_load(git("show", f"{rev}:branchml.yaml", cwd=repo)))


def set_cutoff(repo: Path, sha: str | None) -> None:
    """main's branchml.yaml with `adopted.before` set to `sha` (None: the key removed)."""
    text = (repo / "branchml.yaml").read_text()
    head, _, _ = text.partition("adopted:\n")
    (repo / "branchml.yaml").write_text(head + (f"adopted:\n  before: {sha}\n" if sha else ""))


@pytest.fixture
def adopted(tmp_path: Path, bml) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    """A repository of COMMITS commits of code and data, adopted by `branchml init .`; and
    the commit it was adopted at."""
    repo = tmp_path / "legacy"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=history(COMMITS),
                   check=True)
    git("checkout", "-q", "-f", "main", cwd=repo)
    before = git("rev-parse", "main", cwd=repo)
    r = bml("init", ".", cwd=repo)
    assert r.code == 0, r.err
    return repo, before


def push(repo: Path, server: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git push [OPTIONS] origin [REFS]` (options are the arguments starting with -)."""
    if git_proc("remote", "get-url", "origin", cwd=repo).returncode != 0:
        git("remote", "add", "origin", str(server), cwd=repo)
    opts = [a for a in args if a.startswith("-")]
    return git_proc("push", *opts, "origin", *[a for a in args if a not in opts], cwd=repo)


def test_init_records_the_cutoff_on_main(adopted: tuple[Path, str], plain_project: Path
                                         ) -> None:
    repo, before = adopted
    assert git("rev-parse", "main^", cwd=repo) == before
    assert config_at(repo, "main")["adopted"] == {"before": before}
    assert "adopted" not in config_at(plain_project, "main")  # a new repository has no history


@pytest.mark.slow
def test_adopted_repository_first_push_accepted(adopted: tuple[Path, str], tmp_path: Path
                                                ) -> None:
    """Through the client's pre-push and the server's pre-receive, then the server alone."""
    repo, _ = adopted
    commit(repo, {"src/model.py": "print('new')\n"}, branch="dev/model")
    done = push(repo, bare_server(tmp_path / "server.git"), "--all")
    assert done.returncode == 0, done.stderr
    git("remote", "remove", "origin", cwd=repo)
    server = bare_server(tmp_path / "server2.git")
    done = push(repo, server, "--no-verify", "--all")
    assert done.returncode == 0, done.stderr
    heads = ["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"]
    assert git(*heads, cwd=server) == git(*heads, cwd=repo)


def test_check_range_leaves_out_history_before_the_cutoff(adopted: tuple[Path, str], bml
                                                          ) -> None:
    """CI's `check --range` from the history's first commit: only the new commits count."""
    repo, _ = adopted
    root = git("rev-list", "--max-parents=0", "main", cwd=repo)
    commit(repo, {"data/more.csv": "id\n1\n"}, branch="raw")
    r = bml("check", "--range", f"{root}..raw", "--branch", "raw", "--json", cwd=repo)
    assert r.code == 0, r.out
    assert json.loads(r.out)["commits_checked"] == 2  # the adoption commit and the new one
    # a commit that claims to be old (dates of 2017, a subject copied from the history) but is
    # not an ancestor of the cut-off is judged like any other: code is not allowed on raw
    forged = forge_old_commit(repo, "raw", {"src/evil.py": "import os\n"})
    r = bml("check", "--range", f"{root}..{forged}", "--branch", "raw", cwd=repo)
    assert r.code == 1
    assert f"commit {forged[:10]}" in r.out and "src/evil.py" in r.out


def forge_old_commit(repo: Path, parent: str, files: dict[str, str]) -> str:
    """A commit on `parent` adding `files`, made by hand to look like pre-adoption history:
    author and committer dates of 2017, the message of the history's tenth commit."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "forge-index")}
    subprocess.run(["git", "read-tree", parent], cwd=repo, env=env, check=True)
    for path, text in files.items():
        blob = git("hash-object", "-w", "--stdin", cwd=repo, input=text)
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"],
                       cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    stamp = f"{OLD + 36_000} +0000"
    env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp, GIT_AUTHOR_NAME="Dev",
               GIT_AUTHOR_EMAIL="dev@example.com", GIT_COMMITTER_NAME="Dev",
               GIT_COMMITTER_EMAIL="dev@example.com")
    return subprocess.run(["git", "commit-tree", tree, "-p", git("rev-parse", parent, cwd=repo),
                           "-m", "change 10"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def pushed(adopted: tuple[Path, str], tmp_path: Path) -> tuple[Path, Path, str]:
    repo, before = adopted
    server = bare_server(tmp_path / "server.git")
    done = push(repo, server, "--no-verify", "--all")
    assert done.returncode == 0, done.stderr
    return repo, server, before


@pytest.mark.slow
def test_forged_old_commit_refused_by_the_server(pushed: tuple[Path, Path, str]) -> None:
    repo, server, _ = pushed
    before = refs(server)
    forged = forge_old_commit(repo, "main", {"src/evil.py": "import os\n"})
    git("update-ref", "refs/heads/main", forged, cwd=repo)
    done = push(repo, server, "--no-verify", "main")
    assert done.returncode != 0
    assert f"main: commit {forged[:10]}: " in done.stderr and "src/evil.py" in done.stderr
    assert refs(server) == before
    # its legitimate twin: a docs commit on main, dated now
    git("update-ref", "refs/heads/main", "main@{1}", cwd=repo)
    git("reset", "-q", "--hard", "main", cwd=repo)
    commit(repo, {"docs/notes.md": "# notes\n"}, branch="main")
    done = push(repo, server, "--no-verify", "main")
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("move", ["later", "earlier", "removed"])
def test_moving_the_cutoff_on_main_refused(pushed: tuple[Path, Path, str], move: str) -> None:
    repo, server, before = pushed
    git("checkout", "-q", "main", cwd=repo)
    target = {"later": git("rev-parse", "main", cwd=repo),
              "earlier": git("rev-parse", f"{before}~100", cwd=repo), "removed": None}[move]
    set_cutoff(repo, target)
    sha = commit(repo, {"branchml.yaml": (repo / "branchml.yaml").read_text()})
    server_refs = refs(server)
    done = push(repo, server, "--no-verify", "main")
    assert done.returncode != 0
    assert (f"main: commit {sha[:10]}: the adoption cut-off (adopted.before: {before[:10]}) "
            "may not change once recorded") in done.stderr
    assert refs(server) == server_refs
    # the pre-push door says the same, before anything leaves the machine
    done = push(repo, server, "main")
    assert done.returncode != 0 and "adoption cut-off" in done.stderr


@pytest.mark.slow
def test_config_change_keeping_the_cutoff_accepted(pushed: tuple[Path, Path, str]) -> None:
    """The legitimate twin: main's policy changes, the cut-off stays."""
    repo, server, before = pushed
    git("checkout", "-q", "main", cwd=repo)
    text = (repo / "branchml.yaml").read_text().replace("allow: []", 'allow: ["refs/notes/**"]')
    commit(repo, {"branchml.yaml": text})
    done = push(repo, server, "main")
    assert done.returncode == 0, done.stderr
    assert config_at(server, "main")["adopted"] == {"before": before}


def test_cutoff_added_later_must_be_in_mains_history(plain_project: Path, bml) -> None:
    repo = plain_project
    elsewhere = commit(repo, {"src/a.py": "x = 1\n"}, branch="dev/model")
    git("checkout", "-q", "main", cwd=repo)
    old = git("rev-parse", "main", cwd=repo)
    (repo / "branchml.yaml").write_text((repo / "branchml.yaml").read_text()
                                        + f"adopted:\n  before: {elsewhere}\n")
    sha = commit(repo, {"branchml.yaml": (repo / "branchml.yaml").read_text()})
    r = bml("check", "--range", f"{old}..{sha}", "--branch", "main", cwd=repo)
    assert r.code == 1
    assert f"the adoption cut-off {elsewhere[:10]} (adopted.before) is not a commit" in r.out
    git("reset", "-q", "--hard", old, cwd=repo)  # twin: one that names main's own history
    set_cutoff(repo, None)
    (repo / "branchml.yaml").write_text((repo / "branchml.yaml").read_text()
                                        + f"adopted:\n  before: {old}\n")
    sha = commit(repo, {"branchml.yaml": (repo / "branchml.yaml").read_text()})
    r = bml("check", "--range", f"{old}..{sha}", "--branch", "main", cwd=repo)
    assert r.code == 0, r.out


@pytest.mark.slow
def test_first_push_cutoff_under_a_policy_not_honoured(plain_project: Path, tmp_path: Path
                                                       ) -> None:
    """Into an empty server, a pushed main's cut-off counts only for history from before any
    branchml.yaml: one that names a commit made under the policy exempts nothing."""
    repo = plain_project
    git("checkout", "-q", "main", cwd=repo)
    smuggled = commit(repo, {"src/evil.py": "import os\n"})  # code on main, --no-verify
    (repo / "branchml.yaml").write_text((repo / "branchml.yaml").read_text()
                                        + f"adopted:\n  before: {smuggled}\n")
    commit(repo, {"branchml.yaml": (repo / "branchml.yaml").read_text()})
    server = bare_server(tmp_path / "server.git")
    done = push(repo, server, "--no-verify", "--all")
    assert done.returncode != 0
    assert f"main: commit {smuggled[:10]}: " in done.stderr
    assert refs(server) == ""


@pytest.mark.slow
def test_many_violations_print_twenty_and_counts(plain_project: Path, tmp_path: Path, bml
                                                 ) -> None:
    repo = plain_project
    server = bare_server(tmp_path / "server.git")
    assert push(repo, server, "--all").returncode == 0
    git("checkout", "-q", "main", cwd=repo)
    old = git("rev-parse", "main", cwd=repo)
    commit(repo, {f"src/m{i}.py": f"x = {i}\n" for i in range(30)})
    commit(repo, {f"src/r{i}.py": f"x = {i}\n" for i in range(5)}, branch="raw")
    done = push(repo, server, "--no-verify", "main", "raw")
    assert done.returncode != 0
    shown = [ln for ln in done.stderr.splitlines() if ": commit " in ln]
    assert len(shown) == 20
    assert "branchml: push rejected: 35 violations" in done.stderr
    assert "... and 15 more (`branchml check --range OLD..NEW --branch NAME --json`" in done.stderr
    assert "by branch: main 30, raw 5" in done.stderr
    assert "by rule: " in done.stderr
    r = bml("check", "--range", f"{old}..main", "--branch", "main", cwd=repo)
    assert r.code == 1 and "... and 10 more (--json lists them all)" in r.out
    r = bml("check", "--range", f"{old}..main", "--branch", "main", "--json", cwd=repo)
    assert len(json.loads(r.out)["violations"]) == 30


def test_moving_the_cutoff_refused_at_commit(adopted: tuple[Path, str], bml) -> None:
    """The pre-commit door (`check --staged`): judged by main's config before the commit."""
    repo, before = adopted
    set_cutoff(repo, git("rev-parse", "main", cwd=repo))
    git("add", "branchml.yaml", cwd=repo)
    r = bml("check", "--staged", cwd=repo)
    assert r.code == 1
    assert f"the adoption cut-off (adopted.before: {before[:10]}) may not change" in r.out
    set_cutoff(repo, before)  # the twin: the same file, cut-off unchanged, another edit
    text = (repo / "branchml.yaml").read_text().replace("allow: []", 'allow: ["refs/x/**"]')
    (repo / "branchml.yaml").write_text(text)
    git("add", "branchml.yaml", cwd=repo)
    assert bml("check", "--staged", cwd=repo).code == 0


@pytest.mark.slow
def test_new_branch_forked_before_the_cutoff_judged_from_it(pushed: tuple[Path, Path, str]
                                                            ) -> None:
    """A new branch made from a commit of the old history is judged from the cut-off: on
    stable/*, the code between the cut-off and its tip is code that no promotion brought
    (refused); on dev/*, where code may change, it is accepted."""
    repo, server, before = pushed
    old = git("rev-parse", f"{before}~50", cwd=repo)
    server_refs = refs(server)
    git("branch", "stable/old", old, cwd=repo)
    done = push(repo, server, "--no-verify", "stable/old")
    assert done.returncode != 0
    assert "stable/old: commit " in done.stderr and "code" in done.stderr
    assert refs(server) == server_refs
    git("branch", "dev/old", forge_old_commit(repo, old, {"src/fix.py": "x = 1\n"}), cwd=repo)
    done = push(repo, server, "--no-verify", "dev/old")
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_cutoff_added_after_an_older_adoption_accepted(adopted: tuple[Path, str],
                                                       tmp_path: Path) -> None:
    """A repository adopted before init recorded the cut-off (its adoption commit's config
    has none) adds it later on main, as docs/enforcement.md says; its first push into an
    empty server is accepted, through both hooks and through the server alone."""
    repo, before = adopted
    git("checkout", "-q", "main", cwd=repo)
    set_cutoff(repo, None)  # the adoption commit as an older branchml wrote it
    # only branchml.yaml: `-a` would also take data/table.csv, which the new .gitattributes
    # shows as modified (now an LFS path) whenever git looks at its bytes again
    git("add", "branchml.yaml", cwd=repo)
    git("commit", "-q", "--amend", "--no-verify", "-m", "branchml init", cwd=repo)
    for b in ("raw", "clean", "split", "monitoring", "dev/model", "stable/model"):
        git("branch", "-f", b, "main", cwd=repo)
    found = git("log", "--diff-filter=A", "--format=%P", "-1", "--", "branchml.yaml", cwd=repo)
    assert found == before
    set_cutoff(repo, found)
    commit(repo, {"branchml.yaml": (repo / "branchml.yaml").read_text()})
    done = push(repo, bare_server(tmp_path / "server.git"), "--all")
    assert done.returncode == 0, done.stderr
    git("remote", "remove", "origin", cwd=repo)
    done = push(repo, bare_server(tmp_path / "server2.git"), "--no-verify", "--all")
    assert done.returncode == 0, done.stderr
