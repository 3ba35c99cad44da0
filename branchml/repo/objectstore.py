"""The object store: the one module that touches pygit2. Objects are built in memory and
refs move by compare-and-swap; the working tree is git's job (`worktree.py`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from branchml.core.plan import RefUpdate
from branchml.errors import BranchmlError, NotARepository, StaleRef, StateError
from branchml.repo import faults, lfs, proc


def _pygit2() -> Any:
    import pygit2  # imported lazily: ~150 ms that read-only commands never pay

    return pygit2


class Written(str):
    """A blob already in the object store, by its id: `commit_files` takes it in place of
    content (a big blob written streamed, never held in memory)."""


class Repo:
    def __init__(self, path: str | Path) -> None:
        pygit2 = _pygit2()
        found = pygit2.discover_repository(str(path))
        if found is None:
            raise NotARepository(
                f"{Path(path).resolve()} is not in a git repository: run `branchml init` there, "
                "or pass -C PATH."
            )
        self.pg = pygit2.Repository(found)

    @classmethod
    def create(cls, path: Path) -> Repo:
        _pygit2().init_repository(str(path), initial_head="main")
        return cls(path)

    @property
    def root(self) -> Path | None:
        return Path(self.pg.workdir) if self.pg.workdir else None

    @property
    def git_dir(self) -> Path:
        """This worktree's own git dir (HEAD, index, rebase state)."""
        return Path(self.pg.path)

    @cached_property
    def common_dir(self) -> Path:
        common = proc.output(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                             cwd=self.pg.path)
        return Path(common)

    def head_branch(self) -> str | None:
        """Current branch (also when unborn), None when HEAD is detached."""
        if self.pg.head_is_detached:
            return None
        target = self.pg.references["HEAD"].target
        return str(target).removeprefix("refs/heads/")

    def resolve(self, rev: str) -> str | None:
        try:
            obj = self.pg.revparse_single(rev)
            return str(obj.peel(_pygit2().Commit).id)
        except (KeyError, ValueError, _pygit2().GitError):
            return None

    def branch_target(self, name: str) -> str | None:
        ref = self.pg.references.get(f"refs/heads/{name}")
        return str(ref.target) if ref is not None else None

    def read_file(self, commit: str | None, path: str) -> bytes | None:
        if commit is None:
            return None
        tree = self.pg[commit].tree
        try:
            entry = tree[path]
        except KeyError:
            return None
        blob = self.pg[entry.id]
        return bytes(blob.data) if blob.type_str == "blob" else None

    def signature(self) -> Any:
        try:
            return self.pg.default_signature
        except (KeyError, _pygit2().GitError):
            raise StateError(
                "git does not know who you are: set `git config user.name` and "
                "`git config user.email`, then run the command again."
            ) from None

    def tree_from_files(self, base: str | None, files: Mapping[str, bytes | Written]) -> Any:
        """`base`'s tree (or an empty one) with `files` written over it, in memory."""
        pygit2 = _pygit2()
        index = pygit2.Index()
        if base is not None:
            index.read_tree(self.pg[base].tree)
        with writing(self.pg.path):
            for path, data in files.items():
                blob = (pygit2.Oid(hex=str(data)) if isinstance(data, Written)
                        else self.pg.create_blob(data))
                faults.point("object")
                index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
            tree = index.write_tree(self.pg)
        faults.point("object")
        return tree

    def commit_files(self, base: str | None, files: Mapping[str, bytes | Written], message: str,
                     dry_run: bool = False, parents: Sequence[str] | None = None) -> str:
        """A commit of `base`'s tree with `files` written over it, built in memory; its
        parents are `base` unless given. `dry_run`: its id, with every object written into a
        throwaway store (`scratch`)."""
        up = list(parents) if parents is not None else [base] if base else []
        if dry_run:
            sig = self.signature()  # the user's identity: the scratch store has no config
            with self.scratch() as other, writing(other.pg.path):
                tree = other.tree_from_files(base, files)
                return str(other.pg.create_commit(None, sig, sig, message, tree, up))
        return self.commit_tree(self.tree_from_files(base, files), up, message)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Repo]:
        """A throwaway bare repository in a temporary folder that reads this one's objects
        (objects/info/alternates) and writes only its own: a dry run builds the very objects
        a real run would and leaves this repository's object store as it was."""
        pygit2 = _pygit2()
        sig = self.signature()  # the user's identity: the scratch store has no config of its own
        with tempfile.TemporaryDirectory(prefix="branchml-dry-run-") as tmp:
            pygit2.init_repository(tmp, bare=True)
            alternates = Path(tmp) / "objects" / "info" / "alternates"
            alternates.write_text(f"{self.common_dir / 'objects'}\n")
            other = Repo.__new__(Repo)
            other.pg = pygit2.Repository(tmp)
            other.pg.config["user.name"], other.pg.config["user.email"] = sig.name, sig.email
            other.__dict__["common_dir"] = Path(tmp)  # the cached_property, without a git call
            yield other

    @contextlib.contextmanager
    def writer(self, dry_run: bool) -> Iterator[Repo]:
        """Where a command builds its objects: this repository, or for a dry run a `scratch`
        store that reads this one's objects and keeps what it writes (git-lfs objects too) to
        itself. Meanwhile the git processes this command starts in this repository also read
        the scratch objects (GIT_ALTERNATE_OBJECT_DIRECTORIES, as git's own push quarantine
        does), so its checks judge what the dry run built; nothing is written here."""
        if not dry_run:
            yield self
            return
        with self.scratch() as other:
            key, was = "GIT_ALTERNATE_OBJECT_DIRECTORIES", os.environ.get(
                "GIT_ALTERNATE_OBJECT_DIRECTORIES")
            os.environ[key] = os.pathsep.join(filter(None, [str(other.common_dir / "objects"),
                                                            was]))
            try:
                with lfs.reading_also(lfs.store(self.common_dir).objects,
                                      lfs.store(other.common_dir).objects):
                    yield other
            finally:
                if was is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = was

    def merge_base(self, a: str, b: str) -> str | None:
        found = self.pg.merge_base(a, b)
        return str(found) if found is not None else None

    def commit_tree(self, tree: Any, parents: Sequence[str], message: str) -> str:
        sig = self.signature()
        with writing(self.pg.path):
            made = str(self.pg.create_commit(None, sig, sig, message, tree, list(parents)))
        faults.point("object")
        return made

    def write_tag(self, commit: str, name: str, message: str) -> str:
        """An annotated tag object for `commit`, byte for byte what `git tag -a
        --cleanup=verbatim -F -` writes (tagger from git's own ident, so GIT_COMMITTER_*
        apply); no ref points at it yet: the apply layer creates the ref."""
        tagger = proc.output(["git", "var", "GIT_COMMITTER_IDENT"], cwd=self.pg.path)
        body = (f"object {commit}\ntype commit\ntag {name}\ntagger {tagger}\n\n{message}"
                .encode())
        with writing(self.pg.path):
            made = str(self.pg.odb.write(_pygit2().enums.ObjectType.TAG, body))
        faults.point("object")
        return made

    def update_refs(self, updates: Sequence[RefUpdate], message: str) -> None:
        """All-or-nothing, each ref checked against its expected old value under its lock."""
        self.signature()  # fail early, with a plain sentence, when no identity is set
        with writing(self.pg.path), self.pg.transaction() as tx:
            for u in updates:
                _lock(tx, u.ref, self.common_dir)
            for u in updates:
                current = self.pg.references.get(u.ref)
                now = str(current.target) if current is not None else None
                if now != u.old:
                    raise StaleRef(
                        f"{u.ref} moved while branchml was working (expected "
                        f"{(u.old or 'nothing')[:10]}, found {(now or 'nothing')[:10]}); "
                        "nothing was changed: run the command again."
                    )
            for u in updates:
                if u.new is None:
                    tx.remove(u.ref)
                else:
                    tx.set_target(u.ref, u.new, message=message)
            faults.point("refs-locked")

    def config_get(self, key: str) -> str | None:
        cfg = self.pg.config
        return str(cfg[key]) if key in cfg else None


def _lock(tx: Any, ref: str, common_dir: Path) -> None:
    import pygit2

    try:
        tx.lock_ref(ref)
    except pygit2.GitError:
        raise StateError(
            f"{ref} is locked by another git process ({common_dir / ref}.lock exists); wait "
            "for it to finish, or remove that file if no git command is running, then run "
            "the command again."
        ) from None


@contextlib.contextmanager
def writing(where: str | Path) -> Iterator[None]:
    """A write into the git dir that the system refuses (read-only, disk full, quota) is one
    sentence with exit 4; the objects already written are unreferenced, so nothing changed."""
    try:
        yield
    except OSError as e:
        raise StateError(f"could not write in {where} ({e.strerror or e}); nothing was "
                         "changed: free space or make it writable, then run the command "
                         "again.") from None
    except BranchmlError:
        raise
    except Exception as e:
        said = str(e)
        if not any(w in said for w in ("No space", "Read-only", "ermission denied", "quota")):
            raise
        raise StateError(f"could not write in {where} ({said.splitlines()[0]}); nothing was "
                         "changed: free space or make it writable, then run the command "
                         "again.") from None
