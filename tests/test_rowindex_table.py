"""The C row index (native.UploadIndex, `lineage --rows`) gives the answers of the NumPy index
it replaced (build_index + Tally, still the fallback): on random data, on hashes that share a
slot, on 0 and all-ones hashes, on rows added by several uploads, and on an empty raw."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from branchml.core import native, rowindex

needs_c = pytest.mark.skipif(not native.available(), reason="the C library is not built here")
ALL_ONES = -1  # 0xFFFF_FFFF_FFFF_FFFF as int64


def _i64(*values: int) -> Any:
    return np.array(values, dtype=np.int64)


def _answers(index: Any, uploads: int, probes: list[Any]) -> tuple[list[int], int, int, int]:
    t = rowindex.tally(index, uploads)
    for p in probes:
        t.add(p)
    t.finish()
    return t.per_upload.tolist(), t.total, t.unmatched, t.duplicates


def _both(parts: list[tuple[int, Any]], uploads: int, probes: list[Any]
          ) -> tuple[tuple[list[int], int, int, int], tuple[list[int], int, int, int]]:
    """(NumPy's answers, C's answers) for the same parts and probes."""
    numpy = _answers(rowindex.build_index([(u, h.copy()) for u, h in parts]), uploads, probes)
    table = rowindex.index([(u, h.copy()) for u, h in parts])
    assert isinstance(table, native.UploadIndex)
    return numpy, _answers(table, uploads, probes)


@needs_c
@pytest.mark.parametrize("seed", range(8))
def test_c_and_numpy_give_the_same_answers_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = np.concatenate([rng.integers(-2**63, 2**63 - 1, 400, dtype=np.int64),
                           _i64(0, 1, ALL_ONES, -2**63, 2**63 - 1)])
    parts = [(int(rng.integers(0, 10)), rng.choice(pool, int(rng.integers(0, 400))))
             for _ in range(25)]
    rng.shuffle(parts)  # type: ignore[arg-type]
    strangers = rng.integers(-2**63, 2**63 - 1, 100, dtype=np.int64)
    probes = [rng.choice(np.concatenate([pool, strangers]), int(rng.integers(0, 900)))
              for _ in range(4)]
    numpy, c = _both(parts, 10, probes)
    assert c == numpy
    assert numpy[1] > numpy[2] > 0 and numpy[3] > 0  # matched, unmatched and shared rows


@needs_c
def test_zero_and_all_ones_are_keys_like_any_other() -> None:
    # the set Table stores 0 as 1 (rows are compared byte by byte after it); the index must
    # not: a row hashing to 0 and one hashing to 1 are two rows of two uploads
    parts = [(0, _i64(0)), (1, _i64(1)), (2, _i64(ALL_ONES)), (3, _i64(-2**63))]
    numpy, c = _both(parts, 4, [_i64(0, 1, 1, ALL_ONES, -2**63, 2, 2**63 - 1)])
    assert c == numpy == ([1, 2, 1, 1], 7, 2, 0)


@needs_c
def test_hashes_that_share_a_slot_are_told_apart() -> None:
    # the slot is the hash's top 32 bits scaled to the table: the first 40 all start at slot
    # 0, the next 40 at the last slot, so probing wraps around into the first run
    same_top = [(7 << 32) | low for low in range(40)]
    last = [(-1 << 32) | low for low in range(40)]  # top bits all ones (negative int64)
    parts = [(u % 5, _i64(h)) for u, h in enumerate(same_top + last)]
    probes = [_i64(*same_top[::3], *last[::2], (7 << 32) | 999, (-1 << 32) | 999)]
    numpy, c = _both(parts, 5, probes)
    assert c == numpy
    assert numpy[2] == 2  # the two strangers of the crowded slots are not matched


@needs_c
def test_a_row_of_several_uploads_counts_for_the_earliest_and_as_shared() -> None:
    parts = [(4, _i64(9, 5)), (1, _i64(9)), (2, _i64(7, 7)), (2, _i64(7)), (0, _i64(3))]
    numpy, c = _both(parts, 5, [_i64(9, 9, 5, 7, 3, 8)])
    # 9: uploads 1 and 4 (earliest 1, shared); 7 twice in upload 2 only: not shared
    assert c == numpy == ([1, 2, 1, 0, 1], 6, 1, 2)


@needs_c
def test_an_empty_raw_matches_nothing() -> None:
    for parts in ([], [(0, _i64()), (1, _i64())]):
        table = rowindex.index(list(parts))
        assert isinstance(table, native.UploadIndex) and len(table) == 0
        assert _answers(table, 2, [_i64(0, 5, ALL_ONES), _i64()]) == ([0, 0], 3, 3, 0)


@needs_c
def test_the_table_counts_distinct_rows_and_refuses_what_it_was_not_sized_for() -> None:
    table = native.UploadIndex(3)
    h = _i64(4, 4, ALL_ONES)
    table.add_at(1, h.ctypes.data, 3)
    assert len(table) == 2
    with pytest.raises(ValueError, match="sized for"):
        table.add_at(1, h.ctypes.data, 1)
    with pytest.raises(ValueError, match="out of the row index's range"):
        native.UploadIndex(1).add_at(native.MAX_UPLOADS + 1, h.ctypes.data, 1)
    counts = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="fewer per-upload counts"):
        table.count_at(h.ctypes.data, 3, counts.ctypes.data, 1)


@needs_c
def test_more_rows_or_uploads_than_the_table_numbers_use_numpys_index(
        monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [(1, _i64(7, 9)), (0, _i64(9, 4))]
    monkeypatch.setattr(native, "MAX_ROWS", 3)
    assert isinstance(rowindex.index(list(parts)), rowindex.RowIndex)
    monkeypatch.setattr(native, "MAX_ROWS", 4)
    assert isinstance(rowindex.index(list(parts)), native.UploadIndex)
    monkeypatch.setattr(native, "MAX_UPLOADS", 0)
    got = rowindex.index(list(parts))
    assert isinstance(got, rowindex.RowIndex)
    assert _answers(got, 2, [_i64(9, 9, 7, 1)]) == ([2, 1], 4, 1, 2)


def test_without_the_library_the_index_is_numpys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "_lib", None)
    got = rowindex.index([(1, _i64(7, 9)), (0, _i64(9, 4))])
    assert isinstance(got, rowindex.RowIndex)
    assert _answers(got, 2, [_i64(9, 9, 7, 1)]) == ([2, 1], 4, 1, 2)


@needs_c
def test_the_loaded_library_is_the_one_this_code_was_written_for() -> None:
    assert native._lib is not None and native._lib.bm_abi() == native._ABI == 3


@pytest.mark.parametrize("seed", range(4))
def test_count_in_gives_the_search_s_answer_with_and_without_the_table(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # impact's count: a C table for a batch at least a quarter of the set, else a search
    rng = np.random.default_rng(seed)
    pool = np.concatenate([rng.integers(-2**63, 2**63 - 1, 300, dtype=np.int64),
                           _i64(0, 1, ALL_ONES)])
    withdrawn = rowindex.withdrawn_set([rng.choice(pool[:300], 60), _i64(0, ALL_ONES)])
    batches = [rng.choice(pool, n) for n in (5, 14, 15, 60, 3000)]
    got = [rowindex.count_in(withdrawn, b) for b in batches]
    monkeypatch.setattr(rowindex, "SET_ROWS", 1)  # larger sets: searched
    assert got == [rowindex.count_in(withdrawn, b) for b in batches]
    monkeypatch.setattr(native, "_lib", None)
    assert got == [rowindex.count_in(withdrawn, b) for b in batches]
    assert got[-1] > 0 and rowindex.count_in(withdrawn, _i64(1)) == 0
