"""Issue 18, what the user reads: --help that does not break sentences mid-line, arguments
in capitals, and `rollback` with only a canary to take back."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import BIN
from tests.test_runs_releases import retrain


def help_text(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    return subprocess.run([f"{BIN}/branchml", *args, "--help"], capture_output=True, text=True,
                          env=env, check=True).stdout


def test_help_lines_are_not_broken_where_the_source_wrapped() -> None:
    text = help_text()
    # sync's docstring wraps after "refuses" in the source; --help must not keep that break
    lines = [ln for ln in text.splitlines() if "refuses" in ln]
    assert lines and not any(ln.rstrip(" │").endswith("refuses") for ln in lines), text


def test_arguments_read_in_capitals_in_the_usage_line() -> None:
    assert "Usage: branchml show [OPTIONS] TAG" in help_text("show")
    assert "Usage: branchml clone [OPTIONS] URL [DIR]" in help_text("clone")
    assert "{" not in help_text("runs", "compare").splitlines()[1]


def test_rollback_with_only_a_canary_drops_the_canary(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    retrain(stable, "w2", {"acc": 0.95})
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    assert bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
               "0.1", cwd=stable).code == 0
    r = bml("rollback", "--client", "acme", cwd=stable)
    assert r.code == 0, r.err
    now = bml("deployed", "--client", "acme", "--json", cwd=stable)
    assert '"candidate": null' in now.out and '"primary": "acme-v1"' in now.out
    # nothing left to take back: the one sentence, naming both spellings of the option
    r = bml("rollback", "--client", "acme", cwd=stable)
    assert r.code == 2 and "name one with --to (`to=` in the API)" in r.err
