"""`branchml clone` and `branchml sync` against real bare remotes over file://, pushed to with
plain git; attacks made on the remote by hand (`git update-ref`, `git mktag`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, copied_fixtures, git, git_proc

pytestmark = pytest.mark.slow


project = copied_fixtures()


def lfs_objects(repo: Path) -> set[str]:
    store = repo / ".git" / "lfs" / "objects"
    return {p.name for p in store.rglob("*") if p.is_file()} if store.is_dir() else set()


def oid_of(repo: Path, rev: str, path: str) -> str:
    pointer = git("cat-file", "-p", f"{rev}:{path}", cwd=repo)
    return next(ln.split(":", 1)[1] for ln in pointer.splitlines() if ln.startswith("oid "))


def push_all(repo: Path) -> None:
    for spec in (["--all"], ["--tags"], ["refs/deploy/*:refs/deploy/*"]):
        r = git_proc("push", "-q", "origin", *spec, cwd=repo)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def shared(project: Path, tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """A project with raw, clean, dev and stable history, a release and a deployment, pushed
    with plain git to a bare `git init --bare -b main` remote; returns the remote."""
    commit(project, {"data/a.csv": "x\n1\n"}, branch="raw")
    assert bml("pull", "raw", "clean", cwd=project).code == 0
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=project).code == 0
    git("checkout", "-q", "main", cwd=project)
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", bare.as_uri(), cwd=project)
    push_all(project)
    return bare


@pytest.fixture
def cloned(shared: Path, tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    r = bml("clone", shared.as_uri(), str(tmp_path / "c1"))
    assert r.code == 0, r.err
    return tmp_path / "c1"


def test_clone_is_ready_to_work(shared: Path, project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("clone", shared.as_uri(), str(tmp_path / "c1"), "--json")
    assert r.code == 0, r.err
    made = json.loads(r.out)
    c = tmp_path / "c1"
    assert {"clean", "dev/model", "main", "raw", "stable/model"} <= set(made["branches"])
    assert made["tags"] == ["acme-v1"] and made["deploys"] == ["acme"]
    status = json.loads(bml("status", "--json", cwd=c).out)
    assert {b["name"] for b in status["branches"]} >= set(made["branches"])
    assert git("config", "branch.raw.merge", cwd=c) == "refs/heads/raw"
    assert json.loads(bml("deployed", "--client", "acme", "--json", cwd=c).out)[
        "primary"] == "acme-v1"
    assert (c / ".git" / "hooks" / "pre-push").is_file()
    assert git("config", "filter.lfs.process", cwd=c)
    # only the checked-out branch's LFS objects: main has none, raw's and stable's stay away
    assert lfs_objects(c) == set()
    commit(c, {"data/b.csv": "y\n2\n"}, branch="raw")
    r = bml("pull", "raw", "clean", cwd=c)
    assert r.code == 0, r.err
    model = oid_of(c, "stable/model", "models/model.pkl")
    assert model not in lfs_objects(c)  # checking out raw fetched raw's, not stable's


def test_commands_fetch_other_branches_lfs_objects_on_demand(shared: Path, project: Path,
                                                            cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]
    c = cloned
    model = oid_of(c, "acme-v1", "models/model.pkl")
    r = bml("verify", "acme-v1", cwd=c)  # stable/model's model object is not here
    assert r.code == 0, r.out + r.err
    assert model in lfs_objects(c)
    # raw grows on the remote; clean grows here: the append merge reads both sides' bytes
    commit(project, {"data/a.csv": "x\n1\n2\n"}, branch="raw")
    push_all(project)
    assert bml("sync", cwd=c).code == 0
    commit(c, {"data/a.csv": "x\n1\n3\n"}, branch="clean")
    grown = oid_of(c, "raw", "data/a.csv")
    assert grown in lfs_objects(c)  # sync fetched it: the growth of raw is verified from it
    (c / ".git" / "lfs" / "objects" / grown[:2] / grown[2:4] / grown).unlink()
    r = bml("pull", "raw", "clean", cwd=c)
    assert r.code == 0, r.err
    assert grown in lfs_objects(c)
    assert (c / "data" / "a.csv").read_text() == "x\n1\n3\n2\n"


def test_lfs_object_missing_everywhere_is_one_sentence(shared: Path, project: Path,
                                                       cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(project, {"data/a.csv": "x\n1\n2\n"}, branch="raw")
    push_all(project)
    assert bml("sync", cwd=cloned).code == 0
    commit(cloned, {"data/a.csv": "x\n1\n3\n"}, branch="clean")
    for store in (shared / "lfs" / "objects", project / ".git" / "lfs" / "objects",
                  cloned / ".git" / "lfs" / "objects"):  # sync fetched it to judge raw
        for obj in store.rglob(oid_of(cloned, "raw", "data/a.csv")):
            obj.unlink()  # gone from the remote too (hard links: every copy)
    before = git("rev-parse", "clean", cwd=cloned)
    r = bml("pull", "raw", "clean", cwd=cloned)
    assert r.code == 4 and len(r.err.strip().splitlines()) == 1
    assert "git lfs fetch origin BRANCH" in r.err
    assert git("rev-parse", "clean", cwd=cloned) == before


def test_sync_brings_what_another_clone_pushed(shared: Path, project: Path, cloned: Path,
                                               bml) -> None:  # type: ignore[no-untyped-def]
    c = cloned
    commit(project, {"src/exp.py": "x = 1\n"}, branch="dev/model")
    git("checkout", "-q", "-b", "dev/gone", cwd=project)
    git("checkout", "-q", "-b", "dev/keep", cwd=project)
    push_all(project)
    first = json.loads(bml("sync", "--json", cwd=c).out)
    assert {b["branch"]: b["action"] for b in first["branches"]} == {
        "dev/gone": "created", "dev/keep": "created", "dev/model": "fast-forwarded"}
    assert first["since"] is not None  # the clone recorded the remote it saw
    commit(c, {"src/mine.py": "y = 2\n"}, branch="dev/keep")  # never pushed
    git("checkout", "-q", "main", cwd=c)
    commit(project, {"data/b.csv": "y\n1\n"}, branch="raw")
    commit(project, {"models/model.pkl": "w2"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    assert bml("deploy", "acme-v2", "--client", "acme", cwd=project).code == 0
    push_all(project)
    for gone in ("dev/gone", "dev/keep"):
        git("push", "-q", "origin", "--delete", gone, cwd=project)
    r = bml("sync", "--json", cwd=c)
    assert r.code == 0, r.err
    rep = json.loads(r.out)
    acts = {b["branch"]: b for b in rep["branches"]}
    assert acts["raw"]["action"] == acts["stable/model"]["action"] == "fast-forwarded"
    assert acts["dev/gone"]["action"] == "deleted"
    assert acts["dev/keep"]["action"] == "kept" and "never pushed" in acts["dev/keep"]["why"]
    assert rep["changes"]["releases"] == ["acme-v2"]
    assert rep["changes"]["data"]["raw"] == [{"status": "A", "path": "data/b.csv"}]
    assert rep["changes"]["branches_deleted"] == ["dev/gone", "dev/keep"]
    assert [(d["client"], d["action"], d["primary"]) for d in rep["deploys"]] == [
        ("acme", "moved", "acme-v2")]
    assert git("rev-parse", "raw", cwd=c) == git("rev-parse", "raw", cwd=project)
    assert git_proc("rev-parse", "--verify", "-q", "refs/heads/dev/gone", cwd=c).returncode
    assert git("rev-parse", "dev/keep", cwd=c)
    assert git_proc("rev-parse", "--verify", "-q", "origin/dev/keep", cwd=c).returncode
    assert json.loads(bml("deployed", "--client", "acme", "--json", cwd=c).out)[
        "primary"] == "acme-v2"
    text = bml("sync", cwd=c)
    assert text.code == 0 and "Nothing new on origin since the last sync" in text.out
    log = (c / ".git" / "branchml" / "oplog.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["event"] == "end"  # every move went through the apply layer


def test_diverged_protected_branch_reported_never_rewritten(shared: Path, project: Path,
                                                            cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]
    c = cloned
    mine = commit(c, {"data/a.csv": "x\n1\nmine\n"}, branch="raw")  # both grow one file
    commit(project, {"data/a.csv": "x\n1\ntheirs\n"}, branch="raw")
    push_all(project)
    git("checkout", "-q", "main", cwd=c)
    r = bml("sync", cwd=c)
    assert r.code == 0, r.err
    assert "raw: diverged" in r.out
    command = ("git switch --detach origin/raw && git merge --no-edit raw && "
               "git switch -C raw && branchml push")
    assert f"resolve with: {command}" in r.out
    assert git("rev-parse", "raw", cwd=c) == mine
    assert git("rev-parse", "origin/raw", cwd=c) == git("rev-parse", "raw", cwd=project)
    # the command it names resolves it: nothing rewritten, the remote's rows first, and the
    # push is accepted (git push here: `branchml push` is another engineer's)
    for step in command.removesuffix(" && branchml push").split(" && "):
        assert git_proc(*step.split()[1:], cwd=c).returncode == 0, step
    assert (c / "data" / "a.csv").read_text() == "x\n1\ntheirs\nmine\n"
    assert git_proc("merge-base", "--is-ancestor", mine, "raw", cwd=c).returncode == 0
    pushed = git_proc("push", "origin", "raw", cwd=c)
    assert pushed.returncode == 0, pushed.stderr


def test_diverged_code_branch_gets_a_rebase(shared: Path, project: Path, cloned: Path,
                                            bml) -> None:  # type: ignore[no-untyped-def]
    commit(cloned, {"src/mine.py": "a = 1\n"}, branch="dev/model")
    commit(project, {"src/theirs.py": "b = 2\n"}, branch="dev/model")
    push_all(project)
    rep = json.loads(bml("sync", "--json", cwd=cloned).out)
    dev = next(b for b in rep["branches"] if b["branch"] == "dev/model")
    assert (dev["action"], dev["ahead"], dev["behind"]) == ("diverged", 1, 1)
    assert dev["command"] == ("git switch dev/model && git rebase origin/dev/model && "
                              "branchml push")


def test_dirty_checked_out_branch_not_moved(shared: Path, project: Path, cloned: Path,
                                            bml) -> None:  # type: ignore[no-untyped-def]
    c = cloned
    git("checkout", "-q", "raw", cwd=c)
    before = git("rev-parse", "raw", cwd=c)
    (c / "data" / "a.csv").write_text("x\n1\nlocal\n")
    commit(project, {"data/b.csv": "y\n1\n"}, branch="raw")
    push_all(project)
    rep = json.loads(bml("sync", "--json", cwd=c).out)
    raw = next(b for b in rep["branches"] if b["branch"] == "raw")
    assert raw["action"] == "not-moved" and "uncommitted changes" in raw["why"]
    assert git("rev-parse", "raw", cwd=c) == before
    assert (c / "data" / "a.csv").read_text() == "x\n1\nlocal\n"
    git("checkout", "-q", "--", "data/a.csv", cwd=c)
    r = bml("sync", cwd=c)
    assert r.code == 0 and "raw: fast-forwarded" in r.out
    assert (c / "data" / "b.csv").read_text() == "y\n1\n"  # the files followed the branch


def test_clean_checked_out_branch_fast_forwarded_with_its_files(shared: Path, project: Path,
                                                                cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("checkout", "-q", "raw", cwd=cloned)
    commit(project, {"data/b.csv": "y\n1\n"}, branch="raw")
    push_all(project)
    dry = bml("sync", "--dry-run", cwd=cloned)
    assert dry.code == 0 and "raw: would be fast-forwarded" in dry.out
    assert not (cloned / "data" / "b.csv").exists()
    assert bml("sync", cwd=cloned).code == 0
    assert (cloned / "data" / "b.csv").read_text() == "y\n1\n"
    assert git("status", "--porcelain", cwd=cloned) == ""


# --- attacks from the remote -------------------------------------------------------------

def test_moved_release_tag_on_remote_is_kept_here_and_reported(shared: Path, cloned: Path,
                                                               bml) -> None:  # type: ignore[no-untyped-def]
    ours = git("rev-parse", "refs/tags/acme-v1", cwd=cloned)
    git("tag", "-f", "-a", "-m", "rewritten", "acme-v1", "main", cwd=shared)  # by hand
    r = bml("sync", "--json", cwd=cloned)
    assert r.code == 0, r.err
    tag = json.loads(r.out)["tags"][0]
    assert tag["action"] == "moved-on-remote" and "kept" in tag["why"]
    assert json.loads(r.out)["attention"] is True
    assert git("rev-parse", "refs/tags/acme-v1", cwd=cloned) == ours
    # a plain `git fetch` in the clone does not clobber it either (git refuses)
    git_proc("fetch", "origin", cwd=cloned)
    assert git("rev-parse", "refs/tags/acme-v1", cwd=cloned) == ours


def test_rewritten_deploy_ref_on_remote_is_kept_here(shared: Path, cloned: Path,
                                                     bml) -> None:  # type: ignore[no-untyped-def]
    ours = git("rev-parse", "refs/deploy/acme", cwd=cloned)
    tree = git("rev-parse", "refs/deploy/acme^{tree}", cwd=cloned)
    forged = git("commit-tree", tree, "-m", "forged history", cwd=shared)
    git("update-ref", "refs/deploy/acme", forged, cwd=shared)
    rep = json.loads(bml("sync", "--json", cwd=cloned).out)
    assert [d["action"] for d in rep["deploys"]] == ["rewritten-on-remote"]
    assert git("rev-parse", "refs/deploy/acme", cwd=cloned) == ours
    git_proc("fetch", "origin", cwd=cloned)  # the configured refspec has no `+`
    assert git("rev-parse", "refs/deploy/acme", cwd=cloned) == ours


def test_remote_deleting_or_rewinding_protected_branches_changes_nothing_here(
        shared: Path, cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A bare remote without the pre-receive hook lets anyone delete raw or rewind
    stable/model: the clone keeps both, and says so."""
    raw, stable = (git("rev-parse", b, cwd=cloned) for b in ("raw", "stable/model"))
    git("update-ref", "-d", "refs/heads/raw", cwd=shared)
    git("update-ref", "refs/heads/stable/model", "stable/model~1", cwd=shared)
    rep = json.loads(bml("sync", "--json", cwd=cloned).out)
    acts = {b["branch"]: b for b in rep["branches"]}
    assert acts["raw"]["action"] == "kept" and "protected" in acts["raw"]["why"]
    assert acts["stable/model"]["action"] == "ahead"
    assert (git("rev-parse", "raw", cwd=cloned), git("rev-parse", "stable/model", cwd=cloned)
            ) == (raw, stable)


ODD = ("refs/heads/-x", "refs/heads/--upload-pack=touch-pwned", "refs/heads/dev/--exec=id",
       "refs/heads/dev/x;touch${IFS}pwned", "refs/heads/unknown-type")


def test_odd_remote_names_and_foreign_refs_never_reach_git(shared: Path, tmp_path: Path,
                                                           cloned: Path, bml) -> None:  # type: ignore[no-untyped-def]
    tree = git("rev-parse", "main^{tree}", cwd=shared)
    foreign = git("commit-tree", tree, "-m", "outside the namespaces", cwd=shared)
    git("update-ref", "refs/foo/x", foreign, cwd=shared)
    main = git("rev-parse", "main", cwd=shared)
    for ref in ODD:
        git("update-ref", ref, main, cwd=shared)
    for where, r in (("sync", bml("sync", "--json", cwd=cloned)),
                     ("clone", bml("clone", shared.as_uri(), str(tmp_path / "c2"), "--json"))):
        assert r.code == 0, (where, r.err)
        skipped = {s["ref"]: s["why"] for s in json.loads(r.out)["skipped"]}
        assert skipped["refs/foo/x"] == "outside refs/heads, release tags and refs/deploy"
        assert skipped["refs/heads/unknown-type"] == "matches no branch type"
        for ref in ODD[:4]:
            assert skipped[ref] == "not a valid branch name", ref
    for c in (cloned, tmp_path / "c2"):
        refs = git("for-each-ref", "--format=%(refname)", cwd=c)
        assert "-x" not in refs and "upload-pack" not in refs and "exec" not in refs
        assert "foo" not in refs and "touch" not in refs
        assert git_proc("cat-file", "-e", foreign, cwd=c).returncode != 0  # not fetched
    assert not list(tmp_path.rglob("pwned"))  # no shell ever saw a name


# --- bad input ------------------------------------------------------------------------------

def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_clone_bad_remotes_leave_nothing(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "plain.git"
    git("init", "-q", "--bare", "-b", "main", str(plain), cwd=tmp_path)
    empty = tmp_path / "empty.git"
    git("init", "-q", "--bare", "-b", "main", str(empty), cwd=tmp_path)
    work = tmp_path / "work"
    git("init", "-q", "-b", "trunk", str(work), cwd=tmp_path)
    commit(work, {"README.md": "hi\n"})
    git("push", "-q", str(plain), "trunk", cwd=work)
    other = tmp_path / "other.git"
    git("init", "-q", "--bare", "-b", "main", str(other), cwd=tmp_path)
    git("push", "-q", str(other), "trunk:main", cwd=work)
    cases = [
        ("http://127.0.0.1:9/nothing.git", "cannot be reached"),
        (str(tmp_path / "no-such-repo"), "is a path that does not exist"),
        ((tmp_path / "no-such-repo.git").as_uri(), "has no repository at that address"),
        (plain.as_uri(), "has no main branch, so it is not a branchml repository: clone it "
                         "with git clone; adopt it with branchml init ."),
        (empty.as_uri(), "has no main branch"),
        (other.as_uri(), "main has no branchml.yaml, so it is not a branchml repository: "
                         "clone it with git clone; adopt it with branchml init ."),
    ]
    for url, said in cases:
        r = bml("clone", url, str(tmp_path / "dest"))
        assert r.code == 4, (url, r.err)
        assert said in one_line(r.err), (url, r.err)
        assert not (tmp_path / "dest").exists(), url


def test_clone_auth_refused_is_one_sentence(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/team/project.git"
        r = bml("clone", url, str(tmp_path / "dest"))
    finally:
        server.shutdown()
        server.server_close()
    assert r.code == 4 and "refused our credentials" in one_line(r.err)
    assert not (tmp_path / "dest").exists()


def test_clone_into_a_folder_that_is_not_empty(shared: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    r = bml("clone", shared.as_uri(), str(dest))
    assert r.code == 4 and "already exists and is not an empty folder" in one_line(r.err)
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]
    assert (dest / "mine.txt").read_text() == "keep me"


def test_clone_failing_midway_empties_an_empty_folder_again(shared: Path, tmp_path: Path,
                                                            bml) -> None:  # type: ignore[no-untyped-def]
    # the remote's LFS store lost raw's objects: the checkout of raw cannot be made
    for obj in list((shared / "lfs" / "objects").rglob("*")):
        if obj.is_file():
            obj.unlink()
    dest = tmp_path / "dest"
    dest.mkdir()
    r = bml("clone", shared.as_uri(), str(dest), "--branch", "raw")
    assert r.code == 4, r.err
    assert "fetching the git-lfs objects of raw from origin failed" in one_line(r.err)
    assert dest.is_dir() and list(dest.iterdir()) == []
    r = bml("clone", shared.as_uri(), str(tmp_path / "new" / "deeper"), "--branch", "raw")
    assert r.code == 4 and not (tmp_path / "new").exists()


def test_clone_bad_arguments(shared: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("clone", "--", "-uhoh", str(tmp_path / "d"))
    assert r.code == 2 and "is not a repository URL" in one_line(r.err)
    r = bml("clone", shared.as_uri(), str(tmp_path / "d"), "--branch", "nope")
    assert r.code == 2 and "has no typed branch 'nope'" in one_line(r.err)
    assert not (tmp_path / "d").exists()


def test_sync_bad_input_changes_nothing(shared: Path, cloned: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import snapshot

    before = snapshot(cloned)
    r = bml("sync", "--remote", "upstream", cwd=cloned)
    assert r.code == 4 and "there is no remote named 'upstream'" in one_line(r.err)
    r = bml("sync", "--remote", "--evil", cwd=cloned)
    assert r.code == 2 and one_line(r.err)
    git("config", "remote.origin.url", (tmp_path / "moved.git").as_uri(), cwd=cloned)
    r = bml("sync", cwd=cloned)
    assert r.code == 4 and "has no repository at that address" in one_line(r.err)
    git("config", "remote.origin.url", "http://127.0.0.1:9/x.git", cwd=cloned)
    r = bml("sync", cwd=cloned)
    assert r.code == 4 and "cannot be reached" in one_line(r.err)
    git("config", "remote.origin.url", shared.as_uri(), cwd=cloned)
    assert snapshot(cloned) == before


def test_sync_in_a_plain_git_clone_makes_it_ready(shared: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The issue's first try: `git clone` has only main, no deploy refs; sync fixes both."""
    c = tmp_path / "plain"
    git("clone", "-q", shared.as_uri(), str(c), cwd=tmp_path)
    assert bml("pull", "raw", "clean", cwd=c).code == 2  # "DST 'clean' is not a branch here"
    r = bml("sync", "--json", cwd=c)
    assert r.code == 0, r.err
    assert {"raw", "clean", "stable/model"} <= {
        b["branch"] for b in json.loads(r.out)["branches"] if b["action"] == "created"}
    assert json.loads(bml("deployed", "--client", "acme", "--json", cwd=c).out)[
        "primary"] == "acme-v1"
    assert bml("pull", "raw", "clean", cwd=c).code == 0


def test_clone_checks_out_the_branch_asked_with_its_lfs_objects_only(
        shared: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("clone", shared.as_uri(), str(tmp_path / "c3"), "--branch", "raw")
    assert r.code == 0, r.err
    c = tmp_path / "c3"
    assert git("symbolic-ref", "HEAD", cwd=c) == "refs/heads/raw"
    assert (c / "data" / "a.csv").read_text() == "x\n1\n"  # smudged, not a pointer
    assert oid_of(c, "raw", "data/a.csv") in lfs_objects(c)
    assert oid_of(c, "stable/model", "models/model.pkl") not in lfs_objects(c)
    assert git("status", "--porcelain", cwd=c) == ""


@pytest.mark.parametrize("point", ["refs-before", "refs-locked", "refs-after",
                                   "worktree-before", "worktree-inside"])
def test_sync_killed_leaves_before_or_after(shared: Path, project: Path, cloned: Path,
                                            point: str) -> None:
    import subprocess

    from tests.conftest import BIN

    git("checkout", "-q", "raw", cwd=cloned)
    old = {b: git("rev-parse", b, cwd=cloned) for b in ("raw", "stable/model")}
    commit(project, {"data/b.csv": "y\n1\n"}, branch="raw")
    commit(project, {"models/model.pkl": "w2"}, branch="stable/model")
    push_all(project)
    new = {b: git("rev-parse", b, cwd=project) for b in old}
    env = {**__import__("os").environ, "BRANCHML_FAULT": point}
    killed = subprocess.run([f"{BIN}/branchml", "sync"], cwd=cloned, env=env,
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    done = subprocess.run([f"{BIN}/branchml", "status"], cwd=cloned, capture_output=True,
                          text=True)  # any command finishes a killed run first
    assert done.returncode == 0, done.stderr
    now = {b: git("rev-parse", b, cwd=cloned) for b in old}
    assert now in (old, new), point
    assert git("status", "--porcelain", cwd=cloned) == ""
    assert (cloned / "data" / "b.csv").exists() == (now == new)
    again = subprocess.run([f"{BIN}/branchml", "sync"], cwd=cloned, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr
    assert {b: git("rev-parse", b, cwd=cloned) for b in old} == new


SHA = "a" * 40


@pytest.mark.parametrize(("ref", "kind", "why"), [
    ("refs/heads/raw", "heads", ""),
    ("refs/heads/stable/model", "heads", ""),
    ("refs/heads/dev/x", "heads", ""),
    ("refs/heads/-x", None, "not a valid branch name"),
    ("refs/heads/--upload-pack=sh", None, "not a valid branch name"),
    ("refs/heads/dev/a;b", None, "not a valid branch name"),
    ("refs/heads/dev/_x", None, "not a valid branch name"),
    ("refs/heads/feature", None, "matches no branch type"),
    ("refs/tags/acme-v1", "tags", ""),
    ("refs/tags/acme-v0", None, "not a release tag"),
    ("refs/tags/v1.0", None, "not a release tag"),
    ("refs/tags/-acme-v1", None, "not a release tag"),
    ("refs/deploy/acme", "deploys", ""),
    ("refs/deploy/Acme", None, "outside refs/heads, release tags and refs/deploy"),
    ("refs/deploy/a/b", None, "outside refs/heads, release tags and refs/deploy"),
    ("refs/foo/x", None, "outside refs/heads, release tags and refs/deploy"),
    ("refs/foo/refs/heads/raw", None, "outside refs/heads, release tags and refs/deploy"),
    ("refs/pull/1/head", None, "outside refs/heads, release tags and refs/deploy"),
    ("refs/remotes/origin/raw", None, "outside refs/heads, release tags and refs/deploy"),
])
def test_remote_refs_sorted_before_any_reaches_git(ref: str, kind: str | None, why: str) -> None:
    from branchml import config
    from branchml.core.naming import TagFormat
    from branchml.core.policy import policy_from_config
    from branchml.ops.remoterefs import classify

    view = classify({ref: SHA, "HEAD": SHA}, policy_from_config(config.load_bytes(None, "")),
                    TagFormat())
    taken = {"heads": view.heads, "tags": view.tags, "deploys": view.deploys}
    assert [k for k, v in taken.items() if v] == ([kind] if kind else [])
    assert view.skipped == ([{"ref": ref, "why": why}] if why else [])
    assert classify({ref: "not-an-id"}, policy_from_config(config.load_bytes(None, "")),
                    TagFormat()).skipped == [{"ref": ref, "why": "not an object id"}]
