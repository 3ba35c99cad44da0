"""`branchml push`: judged here first, LFS objects before refs, every ref in one atomic push;
`tag --push`, `deploy --push`, `rollback --push` on the same push. Real git, real git-lfs,
bare repositories over file:// as servers (branchml's pre-receive installed the documented
way, or a hook a test writes)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from branchml.ops.push import judged_digest
from tests.conftest import BIN, commit, empty_server, git, git_proc, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture
def server(project: Path, tmp_path: Path) -> Path:
    """An empty bare repository with branchml installed in it (pre-receive, fsck), as
    `origin` of the project: the first `branchml push` fills it."""
    return empty_server(project, tmp_path)


@pytest.fixture
def pushed(project: Path, server: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """The project with its first `branchml push` done."""
    r = bml("push", cwd=project)
    assert r.code == 0, r.err
    return project


def refs(repo: Path) -> dict[str, str]:
    out = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo)
    return dict(line.split(" ", 1) for line in out.splitlines())  # type: ignore[misc]


def store(bare: Path) -> set[str]:
    root = bare / "lfs" / "objects"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()


def lfs_oid(repo: Path, path: str, rev: str = "HEAD") -> str:
    text = git("show", f"{rev}:{path}", cwd=repo)
    return next(ln.split(":")[1] for ln in text.splitlines() if ln.startswith("oid sha256:"))


def commit_tree(repo: Path, files: dict[str, str], parent: str, msg: str) -> str:
    """A commit made by hand on top of `parent` (no hook, no branchml)."""
    git("read-tree", parent, cwd=repo)
    for rel, content in files.items():
        blob = git("hash-object", "-w", "--stdin", cwd=repo, input=content)
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", cwd=repo)
    tree = git("write-tree", cwd=repo)
    git("read-tree", "HEAD", cwd=repo)
    return git("commit-tree", tree, "-p", parent, "-m", msg, cwd=repo)


def release(repo: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Code promoted to stable/model, a model trained there, tagged acme-v1 (not pushed)."""
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=repo).code == 0


# --- what goes, in one atomic push ---------------------------------------------------------

def test_first_push_fills_an_empty_server(project: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("branch", "scratch", cwd=project)  # no type matches: a private branch stays here
    r = bml("push", "--json", cwd=project)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["pushed"] and report["verdict"]["ok"]
    typed = {ref: sha for ref, sha in refs(project).items() if ref.startswith("refs/heads/")
             and ref != "refs/heads/scratch"}
    assert {m["ref"] for m in report["refs"]} == set(typed)
    assert all(m["old"] is None for m in report["refs"])
    assert {r: s for r, s in refs(server).items()} == typed
    again = bml("push", cwd=project)
    assert again.code == 0 and again.out.startswith("Nothing to push")


def test_branches_tags_deploy_refs_go_in_one_push(pushed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(pushed, {"data/a.csv": "x\n1\n"}, branch="raw")
    release(pushed, bml)
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=pushed).code == 0
    git("checkout", "-q", "-b", "dev/new", "main", cwd=pushed)
    commit(pushed, {"src/new.py": "x = 1\n"})
    before = refs(server)
    r = bml("push", cwd=pushed)
    assert r.code == 0, r.err
    assert "in one atomic push" in r.out
    moved = {"refs/heads/raw", "refs/heads/dev/model", "refs/heads/stable/model",
             "refs/heads/dev/new", "refs/tags/acme-v1", "refs/deploy/acme"}
    after = refs(server)
    assert {ref for ref in after if after[ref] != before.get(ref)} == moved
    assert all(after[ref] == refs(pushed)[ref] for ref in moved)
    assert lfs_oid(pushed, "data/a.csv", "raw") in store(server)
    assert lfs_oid(pushed, "models/model.pkl", "stable/model") in store(server)
    # the tracking refs follow, as after any git push
    assert git("rev-parse", "origin/raw", cwd=pushed) == after["refs/heads/raw"]


def test_one_refused_ref_moves_none(pushed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """git's `update` hook judges ref by ref: without --atomic the other refs would move."""
    hook = server / "hooks" / "update"
    hook.write_text('#!/bin/sh\nif [ "$1" = refs/heads/raw ]; then\n'
                    '  echo "raw is frozen for the audit" >&2; exit 1\nfi\n')
    hook.chmod(0o755)
    commit(pushed, {"data/a.csv": "x\n1\n"}, branch="raw")
    commit(pushed, {"src/b.py": "b = 1\n"}, branch="dev/model")
    before, lfs_before = refs(server), store(server)
    r = bml("push", cwd=pushed)
    assert r.code == 1
    assert "origin refused the push (refs/heads/raw)" in r.err
    assert "raw is frozen for the audit" in r.err and "nothing moved there" in r.err
    assert refs(server) == before
    assert lfs_oid(pushed, "data/a.csv", "raw") in store(server) - lfs_before  # objects first
    hook.unlink()
    assert bml("push", cwd=pushed).code == 0  # the retry takes both
    assert refs(server)["refs/heads/raw"] == refs(pushed)["refs/heads/raw"]


def test_lfs_objects_are_on_the_server_before_any_ref_moves(project: Path, tmp_path: Path,
                                                            bml) -> None:  # type: ignore[no-untyped-def]
    bare = tmp_path / "checking.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!{sys.executable}\n" + PRE_RECEIVE_LFS)
    hook.chmod(0o755)
    git("remote", "add", "origin", str(bare), cwd=project)
    commit(project, {"data/a.csv": "x\n1\n", "data/b.csv": "y\n2\n"}, branch="raw")
    r = bml("push", cwd=project)
    assert r.code == 0, r.err
    assert refs(bare)["refs/heads/raw"] == refs(project)["refs/heads/raw"]
    # the hook's twin: git-lfs's upload skipped, the hook refuses the ref
    commit(project, {"data/c.csv": "z\n3\n"}, branch="raw")
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0 and "has no LFS object" in p.stderr


PRE_RECEIVE_LFS = r'''
import os, subprocess, sys
def git(*a):
    return subprocess.run(["git", *a], capture_output=True, text=True, check=True).stdout
for line in sys.stdin.read().splitlines():
    old, new, ref = line.split()
    if set(new) == {"0"} or git("cat-file", "-t", new).strip() != "commit":
        continue
    for c in git("rev-list", new, "--not", "--all").split():
        for entry in git("ls-tree", "-r", c).splitlines():
            meta, path = entry.split("\t", 1)
            blob = meta.split()[2]
            text = git("cat-file", "-p", blob) if int(git("cat-file", "-s", blob)) < 400 else ""
            if text.startswith("version https://git-lfs"):
                oid = text.split("oid sha256:")[1].split()[0]
                if not os.path.isfile(f"lfs/objects/{oid[:2]}/{oid[2:4]}/{oid}"):
                    print(f"{ref}: {path} has no LFS object {oid[:12]} here", file=sys.stderr)
                    sys.exit(1)
'''


def test_lfs_upload_progress_is_reported(pushed: Path, server: Path) -> None:
    """What the CLI's progress bar (on a terminal) is fed: git-lfs's own counts."""
    from branchml import api

    commit(pushed, {"data/a.csv": "x\n1\n", "data/b.csv": "y\n2\n"}, branch="raw")
    seen: list[tuple[int, int]] = []
    report = api.push(pushed, progress=lambda done, total, _size: seen.append((done, total)))
    assert report.pushed and seen and seen[-1] == (2, 2)


def test_dry_run_changes_nothing(pushed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(pushed, {"data/a.csv": "x\n1\n"}, branch="raw")
    mine, theirs, lfs_before = snapshot(pushed), refs(server), store(server)
    r = bml("push", "--dry-run", "--json", cwd=pushed)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["dry_run"] and not report["pushed"] and report["verdict"]["ok"]
    assert [m["ref"] for m in report["refs"]] == ["refs/heads/raw"]
    assert [o["path"] for o in report["lfs_objects"]] == ["data/a.csv"]
    text = bml("push", "--dry-run", cwd=pushed)
    assert text.out.startswith("Would push 1 ref to origin")
    assert (snapshot(pushed), refs(server), store(server)) == (mine, theirs, lfs_before)


def test_behind_is_left_and_diverged_refuses_all(pushed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    first = commit(pushed, {"data/a.csv": "x\n1\n"}, branch="raw")
    commit(pushed, {"data/a.csv": "x\n1\n2\n"})
    assert bml("push", cwd=pushed).code == 0
    git("checkout", "-q", "main", cwd=pushed)
    git("update-ref", "refs/heads/raw", first, cwd=pushed)  # as if someone pushed after us
    commit(pushed, {"src/c.py": "c = 1\n"}, branch="dev/model")
    r = bml("push", cwd=pushed)
    assert r.code == 0, r.err
    assert "Not pushed: refs/heads/raw is behind origin's: run `branchml sync`." in r.out
    assert refs(server)["refs/heads/dev/model"] == refs(pushed)["refs/heads/dev/model"]
    # raw now has a commit the server lacks, and the server one raw lacks
    commit(pushed, {"data/b.csv": "y\n"}, branch="raw")
    commit(pushed, {"src/d.py": "d = 1\n"}, branch="dev/model")
    before = refs(server)
    r = bml("push", cwd=pushed)
    assert r.code == 3
    assert ("raw has diverged from origin's (each has commits the other lacks): run "
            "`branchml sync`") in r.err and "nothing was pushed" in r.err
    assert refs(server) == before


# --- attacks ---------------------------------------------------------------------------------

def test_hand_made_code_on_raw_refused_here_and_by_the_server(pushed: Path, server: Path,
                                                              bml) -> None:  # type: ignore[no-untyped-def]
    raw = git("rev-parse", "raw", cwd=pushed)
    evil = commit_tree(pushed, {"src/evil.py": "import os\n"}, raw, "just data")
    git("update-ref", "refs/heads/raw", evil, cwd=pushed)
    commit(pushed, {"data/big.csv": "h\n" + "1\n" * 300}, branch="stable/model")
    before, lfs_before = refs(server), store(server)
    r = bml("push", cwd=pushed)
    assert r.code == 1
    assert "push refused here" in r.err and "code does not belong on raw" in r.err
    assert (refs(server), store(server)) == (before, lfs_before)  # not even LFS objects
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=pushed)
    assert p.returncode != 0 and "code does not belong on raw" in p.stderr
    assert refs(server) == before
    # the legitimate twin: data on raw goes
    git("update-ref", "refs/heads/raw", raw, cwd=pushed)
    commit(pushed, {"data/ok.csv": "ok\n"}, branch="raw")
    assert bml("push", cwd=pushed).code == 0


@pytest.fixture
def deployed(pushed: Path, server: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    release(pushed, bml)
    assert bml("tag", "--client", "acme", "--allow-same", cwd=pushed).code == 0  # a candidate
    for fraction in ("0.1", "0.2"):
        assert bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2",
                   "--fraction", fraction, cwd=pushed).code == 0
    assert bml("push", cwd=pushed).code == 0
    return pushed


def test_deploy_ref_moved_backward_is_refused(deployed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    before = refs(server)
    git("update-ref", "refs/deploy/acme", "refs/deploy/acme~1", cwd=deployed)
    r = bml("push", cwd=deployed)
    assert r.code == 0 and "refs/deploy/acme is behind origin's" in r.out
    assert refs(server) == before
    # a new deployment on the rewound history: the two histories have moved apart
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=deployed).code == 0
    r = bml("push", cwd=deployed)
    assert r.code == 3 and "refs/deploy/acme has diverged from origin's" in r.err
    p = git_proc("push", "--no-verify", "--force", "origin", "refs/deploy/acme", cwd=deployed)
    assert p.returncode != 0 and "does not move forward" in p.stderr
    assert refs(server) == before


def test_rewritten_release_tag_is_refused(deployed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    before = refs(server)
    git("tag", "-f", "-a", "-m", "moved", "acme-v1", "main", cwd=deployed)
    r = bml("push", cwd=deployed)
    assert r.code == 3
    assert "release tag acme-v1 here differs from origin's" in r.err
    p = git_proc("push", "--no-verify", "--force", "origin", "refs/tags/acme-v1", cwd=deployed)
    assert p.returncode != 0 and "release tags are never moved" in p.stderr
    assert refs(server) == before


def test_someone_pushing_meanwhile_moves_nothing(pushed: Path, server: Path, bml,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Between the judging and the push, another person's commit lands on dev/model: the
    push is a compare-and-swap against the value judged, so nothing moves."""
    from branchml.ops import push as op

    commit(pushed, {"src/mine.py": "m = 1\n"}, branch="dev/model")
    commit(pushed, {"data/a.csv": "x\n1\n"}, branch="raw")
    theirs = commit_tree(pushed, {"src/theirs.py": "t = 1\n"},
                         refs(server)["refs/heads/dev/model"], "theirs")
    real = op.door.lfs_upload

    def upload_then_someone_pushes(*a, **k) -> None:  # type: ignore[no-untyped-def]
        real(*a, **k)
        git("push", "-q", "origin", f"{theirs}:refs/heads/dev/model", cwd=pushed)

    monkeypatch.setattr(op.door, "lfs_upload", upload_then_someone_pushes)
    r = bml("push", cwd=pushed)
    assert r.code == 3
    assert ("dev/model moved on origin since it was read (someone pushed meanwhile); nothing "
            "moved there: run `branchml sync`, then `branchml push` again") in r.err
    assert refs(server)["refs/heads/dev/model"] == theirs
    assert refs(server)["refs/heads/raw"] != refs(pushed)["refs/heads/raw"]


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "remote", "code", "said"), [
    ("http://127.0.0.1:1/x.git", "origin", 4, "cannot be reached"),
    ("/no/such/place.git", "origin", 4, "has no repository at that address"),
    (None, "upstream", 4, "there is no remote named 'upstream' here"),
    (None, "--upload-pack=touch pwned", 2, "is not a remote name"),
])
def test_bad_remotes_are_one_sentence(project: Path, bml, url: str | None, remote: str,
                                      code: int, said: str) -> None:  # type: ignore[no-untyped-def]
    if url:
        git("remote", "add", "origin", url, cwd=project)
    before = snapshot(project)
    r = bml("push", "--remote", remote, cwd=project)
    assert r.code == code and said in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert snapshot(project) == before
    assert not (project / "pwned").exists()


def test_remote_without_branchml_branches(project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other"
    git("init", "-q", "-b", "trunk", str(other), cwd=tmp_path)
    commit(other, {"README": "another project\n"})
    git("remote", "add", "origin", str(other), cwd=project)
    before = snapshot(project)
    r = bml("push", cwd=project)
    assert r.code == 4 and "origin is not a branchml repository" in r.err
    assert snapshot(project) == before
    assert refs(other) == {"refs/heads/trunk": git("rev-parse", "trunk", cwd=other)}


# --- tag / deploy / rollback --push ---------------------------------------------------------

def test_deploy_and_rollback_push(pushed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    release(pushed, bml)
    assert bml("push", cwd=pushed).code == 0
    commit(pushed, {"models/model.pkl": "w2"}, branch="stable/model")
    r = bml("tag", "--client", "acme", "--push", cwd=pushed)
    assert r.code == 0, r.err
    # the release and the stable commit it is cut from, in one push
    assert refs(server)["refs/tags/acme-v2"] == refs(pushed)["refs/tags/acme-v2"]
    assert refs(server)["refs/heads/stable/model"] == refs(pushed)["refs/heads/stable/model"]
    r = bml("deploy", "acme-v2", "--client", "acme", "--push", cwd=pushed)
    assert r.code == 0 and "pushed to origin" in r.out, r.err
    assert refs(server)["refs/deploy/acme"] == refs(pushed)["refs/deploy/acme"]
    r = bml("rollback", "--client", "acme", "--push", "--to", "acme-v1", cwd=pushed)
    assert r.code == 0, r.err
    assert refs(server)["refs/deploy/acme"] == refs(pushed)["refs/deploy/acme"]
    assert git("show", "origin/main:branchml.yaml", cwd=pushed)  # nothing else disturbed


def test_failed_deploy_push_leaves_the_local_ref_as_before(pushed: Path, server: Path,
                                                           bml) -> None:  # type: ignore[no-untyped-def]
    release(pushed, bml)
    assert bml("tag", "--client", "acme", "--allow-same", cwd=pushed).code == 0  # a candidate
    assert bml("push", cwd=pushed).code == 0
    assert bml("deploy", "acme-v1", "--client", "acme", "--push", cwd=pushed).code == 0
    local = refs(pushed)["refs/deploy/acme"]
    git("remote", "set-url", "origin", str(server.parent / "gone.git"), cwd=pushed)
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
            "0.5", "--push", cwd=pushed)
    assert r.code == 4 and "has no repository at that address" in r.err
    assert refs(pushed)["refs/deploy/acme"] == local
    r = bml("tag", "--client", "acme", "--push", "--allow-same", cwd=pushed)
    assert r.code == 4
    assert git("tag", cwd=pushed).splitlines() == ["acme-v1", "acme-v2"]


# --- judging once ------------------------------------------------------------------------------

def test_pre_push_skips_only_the_updates_judged(pushed: Path, server: Path) -> None:
    """The digest `branchml push` hands its `git push` names the exact updates it judged;
    the same hook input skips, any other is judged (and the server judges everything)."""
    raw = git("rev-parse", "raw", cwd=pushed)
    evil = commit_tree(pushed, {"src/evil.py": "x\n"}, raw, "evil")
    update = [("refs/heads/raw", raw, evil)]
    hook = pushed / ".git" / "hooks" / "pre-push"
    stdin = f"{evil} {evil} refs/heads/raw {raw}\n"
    for digest, judged in ((judged_digest("origin", [("refs/heads/raw", raw, raw)]), True),
                           ("0" * 64, True), (judged_digest("elsewhere", update), True),
                           (judged_digest("origin", update), False)):
        p = subprocess.run([str(hook), "origin", str(server)], cwd=pushed, input=stdin,
                           text=True, capture_output=True,
                           env={**os.environ, "BRANCHML_PUSH_JUDGED": digest,
                                "GIT_LFS_SKIP_PUSH": "1"})
        assert (p.returncode != 0) is judged, p.stderr


# --- LFS server refusing us ----------------------------------------------------------------

def test_lfs_401_403_fail_within_seconds(pushed: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(pushed, {"data/a.csv": "x\n1\n"}, branch="raw")
    before = refs(server)
    for code, mode in ((401, "batch"), (403, "batch"), (401, "upload"), (403, "upload")):
        with refusing_lfs(code, mode) as url:
            git("config", "lfs.url", url, cwd=pushed)
            start = time.monotonic()
            r = bml("push", cwd=pushed)
            took = time.monotonic() - start
        assert r.code == 4, (code, mode, r.err)
        assert len(r.err.strip().splitlines()) == 1, r.err
        assert "uploading the LFS objects failed" in r.err
        assert took < 10, (code, mode, took)
        assert refs(server) == before


@contextmanager
def refusing_lfs(code: int, mode: str) -> Iterator[str]:
    """An LFS server on 127.0.0.1 that answers `code` to the batch request (mode "batch"), or
    accepts the batch and answers `code` to the object upload itself ("upload": the case
    git-lfs retries for ~36 s by default)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.endswith("/objects/batch") and mode == "upload":
                port = self.server.server_address[1]
                objects = [{"oid": o["oid"], "size": o["size"], "actions": {"upload": {
                    "href": f"http://127.0.0.1:{port}/upload/{o['oid']}"}}}
                    for o in json.loads(body)["objects"]]
                self._answer(200, {"transfer": "basic", "objects": objects})
            else:
                self._answer(code, {"message": "Forbidden" if code == 403 else "no"})

        do_PUT = do_POST

        def _answer(self, status: int, data: object) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.git-lfs+json")
            if status == 401:
                self.send_header("LFS-Authenticate", 'Basic realm="lfs"')
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/repo.git/info/lfs"
    finally:
        srv.shutdown()
        srv.server_close()


# --- over real HTTP git + LFS servers (tests/servers.py: nginx, git http-backend, giftless) --

from tests.servers import HttpGitServer  # noqa: E402
from tests.test_servers import (  # noqa: E402 (helpers of the server suite)
    Team,
    big_model,
    branchml,
    partly_uploaded,
    serve,
    stored,
    wait_until,
)


@pytest.fixture
def team(http_server: HttpGitServer, project: Path, tmp_path: Path) -> Team:
    return serve(http_server, project, tmp_path)


@pytest.fixture
def fresh_team(fresh_http_server: HttpGitServer, project: Path, tmp_path: Path) -> Team:
    return serve(fresh_http_server, project, tmp_path)


@pytest.mark.parametrize("mode", ["401", "403", "upload-401", "upload-403"])
def test_http_lfs_refusal_is_one_sentence_within_seconds(fresh_team: Team, mode: str) -> None:
    """giftless refusing the batch request or the object upload itself (where git-lfs alone
    retries for ~36 s): `branchml push` says so in one sentence, exit 4, within seconds; no
    ref moved, nothing stored."""
    commit(fresh_team.a, {"models/model.bin": os.urandom(200_000), "tracking/m.json": "{}"},
           msg="model", branch="stable/model")
    before = fresh_team.refs()
    fresh_team.server.set_auth(mode)
    started = time.monotonic()
    p = branchml("push", cwd=fresh_team.a)
    took = time.monotonic() - started
    assert p.returncode == 4, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "uploading the LFS objects failed" in p.stderr and "Traceback" not in p.stderr
    assert took < 10, took
    assert fresh_team.refs() == before
    assert fresh_team.server.lfs_objects(fresh_team.name) == []
    fresh_team.server.set_auth("ok")  # the legitimate twin
    # after a 401 git-lfs records `lfs.<url>.access basic` and asks for credentials from
    # then on; this test's user has none, so the record is dropped
    access = git("config", "--name-only", "--get-regexp", r"^lfs\..*\.access$",
                 cwd=fresh_team.a, check=False)
    for key in access.splitlines():
        git("config", "--unset", key, cwd=fresh_team.a)
    p = branchml("push", cwd=fresh_team.a)
    assert p.returncode == 0, p.stderr


def test_http_lfs_server_killed_during_branchml_push(fresh_team: Team) -> None:
    oid = big_model(fresh_team.a, 120)
    before = fresh_team.refs()
    push = subprocess.Popen([f"{BIN}/branchml", "push"], cwd=fresh_team.a, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: partly_uploaded(fresh_team, oid) > 0, "the upload")
    fresh_team.server.kill_lfs()
    _, err = push.communicate(timeout=120)
    assert push.returncode == 4, err
    assert len(err.strip().splitlines()) == 1 and "LFS" in err, err
    assert fresh_team.refs() == before
    fresh_team.server.start()
    p = branchml("push", cwd=fresh_team.a)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "stable/model", cwd=fresh_team.bare) == \
        git("rev-parse", "stable/model", cwd=fresh_team.a)
    assert stored(fresh_team, oid).stat().st_size == 120 << 20


def test_http_two_users_push_data_and_models(team: Team) -> None:
    commit(team.a, {"data/a.csv": "x\n1\n"}, branch="raw")
    commit(team.a, {"models/model.bin": os.urandom(100_000)}, branch="stable/model")
    p = branchml("push", cwd=team.a)
    assert p.returncode == 0, p.stderr
    assert "Pushed 2 refs" in p.stdout and "LFS object(s) went first" in p.stdout
    # B has not synced: raw is behind (left, said), its own new model diverges (refused)
    commit(team.b, {"models/model.bin": os.urandom(100_000)}, branch="stable/model")
    p = branchml("push", cwd=team.b)
    assert p.returncode == 3 and "stable/model has diverged from origin's" in p.stderr
    git("reset", "-q", "--hard", "origin/stable/model", cwd=team.b)
    assert branchml("sync", cwd=team.b).returncode == 0
    commit(team.b, {"data/a.csv": "x\n1\n2\n"}, branch="raw")
    commit(team.b, {"models/model.bin": os.urandom(100_000)}, branch="stable/model")
    p = branchml("push", cwd=team.b)
    assert p.returncode == 0, p.stderr
    p = branchml("push", cwd=team.a)
    assert p.returncode == 0 and "refs/heads/raw is behind origin's" in p.stdout
    for ref in ("raw", "stable/model"):
        assert git("rev-parse", ref, cwd=team.bare) == git("rev-parse", ref, cwd=team.b)
    assert len(team.server.lfs_objects(team.name)) >= 4


def test_http_concurrent_tag_push_from_two_clones(team: Team) -> None:
    for c in (team.a, team.b):
        git("checkout", "-q", "stable/model", cwd=c)
    procs = [subprocess.Popen([f"{BIN}/branchml", "tag", "--client", "acme", "--push",
                               "--allow-same"], cwd=c, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for c in (team.a, team.b)]
    results = [(p.wait(), *p.communicate()) for p in procs]
    for (code, _, err), c in zip(results, (team.a, team.b), strict=True):
        if code != 0:  # the loser: nothing tagged, the rerun mints the next number
            assert code == 3 and "could not be pushed" in err, err
            assert git("tag", cwd=c) == ""
            retry = branchml("tag", "--client", "acme", "--push", "--allow-same", cwd=c)
            assert retry.returncode == 0, retry.stderr
    assert sorted(git("tag", cwd=team.bare).splitlines()) == ["acme-v1", "acme-v2"]
