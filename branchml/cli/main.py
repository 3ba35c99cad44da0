"""Entry point and the ONE error handler. `--version` and `hook` skip typer for speed."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from branchml import __version__
from branchml.errors import BranchmlError, ExitCode

# set by the shell's completion script (`branchml --show-completion`) when Tab is pressed
COMPLETE_VAR = "_BRANCHML_COMPLETE"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # git must judge the objects as they are: a refs/replace/* ref (pushed, fetched or made
    # by hand) would otherwise make every git branchml runs see other commits and trees
    os.environ["GIT_NO_REPLACE_OBJECTS"] = "1"
    say = _say_json if wants_json(args) else _say_text
    try:
        return _dispatch(args)
    except BranchmlError as e:
        return say(str(e), int(e.exit_code))
    except KeyboardInterrupt:
        return say("interrupted", int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        return 0
    except Exception:  # the one place a bug is turned into a report
        import traceback

        trace = traceback.format_exc()
        log = _crash_log(trace)
        return say("internal error (a bug in branchml, not in your input); the traceback is "
                   f"in {log}: please report it." if log else f"internal error:\n{trace}",
                   int(ExitCode.INTERNAL))


def wants_json(args: list[str]) -> bool:
    """`--json` among the options (before a `--`): then errors are JSON too."""
    return "--json" in (args[:args.index("--")] if "--" in args else args)


def _say_text(message: str, code: int) -> int:
    head = "interrupted" if code == ExitCode.INTERRUPTED else \
        message if code == ExitCode.INTERNAL else f"error: {message}"
    sys.stderr.write(f"branchml: {head}\n")
    return code


def _say_json(message: str, code: int) -> int:
    """Under --json, a script parses the error: one JSON object on stderr (stdout keeps
    only the data a command prints)."""
    import json

    sys.stderr.write(json.dumps({"error": message, "exit_code": code}) + "\n")
    return code


def entry() -> None:
    """The console script (and `python -m branchml`): main(), then the process leaves without
    tearing the interpreter down. Freeing NumPy's and pygit2's modules and every object one
    by one takes 40-60 ms after a data merge (a tenth of it) and writes nothing. Threads are
    still joined and exit handlers registered later (logging, finalizers of temp files)
    still run: this one is registered first, so it runs last."""
    import atexit

    done: list[int] = []
    atexit.register(_leave, done)
    code = main()
    done.append(code)
    sys.exit(code)


def _leave(done: list[int]) -> None:
    if not done:  # main() did not return (a SystemExit from elsewhere): the usual teardown
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(done[0])


def _dispatch(args: list[str]) -> int:
    if args in (["--version"], ["-V"]):
        sys.stdout.write(f"branchml {__version__}\n")
        return 0
    if os.environ.get(COMPLETE_VAR):  # a Tab press: typer answers it; nothing is finished
        from branchml.cli.commands import run as complete

        return complete(args)
    _finish_killed_run(args)
    if args and args[0] == "hook":
        from branchml.ops.hook import run_hook

        if len(args) < 2:
            from branchml.errors import UsageError

            raise UsageError("usage: branchml hook NAME [ARGS...] (git runs this itself).")
        return run_hook(args[1], args[2:], sys.stdin)
    if args and args[0] == "merge-driver" and len(args) == 6:
        from branchml.ops.merge_driver import run as run_driver

        return run_driver(*args[1:])
    _need_repository(args)
    from branchml.cli.fastpath import run as fast

    code = fast(args)
    if code is not None:
        return code
    from branchml.cli.commands import run

    return run(args)


# commands that run outside a repository (init and clone make one; config describes keys)
NO_REPOSITORY = frozenset({"init", "clone", "config"})


def _need_repository(args: list[str]) -> None:
    """Every other command needs a repository: outside one it says so in one sentence
    (NotARepository, exit 4, JSON under --json) before anything runs, rather than whatever
    its first git call says (`git remote` failed..., an empty list)."""
    rest = args[2:] if args[:1] == ["-C"] and len(args) > 1 else args
    where = Path(args[1]) if rest is not args else Path.cwd()
    if not rest or rest[0] in NO_REPOSITORY or rest[0].startswith("-") \
            or {"-h", "--help"} & set(rest) or not where.is_dir():
        return  # typer answers help, and says that a -C folder does not exist
    from branchml.repo.reader import Git

    Git(where).layout  # noqa: B018


def _finish_killed_run(args: list[str]) -> None:
    """Before any command looks at the repository: a branchml write killed midway (its
    `begin` has no `end`) is finished now, so no command ever mistakes its half-updated
    files for the user's changes. Hooks run inside git (which holds the index): there a
    pending run only stops a commit, which would otherwise record the half-updated files."""
    from branchml.repo import pending

    start = Path(args[1]) if args[:1] == ["-C"] and len(args) > 1 else Path.cwd()
    # init finishes the repository it is given itself (`init PATH`, not the current folder)
    if args[:1] in (["merge-driver"], ["init"]) or not pending.pending(start):
        return
    if args[:1] == ["hook"]:
        if args[1:2] == ["pre-commit"]:
            from branchml.errors import StateError

            raise StateError("an earlier branchml command was killed midway and its files "
                             "are not all in place: run `branchml status` to finish it, then "
                             "commit.")
        return
    from branchml.errors import LockHeld
    from branchml.repo import objectstore, recovery

    try:
        said = recovery.finish_pending(objectstore.Repo(start))
    except LockHeld:  # a live command is writing: its `begin` is not a killed run's
        return
    except BranchmlError as e:  # the command itself says it again if it writes
        sys.stderr.write(f"branchml: warning: {e}\n")
        return
    if said:
        sys.stderr.write(f"branchml: {said}\n")


def _crash_log(trace: str) -> Path | None:
    from branchml.repo import proc

    try:
        common = proc.output(["git", "rev-parse", "--path-format=absolute",
                              "--git-common-dir"], check=True)
    except BranchmlError:
        return None
    log = Path(common) / "branchml" / "crash.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(trace + "\n")
    except OSError:
        return None
    return log


if __name__ == "__main__":
    entry()
