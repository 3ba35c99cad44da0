"""The CLI contract: help on every option, --version fast, no tracebacks, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from branchml.cli.commands import app
from tests.conftest import BIN


def _commands(cmd: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = [(prefix, cmd)]
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            out += _commands(sub, f"{prefix} {name}".strip())
    return out


def test_every_option_and_argument_has_help() -> None:
    missing = []
    for name, cmd in _commands(typer.main.get_command(app)):
        if not cmd.help and name:
            missing.append(f"{name}: command")
        for param in cmd.params:
            if not getattr(param, "help", None):
                missing.append(f"{name or 'branchml'}: {param.name}")
    assert missing == []


def test_version_is_fast_path() -> None:
    out = subprocess.run([f"{BIN}/branchml", "--version"], capture_output=True, text=True)
    assert out.stdout == "branchml 0.1.0\n"
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from branchml.cli.main import main; main(['--version']);"
         "print(sorted(m for m in ('typer','pygit2','jsonschema','yaml') if m in sys.modules))"],
        capture_output=True, text=True)
    assert probe.stdout.splitlines()[-1] == "[]"


def test_console_script_leaves_with_the_code_and_everything_written(tmp_path: Path) -> None:
    # entry() skips the interpreter's teardown: output piped, the exit code and exit handlers
    # registered during the command (after entry's own) must all survive it
    script = (
        "import atexit, sys; from pathlib import Path; import branchml.cli.main as m\n"
        "real = m.main\n"
        "def main():\n"
        "    atexit.register(lambda: Path(sys.argv[2]).write_text('ran'))\n"
        "    sys.stdout.write('x' * 100000)\n"
        "    return real([sys.argv[1]])\n"
        "m.main = main\n"
        "m.entry()\n")
    for arg, code in (("--version", 0), ("--no-such-option", 2)):
        flag = tmp_path / f"flag{code}"
        r = subprocess.run([sys.executable, "-c", script, arg, str(flag)], capture_output=True,
                           text=True)
        assert r.returncode == code, r.stderr
        assert r.stdout.startswith("x" * 100000) and flag.read_text() == "ran"
    version = subprocess.run([sys.executable, "-m", "branchml", "--version"],
                             capture_output=True, text=True)
    assert (version.returncode, version.stdout) == (0, "branchml 0.1.0\n")


def test_hook_path_imports_no_heavy_module(plain_project: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, io; sys.stdin = io.StringIO('');"
         "from branchml.cli.main import main; main(['hook', 'pre-commit']);"
         "print(sorted(m for m in ('typer','pygit2','jsonschema','yaml','rich') "
         "if m in sys.modules))"],
        capture_output=True, text=True, cwd=plain_project)
    # the first run parses and caches the config; the second must import none of them
    probe = subprocess.run(probe.args, capture_output=True, text=True, cwd=plain_project)
    assert probe.stdout.splitlines()[-1] == "[]", probe.stderr


def test_usage_error_exit_2(bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("check", "--nope")
    assert r.code == 2 and "No such option" in r.err


def test_unknown_hook(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("hook", "post-nothing", cwd=plain_project)
    assert (r.code, r.err) == (2, "branchml: error: unknown hook 'post-nothing'; branchml runs "
                                  "pre-commit, pre-merge-commit, pre-push, pre-receive, "
                                  "reference-transaction.\n")


def test_bug_goes_to_log_not_screen(plain_project: Path, bml, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import branchml.ops.status as st

    monkeypatch.setattr(st, "status", lambda path: 1 / 0)
    r = bml("status", cwd=plain_project)
    assert r.code == 70
    log = plain_project / ".git" / "branchml" / "crash.log"
    assert r.err == (f"branchml: internal error (a bug in branchml, not in your input); the "
                     f"traceback is in {log}: please report it.\n")
    assert "ZeroDivisionError" in log.read_text()


def test_help_teaches(bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("--help")
    assert r.code == 0
    for cmd in ("init", "install", "status", "check", "branch", "config"):
        assert cmd in r.out
    assert "│ hook " not in r.out


def _argv_for(cmd: Any, only: str | None) -> list[str]:
    """An invocation of a click command: its arguments, and every option (or only `only`)."""
    argv = [f"arg-{p.name}" for p in cmd.params if p.param_type_name == "argument"]
    for p in cmd.params:
        if p.param_type_name == "option" and (only in (None, p.name) or p.required):
            for spelling in p.opts[:1] if p.required and only != p.name else p.opts[-1:]:
                argv += [spelling] if p.is_flag else [spelling, f"value-{p.name}"]
    return argv


def test_fast_path_parsers_mean_what_typer_means() -> None:
    """The six hot commands are parsed twice (argparse in the fast path, typer otherwise):
    every argument and option of each typer command, each spelling, alone and all together,
    must give the fast path the same values under the same names; and the fast path must
    know no option typer does not."""
    import argparse

    from branchml.cli import fastpath

    root: Any = typer.main.get_command(app)  # typer may ship its own copy of click
    for name, command in fastpath.COMMANDS.items():
        cmd = root.commands[name]
        options = [p for p in cmd.params if p.param_type_name == "option"]
        cases = [_argv_for(cmd, None), _argv_for(cmd, "")]
        cases += [_argv_for(cmd, p.name) for p in options]
        for p in options:  # every spelling (-m and --message) means the same
            for spelling in p.opts[:-1]:
                base = _argv_for(cmd, "")
                cases.append(base + ([spelling] if p.is_flag else [spelling, "v"]))
        for argv in cases:
            typer_sees = cmd.make_context(name, list(argv)).params
            fast_sees = vars(command.parser().parse_args(list(argv)))
            assert fast_sees == typer_sees, (name, argv)
        typer_opts = {o for p in options for o in p.opts}
        fast_opts = {o for a in command.parser()._actions for o in a.option_strings}
        assert fast_opts == typer_opts, name
        bare = [f"arg-{p.name}" for p in cmd.params if p.param_type_name == "argument"]
        if any(p.required for p in options):  # a required option left out: both refuse
            for parse in (lambda a: cmd.make_context(name, a),
                          lambda a: command.parser().parse_args(a)):
                with pytest.raises((argparse.ArgumentError, SystemExit, Exception)):
                    parse(list(bare))
