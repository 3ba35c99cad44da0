"""`branchml reproduce TAG`: a release re-run from its own commit and held against its
manifest (docs/reproducibility.md).

The command is the argv the manifest records, run only when main trusts it now (its current
`train.command` or one of its `reproduce.commands`; `verify`'s proof that it was main's once
is history, not permission); it runs code of the release's commit, as promotion gates do, in
a temporary worktree inside the git folder (never the user's checkout, index or refs)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from branchml.content.environment import recorded_environment
from branchml.core import environment as env
from branchml.errors import VerdictError
from branchml.ops import release
from branchml.ops.alerts import _inside_repo
from branchml.ops.alerts import environment as clean_environment
from branchml.ops.train import probe
from branchml.ops.trusted import trusted_config
from branchml.repo import proc
from branchml.repo.reader import Git

METRICS_FILE = "tracking/metrics.json"


@dataclass
class Reproduction:
    """A re-run's verdict ("identical", "within tolerance", "differs"), the differences that
    decide it (`differences`), metrics that moved within tolerance, model files by state,
    and the environment differences (listed, never deciding the verdict)."""

    tag: str
    commit: str
    command: list[str]
    verdict: str = "differs"
    exit: int | None = None
    failure: str = ""
    models: dict[str, str] = field(default_factory=dict)  # path -> identical/differs/missing
    differences: list[str] = field(default_factory=list)
    within: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    interpreter: str = ""  # why the re-run's Python is not the one train ran, when it is not
    kept: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict != "differs"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def reproduce(path: Path, name: str, sink: BinaryIO, keep: bool = False) -> Reproduction:
    """Verify `name`, re-run its recorded command in a temporary worktree of its commit (its
    output copied to `sink`), and compare models, metrics and environment."""
    checked = release.verify(path, name)  # UsageError first when there is no such release
    if not checked.ok:
        raise VerdictError(f"{name} does not verify, so it is not re-run: "
                           f"{checked.problems()[0]}.")
    g = Git(path)
    try:
        manifest = release.find(g, release.tag_format(g), name).manifest or {}
        command = env.command_of(manifest)
        if command is None:
            raise VerdictError(f"{name} carries no train.command in its manifest (tagged "
                               "before main's branchml.yaml had one), so there is nothing to "
                               "re-run.")
        config = trusted_config(g)
        _check_runnable(name, command, config)
        plan = _Plan(path, g.layout.common_dir, manifest, recorded_environment(g, checked.commit),
                     (config.get("reproduce") or {}).get("tolerance", 0))
    finally:
        g.close()
    result = Reproduction(name, checked.commit, command)
    with proc.terminations_interrupt():  # SIGTERM/SIGHUP clean up as Ctrl-C does
        return _rerun(result, plan, sink, keep)


@dataclass
class _Plan:
    """What the re-run needs, read before it starts: the checkout, the git folder, the
    manifest, the environment the release recorded and main's tolerance."""

    path: Path
    common: Path
    manifest: dict[str, Any]
    before: dict[str, Any] | None
    tolerance: Any


def _rerun(result: Reproduction, plan: _Plan, sink: BinaryIO, keep: bool) -> Reproduction:
    """The re-run proper, in a worktree removed however it ends (an interruption too)."""
    dirs = _inside_repo(plan.path)
    wt, held = _worktree(plan.common, plan.path, result.commit, keep)
    try:
        _clear_outputs(wt, plan.manifest)
        _run(result, wt, dirs, sink)
        _compare(result, wt, plan.manifest, plan.tolerance)
        # "": a PATH the filter emptied finds nothing (None would mean the caller's PATH)
        now = probe(result.command, wt, dirs, clean_environment(dirs).get("PATH", ""))
        result.environment = env.environment_changes(plan.before, now)
        result.interpreter = _interpreter_note(plan.before, now, dirs)
    finally:
        if keep:
            result.kept = str(wt)
            os.close(held)  # named kept-*: no later run's prune takes it
        else:
            _remove(plan.path, wt, held)
    return result


def _check_runnable(name: str, command: list[str], config: dict[str, Any]) -> None:
    """Refuse an argv main does not trust now: `verify` proves the command was main's in some
    version of branchml.yaml, which is history, not permission to run it."""
    if env.names_a_checkout_file(command):
        raise VerdictError(f"{name} records the command `{shlex.join(command)}`, whose program "
                           "is a path inside the checkout, so it is not run; name a program on "
                           "PATH or an absolute path in train.command on main.")
    if command not in env.runnable_commands(config):
        raise VerdictError(f"{name} records the command `{shlex.join(command)}`, which is "
                           "neither main's train.command nor listed in main's "
                           "reproduce.commands, so it is not run; add it to reproduce.commands "
                           "in branchml.yaml on main if the team trusts it.")


def _worktree(common: Path, cwd: Path, commit: str, keep: bool) -> tuple[Path, int]:
    """A detached worktree of `commit` inside the git folder (git-lfs smudges the data),
    and the descriptor that holds its lock while this run lives. Leftovers of runs killed
    before they could clean up (kill -9, a power cut) are removed first; a kept one is
    named kept-*, which no prune takes."""
    base = common / "branchml" / "reproduce"
    base.mkdir(parents=True, exist_ok=True)
    _prune(cwd, base, time.time())
    wt = Path(tempfile.mkdtemp(dir=base, prefix="kept-" if keep else "run-"))
    held = _hold(wt)
    try:
        proc.run(["git", "worktree", "add", "--detach", "--force", str(wt), commit], cwd=cwd)
    except BaseException:
        _remove(cwd, wt, held)
        raise
    return wt, held


def _hold(wt: Path) -> int:
    """An exclusive flock on the run's folder: the kernel drops it when the process ends,
    however it ends, so a folder whose lock can be taken belongs to no running reproduce."""
    fd = os.open(wt, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _prune(cwd: Path, base: Path, started: float) -> None:
    """Every run-* folder older than this run whose lock nobody holds: its reproduce was
    killed (a concurrent run, still holding its lock, is left alone)."""
    for old in sorted(base.glob("run-*")):
        try:
            if old.stat().st_mtime >= started or _held(old):
                continue
        except OSError:  # removed meanwhile by another run's prune
            continue
        _remove(cwd, old, None)


def _held(folder: Path) -> bool:
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # our own probe lock goes with it
    return False


def _remove(cwd: Path, wt: Path, held: int | None) -> None:
    proc.run(["git", "worktree", "remove", "--force", str(wt)], cwd=cwd, check=False)
    proc.run(["git", "worktree", "prune"], cwd=cwd, check=False)
    if wt.exists():  # worktree add itself failed: the folder was never registered
        shutil.rmtree(wt, ignore_errors=True)
    if held is not None:
        os.close(held)


def _clear_outputs(wt: Path, manifest: dict[str, Any]) -> None:
    """Every model file the manifest names and the metrics, deleted before the run: a
    command that writes nothing cannot "reproduce" what the checkout already held."""
    for rel in [*(manifest.get("models") or {}), METRICS_FILE]:
        target = wt / rel
        if target.is_file() or target.is_symlink():
            target.unlink()


def _run(result: Reproduction, wt: Path, dirs: list[Path], sink: BinaryIO) -> None:
    """The command in the worktree's root, PATH and search paths inside the repository
    dropped (a program of a checked-out branch is never what runs)."""
    environ = {**clean_environment(dirs), "PWD": str(wt)}
    try:
        code, last = proc.run_echoed(result.command, sink, cwd=wt, env=environ)
    except OSError as e:
        result.failure = f"the command could not be started ({e.strerror or e})"
        result.differences.append(result.failure)
        return
    result.exit = code
    if code != 0:
        result.failure = f"the command failed (exit {code})" + (f": {last}" if last else "")
        result.differences.append(result.failure)


def _compare(result: Reproduction, wt: Path, manifest: dict[str, Any], tolerance: Any) -> None:
    for rel, recorded in sorted((manifest.get("models") or {}).items()):
        result.models[rel] = _model_state(wt, rel, recorded)
    missing = [p for p, state in result.models.items() if state == "missing"]
    differ = [p for p, state in result.models.items() if state == "differs"]
    linked = [f"model {p} is a symlink, not a file the command wrote"
              for p, state in result.models.items() if state == "symlink"]
    actual = None if _symlinked(wt, METRICS_FILE) else _metrics(wt)
    outside, within = env.metric_changes(manifest.get("metrics") or {}, actual or {}, tolerance)
    if actual is None and _symlinked(wt, METRICS_FILE):
        outside = [f"{METRICS_FILE} is a symlink, not a file the command wrote"]
    elif actual is None and manifest.get("metrics"):
        outside = ["tracking/metrics.json was not written (or is not a JSON object)"]
    outside = linked + outside
    result.differences += [f"model {p} was not written" for p in missing] + outside
    result.differences += [f"model {p} differs in its bytes" for p in differ]
    result.within = within
    result.verdict = env.verdict(bool(result.failure), outside, missing, differ, within)


def _interpreter_note(before: Any, now: dict[str, Any], dirs: list[Path]) -> str:
    """One sentence when the re-run's interpreter is not the one `train` recorded; the usual
    cause (a virtualenv inside the checkout, whose PATH entry the re-run drops) is named."""
    moved = env.interpreter_moved(before, now)
    if moved is None:
        return ""
    if not _within(Path(moved[0]).parent.resolve(), dirs):  # bin/, not the venv's symlink
        return f"train ran {moved[0]}; reproduce runs {moved[1]}."
    return (f"train ran {moved[0]}; reproduce runs {moved[1]}, because PATH entries inside "
            "the repository are dropped: activate a virtualenv outside it or name the "
            "interpreter by absolute path in train.command.")


def _within(where: Path, dirs: list[Path]) -> bool:
    return any(where == d or d in where.parents for d in dirs)


def _symlinked(wt: Path, rel: str) -> bool:
    """Whether the file or a folder on its way from the worktree's root is a symbolic link:
    a command that links the release's old model (or the user's checkout) in its place
    wrote nothing, so what the link reaches proves no re-run."""
    at = wt
    for part in Path(rel).parts:
        at = at / part
        if at.is_symlink():
            return True
    return False


def _model_state(wt: Path, rel: str, recorded: dict[str, Any]) -> str:
    target = wt / rel
    if _symlinked(wt, rel):
        return "symlink"
    if not target.is_file():
        return "missing"
    if recorded.get("lfs_oid"):
        h = hashlib.sha256()
        with target.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return "identical" if h.hexdigest() == recorded["lfs_oid"] else "differs"
    blob = proc.output(["git", "hash-object", "--no-filters", str(target)], cwd=wt)
    return "identical" if blob == recorded.get("blob") else "differs"


def _metrics(wt: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((wt / METRICS_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None

