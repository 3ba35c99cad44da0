"""Issue 18, adopting an existing repository: `init --main master`, the init plan (code on main,
branches of no type), a rerun that adds only what branchml never made, `branchml upgrade`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import commit, git, git_proc, snapshot, write


def _master_repo(tmp_path: Path) -> Path:
    """A project whose default branch is master: code, a README, a feature branch."""
    repo = tmp_path / "legacy"
    git("init", "-q", "-b", "master", str(repo), cwd=tmp_path)
    write(repo, "src/train.py", "print('train')\n")
    write(repo, "README.md", "# legacy\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    git("branch", "feature", cwd=repo)
    return repo


def _cfg(repo: Path, rev: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(git("show", f"{rev}:branchml.yaml", cwd=repo))


# -- 1. the main branch: --main master, or a warning ------------------------------------------

def test_init_on_master_plan_warns_lists_code_and_untyped_branches(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _master_repo(tmp_path)
    before = snapshot(repo)
    r = bml("init", ".", "--dry-run", "--json", cwd=repo)
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert plan["main"] == "main" and plan["code_on_main"] == ["src/train.py"]
    fates = {u["branch"]: u["what"] for u in plan["untyped"]}
    assert set(fates) == {"master", "feature"}
    assert "every commit and push on it will be refused" in fates["master"]
    assert "branchml init --main master" in fates["master"]
    assert "git branch -m feature dev/feature" in fates["feature"]
    assert any("main takes no code" in n and "src/train.py" in n for n in plan["notes"])
    text = bml("init", ".", "--dry-run", cwd=repo)
    assert "Note: master matches no branch type" in text.out
    assert snapshot(repo) == before  # a dry run changes nothing


def test_init_main_master_makes_master_the_main_branch(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _master_repo(tmp_path)
    r = bml("init", ".", "--main", "master", "--no-lfs", cwd=repo)
    assert r.code == 0, r.err
    assert git_proc("rev-parse", "--verify", "-q", "main", cwd=repo).returncode != 0
    assert git("config", "branchml.trustedRef", cwd=repo).strip() == "refs/heads/master"
    cfg = _cfg(repo, "master")
    assert cfg["branches"]["master"]["type"] == "main" and "main" not in cfg["branches"]
    assert cfg["branches"]["raw"]["parent"] == "master"
    assert cfg["adopted"]["before"] == git("rev-parse", "master~1", cwd=repo).strip()
    # master takes docs through the pre-commit hook, and refuses code with one reason
    commit(repo, {"docs/data.md": "# data\nmore\n"}, "doc", verify=True)
    write(repo, "src/train.py", "print('edited')\n")
    git("add", ".", cwd=repo)
    refused = git_proc("commit", "-q", "-m", "code on master", cwd=repo)
    assert refused.returncode != 0
    assert "master: master takes no code: commit src/train.py on a dev/* branch" in refused.stderr
    # a rerun keeps master as main (read from the git config) and has nothing to do
    git("checkout", "-q", "--", ".", cwd=repo)
    again = bml("init", ".", "--no-lfs", cwd=repo)
    assert again.code == 0 and "Nothing to do" in again.out, again.out


def test_init_main_refuses_a_name_of_another_type_and_a_second_main(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _master_repo(tmp_path)
    r = bml("init", ".", "--main", "raw", cwd=repo)
    assert r.code == 2 and "--main raw names a branch of another type" in r.err
    assert bml("init", ".", "--no-lfs", cwd=repo).code == 0
    before = snapshot(repo)
    r = bml("init", ".", "--main", "master", "--no-lfs", cwd=repo)
    # init wrote branchml.trustedRef = refs/heads/main (atk18b-04: always written)
    assert r.code == 2 and "this repository's main branch is already main" in r.err
    assert snapshot(repo) == before


def _forge(repo: Path, branch: str, files: dict[str, bytes]) -> str:
    """A commit made with plumbing only, as an attacker would (no hook runs): `files` put
    over `branch`'s tree in an index of its own, the branch moved by update-ref."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "forge-index")}

    def plumb(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=repo, env=env, input=data,
                              capture_output=True, check=True)
        return done.stdout.decode().strip()

    plumb("read-tree", branch)
    for path, data in files.items():
        oid = plumb("hash-object", "-w", "--stdin", data=data)
        plumb("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}")
    tree = plumb("write-tree")
    sha = plumb("commit-tree", tree, "-p", branch, "-m", "forged")
    plumb("update-ref", f"refs/heads/{branch}", sha)
    return sha


def test_a_branch_whose_config_names_itself_main_is_ignored(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Attack: dev/x carries a branchml.yaml that makes dev/x the main type (and lets it
    change models); the trusted main is master, named by the git config, so dev/x is judged
    by master's config: the model is refused."""
    repo = _master_repo(tmp_path)
    assert bml("init", ".", "--main", "master", "--no-lfs", cwd=repo).code == 0
    git("branch", "dev/x", "dev/model", cwd=repo)
    cfg = git("show", "master:branchml.yaml", cwd=repo)
    evil = cfg.replace('  "master":\n    type: main\n', '  "dev/x":\n    type: main\n'
                       '    may_change: [code, models, docs, config]\n  "master":\n'
                       '    type: code\n    parent: "dev/x"\n')
    evil = evil.replace('  "dev/*":\n    type: code\n    parent: "master"',
                        '  "dev/*":\n    type: code\n    parent: "dev/x"')
    old = git("rev-parse", "dev/x", cwd=repo).strip()
    _forge(repo, "dev/x", {"branchml.yaml": evil.encode(), "models/m.pkl": b"weights\n"})
    r = bml("check", "--range", f"{old}..dev/x", "--branch", "dev/x", cwd=repo)
    assert r.code == 1
    assert "models/m.pkl" in r.out and "refs/heads/master:branchml.yaml" in r.out
    # the twin: a code change on dev/x is accepted
    git("branch", "dev/y", old, cwd=repo)
    _forge(repo, "dev/y", {"src/train.py": b"print('better')\n"})
    ok = bml("check", "--range", f"{old}..dev/y", "--branch", "dev/y", cwd=repo)
    assert ok.code == 0, ok.out


# -- 3. a rerun adds what is missing from branchml's own set ----------------------------------

def test_rerun_without_model_reuses_the_recorded_models(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--model", "churn", "--no-lfs").code == 0
    assert _cfg(repo, "main")["scaffold"]["models"] == ["churn"]
    r = bml("init", ".", "--no-lfs", cwd=repo)
    assert r.code == 0 and "Nothing to do" in r.out, r.out
    for name in ("dev/model", "stable/model"):
        assert git_proc("rev-parse", "--verify", "-q", name, cwd=repo).returncode != 0
    more = bml("init", ".", "--model", "fraud", "--no-lfs", "--json", cwd=repo)
    assert {"dev/fraud", "stable/fraud"} <= set(json.loads(more.out)["branches"])
    assert _cfg(repo, "main")["scaffold"]["models"] == ["churn", "fraud"]


def test_rerun_does_not_restore_a_scaffold_doc_the_user_deleted(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--no-lfs").code == 0
    commit(repo, {"docs/problem.md": None}, "we do not keep a problem statement", verify=True)
    r = bml("init", ".", "--no-lfs", cwd=repo)
    assert r.code == 0 and "Nothing to do" in r.out, r.out
    assert not (repo / "docs/problem.md").exists()


def test_rerun_on_an_older_scaffold_without_a_record(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A repository scaffolded before the record: what the init commit added counts as made
    by branchml, and dev/* names the models."""
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--model", "churn", "--no-lfs").code == 0
    text = (repo / "branchml.yaml").read_text()
    old = text[:text.index("# What `branchml init` scaffolded")].replace("version: 2",
                                                                        "version: 1")
    commit(repo, {"branchml.yaml": old, "docs/data.md": None}, "as an older branchml left it")
    r = bml("init", ".", "--no-lfs", cwd=repo)
    assert r.code == 0 and "Nothing to do" in r.out, r.out
    assert git_proc("rev-parse", "--verify", "-q", "dev/model", cwd=repo).returncode != 0


def _evil_config(repo: Path) -> bytes:
    """master's config, rewritten to make dev/x the main type and let it hold models."""
    cfg = git("show", "master:branchml.yaml", cwd=repo)
    evil = cfg.replace('  "master":\n    type: main\n', '  "dev/x":\n    type: main\n'
                       '    may_change: [code, models, docs, config]\n  "master":\n'
                       '    type: code\n    parent: "dev/x"\n')
    return evil.replace('  "dev/*":\n    type: code\n    parent: "master"',
                        '  "dev/*":\n    type: code\n    parent: "dev/x"').encode()


@pytest.mark.slow
def test_server_trusts_the_main_its_owner_named(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """`branchml install --main master` on the bare server: its pre-receive judges by master's
    config; a pushed branch whose config names itself main is refused (refs unmoved), its
    twin is accepted; `branchml clone` reads the server's HEAD and trusts master too."""
    repo = _master_repo(tmp_path)
    assert bml("init", ".", "--main", "master", "--no-lfs", cwd=repo).code == 0
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "-b", "master", str(bare), cwd=tmp_path)
    r = bml("install", "--main", "master", "--no-lfs", cwd=bare)
    assert r.code == 0, r.err
    assert git("config", "branchml.trustedRef", cwd=bare).strip() == "refs/heads/master"
    git("remote", "add", "origin", str(bare), cwd=repo)
    first = git_proc("push", "origin", "master", "raw", "clean", "split", "monitoring",
                     "dev/model", "stable/model", cwd=repo)
    assert first.returncode == 0, first.stderr
    git("branch", "dev/x", "dev/model", cwd=repo)
    _forge(repo, "dev/x", {"branchml.yaml": _evil_config(repo), "models/m.pkl": b"weights\n"})
    before = git("for-each-ref", cwd=bare)
    refused = git_proc("push", "--no-verify", "origin", "dev/x", cwd=repo)
    assert refused.returncode != 0 and "models/m.pkl" in refused.stderr, refused.stderr
    assert git("for-each-ref", cwd=bare) == before
    git("branch", "dev/y", "dev/model", cwd=repo)
    _forge(repo, "dev/y", {"src/train.py": b"print('better')\n"})
    ok = git_proc("push", "--no-verify", "origin", "dev/y", cwd=repo)
    assert ok.returncode == 0, ok.stderr
    clone = tmp_path / "clone"
    c = bml("clone", str(bare), str(clone))
    assert c.code == 0, c.err
    assert git("config", "branchml.trustedRef", cwd=clone).strip() == "refs/heads/master"
    assert git("branch", "--show-current", cwd=clone).strip() == "master"
    st = bml("status", "--json", cwd=clone)
    assert "refs/heads/master:branchml.yaml" in st.out, st.out


# -- 4. branchml upgrade ----------------------------------------------------------------------

def _older_scaffold(tmp_path: Path) -> Path:
    """A repository as an older branchml left it: config version 1 without a scaffold record,
    templates of that day (README without its last line, another Goal line, another title of
    structure.md), no hooks; then the user's edits and a deleted model card."""
    from branchml.ops import scaffold

    repo = tmp_path / "old"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    now = {p: d.decode() for p, d in scaffold.scaffold_files("old", "model", False).items()}
    then = dict(now)
    then["branchml.yaml"] = now["branchml.yaml"].replace("version: 2", "version: 1")
    then["README.md"] = now["README.md"].replace("See `docs/structure.md`.\n", "")
    then["docs/problem.md"] = now["docs/problem.md"].replace(" or product", "")
    then["docs/structure.md"] = now["docs/structure.md"].replace("# Project structure",
                                                                 "# Structure")
    for path, text in then.items():
        write(repo, path, text)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "branchml init: lay out the project on main", cwd=repo)
    for name in ("raw", "clean", "split", "monitoring", "dev/model", "stable/model"):
        git("branch", name, cwd=repo)
    commit(repo, {"README.md": then["README.md"].replace("# old", "# Churn at ACME"),
                  "docs/problem.md": then["docs/problem.md"].replace(
                      "what decision does the model serve?", "keep customers."),
                  "docs/model_card.md": None}, "our own words")
    return repo


def test_upgrade_dry_run_changes_nothing_and_says_what_it_would_do(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _older_scaffold(tmp_path)
    before = snapshot(repo)
    r = bml("upgrade", "--dry-run", "--json", cwd=repo)
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert (plan["version_from"], plan["version_to"]) == (1, 2)
    assert plan["updated"] == ["docs/structure.md"] and plan["merged"] == ["README.md"]
    assert plan["conflicts"] == ["docs/problem.md"] and plan["added"] == []
    assert any(s.startswith("install hook pre-commit") for s in plan["steps"])
    assert snapshot(repo) == before


def test_upgrade_migrates_merges_and_never_overwrites_edits(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _older_scaffold(tmp_path)
    old = git("rev-parse", "main", cwd=repo).strip()
    r = bml("upgrade", cwd=repo)
    assert r.code == 0, r.err
    assert "Left as they are (the template change conflicts with your edits; merge it by " \
           "hand): docs/problem.md" in r.out
    new = git("rev-parse", "main", cwd=repo).strip()
    assert git("rev-parse", f"{new}^", cwd=repo).strip() == old  # one commit on main
    cfg = _cfg(repo, "main")
    assert cfg["version"] == 2 and cfg["scaffold"]["models"] == ["model"]
    readme = git("show", "main:README.md", cwd=repo)
    assert readme.startswith("# Churn at ACME")
    assert readme.rstrip().endswith("See `docs/structure.md`.")
    assert "keep customers." in git("show", "main:docs/problem.md", cwd=repo)
    assert git("show", "main:docs/structure.md", cwd=repo).startswith("# Project structure")
    assert git_proc("cat-file", "-e", "main:docs/model_card.md", cwd=repo).returncode != 0
    assert (repo / ".git/hooks/pre-commit").exists()
    assert git("config", "merge.branchml-append.driver", cwd=repo).strip()
    # the op log holds main's before and after: the upgrade is undone by moving main back
    log = [json.loads(x) for x in (repo / ".git/branchml/oplog.jsonl").read_text().splitlines()]
    end = [e for e in log if e.get("event") == "end"][-1]
    assert {"kind": "ref", "ref": "refs/heads/main", "old": old, "new": new}.items() <= \
        next(c for c in end["changes"] if c.get("ref") == "refs/heads/main").items()
    # a rerun has nothing to merge but still names the conflict
    again = bml("upgrade", cwd=repo)
    assert again.code == 0 and "Nothing to do" in again.out and "docs/problem.md" in again.out


def test_upgrade_on_a_current_repository_has_nothing_to_do(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    assert bml("init", str(repo), "--no-lfs").code == 0
    before = snapshot(repo)
    r = bml("upgrade", cwd=repo)
    assert r.code == 0 and r.out.startswith("Nothing to do"), r.out
    assert snapshot(repo) == before


def test_upgrade_refuses_a_repository_branchml_never_set_up(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _master_repo(tmp_path)
    r = bml("upgrade", cwd=repo)
    assert r.code == 4 and "run `branchml init .` instead" in r.err


def test_upgrade_leaves_a_readme_the_user_committed_with_their_own_config(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Attack on the derived record: a branchml.yaml committed by hand together with the
    user's README (not by init) does not make that README branchml's to replace."""
    from branchml.ops import scaffold

    repo = tmp_path / "own"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    cfg = scaffold.scaffold_files("own", "model", False)["branchml.yaml"].decode()
    write(repo, "branchml.yaml", cfg.replace("version: 2", "version: 1"))
    write(repo, "README.md", "# Our own README\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "set up the policy by hand", cwd=repo)
    r = bml("upgrade", "--json", cwd=repo)
    assert r.code == 0, r.err
    done = json.loads(r.out)
    assert "README.md" not in done["updated"] + done["merged"]
    assert "docs/problem.md" in done["added"]
    assert git("show", "main:README.md", cwd=repo) == "# Our own README"


def test_the_scaffold_block_is_replaced_in_place_and_the_rest_kept() -> None:
    from branchml.ops.scaffold_record import ScaffoldRecord, with_record

    user = b"version: 2\n# my note\nunknown_branches: allow\n"
    one = with_record(user, ScaffoldRecord(("a",), {"README.md": "1" * 40}))
    two = with_record(one + b"# after\n", ScaffoldRecord(("a", "b"), {}))
    assert two.startswith(user) and two.endswith(b"# after\n")
    assert two.count(b"scaffold:") == 1 and two.count(b"# What `branchml init`") == 1
    assert yaml.safe_load(two)["scaffold"] == {"models": ["a", "b"], "files": {}}


def test_main_config_may_not_name_another_main(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Attack: a commit on master whose branchml.yaml gives type main to another branch (so
    master would fall out of every type and `evil` would carry main's rules): refused at
    pre-commit and by `check --range`; the twin (a config change that keeps master) passes."""
    repo = _master_repo(tmp_path)
    assert bml("init", ".", "--main", "master", "--no-lfs", cwd=repo).code == 0
    cfg = (repo / "branchml.yaml").read_text()
    write(repo, "branchml.yaml", cfg.replace('  "master":\n    type: main\n',
                                             '  "evil":\n    type: main\n').replace(
                                                 'parent: "master"', 'parent: "evil"'))
    git("add", "branchml.yaml", cwd=repo)
    refused = git_proc("commit", "-q", "-m", "evil is main now", cwd=repo)
    assert refused.returncode != 0
    assert "branchml.yaml gives type main to 'evil', but this repository's main branch is " \
           "master" in refused.stderr
    old = git("rev-parse", "master", cwd=repo).strip()
    git("commit", "-q", "--no-verify", "-m", "evil is main now", cwd=repo)
    r = bml("check", "--range", f"{old}..master", "--branch", "master", cwd=repo)
    assert r.code == 1 and "gives type main to 'evil'" in r.out
    git("reset", "-q", "--hard", old, cwd=repo)
    write(repo, "branchml.yaml", cfg.replace("unknown_branches: reject",
                                             "unknown_branches: allow"))
    git("add", "branchml.yaml", cwd=repo)
    ok = git_proc("commit", "-q", "-m", "let feature branches be", cwd=repo)
    assert ok.returncode == 0, ok.stderr


def test_upgrade_refuses_uncommitted_edits_it_would_overwrite(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _older_scaffold(tmp_path)
    write(repo, "docs/structure.md", "# my uncommitted words\n")
    before = snapshot(repo)
    r = bml("upgrade", cwd=repo)
    assert r.code == 4 and "files that upgrade would overwrite (docs/structure.md)" in r.err
    assert snapshot(repo) == before


def test_init_of_a_new_folder_with_main_trunk(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "fresh"
    r = bml("init", str(repo), "--main", "trunk", "--no-lfs")
    assert r.code == 0, r.err
    assert git("branch", "--show-current", cwd=repo).strip() == "trunk"
    assert git_proc("rev-parse", "--verify", "-q", "main", cwd=repo).returncode != 0
    assert "`trunk`" in (repo / "README.md").read_text()
    assert _cfg(repo, "trunk")["branches"]["dev/*"]["parent"] == "trunk"
    assert git("rev-parse", "dev/model", cwd=repo) == git("rev-parse", "trunk", cwd=repo)
