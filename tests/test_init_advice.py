"""Issue 18, a newcomer's walk: `init`'s advice for a branch of no type names a branch the
config's patterns match (dev/feature-x, not dev/feature/x), and the checker's refusal of such a
branch names the real main branch (master in a `--main master` repository)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from branchml import config
from branchml.core.policy import policy_from_config
from branchml.ops.initnotes import code_name
from tests.conftest import commit, git, git_proc, write

DEFAULT = policy_from_config(config.load_bytes(None, ""))


def _legacy(tmp_path: Path, default: str = "master") -> Path:
    """A project with history: a README on `default`, code on the branch feature/x."""
    repo = tmp_path / "legacy"
    git("init", "-q", "-b", default, str(repo), cwd=tmp_path)
    write(repo, "README.md", "# legacy\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    git("branch", "feature/x", cwd=repo)
    return repo


def _advice(plan: dict, branch: str) -> list[str]:  # type: ignore[type-arg]
    """The `git branch -m OLD NEW` the plan advises for `branch`, as an argument list."""
    what = next(u["what"] for u in plan["untyped"] if u["branch"] == branch)
    return shlex.split(what.split("`")[1])


@pytest.mark.parametrize(("name", "taken", "want"), [
    ("feature/x", (), "dev/feature-x"),
    ("feature", (), "dev/feature"),
    ("dev/feature/x", (), "dev/feature-x"),  # the dev/ it already has is not doubled
    ("a//b", (), "dev/a-b"),
    ("feature/x", ("dev/feature-x",), "dev/feature-x-2"),  # never a branch that exists
    ("feature/x", ("dev/feature-x", "dev/feature-x-2"), "dev/feature-x-3"),
    ("dev", ("dev",), None),  # dev/anything cannot sit beside a branch dev
])
def test_code_name_matches_the_code_pattern(name: str, taken: tuple[str, ...],
                                            want: str | None) -> None:
    got = code_name(name, DEFAULT, taken)
    assert got == want
    if got is not None:  # checked against the config's patterns, as the brief asks
        bt = DEFAULT.branch_type(got)
        assert bt is not None and bt.pattern == "dev/*"


def test_code_name_follows_the_configs_own_code_pattern() -> None:
    text = config.default_config_text().replace('"dev/*":', '"work/*/code":')
    policy = policy_from_config(config.load_bytes(text.encode(), ""))
    assert code_name("feature/x", policy) == "work/feature-x/code"
    no_star = config.default_config_text().replace('"dev/*":', "develop:")
    assert code_name("feature/x", policy_from_config(config.load_bytes(no_star.encode(), ""))) \
        is None


def test_init_advice_renames_to_a_name_that_is_accepted(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The newcomer's walk: follow the plan's advice literally, then commit code there."""
    repo = _legacy(tmp_path, "main")
    r = bml("init", ".", "--dry-run", "--json", cwd=repo)
    assert r.code == 0, r.err
    argv = _advice(json.loads(r.out), "feature/x")
    assert argv == ["git", "branch", "-m", "feature/x", "dev/feature-x"]
    assert bml("init", ".", "--no-lfs", cwd=repo).code == 0
    git(*argv[1:], cwd=repo)
    commit(repo, {"src/train.py": "print('train')\n"}, "code", branch="dev/feature-x",
           verify=True)  # the pre-commit hook takes it
    assert bml("check", "--range", "main..dev/feature-x", "--branch", "dev/feature-x",
               cwd=repo).code == 0


def test_the_old_advice_is_what_the_checker_refuses(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The twin: the name the old advice gave (dev/feature/x) is still refused, with one
    sentence, so the advice had to change rather than the rule."""
    repo = _legacy(tmp_path, "main")
    assert bml("init", ".", "--no-lfs", cwd=repo).code == 0
    git("branch", "-m", "feature/x", "dev/feature/x", cwd=repo)
    git("checkout", "-q", "dev/feature/x", cwd=repo)
    write(repo, "src/train.py", "print('train')\n")
    git("add", ".", cwd=repo)
    refused = git_proc("commit", "-q", "-m", "code", cwd=repo)
    assert refused.returncode != 0
    assert "branch dev/feature/x matches no branch type" in refused.stderr


def test_advice_skips_a_name_that_is_taken(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _legacy(tmp_path, "main")
    git("branch", "dev/feature-x", cwd=repo)
    r = bml("init", ".", "--dry-run", "--json", cwd=repo)
    assert r.code == 0, r.err
    assert _advice(json.loads(r.out), "feature/x")[-1] == "dev/feature-x-2"


def test_refusal_names_master_in_a_main_master_repository(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _legacy(tmp_path, "master")
    assert bml("init", ".", "--main", "master", "--no-lfs", cwd=repo).code == 0
    git("checkout", "-q", "feature/x", cwd=repo)
    write(repo, "src/train.py", "print('train')\n")
    git("add", ".", cwd=repo)
    refused = git_proc("commit", "-q", "-m", "code", cwd=repo)
    assert refused.returncode != 0
    assert "add a type for it to branchml.yaml on master" in refused.stderr
    assert "on main" not in refused.stderr
    git("commit", "-q", "--no-verify", "-m", "code", cwd=repo)
    r = bml("check", "--range", "master..feature/x", "--branch", "feature/x", cwd=repo)
    assert r.code == 1 and "branchml.yaml on master" in r.out + r.err
    # master's own refusal of code names master, not main
    git("checkout", "-q", "master", cwd=repo)
    write(repo, "src/train.py", "print('edited')\n")
    git("add", ".", cwd=repo)
    on_master = git_proc("commit", "-q", "-m", "code on master", cwd=repo)
    assert on_master.returncode != 0
    assert "master: master takes no code" in on_master.stderr
    # a link the config does not allow: the setting to change is on master
    git("checkout", "-q", "--", ".", cwd=repo)
    git("checkout", "-q", "-b", "dev/feature-x", cwd=repo)
    (repo / "data").mkdir()
    (repo / "data" / "link").symlink_to("../README.md")
    git("add", ".", cwd=repo)
    on_dev = git_proc("commit", "-q", "-m", "a link on dev", cwd=repo)
    assert on_dev.returncode != 0
    assert "branchml.yaml on master" in on_dev.stderr, on_dev.stderr


def test_refusal_still_names_main_in_a_main_repository(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = _legacy(tmp_path, "main")
    assert bml("init", ".", "--no-lfs", cwd=repo).code == 0
    git("checkout", "-q", "feature/x", cwd=repo)
    write(repo, "src/train.py", "print('train')\n")
    git("add", ".", cwd=repo)
    refused = git_proc("commit", "-q", "-m", "code", cwd=repo)
    assert refused.returncode != 0 and "branchml.yaml on main" in refused.stderr
