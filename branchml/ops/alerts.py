"""Alerts beyond the exit code: when `monitor check` raises an alert, its result JSON goes to
what `monitor.alerts` in the trusted config names (main's `branchml.yaml`, never a branch
being judged or the monitoring branch, where a production job writes):

- `command: [argv...]`: the program gets the JSON on stdin. argv[0] is a bare name looked up
  on PATH, skipping relative PATH entries and entries inside the repository (any of its
  worktrees, its git folder): a file committed on any branch and checked out is never what
  runs. It runs in an empty temporary folder, its PATH-like search paths without such entries.
- `webhook: URL`: the JSON is POSTed (ops/webhook.py: http or https only, no redirect
  followed, the whole delivery within the timeout).

A delivery that fails gives one warning sentence; the check's own exit code (1) is kept."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from branchml.core import strictjson
from branchml.core.alertsettings import command_problem, printable
from branchml.ops.trusted import trusted_config
from branchml.ops.webhook import DeliveryFailed as _Refused
from branchml.ops.webhook import post, shown
from branchml.repo import objectstore, proc
from branchml.repo.reader import Git

DEFAULT_TIMEOUT = 10.0


@dataclass
class AlertDelivery:
    """Where the alert JSON went (`sent`: "command NAME", "webhook https://HOST") and the
    warning sentence of each delivery that failed."""

    sent: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return asdict(self)


def notify(path: Path, report: dict[str, Any]) -> AlertDelivery:
    """Send `report` to `monitor.alerts` when it holds an alert; nothing otherwise."""
    done = AlertDelivery()
    settings = (trusted_config(Git(path)).get("monitor") or {}).get("alerts") or {}
    if not report.get("alerts") or not settings:
        return done
    body = strictjson.dumps(report).encode()  # strict: a NaN would break the receiver's parser
    timeout = float(settings.get("timeout") or DEFAULT_TIMEOUT)
    if settings.get("command"):
        argv = [str(a) for a in settings["command"]]
        _attempt(done, f"command {printable(argv[0])}",
                 lambda: run_command(argv, _inside_repo(path), body, timeout))
    if settings.get("webhook"):
        url = str(settings["webhook"])
        _attempt(done, f"webhook {shown(url)}", lambda: post(url, body, timeout))
    return done


def _attempt(done: AlertDelivery, what: str, deliver: Callable[[], None]) -> None:
    """One delivery: `what` in `sent`, or its warning. A failed delivery never raises, even
    one this module did not foresee (the alert itself is the check's exit code, 1)."""
    try:
        deliver()
        done.sent.append(what)
    except _Refused as e:
        done.warnings.append(str(e))
    except Exception as e:  # a surprise still ends as one sentence, never a traceback
        done.warnings.append(f"The alert {what.split(' ')[0]} could not be used "
                             f"({type(e).__name__}); the alert was not delivered to it.")


def _inside_repo(path: Path) -> list[Path]:
    """The folders of the repository: this worktree, the git folder, and every other worktree
    of it (`git worktree list`): a linked worktree checks out a branch as surely as this one,
    and the main checkout seen from a linked worktree is no less the repository's."""
    repo = objectstore.Repo(path)
    dirs = [Path(p) for p in (repo.root, repo.common_dir) if p]
    try:
        listed = proc.run(["git", "worktree", "list", "--porcelain", "-z"], cwd=path).stdout
    except proc.ProcessError:
        raise _Refused("The alert command was not run: the repository's worktrees could not "
                       "be listed (`git worktree list`); check the repository.") from None
    for entry in listed.split(b"\0"):
        if entry.startswith(b"worktree "):
            dirs.append(Path(os.fsdecode(entry[len(b"worktree "):])))
    return [d.resolve() for d in dirs]


def program(name: str, repo_dirs: list[Path]) -> str:
    """The file `name` runs as: a bare name found on PATH outside the repository."""
    if not name or "/" in name or os.sep in name or name in (".", ".."):
        raise _Refused(f"The alert command {name!r} is a path, not a program name; name a "
                       "program found on PATH (install it in a folder such as /usr/local/bin).")
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if os.path.isabs(d) and not _within(Path(d).resolve(), repo_dirs)]
    found = shutil.which(name, path=os.pathsep.join(dirs)) if dirs else None
    if found is None or _within(Path(found).resolve(), repo_dirs):
        raise _Refused(f"The alert command {printable(name)} is not a program on PATH outside "
                       "the repository; install it in a PATH folder such as /usr/local/bin.")
    return found


def _within(p: Path, dirs: list[Path]) -> bool:
    return any(p == d or d in p.parents for d in dirs)


# search paths of interpreters a notifier may be written for: an entry inside the repository
# would load a checked-out branch's module as surely as a PATH entry runs its program
SEARCH_PATHS = ("PYTHONPATH", "NODE_PATH", "PERL5LIB", "PERLLIB", "RUBYLIB", "LD_LIBRARY_PATH")


def environment(repo_dirs: list[Path]) -> dict[str, str]:
    """The caller's environment, with the entries of PATH and of SEARCH_PATHS that are
    relative or inside the repository left out (the rule `program` applies to PATH)."""
    env = dict(os.environ)
    for name in ("PATH", *SEARCH_PATHS):
        if name in env:
            kept = [d for d in env[name].split(os.pathsep)
                    if d and os.path.isabs(d) and not _within(Path(d).resolve(), repo_dirs)]
            if kept:
                env[name] = os.pathsep.join(kept)
            else:
                del env[name]
    return env


def run_command(argv: list[str], repo_dirs: list[Path], body: bytes, timeout: float) -> None:
    problem = command_problem(argv)
    if problem:
        raise _Refused(f"The alert command {printable(argv[0])} cannot be run: {problem}; fix "
                       "monitor.alerts.command in main's branchml.yaml.")
    exe = program(argv[0], repo_dirs)
    try:
        # an empty folder outside the repository as its working folder: `python3 -m x`,
        # `make notify` or `./x` inside the command would otherwise find the checked-out
        # branch's files in the caller's folder (as `pull --validate` runs in main's files)
        with tempfile.TemporaryDirectory(prefix="branchml-alert-",
                                         ignore_cleanup_errors=True) as neutral:
            env = {**environment(repo_dirs), "PWD": neutral}
            env.pop("OLDPWD", None)
            code = proc.run_bounded([exe, *argv[1:]], body, timeout, cwd=neutral, env=env)
    except proc.ProcessError:  # the timeout
        raise _Refused(f"The alert command {argv[0]} did not finish within {timeout:g} s and "
                       "was stopped; make it return sooner or raise monitor.alerts.timeout."
                       ) from None
    except OSError as e:
        raise _Refused(f"The alert command {argv[0]} could not be started ({e.strerror}); "
                       "check the program.") from None
    if code != 0:
        raise _Refused(f"The alert command {argv[0]} failed with exit code {code}; "
                       "the alert was not delivered to it.")
