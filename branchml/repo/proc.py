"""The one door to subprocesses: argument lists only, never a shell; errors show everything."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from branchml.errors import BranchmlError, ExitCode, ToolMissing

INSTALL_HINT = {
    "git": "install git (apt-get install -y git)",
    "git-lfs": "install git-lfs (apt-get install -y git-lfs) or use --no-lfs",
}


class ProcessError(BranchmlError):
    exit_code = ExitCode.STATE

    def __init__(self, args: Sequence[str], code: int, stdout: bytes, stderr: bytes) -> None:
        self.args_ = list(args)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        err = stderr.decode(errors="replace").strip()
        super().__init__(
            f"`{' '.join(args)}` failed with exit code {code}" + (f": {err}" if err else ".")
        )


def run(
    args: Sequence[str],
    *,
    cwd: str | Path | None = None,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    discard_stdout: bool = False,
    exact_env: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """`discard_stdout`: what the process prints goes to /dev/null, not into memory (a
    fetched git-lfs object's content, say). `env` is merged over the caller's environment,
    unless `exact_env`: then it is the child's whole environment (a filter that deleted a
    variable, PYTHONPATH say, must not see it come back from os.environ)."""
    try:
        proc = subprocess.run(
            list(args),
            cwd=cwd,
            input=stdin,
            stdout=subprocess.DEVNULL if discard_stdout else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env or {}) if exact_env else ({**os.environ, **env} if env else None),
            check=False,
        )
    except FileNotFoundError:
        tool = args[0]
        raise ToolMissing(
            f"{tool} is not installed or not on PATH: {INSTALL_HINT.get(tool, 'install it')}."
        ) from None
    if check and proc.returncode != 0:
        raise ProcessError(args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def run_bounded(args: Sequence[str], stdin: bytes, timeout: float,
                cwd: str | Path | None = None, env: dict[str, str] | None = None) -> int:
    """A program fed `stdin` whose output is not wanted (an alert hook), in its own process
    group: past `timeout` seconds the whole group is killed, so a child it left behind
    (a script that does not `exec`) cannot hold the command past its time. The exit code;
    ProcessError on the timeout."""
    try:
        p = subprocess.Popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, cwd=cwd,
                             env=env)
    except FileNotFoundError:
        raise ToolMissing(f"{args[0]} is not installed or not on PATH.") from None
    try:
        p.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):  # it ended just now
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise ProcessError(args, -9, b"", f"killed after {timeout:g} s".encode()) from None
    return p.returncode


def output(args: Sequence[str], **kw: object) -> str:
    return run(args, **kw).stdout.decode("utf-8", errors="surrogateescape").strip()  # type: ignore[arg-type]


def popen(args: Sequence[str], cwd: str | Path | None = None,
          stdin: bool = True) -> subprocess.Popen[bytes]:
    """A long-running process read as a stream (stderr kept for `finish`'s error)."""
    try:
        return subprocess.Popen(
            list(args), cwd=cwd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE if not stdin else None,
        )
    except FileNotFoundError:
        raise ToolMissing(f"{args[0]} is not installed or not on PATH.") from None


def popen_io(args: Sequence[str], cwd: str | Path | None = None) -> subprocess.Popen[bytes]:
    """A process written to and read from (stdin, stdout and stderr piped)."""
    try:
        return subprocess.Popen(list(args), cwd=cwd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise ToolMissing(f"{args[0]} is not installed or not on PATH.") from None


def finish(p: subprocess.Popen[bytes], args: Sequence[str]) -> None:
    """Wait for a streamed process; raise with its stderr when it failed."""
    err = p.stderr.read() if p.stderr else b""
    code = p.wait()
    for pipe in (p.stdout, p.stderr):
        if pipe:
            pipe.close()
    if code != 0:
        raise ProcessError(args, code, b"", err)


def spawn_to(args: Sequence[str], out: BinaryIO, cwd: str | Path | None = None
             ) -> subprocess.Popen[bytes]:
    """A process whose stdout goes straight into an open file (no copy through Python), run
    beside the caller; `finish` waits for it."""
    try:
        return subprocess.Popen(list(args), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise ToolMissing(f"{args[0]} is not installed or not on PATH.") from None


class OutputStream:
    """A process fed `stdin` (on a thread, so a large input never blocks against its output)
    whose stdout and stderr are read together as they come (git-lfs writes its progress to
    stdout and its errors to stderr)."""

    def __init__(self, args: Sequence[str], cwd: str | Path | None, env: Mapping[str, str],
                 stdin: bytes) -> None:
        self.args = list(args)
        try:
            self.p = subprocess.Popen(self.args, cwd=cwd, env={**os.environ, **env},
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
        except FileNotFoundError:
            raise ToolMissing(f"{args[0]} is not installed or not on PATH.") from None
        self.feeder = threading.Thread(target=self._feed, args=(stdin,), daemon=True)
        self.feeder.start()
        self.returncode: int | None = None

    def _feed(self, data: bytes) -> None:
        assert self.p.stdin is not None
        try:
            self.p.stdin.write(data)
            self.p.stdin.close()
        except OSError:  # the process ended early: its exit code says why
            pass

    def chunks(self) -> Iterator[bytes]:
        assert self.p.stdout is not None
        yield from iter(lambda: self.p.stdout.read1(4096), b"")  # type: ignore[attr-defined,union-attr]

    def __enter__(self) -> OutputStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:  # Ctrl-C or a bug while reading: do not leave it running
            self.p.kill()
        self.returncode = self.p.wait()
        self.feeder.join()
        if self.p.stdout:
            self.p.stdout.close()


def output_stream(args: Sequence[str], cwd: str | Path | None, env: Mapping[str, str],
                  stdin: bytes) -> OutputStream:
    return OutputStream(args, cwd, env, stdin)


@contextlib.contextmanager
def terminations_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a CI timeout, `timeout`, `kill`, a closed terminal) raise
    KeyboardInterrupt while inside, as Ctrl-C does: `run_echoed` stops its child's group and
    the caller's cleanup runs (a temporary worktree removed) instead of the process dying
    with both left behind. Only the main thread can set handlers; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def run_echoed(args: Sequence[str], sink: BinaryIO, cwd: str | Path | None = None,
               env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """A program whose stdout and stderr are copied to `sink` as they come (a training run
    the user watches): (its exit code, its last non-empty line). `env`, when given, is the
    program's whole environment (not merged). It runs in its own process group, so an
    interrupted branchml (Ctrl-C, or SIGTERM/SIGHUP turned into one by the caller) stops it
    and every process it started. OSError when it cannot be started (ToolMissing when it
    does not exist)."""
    try:
        p = subprocess.Popen(list(args), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             process_group=0)
    except FileNotFoundError:
        raise ToolMissing(f"{args[0]} is not installed or not on PATH.") from None
    last = b""
    assert p.stdout is not None
    try:
        for line in iter(p.stdout.readline, b""):
            sink.write(line)
            sink.flush()
            if line.strip():
                last = line.strip()
    except BaseException:  # Ctrl-C, SIGTERM/SIGHUP made one, or a SIGINT to branchml alone
        _stop(p)
        raise
    finally:
        p.stdout.close()
        code = p.wait()
    return code, last.decode("utf-8", errors="replace")


def _stop(p: subprocess.Popen[bytes]) -> None:
    """The process group of a child left running by an interrupted branchml (its own group:
    a terminal's Ctrl-C did not reach it): SIGINT, five seconds to end, then SIGKILL, so the
    caller's cleanup never waits on a command that ignores the interruption; then SIGKILL
    to whatever of the group outlived the child (a background process it started)."""
    for sig, grace in ((signal.SIGINT, 5.0), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
        try:
            p.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGKILL)
