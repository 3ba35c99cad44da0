"""The plain Python baseline bench_lineage.py runs beside `branchml lineage --rows` and
`branchml impact`: sets and dicts of row bytes, the git CLI and the LFS store read directly.

- uploads: one `git log --reverse --raw` of raw's data folder; each version of each file read
  whole from .git/lfs/objects; an upload's rows are the lines after the previous version when
  that is a prefix of the new one, else the lines the new version has more of (a Counter);
  a CSV header is not a row.
- lineage: a dict row bytes -> the earliest upload holding it, then the training rows (the
  file `split rows train` wrote) looked up one by one and counted per upload.
- impact: a set of the withdrawn rows (an upload's added rows, or a file's), then the release's
  training rows and every branch's data files (each LFS object counted once) scanned for them;
  per split name, the held rows of the split branch by their key's line in the assignment.

Only what the bench's data needs (CSV in git-lfs, LF line ends, no quoted newlines): it is the
comparison, not a second implementation. Prints one JSON object.

  python bench/lineage_baseline.py REPO TRAIN_FILE lineage
  python bench/lineage_baseline.py REPO TRAIN_FILE impact --from COMMIT | --rows FILE
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

RAW = "refs/heads/raw"
BRANCHES = ("raw", "clean", "split", "stable/model", "dev/model", "monitoring")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def lfs_bytes(repo: Path, blob: str, pointers: dict[str, str]) -> bytes:
    """The LFS object a pointer blob names (its text in `pointers`, read by cat-file)."""
    oid = pointers[blob].split("oid sha256:")[1].split()[0]
    return (repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).read_bytes()


def pointer_texts(repo: Path, blobs: list[str]) -> dict[str, str]:
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, check=True,
                         capture_output=True, input="".join(b + "\n" for b in blobs).encode()
                         ).stdout
    texts, at = {}, 0
    for blob in blobs:
        eol = out.index(b"\n", at)
        size = int(out[at:eol].split()[2])
        texts[blob] = out[eol + 1:eol + 1 + size].decode()
        at = eol + 2 + size
    return texts


def changes(repo: Path, only: str | None = None) -> Iterator[tuple[str, str, str, str]]:
    """(commit, path, old blob, new blob) of every data file an upload added or changed."""
    args = ["log", "--reverse", "--no-merges", "--raw", "--no-abbrev", "--no-renames",
            "--format=C %H", *(["-1", only] if only else [RAW]), "--", "data/"]
    commit = ""
    for line in git(repo, *args).splitlines():
        if line.startswith("C "):
            commit = line[2:]
        elif line.startswith(":"):
            meta, path = line.split("\t", 1)
            _, _, old, new, status = meta.split()
            if status in ("A", "M"):
                yield commit, path, old, new


def rows_of(data: bytes) -> list[bytes]:
    return data.split(b"\n")[1:-1] if data.endswith(b"\n") else data.split(b"\n")[1:]


def upload_rows(repo: Path, only: str | None = None) -> Iterator[tuple[str, str, list[bytes]]]:
    """(commit, file, rows it added) per upload, in history order."""
    found = list(changes(repo, only))
    blobs = sorted({b for _, _, old, new in found for b in (old, new) if set(b) != {"0"}})
    pointers = pointer_texts(repo, blobs)
    for commit, path, old_blob, new_blob in found:
        new = lfs_bytes(repo, new_blob, pointers)
        old = b"" if set(old_blob) == {"0"} else lfs_bytes(repo, old_blob, pointers)
        if old and new.startswith(old):
            added = new[len(old):].split(b"\n")
            yield commit, path, added[:-1] if added[-1] == b"" else added
        else:
            more = Counter(rows_of(new)) - Counter(rows_of(old))
            yield commit, path, list(more.elements())


def training_rows(train: Path) -> Iterator[bytes]:
    with train.open("rb") as f:
        f.readline()
        for line in f:
            yield line.rstrip(b"\n")


def lineage(repo: Path, train: Path) -> dict[str, object]:
    first: dict[bytes, int] = {}
    uploads: list[dict[str, object]] = []
    for n, (commit, path, rows) in enumerate(upload_rows(repo)):
        uploads.append({"commit": commit, "file": path, "rows": 0, "upload_rows": len(rows)})
        for row in rows:
            first.setdefault(row, n)
    per: Counter[int] = Counter()
    total = 0
    for row in training_rows(train):
        total += 1
        n = first.get(row, -1)
        per[n] += 1
    for n, count in per.items():
        if n >= 0:
            uploads[n]["rows"] = count
    matched = total - per[-1]
    return {"rows": {"total": total, "matched": matched, "unmatched": per[-1],
                     "uploads": [u for u in uploads if u["rows"]], "source": "splits"}}


def impact(repo: Path, train: Path, withdrawn: list[bytes]) -> dict[str, object]:
    wanted = set(withdrawn)
    release = sum(1 for row in training_rows(train) if row in wanted)
    counted: dict[str, int] = {}  # LFS pointer blob -> rows among the withdrawn
    branches = []
    for branch in BRANCHES:
        listing = data_blobs(repo, branch)
        todo = [b for b in listing if b not in counted]
        pointers = pointer_texts(repo, todo)
        for blob in todo:
            counted[blob] = sum(1 for r in rows_of(lfs_bytes(repo, blob, pointers))
                                if r in wanted) if "oid sha256:" in pointers[blob] else 0
        rows = sum(counted[b] for b in listing)
        if rows:
            branches.append({"branch": branch, "rows": rows})
    return {"rows": len(withdrawn), "held": release > 0, "branches": branches,
            "releases": [{"tag": "acme-v1", "rows": release}] if release else [],
            "splits": splits(repo, wanted)}


def data_blobs(repo: Path, branch: str) -> list[str]:
    """The blobs of a branch's data files (the split assignment is not data)."""
    return [line.split()[2] for line in git(repo, "ls-tree", "-r", branch, "--", "data/",
                                            "monitoring/").splitlines()
            if "\tdata/split/" not in line]


def splits(repo: Path, wanted: set[bytes]) -> list[dict[str, object]]:
    """Per split name on the split branch: its rows among the withdrawn (each held row's key
    looked up in data/split/assignment.csv)."""
    key = json.loads(git(repo, "show", "acme-v1:tracking/splits.jsonl").splitlines()[0])["key"]
    blobs = data_blobs(repo, "split")
    pointers = pointer_texts(repo, blobs)
    keys: Counter[bytes] = Counter()
    for blob in blobs:
        data = lfs_bytes(repo, blob, pointers)
        column = data.split(b"\n", 1)[0].split(b",").index(key.encode())
        keys.update(r.split(b",")[column] for r in rows_of(data) if r in wanted)
    ptr = git(repo, "cat-file", "-p", "split:data/split/assignment.csv")
    found: Counter[str] = Counter()
    for line in lfs_bytes(repo, "a", {"a": ptr}).split(b"\n")[1:]:
        k, _, name = line.partition(b",")
        if k in keys:
            found[name.decode()] += keys[k]
    return [{"branch": "split", "split": n, "rows": c} for n, c in sorted(found.items())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("train", type=Path)
    ap.add_argument("what", choices=["lineage", "impact"])
    ap.add_argument("--from", dest="commit")
    ap.add_argument("--rows", type=Path)
    a = ap.parse_args()
    if a.what == "lineage":
        print(json.dumps(lineage(a.repo, a.train)))
        return
    if a.commit:
        withdrawn = [r for _, _, rows in upload_rows(a.repo, a.commit) for r in rows]
    else:
        withdrawn = rows_of(a.rows.read_bytes())
    print(json.dumps(impact(a.repo, a.train, withdrawn)))


if __name__ == "__main__":
    main()
