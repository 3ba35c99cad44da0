"""Second security review of issue 18 (/work/atk18b/findings/04): a `main` pushed to a master
server takes over a plain `git clone` once the victim types `git switch main`. Each attack the
way the reviewer made it, beside its legitimate twins (no remote, a main repository cloned with
`git clone`, `branchml clone`, `init --main master`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, git, git_proc

VALIDATE = 'validate: [{glob: "data/**", command: ["sh", "-c", "touch %s"]}]'
ASK = "run `branchml install --main master` (or `--main main`)"


def _master_server(tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """The finding's project: `init --main master`, `unknown_branches: allow` (documented),
    pushed to a bare server set up with `branchml install --main master`."""
    proj = tmp_path / "p"
    git("init", "-q", "-b", "master", str(proj), cwd=tmp_path)
    commit(proj, {"README.md": "hi\n"}, "init")
    assert bml("init", ".", "--main", "master", "--no-lfs", cwd=proj).code == 0
    cfg = (proj / "branchml.yaml").read_text()
    assert "unknown_branches: reject" in cfg
    commit(proj, {"branchml.yaml": cfg.replace("unknown_branches: reject",
                                               "unknown_branches: allow")}, "allow", "master")
    srv = tmp_path / "srv.git"
    git("init", "-q", "--bare", "-b", "master", str(srv), cwd=tmp_path)
    assert bml("install", "--main", "master", cwd=srv).code == 0
    git("push", "-q", str(srv), "--all", cwd=proj)
    return srv


def _push_main(tmp_path: Path, srv: Path, mark: Path) -> str:
    """A pusher creates `main` from master with a policy that types main as main and whose
    validate command touches `mark`, pushed `--no-verify`; the server (unknown branches
    allowed) takes it. Returns the pushed commit."""
    evil = tmp_path / "evil"
    git("clone", "-q", str(srv), str(evil), cwd=tmp_path)
    git("checkout", "-q", "-b", "main", "origin/master", cwd=evil)
    cfg = (evil / "branchml.yaml").read_text()
    cfg = cfg.replace('  "master":', '  "main":').replace('parent: "master"', 'parent: "main"')
    cfg = cfg.replace("validate: []", VALIDATE % mark)
    assert str(mark) in cfg and '"main":' in cfg
    sha = commit(evil, {"branchml.yaml": cfg}, "attacker's policy")
    git("push", "-q", "--no-verify", "origin", "main", cwd=evil)
    assert git("rev-parse", "refs/heads/main", cwd=srv) == sha  # the attack's precondition
    return sha


def _git_clone(tmp_path: Path, srv: Path, name: str = "victim") -> Path:
    victim = tmp_path / name
    git("clone", "-q", str(srv), str(victim), cwd=tmp_path)
    git("config", "user.email", "v@v", cwd=victim)
    git("config", "user.name", "v", cwd=victim)
    return victim


def _pull_validated(victim: Path, bml) -> int:  # type: ignore[no-untyped-def]
    """The finding's last step: new rows on raw, then `pull raw clean --validate`."""
    git("branch", "-q", "clean", "origin/clean", cwd=victim)
    git("switch", "-q", "raw", cwd=victim)  # DWIM: a local raw tracking origin/raw
    commit(victim, {"data/a.csv": "id\n1\n"}, "up")
    return int(bml("pull", "raw", "clean", "--validate", cwd=victim).code)


def _refs(srv: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=srv)


# -- the attack ----------------------------------------------------------------------------------

@pytest.mark.slow  # a server, pushes and clones
def test_04_git_switch_main_in_a_master_clone_is_refused_not_trusted(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    srv = _master_server(tmp_path, bml)
    mark = tmp_path / "PWNED-04"
    _push_main(tmp_path, srv, mark)
    victim = _git_clone(tmp_path, srv)
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=victim).out
    git("switch", "-q", "main", cwd=victim)  # git makes a local main from origin/main
    for args in (("config", "show"), ("status",), ("check", "--range", "master..main"), ("install",)):
        r = bml(*args, cwd=victim)
        assert r.code == 4, (args, r.out, r.err)
        assert ASK in r.err and "origin/HEAD names master" in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert git_proc("config", "branchml.trustedRef", cwd=victim).returncode == 1
    before = _refs(srv)
    assert _pull_validated(victim, bml) == 4
    assert not mark.exists(), "the pushed main's validate command ran on the victim's machine"
    assert _refs(srv) == before
    # the way out the sentence names: the owner says which branch is main, once
    r = bml("install", "--main", "master", cwd=victim)
    assert r.code == 0, r.err
    assert "Main branch: refs/heads/master (git config branchml.trustedRef)" in r.out
    assert git("config", "branchml.trustedRef", cwd=victim) == "refs/heads/master"
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=victim).out
    assert bml("pull", "raw", "clean", "--validate", cwd=victim).code == 0
    assert not mark.exists()


@pytest.mark.slow  # a server, pushes and clones
def test_04_a_host_without_pre_receive_same_refusal(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The finding's other host: no pre-receive at all (unknown_branches back to reject)."""
    srv = _master_server(tmp_path, bml)
    (srv / "hooks" / "pre-receive").unlink()
    mark = tmp_path / "PWNED-04"
    _push_main(tmp_path, srv, mark)
    victim = _git_clone(tmp_path, srv)
    git("switch", "-q", "main", cwd=victim)
    r = bml("config", "show", cwd=victim)
    assert r.code == 4 and ASK in r.err and str(mark) not in r.out


# -- the legitimate twins ------------------------------------------------------------------------

@pytest.mark.slow  # a server, pushes and clones
def test_04_twin_install_before_switch_writes_master_and_main_never_judges(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The README's way: `branchml install` right after `git clone` writes origin/HEAD's
    master down; a later `git switch main` changes nothing."""
    srv = _master_server(tmp_path, bml)
    mark = tmp_path / "PWNED-04"
    _push_main(tmp_path, srv, mark)
    victim = _git_clone(tmp_path, srv)
    r = bml("install", cwd=victim)
    assert r.code == 0, r.err
    assert "git config branchml.trustedRef = refs/heads/master" in r.out
    assert "Main branch: refs/heads/master" in r.out
    git("switch", "-q", "main", cwd=victim)
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=victim).out
    assert _pull_validated(victim, bml) == 0
    assert not mark.exists()


def test_04_twin_no_remote_install_writes_main_and_prints_it(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--no-lfs").code == 0
    assert git("config", "branchml.trustedRef", cwd=repo) == "refs/heads/main"  # init: always
    git("config", "--unset", "branchml.trustedRef", cwd=repo)  # as an older branchml left it
    assert "policy: refs/heads/main:branchml.yaml" in bml("status", cwd=repo).out
    r = bml("install", cwd=repo)
    assert r.code == 0, r.err
    assert "git config branchml.trustedRef = refs/heads/main" in r.out
    assert git("config", "branchml.trustedRef", cwd=repo) == "refs/heads/main"
    r = bml("install", "--json", cwd=repo)
    assert r.code == 0 and json.loads(r.out)["trusted_ref"] == "refs/heads/main"
    assert json.loads(r.out)["steps"] == []
    r = bml("install", cwd=repo)
    assert r.out.startswith("Nothing to do") and "Main branch: refs/heads/main" in r.out


def test_04_twin_dry_run_writes_nothing(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--no-lfs").code == 0
    git("config", "--unset", "branchml.trustedRef", cwd=repo)
    r = bml("install", "--dry-run", cwd=repo)
    assert r.code == 0 and "git config branchml.trustedRef = refs/heads/main" in r.out
    assert git_proc("config", "branchml.trustedRef", cwd=repo).returncode == 1


@pytest.mark.slow  # a server, pushes and clones
def test_04_twin_git_clone_of_a_main_repository(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """origin/HEAD -> main: `git switch` of other branches, a local main, no key: all fine."""
    proj = tmp_path / "p"
    assert bml("init", str(proj), "--no-lfs").code == 0
    srv = tmp_path / "srv.git"
    git("init", "-q", "--bare", "-b", "main", str(srv), cwd=tmp_path)
    assert bml("install", cwd=srv).code == 0
    assert git("config", "branchml.trustedRef", cwd=srv) == "refs/heads/main"
    git("push", "-q", str(srv), "--all", cwd=proj)
    victim = _git_clone(tmp_path, srv)
    assert git("symbolic-ref", "refs/remotes/origin/HEAD", cwd=victim) == \
        "refs/remotes/origin/main"
    assert "policy: refs/heads/main:branchml.yaml" in bml("status", cwd=victim).out
    assert _pull_validated(victim, bml) == 0
    r = bml("install", cwd=victim)
    assert r.code == 0 and "branchml.trustedRef = refs/heads/main" in r.out, r.err


@pytest.mark.slow  # a server, pushes and clones
def test_04_twin_branchml_clone_and_init_main_master(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """`branchml clone` of the master server (with the pushed main) trusts master and writes
    it; the owner's own `init --main master` repository with a local main beside master is
    not refused either: its key is set."""
    srv = _master_server(tmp_path, bml)
    _push_main(tmp_path, srv, tmp_path / "PWNED-04")
    r = bml("clone", str(srv), str(tmp_path / "c"))
    assert r.code == 0, r.err
    cloned = tmp_path / "c"
    assert git("config", "branchml.trustedRef", cwd=cloned) == "refs/heads/master"
    git("branch", "main", "master", cwd=cloned)  # a local main: the key decides, not it
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=cloned).out
    proj = tmp_path / "p"
    git("branch", "main", "master", cwd=proj)
    r = bml("install", cwd=proj)
    assert r.code == 0 and "Main branch: refs/heads/master" in r.out, r.err
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=proj).out


def test_04_twin_install_before_init_main_master(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """`install` writes main down even before `init`; `init --main master` may still replace
    a key whose branch holds no branchml.yaml, and then rules: a set-up main is not replaced."""
    repo = tmp_path / "r"
    git("init", "-q", "-b", "master", str(repo), cwd=tmp_path)
    commit(repo, {"README.md": "hi\n"}, "init")
    assert bml("install", "--no-lfs", cwd=repo).code == 0
    assert git("config", "branchml.trustedRef", cwd=repo) == "refs/heads/main"
    r = bml("init", ".", "--main", "master", "--no-lfs", cwd=repo)
    assert r.code == 0, r.err
    assert git("config", "branchml.trustedRef", cwd=repo) == "refs/heads/master"
    git("branch", "main", "master", cwd=repo)
    r = bml("init", ".", "--main", "main", "--no-lfs", cwd=repo)
    assert r.code == 2 and "already master" in r.err
    assert git("config", "branchml.trustedRef", cwd=repo) == "refs/heads/master"
