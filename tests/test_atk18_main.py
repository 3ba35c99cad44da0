"""Security review of issue 18 (/work/atk18/findings): which branch is main in a clone, in
`clone`, `init --main`; the scaffold record's model names; `upgrade`'s version line and dry
runs. Each attack the way the reviewer made it, beside its legitimate twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, git, git_proc, snapshot

VALIDATE = 'validate: [{glob: "data/**", command: ["sh", "-c", "touch %s"]}]'


def _master_server(tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """A project adopted with `init --main master`, pushed to a bare server installed with
    `--main master` (the host's default branch, HEAD, is master)."""
    proj = tmp_path / "p"
    git("init", "-q", "-b", "master", str(proj), cwd=tmp_path)
    commit(proj, {"README.md": "hi\n"}, "init")
    r = bml("init", ".", "--main", "master", "--no-lfs", cwd=proj)
    assert r.code == 0, r.err
    srv = tmp_path / "s.git"
    git("init", "-q", "--bare", "-b", "master", str(srv), cwd=tmp_path)
    r = bml("install", "--main", "master", cwd=srv)
    assert r.code == 0, r.err
    git("push", "-q", str(srv), "--all", cwd=proj)
    return srv


def _attacker_dev_config(tmp_path: Path, srv: Path, mark: Path) -> None:
    """A pusher edits branchml.yaml on dev/model (config may change there) so that its
    validate command touches `mark`; the server accepts it."""
    evil = tmp_path / "evil"
    git("clone", "-q", str(srv), str(evil), cwd=tmp_path)
    git("checkout", "-q", "-b", "dev/model", "origin/dev/model", cwd=evil)
    cfg = (evil / "branchml.yaml").read_text().replace("validate: []", VALIDATE % mark)
    assert str(mark) in cfg
    commit(evil, {"branchml.yaml": cfg}, "tweak")
    git("push", "-q", "origin", "dev/model", cwd=evil)


def _git_clone(tmp_path: Path, srv: Path, name: str = "v") -> Path:
    victim = tmp_path / name
    git("clone", "-q", str(srv), str(victim), cwd=tmp_path)
    git("config", "user.email", "v@v", cwd=victim)
    git("config", "user.name", "v", cwd=victim)
    return victim


def _pull_validated(tmp_path: Path, victim: Path, bml) -> int:  # type: ignore[no-untyped-def]
    """New rows on raw, then `pull raw clean --validate` from the attacker's dev branch."""
    git("branch", "-q", "raw", "origin/raw", cwd=victim)
    git("branch", "-q", "clean", "origin/clean", cwd=victim)
    git("checkout", "-q", "-B", "dev/model", "origin/dev/model", cwd=victim)
    wt = tmp_path / "vr"
    git("worktree", "add", "-q", str(wt), "raw", cwd=victim)
    commit(wt, {"data/a.csv": "id,x\n1,2\n"}, "data")
    return int(bml("pull", "raw", "clean", "--validate", cwd=victim).code)


# -- atk18-02: a plain `git clone` of a master repository ---------------------------------------

@pytest.mark.slow  # a server, pushes and clones
def test_git_clone_of_master_repo_trusts_origin_head_not_the_dev_branch(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    srv = _master_server(tmp_path, bml)
    mark = tmp_path / "PWNED"
    _attacker_dev_config(tmp_path, srv, mark)
    victim = _git_clone(tmp_path, srv)
    r = bml("install", cwd=victim)  # the README's way: install writes down origin/HEAD's main
    assert r.code == 0, r.err
    assert "git config branchml.trustedRef = refs/heads/master" in r.out
    assert git("config", "branchml.trustedRef", cwd=victim) == "refs/heads/master"
    _pull_validated(tmp_path, victim, bml)
    assert not mark.exists(), "the dev branch's validate command ran on the victim's machine"
    status = bml("status", cwd=victim)
    assert "policy: refs/heads/master:branchml.yaml" in status.out


@pytest.mark.slow  # a server, pushes and clones
def test_git_clone_without_install_still_takes_main_from_origin_head(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    srv = _master_server(tmp_path, bml)
    mark = tmp_path / "PWNED"
    _attacker_dev_config(tmp_path, srv, mark)
    victim = _git_clone(tmp_path, srv)  # no install: branchml.trustedRef stays unset
    _pull_validated(tmp_path, victim, bml)
    assert not mark.exists()
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=victim).out


@pytest.mark.slow  # a server, pushes and clones
def test_git_clone_whose_origin_head_is_a_dev_branch_is_refused(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    srv = _master_server(tmp_path, bml)
    mark = tmp_path / "PWNED"
    _attacker_dev_config(tmp_path, srv, mark)
    git("symbolic-ref", "HEAD", "refs/heads/dev/model", cwd=srv)  # the host's PR target
    victim = _git_clone(tmp_path, srv)
    for args in (("install",), ("status",), ("config", "show")):
        r = bml(*args, cwd=victim)
        assert r.code == 4, (args, r.out, r.err)
        assert "run `branchml install --main NAME`" in r.err
        assert len(r.err.strip().splitlines()) == 1
    assert git_proc("config", "branchml.trustedRef", cwd=victim).returncode == 1
    assert _pull_validated(tmp_path, victim, bml) == 4
    assert not mark.exists()
    # the legitimate way out: name main
    r = bml("install", "--main", "master", cwd=victim)
    assert r.code == 0, r.err
    assert "policy: refs/remotes/origin/master:branchml.yaml" in bml("status", cwd=victim).out


def test_repository_without_remote_still_reads_head(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """No remote: every branch is the user's own, and HEAD stands in for a missing main as
    before (a local repository whose main was renamed away)."""
    proj = tmp_path / "p"
    git("init", "-q", "-b", "master", str(proj), cwd=tmp_path)
    commit(proj, {"README.md": "hi\n"}, "init")
    assert bml("init", ".", "--main", "master", "--no-lfs", cwd=proj).code == 0
    git("config", "--unset", "branchml.trustedRef", cwd=proj)
    r = bml("status", cwd=proj)
    assert r.code == 0, r.err
    assert "policy: HEAD:branchml.yaml" in r.out


# -- atk18-01 / atk18-11: `branchml clone` and the remote's HEAD --------------------------------

def _pushed_main_branch(tmp_path: Path, srv: Path, mark: Path) -> None:
    """A pusher creates `main` on a master server (its pre-receive off, as on a host without
    hooks) holding a policy that types main as main and runs their validate command."""
    (srv / "hooks" / "pre-receive").unlink()
    evil = tmp_path / "evil-main"
    git("clone", "-q", str(srv), str(evil), cwd=tmp_path)
    git("checkout", "-q", "-b", "main", "origin/master", cwd=evil)
    cfg = (evil / "branchml.yaml").read_text()
    cfg = cfg.replace('  "master":', '  "main":').replace('parent: "master"', 'parent: "main"')
    cfg = cfg.replace("validate: []", VALIDATE % mark)
    commit(evil, {"branchml.yaml": cfg}, "attacker's policy")
    git("push", "-q", "--no-verify", "origin", "main", cwd=evil)


@pytest.mark.slow  # a server, pushes and clones
def test_clone_trusts_the_remote_head_over_a_pushed_main(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    srv = _master_server(tmp_path, bml)
    mark = tmp_path / "PWNED"
    _pushed_main_branch(tmp_path, srv, mark)
    r = bml("clone", str(srv), str(tmp_path / "victim"))
    assert r.code == 0, r.err
    assert "master is trusted as main because the remote's HEAD" in r.out
    victim = tmp_path / "victim"
    assert git("config", "branchml.trustedRef", cwd=victim) == "refs/heads/master"
    assert git("symbolic-ref", "--short", "HEAD", cwd=victim) == "master"
    assert git_proc("rev-parse", "--verify", "-q", "refs/heads/main", cwd=victim).returncode
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=victim).out
    # the legitimate twin: the user chooses main explicitly, and is told what was chosen
    r = bml("clone", str(srv), str(tmp_path / "chosen"), "--main", "main", "--json")
    assert r.code == 0, r.err
    assert '"main": "main"' in r.out and "because you gave --main" in r.out



@pytest.mark.slow  # a server, pushes and clones
def test_git_clone_trusts_the_remote_head_over_a_pushed_main(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """#01 and #02 at once: a plain `git clone` of a master server where a pusher created
    `main`: origin/main exists, but origin/HEAD (master) decides."""
    srv = _master_server(tmp_path, bml)
    mark = tmp_path / "PWNED"
    _pushed_main_branch(tmp_path, srv, mark)
    victim = _git_clone(tmp_path, srv)
    assert "policy: refs/heads/master:branchml.yaml" in bml("status", cwd=victim).out
    r = bml("install", cwd=victim)
    assert r.code == 0 and "branchml.trustedRef = refs/heads/master" in r.out, r.err
    _pull_validated(tmp_path, victim, bml)
    assert not mark.exists()

@pytest.mark.slow  # a server, pushes and clones
def test_clone_refuses_a_remote_head_at_a_dev_branch(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    srv = _master_server(tmp_path, bml)
    git("symbolic-ref", "HEAD", "refs/heads/dev/model", cwd=srv)  # the host's PR target
    r = bml("clone", str(srv), str(tmp_path / "v"))
    assert r.code == 4
    assert "HEAD names dev/model, but dev/model names a branch of another type" in r.err
    assert "--main NAME" in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()
    # naming it explicitly is refused by the same rule
    r = bml("clone", str(srv), str(tmp_path / "v"), "--main", "dev/model")
    assert r.code == 2 and "another type" in r.err
    # the legitimate twin: --main master
    r = bml("clone", str(srv), str(tmp_path / "v"), "--main", "master")
    assert r.code == 0, r.err
    assert git("config", "branchml.trustedRef", cwd=tmp_path / "v") == "refs/heads/master"


@pytest.mark.slow  # a server, pushes and clones
def test_clone_refuses_a_remote_head_whose_config_types_it_otherwise(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """HEAD at `trunk`, a branch no default type claims, whose config (master's) types master
    as main, not trunk: refused; a HEAD at a branch with no main type at all neither."""
    srv = _master_server(tmp_path, bml)
    git("branch", "trunk", "master", cwd=srv)
    git("symbolic-ref", "HEAD", "refs/heads/trunk", cwd=srv)
    r = bml("clone", str(srv), str(tmp_path / "v"))
    assert r.code == 4
    assert "trunk's own branchml.yaml does not give it the main type" in r.err


@pytest.mark.slow  # a server, pushes and clones
def test_clone_with_head_detached_takes_main_only_when_present(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    srv = _master_server(tmp_path, bml)
    git("update-ref", "--no-deref", "HEAD", git("rev-parse", "master", cwd=srv), cwd=srv)
    r = bml("clone", str(srv), str(tmp_path / "v"))
    assert r.code == 4 and "--main NAME" in r.err
    assert not (tmp_path / "v").exists()
    r = bml("clone", str(srv), str(tmp_path / "v"), "--main", "master")
    assert r.code == 0, r.err


# -- atk18-16: `init --main` names an existing branch, never HEAD -------------------------------

def _one_commit_repo(tmp_path: Path, name: str) -> Path:
    repo = tmp_path / name
    git("init", "-q", "-b", "master", str(repo), cwd=tmp_path)
    commit(repo, {"README.md": "hi\n"}, "init")
    return repo


@pytest.mark.parametrize("given, said", [
    ("nosuch", "--main nosuch names no branch of this repository (its branches: master)"),
    ("HEAD", "'HEAD' is not a valid branch name: git reserves HEAD"),
])
def test_init_main_refuses_a_branch_that_is_not_there(tmp_path: Path, bml, given: str, said: str) -> None:  # type: ignore[no-untyped-def]
    repo = _one_commit_repo(tmp_path, "r")
    before = snapshot(repo)
    r = bml("init", ".", "--main", given, "--no-lfs", "--no-hooks", cwd=repo)
    assert r.code == 2 and said in r.err and len(r.err.strip().splitlines()) == 1
    assert snapshot(repo) == before
    assert git("for-each-ref", "--format=%(refname)", "refs/heads", cwd=repo) == "refs/heads/master"
    r = bml("install", "--main", "HEAD", cwd=repo)
    assert r.code == 2 and "git reserves HEAD" in r.err


def test_init_main_legit_twins(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The existing master; an unborn master (`git init -b master`, no commit yet); a new
    repository whose main gets another name."""
    repo = _one_commit_repo(tmp_path, "r")
    assert bml("init", ".", "--main", "master", "--no-lfs", "--no-hooks", cwd=repo).code == 0
    unborn = tmp_path / "u"
    git("init", "-q", "-b", "master", str(unborn), cwd=tmp_path)
    r = bml("init", ".", "--main", "master", "--no-lfs", "--no-hooks", cwd=unborn)
    assert r.code == 0, r.err
    r = bml("init", str(tmp_path / "n"), "--main", "trunk", "--no-lfs", "--no-hooks")
    assert r.code == 0, r.err
    assert git("config", "branchml.trustedRef", cwd=tmp_path / "n") == "refs/heads/trunk"


# -- atk18-14: the scaffold record's model names ------------------------------------------------

def _record_models(repo: Path, models: list[str]) -> None:
    """main's `scaffold:` record edited by hand (a commit with no hook, as an attacker with
    write access to main's file, or a careless edit, would make it)."""
    text = (repo / "branchml.yaml").read_text()
    head, _, record = text.partition("\nscaffold:")
    lines = record.split("\n")
    lines = [f"  models: {json.dumps(models)}" if ln.startswith("  models:") else ln
             for ln in lines]
    commit(repo, {"branchml.yaml": head + "\nscaffold:" + "\n".join(lines)}, "record", "main")


@pytest.mark.parametrize("bad", ["-rf", "a b", "..", "HEAD", "x.lock", "x~1"])
def test_init_rerun_refuses_a_bad_model_name_in_the_record(tmp_path: Path, bml, bad: str) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--model", "churn", "--no-lfs").code == 0
    _record_models(repo, ["churn", bad])
    before = snapshot(repo)
    r = bml("init", ".", cwd=repo)
    assert r.code == 2, (r.out, r.err)
    assert f"lists the model {bad!r} under scaffold.models, which is not a valid model name" in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert snapshot(repo) == before
    assert bml("upgrade", cwd=repo).code == 2


def test_init_rerun_takes_a_good_model_name_from_the_record(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--model", "churn", "--no-lfs").code == 0
    _record_models(repo, ["churn", "fraud_2.x"])
    r = bml("init", ".", cwd=repo)
    assert r.code == 0, r.err
    assert "create refs/heads/dev/fraud_2.x" in r.out
    assert git("rev-parse", "--verify", "-q", "refs/heads/stable/fraud_2.x", cwd=repo)
    r = bml("init", ".", "--model", "HEAD", cwd=repo)
    assert r.code == 2 and "--model 'HEAD' is not a valid model name: git reserves HEAD" in r.err


# -- atk18-03 / atk18-10: upgrade's version line, and dry runs that write nothing --------------

def _version_1(repo: Path, line: str = "version: 1") -> None:
    """main's config as an older branchml wrote it: version 1, no scaffold record."""
    text = (repo / "branchml.yaml").read_text()
    text = text[:text.index("# What `branchml init` scaffolded")]
    commit(repo, {"branchml.yaml": text.replace("version: 2", line, 1)}, "v1", "main")


def _objects(repo: Path) -> list[str]:
    return sorted(str(p.relative_to(repo)) for p in (repo / ".git").rglob("*") if p.is_file())


@pytest.mark.parametrize("line, after", [
    ("version: 1  # old format", "version: 2  # old format"),
    ("version:   1 #x", "version:   2 #x"),
    ("version: 1", "version: 2"),
])
def test_upgrade_migrates_a_version_line_with_a_comment(tmp_path: Path, bml, line: str, after: str) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "u"
    assert bml("init", str(repo), "--no-lfs").code == 0
    _version_1(repo, line)
    r = bml("upgrade", cwd=repo)
    assert r.code == 0, r.err
    assert "Config version 1 -> 2." in r.out
    shown = git("show", "main:branchml.yaml", cwd=repo).splitlines()
    assert after in shown and "version: 1" not in "\n".join(shown)
    r = bml("upgrade", cwd=repo)
    assert "Nothing to do" in r.out and "Config version 1 -> 2" not in r.out


def test_upgrade_refuses_a_version_line_it_cannot_rewrite(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "u"
    assert bml("init", str(repo), "--no-lfs").code == 0
    _version_1(repo, "version: !!int 1")
    before = snapshot(repo)
    r = bml("upgrade", cwd=repo)
    assert r.code == 2 and "upgrade cannot rewrite the version line" in r.err
    assert snapshot(repo) == before


def test_upgrade_and_init_dry_runs_write_no_object(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--no-lfs").code == 0
    _version_1(repo)
    before = _objects(repo)
    r = bml("upgrade", "--dry-run", cwd=repo)
    assert r.code == 0 and "move refs/heads/main" in r.out, r.err
    assert _objects(repo) == before
    r = bml("init", ".", "--model", "fraud", "--dry-run", cwd=repo)
    assert r.code == 0 and "create refs/heads/dev/fraud" in r.out, r.err
    assert _objects(repo) == before
    # the legitimate twins: the real runs make the commits the dry runs described
    upgraded = bml("upgrade", cwd=repo)
    assert upgraded.code == 0 and git("log", "-1", "--format=%s", "main", cwd=repo) == \
        "branchml upgrade: config version 1 -> 2"
    assert bml("init", ".", "--model", "fraud", cwd=repo).code == 0
    assert git("rev-parse", "--verify", "-q", "refs/heads/dev/fraud", cwd=repo)
    assert git_proc("fsck", "--connectivity-only", cwd=repo).returncode == 0
