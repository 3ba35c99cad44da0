"""A push never leaves a server with an LFS pointer whose object it does not hold byte for
byte (ops/lfs_gate.py, repo/lfsstore.py): a file:// bare server with `branchml install`,
a clone's pre-push and `check --range`, and a clone that holds only some objects."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from branchml.core.lfs_pointer import LfsPointer
from branchml.repo import lfs, lfsstore
from tests.conftest import BIN, commit, copied_fixtures, git, git_proc
from tests.test_servers import Team, checkout_fails, handmade, pointer
from tests.test_servers import team as team  # the fixture, used by name

pytestmark = pytest.mark.slow


project, installed_server = copied_fixtures(server=True)


def refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def obj(store_root: Path, oid: str) -> Path:
    return store_root / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def record(bare: Path, oid: str) -> Path:
    return bare / "branchml" / "lfs-verified" / oid[:2] / oid


def oid_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def forge(path: Path, data: bytes) -> None:
    """Other bytes in an object's place, written in place (as giftless writes): the file is
    first copied, since git-lfs hard-links one object across a remote and its clones."""
    shutil.copyfile(path, path.with_suffix(".copy"))
    os.replace(path.with_suffix(".copy"), path)
    with path.open("r+b") as f:
        f.write(data)


def append_on_raw(project: Path, server: Path) -> tuple[bytes, bytes]:
    """data/d.csv on raw, pushed the ordinary way; its old bytes and an append of them."""
    old = b"id,x\n1,1\n"
    commit(project, {"data/d.csv": old}, msg="data", branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    return old, old + b"2,4\n"


# -- the server: a pointer whose object it lacks, or holds other bytes under ----------------
def test_server_refuses_an_added_pointer_to_an_object_nobody_has(
        project: Path, installed_server: Path) -> None:
    ghost = oid_of(b"nobody has this")
    before = refs(installed_server)
    evil = handmade(project, "raw", "data/ghost.csv", pointer(ghost, 1234))
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/raw", cwd=project)
    assert p.returncode != 0 and refs(installed_server) == before
    assert (f"remote:   raw: commit {evil[:10]}: data/ghost.csv: the git-lfs object {ghost} is "
            "not in the server's LFS store") in p.stderr
    assert f"`git lfs push --object-id REMOTE {ghost}`" in p.stderr
    assert "Traceback" not in p.stderr
    # the legitimate twin: the same kind of file, committed and pushed the ordinary way
    real = b"id\n" + b"1\n" * (lfsstore.RECORD_MIN // 2)
    commit(project, {"data/real.csv": real}, branch="raw")
    p = git_proc("push", "origin", "raw", cwd=project)
    assert p.returncode == 0, p.stderr
    assert record(installed_server, oid_of(real)).is_file()  # hashed whole, recorded


def test_file_url_remote_behaves_the_same(project: Path, installed_server: Path) -> None:
    """The same server named by a file:// URL (git-lfs's standalone file transfer, not the
    plain-path copy): a pointer to nothing refused, an ordinary data file accepted."""
    git("remote", "set-url", "origin", f"file://{installed_server}", cwd=project)
    before = refs(installed_server)
    evil = handmade(project, "raw", "data/ghost.csv", pointer(oid_of(b"ghost"), 5))
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/raw", cwd=project)
    assert p.returncode != 0 and refs(installed_server) == before
    assert "data/ghost.csv: the git-lfs object" in p.stderr
    real = b"id\n" + b"2\n" * (lfsstore.RECORD_MIN // 2)
    commit(project, {"data/real.csv": real}, branch="raw")
    p = git_proc("push", "origin", "raw", cwd=project)
    assert p.returncode == 0, p.stderr
    assert obj(installed_server, oid_of(real)).is_file()
    assert record(installed_server, oid_of(real)).is_file()


def test_server_refuses_forged_bytes_under_a_legitimate_appends_oid(
        project: Path, installed_server: Path) -> None:
    """The bytes under the append's oid keep the old prefix (so the growth check alone
    passed) and have the right size, but are not the oid's: refused until the store holds
    the real object."""
    old, new = append_on_raw(project, installed_server)
    new += b"3,9\n" * (lfsstore.RECORD_MIN // 4)  # big enough to be recorded
    commit(project, {"data/d.csv": new}, msg="append")
    oid = oid_of(new)
    git("lfs", "push", "--object-id", "origin", oid, cwd=project)  # the real object, uploaded
    forge(obj(installed_server, oid), old + b"9,9\n")  # then rewritten on the server
    before = refs(installed_server)
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0 and refs(installed_server) == before
    assert (f"data/d.csv: the server's LFS store ({installed_server}/lfs/objects (lfs.storage is "
            f"not set)) holds the git-lfs object {oid}, but its bytes there do not hash to that "
            "oid") in p.stderr
    assert "append-only" not in p.stderr  # one reason for the one path
    assert not record(installed_server, oid).exists()
    obj(installed_server, oid).write_bytes(new)  # the administrator puts the real bytes back
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode == 0, p.stderr
    assert record(installed_server, oid).is_file()


def test_server_refuses_an_added_pointer_whose_size_lies(
        project: Path, installed_server: Path) -> None:
    commit(project, {"data/a.csv": "id\n1\n"}, branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    oid = oid_of(b"id\n1\n")
    before = refs(installed_server)
    # the true pointer first, in the same push: the lying one must not ride on its verdict
    true = handmade(project, "raw", "data/c.csv", pointer(oid, 5))
    evil = handmade(project, true, "data/b.csv", pointer(oid, 99))
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/raw", cwd=project)
    assert p.returncode != 0 and refs(installed_server) == before
    assert "data/b.csv: the server's LFS store" in p.stderr
    assert "its file there holds 5 bytes, not the 99 the pointer states" in p.stderr
    assert "data/c.csv" not in p.stderr


def test_a_verified_object_is_not_hashed_again_until_its_file_changes(
        project: Path, installed_server: Path) -> None:
    """Each object (of RECORD_MIN bytes or more) is hashed once: the record stays as it was
    when another pointer names it. A file rewritten in place afterwards (its mtime even put
    back) is hashed again."""
    data = b"id\n" + b"1\n" * (lfsstore.RECORD_MIN // 2)
    oid = oid_of(data)
    commit(project, {"data/a.csv": data}, branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    first = record(installed_server, oid).stat()
    commit(project, {"data/copy.csv": data}, branch="raw")  # the same pointer, a new path
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    again = record(installed_server, oid).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)

    kept = obj(installed_server, oid).stat()
    forge(obj(installed_server, oid), b"X")
    os.utime(obj(installed_server, oid), ns=(kept.st_atime_ns, kept.st_mtime_ns))
    commit(project, {"data/third.csv": data}, branch="raw")
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0 and "do not hash to that oid" in p.stderr
    assert "data/third.csv" in p.stderr


def test_server_with_lfs_storage_reads_and_records_there(
        project: Path, tmp_path: Path) -> None:
    store = tmp_path / "lfs-store"
    store.mkdir()
    bare = tmp_path / "srv.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    done = subprocess.run([f"{BIN}/branchml", "install", "--lfs-storage", str(store)], cwd=bare,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    git("remote", "add", "origin", str(bare), cwd=project)
    assert git_proc("push", "origin", "--all", cwd=project).returncode == 0
    data = b"id\n" + b"7\n" * (lfsstore.RECORD_MIN // 2)
    commit(project, {"data/s.csv": data}, branch="raw")
    p = git_proc("push", "origin", "raw", cwd=project)  # git-lfs stores into lfs.storage
    assert p.returncode == 0, p.stderr
    assert (store / "objects" / oid_of(data)[:2]).is_dir() and record(bare, oid_of(data)).is_file()
    evil = handmade(project, "raw", "data/ghost.csv", pointer(oid_of(b"ghost"), 5))
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/raw", cwd=project)
    assert p.returncode != 0 and f"(git config lfs.storage = {store})" in p.stderr


def test_untyped_branch_let_through_still_needs_its_objects(
        project: Path, installed_server: Path) -> None:
    """`unknown_branches: allow` lets a branch through unjudged, but not a pointer to
    nothing (a clone of that branch could never check it out)."""
    cfg = (project / "branchml.yaml").read_text()
    if "unknown_branches:" in cfg:
        cfg = "\n".join("unknown_branches: allow" if ln.startswith("unknown_branches:") else ln
                        for ln in cfg.splitlines()) + "\n"
    else:
        cfg += "unknown_branches: allow\n"
    commit(project, {"branchml.yaml": cfg}, branch="main")
    assert git_proc("push", "origin", "main", cwd=project).returncode == 0
    evil = handmade(project, "main", "data/ghost.csv", pointer(oid_of(b"ghost"), 5))
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/scratch", cwd=project)
    assert p.returncode != 0 and "data/ghost.csv: the git-lfs object" in p.stderr
    good = handmade(project, "main", "notes.txt", "plain\n")
    p = git_proc("push", "--no-verify", "origin", f"{good}:refs/heads/scratch", cwd=project)
    assert p.returncode == 0, p.stderr


# -- a clone: its own new pointers need local objects; the remote's do not ------------------
def test_pre_push_refuses_a_new_pointer_without_a_local_object(
        project: Path, installed_server: Path) -> None:
    ghost = oid_of(b"nobody has this")
    evil = handmade(project, "raw", "data/ghost.csv", pointer(ghost, 1234))
    git("update-ref", "refs/heads/raw", evil, cwd=project)
    before = refs(installed_server)
    p = git_proc("push", "origin", "raw", cwd=project)
    assert p.returncode != 0 and refs(installed_server) == before
    assert (f"data/ghost.csv: the git-lfs object {ghost} is neither in this clone's LFS store"
            in p.stderr)
    assert "remote:" not in p.stderr  # refused before anything was sent
    r = subprocess.run([f"{BIN}/branchml", "check", "--range", "origin/raw..raw", "--branch",
                        "raw"], cwd=project, capture_output=True, text=True)
    assert r.returncode == 1 and "data/ghost.csv: the git-lfs object" in r.stdout + r.stderr


def test_clone_without_the_objects_pushes_pointers_the_remote_already_has(
        project: Path, installed_server: Path, tmp_path: Path) -> None:
    """A clone that never fetched raw's objects merges raw into clean and pushes clean: the
    pointers the merge brings are under the remote's raw, so neither its pre-push nor `check
    --range` asks for objects it does not have; the server finds them in its store."""
    data = b"id\n" + b"5\n" * 200
    commit(project, {"data/r.csv": data}, branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    b = tmp_path / "b"
    p = subprocess.run(["git", "clone", "-q", str(installed_server), str(b)], cwd=tmp_path,
                       capture_output=True, text=True, env={**os.environ, "GIT_LFS_SKIP_SMUDGE": "1"})
    assert p.returncode == 0, p.stderr
    assert subprocess.run([f"{BIN}/branchml", "install"], cwd=b, capture_output=True).returncode == 0
    git("config", "lfs.fetchexclude", "*", cwd=b)  # keep it without raw's objects
    for name in ("raw", "clean"):
        git("branch", "-q", "--track", name, f"origin/{name}", cwd=b)
    assert not obj(b / ".git", oid_of(data)).exists()
    git("checkout", "-q", "clean", cwd=b)
    merged = git_proc("merge", "-q", "--no-ff", "--no-verify", "-m", "raw into clean", "raw",
                      cwd=b)
    assert merged.returncode == 0, merged.stderr
    assert not obj(b / ".git", oid_of(data)).exists()
    r = subprocess.run([f"{BIN}/branchml", "check", "--range", "origin/clean..clean"], cwd=b,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    p = git_proc("push", "origin", "clean", cwd=b)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "clean", cwd=installed_server) == git("rev-parse", "clean", cwd=b)
    # its twin from the same clone: a pointer nobody has is still refused at its pre-push
    evil = handmade(b, "clean", "data/ghost.csv", pointer(oid_of(b"ghost"), 5))
    git("update-ref", "refs/heads/clean", evil, cwd=b)
    p = git_proc("push", "origin", "clean", cwd=b)
    assert p.returncode != 0 and "is neither in this clone's LFS store" in p.stderr


def test_local_fast_forward_does_not_ask_for_intermediate_objects(
        project: Path, installed_server: Path, tmp_path: Path) -> None:
    """`git merge --ff-only origin/raw` in a clone that fetched only the new tip's objects
    (git-lfs smudges the tip): a file added then appended on raw left an intermediate object
    the clone never needs. The reference-transaction hook judges the move by the policy,
    not by the LFS objects (that is a push's rule), so the fast-forward goes through."""
    b = tmp_path / "b"
    p = subprocess.run(["git", "clone", "-q", "-b", "raw", str(installed_server), str(b)],
                       cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert subprocess.run([f"{BIN}/branchml", "install"], cwd=b,
                          capture_output=True).returncode == 0
    commit(project, {"data/t.csv": "x\n1\n"}, msg="add", branch="raw")
    commit(project, {"data/t.csv": "x\n1\n2\n"}, msg="append", branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    git("fetch", "-q", "origin", cwd=b)
    p = git_proc("merge", "--ff-only", "origin/raw", cwd=b)
    assert p.returncode == 0, p.stderr
    assert (b / "data" / "t.csv").read_text() == "x\n1\n2\n"
    assert not obj(b / ".git", oid_of(b"x\n1\n")).exists()


# -- the store reader itself ---------------------------------------------------------------
@pytest.mark.parametrize("prefix", [0, 1, lfs.CHUNK - 1, lfs.CHUNK, lfs.CHUNK + 1,
                                    2 * lfs.CHUNK + 17])
def test_one_pass_gives_the_prefix_and_the_whole_digest(tmp_path: Path, prefix: int) -> None:
    data = os.urandom(2 * lfs.CHUNK + 17)
    ptr = LfsPointer(oid_of(data), len(data))
    where = tmp_path / "lfs" / "objects" / ptr.object_path
    where.parent.mkdir(parents=True)
    where.write_bytes(data)
    hashed = lfsstore.hash_object(tmp_path, ptr, prefix=prefix)
    assert hashed.state.problem is None and hashed.state.sha256 == ptr.oid
    assert hashed.prefix_sha256 == oid_of(data[:prefix])
    assert lfsstore.verified(tmp_path, ptr).problem is None
    assert record(tmp_path, ptr.oid).read_text().split()[1] == str(where.stat().st_ino)
    small = LfsPointer(oid_of(b"tiny"), 4)
    (tmp_path / "lfs" / "objects" / small.object_path).parent.mkdir(parents=True)
    (tmp_path / "lfs" / "objects" / small.object_path).write_bytes(b"tiny")
    assert lfsstore.verified(tmp_path, small).problem is None
    assert not record(tmp_path, small.oid).exists()  # hashed each time: cheaper than a record


def test_pointers_among_reads_only_small_blobs(project: Path) -> None:
    ptr = LfsPointer(oid_of(b"x"), 1)
    blobs = [git("hash-object", "-w", "--stdin", cwd=project, input=text)
             for text in (ptr.render().decode(), "plain\n", "y" * 5000)]
    found = lfsstore.pointers_among(project, [*blobs, "0" * 40, "f" * 40])
    assert found == {blobs[0]: ptr}


# -- over HTTP: nginx + git http-backend + giftless (tests/servers.py) ----------------------
def test_correct_append_over_http_is_accepted_and_hashed_once(team: Team, tmp_path: Path) -> None:
    """The legitimate twin of test_servers.py's forged append: the real bytes uploaded by
    git-lfs to giftless, then the refs; a clone checks raw out; the object is recorded, and
    a later push naming it again leaves the record as it was."""
    old = b"id,x\n1,1\n"
    commit(team.a, {"data/d.csv": old}, msg="data", branch="raw")
    assert git_proc("push", "origin", "raw", cwd=team.a).returncode == 0
    new = old + b"2,4\n" * (lfsstore.RECORD_MIN // 4)
    commit(team.a, {"data/d.csv": new}, msg="append")
    p = git_proc("push", "origin", "raw", cwd=team.a)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "raw", cwd=team.bare) == git("rev-parse", "raw", cwd=team.a)
    assert checkout_fails(team, tmp_path) == ""
    first = record(team.bare, oid_of(new)).stat()
    commit(team.a, {"data/again.csv": new}, msg="the same bytes again")
    assert git_proc("push", "origin", "raw", cwd=team.a).returncode == 0
    assert record(team.bare, oid_of(new)).stat().st_mtime_ns == first.st_mtime_ns


def test_reachable_skips_a_tip_this_clone_never_fetched(project: Path) -> None:
    blob = git("hash-object", "-w", "--stdin", cwd=project, input="kept\n")
    tip = handmade(project, "main", "notes.txt", "kept\n")
    unknown = "1" * 40  # a remote tip whose commit never reached this clone
    assert lfsstore.reachable(project, [unknown, tip], {blob, "2" * 40}) == {blob}
    assert lfsstore.reachable(project, [unknown], {blob}) == set()
