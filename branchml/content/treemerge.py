"""Three trees merged in memory with pygit2, each path by its path class's strategy.

Identical subtrees are never entered, so the cost follows what changed, not the repository.
Every conflict is collected before anything is refused, so the error lists all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.core.lfs_pointer import MAX_POINTER_SIZE
from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.core.rows import format_for
from branchml.errors import BranchmlError, ConflictError
from branchml.repo import proc
from branchml.repo.reader import BlobWriter

KEEP = object()  # the result keeps ours' entry
# path, blob -> (blob to keep, or None to drop; why); may also offer row_filter(path, fmt)
Validator = Callable[[str, bytes], tuple[bytes | None, str]]


@dataclass
class MergeReport:
    added: list[str] = field(default_factory=list)
    appended: dict[str, int] = field(default_factory=dict)  # path -> rows added
    taken: list[str] = field(default_factory=list)  # overwritten by theirs, or theirs' edit
    merged: list[str] = field(default_factory=list)  # three-way text merges
    kept_deleted: list[str] = field(default_factory=list)  # ours removed it: stays away
    dropped: dict[str, str] = field(default_factory=dict)  # path -> why (validation)
    conflicts: list[str] = field(default_factory=list)
    # carried removals (pulls.carry_removals): path -> rows removed; files removed whole
    removed: dict[str, int] = field(default_factory=dict)
    removed_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def empty(self) -> bool:
        return not (self.added or self.appended or self.taken or self.merged or self.removed
                    or self.removed_files)


class TreeMerger:
    def __init__(self, repo: Any, policy: Policy, rule: Mapping[PathClass, str],
                 store: strategies.Store, formats: Mapping[str, str] | None = None,
                 validator: Validator | None = None, widen: bool = False,
                 carry: bool = False) -> None:
        self.repo = repo
        self.policy = policy
        self.rule = rule  # path class -> "append" | "overwrite" | "text" | "ours"
        self.store = store
        self.formats = formats
        self.validator = validator
        self.widen = widen
        self.carry = carry  # this pull carries theirs' removals (core/removals.py)
        self.scratch: Path | None = None
        self.inflating: dict[Path, tuple[Any, list[str]]] = {}
        self.report = MergeReport()

    def merge(self, base: Any, ours: Any, theirs: Any) -> Any:
        """The merged tree's id; raises ConflictError listing every conflicting path."""
        result = self._dir("", base, ours, theirs)
        if self.report.conflicts:
            listed = "; ".join(self.report.conflicts[:20])
            raise ConflictError(f"the merge conflicts in {len(self.report.conflicts)} "
                                f"path(s), nothing was changed: {listed}")
        return result if result is not None else self.repo.TreeBuilder().write()

    def _dir(self, prefix: str, b: Any, o: Any, t: Any) -> Any:
        bid, oid, tid = (x.id if x is not None else None for x in (b, o, t))
        if oid == tid or tid == bid:
            return oid
        entries = [_entries(x) for x in (b, o, t)]
        builder = self.repo.TreeBuilder(o) if o is not None else self.repo.TreeBuilder()
        for name in sorted(set().union(*entries)):
            be, oe, te = (e.get(name) for e in entries)
            if _same(oe, te) or _same(te, be):
                continue
            outcome = self._entry(prefix + name, be, oe, te)
            if outcome is KEEP:
                continue
            if outcome is None:
                if oe is not None:
                    builder.remove(name)
            else:
                builder.insert(name, outcome[0], outcome[1])
        return builder.write() if len(builder) else None

    def _entry(self, path: str, be: Any, oe: Any, te: Any) -> Any:
        trees = [e is not None and e.type_str == "tree" for e in (be, oe, te)]
        present = [e for e in (be, oe, te) if e is not None]
        if any(trees):
            if not all(e.type_str == "tree" for e in present):
                self.report.conflicts.append(f"{path}: a file on one side, a folder on the other")
                return KEEP
            sub = self._dir(path + "/", *(self.repo[e.id] if e is not None else None
                                          for e in (be, oe, te)))
            if sub is None:
                return None if oe is not None else KEEP
            return (sub, 0o040000)
        rule = self.rule.get(self.policy.classify(path), "ours")
        try:
            return getattr(self, f"_{rule}")(path, be, oe, te)
        except ConflictError as e:
            self.report.conflicts.append(str(e))
        except BranchmlError:
            raise
        return KEEP

    def _ours(self, path: str, be: Any, oe: Any, te: Any) -> Any:
        return KEEP

    def _overwrite(self, path: str, be: Any, oe: Any, te: Any) -> Any:
        self.report.taken.append(path)
        return None if te is None else (te.id, te.filemode)

    def _text(self, path: str, be: Any, oe: Any, te: Any) -> Any:
        if _same(oe, be):
            self.report.taken.append(path)
            return None if te is None else (te.id, te.filemode)
        if oe is None or te is None:
            raise ConflictError(f"{path}: deleted on one side, changed on the other")
        import pygit2

        def entry(e: Any) -> Any:
            return pygit2.IndexEntry(path, e.id, e.filemode) if e is not None else None

        res = self.repo.merge_file_from_index(entry(be), entry(oe), entry(te))
        if not res.automergeable:
            raise ConflictError(f"{path}: both sides changed the same lines")
        self.report.merged.append(path)
        return (self.repo.create_blob(res.contents.encode("utf-8", "surrogateescape")),
                oe.filemode)

    def _append(self, path: str, be: Any, oe: Any, te: Any) -> Any:
        if te is None:  # append never deletes, unless this pull carries theirs' removals
            return self._gone(path, be, oe) if self.carry and be is not None else KEEP
        if oe is None:
            if be is not None:
                self.report.kept_deleted.append(path)
                return KEEP
            return self._add(path, te)
        ours, theirs = self._side(oe), self._side(te)
        base = self._side(be) if be is not None else None
        merged = strategies.append_file(path, base, ours, theirs, self.store, self.formats,
                                        getattr(self.validator, "row_filter", None),
                                        self._sink, self.widen, self.carry)
        if merged.rows_removed:
            self.report.removed[path] = merged.rows_removed
        if merged.rows_added:
            self.report.appended[path] = merged.rows_added
        if merged.oid is not None:
            return KEEP if merged.oid == str(oe.id) else (merged.oid, oe.filemode)
        if merged.content == ours:
            return KEEP
        return (self.repo.create_blob(merged.content), oe.filemode)

    def _gone(self, path: str, be: Any, oe: Any) -> Any:
        """A file theirs removed since base: removed from ours when ours holds it as it was;
        else, for a row file, ours keeps only the rows it added itself."""
        if oe is None:
            return KEEP
        if _same(oe, be):
            self.report.removed_files.append(path)
            return None
        fmt = format_for(path, self.formats)
        if fmt is None or not fmt.streams:
            return KEEP
        merged = strategies.append_file(path, self._side(be), self._side(oe), b"", self.store,
                                        self.formats, None, self._sink, self.widen, True)
        if not merged.rows_removed:
            return KEEP
        self.report.removed[path] = merged.rows_removed
        if merged.oid is not None:
            return (merged.oid, oe.filemode)
        return (self.repo.create_blob(merged.content), oe.filemode)

    def _sink(self) -> strategies.BlobSink:
        """Where a big merged plain blob goes: straight into the object store, deflated on
        worker threads (looseobj), or through `git hash-object` where that is not exact."""
        from branchml.repo import looseobj  # threads and zlib: only for plain blobs

        cfg = self.repo.config
        fmt = str(cfg["extensions.objectformat"]) if "extensions.objectformat" in cfg else None
        if not looseobj.usable(self.store.common_dir, fmt):
            return BlobWriter(self.store.cwd)
        level = 1  # git's default for loose objects (Z_BEST_SPEED)
        for key in ("core.looseCompression", "core.compression"):
            if key in cfg:
                level = int(str(cfg[key]))
                break
        return looseobj.LooseBlobWriter(self.store.common_dir, max(-1, min(level, 9)))

    def _side(self, e: Any) -> strategies.Side:
        """Small blobs (git-lfs pointers among them) as bytes. A big plain blob is inflated
        once by `git cat-file` into a temp file under the git dir (a merge reads a side
        several times), never held whole in memory; the sides of a file inflate at the same
        time, each in its own git process, while the merge starts."""
        _, size = self.repo.odb.read_header(e.id)
        if size <= MAX_POINTER_SIZE:
            return self._blob(e)
        tmp = self._scratch() / f"blob-{e.id}"
        if not tmp.is_file() and tmp not in self.inflating:
            with tmp.with_suffix(".part").open("wb") as out:
                args = ["git", "cat-file", "blob", str(e.id)]
                self.inflating[tmp] = (proc.spawn_to(args, out, self.store.cwd), args)
        return _Inflated(self, tmp)

    def _scratch(self) -> Path:
        """This merge's own folder under .git/branchml/tmp (another branchml process never
        reads or removes it); removed by `cleanup`."""
        if self.scratch is None:
            import tempfile

            root = self.store.common_dir / "branchml" / "tmp"
            root.mkdir(parents=True, exist_ok=True)
            self.scratch = Path(tempfile.mkdtemp(dir=root, prefix="merge-"))
        return self.scratch

    def _open(self, tmp: Path) -> Any:
        if tmp in self.inflating:
            p, args = self.inflating.pop(tmp)
            proc.finish(p, args)
            tmp.with_suffix(".part").replace(tmp)
        return tmp.open("rb")

    def cleanup(self) -> None:
        for p, _ in self.inflating.values():
            p.kill()
            p.wait()
            if p.stderr:
                p.stderr.close()
        self.inflating.clear()
        if self.scratch is not None:
            import shutil

            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def _add(self, path: str, te: Any) -> Any:
        blob_id = te.id
        if self.validator is not None:
            original = self._blob(te)
            kept, why = self.validator(path, original)
            if why:
                self.report.dropped[path] = why
            if kept is None:
                return KEEP
            if kept != original:
                blob_id = self.repo.create_blob(kept)
        self.report.added.append(path)
        return (blob_id, te.filemode)

    def _blob(self, e: Any) -> bytes:
        return bytes(self.repo[e.id].data)


class _Inflated:
    """A big blob's content in a temp file (once `git cat-file` is done): opened by calling
    it; `path()` for a reader in another process (the row helper)."""

    def __init__(self, merger: TreeMerger, tmp: Path) -> None:
        self._merger, self._tmp = merger, tmp

    def __call__(self) -> Any:
        return self._merger._open(self._tmp)

    def path(self) -> Path:
        self().close()
        return self._tmp


def _entries(tree: Any) -> dict[str, Any]:
    return {e.name: e for e in tree} if tree is not None else {}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return bool(a.id == b.id and a.filemode == b.filemode)
