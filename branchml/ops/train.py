"""`branchml train`: main's `train.command` run in the working tree of a stable checkout, and
the environment it ran in written to tracking/environment.json (committed by the user with
the model, so `tag` records it and `reproduce` compares against it)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from branchml.core import environment as env
from branchml.core.model import BranchKind
from branchml.errors import StateError, UsageError, VerdictError
from branchml.ops.alerts import environment as clean_environment
from branchml.ops.trusted import load_trusted, trusted_config, trusted_ref
from branchml.repo import proc
from branchml.repo.reader import Git

# run by the training interpreter itself (`python -c`), in an empty folder: prints the record's
# raw parts as JSON. Only the standard library, so any Python 3.8+ answers.
PROBE = """\
import json, platform, sys
from importlib import metadata
pkgs = set()
for d in metadata.distributions():
    name = d.metadata["Name"] if d.metadata else None
    if name:
        pkgs.add((name, d.version or ""))
print(json.dumps({"python": platform.python_version(), "executable": sys.executable,
                  "implementation": platform.python_implementation(),
                  "platform": platform.platform(), "machine": platform.machine(),
                  "packages": sorted([list(p) for p in pkgs])}))
"""



@dataclass
class TrainReport:
    """What `train` ran and recorded: the branch, main's argv, the environment file written
    (None on a dry run) and its Python, platform and number of packages."""

    branch: str
    command: list[str]
    environment_file: str | None
    python: str
    platform: str
    packages: int
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def train_command(g: Git) -> list[str]:
    """Main's `train.command`; UsageError when it has none."""
    command = env.command_of(trusted_config(g))
    if command is None:
        raise UsageError("main's branchml.yaml has no train.command: add `train: {command: "
                         "[python, src/train.py]}` there (an argument list, not a shell "
                         "string).")
    if env.names_a_checkout_file(command):  # also when a cached config predates the rule
        raise UsageError(f"main's train.command {command[0]!r} is a path inside the checkout; "
                         "name a program on PATH or an absolute path in branchml.yaml on main.")
    return command


def train(path: Path, sink: BinaryIO, dry_run: bool = False) -> TrainReport:
    """Run main's train.command in the root of this stable checkout (its output copied to
    `sink`), then write tracking/environment.json; nothing is committed."""
    g = Git(path)
    try:
        root, branch = _stable_checkout(g)
        command = train_command(g)
    finally:
        g.close()
    recorded = probe(command, root)
    report = TrainReport(branch, command, None, recorded["python"], recorded["platform"],
                         len(recorded["packages"]), dry_run)
    if dry_run:
        return report
    try:
        with proc.terminations_interrupt():  # SIGTERM stops the command's group too
            code, last = proc.run_echoed(command, sink, cwd=root)
    except OSError as e:  # a folder, a file that is not executable
        raise UsageError(f"train.command {command[0]!r} cannot be run ({e.strerror}); name a "
                         "program in branchml.yaml on main.") from None
    if code != 0:
        raise VerdictError(f"the training command failed (exit {code})"
                           + (f": {last}" if last else "; nothing was recorded."))
    target = root / env.ENVIRONMENT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    report.environment_file = env.ENVIRONMENT_FILE
    return report


def _stable_checkout(g: Git) -> tuple[Path, str]:
    """The working tree root and branch of a checkout of a stable/* branch."""
    root = g.layout.toplevel
    branch = g.current_branch()
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    bt = policy.branch_type(branch) if branch else None
    kind = bt.kind if bt is not None else None
    if root is None or kind is not BranchKind.STABLE:
        raise UsageError(f"train runs in a checkout of a stable/* branch, not "
                         f"{branch or 'a detached HEAD'}: `git switch stable/NAME` first.")
    return root, branch or ""


def python_of(command: list[str], cwd: Path, search: str | None = None) -> str:
    """The interpreter whose packages the training uses: argv[0] when its name starts with
    `python` (looked up as the command is: on `search`, the PATH it runs with, or from
    `cwd`), else branchml's own."""
    name = command[0]
    if not os.path.basename(name).startswith("python"):
        return sys.executable
    found = shutil.which(name, path=search) if os.sep not in name else str(cwd / name)
    if found is None or not os.access(found, os.X_OK):
        raise UsageError(f"train.command's interpreter {name!r} is not found on PATH; "
                         "install it or name it by its full path in branchml.yaml on main.")
    return found


def probe(command: list[str], cwd: Path, repo_dirs: list[Path] | None = None,
          search: str | None = None) -> dict[str, Any]:
    """The environment record of the Python `command` trains with (found on `search`, the
    PATH the command runs with), asked of that interpreter in an empty temporary folder
    (nothing of the repository is importable from there; search paths inside `repo_dirs`
    are dropped too)."""
    python = python_of(command, cwd, search)
    dirs = repo_dirs if repo_dirs is not None else [cwd.resolve()]
    with tempfile.TemporaryDirectory(prefix="branchml-env-") as empty:
        run = proc.run([python, "-c", PROBE], cwd=empty, check=False, exact_env=True,
                       env={**clean_environment(dirs), "PWD": empty})
    try:
        if run.returncode != 0:
            raise ValueError(run.stderr.decode(errors="replace").strip()[-200:])
        return env.record(json.loads(run.stdout))
    except (ValueError, AttributeError, TypeError) as e:
        raise StateError(f"the interpreter {python} could not list its packages ({e}); check "
                         "that it is a Python 3.8 or newer.") from None


def environment() -> dict[str, Any]:
    """The environment record of the running interpreter (what `train` writes), for a
    training script that records itself."""
    return probe([sys.executable], Path.cwd())
