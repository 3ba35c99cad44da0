"""The plain-number scan of `monitor log` (core/numfields.py) in C and in NumPy: the same
answer on every block, so the library's presence changes speed, never a verdict."""

from __future__ import annotations

import random

import pytest

from branchml.core import native, numfields

ALPHABET = ["0", "1", "9", ".", "-", "+", "e", "E", "x", " ", ""]


def blocks(seed: int, count: int) -> list[tuple[bytes, int, list[bool]]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        fields = rnd.randint(1, 4)
        lines = [",".join("".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 5)))
                          for _ in range(fields)) for _ in range(rnd.randint(1, 3))]
        end = "\r\n" if rnd.random() < 0.2 else "\n"
        block = (end.join(lines) + (end if rnd.random() < 0.7 else "")).encode()
        out.append((block, fields, [rnd.random() < 0.6 for _ in range(fields)]))
    return out


@pytest.mark.skipif(not native.available(), reason="the C library is not built here")
def test_c_and_numpy_agree_on_every_block() -> None:
    for block, fields, numeric in blocks(19, 40_000):
        assert native.plain_numbers(block, 44, fields, numeric) == \
            numfields.numpy_plain_numbers(block, b",", fields, numeric), (block, numeric)


@pytest.mark.parametrize(("field", "plain"), [
    ("1", True), ("-1.5", True), ("+.5", True), ("5.", True), ("1e5", True), ("1E-05", True),
    ("", True), (".", False), ("-", False), ("1e", False), ("e5", False), ("1e5.0", False),
    ("1..2", False), ("--1", False), ("1-2", False), (" 1", False), ("nan", False),
    ("1.e5", True), (".e5", False), ("1e+-5", False)])
def test_the_rule_in_both(field: str, plain: bool) -> None:
    block = f"{field},x\n".encode()
    assert numfields.numpy_plain_numbers(block, b",", 2, [True, False]) is plain
    if native.available():
        assert native.plain_numbers(block, 44, 2, [True, False]) is plain
