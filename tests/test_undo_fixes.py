"""Issue 20 fix round for `branchml undo`: a pushed write seen through a relative remote URL,
an unreachable remote, a refused `--push` put back at once, undo of init, and the words of
`undo` and `undo --list`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_kills import _project, _released, ok, seed_pull
from tests.test_undo import branchml, whole_state
from tests.test_undo_pushed import remote_refs, with_remote

pytestmark = pytest.mark.slow


def second_release(repo: Path) -> None:
    git("checkout", "-q", "stable/model", cwd=repo)
    (repo / "models" / "m.pkl").write_text("w2")
    git("commit", "-qam", "w2", "--no-verify", cwd=repo)


def refused_pushed(repo: Path, bare: Path, says: str) -> None:
    on_remote, before = remote_refs(bare), whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1 and says in r.stderr, r.stderr
    assert "is pushed already" in r.stderr and len(r.stderr.splitlines()) == 1
    assert whole_state(repo) == before and remote_refs(bare) == on_remote


def test_relative_url_pushed_rollback_refused_then_reverted(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    second_release(repo)
    ok(repo, "tag", "--client", "acme")
    bare = with_remote(repo, tmp_path, relative=True)
    ok(repo, "deploy", "acme-v1", "--client", "acme", "--push")
    ok(repo, "deploy", "acme-v2", "--client", "acme", "--push")
    ok(repo, "rollback", "--client", "acme", "--push")
    pushed = git("rev-parse", "refs/deploy/acme", cwd=repo)
    refused_pushed(repo, bare, "deploy acme (origin)")
    done = branchml(repo, "undo", "--revert")
    assert done.returncode == 0, done.stderr
    assert git("rev-parse", "refs/deploy/acme^", cwd=repo) == pushed  # forward, not back
    assert git("rev-parse", "refs/deploy/acme", cwd=bare) == pushed


def test_relative_url_pushed_tag_refused(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    second_release(repo)
    bare = with_remote(repo, tmp_path, relative=True)
    ok(repo, "tag", "--client", "acme", "--push")
    refused_pushed(repo, bare, "tag acme-v2 (origin)")
    done = branchml(repo, "undo", "--revert")
    assert done.returncode == 0 and "stays" in done.stdout, done.stderr
    assert "refs/tags/acme-v2" in remote_refs(bare)


def test_relative_url_branch_pushed_elsewhere_refused(tmp_path: Path) -> None:
    """The branch went to the server from a clone: no tracking ref here says so, the
    server does."""
    repo = seed_pull(tmp_path)
    bare = with_remote(repo, tmp_path, relative=True)
    ok(repo, "pull", "raw", "clean")
    git("push", "-q", "--no-verify", str(bare), "clean", cwd=repo)  # not through origin: no tracking ref
    refused_pushed(repo, bare, "clean (origin)")
    done = branchml(repo, "undo", "--revert")
    assert done.returncode == 0, done.stderr


def test_relative_url_not_pushed_is_undone(tmp_path: Path) -> None:
    """The legitimate twin: the server does not have the write, so undo takes it back."""
    repo = seed_pull(tmp_path)
    with_remote(repo, tmp_path, relative=True)
    before = git("rev-parse", "clean", cwd=repo)
    ok(repo, "pull", "raw", "clean")
    r = branchml(repo, "undo")
    assert r.returncode == 0, r.stderr
    assert git("rev-parse", "clean", cwd=repo) == before


def test_unreachable_remote_refused(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)
    git("remote", "add", "origin", "../nowhere.git", cwd=repo)
    ok(repo, "pull", "raw", "clean")
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("branchml: error: could not reach origin to see whether clean was pushed (")
    assert "run undo again when it is reachable, or `branchml undo --revert`" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and whole_state(repo) == before
    listed = json.loads(branchml(repo, "undo", "--list", "--json").stdout)
    assert not listed[0]["undoable"] and "could not reach origin" in listed[0]["why_not"]


def refusing(bare: Path) -> None:
    """The server refuses every push from now on (a pre-receive hook says no)."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'refused by the server' >&2\nexit 1\n")
    hook.chmod(0o755)


def test_refused_deploy_push_is_one_failed_write(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    second_release(repo)
    ok(repo, "tag", "--client", "acme")
    bare = with_remote(repo, tmp_path, relative=True)
    ok(repo, "deploy", "acme-v1", "--client", "acme")  # recorded here only
    first = git("rev-parse", "refs/deploy/acme", cwd=repo)
    refusing(bare)
    r = branchml(repo, "deploy", "acme-v2", "--client", "acme", "--push")
    assert r.returncode != 0 and "refs/deploy/acme: refs/deploy/acme:" not in r.stderr
    assert git("rev-parse", "refs/deploy/acme", cwd=repo) == first  # put back
    rows = json.loads(branchml(repo, "undo", "--list", "--json").stdout)
    assert rows[0]["command"] == "deploy acme acme-v2"
    assert rows[0]["state"] == "failed (put back)" and not rows[0]["undoable"]
    assert rows[1]["command"] == "deploy acme acme-v1" and rows[1]["undoable"]
    text = branchml(repo, "undo", "--list").stdout
    assert "branchml deploy acme acme-v2  [failed (put back); not undoable:" in text
    assert "(push failed)" not in text
    done = branchml(repo, "undo")
    assert done.returncode == 0, done.stderr
    assert "deploy acme acme-v1" in done.stdout
    # the refused deploy is not applied again: the write before it is taken back
    assert git("for-each-ref", "refs/deploy", cwd=repo) == ""


def test_refused_tag_push_is_one_failed_write(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    second_release(repo)
    bare = with_remote(repo, tmp_path, relative=True)
    refusing(bare)
    r = branchml(repo, "tag", "--client", "acme", "--push")
    assert r.returncode != 0 and git("tag", "-l", "acme-v2", cwd=repo) == ""
    rows = json.loads(branchml(repo, "undo", "--list", "--json").stdout)
    assert rows[0]["command"] == "tag acme-v2" and rows[0]["state"] == "failed (put back)"
    # undo goes to the write before (acme-v1, on the server already), never to acme-v2
    r = branchml(repo, "undo")
    assert r.returncode == 1 and "`branchml tag acme-v1` is pushed already" in r.stderr
    assert git("tag", "-l", "acme-v2", cwd=repo) == ""


def test_deploy_push_refused_here_says_its_ref_once(tmp_path: Path) -> None:
    """The server's deploy record moved elsewhere (another machine): the push is refused,
    the local record is put back, the reason names the ref once, and undo skips it all."""
    repo = _project(tmp_path)
    _released(repo)
    bare = with_remote(repo, tmp_path, relative=True)
    tree = git("mktree", cwd=bare, input="")
    other = git("commit-tree", tree, "-m", "deploy acme: elsewhere", cwd=bare)
    git("update-ref", "refs/deploy/acme", other, cwd=bare)
    r = branchml(repo, "deploy", "acme-v1", "--client", "acme", "--push")
    assert r.returncode == 3 and "has diverged from origin's" in r.stderr, r.stderr
    assert "refs/deploy/acme: refs/deploy/acme:" not in r.stderr
    assert git("for-each-ref", "refs/deploy", cwd=repo) == ""
    assert git("rev-parse", "refs/deploy/acme", cwd=bare) == other
    rows = json.loads(branchml(repo, "undo", "--list", "--json").stdout)
    assert rows[0]["state"] == "failed (put back)"


def test_undo_of_init_says_what_works(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "undo would delete every branch, main too" in r.stderr
    assert "run `git switch --detach`" in r.stderr and whole_state(repo) == before
    git("switch", "-q", "--detach", cwd=repo)
    done = branchml(repo, "undo")
    assert done.returncode == 0, done.stderr
    assert git("for-each-ref", "refs/heads", cwd=repo) == ""
    assert "branchml" not in git("config", "--local", "--list", cwd=repo)


def test_undo_says_it_in_words(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    second_release(repo)
    ok(repo, "tag", "--client", "acme")
    ok(repo, "deploy", "acme-v1", "--client", "acme")
    ok(repo, "deploy", "acme-v2", "--client", "acme")
    r = branchml(repo, "undo")
    assert "Now acme runs acme-v1 again." in r.stdout, r.stdout
    r = branchml(repo, "undo")
    assert "Now acme has no deployment record again (it had none before)." in r.stdout
    r = branchml(repo, "undo")
    assert "Now tag acme-v2 is deleted." in r.stdout, r.stdout
    listed = branchml(repo, "undo", "--list").stdout
    assert listed.splitlines()[0].startswith("(undo takes back the newest write first")
    assert "a newer write comes first" not in listed and "changed nothing" not in listed
    assert json.loads(branchml(repo, "undo", "--json").stdout)["said"] == \
        ["tag acme-v1 is deleted"]


def test_undo_of_a_pull_says_where_the_branch_is_back(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)
    before = git("rev-parse", "clean", cwd=repo)
    ok(repo, "pull", "raw", "clean")
    r = branchml(repo, "undo")
    assert f"Now clean is back at {before[:7]} (the commit before `branchml pull raw " \
        "clean`)." in r.stdout, r.stdout
