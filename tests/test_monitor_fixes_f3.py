"""Issue 19's security review, part f3: the router and deploy refs, the alert command and the
webhook. Each attack is made the way the reviewer made it (plumbing, `push --no-verify`, a
real slow or broken receiver) beside its legitimate twin, which must still work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from branchml import api
from branchml.errors import StateError
from tests.conftest import commit, git, git_proc

# -- atk19-10: deploy.yaml against the trailers --------------------------------------------


def hand_deploy(repo: Path, parent: str | None, yaml: str, trailers: str) -> str:
    """A deployment commit made with plumbing: `yaml` as deploy.yaml, `trailers` in the
    message."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=yaml)
    tree = git("mktree", cwd=repo, input=f"100644 blob {blob}\tdeploy.yaml\n")
    return git("commit-tree", tree, *(["-p", parent] if parent else []), "-m",
               f"deploy acme: acme-v1\n\n{trailers}", cwd=repo)


def releases_of(repo: Path, bml, push: bool = False) -> None:  # type: ignore[no-untyped-def]
    """acme-v1, acme-v2 and globex-v1 on stable/model (checked out)."""
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/model.pkl": "w1"}, branch="stable/model")
    if push:
        p = git_proc("push", "origin", "dev/model", "stable/model", cwd=repo)
        assert p.returncode == 0, p.stderr
    for client, extra in (("acme", []), ("acme", ["--allow-same"]), ("globex", [])):
        r = bml("tag", "--client", client, *extra, *(["--push"] if push else []), cwd=repo)
        assert r.code == 0, r.err


ATTACKS = {  # honest trailers (acme-v1 alone), a deploy.yaml that routes 99% elsewhere
    "another client's release": "client: acme\nprimary: acme-v1\ncandidate: globex-v1\n"
                                "fraction: 0.99\n",
    "a tag that does not exist": "client: acme\nprimary: acme-v1\ncandidate: acme-v99\n"
                                 "fraction: 0.99\n",
    "another primary": "client: acme\nprimary: acme-v2\n",
}


@pytest.mark.parametrize("yaml", list(ATTACKS.values()), ids=list(ATTACKS))
def test_router_and_deployed_refuse_a_yaml_the_trailers_do_not_state(
        plain_project: Path, bml, yaml: str) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    releases_of(repo, bml)
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=repo).code == 0
    old = git("rev-parse", "refs/deploy/acme", cwd=repo)
    bad = hand_deploy(repo, old, yaml, "Deploy-Primary: acme-v1")
    git("update-ref", "refs/deploy/acme", bad, cwd=repo)
    with pytest.raises(StateError, match=r"^refs/deploy/acme at \w+: the deployment routes "
                       r"by deploy.yaml to .* but its trailers say acme-v1 alone; deploy "
                       r"again with `branchml deploy --client acme TAG`\.$"):
        api.Router("acme", repo)
    for args in (["deployed"], ["route", "user-1"]):  # the same story, the same refusal
        r = bml(*args, "--client", "acme", cwd=repo)
        assert r.code == 4 and r.err.count("\n") == 1 and "its trailers say" in r.err, r.err
    # the legitimate twin: `branchml deploy` writes both halves alike
    git("update-ref", "refs/deploy/acme", old, cwd=repo)
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
            "0.25", cwd=repo)
    assert r.code == 0, r.err
    routing = api.Router("acme", repo).routing
    assert (routing.primary, routing.candidate, routing.fraction) == ("acme-v1", "acme-v2", 0.25)
    shown = api.deployed("acme", path=repo)
    assert (shown["primary"], shown["candidate"], shown["fraction"]) == ("acme-v1", "acme-v2",
                                                                         0.25)


@pytest.mark.parametrize("tag", ["globex-v1", "acme-v99"])
def test_router_refuses_a_candidate_that_is_not_a_release_of_the_client(
        plain_project: Path, bml, tag: str) -> None:  # type: ignore[no-untyped-def]
    """Both halves agree, on a tag that is not acme's release here."""
    repo = plain_project
    releases_of(repo, bml)
    bad = hand_deploy(repo, None, f"client: acme\nprimary: acme-v1\ncandidate: {tag}\n"
                      "fraction: 0.99\n", f"Deploy-Primary: acme-v1\nDeploy-Candidate: {tag} "
                      "0.99")
    git("update-ref", "refs/deploy/acme", bad, cwd=repo)
    with pytest.raises(StateError, match=rf"names {tag}, which is not a release of acme "
                                         r"here: fetch the release tags"):
        api.Router("acme", repo)
    assert bml("deployed", "--client", "acme", cwd=repo).code == 4
    # twin: the same commit by hand, naming acme's own second release
    good = hand_deploy(repo, None, "client: acme\nprimary: acme-v1\ncandidate: acme-v2\n"
                       "fraction: 0.99\n", "Deploy-Primary: acme-v1\nDeploy-Candidate: acme-v2 "
                       "0.99")
    git("update-ref", "refs/deploy/acme", good, cwd=repo)
    assert api.Router("acme", repo).routing.candidate == "acme-v2"


@pytest.fixture
def released_on_server(project: Path, installed_server: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    releases_of(project, bml, push=True)
    r = bml("deploy", "acme-v1", "--client", "acme", "--push", cwd=project)
    assert r.code == 0, r.err
    return project


def server_refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


@pytest.mark.slow
@pytest.mark.parametrize("verify", [False, True], ids=["pre-receive", "pre-push"])
def test_server_refuses_a_deploy_yaml_the_trailers_do_not_state(
        released_on_server: Path, installed_server: Path, tmp_path: Path, bml,
        verify: bool) -> None:  # type: ignore[no-untyped-def]
    repo, server = released_on_server, installed_server
    before = server_refs(server)
    old = git("rev-parse", "refs/deploy/acme", cwd=repo)
    for yaml in ATTACKS.values():
        bad = hand_deploy(repo, old, yaml, "Deploy-Primary: acme-v1")
        p = git_proc("push", *([] if verify else ["--no-verify"]), "origin",
                     f"{bad}:refs/deploy/acme", cwd=repo)
        assert p.returncode != 0
        assert "the deployment routes by deploy.yaml to " in p.stderr
        assert "but its trailers say acme-v1 alone; deploy with `branchml deploy`" in p.stderr
        assert server_refs(server) == before
    # both halves naming another client's release: refused by the release check
    bad = hand_deploy(repo, old, ATTACKS["another client's release"],
                      "Deploy-Primary: acme-v1\nDeploy-Candidate: globex-v1 0.99")
    p = git_proc("push", "--no-verify", "origin", f"{bad}:refs/deploy/acme", cwd=repo)
    assert p.returncode != 0 and "names 'globex-v1', which is not a release of acme" in p.stderr
    assert server_refs(server) == before
    # the legitimate twin: a canary deployed the normal way is accepted and routed by
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
            "0.1", "--push", cwd=repo)
    assert r.code == 0, r.err
    serving = tmp_path / "serving.git"
    git("clone", "-q", "--bare", str(server), str(serving), cwd=tmp_path)
    git("fetch", "-q", "origin", "refs/deploy/*:refs/deploy/*", cwd=serving)
    router = api.Router("acme", serving)
    share = sum(router.route(f"user-{i}") == "acme-v2" for i in range(2000)) / 2000
    assert router.routing.candidate == "acme-v2" and 0.07 < share < 0.13
    done = subprocess.run(["git", "rev-parse", "refs/deploy/acme"], cwd=server,
                          capture_output=True, text=True)
    assert done.stdout.strip() == git("rev-parse", "refs/deploy/acme", cwd=repo)


@pytest.mark.parametrize(("primary", "candidate", "yaml", "why"), [
    ("", "", "client: acme\nprimary: acme-v1\n", "names no primary release"),
    ("acme-v1\nacme-v2", "", "client: acme\nprimary: acme-v1\n", "more than one primary"),
    ("acme-v1", "acme-v2", "client: acme\nprimary: acme-v1\n", "not one release and its"),
    ("acme-v1", "acme-v2 1.5", "client: acme\nprimary: acme-v1\n", "not a number between"),
    ("acme-v1", "acme-v2 nan", "client: acme\nprimary: acme-v1\n", "not a number between"),
    ("acme-v1", "acme-v1 0.5", "client: acme\nprimary: acme-v1\n", "both its primary"),
    ("acme-v1", "", None, "no readable deploy.yaml"),
    ("acme-v1", "", "client: globex\nprimary: acme-v1\n", "not the one `branchml deploy`"),
    ("acme-v1", "", "client: acme\nprimary: acme-v1\nextra: 1\n", "not the one"),
    ("acme-v1", "", "client: acme\nprimary: acme-v1\ncandidate: acme-v2\nfraction: true\n",
     "without a fraction"),
    ("acme-v1", "acme-v2 0.1", "client: acme\nprimary: acme-v1\ncandidate: acme-v2\n"
     "fraction: 0.2\n", "to acme-v1 with candidate acme-v2 at 0.2 but its trailers say "
     "acme-v1 with candidate acme-v2 at 0.1"),
])
def test_a_deployment_record_is_refused(primary: str, candidate: str, yaml: str | None,
                                        why: str) -> None:
    from branchml.core import deployrecord

    with pytest.raises(deployrecord.BadRecord, match=why.replace("(", r"\(")):
        deployrecord.read("acme", primary, candidate, yaml)


def test_a_deployment_record_as_deploy_writes_it() -> None:
    """The twin: both halves alike, a small share spelled 1e-05 (YAML 1.1 reads it as text)."""
    from branchml.core import deployrecord

    found = deployrecord.read("acme", "acme-v1\n", "acme-v2 1e-05\n",
                              "client: acme\nprimary: acme-v1\ncandidate: acme-v2\n"
                              "fraction: 1e-05\n")
    assert found == deployrecord.DeployRecord("acme-v1", "acme-v2", 1e-05)
    assert deployrecord.read("acme", "acme-v1", "", "client: acme\nprimary: acme-v1\n"
                             ).tags() == ["acme-v1"]
