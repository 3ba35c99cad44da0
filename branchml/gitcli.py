"""Fast read-only facts through the git CLI, for the checker.

The checker runs inside hooks on every commit and push, where importing pygit2 alone costs
more than its whole budget, and inside `pre-receive`, where only the git CLI sees the
quarantined objects of a push being received. So it reads through a few git processes:
one `log`, one `diff-tree --stdin`, one `cat-file --batch`, whatever the number of commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from branchml import proc
from branchml.core.changes import Change, CommitFacts
from branchml.errors import NotARepository

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class Layout:
    cwd: Path
    git_dir: Path
    common_dir: Path
    toplevel: Path | None  # None in a bare repository


class Git:
    def __init__(self, cwd: str | Path = ".") -> None:
        self.cwd = Path(cwd)
        self._cat: CatFile | None = None
        self._layout: Layout | None = None

    def out(self, *args: str, check: bool = True) -> str:
        return proc.output(["git", *args], cwd=self.cwd, check=check)

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            r = proc.run(
                ["git", "rev-parse", "--path-format=absolute", "--git-dir",
                 "--git-common-dir", "--is-bare-repository"],
                cwd=self.cwd, check=False,
            )
            if r.returncode != 0:
                raise NotARepository(
                    f"{self.cwd.resolve()} is not in a git repository: run `branchml init` "
                    "there, or pass -C PATH."
                )
            git_dir, common, bare = r.stdout.decode().split("\n")[:3]
            top = None if bare == "true" else Path(self.out("rev-parse", "--show-toplevel"))
            self._layout = Layout(self.cwd, Path(git_dir), Path(common), top)
        return self._layout

    def resolve(self, rev: str) -> str | None:
        r = proc.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options",
                      rev + "^{commit}"], cwd=self.cwd, check=False)
        return r.stdout.decode().strip() if r.returncode == 0 else None

    def current_branch(self) -> str | None:
        r = proc.run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
                     cwd=self.cwd, check=False)
        return r.stdout.decode().strip() if r.returncode == 0 else None

    def is_ancestor(self, old: str, new: str) -> bool:
        r = proc.run(["git", "merge-base", "--is-ancestor", old, new], cwd=self.cwd, check=False)
        return r.returncode == 0

    def has_object(self, oid: str) -> bool:
        r = proc.run(["git", "cat-file", "-e", oid], cwd=self.cwd, check=False)
        return r.returncode == 0

    def object_format(self) -> str:
        fmt = self.out("rev-parse", "--show-object-format", check=False)
        return "sha256" if fmt == "sha256" else "sha1"

    def staged_changes(self) -> CommitFacts:
        head = self.resolve("HEAD") or EMPTY_TREE
        raw = proc.run(["git", "diff-index", "--cached", "-r", "-z", "--no-renames", head],
                       cwd=self.cwd).stdout
        return CommitFacts("", "(staged changes)", tuple(_parse_raw(raw.split(b"\0"))))

    def first_parent_commits(self, include: str, exclude: list[str]) -> list[tuple[str, str, str]]:
        """(sha, first parent or "", subject), oldest first, of `include` not reachable
        from `exclude`, along first parents: what a branch's own history gained."""
        args = ["git", "log", "--first-parent", "--reverse", "--format=%H %P%x1f%s",
                include, "--not", *exclude, "--"]
        text = proc.run(args, cwd=self.cwd).stdout.decode("utf-8", errors="replace")
        out = []
        for line in text.splitlines():
            ids, _, subject = line.partition("\x1f")
            parts = ids.split()
            out.append((parts[0], parts[1] if len(parts) > 1 else "", subject))
        return out

    def commit_changes(self, commits: list[tuple[str, str, str]]) -> list[CommitFacts]:
        if not commits:
            return []
        stdin = "".join(f"{sha} {parent}\n" for sha, parent, _ in commits).encode()
        raw = proc.run(["git", "diff-tree", "--stdin", "-r", "-z", "--no-renames", "--root"],
                       cwd=self.cwd, stdin=stdin).stdout
        by_sha: dict[str, list[Change]] = {}
        current: list[Change] = []
        tokens = raw.split(b"\0")
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.startswith(b":"):
                current.append(_change(tok, tokens[i + 1]))
                i += 2
                continue
            if tok:
                current = by_sha.setdefault(tok.decode(), [])
            i += 1
        return [CommitFacts(sha, subj, tuple(by_sha.get(sha, ()))) for sha, _, subj in commits]

    def show_file(self, rev: str, path: str) -> tuple[str, bytes] | None:
        """(blob id, content) of `rev:path`, or None when it does not exist."""
        return self.cat.read(f"{rev}:{path}")

    @property
    def cat(self) -> CatFile:
        if self._cat is None:
            self._cat = CatFile(self.cwd)
        return self._cat

    def close(self) -> None:
        if self._cat is not None:
            self._cat.close()
            self._cat = None


def _change(meta: bytes, path: bytes) -> Change:
    old_mode, new_mode, old, new, status = meta[1:].decode().split(" ")
    return Change(status[0], path.decode("utf-8", errors="surrogateescape"), old, new,
                  old_mode, new_mode)


def _parse_raw(tokens: list[bytes]) -> Iterator[Change]:
    for i in range(0, len(tokens) - 1, 2):
        if tokens[i].startswith(b":"):
            yield _change(tokens[i], tokens[i + 1])


class CatFile:
    """One `git cat-file --batch-command` process serving every object read of a command."""

    CHUNK = 1 << 20

    def __init__(self, cwd: Path) -> None:
        self.p = proc.popen(["git", "cat-file", "--batch-command"], cwd=cwd)
        self._pending: Iterator[bytes] | None = None

    def _ask(self, command: str, spec: str) -> tuple[str, int] | None:
        assert self.p.stdin is not None and self.p.stdout is not None
        if self._pending is not None:
            for _ in self._pending:  # keep the stream in step if a reader stopped early
                pass
            self._pending = None
        if "\n" in spec:
            return None
        self.p.stdin.write(f"{command} {spec}\n".encode("utf-8", errors="surrogateescape"))
        self.p.stdin.flush()
        header = self.p.stdout.readline().decode().split()
        if len(header) != 3:
            return None  # "<spec> missing" or "ambiguous"
        return header[0], int(header[2])

    def size(self, spec: str) -> int | None:
        found = self._ask("info", spec)
        return None if found is None else found[1]

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

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        self.p.wait()
        if self.p.stdout:
            self.p.stdout.close()
