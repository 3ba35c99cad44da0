"""Issue 15, item 5: the config itself. YAML limits (refused before anything is expanded or
cached), a change to main's branchml.yaml validated at every door, the repair of an invalid
trusted config, and the trusted ref in CI (the remote's main, else fail closed)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from branchml import config
from branchml.errors import ConfigError
from tests.conftest import commit, git, write

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
    ("too big", "version: 1\n# " + "x" * 270_000 + "\n",
     "270,014 bytes is over the limit of 262,144 bytes (256 KiB); keep the config small."),
    ("huge number", "version: 1\nsplit: {seed: " + "9" * 5000 + "}\n",
     "line 2: the number 99999999999999999999... is too large; use at most 63 bits."),
    ("a date", "version: 1\nvalidate: [{glob: 'data/**', schema: {x: 2001-01-01}}]\n",
     "validate[0].schema.x: a date value is not supported; quote it to make it text."),
]


@pytest.mark.parametrize(("name", "text", "message"), LIMITS, ids=[c[0] for c in LIMITS])
def test_yaml_limits_one_sentence_exit_2(tmp_path: Path, bml, name: str, text: str,  # type: ignore[no-untyped-def]
                                         message: str) -> None:
    path = write(tmp_path, F, text)
    started = time.perf_counter()
    r = bml("config", "validate", str(path))
    assert time.perf_counter() - started < 1.0, name
    assert (r.code, r.err) == (2, f"branchml: error: {F}: {message}\n")


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
