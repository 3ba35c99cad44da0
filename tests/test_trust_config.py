"""Issue 15, item 5: the config itself. YAML limits (refused before anything is expanded or
cached), a change to main's branchml.yaml validated at every door, the repair of an invalid
trusted config, and the trusted ref in CI (the remote's main, else fail closed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from branchml import config
from branchml.errors import ConfigError
from tests import test_push
from tests.conftest import commit, copied_fixtures, git, git_proc, write

project = copied_fixtures()

remote, server = test_push.remote, test_push.server  # the bare server fixtures, shared

F = "branchml.yaml"


def bomb(levels: int = 55) -> str:
    """A billion-laughs config under validate[].schema, about 4 KB."""
    lines = ["version: 1", "validate:", "  - glob: 'data/**'", "    schema:",
             '      a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"      a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


LIMITS = [
    ("bomb", bomb(), "line 10: aliases expand it beyond the limit of 1,000,000 values and "
     "characters; repeat less through aliases."),
    ("recursive list", "version: 1\nx: &a [1, *a]\n",
     "line 2: alias *a points at a list or mapping that contains it (a recursive alias); "
     "remove it."),
    ("recursive mapping", "version: 1\nx: &a {b: {c: *a}}\n",
     "line 2: alias *a points at a list or mapping that contains it (a recursive alias); "
     "remove it."),
    ("list as key", "version: 1\n[a, b]: 1\n",
     "line 2: a list is used as a key; keys must be plain text."),
    ("mapping as key", "version: 1\n? {a: 1}\n: 2\n",
     "line 2: a mapping is used as a key; keys must be plain text."),
    ("alias as key", "version: 1\nl: &l [1]\n? *l\n: 2\n",
     "line 3: alias *l puts a list or mapping in a key; keys must be plain text."),
    ("5,000 nested lists", "version: 1\nx: " + "[" * 5000 + "]" * 5000 + "\n",
     "line 2: nested more than 64 levels deep; flatten it."),
    ("nested through aliases", "version: 1\nd: &d " + "[" * 40 + "]" * 40 + "\ne: "
     + "[" * 30 + "*d" + "]" * 30 + "\n",
     "line 3: aliases nest it more than 64 levels deep; flatten it."),
    ("too big", "version: 1\n# " + "x" * 70_000 + "\n",
     "70,014 bytes is over the limit of 65,536 bytes (64 KiB); keep the config small."),
    ("huge number", "version: 1\nsplit: {seed: " + "9" * 5000 + "}\n",
     "line 2: the number 99999999999999999999... is too large; use at most 63 bits."),
    ("a date", "version: 1\nvalidate: [{glob: 'data/**', schema: {x: 2001-01-01}}]\n",
     "validate[0].schema.x: a date value is not supported; quote it to make it text."),
    ("a set", "version: 1\nvalidate: [{glob: 'data/**', schema: {x: !!set {a, b}}}]\n",
     "validate[0].schema.x: a set value is not supported; quote it to make it text."),
]


@pytest.mark.parametrize(("name", "text", "message"), LIMITS, ids=[c[0] for c in LIMITS])
def test_yaml_limits_one_sentence_exit_2(tmp_path: Path, bml, name: str, text: str,  # type: ignore[no-untyped-def]
                                         message: str) -> None:
    path = write(tmp_path, F, text)
    r = bml("config", "validate", str(path))
    assert (r.code, r.err) == (2, f"branchml: error: {F}: {message}\n")
    started = time.perf_counter()  # PyYAML and jsonschema are imported by now
    with pytest.raises(ConfigError):
        config.load_bytes(text.encode(), F, tmp_path / "cache")
    assert time.perf_counter() - started < 0.5, name
    assert not (tmp_path / "cache").exists()


def test_bomb_is_4_kb_and_refused_before_expansion_or_cache(tmp_path: Path) -> None:
    raw = bomb().encode()
    assert 3500 < len(raw) < 4500
    cache = tmp_path / "cache"
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases expand it beyond the limit"):
        config.load_bytes(raw, F, cache)
    assert time.perf_counter() - started < 0.5
    assert not cache.exists() or not any(cache.iterdir())


def test_legitimate_aliases_and_anchors_are_kept(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The twin: anchors reused a few times, a mapping merged as a value, nesting of ten."""
    text = ("version: 1\nbranches:\n  main: {type: main, protected: true, may_change: &mine "
            "[docs, config]}\n  raw: {type: data, parent: main, may_change: *mine}\n"
            "validate:\n  - glob: 'data/**'\n    schema: &s {type: object, properties: "
            + "{a: " * 10 + "{}" + "}" * 10 + "}\n  - glob: 'x/**'\n    schema: *s\n")
    path = write(tmp_path, F, text)
    r = bml("config", "validate", str(path))
    assert (r.code, r.err) == (0, ""), r.err
    cfg = config.load_file(path)
    assert cfg["branches"]["raw"]["may_change"] == ["docs", "config"]
    assert cfg["validate"][1]["schema"] == cfg["validate"][0]["schema"]


def test_status_with_a_bomb_on_main_writes_no_big_cache(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The issue's report: `branchml status` wrote a 3.16 GB cache file."""
    commit(plain_project, {F: bomb()}, branch="main")
    started = time.perf_counter()
    r = bml("status", cwd=plain_project)
    assert time.perf_counter() - started < 2.0
    assert r.code == 2 and "aliases expand it beyond the limit" in r.err
    assert "Traceback" not in r.err
    cache = Path(git("rev-parse", "--git-common-dir", cwd=plain_project))
    cache = (plain_project / cache if not cache.is_absolute() else cache) / "branchml" / "cache"
    assert sum(p.stat().st_size for p in cache.iterdir()) < 200_000


# --- (a) a change to main's branchml.yaml is validated at every door -----------------------

GOOD = (Path(__file__).parent.parent / "templates" / F).read_text()
BOGUS = "version: 1\nbogus: true\n"
STRICT_DEV = GOOD.replace("    may_change: [code, data, docs, config]\n",
                          "    may_change: [code, docs, config]\n", 1)
NOT_VALID = "branchml.yaml is not a valid config: unknown key 'bogus'"


def head(repo: Path, rev: str = "HEAD") -> str:
    return git("rev-parse", rev, cwd=repo)


@pytest.mark.parametrize(("text", "why"), [
    (BOGUS, NOT_VALID),
    (bomb(), "branchml.yaml is not a valid config: line 10: aliases expand it beyond the limit"),
    ("version: 1\n[a]: 1\n", "branchml.yaml is not a valid config: line 2: a list is used as a "
     "key"),
])
def test_pre_commit_refuses_an_invalid_config_on_main(project: Path, text: str, why: str) -> None:
    before = head(project)
    git("checkout", "-q", "main", cwd=project)
    write(project, F, text)
    git("add", F, cwd=project)
    started = time.perf_counter()
    p = git_proc("commit", "-q", "-m", "config", cwd=project)
    assert time.perf_counter() - started < 3.0
    assert p.returncode != 0
    assert f"main: {why}" in p.stderr
    assert "Traceback" not in p.stderr
    assert head(project, "main") == before


def test_pre_commit_accepts_a_valid_config_change_on_main(project: Path) -> None:
    git("checkout", "-q", "main", cwd=project)
    write(project, F, STRICT_DEV)
    git("add", F, cwd=project)
    p = git_proc("commit", "-q", "-m", "dev may not change data", cwd=project)
    assert p.returncode == 0, p.stderr


def test_check_range_on_main_validates_each_new_config(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = head(plain_project, "main")
    bad = commit(plain_project, {F: BOGUS}, branch="main")
    commit(plain_project, {F: GOOD})  # fixed again: the broken commit is still refused
    r = bml("check", "--range", f"{base}..main", "--branch", "main", cwd=plain_project)
    assert r.code == 1
    assert r.out.startswith(f"main: commit {bad[:10]}: {NOT_VALID} (known keys: ")
    git("reset", "-q", "--hard", base, cwd=plain_project)
    commit(plain_project, {F: STRICT_DEV})
    r = bml("check", "--range", f"{base}..main", "--branch", "main", cwd=plain_project)
    assert (r.code, r.out) == (0, f"ok: main: 1 commit(s) follow the policy ({base}:{F}).\n")


def handmade_main(project: Path, entry: str) -> str:
    """main + one commit whose tree has `entry` (an ls-tree line) for branchml.yaml, made by
    hand the way an attacker would (no hook runs), and main moved onto it."""
    lines = [line for line in git("ls-tree", "main", cwd=project).splitlines()
             if not line.endswith("\t" + F)]
    tree = git("mktree", cwd=project, input="\n".join([*lines, entry]) + "\n")
    sha = git("commit-tree", tree, "-p", "main", "-m", "config by hand", cwd=project)
    git("update-ref", "refs/heads/main", sha, cwd=project)
    return sha


@pytest.mark.slow
def test_pre_receive_refuses_a_config_that_is_not_a_file(project: Path, server: Path) -> None:
    before = head(server, "main")
    git("checkout", "-q", "raw", cwd=project)
    blob = git("hash-object", "-w", "--stdin", cwd=project, input="templates/x.yaml")
    oversized = git("hash-object", "-w", "--stdin", cwd=project, input=GOOD + "#" * 70_000)
    for entry, why in [
        (f"120000 blob {blob}\t{F}", f"{F} must be a regular file, not a symbolic link"),
        (f"160000 commit {before}\t{F}", f"{F} must be a regular file, not a submodule"),
        (f"100644 blob {oversized}\t{F}", f"{F} is not a valid config: "
         f"{len(GOOD) + 70_000:,} bytes is over the limit of 65,536 bytes"),
    ]:
        sha = handmade_main(project, entry)
        p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
        assert p.returncode != 0
        assert f"remote:   main: commit {sha[:10]}: {why}" in p.stderr
        assert head(server, "main") == before
        git("update-ref", "refs/heads/main", before, cwd=project)


@pytest.mark.slow
def test_pre_receive_refuses_an_invalid_config_on_main(project: Path, server: Path) -> None:
    before = head(server, "main")
    commit(project, {F: BOGUS}, branch="main")
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode != 0
    assert f"remote:   main: commit {head(project)[:10]}: {NOT_VALID}" in p.stderr
    assert head(server, "main") == before
    p = git_proc("push", "origin", "main", cwd=project)  # the client's pre-push says the same
    assert p.returncode != 0 and NOT_VALID in p.stderr
    assert head(server, "main") == before
    git("reset", "-q", "--hard", "HEAD~1", cwd=project)
    commit(project, {F: STRICT_DEV})  # the legitimate twin
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode == 0, p.stderr
    assert head(server, "main") == head(project, "main")


# --- (a) when the trusted config is already invalid, only its repair is accepted -----------

@pytest.fixture
def broken_server(project: Path, remote: Path) -> Path:
    """A server whose main already holds an invalid branchml.yaml (pushed before the hook)."""
    commit(project, {F: BOGUS}, branch="main")
    git("push", "-q", "--no-verify", "origin", "main", cwd=project)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexec branchml hook pre-receive\n")
    hook.chmod(0o755)
    return remote


REPAIR = "until it is valid, main accepts only"


@pytest.mark.slow
def test_invalid_trusted_config_accepts_only_its_repair(project: Path,
                                                        broken_server: Path) -> None:
    main, raw = head(broken_server, "main"), head(broken_server, "raw")
    commit(project, {"data/a.csv": "a\n"}, branch="raw")
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0
    assert "refs/heads/main:branchml.yaml: unknown key 'bogus'" in p.stderr
    assert f"{REPAIR} a commit that changes branchml.yaml alone and makes it valid" in p.stderr
    p = git_proc("push", "--no-verify", "origin", ":raw", cwd=project)
    assert p.returncode != 0 and "raw is protected: deleting it is refused" in p.stderr
    commit(project, {F: GOOD, "docs/x.md": "x\n"}, branch="main")  # the fix and more
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode != 0
    assert f"{REPAIR} commits that change branchml.yaml alone and make it valid" in p.stderr, p.stderr
    assert "main takes no docs: commit docs/x.md on" in p.stderr
    git("reset", "-q", "--hard", "HEAD~1", cwd=project)
    commit(project, {F: "version: 1\nbogus: false\n"})  # still invalid
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode != 0 and NOT_VALID in p.stderr
    assert (head(broken_server, "main"), head(broken_server, "raw")) == (main, raw)
    commit(project, {F: GOOD})  # the repair, on top: its parent is still invalid
    git("reset", "-q", "--soft", "HEAD~2", cwd=project)
    git("commit", "-q", "--no-verify", "-m", "repair", cwd=project)
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode == 0, p.stderr
    assert head(broken_server, "main") == head(project, "main")
    # and the rest works again (its LFS object uploaded first: --no-verify skips git-lfs's
    # pre-push, and the server refuses a pointer whose object it does not hold)
    git("lfs", "push", "origin", "raw", cwd=project)
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode == 0, p.stderr


def test_local_repair_through_the_pre_commit_hook(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(project, {F: BOGUS}, branch="main")
    r = bml("status", cwd=project)
    assert r.code == 2
    assert r.err.startswith("branchml: error: refs/heads/main:branchml.yaml: unknown key")
    assert f"{REPAIR} a commit that changes branchml.yaml alone" in r.err
    write(project, "docs/x.md", "x\n")
    git("add", "docs/x.md", cwd=project)
    p = git_proc("commit", "-q", "-m", "docs", cwd=project)
    assert p.returncode != 0 and "docs/x.md" in p.stderr and REPAIR in p.stderr
    git("reset", "-q", "docs/x.md", cwd=project)
    write(project, F, GOOD)
    git("add", F, cwd=project)
    p = git_proc("commit", "-q", "-m", "repair", cwd=project)
    assert p.returncode == 0, p.stderr
    assert bml("status", cwd=project).code == 0


# --- (c) the trusted ref in CI ------------------------------------------------------------

@pytest.fixture
def ci(project: Path, remote: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """main forbids data on dev/*; dev/model gains data (pushed past the hooks); a CI checkout:
    detached at dev/model, no local main. Returns (checkout, base, head)."""
    commit(project, {F: STRICT_DEV}, branch="main")
    base = head(project, "dev/model")
    tip = commit(project, {"data/x.csv": "x\n"}, branch="dev/model")
    git("lfs", "push", "origin", "dev/model", cwd=project)  # what --no-verify skips
    git("push", "-q", "--no-verify", "origin", "main", "dev/model", cwd=project)
    checkout = tmp_path / "ci"
    git("clone", "-q", str(remote), str(checkout), cwd=tmp_path)
    git("checkout", "-q", "--detach", tip, cwd=checkout)
    git("lfs", "fetch", "origin", tip, cwd=checkout)  # as the CI templates do
    git("branch", "-q", "-D", "main", cwd=checkout)
    return checkout, base, tip


@pytest.mark.slow
def test_ci_without_local_main_reads_the_remotes_main(ci: tuple[Path, str, str], bml) -> None:  # type: ignore[no-untyped-def]
    checkout, base, tip = ci
    r = bml("check", "--range", f"{base}..{tip}", "--branch", "dev/model", cwd=checkout)
    assert r.code == 1
    assert r.out.endswith(f"1 violation of the policy (refs/remotes/origin/main:{F}).\n")
    assert "data/x.csv" in r.out
    git("remote", "rename", "origin", "upstream", cwd=checkout)  # the only remote, not origin
    r = bml("check", "--range", f"{base}..{tip}", "--branch", "dev/model", cwd=checkout)
    assert r.code == 1 and f"(refs/remotes/upstream/main:{F})" in r.out


@pytest.mark.slow
def test_ci_without_any_main_fails_closed(ci: tuple[Path, str, str], bml) -> None:  # type: ignore[no-untyped-def]
    checkout, base, tip = ci
    git("update-ref", "-d", "refs/remotes/origin/main", cwd=checkout)
    r = bml("check", "--range", f"{base}..{tip}", "--branch", "dev/model", cwd=checkout)
    assert r.code == 4
    assert r.err == (f"branchml: error: the trusted {F} is not here: refs/heads/main does not "
                     "exist and origin's main was not fetched; fetch it (`git fetch origin "
                     "main:main`, in CI before `branchml check`) and run again.\n")
    git("remote", "add", "mirror", "/nowhere", cwd=checkout)  # two remotes, neither is chosen
    git("remote", "rename", "origin", "upstream", cwd=checkout)
    r = bml("check", "--range", f"{base}..{tip}", "--branch", "dev/model", cwd=checkout)
    assert r.code == 4 and "refs/heads/main does not exist and no remote is named origin" in r.err
    git("remote", "rename", "upstream", "origin", cwd=checkout)
    git("fetch", "-q", "origin", "main:main", cwd=checkout)  # what the message says to do
    r = bml("check", "--range", f"{base}..{tip}", "--branch", "dev/model", cwd=checkout)
    assert r.code == 1 and f"(refs/heads/main:{F})" in r.out


def test_before_init_the_built_in_defaults_apply(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """No main, no remote main, no branchml.yaml anywhere: the defaults (the twin of above)."""
    repo = tmp_path / "fresh"
    git("init", "-q", "-b", "dev/x", str(repo), cwd=tmp_path)
    base = commit(repo, {"src/a.py": "a\n"})
    tip = commit(repo, {"src/b.py": "b\n"})
    r = bml("check", "--range", f"{base}..{tip}", "--branch", "dev/x", cwd=repo)
    assert (r.code, r.out) == (0, "ok: dev/x: 1 commit(s) follow the policy (built-in "
                                  "defaults).\n")


def test_check_range_on_main_under_repair(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """CI judging main after an invalid config landed: the repair alone passes, more fails."""
    broken = commit(plain_project, {F: BOGUS}, branch="main")
    fixed = commit(plain_project, {F: GOOD})
    r = bml("check", "--range", f"{broken}..{fixed}", "--branch", "main", cwd=plain_project)
    assert (r.code, r.out) == (0, f"ok: main: 1 commit(s) follow the policy ({broken}:{F}, "
                                  "invalid: repair only).\n")
    git("reset", "-q", "--hard", broken, cwd=plain_project)
    both = commit(plain_project, {F: GOOD, "data/a.csv": "a\n"})
    r = bml("check", "--range", f"{broken}..{both}", "--branch", "main", "--json",
            cwd=plain_project)
    assert r.code == 1
    rules = [v["rule"] for v in json.loads(r.out)["violations"]]
    assert rules == ["config-repair-only", "class-not-allowed"]
