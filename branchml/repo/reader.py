"""Fast read-only facts through the git CLI, for the checker.

The checker runs inside hooks on every commit and push, where importing pygit2 alone costs
more than its whole budget, and inside `pre-receive`, where only the git CLI sees the
quarantined objects of a push being received. So it reads through a few git processes:
one `log`, one `diff-tree --stdin`, one `cat-file --batch`, whatever the number of commits.
"""

from __future__ import annotations

import contextlib
import subprocess
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from branchml.core.bounds import TooLarge
from branchml.core.changes import Change, CommitFacts
from branchml.errors import NotARepository
from branchml.repo import logstream, proc

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class Layout(NamedTuple):
    cwd: Path
    git_dir: Path
    common_dir: Path
    bare: bool
    object_format: str  # "sha1" or "sha256"

    @property
    def toplevel(self) -> Path | None:
        """The worktree root (None in a bare repository)."""
        if self.bare:
            return None
        return Path(proc.output(["git", "rev-parse", "--show-toplevel"], cwd=self.cwd))


class Git:
    def __init__(self, cwd: str | Path = ".") -> None:
        self.cwd = Path(cwd)
        self._cat: CatFile | None = None
        self._layout: Layout | None = None
        self._resolved: dict[str, str | None] = {}
        self._config: dict[str, str | None] = {}
        # commit -> the size of its message, for the commits range_facts found over
        # logstream.MESSAGE_LIMIT (the checker turns each into a violation)
        self.long_messages: dict[str, int] = {}

    def out(self, *args: str, check: bool = True) -> str:
        return proc.output(["git", *args], cwd=self.cwd, check=check)

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            r = proc.run(
                ["git", "rev-parse", "--path-format=absolute", "--git-dir",
                 "--git-common-dir", "--is-bare-repository", "--show-object-format"],
                cwd=self.cwd, check=False,
            )
            if r.returncode != 0:
                raise NotARepository(
                    f"{self.cwd.resolve()} is not in a git repository: run `branchml init` "
                    "there, or pass -C PATH."
                )
            git_dir, common, bare, fmt = r.stdout.decode().split("\n")[:4]
            self._layout = Layout(self.cwd, Path(git_dir), Path(common), bare == "true",
                                  "sha256" if fmt == "sha256" else "sha1")
        return self._layout

    def resolve(self, rev: str) -> str | None:
        """The commit `rev` names, or None. Asked through cat-file's stdin, so a revision
        can never be taken for an option; remembered for the command's lifetime."""
        if rev not in self._resolved:
            found = None if rev.startswith("-") else self.cat.info(rev + "^{commit}")
            self._resolved[rev] = found[0] if found else None
        return self._resolved[rev]

    def config(self, key: str) -> str | None:
        if key not in self._config:
            r = proc.run(["git", "config", "--get", key], cwd=self.cwd, check=False)
            self._config[key] = r.stdout.decode().strip() if r.returncode == 0 else None
        return self._config[key]

    def current_branch(self) -> str | None:
        r = proc.run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
                     cwd=self.cwd, check=False)
        return r.stdout.decode().strip() if r.returncode == 0 else None

    def is_ancestor(self, old: str, new: str) -> bool:
        r = proc.run(["git", "merge-base", "--is-ancestor", old, new], cwd=self.cwd, check=False)
        return r.returncode == 0

    def diverged(self, branch: str, remote: str = "origin") -> str | None:
        """`<remote>/<branch>` when the local branch and it have both moved apart (neither
        contains the other), else None."""
        local, theirs = self.resolve(f"refs/heads/{branch}"), \
            self.resolve(f"refs/remotes/{remote}/{branch}")
        if local is None or theirs is None or local == theirs:
            return None
        if self.is_ancestor(local, theirs) or self.is_ancestor(theirs, local):
            return None
        return f"{remote}/{branch}"

    def on_first_parent_chain(self, tip: str, sha: str) -> bool:
        """Whether `sha` is on `tip`'s first-parent chain: the chain is read as a stream and
        the read stops at `sha`, so a commit near the tip costs a few lines, not the history."""
        p = proc.popen(["git", "rev-list", "--first-parent", tip, "--"], cwd=self.cwd,
                       stdin=False)
        try:
            assert p.stdout is not None
            return any(line.strip().decode() == sha for line in p.stdout)
        finally:
            _end(p)

    def has_object(self, oid: str) -> bool:
        r = proc.run(["git", "cat-file", "-e", oid], cwd=self.cwd, check=False)
        return r.returncode == 0

    def staged_changes(self) -> CommitFacts:
        head = self.resolve("HEAD") or EMPTY_TREE
        raw = proc.run(["git", "diff-index", "--cached", "-r", "-z", "--no-renames", head],
                       cwd=self.cwd).stdout
        return CommitFacts("", "(staged changes)", tuple(_parse_raw(raw.split(b"\0"))))

    def range_facts(self, include: str, exclude: list[str]) -> Iterator[CommitFacts]:
        """The commits of `include` not reachable from `exclude`, oldest first, along first
        parents (what a branch's own history gained), each with its changes against its
        first parent. One `git log` process, parsed while git is still diffing, in one pass
        (logstream.py). Each commit whose message is over MESSAGE_LIMIT is in
        `long_messages` by the time it is yielded."""
        args = ["git", "log", "-z", "--first-parent", "--reverse", "--no-renames", "--raw",
                "--no-abbrev", "--diff-merges=first-parent", logstream.LOG_FORMAT,
                include, "--not", *exclude, "--"]
        p = proc.popen(args, cwd=self.cwd, stdin=False)
        assert p.stdout is not None
        try:
            yield from self._sized(logstream.records(logstream.tokens(p.stdout)))
            proc.finish(p, args)
        finally:  # a reader that stops early (a verdict found) leaves no git process behind
            if p.returncode is None:
                p.kill()
                p.wait()
            p.stdout.close()

    def _sized(self, batches: Iterable[list[CommitFacts]]) -> Iterator[CommitFacts]:
        """The commits of `batches`, each yielded once its message size is known. The sizes
        of the commit objects come from a `cat-file` of their own, asked a group ahead: git
        answers while the log is read and parsed, and its answers never mix with the reads
        of whoever consumes the commits (those use `self.cat`)."""
        sizer = CatFile(self.cwd)
        try:
            late: list[CommitFacts] = []
            for batch in batches:
                for i in range(0, len(batch), CatFile.BATCH):
                    group = batch[i:i + CatFile.BATCH]
                    sizer.ask_sizes([c.sha for c in group])
                    yield from self._noted(late, sizer.sizes_asked(len(late)))
                    late = group
            yield from self._noted(late, sizer.sizes_asked(len(late)))
        finally:
            sizer.close()

    def _noted(self, commits: list[CommitFacts], sizes: list[int | None]
               ) -> list[CommitFacts]:
        """`commits`, once each whose message is over MESSAGE_LIMIT is in `long_messages`:
        only a commit object over the limit is read (streamed) to measure its message."""
        for commit, size in zip(commits, sizes, strict=True):
            if size is not None and size > logstream.MESSAGE_LIMIT:
                found = logstream.message_size(self.cat.stream(commit.sha) or iter(()))
                if found > logstream.MESSAGE_LIMIT:
                    self.long_messages[commit.sha] = found
        return commits

    def tree_changes(self, old: str, new: str) -> CommitFacts:
        """The net change from commit `old` to commit `new`, whatever lies between."""
        raw = proc.run(["git", "diff-tree", "-r", "-z", "--no-renames", "--no-abbrev", old, new],
                       cwd=self.cwd).stdout
        return CommitFacts(new, f"(net change {old[:10]}..{new[:10]})",
                           tuple(_parse_raw(raw.split(b"\0"))), "", old)

    def refs(self, prefix: str) -> dict[str, str]:
        """{refname: object id} of every ref under `prefix` (tags: the tag object's id)."""
        out = self.out("for-each-ref", "--format=%(objectname) %(refname)", prefix)
        return {ref: oid for oid, _, ref in (line.partition(" ") for line in out.splitlines())}

    def object_type(self, oid: str) -> str | None:
        """"commit", "tag", "tree" or "blob"; None when the object is not here."""
        r = proc.run(["git", "cat-file", "-t", "--end-of-options", oid], cwd=self.cwd,
                     check=False)
        return r.stdout.decode().strip() if r.returncode == 0 else None

    def ls_tree(self, commit: str) -> list[tuple[str, str, str]]:
        """(mode, object id, path) of every file of a commit, one git process."""
        raw = proc.run(["git", "ls-tree", "-r", "-z", "--full-tree", commit], cwd=self.cwd).stdout
        out = []
        for entry in raw.split(b"\0"):
            if entry:
                meta, _, path = entry.partition(b"\t")
                mode, _, oid = meta.decode().split(" ")
                out.append((mode, oid, path.decode("utf-8", errors="surrogateescape")))
        return out

    def message(self, commit: str) -> str:
        return self.out("log", "-1", "--format=%B", commit)

    def show_file(self, rev: str, path: str) -> tuple[str, bytes] | None:
        """(blob id, content) of `rev:path`, or None when it does not exist."""
        return self.cat.read(f"{rev}:{path}")

    @property
    def cat(self) -> CatFile:
        if self._cat is None:
            # outside a repository cat-file would print git's "fatal:" on the user's
            # terminal (its stderr is not piped): one sentence instead (NotARepository)
            self.layout  # noqa: B018
            self._cat = CatFile(self.cwd)
        return self._cat

    def close(self) -> None:
        if self._cat is not None:
            self._cat.close()
            self._cat = None

    def read_bounded(self, spec: str, limit: int, what: str = "") -> tuple[str, bytes] | None:
        """(object id, content) of `spec`, or None when it names nothing; TooLarge, before
        any byte is read, when the object holds more than `limit` bytes (an object a pusher
        or a remote chose: a few KiB of zeros on the wire can be gigabytes here)."""
        found = self.cat.info(spec)
        if found is None:
            return None
        if found[1] > limit:
            raise TooLarge(what or spec, found[1], limit)
        return self.cat.read(found[0])


def _parse_raw(tokens: list[bytes]) -> Iterator[Change]:
    for i in range(0, len(tokens) - 1, 2):
        if tokens[i].startswith(b":"):
            yield logstream.change(tokens[i], tokens[i + 1])


class CatFile:
    """One `git cat-file --batch-command` process serving every object read of a command.
    `close()` ends it; so does dropping the last reference (a command that never closes
    its `Git` leaves no process or pipe behind)."""

    CHUNK = 1 << 20
    BATCH = 256

    def __init__(self, cwd: Path) -> None:
        self.p = proc.popen(["git", "cat-file", "--batch-command"], cwd=cwd)
        self._pending: Iterator[bytes] | None = None
        self._kind = ""  # the type of the object last asked about
        self.close = weakref.finalize(self, _end, self.p)

    def _drain(self) -> None:
        if self._pending is not None:
            for _ in self._pending:  # keep the stream in step if a reader stopped early
                pass
            self._pending = None

    def _ask(self, command: str, spec: str) -> tuple[str, int] | None:
        assert self.p.stdin is not None and self.p.stdout is not None
        self._drain()
        if "\n" in spec:
            return None
        self.p.stdin.write(f"{command} {spec}\n".encode("utf-8", errors="surrogateescape"))
        self.p.stdin.flush()
        header = self.p.stdout.readline().decode().split()
        if len(header) != 3:
            return None  # "<spec> missing" or "ambiguous"
        self._kind = header[1]
        return header[0], int(header[2])

    def info(self, spec: str) -> tuple[str, int] | None:
        """(object id, size) of `spec`, or None when it names nothing."""
        return self._ask("info", spec)

    def blob_size(self, spec: str) -> tuple[str, int] | None:
        """`info` when `spec` names a blob, else None: the type from this process's answer
        (a `git cat-file -t` process per file was ~1,000 spawns for a command on 1,000 files)."""
        self._kind = ""
        found = self._ask("info", spec)
        return found if found is not None and self._kind == "blob" else None

    def size(self, spec: str) -> int | None:
        found = self._ask("info", spec)
        return None if found is None else found[1]

    def ask_sizes(self, oids: list[str]) -> None:
        """Ask the size of each object id of `oids` in one write; `sizes_asked` reads the
        answers. At most two batches of BATCH answers wait in the pipe (well under its 64 KiB),
        so git never blocks writing them and always reads what is asked next."""
        assert self.p.stdin is not None
        self._drain()
        # an id, never a command: anything else is asked as "0", which git says is missing
        self.p.stdin.write("".join(f"info {oid if oid.isalnum() else 0}\n"
                                   for oid in oids).encode())
        self.p.stdin.flush()

    def sizes_asked(self, n: int) -> list[int | None]:
        """The next `n` answers to `ask_sizes` (None: no such object)."""
        assert self.p.stdout is not None
        out: list[int | None] = []
        for _ in range(n):
            header = self.p.stdout.readline().split()
            out.append(int(header[2]) if len(header) == 3 else None)
        return out

    def read(self, spec: str) -> tuple[str, bytes] | None:
        found = self._ask("contents", spec)
        if found is None:
            return None
        data = b"".join(self._chunks(found[1]))
        return found[0], data

    def stream(self, spec: str) -> Iterator[bytes] | None:
        """The chunks of an object; whatever a reader leaves is drained at the next call."""
        found = self._ask("contents", spec)
        if found is None:
            return None
        self._pending = self._chunks(found[1])
        return self._pending

    def _chunks(self, size: int) -> Iterator[bytes]:
        assert self.p.stdout is not None
        left = size
        while left > 0:
            chunk = self.p.stdout.read(min(self.CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
        self.p.stdout.read(1)  # the newline after each object


def _end(p: subprocess.Popen[bytes]) -> None:
    """End a cat-file process: EOF on its stdin, and its stdout closed first, so that one
    still writing an object nobody read gets EPIPE instead of waiting forever."""
    for pipe in (p.stdin, p.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):  # it is gone already
                pipe.close()
    p.wait()


class BlobWriter:
    """A new blob written by `git hash-object -w --stdin`: streamed, no filters, and stored
    with git's loose-object compression (core.looseCompression, fast by default)."""

    def __init__(self, cwd: Path) -> None:
        self.args = ["git", "hash-object", "-w", "--stdin"]
        self.p = proc.popen_io(self.args, cwd=cwd)

    def write(self, data: bytes) -> int:
        assert self.p.stdin is not None
        self.p.stdin.write(data)
        return len(data)

    def finish(self) -> str:
        out, err = self.p.communicate()
        if self.p.returncode != 0:
            raise proc.ProcessError(self.args, self.p.returncode, out, err)
        return out.decode().strip()

    def abort(self) -> None:
        self.p.kill()
        self.p.communicate()
