"""The API and the CLI in the ecosystem's conventions: an API function with typed results for
every command, py.typed (mypy --strict on a user's script), docs/api.md executed as written,
shell completion with names from the repository, JSON errors under --json, flags without
`<bool>` in --help, check --staged's message, and test environments with every extra."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from branchml import api
from branchml.errors import UsageError
from tests.conftest import commit, git, write

ROOT = Path(__file__).resolve().parent.parent
MYPY = Path(sys.executable).parent / "mypy"


def command_paths() -> list[tuple[str, ...]]:
    """Every visible command of the CLI, as its words (`("runs", "compare")`)."""
    import typer.main

    from branchml.cli.commands import app

    out: list[tuple[str, ...]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs is None or (path and getattr(cmd, "invoke_without_command", False)):
            out.append(path)  # `runs` lists runs itself and has subcommands
        for name, sub in (subs or {}).items():
            if not sub.hidden:
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out


API_NAME = {("branch", "create"): "create_branch"}  # the one command named otherwise


# -- 1. the API -------------------------------------------------------------------------------

def test_every_command_has_an_api_function_with_a_typed_result() -> None:
    paths = command_paths()
    assert ("monitor", "check") in paths and ("runs",) in paths and ("runs", "plot") in paths
    for path in paths:
        name = API_NAME.get(path, "_".join(path).replace("-", "_"))
        assert name in api.__all__, f"`branchml {' '.join(path)}` has no api.{name}"
        ret = inspect.signature(getattr(api, name)).return_annotation
        assert ret is not inspect.Signature.empty and "Any" not in str(ret), (name, ret)
    for name in api.__all__:  # and every exported name resolves, the result classes too
        assert getattr(api, name) is not None


def test_result_classes_resolve_at_run_time() -> None:
    from branchml.ops.promote import PromoteReport
    from branchml.ops.runs import RunComparison

    assert api.PromoteReport is PromoteReport and api.RunComparison is RunComparison
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        api.Nope


def docs_script() -> str:
    """docs/api.md's Python blocks, in order: one script."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)
    assert len(blocks) >= 7
    return "\n".join(blocks)


@pytest.mark.slow
def test_docs_api_example_runs_as_written(tmp_path: Path) -> None:
    """The full loop (init, pull, split, promote, train, tag, track, deploy, rollback,
    monitor) of docs/api.md, executed as it stands there."""
    script = write(tmp_path, "loop.py", docs_script())
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = done.stdout
    assert "released acme-v1" in out and "acme runs acme-v2" in out
    assert "metric accuracy: 0.81 -> 0.84" in out
    assert "exit 2: there is no release acme-v99 here" in out
    assert (tmp_path / "prod" / "drift.html").read_text().startswith("<!doctype html>")
    assert git("tag", "--list", cwd=tmp_path / "acme").split() == ["acme-v1", "acme-v2"]


WRONG = '''
from branchml import api
from branchml.errors import UsageError

promoted = api.promote("dev/m", "stable/m")
promoted.no_such_field
manifest = api.show("acme-v1")
manifest["no_such_key"]
deployed: int = api.deployed("acme")["primary"]
'''


@pytest.mark.slow
def test_mypy_strict_on_a_user_script(tmp_path: Path) -> None:
    """py.typed ships: `mypy --strict` checks the docs' script clean (before py.typed every
    `from branchml import ...` was an error), and the types are real: mistakes are found."""
    assert (ROOT / "branchml" / "py.typed").is_file()
    write(tmp_path, "loop.py", docs_script())
    write(tmp_path, "wrong.py", WRONG)
    done = subprocess.run([str(MYPY), "--strict", "--no-incremental", "loop.py", "wrong.py"],
                          cwd=tmp_path, capture_output=True, text=True)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("loop.py")], done.stdout
    assert not any("import-untyped" in e or "import-not-found" in e for e in errors)
    wrong = [e.rsplit("[", 1)[1].rstrip("]") for e in errors if e.startswith("wrong.py")]
    assert wrong == ["attr-defined", "typeddict-item", "assignment"], done.stdout


def test_py_typed_is_in_the_wheel_file_selection() -> None:
    """The wheel ships the whole package folder (hatch: packages = ["branchml"]), so the
    marker goes with it; test_wheel.py builds one and looks."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert cfg["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["branchml"]
    ignored = (ROOT / ".gitignore").read_text() if (ROOT / ".gitignore").exists() else ""
    assert "py.typed" not in ignored


@pytest.fixture
def released(plain_project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """Two releases of acme with runs tracked from their tags, and training data for drift."""
    repo = plain_project
    cfg = git("show", "main:branchml.yaml", cwd=repo).replace("  target: null",
                                                               "  target: label")
    commit(repo, {"branchml.yaml": cfg + "\n"}, branch="main")
    rows = "\n".join(f"{i % 7},{i % 3},{i % 2}" for i in range(300))
    commit(repo, {"data/train.csv": "x1,x2,label\n" + rows + "\n"}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=repo).code == 0
    for n, acc in ((1, 0.8), (2, 0.9)):
        commit(repo, {"models/m.pkl": f"w{n}", "tracking/metrics.json": f'{{"acc": {acc}}}'},
               branch="stable/model")
        assert bml("tag", "--client", "acme", cwd=repo).code == 0
        assert bml("track", f"acme-v{n}", cwd=repo).code == 0
    git("checkout", "-q", "main", cwd=repo)
    return repo


def test_runs_compare_and_plot_through_the_api(released: Path, tmp_path: Path) -> None:
    c = api.runs_compare("acme-v1", "acme-v2", released)
    assert isinstance(c, api.RunComparison)
    row = c.rows["metric acc"]
    assert (row.a, row.b) == (0.8, 0.9) and row.delta == pytest.approx(0.1)
    p = api.runs_plot("acc", tmp_path / "acc.png", released)
    assert p.runs == ["acme-v1", "acme-v2"]
    assert (tmp_path / "acc.png").read_bytes()[:4] == b"\x89PNG"


def test_monitor_and_analysis_through_the_api(released: Path, tmp_path: Path) -> None:
    prod = write(tmp_path, "prod.csv", "x1,x2,prediction\n"
                 + "\n".join(f"{i % 7},{i % 3},1" for i in range(100)) + "\n")
    logged = api.monitor_log([prod], "acme", "acme-v1", released)
    assert isinstance(logged, api.LogReport) and len(logged.files) == 1
    assert api.monitor_log([prod], "acme", "acme-v1", released).already == [str(prod)]
    drift = api.monitor_check("acme-v1", path=released)
    assert drift["rows"] == 100 and {f["feature"] for f in drift["features"]} == {"x1", "x2"}
    report = tmp_path / "drift.md"
    assert api.monitor_report("acme-v1", report, path=released)["rows"] == 100
    assert report.read_text().startswith("# Drift of acme-v1")
    with pytest.raises(UsageError, match=r"a report is written as \.html or \.md, not \.txt"):
        api.monitor_report("acme-v1", tmp_path / "drift.txt", path=released)
    assert not (tmp_path / "drift.txt").exists()
    started = api.analysis_start("acme", released)
    assert started["branch"] == "ds/acme"
    assert git("rev-parse", "ds/acme", cwd=released) == started["commit"]


# -- 2. shell completion ------------------------------------------------------------------

def complete(bml, monkeypatch: pytest.MonkeyPatch, words: str, cwd: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """What bash gets on Tab after `words` (the last word is the one being completed)."""
    parts = words.split(" ")
    monkeypatch.setenv("_BRANCHML_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(parts) - 1))
    r = bml(cwd=cwd)
    monkeypatch.delenv("_BRANCHML_COMPLETE")
    assert r.code == 0 and r.err == "", r.err
    return r.out.split()


def test_completion_offers_branches_tags_and_clients(released: Path, bml, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    git("update-ref", "refs/deploy/zeta", "main", cwd=released)
    assert complete(bml, monkeypatch, "branchml pull r", released) == ["raw"]
    assert "stable/model" in complete(bml, monkeypatch, "branchml promote dev/model ",
                                      released)
    assert complete(bml, monkeypatch, "branchml show acme-", released) == ["acme-v1",
                                                                           "acme-v2"]
    assert complete(bml, monkeypatch, "branchml runs compare acme-v1 acme-v", released) == [
        "acme-v1", "acme-v2"]
    assert complete(bml, monkeypatch, "branchml deploy acme-v2 --client ", released) == [
        "acme", "zeta"]
    assert complete(bml, monkeypatch, "branchml monitor check --tag acme-v2", released) == [
        "acme-v2"]
    # -C on the line being completed names the repository; outside any, nothing (no error)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert complete(bml, monkeypatch, f"branchml -C {released} show acme-v1", outside) == [
        "acme-v1"]
    assert complete(bml, monkeypatch, "branchml show a", outside) == []
    assert "releases" in complete(bml, monkeypatch, "branchml rel", outside)


def test_completion_never_offers_a_name_the_shell_would_run(released: Path, bml,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """git allows `;`, `$(`, `|` and backquotes in ref names, and bash puts a completed word
    into the command line unquoted: a tag fetched from someone else's push, offered on Tab,
    would run its command when the line is entered. Such names are not offered; the
    legitimate twins beside them are."""
    head = git("rev-parse", "main", cwd=released)
    evil_tag, evil_branch = "acme-v1;$(touch${IFS}pwned)", "dev/x|sh"
    git("update-ref", f"refs/tags/{evil_tag}", head, cwd=released)
    git("update-ref", f"refs/heads/{evil_branch}", head, cwd=released)
    git("update-ref", "refs/deploy/`id`", head, cwd=released)
    git("update-ref", "refs/heads/dev/x-1", head, cwd=released)
    assert git("tag", "--list", "acme-v1*", cwd=released).splitlines() == ["acme-v1", evil_tag]
    assert complete(bml, monkeypatch, "branchml show acme-v1", released) == ["acme-v1"]
    assert complete(bml, monkeypatch, "branchml pull dev/x", released) == ["dev/x-1"]
    assert complete(bml, monkeypatch, "branchml releases --client ", released) == ["acme"]
    assert not (released / "pwned").exists()


def test_completion_writes_nothing_even_after_a_killed_run(released: Path, bml,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A Tab press must not finish (write) a killed run: only a command does."""
    log = Path(git("rev-parse", "--git-common-dir", cwd=released))
    log = (released / log if not log.is_absolute() else log) / "branchml" / "oplog.jsonl"
    log.parent.mkdir(exist_ok=True)
    line = json.dumps({"op": "1-x", "event": "begin", "command": "pull", "argv": [],
                       "time": "2026-01-01T00:00:00+00:00", "refs": [], "checkouts": []})
    log.write_text(line + "\n")
    assert complete(bml, monkeypatch, "branchml show acme-v2", released) == ["acme-v2"]
    assert log.read_text() == line + "\n"


def test_show_and_install_completion(bml, tmp_path: Path,  # type: ignore[no-untyped-def]
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # typer detects the shell from the parent process (make's /bin/sh under CI, which it
    # does not support); with detection off the options take the shell's name, as here
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    r = bml("--show-completion", "bash", cwd=tmp_path)
    assert r.code == 0 and "_BRANCHML_COMPLETE=complete_bash" in r.out
    assert "complete -o default -F _branchml_completion branchml" in r.out
    monkeypatch.setenv("HOME", str(tmp_path))
    r = bml("--install-completion", "bash", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "_BRANCHML_COMPLETE" in (tmp_path / ".bash_completions" / "branchml.sh").read_text()
    assert ".bash_completions/branchml.sh" in (tmp_path / ".bashrc").read_text()


# -- 3. JSON errors -------------------------------------------------------------------------

def json_error(r: Any) -> dict[str, Any]:
    assert r.out == "", r.out  # stdout holds data only
    lines = r.err.splitlines()
    assert len(lines) == 1, r.err
    found: dict[str, Any] = json.loads(lines[0])
    assert set(found) == {"error", "exit_code"} and found["exit_code"] == r.code
    return found


def test_errors_are_json_under_json(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    # the fast path (show), a typer command (status), a usage error typer finds (an option)
    r = bml("show", "acme-v9", "--json", cwd=plain_project)
    assert json_error(r)["error"] == "there is no release acme-v9 here; see `branchml releases`."
    assert r.code == 2
    r = bml("status", "--json", "--bogus", cwd=plain_project)
    assert json_error(r) == {"error": "No such option: --bogus; see `branchml status --help`.",
                             "exit_code": 2}
    r = bml("verify", "acme-v9", "--json", cwd=plain_project)
    assert json_error(r)["exit_code"] == 2
    r = bml("runs", "plot", "acc", "-o", "x.png", "--json", cwd=plain_project)
    assert json_error(r) == {"error": "no run on main has the metric 'acc'.", "exit_code": 2}
    r = bml("status", "--json", cwd=plain_project.parent)  # not a repository: exit 4
    assert json_error(r)["exit_code"] == 4
    # the twin without --json: the sentence as before; and a --json after `--` is an argument
    r = bml("show", "acme-v9", cwd=plain_project)
    assert r.err == "branchml: error: there is no release acme-v9 here; see `branchml " \
                    "releases`.\n"
    r = bml("branch", "create", "--", "--json", cwd=plain_project)
    assert r.code == 2 and r.err.startswith("branchml: error: ")


def test_an_internal_error_is_json_too(plain_project: Path, bml,  # type: ignore[no-untyped-def]
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api, "status", broken)
    err = json_error(bml("status", "--json", cwd=plain_project))
    assert err["exit_code"] == 70 and "crash.log" in err["error"]


def test_config_validate_and_runs_plot_json(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = bml("config", "validate", "--json", cwd=plain_project)
    assert (r.code, json.loads(r.out)) == (0, {"file": "branchml.yaml", "valid": True})
    bad = write(tmp_path, "bad.yaml", "version: 1\nbogus: true\n")
    r = bml("config", "validate", str(bad), "--json", cwd=plain_project)
    assert r.code == 2 and "unknown key 'bogus'" in json_error(r)["error"]
    commit(plain_project, {"tracking/metrics.json": '{"acc": 0.5}'}, branch="stable/model")
    assert bml("track", cwd=plain_project).code == 0
    png = tmp_path / "acc.png"
    r = bml("runs", "plot", "acc", "-o", str(png), "--json", cwd=plain_project)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["metric"] == "acc" and out["output"] == str(png) and len(out["runs"]) == 1
    assert png.read_bytes()[:4] == b"\x89PNG"


# -- 4. help and messages -------------------------------------------------------------------

def test_no_flag_shows_a_bool_type_in_help(bml, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    for path in [(), *command_paths()]:
        r = bml(*path, "--help", cwd=tmp_path)
        assert r.code == 0, (path, r.err)
        assert "<bool>" not in r.out and "BOOLEAN" not in r.out, path
    r = bml("check", "--help", cwd=tmp_path)
    assert re.search(r"--range\s+A\.\.B", r.out) and re.search(r"--branch\s+<str>", r.out)
    assert re.search(r"--staged\s+Judge the staged", r.out)  # the twin: values keep a type


def test_check_staged_with_nothing_staged_says_so(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("check", "--staged", cwd=plain_project)
    assert (r.code, r.out) == (0, "ok: main: nothing is staged, so there is nothing to "
                                  "check.\n")
    assert json.loads(bml("check", "--staged", "--json", cwd=plain_project).out)[
        "staged_paths"] == 0
    write(plain_project, "docs/a.md", "a\n")
    write(plain_project, "docs/b.md", "b\n")
    git("add", "docs", cwd=plain_project)
    r = bml("check", "--staged", cwd=plain_project)
    assert r.out == "ok: main: the 2 staged change(s) follow the policy (HEAD:branchml.yaml).\n"


# -- 5. test environments carry every extra -------------------------------------------------

def test_dev_extra_carries_every_optional_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]

    def name(req: str) -> str:
        return re.split(r"[<>=~!\[ ;]", req, maxsplit=1)[0].lower()

    dev = {name(r) for r in extras["dev"]}
    for extra, reqs in extras.items():
        assert {name(r) for r in reqs} <= dev, f"the {extra} extra is not all in dev"
    make = (ROOT / "Makefile").read_text()
    assert "-e '.[dev]'" in make
    # the opt-in kill matrix is deselected, not skipped: a skip means something is missing
    assert re.search(r'^test: .*\n\t\$\(BIN\)/pytest .* -m "not faults"$', make, re.M)


def test_matplotlib_is_installed_here() -> None:
    """test_track.py's and this file's plots run (no skip) wherever `make venv` was run."""
    import matplotlib

    assert matplotlib.__version__
