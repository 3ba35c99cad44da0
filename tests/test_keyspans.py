"""The vectorised keyed split selection (core/keyspans.py, ops/trainrows.py's `_Hashing`
block path, ops/splitcounts.py) against the path it replaces (ops/splitrows.py's `_Rows`,
the csv module and Python's hash): random CSV/TSV with empty fields, short rows, unicode
keys, CRLF, quotes; the same rows selected, or the same one sentence."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from branchml.core import assignments, keyspans, native, rowhash
from branchml.core.rows import Batch, RowFormat
from branchml.core.rowstream import hash_block, hash_list
from branchml.errors import UsageError
from branchml.ops import splitrows, trainrows
from branchml.ops.splitcounts import _Coding
from tests.conftest import commit, git

KEYS = ["k1", "k2", "ключ", "键", "", "x y", "Z"]


def _row(rnd: random.Random, delim: str, fields: int) -> str:
    return delim.join([rnd.choice(KEYS), *(rnd.choice(["", "1", "é", "abc"])
                                         for _ in range(fields - 1))])


def _text(rnd: random.Random, delim: str, rows: int, odd: str = "") -> str:
    """A header `id,v,w` (key first, middle or last) and rows; `odd`: what to mix in."""
    lines = [_row(rnd, delim, 3) for _ in range(rows)]
    if odd == "short":
        lines.insert(rnd.randrange(rows), "k1")
    if odd == "quote":
        lines.insert(rnd.randrange(rows), f'"k1{delim}q"{delim}1{delim}2')
    if odd == "empty":
        lines.insert(rnd.randrange(rows), "")
    if odd == "inner-cr":
        lines.insert(rnd.randrange(rows), f"k1\r{delim}1{delim}2")
    end = "\r\n" if odd == "crlf" else "\n"
    return end.join(lines) + end


def _old_keys(raw: bytes, fmt: RowFormat, header: bytes, key: str) -> list[bytes] | None:
    try:
        return [v.encode() for v in splitrows._keys("f", fmt, header, Batch(raw).rows, key)]
    except (ValueError, IndexError, csv.Error):
        return None


@pytest.mark.parametrize("odd", ["", "crlf", "short", "quote", "empty", "inner-cr"])
@pytest.mark.parametrize("fmt", [RowFormat.CSV, RowFormat.TSV])
def test_key_spans_read_each_key_as_split_rows_or_step_aside(fmt: RowFormat, odd: str) -> None:
    rnd = random.Random(f"{fmt}{odd}")
    delim = fmt.delimiter.decode()
    header = delim.join(["v", "id", "w"]).encode()
    for at, key in enumerate(["v", "id", "w"]):
        raw = _text(rnd, delim, 300, odd).encode()
        old = _old_keys(raw, fmt, header, key)
        spans = keyspans.row_spans(raw)
        found = spans and keyspans.key_spans(raw, *spans, fmt.delimiter[0], at)
        if odd in ("", "crlf"):  # plain: the fast path must take it
            assert found is not None and old is not None
        if odd == "short" and at:
            assert found is None and old is None  # split rows' sentence, from its path
        if found:
            starts, lens = found
            assert [raw[s:s + n] for s, n in zip(starts, lens, strict=True)] == old
            rows = [raw[s:s + n] for s, n in zip(*spans, strict=True)]  # type: ignore[misc]
            assert rows == Batch(raw).rows


def test_hash_spans_is_the_row_hash_in_c_and_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    data = "a,ключ,,longer than eight bytes,\n".encode() * 3
    starts = np.array([0, 2, 13, 14, 34], dtype=np.int64)
    lens = np.array([1, 10, 0, 20, 5], dtype=np.int64)
    want = hash_list([data[s:s + n] for s, n in zip(starts, lens, strict=True)])
    assert (keyspans.hash_spans(data, starts, lens) == want).all()
    assert (rowhash.hash_records(data, starts, lens) == want).all()
    monkeypatch.setattr(native, "_lib", None)
    assert (keyspans.hash_spans(data, starts, lens) == want).all()


@pytest.mark.parametrize("c", [True, False])
def test_the_key_set_answers_as_a_sorted_search(c: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not c:
        monkeypatch.setattr(native, "_lib", None)
    rnd = np.random.default_rng(1)
    known = np.unique(rnd.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64))
    probes = np.concatenate([known[::3], rnd.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64),
                             np.array([0, 1, -1], dtype=np.int64)])
    got = keyspans.KeySet(known).contains(probes)
    assert (got == rowhash.member(probes, known)).all() and got.sum() >= len(known) // 3


def _selections(data: bytes, fmt: RowFormat, key: str, names: list[str],
                assigned: dict[str, str], only: Any = None) -> tuple[Any, Any]:
    """(split rows' selection hashed, the new selection's sink), one file of `data`."""
    keys = sorted(assigned)
    hashed = assignments.Hashed("", np.array([assignments.key_hash(k) for k in keys], np.int64),
                                np.array([["train", "val"].index(assigned[k]) for k in keys],
                                         np.uint8), ["train", "val"],
                                hash_list([k.encode() for k in keys]))
    old_out: list[bytes] = []
    old = splitrows._Rows(None, "c", key, hashed.chosen(names))  # type: ignore[arg-type]
    old._file("d.csv", fmt, io.BytesIO(data), "d.csv", old_out.append)
    old_rows = hash_block(b"".join(old_out).split(b"\n", 1)[1])
    if only is not None:
        old_rows = old_rows[rowhash.member(old_rows, only)]
    got: list[Any] = []
    new = trainrows._Hashing(None, "c", key, hashed.chosen(names))  # type: ignore[arg-type]
    new.only, new.sink = only, got.append
    new.probe = keyspans.KeySet(hashed.chosen_rows(names)).contains
    new._file("d.csv", fmt, io.BytesIO(data), "d.csv",
              lambda b: got.append(hash_block(b)) if b else None)
    return old_rows, np.concatenate(got) if got else rowhash.EMPTY


@pytest.mark.parametrize("odd", ["", "crlf", "quote", "empty", "inner-cr"])
def test_the_block_path_selects_split_rows_rows_over_many_batches(odd: str) -> None:
    rnd = random.Random(odd)
    assigned = {k: rnd.choice(["train", "val"]) for k in KEYS}
    data = b"id,v,w\n" + _text(rnd, ",", 60_000, odd).encode()  # ~1 MiB: several batches
    if odd in ("empty", "inner-cr"):  # split rows refuses these records; so does this path
        with pytest.raises(UsageError, match="too few fields"):
            _selections(data, RowFormat.CSV, "id", ["train"], assigned)
        return
    old, new = _selections(data, RowFormat.CSV, "id", ["train"], assigned)
    assert len(old) > 1000 and (old == new).all()
    only = np.unique(old[::7])
    old, new = _selections(data, RowFormat.CSV, "id", ["train", "val"], assigned, only)
    assert len(old) and (old == new).all()


def test_a_short_row_past_the_first_batch_gets_split_rows_sentence() -> None:
    rnd = random.Random(3)
    data = b"id,v,w\n" + _text(rnd, ",", 60_000).encode() + b"k1,1\n"
    with pytest.raises(UsageError, match="too few fields") as e:
        _selections(data, RowFormat.CSV, "w", ["train"], {k: "train" for k in ["", "1", "abc"]})
    assert str(e.value).endswith("fix the file on the split branch first.")


def test_split_counts_one_pass_gives_each_split_its_rows() -> None:
    rnd = random.Random(5)
    assigned = {k: rnd.choice(["train", "val"]) for k in KEYS}
    data = b"id,v,w\n" + _text(rnd, ",", 60_000, "quote").encode()
    only = np.unique(hash_block(data.split(b"\n", 1)[1])[::3])
    want = [len(_selections(data, RowFormat.CSV, "id", [n], assigned, only)[0])
            for n in ("train", "val")]
    keys = sorted(assigned)
    hashed = assignments.Hashed("", np.array([assignments.key_hash(k) for k in keys], np.int64),
                                np.array([["train", "val"].index(assigned[k]) for k in keys],
                                         np.uint8), ["train", "val"],
                                hash_list([k.encode() for k in keys]))
    rows = _Coding(None, "c", "id", hashed.chosen(["train", "val"]))  # type: ignore[arg-type]
    rows.only = only
    by_row = hashed.row_codes()
    assert by_row is not None
    rows.start(hashed, by_row)
    rows._file("d.csv", RowFormat.CSV, io.BytesIO(data), "d.csv", lambda b: None)
    assert rows.counts.tolist() == want and sum(want) > 1000


def test_a_key_assigned_twice_is_counted_name_by_name() -> None:
    hashed = assignments.read_hashed([b"key,split\na,train\na,val\nb,val\n"], 1000, 10,
                                     row_keys=True)
    assert hashed.row_codes() is None
    once = assignments.read_hashed([b"key,split\na,train\nb,val\n"], 1000, 10, row_keys=True)
    codes = once.row_codes()
    assert codes is not None and sorted(codes[1].tolist()) == [0, 1]
    assert (once.chosen_rows(["val"]) == hash_list([b"b"])).all()


@pytest.mark.slow
def test_lineage_and_impact_of_a_large_keyed_split_match_split_rows(  # type: ignore[no-untyped-def]
        project: Path, bml, tmp_path: Path) -> None:
    rnd = random.Random(9)
    text = "id,v\n" + "".join(f"u{rnd.randrange(400)},{i}\n" for i in range(40_000))
    raw = commit(project, {"data/d.csv": text}, "upload", branch="raw")
    assert bml("pull", "raw", "clean", cwd=project).code == 0
    assert bml("pull", "clean", "split", cwd=project).code == 0
    assert bml("split", "--key", "id", cwd=project).code == 0
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    assert bml("pull", "split", "stable/model", cwd=project).code == 0
    git("checkout", "-q", "stable/model", cwd=project)
    out = {}
    for name, purpose in (("train", "train"), ("val", "tune"), ("test", "evaluate")):
        r = bml("split", "rows", name, "-o", str(tmp_path / f"{name}.csv"), "--for", purpose,
                cwd=project)
        assert r.code == 0, r.err
        out[name] = len((tmp_path / f"{name}.csv").read_text().splitlines()) - 1
    commit(project, {"models/model.bin": "w1",
                     "tracking/splits.jsonl": (project / "tracking/splits.jsonl").read_text()})
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    r = bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json", cwd=project)
    assert r.code == 0, r.err
    assert json.loads(r.out)["rows"]["total"] == out["train"] + out["val"]
    r = bml("impact", "--from", raw, "--json", cwd=project)
    said = {s["split"]: s["rows"] for s in json.loads(r.out)["splits"]}
    assert said == {n: c for n, c in out.items() if c}


def test_a_split_file_is_read_only_when_it_is_a_blob_without_a_process_per_file(
        project: Path) -> None:
    from branchml.ops import splitstream
    from branchml.repo.reader import Git

    c = commit(project, {"data/d.csv": "id\n1\n", "data/sub/e.csv": "id\n2\n"}, "data")
    g = Git(project)
    try:
        assert b"".join(splitstream.chunks(g, c, "data/d.csv") or []) == b"id\n1\n"
        assert splitstream.chunks(g, c, "data/sub") is None  # a tree, not a file
        assert splitstream.chunks(g, c, "data/none.csv") is None
        assert splitstream.chunks(g, c, "data/d.csv") is not None  # the process still in step
    finally:
        g.close()
