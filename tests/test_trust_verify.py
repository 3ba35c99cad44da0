"""Issue 15, item 9: LFS objects read where git-lfs keeps them (lfs.storage), and releases
whose bytes are verified by `verify` and `deploy`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from branchml.repo import lfs
from tests.conftest import commit, git, git_proc, snapshot


def _media_dir(repo: Path) -> Path:
    """git-lfs's own answer: LocalMediaDir of `git lfs env`."""
    for line in git("lfs", "env", cwd=repo).splitlines():
        if line.startswith("LocalMediaDir="):
            return Path(line.split("=", 1)[1])
    raise AssertionError("git lfs env names no LocalMediaDir")


def _common(repo: Path) -> Path:
    return Path(git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=repo))


# --- where the objects are: lfs.storage, as git-lfs resolves it ---------------------------

@pytest.mark.parametrize("setting", [None, "store-inside", "../outside", "ABSOLUTE"])
def test_store_is_where_git_lfs_keeps_objects(tmp_path: Path, setting: str | None) -> None:
    repo = tmp_path / "r"
    git("init", "-q", str(repo), cwd=tmp_path)
    if setting is not None:
        value = str(tmp_path / "abs-store") if setting == "ABSOLUTE" else setting
        git("config", "lfs.storage", value, cwd=repo)
    assert lfs.store(_common(repo)).objects == _media_dir(repo)


def test_store_of_a_linked_worktree_is_the_common_one(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git("init", "-q", str(repo), cwd=tmp_path)
    git("config", "lfs.storage", "rel", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo)
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)
    assert lfs.store(_common(tmp_path / "wt")).objects == _media_dir(tmp_path / "wt")


def test_committed_lfsconfig_cannot_move_the_store(tmp_path: Path) -> None:
    """Attack: a pushed `.lfsconfig` names another store (one the attacker filled). git-lfs
    ignores lfs.storage there, and so does branchml: the store stays the repository's."""
    repo = tmp_path / "r"
    git("init", "-q", str(repo), cwd=tmp_path)
    (repo / ".lfsconfig").write_text("[lfs]\n\tstorage = /tmp/attacker-store\n")
    git("add", ".lfsconfig", cwd=repo)
    git("commit", "-q", "-m", "lfsconfig", cwd=repo)
    found = lfs.store(_common(repo))
    assert found.objects == _common(repo) / "lfs" / "objects" == _media_dir(repo)
    assert found.setting is None


def test_store_follows_a_changed_setting(tmp_path: Path) -> None:
    """A long-lived caller is not served the store it read before lfs.storage changed."""
    repo = tmp_path / "r"
    git("init", "-q", str(repo), cwd=tmp_path)
    assert lfs.store(_common(repo)).setting is None
    git("config", "lfs.storage", str(tmp_path / "elsewhere"), cwd=repo)
    assert lfs.store(_common(repo)).root == tmp_path / "elsewhere"


# --- a server whose LFS objects live elsewhere ----------------------------------------------

@pytest.fixture
def store_server(project: Path, tmp_path: Path, bml) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """A bare repository installed with `branchml install --lfs-storage STORE`."""
    bare, store = tmp_path / "server.git", tmp_path / "lfs-store"
    store.mkdir()
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=project)
    git("push", "-q", "origin", "--all", cwd=project)
    r = bml("install", "--lfs-storage", str(store), cwd=bare)
    assert r.code == 0, r.err
    assert "git config lfs.storage = " + str(store) in r.out
    assert (bare / "hooks" / "pre-receive").is_file()
    return bare, store


@pytest.mark.slow
def test_server_with_lfs_storage_accepts_an_append_on_raw(project: Path,
                                                          store_server: tuple[Path, Path]) -> None:
    bare, store = store_server
    commit(project, {"data/a.csv": "h\n1\n"}, branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    commit(project, {"data/a.csv": "h\n1\n2\n"})
    p = git_proc("push", "origin", "raw", cwd=project)  # git-lfs uploads first, then the check
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "raw", cwd=bare) == git("rev-parse", "raw", cwd=project)
    oid = git("lfs", "ls-files", "-l", cwd=project).split()[0]
    assert (store / "objects" / oid[:2] / oid[2:4] / oid).is_file()
    assert not (bare / "lfs" / "objects").exists()  # nothing where branchml used to look


@pytest.mark.slow
def test_server_with_lfs_storage_refuses_an_unreadable_object(
        project: Path, store_server: tuple[Path, Path]) -> None:
    """--no-verify skips git-lfs's upload: the grown object is not in the server's store (it
    is only in the default place, which the server must not read), so its growth cannot be
    judged: refused, naming the object and the setting; the server's raw does not move."""
    bare, store = store_server
    commit(project, {"data/a.csv": "h\n1\n"}, branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    before = git("rev-parse", "raw", cwd=bare)
    commit(project, {"data/a.csv": "h\n1\n2\n"})
    oid = git("lfs", "ls-files", "-l", "-I", "data/a.csv", cwd=project).split()[0]
    decoy = bare / "lfs" / "objects" / oid[:2] / oid[2:4]
    decoy.mkdir(parents=True)
    shutil.copy(_common(project) / "lfs" / "objects" / oid[:2] / oid[2:4] / oid, decoy)
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0
    assert f"its git-lfs object {oid[:12]} is not in this repository's LFS store" in p.stderr
    assert f"the store read is {store}/objects (git config lfs.storage = {store})" in p.stderr
    assert git("rev-parse", "raw", cwd=bare) == before


@pytest.mark.parametrize(("where", "args", "message"), [
    ("clone", ["--lfs-storage", "STORE"], "--lfs-storage is for a bare repository"),
    ("bare", ["--lfs-storage", "NOWHERE"], "no such folder"),
    ("bare", ["--uninstall", "--lfs-storage", "STORE"], "not with --uninstall"),
])
def test_install_lfs_storage_bad_input(project: Path, tmp_path: Path, bml, where: str,  # type: ignore[no-untyped-def]
                                       args: list[str], message: str) -> None:
    bare = tmp_path / "b.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    (tmp_path / "store").mkdir()
    args = [str(tmp_path / "store") if a == "STORE" else str(tmp_path / "nope")
            if a == "NOWHERE" else a for a in args]
    cwd = project if where == "clone" else bare
    before = git("config", "--list", "--local", cwd=cwd)
    r = bml("install", *args, cwd=cwd)
    assert r.code == 2 and message in r.err
    assert git("config", "--list", "--local", cwd=cwd) == before


# --- releases that verify their bytes -------------------------------------------------------

@pytest.fixture
def release(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """acme-v1: promoted code, raw data pulled (an LFS file), a model (an LFS file)."""
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"data/d.csv": "a\n1\n"}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    git("checkout", "-q", "main", cwd=project)  # no smudged copy of the objects in the way
    return project


def _object(repo: Path, rev: str, path: str) -> Path:
    pointer = git("cat-file", "blob", f"{rev}:{path}", cwd=repo)
    oid = pointer.split("oid sha256:")[1].split()[0]
    return lfs.store(_common(repo)).objects / oid[:2] / oid[2:4] / oid


def _overwrite(obj: Path, content: bytes) -> None:
    """Garbage in place of an object; a new file renamed over it, so no hard-linked copy of
    the object elsewhere (git-lfs links them) is changed along with it."""
    tmp = obj.with_name("garbage")
    tmp.write_bytes(content)
    tmp.replace(obj)


def test_untouched_release_verifies_and_deploys(release: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("verify", "acme-v1", cwd=release)
    assert r.code == 0, r.err
    first, claims = r.out.splitlines()
    assert first == ("acme-v1 verifies: its commit and its 2 LFS object(s) (6 bytes, size "
                     "and SHA-256 recomputed) match its manifest.")
    # the tagger's own fields are shown as claims, not as verified
    assert claims.startswith("acme-v1: the tagger's claims (not recomputable): tagger ")
    r = bml("verify", "acme-v1", "--json", cwd=release)
    v = json.loads(r.out)
    assert (r.code, v["ok"], v["objects_checked"], v["bytes_checked"], v["objects"],
            v["fields"]) == (0, True, 2, 6, [], [])
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=release).code == 0


@pytest.mark.parametrize(("rev_path", "garbage", "problem", "says"), [
    ("models/model.pkl", b"xx", "content", "does not hash to its id"),
    ("models/model.pkl", b"garbage!", "size", "holds 8 bytes in the LFS store, not the 2"),
    ("data/d.csv", b"a\n2\n", "content", "its bytes were overwritten"),
])
def test_overwritten_object_does_not_verify_nor_deploy(  # type: ignore[no-untyped-def]
        release: Path, bml, rev_path: str, garbage: bytes, problem: str, says: str) -> None:
    """Attack: a model's or a data file's LFS object overwritten with garbage (same size or
    not) after the release; its pointer, tree and manifest are untouched. `git lfs fsck`
    flags it; so must `verify`, and `deploy` must not ship it."""
    obj = _object(release, "acme-v1", rev_path)
    _overwrite(obj, garbage)
    fsck = git_proc("lfs", "fsck", "--objects", "--dry-run", "acme-v1", cwd=release)
    assert fsck.returncode != 0 and "corrupt" in fsck.stdout.lower()  # git-lfs agrees
    r = bml("verify", "acme-v1", cwd=release)
    assert r.code == 1
    assert r.err.startswith(f"branchml: error: acme-v1 does not verify: {rev_path}: its "
                            f"git-lfs object {obj.name[:12]} ")
    assert says in r.err and r.out.startswith(f"acme-v1: {rev_path}: ")
    r = bml("verify", "acme-v1", "--json", cwd=release)
    v = json.loads(r.out)
    assert r.code == 1 and v["ok"] is False and v["fields"] == []
    assert [(o["paths"], o["oid"], o["problem"]) for o in v["objects"]] == \
        [([rev_path], obj.name, problem)]
    assert v["objects"][0]["actual_size"] == len(garbage)
    before = snapshot(release)
    r = bml("deploy", "acme-v1", "--client", "acme", cwd=release)
    assert r.code == 1 and "acme-v1 does not verify: " in r.err and says in r.err
    assert r.err.rstrip().endswith("it is not deployed.")
    assert snapshot(release) == before  # no refs/deploy/acme


def test_rollback_and_canary_refuse_a_release_that_does_not_verify(release: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=release).code == 0
    commit(release, {"models/model.pkl": "w2"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=release).code == 0
    git("checkout", "-q", "main", cwd=release)
    assert bml("deploy", "acme-v2", "--client", "acme", cwd=release).code == 0
    _overwrite(_object(release, "acme-v1", "models/model.pkl"), b"xx")
    before = git("rev-parse", "refs/deploy/acme", cwd=release)
    r = bml("rollback", "--client", "acme", cwd=release)
    assert r.code == 1 and "acme-v1 does not verify: models/model.pkl" in r.err
    r = bml("deploy", "acme-v2", "--client", "acme", "--canary", "acme-v1", "--fraction",
            "0.1", cwd=release)
    assert r.code == 1 and "acme-v1 does not verify" in r.err
    assert git("rev-parse", "refs/deploy/acme", cwd=release) == before
    # the twin: the release whose bytes are intact still rolls forward
    assert bml("deploy", "acme-v2", "--client", "acme", cwd=release).code == 0


def test_missing_objects_are_all_named_with_the_store(release: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    objects = lfs.store(_common(release)).objects
    shutil.move(str(objects), str(tmp_path / "saved"))
    r = bml("verify", "acme-v1", "--json", cwd=release)
    v = json.loads(r.out)
    assert r.code == 1
    assert sorted(o["paths"][0] for o in v["objects"]) == ["data/d.csv", "models/model.pkl"]
    assert {o["problem"] for o in v["objects"]} == {"missing"}
    r = bml("verify", "acme-v1", cwd=release)
    assert r.code == 1 and "is missing from the local store" in r.err
    assert f"{objects} (lfs.storage is not set)" in r.err and "(and 1 more, listed above)" in r.err


def test_release_verifies_from_a_store_named_by_lfs_storage(release: Path, bml,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    """The legitimate twin of a moved store: objects moved to where lfs.storage points are
    read there (and, overwritten there, refused naming that setting)."""
    store = tmp_path / "shared-store"
    shutil.move(str(_common(release) / "lfs"), str(store))
    git("config", "lfs.storage", str(store), cwd=release)
    assert bml("verify", "acme-v1", cwd=release).code == 0
    _overwrite(_object(release, "acme-v1", "models/model.pkl"), b"xx")
    r = bml("verify", "acme-v1", cwd=release)
    assert r.code == 1 and "does not hash to its id" in r.err
    shutil.rmtree(store / "objects")
    r = bml("verify", "acme-v1", cwd=release)
    assert r.code == 1
    assert f"the local store {store}/objects (git config lfs.storage = {store})" in r.err


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_object_replaced_by_a_non_file_is_refused_without_hanging(release: Path, bml,  # type: ignore[no-untyped-def]
                                                                  kind: str) -> None:
    """Attack: a FIFO (whose open would wait for a writer forever) or a folder in a model
    object's place: `verify` answers at once, naming the object, and `deploy` refuses."""
    import os

    obj = _object(release, "acme-v1", "models/model.pkl")
    obj.unlink()
    os.mkfifo(obj) if kind == "fifo" else obj.mkdir()
    r = bml("verify", "acme-v1", cwd=release)
    assert r.code == 1
    assert f"models/model.pkl: its git-lfs object {obj.name[:12]} cannot be read as a file " \
           "in the LFS store" in r.err
    r = bml("deploy", "acme-v1", "--client", "acme", cwd=release)
    assert r.code == 1 and "cannot be read as a file" in r.err
    assert git_proc("rev-parse", "--verify", "refs/deploy/acme", cwd=release).returncode != 0


def test_install_lfs_storage_relative_is_made_absolute(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A relative --lfs-storage means a folder from where the command was typed, not one
    inside the git dir (where git-lfs would take a relative lfs.storage)."""
    bare = tmp_path / "b.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    (tmp_path / "objs").mkdir()
    r = bml("install", "--lfs-storage", "../objs", cwd=bare)
    assert r.code == 0, r.err
    assert git("config", "lfs.storage", cwd=bare) == str(tmp_path / "objs")
    assert lfs.store(bare).objects == tmp_path / "objs" / "objects" == _media_dir(bare)
    assert "Nothing to do" in bml("install", "--lfs-storage", "../objs", cwd=bare).out
