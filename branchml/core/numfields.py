"""Plain decimal numbers in the numeric columns of a CSV/TSV block, judged by NumPy over its
bytes (no parser, no pandas import): what lets `monitor log` check a 1M-row file in one pass
at flat memory. It only ever says "all plain numbers" or "look closer": a block it is not sure
of goes to the exact reader (monitortables.floats), which decides and words the refusal.

A plain number: `[+-]`, then digits with at most one dot (a digit on at least one side of
it), then optionally `e` or `E`, `[+-]`, digits. Checked as byte classes and pairs of
neighbouring classes, plus one dot and one exponent per field, the dot before the exponent."""

from __future__ import annotations

from typing import Any

import numpy as np

OTHER, DIGIT, DOT, SIGN, EXP, SEP = 0, 1, 2, 3, 4, 5
# neighbours that never occur in a plain number: a sign not at the start nor after the
# exponent, a sign with nothing after it, an exponent without a mantissa or digits after it
_BAD_PAIRS = [(DIGIT, SIGN), (DOT, SIGN), (SIGN, SIGN), (SIGN, SEP), (SIGN, EXP), (SEP, EXP),
              (EXP, EXP), (EXP, DOT), (EXP, SEP), (DOT, DOT)]


def _tables(delimiter: int) -> tuple[Any, Any]:
    classes = np.zeros(256, dtype=np.uint8)
    classes[48:58] = DIGIT
    classes[ord(".")] = DOT
    classes[[ord("+"), ord("-")]] = SIGN
    classes[[ord("e"), ord("E")]] = EXP
    classes[[delimiter, 10]] = SEP
    bad = np.zeros(64, dtype=bool)
    for x, y in _BAD_PAIRS:
        bad[x * 8 + y] = True
    return classes, bad


_TABLES: dict[int, tuple[Any, Any]] = {}


def plain_numbers(block: bytes, delimiter: bytes, fields: int, numeric: Any) -> bool:
    """True when every field of the columns marked in `numeric` (a bool per column) is empty
    or a plain number. `block`: whole lines without quotes, each with `fields` fields."""
    if delimiter[0] not in _TABLES:
        _TABLES[delimiter[0]] = _tables(delimiter[0])
    classes, bad_pair = _TABLES[delimiter[0]]
    data = block.replace(b"\r\n", b"\n") if b"\r" in block else block
    cls = classes[np.frombuffer(data if data.endswith(b"\n") else data + b"\n", np.uint8)]
    ends = np.flatnonzero(cls == SEP)
    if len(ends) % fields:
        return False
    columns = np.tile(np.asarray(numeric, dtype=bool), len(ends) // fields)
    widths = np.diff(ends, prepend=-1)
    in_num = np.repeat(columns, widths)  # the bytes of numeric fields, each with its separator
    if np.any(in_num & (cls == OTHER)):
        return False
    if in_num[0] and cls[0] == EXP:
        return False  # "e5" at the very start (no byte before it to pair with)
    # a pair is judged when its second byte is in a numeric field (or ends one)
    if np.any(bad_pair[cls[:-1] * 8 + cls[1:]] & in_num[1:]):
        return False
    return _dots_and_exponents(cls, in_num, ends)


def _dots_and_exponents(cls: Any, in_num: Any, ends: Any) -> bool:
    dots = np.flatnonzero(in_num & (cls == DOT))
    exps = np.flatnonzero(in_num & (cls == EXP))
    dot_field, exp_field = np.searchsorted(ends, dots), np.searchsorted(ends, exps)
    if np.any(np.diff(dot_field) == 0) or np.any(np.diff(exp_field) == 0):
        return False  # two dots or two exponents in one field
    before = np.where(dots > 0, cls[dots - 1], SEP)
    after = cls[np.minimum(dots + 1, len(cls) - 1)]
    if np.any((before != DIGIT) & (after != DIGIT)):
        return False  # a dot with no digit beside it: ".", "-.", ".e5"
    if np.any((before == SIGN) & (cls[np.maximum(dots - 2, 0)] == EXP)):
        return False  # "1e-.5"
    if len(exps) and len(dots):
        last = np.searchsorted(exps, dots) - 1  # the exponent before each dot, if any
        same = (last >= 0) & (exp_field[np.maximum(last, 0)] == dot_field)
        if np.any(same):
            return False  # a dot after the exponent: "1e5.0"
    return True
