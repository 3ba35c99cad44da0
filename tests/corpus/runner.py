"""The bad-input corpus: cases.tsv read into cases, the repositories they run in, and the
set-up steps that put each case's input in place the way a user or an attacker would.

cases.tsv, one case a line, tab-separated:
    id  repo  setup  input  command  exit  message  [xfail reason]
- repo: `project` (branchml init: hooks, git-lfs), `released` (a project with the release
  acme-v1 of stable/model and monitor.target set), `none` (an empty folder, no repository).
- setup: `-`, or steps joined by `+` (see SETUPS); a step may take `:`-separated arguments.
- input: a path under tests/corpus, or `-`.
- command: branchml's arguments, shell words; {input} is the input's absolute path, {tmp}
  a scratch folder outside the repository, {corpus} this folder, {long} 300 letters; escapes like \\x01 are decoded.
- exit: the documented exit code; message: text the one error line must contain.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
BIN = str(Path(sys.executable).parent)


@dataclass
class Case:
    id: str
    repo: str
    setup: str
    input: str
    command: str
    exit: int
    message: str
    xfail: str = ""


def load_cases() -> list[Case]:
    cases = []
    for number, line in enumerate((HERE / "cases.tsv").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) not in (7, 8):
            raise ValueError(f"cases.tsv line {number}: {len(parts)} fields, not 7 or 8")
        cases.append(Case(*parts[:5], int(parts[5]), *parts[6:]))  # type: ignore[arg-type]
    return cases


@dataclass
class Run:
    """Where and how one case runs: cwd, environment, stdin; processes to end afterwards."""

    cwd: Path
    repo: Path | None
    tmp: Path
    env: dict[str, str]
    stdin: bytes | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        assert self.repo is not None
        done = subprocess.run(["git", *args], cwd=self.repo, capture_output=True,
                              env={**self.env, **(env or {})}, check=True)
        return done.stdout.decode().strip()

    def close(self) -> None:
        for child in self.children:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()


def commit_on(run: Run, branch: str, path: str, data: bytes) -> None:
    """A commit of `path` on `branch` made with plumbing (no checkout, no hook), the way an
    attacker or a script would: hash-object, a throwaway index, commit-tree, update-ref."""
    index = run.tmp / "attack.index"
    env = {"GIT_INDEX_FILE": str(index)}
    blob_file = run.tmp / "attack.blob"
    blob_file.write_bytes(data)
    blob = run.git("hash-object", "-w", str(blob_file))
    run.git("read-tree", branch, env=env)
    run.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = run.git("write-tree", env=env)
    new = run.git("commit-tree", tree, "-p", branch, "-m", f"add {path}")
    run.git("update-ref", f"refs/heads/{branch}", new)
    index.unlink()


def _main_config(run: Run, data: bytes) -> None:
    commit_on(run, "main", "branchml.yaml", data)
    run.git("reset", "-q", "--hard")  # main is checked out: its files follow the ref


def _held_lock(run: Run, data: bytes) -> None:
    assert run.repo is not None
    holder = subprocess.Popen(["sleep", "120"])
    run.children.append(holder)
    lock = run.repo / ".git" / "branchml" / "lock"
    lock.parent.mkdir(exist_ok=True)
    lock.write_text(f"{holder.pid} pull\n")


def _torn_oplog(run: Run, data: bytes) -> None:
    assert run.repo is not None
    log = run.repo / ".git" / "branchml" / "oplog.jsonl"
    log.parent.mkdir(exist_ok=True)
    with log.open("ab") as f:
        f.write(b'{"op": "1795333200-d4aa3dd0", "event": "beg')


def _rebase(run: Run, data: bytes, branch: str = "clean") -> None:
    assert run.repo is not None
    state = run.repo / ".git" / "rebase-merge"
    state.mkdir()
    (state / "head-name").write_text(f"refs/heads/{branch}\n")
    (state / "onto").write_text(run.git("rev-parse", "main") + "\n")
    (state / "orig-head").write_text(run.git("rev-parse", branch) + "\n")


def _in_the_way(run: Run, data: bytes) -> None:
    """`.git/branchml` is a file: branchml cannot write its lock or log there (what a
    read-only .git does to a root-run test, which permissions cannot stop)."""
    assert run.repo is not None
    state = run.repo / ".git" / "branchml"
    if state.is_dir():
        shutil.rmtree(state)
    state.write_text("in the way\n")


def _shallow(run: Run, data: bytes) -> None:
    assert run.repo is not None
    clone = run.tmp / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--no-single-branch",
                    f"file://{run.repo}", str(clone)], env=run.env, check=True,
                   capture_output=True)
    run.repo = run.cwd = clone


def _bare(run: Run, data: bytes) -> None:
    assert run.repo is not None
    bare = run.tmp / "server.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(run.repo), str(bare)], env=run.env,
                   check=True, capture_output=True)
    run.repo = run.cwd = bare


def _no_lfs(run: Run, data: bytes) -> None:
    bin_dir = run.tmp / "bin"
    bin_dir.mkdir()
    for tool in ("git", "sleep"):
        found = shutil.which(tool)
        assert found is not None
        os.symlink(found, bin_dir / tool)
    branchml_bin = Path(run.env["PATH"].split(os.pathsep)[0])
    run.env["PATH"] = os.pathsep.join([str(branchml_bin), str(bin_dir)])
    run.env["GIT_EXEC_PATH"] = subprocess.run(["git", "--exec-path"], capture_output=True,
                                              text=True, check=True).stdout.strip()


def _no_identity(run: Run, data: bytes) -> None:
    home = run.tmp / "nohome"
    home.mkdir()
    run.env["HOME"] = str(home)
    run.env["XDG_CONFIG_HOME"] = str(home / ".config")
    run.env["EMAIL"] = ""
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL"):
        run.env.pop(var, None)


def _tag(run: Run, data: bytes, name: str, target: str) -> None:
    message = run.tmp / "tag-message"
    message.write_bytes(data)
    run.git("tag", "-a", name, target, "-F", str(message), "--cleanup=verbatim")


def _stdin(run: Run, data: bytes) -> None:
    run.stdin = data


def _commit(run: Run, data: bytes, branch: str, path: str) -> None:
    commit_on(run, branch, path, data)


def _append(run: Run, data: bytes, branch: str, path: str) -> None:
    """The input's bytes appended to `path` on `branch` through the worktree (so git-lfs's
    clean filter stores it as the others are), committed without hooks."""
    assert run.repo is not None
    head = run.git("symbolic-ref", "--short", "HEAD")
    run.git("checkout", "-q", branch)
    with (run.repo / path).open("ab") as f:
        f.write(data)
    run.git("add", path)
    run.git("commit", "-q", "--no-verify", "-m", f"append to {path}")
    run.git("checkout", "-q", head)


def _code_on_dev(run: Run, data: bytes) -> None:
    commit_on(run, "dev/model", "src/train.py", b"print('trained')\n")


SETUPS: dict[str, Callable[..., None]] = {
    "main-config": _main_config, "held-lock": _held_lock, "torn-oplog": _torn_oplog,
    "rebase": _rebase, "in-the-way": _in_the_way, "shallow": _shallow, "no-lfs": _no_lfs,
    "no-identity": _no_identity, "tag": _tag, "stdin": _stdin, "commit": _commit,
    "code-on-dev": _code_on_dev, "append": _append, "bare": _bare,
    "index-lock": lambda run, data: (run.repo / ".git" / "index.lock").touch(),  # type: ignore[operator]
    "detached": lambda run, data: run.git("checkout", "-q", "--detach"),
    "checkout": lambda run, data, branch: run.git("checkout", "-q", branch),
}


def prepare(case: Case, run: Run) -> None:
    data = (HERE / case.input).read_bytes() if case.input != "-" and \
        (HERE / case.input).is_file() else b""
    for step in ([] if case.setup == "-" else case.setup.split("+")):
        name, *args = step.split(":")
        SETUPS[name](run, data, *args)


def argv(case: Case, run: Run) -> list[str]:
    words = shlex.split(case.command)
    given = str(HERE / case.input) if case.input != "-" else ""
    out = []
    for w in words:
        w = w.replace("{input}", given).replace("{tmp}", str(run.tmp))
        w = w.replace("{long}", "a" * 300).replace("{corpus}", str(HERE))
        out.append(re.sub(r"<0x([0-9a-f]{2})>", lambda m: chr(int(m[1], 16)), w))
    return out


def env_for(home: Path) -> dict[str, str]:
    """The environment of a branchml run: this HOME, no system git config, no GIT_* leak."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_NOSYSTEM="1",
               PATH=BIN + os.pathsep + os.environ["PATH"])
    return env


def _table(rows: int, label: str = "label") -> str:
    lines = [f"x1,x2,cat,{label}"]
    lines += [f"{i % 7}.5,{(i * 3) % 11},{'ab'[i % 2]},{i % 2}" for i in range(rows)]
    return "\n".join(lines) + "\n"


def build_templates(base: Path, env: dict[str, str]) -> dict[str, Path]:
    """`project` (branchml init) and `released` (acme-v1 of stable/model, monitor.target set)."""

    def bml(*args: str, cwd: Path) -> None:
        done = subprocess.run([f"{BIN}/branchml", *args], cwd=cwd, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    def g(*args: str, cwd: Path) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    bml("init", str(base / "project"), cwd=base)
    released = base / "released"
    shutil.copytree(base / "project", released, symlinks=True)
    cfg = (released / "branchml.yaml").read_text().replace("  target: null", "  target: label")
    (released / "branchml.yaml").write_text(cfg)
    g("commit", "-qam", "target", "--no-verify", cwd=released)
    g("checkout", "-q", "raw", cwd=released)
    (released / "data").mkdir(exist_ok=True)
    (released / "data/train.csv").write_text(_table(200))
    g("add", "data/train.csv", cwd=released)
    g("commit", "-qm", "train", "--no-verify", cwd=released)
    bml("pull", "raw", "stable/model", cwd=released)
    g("checkout", "-q", "stable/model", cwd=released)
    (released / "models").mkdir(exist_ok=True)
    (released / "models/m.pkl").write_text("weights\n")
    g("add", "models/m.pkl", cwd=released)
    g("commit", "-qm", "model", "--no-verify", cwd=released)
    bml("tag", "--client", "acme", cwd=released)
    g("checkout", "-q", "main", cwd=released)
    return {"project": base / "project", "released": released}
