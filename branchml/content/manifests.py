"""A release manifest computed from a commit (for `tag` and `verify`), from git alone."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from branchml.content import environment, lineage
from branchml.content.snapshot import digest
from branchml.core import bounds
from branchml.core import manifest as core
from branchml.core.environment import command_of
from branchml.core.leakage import RECORDS, read_records
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, LfsPointer, parse_pointer
from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.errors import StateError
from branchml.repo import lfs, proc
from branchml.repo.reader import Git

TRACKING_FILES = {"params": "tracking/params.json", "metrics": "tracking/metrics.json"}


class LfsObject(NamedTuple):
    """A git-lfs object a manifest names: a model's, or one under a data folder's tree."""

    path: str
    pointer: LfsPointer


def compute(git: Git, policy: Policy, commit: str, branch: str, check_lfs: bool = False,
            objects: list[LfsObject] | None = None,
            train_command: list[str] | None = None) -> dict[str, Any]:
    """Everything but the tag's own fields (tag, client, n, tagger, time). `objects`, when
    given, receives every LFS object of the data and model paths (for `verify`);
    `train_command` is main's train.command (`tag`) or the one a manifest records (`verify`,
    which proves it apart)."""
    entries = _ls_long(git, commit)
    code = [(m, o, p) for m, _, o, _, p in entries if policy.classify(p) is PathClass.CODE]
    pulled = _trailer(git, commit, "Pulled-From")
    data: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, Any]] = {}
    for _mode, _kind, oid, size, path in entries:
        cls = policy.classify(path)
        if cls not in (PathClass.DATA, PathClass.MODELS):
            continue
        pointer, real = _real_size(git, oid, size, path, check_lfs)
        if pointer is not None and objects is not None:
            objects.append(LfsObject(path, pointer))
        if cls is PathClass.DATA:
            root = path.split("/", 1)[0]
            d = data.setdefault(root, {"tree": _tree(git, commit, root), "files": 0,
                                       "bytes": 0, "from": pulled})
            d["files"] += 1
            d["bytes"] += real
        else:
            models[path] = ({"lfs_oid": pointer.oid, "size": real} if pointer
                            else {"blob": oid, "size": real})
    m: dict[str, Any] = {
        "schema": core.SCHEMA, "commit": commit, "branch": branch,
        "code": {"digest": digest(code), "files": len(code)},
        "data": data, "models": models,
        "params": _json_file(git, commit, TRACKING_FILES["params"]),
        "metrics": _json_file(git, commit, TRACKING_FILES["metrics"]),
        "config_digest": _streamed_sha256(git, f"{commit}:branchml.yaml"),
        "promotion": _trailer(git, commit, "Promoted-From"),
        "pulled_from": pulled,
    }
    splits = split_records(git, commit)
    if splits:  # only when there are some: a manifest from before `split rows` is unchanged
        m["splits"] = splits
    train = environment.train_field(git, commit, train_command)
    if train is not None:  # likewise: no command and no environment record, no `train` key
        m["train"] = train
    m["snapshot"] = core.snapshot_id(m)
    return m


def split_records(git: Git, commit: str) -> list[dict[str, Any]]:
    """The split requests (`branchml split rows`) the commit's tracking records."""
    return split_file(git, commit).kept


class SplitFile(NamedTuple):
    """A commit's tracking/splits.jsonl: the records kept, why each other line is not one,
    and whether the file is a git-lfs pointer (its records then unread: refused)."""

    kept: list[dict[str, Any]]
    unread: list[str]
    lfs: bool


def split_file(git: Git, commit: str) -> SplitFile:
    """The commit's split records; the same bound as its other tracking files
    (bounds.TooLarge over it, nothing read). Lines split at LF only (a CR before it dropped):
    the one reading of rows."""
    found = git.read_bounded(f"{commit}:{RECORDS}", bounds.TRACKING_JSON,
                             f"{commit[:10]}:{RECORDS}")
    if found is None:
        return SplitFile([], [], False)
    if parse_pointer(found[1]) is not None:
        return SplitFile([], [], True)
    read = read_records(line.removesuffix(b"\r") for line in found[1].split(b"\n"))
    return SplitFile(read.kept, read.unread, False)


class FieldCheck(NamedTuple):
    """A recorded manifest against its commit: the fields that differ (with a reason for
    a lineage field proven false), the lineage fields that cannot be proven here, and the
    LFS objects it names (their bytes are checked by `check_objects`)."""

    differ: list[str]
    reasons: dict[str, str]
    unverified: dict[str, str]
    objects: list[LfsObject]


def check_fields(git: Git, policy: Policy, commit: str, recorded: dict[str, Any],
                 own: dict[str, Any], tip: str | None,
                 tips: Mapping[str, str] | None = None,
                 main_tip: str | None = None) -> FieldCheck:
    """Every field of `recorded` but the tagger's claims, recomputed: from the commit, from
    the tag's name (`own`), and the lineage proven against the repository (`tip`: the tip
    here of the branch the manifest names, or None; `tips`: every branch's tip as a judged push
    leaves it, else the refs here, for the pull's source branch). `train.command` is proven
    against the history of main's config from `main_tip` (None: it cannot be, and is false)."""
    objects: list[LfsObject] = []
    command = _recorded_command(recorded)
    actual = compute(git, policy, commit, str(recorded.get("branch", "")), objects=objects,
                     train_command=command)
    if "train" not in recorded:  # a release from before the field: its commit may hold an
        actual.pop("train", None)  # environment record; without a command nothing is re-run
    differ = core.differences(recorded, {**actual, **own})
    false, unverified = lineage.prove(git, policy, commit, recorded, tip, tips)
    if command is not None and not environment.was_main_command(git, main_tip, command):
        false["train"] = environment.NEVER_MAIN
    if "pulled_from" in false and any(d.get("from") for d in actual["data"].values()):
        false["data"] = "each data folder's `from` is its pull's: " + false["pulled_from"]
    # a shallow history cut before the trailer recomputes nothing: unverified, not false
    cut = {f for f in unverified if actual.get(f) is None}
    if "pulled_from" in cut and "data" in differ \
            and _without_from(recorded.get("data")) == _without_from(actual["data"]):
        cut.add("data")
        unverified["data"] = "each data folder's `from` is its pull's: " + unverified[
            "pulled_from"]
    differ = sorted((set(differ) - cut) | set(false))
    return FieldCheck(differ, false, {f: why for f, why in unverified.items()
                                      if f not in differ}, objects)


def _recorded_command(recorded: dict[str, Any]) -> list[str] | None:
    """The argv a manifest's `train` field records (None when it records none, or not as a
    list of strings: the recomputation then differs from it)."""
    train = recorded.get("train")
    return command_of({"train": train}) if isinstance(train, dict) else None


def _without_from(data: Any) -> Any:
    if not isinstance(data, dict) or not all(isinstance(d, dict) for d in data.values()):
        return data
    return {root: {k: v for k, v in d.items() if k != "from"} for root, d in data.items()}


def stamp(m: dict[str, Any], tag: str, client: str, n: int, tagger: str,
          message: str = "") -> dict[str, Any]:
    out = {**m, "tag": tag, "client": client, "n": n, "tagger": tagger,
           "time": datetime.now(UTC).isoformat(timespec="seconds")}
    if message:
        out["message"] = message
    return out


def _ls_long(git: Git, commit: str) -> list[tuple[str, str, str, int, str]]:
    raw = proc.run(["git", "ls-tree", "-r", "-l", "-z", "--full-tree", commit],
                   cwd=git.cwd).stdout
    out = []
    for entry in raw.split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            mode, kind, oid, size = meta.decode().split()
            out.append((mode, kind, oid, int(size) if size.isdigit() else 0,
                        path.decode("utf-8", errors="surrogateescape")))
    return out


def _real_size(git: Git, oid: str, size: int, path: str, check_lfs: bool
               ) -> tuple[LfsPointer | None, int]:
    """(LFS pointer or None, content size): a pointer's size is its object's."""
    if size > MAX_POINTER_SIZE:
        return None, size
    found = git.cat.read(oid)
    pointer = parse_pointer(found[1]) if found else None
    if pointer is None:
        return None, size
    # a clone holds only its checked-out branch's objects: the missing one is fetched first
    if check_lfs and not lfs.ensure_local(git.layout.common_dir, git.cwd, pointer, path):
        raise StateError(f"{path}: its git-lfs object {pointer.oid[:12]} is missing from the "
                         f"local store {lfs.store(git.layout.common_dir).describe()} and could "
                         "not be fetched; run `git lfs fetch origin BRANCH` for the branch of "
                         "this release, then retry.")
    return pointer, pointer.size


def _tree(git: Git, commit: str, root: str) -> str:
    found = git.cat.info(f"{commit}:{root}")
    return found[0] if found else ""


def _streamed_sha256(git: Git, spec: str) -> str:
    """SHA-256 of an object (of nothing when absent), read in chunks: the digest of a config
    the release does not load needs none of it in memory at once."""
    h = hashlib.sha256()
    for chunk in git.cat.stream(spec) or ():
        h.update(chunk)
    return h.hexdigest()


def _json_file(git: Git, commit: str, path: str) -> dict[str, Any]:
    """The JSON object at `commit:path` ({} when absent or not an object); bounds.TooLarge
    when it is over bounds.TRACKING_JSON (its size is asked first, nothing is read)."""
    found = git.read_bounded(f"{commit}:{path}", bounds.TRACKING_JSON, f"{commit[:10]}:{path}")
    if not found:
        return {}
    try:
        value = json.loads(found[1])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _trailer(git: Git, commit: str, key: str) -> dict[str, str] | None:
    """The newest `key: <branch> <sha>` trailer on the first-parent history of `commit`."""
    found = lineage.newest(git, commit, key)
    return found.value() if found else None


def check_objects(git: Git, objects: list[LfsObject]) -> tuple[list[dict[str, Any]], int, int]:
    """Each distinct object's size and SHA-256 recomputed from the LFS store: (the objects
    whose bytes are not their pointer's, how many objects, how many bytes were checked).
    Objects are hashed on a few threads (hashlib releases the GIL), each streamed."""
    from concurrent.futures import ThreadPoolExecutor

    common = git.layout.common_dir
    lfs.store(common)  # read once here, not by each thread at once
    paths: dict[LfsPointer, list[str]] = {}
    for obj in objects:
        paths.setdefault(obj.pointer, []).append(obj.path)
    workers = min(4, os.cpu_count() or 1, len(paths))
    if workers <= 1:
        states = [lfs.object_state(common, p) for p in paths]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="verify") as pool:
            states = list(pool.map(lambda p: lfs.object_state(common, p), paths))
    bad = [_mismatch(git, pointer, names, state)
           for (pointer, names), state in zip(paths.items(), states, strict=True)
           if state.problem is not None]
    return bad, len(paths), sum(p.size for p in paths)


def _mismatch(git: Git, pointer: LfsPointer, names: list[str], state: lfs.ObjectState
              ) -> dict[str, Any]:
    where = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
    head = f"{where}: its git-lfs object {pointer.oid[:12]}"
    store = lfs.store(git.layout.common_dir).describe()
    message = {
        "missing": f"{head} is missing from the local store {store}; run `git lfs fetch` "
                   "for this release, then verify again",
        "unreadable": f"{head} cannot be read as a file in the LFS store {store}",
        "size": f"{head} holds {state.size} bytes in the LFS store, not the {pointer.size} "
                "its pointer names: it was overwritten",
        "content": f"{head} does not hash to its id (its SHA-256 is now "
                   f"{(state.sha256 or '')[:12]}): its bytes were overwritten",
    }[state.problem or "content"]
    return {"paths": names, "oid": pointer.oid, "size": pointer.size,
            "problem": state.problem, "actual_size": state.size,
            "actual_sha256": state.sha256, "message": message}
