"""One page's examples run as one terminal session (tests/test_doc_examples.py)."""

from __future__ import annotations

import os
import select
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.doc_pages import Block, parse

BIN = Path(sys.executable).parent
FIXTURE = Path(__file__).resolve().parent / "doc_fixture.py"
BLOCK_TIMEOUT = 300


def _session(tmp: Path) -> tuple[Path, Path, dict[str, str]]:
    home, work, state = tmp / "home", tmp / "work", tmp / "state"
    for d in (home, work, state, tmp / "bin"):
        d.mkdir(parents=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Doc Reader\n\temail = reader@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    tool = tmp / "bin" / "doc-fixture"
    tool.write_text(f"#!/bin/sh\nexec {sys.executable} {FIXTURE} \"$@\"\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PYTEST", "BRANCHML", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_NOSYSTEM="1",
               PATH=os.pathsep.join([str(BIN), str(tmp / "bin"), os.environ["PATH"]]),
               LC_ALL="C.UTF-8", TERM="dumb", COLUMNS="100")
    (state / "cwd").write_text(str(work))
    (state / "env").write_text("")
    (state / "env0").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()))
    return work, state, env


# Each block's bash: start where the last block left (folder, exported variables), save the same
# on exit whatever happens, and stop the block at its first failing command.
PRELUDE = """\
. "$STATE/env"
cd "$(cat "$STATE/cwd")" || exit 97
trap 'rc=$?; pwd > "$STATE/cwd"; env -0 > "$STATE/env0"; export -p | \
grep -Ev '"'"'^declare -x (PWD|OLDPWD|SHLVL|_)='"'"' > "$STATE/env"; exit $rc' EXIT
set -e
"""

# The python blocks of a page are one program (a later block uses an earlier one's names), so
# they run in one interpreter that stays up: each block is exec'd in the same globals, in the
# session's folder and environment as the shell blocks left them, its output in files.
DRIVER = """\
import os, sys, traceback
state, scope = sys.argv[1], {"__name__": "__main__"}
for line in sys.stdin:
    code = open(os.path.join(state, "block.py")).read()
    env = open(os.path.join(state, "env0"), "rb").read().split(b"\\0")
    os.environ.clear()
    os.environ.update(dict(e.decode().split("=", 1) for e in env if b"=" in e))
    os.chdir(open(os.path.join(state, "cwd")).read().strip())
    out = os.open(os.path.join(state, "out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(os.path.join(state, "err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    keep = os.dup(1), os.dup(2)
    os.dup2(out, 1), os.dup2(err, 2)
    rc = 0
    try:
        exec(compile(code, line.strip(), "exec"), scope)  # tracebacks name page:line
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        rc = 1
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(keep[0], 1), os.dup2(keep[1], 2)
    os.close(out), os.close(err)
    print(rc, flush=True)
"""


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


class Session:
    """One page's terminal: a bash per shell block, one python for all its python blocks."""

    def __init__(self, tmp: Path) -> None:
        _, self.state, self.env = _session(tmp)
        self.python: subprocess.Popen[str] | None = None

    def run(self, code: str, lang: str, where: str = "block") -> Done:
        if lang == "python":
            return self._python(code, where)
        (self.state / "block.sh").write_text(code)
        run = PRELUDE + '. "$STATE/block.sh"\n'
        done = subprocess.run(["bash", "-c", run], env={**self.env, "STATE": str(self.state)},
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
                              stdin=subprocess.DEVNULL)
        return Done(done.returncode, done.stdout, done.stderr)

    def _python(self, code: str, where: str) -> Done:
        if self.python is None:
            self.python = subprocess.Popen(
                [str(BIN / "python"), "-c", DRIVER, str(self.state)], env=self.env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.python.stdin is not None and self.python.stdout is not None
        (self.state / "block.py").write_text(code)
        self.python.stdin.write(where + "\n")
        self.python.stdin.flush()
        ready, _, _ = select.select([self.python.stdout], [], [], BLOCK_TIMEOUT)
        rc = int(self.python.stdout.readline() or "98") if ready else 99
        return Done(rc, (self.state / "out").read_text(), (self.state / "err").read_text())

    def close(self) -> None:
        if self.python is not None:
            self.python.kill()
            self.python.wait()


def _tail(text: str, n: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def run_page(path: Path, tmp: Path) -> None:
    blocks = [b for b in parse(path) if b.runs]
    session = Session(tmp)
    try:
        _run_blocks(blocks, session)
    finally:
        session.close()


def _run_blocks(blocks: list[Block], session: Session) -> None:
    for b in blocks:
        if b.setup.strip():
            done = session.run(b.setup + "\n", "sh")
            assert done.returncode == 0, (
                f"{b.where}: the hidden setup before this block exited {done.returncode}:\n"
                f"{_tail(done.stdout)}\n{_tail(done.stderr)}")
        start = time.monotonic()
        done = session.run(b.code, b.lang, b.where)
        took = time.monotonic() - start
        if b.marker == "fails":
            assert done.returncode != 0, f"{b.where}: marked `fails`, but it exited 0 ({took:.1f} s)"
        else:
            assert done.returncode == 0, (
                f"{b.where}: the {b.lang} block exited {done.returncode} ({took:.1f} s):\n"
                f"--- block\n{b.code}--- stdout\n{_tail(done.stdout)}\n--- stderr\n"
                f"{_tail(done.stderr)}")
