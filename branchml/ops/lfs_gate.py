"""Every git-lfs pointer a judged update adds or changes, against the object it names.

On a server (a bare repository: the pre-receive hook, or `check --range` run there) the
object must be in the server's LFS store with the pointer's size and a SHA-256 over its
whole content equal to the oid; each object is hashed once, then known by its record
(repo/lfsstore.py). On a clone (pre-push, `check --range`, a push judged locally) the
object must be in the local store with the pointer's size, unless the pointer is already
under a ref of the receiving side (a clone fetches only some objects: a branch it pushes
may carry pointers the remote has had all along).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from branchml.core import messages as msg
from branchml.core.changes import CommitFacts, Violation
from branchml.core.lfs_pointer import LfsPointer
from branchml.repo import lfs, lfsstore
from branchml.repo.lfs import ObjectState
from branchml.repo.reader import Git

_FILE_MODES = ("100644", "100755")


class LfsGate:
    """Collects the pointers of judged changes (`note`), then says which ones are refused
    (`violations`), in one pass over all of them."""

    def __init__(self, git: Git, new_tips: Iterable[str] = (),
                 receiving: Iterable[str] = ()) -> None:
        self.git = git
        self.server = git.layout.bare
        self.new_tips = [t for t in new_tips if t and set(t) != {"0"}]
        self.receiving = list(receiving)  # the receiving side's ref tips (a clone's view)
        self.blobs: dict[str, tuple[str, str, str]] = {}  # blob -> (commit, path, branch)
        # by pointer, not oid: two pointers to one oid may state different sizes
        self.hashed: dict[LfsPointer, ObjectState] = {}
        self.said: set[LfsPointer] = set()  # problems a growth check already reported

    def note(self, commit: CommitFacts, branch: str) -> None:
        for c in commit.changes:
            if c.status != "D" and c.new_mode in _FILE_MODES and c.new_oid not in self.blobs:
                self.blobs[c.new_oid] = (commit.sha, c.path, branch)

    def noted(self, commits: Iterable[CommitFacts], branch: str) -> Iterable[CommitFacts]:
        for commit in commits:
            self.note(commit, branch)
            yield commit

    def grown(self, pointer: LfsPointer, hashed: lfsstore.Hashed) -> None:
        """A growth check read this object whole: the server keeps its record, and nobody
        reads it a second time."""
        common = self.git.layout.common_dir
        self.hashed[pointer] = (lfsstore.remember(common, pointer, hashed) if self.server
                                else hashed.state)
        if hashed.state.problem not in (None, "content"):
            self.said.add(pointer)  # refused by the growth check, in its own words

    def violations(self) -> list[Violation]:
        common = self.git.layout.common_dir
        pointers = lfsstore.pointers_among(self.git.cwd, self.blobs)
        self._judge_all([p for p in dict.fromkeys(pointers.values()) if p not in self.hashed])
        problems = {blob: self.hashed[p] for blob, p in pointers.items()
                    if self.hashed[p].problem is not None and p not in self.said}
        missing = {b for b, s in problems.items() if s.problem == "missing"}
        if missing and not self.server:
            for blob in lfsstore.reachable(self.git.cwd, self._before(), missing):
                del problems[blob]
        where = lfs.store(common).describe()
        out = []
        for blob, state in problems.items():
            sha, path, branch = self.blobs[blob]
            pointer = pointers[blob]
            out.append(Violation("lfs-object", msg.lfs_object(
                path, pointer.oid, state.problem or "", self.server, where, state.size,
                pointer.size), sha, path, branch))
        return out

    def _judge_all(self, pointers: list[LfsPointer]) -> None:
        """Each object's state; a server hashes the big ones on a few threads (hashlib
        releases the GIL on big buffers: several models take about the time of the largest),
        the small ones inline (a thread per 1 KiB object would cost more than its hash)."""
        from concurrent.futures import ThreadPoolExecutor

        common = self.git.layout.common_dir
        lfs.store(common)  # read once here, not by each thread at once
        judge = lfsstore.verified if self.server else lfsstore.present
        big = [p for p in pointers if self.server and p.size >= lfsstore.RECORD_MIN]
        workers = min(4, os.cpu_count() or 1, len(big))
        if workers > 1:
            with ThreadPoolExecutor(workers, thread_name_prefix="lfs-gate") as pool:
                self.hashed.update(zip(big, pool.map(lambda p: judge(common, p), big),
                                       strict=True))
        for p in pointers:
            if p not in self.hashed:
                self.hashed[p] = judge(common, p)

    def _before(self) -> list[str]:
        """The receiving side's refs as this clone knows them: the view given (the refs as
        they were before the push), and the remote-tracking refs that do not already hold a
        judged tip (a CI clone has the pushed branch as one: what it holds is not yet the
        remote's before the push)."""
        tracking = [r for r in dict.fromkeys(self.git.refs("refs/remotes/").values())
                    if r not in self.receiving
                    and not any(r == t or self.git.is_ancestor(t, r) for t in self.new_tips)]
        return [*self.receiving, *tracking]
