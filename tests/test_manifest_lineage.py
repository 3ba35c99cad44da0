"""Hostile review #6: a release's lineage fields (`promotion`, `pulled_from`, each data folder's
`from`) are recomputed from the commit and proven against the repository, at the server's
pre-receive and in `branchml verify`, never copied from the tag. Each attack is made by hand
(`git mktag`, `git commit-tree`, `git push --no-verify`) beside a legitimate twin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Bml, build_once, commit, copy_built, git, git_proc, served

pytestmark = pytest.mark.slow

FAKE_DEV = "1234567890abcdef1234567890abcdef12345678"
FAKE_CLEAN = "fedcba0987654321fedcba0987654321fedcba09"


def release(root: Path, bml: Bml) -> None:
    """dev code promoted and raw data pulled into stable/model, a model trained there, all
    pushed to a server made the documented way, and acme-v1 tagged and pushed by
    `branchml tag --push` (the legitimate twin)."""
    project = served(root, bml)
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"data/d.csv": "a\n1\n"}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")
    pushed = git_proc("push", "origin", "--all", cwd=project)
    assert pushed.returncode == 0, pushed.stderr
    r = bml("tag", "--client", "acme", "--push", cwd=project)
    assert r.code == 0, r.err


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Path:
    # every test starts from the same release: built once per xdist worker (~10 s; session
    # scope, as a module fixture is rebuilt after another file's test), copied per test
    return build_once(tmp_path_factory, home, "released", release)


@pytest.fixture
def released(built: Path, tmp_path: Path) -> Path:
    """A copy of `release`'s project (`tmp_path/proj`) and server (`tmp_path/server.git`)."""
    copy_built(built, tmp_path)
    return tmp_path / "proj"


@pytest.fixture
def installed_server(released: Path, tmp_path: Path) -> Path:
    """The copied project's origin, with branchml's pre-receive hook."""
    return tmp_path / "server.git"


def refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def forged_tag(repo: Path, name: str, **changes: object) -> str:
    """acme-v1's tag object copied under `name`, its manifest's fields replaced: made with
    `git mktag` (no branchml involved) and given a local ref."""
    body = git("cat-file", "tag", "acme-v1", cwd=repo)
    head, _, rest = body.partition("\n\n")
    m = json.loads(rest.split("-----BEGIN BRANCHML MANIFEST-----\n")[1]
                   .split("-----END BRANCHML MANIFEST-----")[0])
    m.update(tag=name, n=int(name.rsplit("v", 1)[1]), **changes)
    text = (head.replace("tag acme-v1", f"tag {name}") + f"\n\n{name}\n\n"
            "-----BEGIN BRANCHML MANIFEST-----\n" + json.dumps(m, indent=2, sort_keys=True)
            + "\n-----END BRANCHML MANIFEST-----\n")
    sha = subprocess.run(["git", "mktag"], cwd=repo, input=text, capture_output=True,
                         text=True, check=True).stdout.strip()
    git("update-ref", f"refs/tags/{name}", sha, cwd=repo)
    return sha


def refused(repo: Path, server: Path, name: str, *reasons: str) -> None:
    before = refs(server)
    p = git_proc("push", "--no-verify", "origin", f"refs/tags/{name}", cwd=repo)
    assert p.returncode != 0, p.stderr
    assert "pre-receive hook declined" in p.stderr, p.stderr
    assert f"release tag {name}: its manifest does not verify against its commit" in p.stderr
    for reason in reasons:
        assert reason in p.stderr, p.stderr
    assert refs(server) == before


def test_the_legitimate_release_verifies_with_its_lineage(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    m = json.loads(bml("show", "acme-v1", "--json", cwd=released).out)
    assert m["promotion"]["branch"] == "dev/model" and m["pulled_from"]["branch"] == "raw"
    r = bml("verify", "acme-v1", "--json", cwd=released)
    assert r.code == 0, r.out + r.err
    v = json.loads(r.out)
    assert v["ok"] and v["fields"] == [] and v["unverified"] == {}
    assert set(v["claims"]) == {"tagger", "time"}  # shown as the tagger's word


def test_forged_promotion_is_refused_by_the_server(released: Path, installed_server: Path) -> None:
    """The reproduction: acme-v1's manifest on the same commit, "promoted from dev/reviewed
    1234567890" (no such commit) and pulled from a clean commit that does not exist."""
    forged_tag(released, "acme-v2",
               promotion={"branch": "dev/reviewed", "commit": FAKE_DEV},
               pulled_from={"branch": "clean", "commit": FAKE_CLEAN})
    refused(released, installed_server, "acme-v2", "promotion", "pulled_from")


def test_forged_promotion_fails_verify_naming_the_field(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    forged_tag(released, "acme-v2", promotion={"branch": "dev/reviewed", "commit": FAKE_DEV})
    r = bml("verify", "acme-v2", cwd=released)
    assert r.code == 1
    assert "acme-v2 does not verify" in r.err and "its manifest's promotion field does not match" in r.out
    assert "pulled_from" not in r.out + r.err


def test_forged_pulled_from_naming_a_real_commit_is_refused(released: Path,
                                                            installed_server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    # a real commit of the repository, just not the one the data came from
    other = git("rev-parse", "main", cwd=released)
    forged_tag(released, "acme-v2", pulled_from={"branch": "raw", "commit": other})
    refused(released, installed_server, "acme-v2", "pulled_from")
    r = bml("verify", "acme-v2", "--json", cwd=released)
    assert r.code == 1 and json.loads(r.out)["fields"] == ["pulled_from"]


def test_a_field_added_by_hand_is_not_copied(released: Path, installed_server: Path) -> None:
    forged_tag(released, "acme-v2", approved_by="the CEO")
    refused(released, installed_server, "acme-v2", "approved_by")


def test_a_hand_written_pull_trailer_is_no_lineage(released: Path, installed_server: Path,
                                                   bml) -> None:  # type: ignore[no-untyped-def]
    """A stable commit whose message claims `Pulled-From: raw <sha>` without being that
    pull's merge: recomputing the manifest finds the trailer, proving it does not."""
    raw = git("rev-parse", "raw", cwd=released)
    commit(released, {"models/model.pkl": "w2"}, branch="stable/model",
           msg=f"retrain\n\nPulled-From: raw {raw}\n")
    assert git_proc("push", "origin", "stable/model", cwd=released).returncode == 0
    assert bml("tag", "--client", "acme", cwd=released).code == 0  # made locally
    refused(released, installed_server, "acme-v2",
            "pulled_from (the commit", "is not a merge of")
    r = bml("verify", "acme-v2", "--json", cwd=released)
    assert r.code == 1
    v = json.loads(r.out)
    assert v["fields"] == ["data", "pulled_from"] and "is not a merge of" in v["reasons"][
        "pulled_from"]


def test_a_promoted_commit_deleted_since_is_unverified_not_verified(released: Path,
                                                                   bml) -> None:  # type: ignore[no-untyped-def]
    """The dev branch deleted and its commits pruned: the promotion still matches the
    stable history, but the commit it names cannot be read, so it is not called proven."""
    git("checkout", "-q", "main", cwd=released)
    git("branch", "-q", "-D", "dev/model", cwd=released)
    git("update-ref", "-d", "refs/remotes/origin/dev/model", cwd=released)
    git("reflog", "expire", "--expire=now", "--all", cwd=released)
    git("gc", "-q", "--prune=now", cwd=released)
    r = bml("verify", "acme-v1", cwd=released)
    assert r.code == 0, r.out + r.err
    assert "except promotion, unverified" in r.out
    assert "promotion unverified: the promoted commit" in r.out
    v = json.loads(bml("verify", "acme-v1", "--json", cwd=released).out)
    assert v["ok"] and list(v["unverified"]) == ["promotion"]


def test_a_forged_branch_is_refused(released: Path, installed_server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """`branch` names where the release was cut: a dev branch, or a stable branch that does
    not exist, is no stable branch holding the commit."""
    forged_tag(released, "acme-v2", branch="dev/model")
    refused(released, installed_server, "acme-v2", "branch ('dev/model' is not a stable branch")
    r = bml("verify", "acme-v2", "--json", cwd=released)
    assert r.code == 1 and json.loads(r.out)["fields"] == ["branch"]
    forged_tag(released, "acme-v3", branch="stable/other")
    refused(released, installed_server, "acme-v3", "branch (unverified: stable/other is not here")
    v = json.loads(bml("verify", "acme-v3", "--json", cwd=released).out)
    assert list(v["unverified"]) == ["branch"]


def test_a_shallow_clone_reports_lineage_unverified(released: Path, installed_server: Path,
                                                    tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A clone cut to one commit holds no trailer: the lineage it cannot recompute is
    unverified (not "verified", not a forgery); the rest still verifies."""
    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", "--no-single-branch", f"file://{installed_server}",
        str(shallow), cwd=tmp_path)
    r = bml("verify", "acme-v1", "--json", cwd=shallow)
    v = json.loads(r.out)
    assert r.code == 0 and v["fields"] == [], r.out + r.err
    assert {"promotion", "pulled_from", "data"} <= set(v["unverified"])
    assert "shallow" in v["unverified"]["promotion"]
