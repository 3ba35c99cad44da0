"""Issue 15, items 1-4: pushes an attacker makes by hand, against a real bare server with the
pre-receive hook `branchml install` writes there, each beside a legitimate twin that must
still be accepted (so refusing everything cannot pass)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, commit, copied_fixtures, git, git_proc

pytestmark = pytest.mark.slow


project, installed_server = copied_fixtures(server=True)


@pytest.fixture
def server(installed_server: Path) -> Path:
    return installed_server


def refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def blob(repo: Path, content: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=content,
                          capture_output=True, check=True).stdout.decode().strip()


def lfs_blob(repo: Path, content: bytes) -> str:
    """A git-lfs pointer blob for `content`, the object put in the repository's LFS store
    and uploaded to origin (so the server judges the bytes, not a missing object)."""
    oid = hashlib.sha256(content).hexdigest()
    store = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4]
    store.mkdir(parents=True, exist_ok=True)
    (store / oid).write_bytes(content)
    git("lfs", "push", "--object-id", "origin", oid, cwd=repo)
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(content)}\n"
    return blob(repo, pointer.encode())


def tree_with(repo: Path, base: str | None, files: dict[str, str | None]) -> str:
    """A tree: `base`'s tree with `files` (path -> blob id, None: removed)."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "attack-index")}
    subprocess.run(["git", "read-tree", *([base] if base else ["--empty"])], cwd=repo, env=env,
                   check=True)
    for path, oid in files.items():
        args = (["--force-remove", path] if oid is None
                else ["--add", "--cacheinfo", f"100644,{oid},{path}"])
        subprocess.run(["git", "update-index", *args], cwd=repo, env=env, check=True)
    out = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True,
                         check=True).stdout.decode().strip()
    os.remove(env["GIT_INDEX_FILE"])
    return out


def commit_tree(repo: Path, tree: str, parents: list[str], message: str = "change") -> str:
    args = ["commit-tree", tree, *[a for p in parents for a in ("-p", p)], "-m", message]
    return git(*args, cwd=repo)


def swapped_merge(repo: Path, branch: str, files: dict[str, str | None]) -> str:
    """A fast-forward of `branch` whose FIRST parent is a new root carrying the edit and
    whose second parent is the old tip: a first-parent walk never compares old with new."""
    old = git("rev-parse", branch, cwd=repo)
    root = commit_tree(repo, tree_with(repo, old, files), [], "a new root")
    return commit_tree(repo, git("rev-parse", f"{root}^{{tree}}", cwd=repo), [root, old],
                       "merge")


def push(repo: Path, *refspecs: str, verify: bool = False) -> subprocess.CompletedProcess[str]:
    return git_proc("push", *([] if verify else ["--no-verify"]), "origin", *refspecs, cwd=repo)


def refused(p: subprocess.CompletedProcess[str], reason: str) -> None:
    assert p.returncode != 0, p.stderr
    assert "pre-receive hook declined" in p.stderr or "branchml: push rejected" in p.stderr
    assert reason in p.stderr, p.stderr


# --- 1. the net change of every update ---------------------------------------------------

@pytest.fixture
def raw_data(project: Path, server: Path) -> Path:
    commit(project, {"data/a.csv": "id\n1\n2\n3\n"}, branch="raw")
    assert push(project, "raw", verify=True).returncode == 0
    return project


def test_swapped_parents_cannot_edit_a_raw_row(raw_data: Path, server: Path) -> None:
    before = refs(server)
    evil = swapped_merge(raw_data, "raw", {"data/a.csv": lfs_blob(raw_data, b"id\n1\nX\n3\n")})
    p = push(raw_data, f"{evil}:refs/heads/raw")
    refused(p, "data/a.csv was edited, not only grown at its end (its old bytes changed)")
    assert refs(server) == before
    r = subprocess.run([f"{BIN}/branchml", "check", "--range", f"raw..{evil}", "--branch",
                        "raw"], cwd=raw_data, capture_output=True, text=True)
    assert r.returncode == 1 and "its old bytes changed" in r.stdout + r.stderr


def test_swapped_parents_cannot_delete_raw(raw_data: Path, server: Path) -> None:
    before = refs(server)
    evil = swapped_merge(raw_data, "raw", {"data/a.csv": None})
    refused(push(raw_data, f"{evil}:refs/heads/raw"), "data/a.csv was deleted or renamed")
    assert refs(server) == before


def test_swapped_parents_legit_twin_append_through_a_merge(raw_data: Path,
                                                          server: Path) -> None:
    """The same shape with an honest append is accepted: the net change only grew."""
    good = swapped_merge(raw_data, "raw",
                         {"data/a.csv": lfs_blob(raw_data, b"id\n1\n2\n3\n4\n")})
    p = push(raw_data, f"{good}:refs/heads/raw")
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "raw", cwd=server) == good


def test_swapped_parents_cannot_rewrite_main_tracking(project: Path, server: Path) -> None:
    commit(project, {"tracking/runs.jsonl": '{"run": 1}\n'}, branch="main")
    assert push(project, "main", verify=True).returncode == 0
    before = refs(server)
    evil = swapped_merge(project, "main",
                         {"tracking/runs.jsonl": blob(project, b'{"run": 666}\n')})
    refused(push(project, f"{evil}:refs/heads/main"), "tracking/runs.jsonl was edited")
    assert refs(server) == before


def test_swapped_parents_cannot_rewrite_monitoring(project: Path, server: Path) -> None:
    commit(project, {"monitoring/acme/2026-11.csv": "x\n1\n"}, branch="monitoring")
    assert push(project, "monitoring", verify=True).returncode == 0
    before = refs(server)
    evil = swapped_merge(project, "monitoring", {
        "monitoring/acme/2026-11.csv": lfs_blob(project, b"x\n0\n")})
    refused(push(project, f"{evil}:refs/heads/monitoring"), "monitoring/acme/2026-11.csv")
    assert refs(server) == before


# --- 2. new branches and other refs -------------------------------------------------------

def dev_commit(project: Path) -> str:
    return commit(project, {"src/evil.py": "import os\n"}, branch="dev/model")


def test_new_stable_branch_at_an_unpromoted_dev_commit(project: Path, server: Path) -> None:
    sha = dev_commit(project)
    assert push(project, "dev/model").returncode == 0
    before = refs(server)
    refused(push(project, f"{sha}:refs/heads/stable/evil"), "code on stable/evil changes only "
            "by promotion")
    assert refs(server) == before


def test_a_tag_or_other_ref_does_not_vouch_for_a_commit(project: Path, server: Path) -> None:
    sha = dev_commit(project)
    before = refs(server)
    refused(push(project, f"{sha}:refs/x/seed"), "refs/x/seed is outside the refs branchml "
            "accepts")
    refused(push(project, f"{sha}:refs/tags/seed"), "refs/tags/seed is outside the refs")
    # pushed together, the seed vouches for nothing either
    refused(push(project, f"{sha}:refs/tags/seed", f"{sha}:refs/heads/stable/seeded"),
            "code on stable/seeded changes only by promotion")
    assert refs(server) == before


def test_new_stable_branch_from_a_root_of_its_own(project: Path, server: Path) -> None:
    tree = tree_with(project, None, {"models/m.pkl": blob(project, b"weights")})
    root = commit_tree(project, tree, [], "not from main")
    before = refs(server)
    refused(push(project, f"{root}:refs/heads/stable/rooted"), "starts at its own root commit")
    assert refs(server) == before


def test_new_branches_legit_twins(project: Path, server: Path) -> None:
    """A new stable branch from an existing stable one, a new dev branch from main, and a
    namespace the config allows are accepted."""
    stable = git("rev-parse", "stable/model", cwd=project)
    assert push(project, f"{stable}:refs/heads/stable/other").returncode == 0
    git("checkout", "-q", "-b", "dev/feature", "main", cwd=project)
    commit(project, {"src/feature.py": "x = 1\n"})
    assert push(project, "dev/feature", verify=True).returncode == 0
    cfg = git("show", "main:branchml.yaml", cwd=project)
    cfg = cfg.replace("refs:\n  allow: []", 'refs:\n  allow: ["refs/notes/**"]')
    commit(project, {"branchml.yaml": cfg + "\n"}, branch="main")
    assert push(project, "main", verify=True).returncode == 0
    git("notes", "add", "-m", "a note", "main", cwd=project)
    p = push(project, "refs/notes/commits")
    assert p.returncode == 0, p.stderr


# --- 3. release tags and deployment history -----------------------------------------------

@pytest.fixture
def released(project: Path, server: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")
    assert push(project, "dev/model", "stable/model", verify=True).returncode == 0
    r = bml("tag", "--client", "acme", "--push", cwd=project)
    assert r.code == 0, r.err
    assert git("rev-parse", "acme-v1", cwd=server)
    return project


def test_release_tags_cannot_be_forged_moved_or_deleted(released: Path, server: Path) -> None:
    before = refs(server)
    dev = dev_commit(released)
    git("tag", "acme-v9", dev, cwd=released)
    refused(push(released, "refs/tags/acme-v9"), "it is not an annotated tag")
    git("tag", "-f", "-a", "-m", "hand made", "acme-v9", dev, cwd=released)
    refused(push(released, "+refs/tags/acme-v9"), "it carries no branchml manifest")
    # the real manifest of acme-v1, copied onto a dev commit under a new name
    body = git("cat-file", "tag", "acme-v1", cwd=released).partition("\n\n")[2]
    forged = body.replace('"tag": "acme-v1"', '"tag": "acme-v9"')
    git("tag", "-f", "-a", "--cleanup=verbatim", "-m", forged, "acme-v9", dev, cwd=released)
    refused(push(released, "+refs/tags/acme-v9"), "it does not point at the commit its "
            "manifest names")
    git("tag", "-f", "-a", "-m", "moved", "acme-v1", dev, cwd=released)
    refused(push(released, "+refs/tags/acme-v1"), "release tags are never moved")
    refused(push(released, ":refs/tags/acme-v1"), "release tags are never deleted")
    assert refs(server) == before


def test_deploy_history_only_moves_forward(released: Path, server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=released).code == 0
    p = push(released, "refs/deploy/acme", verify=True)
    assert p.returncode == 0, p.stderr  # the legitimate twin
    # a second deployment (the same routing again records nothing: deploy is idempotent)
    assert bml("tag", "--client", "acme", "--allow-same", "--push", cwd=released).code == 0
    assert bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
               "0.1", cwd=released).code == 0
    assert push(released, "refs/deploy/acme", verify=True).returncode == 0
    before = refs(server)
    refused(push(released, ":refs/deploy/acme"), "deployment history is never deleted")
    refused(push(released, "+refs/deploy/acme~1:refs/deploy/acme"), "does not move forward")
    tree = git("rev-parse", "refs/deploy/acme^{tree}", cwd=released)
    fake = commit_tree(released, tree, [git("rev-parse", "refs/deploy/acme", cwd=released)],
                       "deploy acme: acme-v7\n\nDeploy-Primary: acme-v7")
    refused(push(released, f"{fake}:refs/deploy/acme"), "names 'acme-v7', which is not a "
            "release of acme here")
    assert refs(server) == before


def test_tag_message_with_the_manifest_marker_is_refused(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(released, {"models/model.pkl": "w2"}, branch="stable/model")
    r = bml("tag", "--client", "acme", "-m", "see -----BEGIN BRANCHML MANIFEST----- here",
            cwd=released)
    assert r.code == 2 and "manifest marker" in r.err
    assert git_proc("rev-parse", "--verify", "acme-v2", cwd=released).returncode != 0


# --- 4. promotion -------------------------------------------------------------------------

def test_first_push_of_a_whole_repository_with_a_promotion(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "fresh"
    assert bml("init", str(repo)).code == 0
    commit(repo, {"src/train.py": "print(1)\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    bare = tmp_path / "empty.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    assert subprocess.run([f"{BIN}/branchml", "install"], cwd=bare).returncode == 0
    git("remote", "add", "origin", str(bare), cwd=repo)
    p = git_proc("push", "origin", "--all", cwd=repo)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "stable/model", cwd=bare) == git("rev-parse", "stable/model",
                                                              cwd=repo)


def test_promotion_outside_promote_order_is_refused(project: Path, server: Path) -> None:
    """A hand-made stable commit whose trailer names a code branch that promote.order does
    not let into stable, with that branch's exact code."""
    cfg = git("show", "main:branchml.yaml", cwd=project).replace(
        '  "ds/*":', '  "exp/*":\n    type: code\n    parent: main\n'
        '    may_change: [code, data, docs, config]\n  "ds/*":')
    commit(project, {"branchml.yaml": cfg}, branch="main")
    assert push(project, "main", verify=True).returncode == 0
    git("checkout", "-q", "-b", "exp/x", "main", cwd=project)
    exp = commit(project, {"src/x.py": "x = 2\n"})
    assert push(project, "exp/x").returncode == 0
    stable = git("rev-parse", "stable/model", cwd=project)
    tree = tree_with(project, stable, {"src/x.py": blob(project, b"x = 2\n")})
    evil = commit_tree(project, tree, [stable], f"promote\n\nPromoted-From: exp/x {exp}")
    before = refs(server)
    refused(push(project, f"{evil}:refs/heads/stable/model"),
            "promote.order does not let exp/x promote into stable/model")
    assert refs(server) == before


# --- found by a hostile review: second parents vouch for nothing ----------------------------

def evil_dev(project: Path) -> str:
    """An unpromoted commit with code and a model, child of main, on no pushed branch."""
    main = git("rev-parse", "main", cwd=project)
    tree = tree_with(project, main, {"src/evil.py": blob(project, b"import os\n"),
                                     "models/backdoor.pkl": blob(project, b"bad weights")})
    return commit_tree(project, tree, [main], "evil")


def noop_merge(project: Path, branch: str, second: str) -> str:
    """A merge on `branch` that keeps its tree and brings `second` in as second parent: its
    diff against its first parent is empty, so it is accepted, and `second` becomes
    reachable from `branch` without ever having been judged as `branch`'s."""
    tip = git("rev-parse", branch, cwd=project)
    return commit_tree(project, git("rev-parse", f"{tip}^{{tree}}", cwd=project), [tip, second],
                       "merge")


def test_a_merge_on_main_does_not_vouch_for_its_second_parent(project: Path,
                                                                server: Path) -> None:
    evil = evil_dev(project)
    merge = noop_merge(project, "main", evil)
    before = refs(server)
    refused(push(project, f"{merge}:refs/heads/main", f"{evil}:refs/heads/stable/evil"),
            "code on stable/evil changes only by promotion")
    assert refs(server) == before
    assert push(project, f"{merge}:refs/heads/main").returncode == 0  # the merge itself is fine
    refused(push(project, f"{evil}:refs/heads/stable/evil"), "changes only by promotion")


def test_a_merge_on_stable_does_not_vouch_for_its_second_parent(project: Path,
                                                                  server: Path) -> None:
    evil = evil_dev(project)
    assert push(project, f"{noop_merge(project, 'stable/model', evil)}:refs/heads/stable/model"
                ).returncode == 0
    before = refs(server)
    refused(push(project, f"{evil}:refs/heads/stable/evil"), "changes only by promotion")
    assert refs(server) == before


def test_a_data_branch_recreated_from_a_second_parent(project: Path, server: Path) -> None:
    raw = git("rev-parse", "raw", cwd=project)
    code = commit_tree(project, tree_with(project, raw, {"src/evil.py": blob(project, b"x\n")}),
                       [raw], "code")
    merge = noop_merge(project, "raw", code)
    assert push(project, f"{merge}:refs/heads/raw", ":refs/heads/clean").returncode == 0
    before = refs(server)
    refused(push(project, f"{code}:refs/heads/clean"), "code does not belong on clean")
    assert refs(server) == before
    assert push(project, f"{merge}:refs/heads/clean").returncode == 0  # twin: from raw's own


def test_release_tag_of_a_tag_is_refused(released: Path, server: Path) -> None:
    body = git("cat-file", "tag", "acme-v1", cwd=released).partition("\n\n")[2]
    commit_sha = git("rev-parse", "acme-v1^{commit}", cwd=released)
    inner = git("mktag", cwd=released, input=f"object {commit_sha}\ntype commit\ntag inner\n"
                "tagger T <t@example.com> 0 +0000\n\ninner\n")
    outer = git("mktag", cwd=released, input=f"object {inner}\ntype tag\ntag acme-v2\n"
                f"tagger T <t@example.com> 0 +0000\n\n"
                f"{body.replace('acme-v1', 'acme-v2')}\n")
    before = refs(server)
    refused(push(released, f"{outer}:refs/tags/acme-v2"), "point at a commit (not at another "
            "tag)")
    assert refs(server) == before
