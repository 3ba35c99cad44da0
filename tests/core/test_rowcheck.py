"""Theirs' new rows written as read: exactly when the row-by-row check would keep every row
unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchml.core.rowcheck import rows_as_is
from branchml.core.rows import RowFormat


def plainly(fmt: RowFormat, raw: bytes, header: bytes | None, term: bytes) -> int | None:
    """The rule written row by row: every record ended by `term`, none blank (text lines
    may be), UTF-8, and for CSV/TSV no quotes and the header's field count."""
    records = raw.split(b"\n")[:-1]
    if term == b"\r\n":
        if not all(r.endswith(b"\r") for r in records):
            return None
        records = [r[:-1] for r in records]
    if any(b"\r" in r for r in records) or not raw.endswith(b"\n"):
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if fmt is not RowFormat.TEXT and b"" in records:
        return None
    if fmt.has_header and header is not None:
        d = fmt.delimiter
        if b'"' in raw or any(r.count(d) != header.count(d) for r in records):
            return None
    return len(records)


piece = st.sampled_from([b"a", b"1", b",", b"\t", b'"', b"\r", b"\xc3\xa9", b"\xff", b""])
record = st.lists(piece, max_size=6).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(fmt=st.sampled_from([RowFormat.CSV, RowFormat.TSV, RowFormat.TEXT, RowFormat.JSONL]),
       records=st.lists(record, min_size=1, max_size=8),
       header=st.sampled_from([b"a", b"a,b", b"a,b,c", b"a\tb"]),
       term=st.sampled_from([b"\n", b"\r\n"]))
def test_rows_as_is_is_the_row_by_row_rule(fmt: RowFormat, records: list[bytes],
                                           header: bytes, term: bytes) -> None:
    raw = b"".join(r + term for r in records)
    assert rows_as_is(fmt, raw, header, term) == plainly(fmt, raw, header, term)


@pytest.mark.parametrize(("raw", "count"), [
    (b"1,a\n2,b\n", 2),
    (b"1,a\n\n2,b\n", None),    # blank line
    (b"1,a,x\n2\n", None),      # the same number of commas in all, not per row
    (b"1,\xc3\xa9\n", 1),       # UTF-8 beyond ASCII
    (b"1,\xe9\n", None),        # not UTF-8
])
def test_rows_as_is_cases(raw: bytes, count: int | None) -> None:
    assert rows_as_is(RowFormat.CSV, raw, b"k,v", b"\n") == count
