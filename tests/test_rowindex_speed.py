"""build_index without a full argsort gives the same index as the argsort it replaced, on
random data with rows repeated within and across uploads and uploads split into parts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from branchml.core.rowindex import RowIndex, build_index


def _reference(parts: list[tuple[int, Any]]) -> RowIndex:
    """The former build_index: a stable argsort of every row."""
    parts = sorted(parts, key=lambda p: p[0])
    hashes = np.concatenate([h for _, h in parts])
    uploads = np.concatenate([np.full(len(h), u, dtype=np.int32) for u, h in parts])
    order = np.argsort(hashes, kind="stable")
    hashes, uploads = hashes[order], uploads[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = hashes[1:] != hashes[:-1]
    last = np.ones(len(hashes), dtype=bool)
    last[:-1] = first[1:]
    return RowIndex(hashes[first], uploads[first], uploads[first] != uploads[last])


@pytest.mark.parametrize("seed", range(6))
def test_index_matches_the_argsort_on_random_uploads(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = rng.integers(-2**63, 2**63 - 1, 500, dtype=np.int64)  # few values: many repeats
    parts = [(int(rng.integers(0, 8)), rng.choice(pool, int(rng.integers(0, 300))))
             for _ in range(12)]
    parts.append((3, rng.integers(-2**63, 2**63 - 1, 1000, dtype=np.int64)))
    rng.shuffle(parts)  # type: ignore[arg-type]
    want = _reference(parts)
    got = build_index(list(parts))
    assert np.array_equal(got.hashes, want.hashes)
    assert np.array_equal(got.earliest, want.earliest)
    assert np.array_equal(got.shared, want.shared)
    assert got.earliest.dtype == np.int32


def test_a_row_twice_in_one_upload_split_in_parts_is_not_shared() -> None:
    h = np.array([5, 7], dtype=np.int64)
    got = build_index([(2, h), (2, h.copy()), (4, np.array([7], dtype=np.int64))])
    assert got.hashes.tolist() == [5, 7]
    assert got.earliest.tolist() == [2, 2]
    assert got.shared.tolist() == [False, True]


def test_no_parts_give_an_empty_index() -> None:
    got = build_index([])
    assert len(got.hashes) == len(got.earliest) == len(got.shared) == 0
