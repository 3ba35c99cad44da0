"""branchml.yaml: schema, one-sentence errors naming file, key path and expectation, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, git, snapshot, write

GOOD = (Path(__file__).parent.parent / "templates" / "branchml.yaml").read_text()
CLASSES = "(code, data, models, tracking, docs, config)"

BAD = [
    ("version: 3\n", "branchml.yaml: version: 3 is not a config version this branchml reads "
     "(1, 2)."),
    ("branches: {}\n", "branchml.yaml: missing required key 'version'."),
    ("version: 1\nbranches:\n  \"stable/*\": {type: stable, parent: main, may_change: [code, modles]}\n",
     "branchml.yaml: branches.\"stable/*\".may_change[1]: 'modles' is not a path class "
     f"{CLASSES}."),
    ("version: 1\nfoo: 1\n", "branchml.yaml: unknown key 'foo' (known keys: version, "
     "path_classes, default_class, lfs, unknown_branches, branches, merge, formats, validate, "
     "split, widen_columns, pulls, promote, tags, train, reproduce, releases, refs, monitor, trees, adopted, scaffold)."),
    ("- a\n- b\n", "branchml.yaml: the top level must be a mapping of keys, not a list."),
    ("", "branchml.yaml: the file is empty; it needs at least `version: 1`."),
    ("version: [1\n", "branchml.yaml: line 2, column 1: expected ',' or ']', but got "
     "'<stream end>'; fix the YAML syntax."),
    ("version: 1\nversion: 1\n", "branchml.yaml: line 2: key 'version' appears twice; keep one."),
    ("version: 1\nbranches:\n  main: {type: trunk}\n",
     "branchml.yaml: branches.main.type: 'trunk' is not a branch type (main, data, code, "
     "stable, monitoring, analysis)."),
    ("version: 1\nbranches:\n  main: {type: main, protected: yes please}\n",
     "branchml.yaml: branches.main.protected: expected boolean, got str 'yes please'."),
    ("version: 1\nbranches:\n  \"stable/../x\": {type: stable, parent: main}\n",
     "branchml.yaml: branches: key 'stable/../x' is not a valid branch pattern."),
    ("version: 1\npath_classes: {cod: [\"a/**\"]}\n",
     f"branchml.yaml: path_classes: key 'cod' is not a valid path class {CLASSES}."),
    ("version: 1\npath_classes: {data: []}\n",
     "branchml.yaml: path_classes.data: must not be empty."),
    ("version: 1\npath_classes: {data: [\"/abs/**\"]}\n",
     "branchml.yaml: path_classes.data[0]: '/abs/**' is not a valid glob."),
    ("version: 1\nbranches:\n  raw: {type: data, parent: main, may_change: [data], "
     "ops: {data: [append]}}\n  main: {type: main}\n",
     "branchml.yaml: branches.raw.ops.data[0]: 'append' is not a operation (add, grow, modify, "
     "delete)."),
    ("version: 1\nbranches:\n  raw: {type: data, parent: main}\n",
     "branchml.yaml: branches: exactly one branch must have type main, found 0."),
    ("version: 1\nbranches:\n  main: {type: main}\n  raw: {type: data, parent: nope}\n",
     "branchml.yaml: branches.\"raw\".parent: 'nope' is not a branch defined under branches."),
    ("version: 1\nbranches:\n  main: {type: main}\n  raw: {type: data}\n",
     "branchml.yaml: branches.\"raw\".parent: missing; name the branch this type starts from."),
    ("version: 1\nbranches:\n  main: {type: main, may_change: [docs], ops: {data: [add]}}\n",
     "branchml.yaml: branches.\"main\".ops: 'data' is not in may_change; add it there or "
     "remove it."),
    ("version: 1\nunknown_branches: maybe\n",
     "branchml.yaml: unknown_branches: 'maybe' is not a choice (reject, allow)."),
    ("version: 1\nlfs: [data, data]\n", "branchml.yaml: lfs: lists an item twice."),
    (b"version: 1\n# \xff\xfe\n", "branchml.yaml: not valid UTF-8 text; save it as UTF-8."),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_invalid_config_one_sentence_exit_2(tmp_path: Path, bml, text: str | bytes,  # type: ignore[no-untyped-def]
                                            message: str) -> None:
    path = write(tmp_path, "branchml.yaml", text)
    r = bml("config", "validate", str(path))
    assert r.code == 2
    assert r.err == f"branchml: error: {message}\n"
    assert "Traceback" not in r.err


def test_valid_config(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "branchml.yaml", GOOD)
    r = bml("config", "validate", str(path))
    assert (r.code, r.out) == (0, f"{path}: valid.\n")


def test_missing_file(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("config", "validate", str(tmp_path / "nope.yaml"))
    assert r.code == 2
    assert r.err == f"branchml: error: {tmp_path / 'nope.yaml'}: no such file; give the path of a branchml.yaml.\n"


def test_schema_is_printed_and_is_json_schema(bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("config", "schema")
    schema = json.loads(r.out)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["$defs"]["pathClass"]["enum"] == [
        "code", "data", "models", "tracking", "docs", "config"]


def test_show_json_fills_defaults(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    small = "version: 1\nbranches:\n  main: {type: main, may_change: [docs, config]}\n"
    commit(plain_project, {"branchml.yaml": small}, branch="main")
    r = bml("config", "show", "--json", cwd=plain_project)
    cfg = json.loads(r.out)
    assert cfg["branches"]["main"] == {"type": "main", "parent": None, "protected": False,
                                       "may_change": ["docs", "config"], "ops": {},
                                       "promoted": []}
    assert cfg["path_classes"]["data"] == ["data/**", "monitoring/**"]
    assert cfg["unknown_branches"] == "reject"


def test_show_yaml(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("config", "show", cwd=plain_project)
    assert r.code == 0 and "path_classes:" in r.out


def test_invalid_trusted_config_fails_closed(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"branchml.yaml": "version: 1\nbogus: true\n"}, branch="main")
    git("checkout", "-q", "raw", cwd=plain_project)
    before = snapshot(plain_project)
    r = bml("check", "--staged", cwd=plain_project)
    assert r.code == 2
    assert r.err.startswith("branchml: error: refs/heads/main:branchml.yaml: unknown key 'bogus'")
    assert snapshot(plain_project) == before
