"""`impact`'s shortcuts (issue 21's 10M-row target) give the answers of the paths they
replace: a release's training selection counted in the split branch's one coded pass when
both read the same files, key and assignment (ops/splitcounts.py `fingerprint`), else in a
pass of its own; the withdrawn keys an assignment still lists counted by probing a table
(ops/leftovers.py); raw's earlier rows probed in a C table (ops/impactmarks.py). Each case
is answered twice, the second time with the shortcut turned off (`fingerprint` None: every
release selected name by name, as before), and the two answers must be equal."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from branchml.core.keyspans import KeySet
from branchml.core.rowhash import member
from branchml.ops import impact as impact_op
from branchml.ops import leftovers, splitcounts
from tests.conftest import commit, git

UP1 = "".join(f"{i},{i % 7}\n" for i in range(30))
UP2 = "".join(f"{i},{i % 7}\n" for i in range(30, 60)) + "3,3\n17,3\n"  # two copied rows


def _both(project: Path, upload: str, monkeypatch: pytest.MonkeyPatch
          ) -> tuple[dict[str, Any], dict[str, Any], int]:
    """impact --from `upload` with the shared pass and without it; the passes it made."""
    calls = []
    real = splitcounts.coded_counts

    def counted(*a: Any, **k: Any) -> Any:
        calls.append(a[2])
        return real(*a, **k)
    monkeypatch.setattr(impact_op, "coded_counts", counted)
    fast = impact_op.impact(project, upload, None)
    passes = len(calls)
    monkeypatch.setattr(impact_op, "fingerprint", lambda *a, **k: None)
    slow = impact_op.impact(project, upload, None)
    return fast, slow, passes


def _pipeline(repo: Path, bml, tmp: Path, splits: tuple[tuple[str, str], ...]  # type: ignore[no-untyped-def]
              ) -> tuple[str, str]:
    """Two uploads on raw (the second copies two rows of the first), cleaned (a row dropped,
    one rewritten), split by id, pulled into stable/model, `split rows` per (name, purpose),
    a model, acme-v1. Returns the uploads' commits."""
    a = commit(repo, {"data/d.csv": "id,x\n" + UP1}, "upload 1", branch="raw")
    b = commit(repo, {"data/d.csv": "id,x\n" + UP1 + UP2}, "upload 2")
    assert bml("pull", "raw", "clean", cwd=repo).code == 0
    rows = ("id,x\n" + UP1 + UP2).replace("5,5\n", "").replace("40,5\n", "40,6\n")
    commit(repo, {"data/d.csv": rows}, "clean", branch="clean")
    assert bml("pull", "clean", "split", cwd=repo).code == 0
    assert bml("split", "--key", "id", cwd=repo).code == 0
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    assert bml("pull", "split", "stable/model", cwd=repo).code == 0
    git("checkout", "-q", "stable/model", cwd=repo)
    for name, purpose in splits:
        r = bml("split", "rows", name, "-o", str(tmp / f"{name}.csv"), "--for", purpose,
                cwd=repo)
        assert r.code == 0, r.err
    commit(repo, {"models/model.bin": "w1",
                  "tracking/splits.jsonl": (repo / "tracking/splits.jsonl").read_text()})
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    return a, b


def _trained(tmp: Path, names: tuple[str, ...], ids: set[int]) -> int:
    return sum(1 for n in names for r in (tmp / f"{n}.csv").read_text().splitlines()[1:]
               if int(r.split(",")[0]) in ids)


@pytest.mark.slow
def test_a_release_of_the_split_branchs_data_is_counted_in_its_one_pass(  # type: ignore[no-untyped-def]
        project: Path, bml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, b = _pipeline(project, bml, tmp_path, (("train", "train"),))
    fast, slow, passes = _both(project, b, monkeypatch)
    assert fast == slow
    assert passes == 1  # the release and the split branch read the same: one pass for both
    (release,) = fast["releases"]
    # upload 2's rows, 40 rewritten by cleaning (not matched), 3 and 17 also upload 1's
    assert release["trained"] == _trained(tmp_path, ("train",), set(range(30, 60)) - {40}
                                          | {3, 17})
    assert release["shared_with_earlier"] == _trained(tmp_path, ("train",), {3, 17})
    assert sum(s["rows"] for s in fast["splits"]) == 33  # 29, and 3 and 17 twice


@pytest.mark.slow
def test_train_and_tune_records_are_one_union_in_the_shared_pass(  # type: ignore[no-untyped-def]
        project: Path, bml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _pipeline(project, bml, tmp_path, (("train", "train"), ("val", "tune"),
                                              ("train", "train")))
    for upload in (a, b):
        fast, slow, passes = _both(project, upload, monkeypatch)
        assert fast == slow and passes == 1
        monkeypatch.undo()
    (release,) = fast["releases"]
    assert release["trained"] == _trained(tmp_path, ("train", "val"),
                                          set(range(30, 60)) - {40} | {3, 17})


@pytest.mark.slow
def test_a_release_of_older_data_than_the_split_branch_gets_a_pass_of_its_own(  # type: ignore[no-untyped-def]
        project: Path, bml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _pipeline(project, bml, tmp_path, (("train", "train"),))
    # a later upload reaches the split branch, split again: not the release's data any more
    more = "".join(f"{i},{i % 7}\n" for i in range(60, 80)) + "31,3\n"
    commit(project, {"data/e.csv": "id,x\n" + more}, "upload 3", branch="raw")
    assert bml("pull", "raw", "clean", cwd=project).code == 0
    assert bml("pull", "clean", "split", cwd=project).code == 0
    assert bml("split", "--key", "id", cwd=project).code == 0
    for upload in (a, b):
        fast, slow, passes = _both(project, upload, monkeypatch)
        assert fast == slow and passes == 2
        monkeypatch.undo()
    assert sum(s["rows"] for s in fast["splits"]) == 34  # and 31 copied into e.csv


def test_withdrawn_keys_listed_by_an_assignment_are_counted_as_by_a_search() -> None:
    rnd = np.random.default_rng(4)
    keys = np.concatenate([rnd.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64),
                           np.array([0, -1, 2**63 - 1, -2**63], dtype=np.int64)])
    keys = np.concatenate([keys, keys[:700]])  # a key in the assignment twice counts once
    rnd.shuffle(keys)
    for withdrawn in (np.unique(np.concatenate([keys[:300], rnd.integers(0, 9, 50)])),
                      np.unique(keys), np.zeros(0, dtype=np.int64),
                      np.array([0, -1], dtype=np.int64)):
        want = int(member(withdrawn, np.sort(keys)).sum())
        assert leftovers._listed(withdrawn, keys) == want
    assert leftovers._listed(np.array([1], dtype=np.int64), np.zeros(0, dtype=np.int64)) == 0


def test_the_table_of_withdrawn_rows_finds_what_a_search_finds() -> None:
    rng = random.Random(8)
    known = np.unique(np.array([rng.randrange(-2**63, 2**63) for _ in range(3000)]
                               + [0, -1], dtype=np.int64))
    probes = np.array([rng.choice(known.tolist()) if rng.random() < 0.3
                       else rng.randrange(-2**63, 2**63) for _ in range(20_000)]
                      + [0, -1, 5], dtype=np.int64)
    assert (KeySet(known).contains(probes) == member(probes, known)).all()
