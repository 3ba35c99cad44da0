"""The CLI contract: help on every option, --version fast, no tracebacks, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from branchml.cli import app
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
        [sys.executable, "-c", "import sys; from branchml.main import main; main(['--version']);"
         "print(sorted(m for m in ('typer','pygit2','jsonschema','yaml') if m in sys.modules))"],
        capture_output=True, text=True)
    assert probe.stdout.splitlines()[-1] == "[]"


def test_console_script_leaves_with_the_code_and_everything_written(tmp_path: Path) -> None:
    # entry() skips the interpreter's teardown: output piped, the exit code and exit handlers
    # registered during the command (after entry's own) must all survive it
    script = (
        "import atexit, sys; from pathlib import Path; import branchml.main as m\n"
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
         "from branchml.main import main; main(['hook', 'pre-commit']);"
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
                                  "pre-commit, pre-push, pre-receive.\n")


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
