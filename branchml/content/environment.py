"""A release's `train` field from git alone: the environment its commit records
(tracking/environment.json) and whether its command was ever main's `train.command`."""

from __future__ import annotations

import json
from typing import Any

from branchml.core import bounds, yamlbounds, yamlload
from branchml.core import environment as env
from branchml.errors import ConfigError
from branchml.repo.reader import Git

CONFIG_FILE = "branchml.yaml"
# versions of main's branchml.yaml read to prove a command: a bound on the work a hand-made
# tag can ask of a server, far beyond the number of times a team changes its training command
MAX_VERSIONS = 500
NEVER_MAIN = "its command was never main's train.command"


def recorded_environment(git: Git, commit: str) -> dict[str, Any] | None:
    """The commit's tracking/environment.json as a JSON object (None when absent or not an
    object); bounds.TooLarge past the tracking limit, before a byte is read."""
    found = git.read_bounded(f"{commit}:{env.ENVIRONMENT_FILE}", bounds.TRACKING_JSON,
                             f"{commit[:10]}:{env.ENVIRONMENT_FILE}")
    if found is None:
        return None
    try:
        value = json.loads(found[1])
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def train_field(git: Git, commit: str, command: list[str] | None) -> dict[str, Any] | None:
    """The manifest's `train` field: `command` (main's train.command) and the summary of the
    commit's environment record; None when both are absent (an older release's manifest has
    no `train` key and verifies unchanged)."""
    summary = env.summary(recorded_environment(git, commit))
    if command is None and summary is None:
        return None
    return {"command": command, "environment": summary}


def was_main_command(git: Git, main_tip: str | None, command: list[str]) -> bool:
    """Whether `command` is main's train.command now or in one of the last MAX_VERSIONS
    versions of branchml.yaml on main's first-parent history (each read within the config
    limits; one that cannot be read proves nothing)."""
    if main_tip is None:
        return False
    commits = git.out("rev-list", "--first-parent", f"--max-count={MAX_VERSIONS}", main_tip,
                      "--", CONFIG_FILE).split()
    seen: set[str] = set()
    for sha in [main_tip, *commits]:
        found = git.cat.info(f"{sha}:{CONFIG_FILE}")
        if found is None or found[0] in seen:
            continue
        seen.add(found[0])
        if _command_at(git, found[0], found[1], f"{sha[:10]}:{CONFIG_FILE}") == command:
            return True
        if len(seen) >= MAX_VERSIONS:
            break
    return False


def _command_at(git: Git, blob: str, size: int, source: str) -> list[str] | None:
    try:
        yamlbounds.check_size(size, source)  # before the blob is read into memory
        raw = (git.cat.read(blob) or ("", b""))[1]
        return env.command_of(yamlload.load(raw.decode("utf-8", errors="replace"), source))
    except (ConfigError, ValueError):
        return None
    except Exception as e:  # yaml.YAMLError: a version that does not parse proves nothing
        if type(e).__module__.startswith("yaml"):
            return None
        raise
