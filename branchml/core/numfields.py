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

from branchml.core import native


def plain_numbers(block: bytes, delimiter: bytes, fields: int, numeric: Any) -> bool:
    """True when every field of the columns marked in `numeric` (a bool per column) is empty
    or a plain number. `block`: whole lines without quotes, each with `fields` fields. In C
    (native.py, ~10x faster) when the library is there, else with NumPy below."""
    if native.available():
        return native.plain_numbers(block, delimiter[0], fields, list(numeric))
    return numpy_plain_numbers(block, delimiter, fields, numeric)


def numpy_plain_numbers(block: bytes, delimiter: bytes, fields: int, numeric: Any) -> bool:
    data = block.replace(b"\r\n", b"\n") if b"\r" in block else block
    a = np.frombuffer(data if data.endswith(b"\n") else data + b"\n", np.uint8)
    sep = (a == delimiter[0]) | (a == 10)
    ends = np.flatnonzero(sep)
    if len(ends) % fields:
        return False
    widths = np.diff(ends, prepend=-1)  # each field's bytes and its separator
    in_num = np.repeat(np.tile(np.asarray(numeric, dtype=bool), len(ends) // fields), widths)
    digit = (a - 48) < 10  # uint8 arithmetic wraps: only b"0".."9" are below 10
    dot, exp = a == 46, (a | 32) == 101  # ".", "e" or "E"
    sign = (a == 43) | (a == 45)
    if np.any(in_num & ~(digit | dot | sign | exp | sep)):
        return False
    if in_num[0] and exp[0]:
        return False  # "e5" at the very start (no byte before it to pair with)
    if np.any(_bad_pairs(digit, dot, sign, exp, sep) & in_num[1:]):
        return False  # a pair is judged when its second byte is in a numeric field or ends one
    return _dots_and_exponents(a, in_num & dot, in_num & exp, digit, sign, widths)


def _bad_pairs(digit: Any, dot: Any, sign: Any, exp: Any, sep: Any) -> Any:
    """Neighbours that never occur in a plain number: a sign not at the start nor after the
    exponent, a sign with nothing after it, an exponent without a mantissa before it or
    digits after it, two dots."""
    x, y = slice(None, -1), slice(1, None)
    bad = (digit[x] | dot[x] | sign[x]) & sign[y]
    bad |= sign[x] & (sep[y] | exp[y])
    bad |= (sep[x] | sign[x] | exp[x]) & exp[y]
    bad |= exp[x] & (dot[y] | sep[y])
    bad |= dot[x] & dot[y]
    return bad


def _dots_and_exponents(a: Any, dot: Any, exp: Any, digit: Any, sign: Any, widths: Any
                        ) -> bool:
    dots, exps = np.flatnonzero(dot), np.flatnonzero(exp)
    if not len(dots) and not len(exps):
        return True
    field = np.repeat(np.arange(len(widths), dtype=np.int32), widths)  # each byte's field
    dot_field, exp_field = field[dots], field[exps]
    if np.any(np.diff(dot_field) == 0) or np.any(np.diff(exp_field) == 0):
        return False  # two dots or two exponents in one field
    n = len(a)
    before = np.where(dots > 0, digit[np.maximum(dots - 1, 0)], False)
    after = digit[np.minimum(dots + 1, n - 1)] & (dots + 1 < n)
    if np.any(~before & ~after):
        return False  # a dot with no digit beside it: ".", "-.", ".e5"
    if np.any(sign[np.maximum(dots - 1, 0)] & exp[np.maximum(dots - 2, 0)] & (dots >= 2)):
        return False  # "1e-.5"
    if len(exps) and len(dots):
        last = np.searchsorted(exps, dots) - 1  # the exponent before each dot, if any
        if np.any((last >= 0) & (exp_field[np.maximum(last, 0)] == dot_field)):
            return False  # a dot after the exponent: "1e5.0"
    return True
