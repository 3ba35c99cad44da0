"""The append strategy: tables for the cases union gets wrong, properties for the rest."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchml.core import native
from branchml.core.append import append_rows
from branchml.core.jsonarray import append_json_array
from branchml.core.rows import RowFormat, format_for, record_batches
from branchml.errors import ConflictError, UsageError

CSV = RowFormat.CSV


@pytest.fixture(autouse=True, scope="module", params=["c", "numpy"])
def row_hashes(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Every test here runs with the C row hashes and with NumPy's (the fallback when the
    library is not built): both must merge alike."""
    if request.param == "c" and not native.available():
        pytest.skip("the C row hashes are not built (no C compiler at install, or "
                    "BRANCHML_NATIVE=0)")
    with pytest.MonkeyPatch.context() as m:
        if request.param == "numpy":
            m.setattr(native, "_lib", None)
        yield request.param


def src(data: bytes):  # type: ignore[no-untyped-def]
    return lambda: io.BytesIO(data)


class Rewinding(io.BytesIO):
    """A writer that can go back to a mark, as the LFS object writer can: the copy of ours
    then goes on with theirs' new bytes before they are checked (kept, or rewound)."""

    marks = rewinds = 0

    def mark(self) -> None:
        self.marks += 1
        self.at = self.tell()

    def rewind(self) -> None:
        self.rewinds += 1
        self.seek(self.at)
        self.truncate()


def merge_into(out: io.BytesIO, fmt: RowFormat, base: bytes | None, ours: bytes,
               theirs: bytes) -> bytes:
    append_rows(fmt, src(base) if base is not None else None, src(ours), src(theirs), out, "d.csv")
    return out.getvalue()


def merge(fmt: RowFormat, base: bytes | None, ours: bytes, theirs: bytes) -> bytes:
    """The merge into a plain buffer; the same merge into a rewindable writer (where the
    copy goes on speculatively) must give the same bytes, or fail the same way."""
    outcomes: list[bytes | str] = []
    for out in (io.BytesIO(), Rewinding()):
        try:
            outcomes.append(merge_into(out, fmt, base, ours, theirs))
        except (ConflictError, UsageError) as e:
            outcomes.append(f"{type(e).__name__}: {e}")
    assert outcomes[0] == outcomes[1]
    return merge_into(io.BytesIO(), fmt, base, ours, theirs)


@pytest.mark.parametrize(("base", "ours", "theirs", "result"), [
    # both appended: ours first, then theirs' new rows, never interleaved
    (b"h\n1\n", b"h\n1\n2\n", b"h\n1\n3\n", b"h\n1\n2\n3\n"),
    # a row added on both sides appears once
    (b"h\n1\n", b"h\n1\n2\n", b"h\n1\n2\n3\n", b"h\n1\n2\n3\n"),
    # a row cleaned away on ours stays away
    (b"h\n1\n2\n", b"h\n2\n", b"h\n1\n2\n3\n", b"h\n2\n3\n"),
    # theirs deleted a row: append never deletes
    (b"h\n1\n2\n", b"h\n1\n2\n", b"h\n2\n", b"h\n1\n2\n"),
    # CRLF ours, LF theirs: theirs' rows in ours' line ending, nothing doubled
    (b"h\r\n1\r\n", b"h\r\n1\r\n", b"h\n1\n2\n", b"h\r\n1\r\n2\r\n"),
    # a quoted field holding a newline is one row
    (b"h,t\n1,a\n", b"h,t\n1,a\n", b"h,t\n1,a\n2,\"x\ny\"\n", b"h,t\n1,a\n2,\"x\ny\"\n"),
    # ours without a final newline
    (b"h\n1\n", b"h\n1\n2", b"h\n1\n3\n", b"h\n1\n2\n3\n"),
    # file added on both sides (no base): header once
    (None, b"h\n1\n", b"h\n2\n", b"h\n1\n2\n"),
    # ours empty (0 bytes): theirs' header and rows
    (b"", b"", b"h\n1\n", b"h\n1\n"),
    # BOM of ours kept, theirs' BOM ignored in the header comparison
    (b"\xef\xbb\xbfh\n1\n", b"\xef\xbb\xbfh\n1\n", b"h\n1\n2\n", b"\xef\xbb\xbfh\n1\n2\n"),
    # nothing new
    (b"h\n1\n", b"h\n1\n2\n", b"h\n1\n", b"h\n1\n2\n"),
    # repeated rows are a multiset: theirs added 2 twice, ours once: twice in the result
    (b"h\n1\n", b"h\n1\n2\n", b"h\n1\n2\n2\n", b"h\n1\n2\n2\n"),
    # ours added 2 twice, theirs once: ours already holds the larger count
    (b"h\n1\n", b"h\n1\n2\n2\n", b"h\n1\n2\n", b"h\n1\n2\n2\n"),
    # theirs' first copies are the ones ours covers; its later ones follow in its order
    (b"h\n1\n", b"h\n1\n2\n", b"h\n1\n2\n3\n2\n2\n", b"h\n1\n2\n3\n2\n2\n"),
    # a row base holds once, added again on both sides: base's copy, then max(1, 2) more
    (b"h\n1\n", b"h\n1\n1\n", b"h\n1\n1\n1\n", b"h\n1\n1\n1\n"),
    # ours cleaned base's row away and added it once; theirs added it twice (not a prefix)
    (b"h\n1\n", b"h\n2\n", b"h\n1\n2\n2\n", b"h\n2\n2\n"),
])
def test_csv_cases(base: bytes | None, ours: bytes, theirs: bytes, result: bytes) -> None:
    assert merge(CSV, base, ours, theirs) == result


def test_header_mismatch_is_a_conflict() -> None:
    with pytest.raises(ConflictError, match=r"d.csv: the header differs between ours \(a,b\) "
                                            r"and theirs \(a,b,c\)"):
        merge(CSV, b"a,b\n", b"a,b\n1,2\n", b"a,b,c\n1,2,3\n")


def test_malformed_row() -> None:
    with pytest.raises(UsageError, match="a new row of theirs has 3 fields where the header has 2"):
        merge(CSV, b"a,b\n", b"a,b\n", b"a,b\n1,2,3\n")


def test_not_utf8() -> None:
    with pytest.raises(UsageError, match="not valid UTF-8"):
        merge(CSV, b"a\n", b"a\n", b"a\n\xff\xfe\n")


def test_jsonl_bad_row() -> None:
    with pytest.raises(UsageError, match="is not valid JSON"):
        merge(RowFormat.JSONL, b"", b'{"a":1}\n', b'{"a":1}\n{bad\n')


def test_jsonl_and_text() -> None:
    assert merge(RowFormat.JSONL, b'{"a":1}\n', b'{"a":1}\n{"a":2}\n', b'{"a":1}\n{"a":3}\n') == \
        b'{"a":1}\n{"a":2}\n{"a":3}\n'
    assert merge(RowFormat.TEXT, b"x\n", b"x\n\n", b"x\ny\n") == b"x\n\ny\n"


def test_tsv_quoted() -> None:
    assert merge(RowFormat.TSV, b"a\tb\n", b"a\tb\n", b"a\tb\n\"1\t2\"\t3\n") == \
        b"a\tb\n\"1\t2\"\t3\n"


def test_json_array() -> None:
    assert append_json_array(b"[1]", b"[1, 2]", b"[1, 3, 2]", "a.json") == b"[1, 2, 3]\n"
    assert append_json_array(None, b"[]", b"[]", "a.json") == b"[]"
    with pytest.raises(ConflictError, match="is not a JSON array"):
        append_json_array(b"[]", b"{}", b"[]", "a.json")


@pytest.mark.parametrize(("path", "fmt"), [
    ("data/a.csv", RowFormat.CSV), ("data/a.TSV", RowFormat.TSV), ("x.jsonl", RowFormat.JSONL),
    ("a.ndjson", RowFormat.JSONL), ("a.txt", RowFormat.TEXT), ("a.json", RowFormat.JSON),
    ("a.db", RowFormat.SQLITE), ("a.parquet", RowFormat.PARQUET), ("img.png", None),
    ("dir.csv/file", None), ("noext", None),
])
def test_format_for(path: str, fmt: RowFormat | None) -> None:
    assert format_for(path) is fmt


def test_format_override() -> None:
    assert format_for("data/x.dat", {"data/**/*.dat": "csv", "**": "text"}) is RowFormat.CSV
    assert format_for("data/y.csv", {"data/y.csv": "text"}) is RowFormat.TEXT


def test_record_batches_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import branchml.core.rows as rows

    monkeypatch.setattr(rows, "CHUNK", 3)
    data = b'h\r\n"a\r\nb",1\r\nc,2'
    recs = [r for b in record_batches(io.BytesIO(data), True) for r in b]
    assert recs == [b"h", b'"a\r\nb",1', b"c,2"]


# Properties: random tables, random appends on each side, random cleaning on ours.
cell = st.text(alphabet="ab,\"\n x1", min_size=0, max_size=4)
row = st.tuples(cell, cell)


def render(header: list[str], rows: list[tuple[str, str]], crlf: bool = False) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def multiset_model(base: list[Any], ours: list[Any], theirs: list[Any]) -> list[Any]:
    """The append rule with repeated rows, written plainly: ours, then theirs' rows that are
    neither base's copies (theirs' first ones) nor covered by ours' new copies (the next
    ones), in theirs' order. A row ours added k times and theirs n times is then in the
    result max(k, n) times on top of base."""
    left, ours_new = Counter(base), Counter(ours) - Counter(base)
    out = list(ours)
    for r in theirs:
        if left[r]:
            left[r] -= 1
        elif ours_new[r]:
            ours_new[r] -= 1
        else:
            out.append(r)
    return out


few_rows = st.sampled_from([("a", "b"), ("1", "x"), ("a", ""), ("b,", "\"\n")]) | row


@settings(max_examples=150, deadline=None)
@given(base=st.lists(few_rows, max_size=6), ours_add=st.lists(few_rows, max_size=5),
       theirs_add=st.lists(few_rows, max_size=5), cleaned=st.sets(st.integers(0, 5)),
       theirs_cleaned=st.sets(st.integers(0, 5)), crlf=st.booleans())
def test_append_properties(base, ours_add, theirs_add, cleaned, theirs_cleaned, crlf) -> None:  # type: ignore[no-untyped-def]
    """Random tables with repeated rows (drawn from a few), random appends on each side,
    random cleaning on ours (ours no longer extends base) and on theirs (nor does theirs)."""
    header = ["k", "v"]
    kept = [r for i, r in enumerate(base) if i not in cleaned]
    theirs_kept = [r for i, r in enumerate(base) if i not in theirs_cleaned]
    ours = render(header, kept + ours_add, crlf)
    theirs = render(header, theirs_kept + theirs_add)
    result = merge(CSV, render(header, base), ours, theirs)
    assert result.startswith(ours)                      # ours first, untouched
    got = [tuple(r) for r in parse(result)]
    assert got[0] == tuple(header)                      # header once
    assert got[1:] == multiset_model(base, kept + ours_add, theirs_kept + theirs_add)
    if not cleaned and not theirs_cleaned:              # the rule as the docs state it
        counts, o, t = Counter(got[1:]), Counter(ours_add), Counter(theirs_add)
        for r in set(base) | set(o) | set(t):
            assert counts[r] == base.count(r) + max(o[r], t[r])
    assert merge(CSV, render(header, base), ours, theirs) == result  # deterministic


json_item = st.sampled_from(['{"a":1}', '{"a":2}', '{"b":[1,"x"]}', '"s"', "3"])  # canonical


@settings(max_examples=80, deadline=None)
@given(base=st.lists(json_item, max_size=5), ours_add=st.lists(json_item, max_size=4),
       theirs_add=st.lists(json_item, max_size=4))
def test_jsonl_and_json_array_repeated_items(base, ours_add, theirs_add) -> None:  # type: ignore[no-untyped-def]
    """JSON lines and a JSON array follow the same multiset rule as CSV rows."""
    def lines(items: list[str]) -> bytes:
        return "".join(x + "\n" for x in items).encode()

    def array(items: list[str]) -> bytes:
        return ("[" + ",".join(items) + "]").encode()

    expected = multiset_model(base, base + ours_add, base + theirs_add)
    got = merge(RowFormat.JSONL, lines(base), lines(base + ours_add), lines(base + theirs_add))
    assert got == lines(expected)
    arr = append_json_array(array(base), array(base + ours_add), array(base + theirs_add),
                            "a.json")
    assert json.loads(arr) == json.loads(array(expected))


@settings(max_examples=60, deadline=None)
@given(theirs_add=st.lists(row, max_size=5))
def test_no_base_row_lost_when_theirs_repeats_them(theirs_add) -> None:  # type: ignore[no-untyped-def]
    """Multiset: a row theirs appends again (a second identical event) is kept."""
    base = render(["k", "v"], [("a", "b")])
    theirs = render(["k", "v"], [("a", "b"), *theirs_add])
    got = parse(merge(CSV, base, base, theirs))
    assert [tuple(r) for r in got[1:]] == [("a", "b"), *theirs_add]


def merge_widen(base: bytes, ours: bytes, theirs: bytes) -> bytes:
    out = io.BytesIO()
    append_rows(CSV, src(base), src(ours), src(theirs), out, "d.csv", widen=True)
    return out.getvalue()


def test_widen_when_theirs_added_columns() -> None:
    assert merge_widen(b"a,b\n1,2\n", b"a,b\n1,2\n3,4\n", b"a,b,c\n1,2,x\n5,6,y\n") == \
        b"a,b,c\n1,2,\n3,4,\n5,6,y\n"


def test_widen_when_ours_added_columns() -> None:
    assert merge_widen(b"a,b\n1,2\n", b"a,b,c\n1,2,x\n", b"a,b\n1,2\n5,6\n") == \
        b"a,b,c\n1,2,x\n5,6,\n"


def test_widen_with_repeated_rows() -> None:
    """Rows compared on ours' columns count as a multiset too: ours added 3,4 once, theirs
    twice (with values in the new column): theirs' second copy is appended."""
    assert merge_widen(b"a,b\n1,2\n", b"a,b\n1,2\n3,4\n", b"a,b,c\n1,2,x\n3,4,\n3,4,y\n") == \
        b"a,b,c\n1,2,\n3,4,\n3,4,y\n"


def test_widen_refuses_other_changes() -> None:
    with pytest.raises(ConflictError, match="the header differs"):
        merge_widen(b"a,b\n", b"a,b\n", b"b,a\n")


def _reference(base: list[bytes], ours: list[bytes], theirs: list[bytes]) -> list[bytes]:
    """The append rule written plainly (rows are unique here): ours, then theirs' rows that
    are in neither base nor ours."""
    known = set(base) | set(ours)
    return ours + [r for r in theirs if r not in known]


@pytest.mark.parametrize("crlf", [False, True])
def test_many_batches_with_rows_added_on_both_sides(crlf: bool) -> None:
    """Files of several read batches: the batch-level paths (raw bytes written as is, rows
    hashed over raw bytes, rows both sides added confirmed byte for byte) give the rule."""
    end = b"\r\n" if crlf else b"\n"
    base = [b"%d,b%d" % (i, i % 7) for i in range(40_000)]
    shared = [b"%d,s" % i for i in range(90_000, 90_000 + 5_000, 3)]
    ours = base + [b"%d,o" % i for i in range(50_000, 70_000)] + shared
    theirs = base + shared[::2] + [b"%d,t" % i for i in range(70_000, 90_000)] + shared[1::2]

    def file(rows: list[bytes]) -> bytes:
        return end.join([b"id,v", *rows]) + end

    out = merge(CSV, file(base), file(ours), file(theirs))
    assert out == file(_reference(base, ours, theirs))
    assert len(file(theirs)) > (1 << 18)  # more than one read batch


def test_a_quoted_newline_across_a_batch_boundary() -> None:
    base = b"id,text\n" + b"".join(b"%d,plain\n" % i for i in range(20_000))
    pad = b"x" * ((1 << 18) - (len(base) % (1 << 18)) - 8)
    ours = base + b'1,"' + pad + b'\nsecond line"\n'
    theirs = base + b'2,"a\nb"\n3,c\n'
    out = merge(CSV, base, ours, theirs)
    assert out == ours + b'2,"a\nb"\n3,c\n'
    rows = list(csv.reader(io.StringIO(out.decode())))
    assert len(rows) == 1 + 20_000 + 3


def test_theirs_rows_with_a_bad_field_count_in_a_later_batch_are_refused() -> None:
    base = b"a,b\n1,2\n"
    theirs = base + b"".join(b"%d,%d\n" % (i, i) for i in range(30_000)) + b"9,9,9\n"
    with pytest.raises(UsageError, match="3 fields where the header has 2"):
        merge(CSV, base, base, theirs)


def test_a_failure_while_comparing_stops_the_copy_of_ours() -> None:
    """Ours is copied on a worker thread while rows are compared; when the comparison
    fails, the copy is stopped before the error reaches the caller (who then discards
    `out`), and no thread is left writing."""
    import threading

    base = b"id\n" + b"".join(b"%d\n" % i for i in range(50_000))
    opened = {"n": 0}

    def theirs() -> io.BytesIO:
        opened["n"] += 1
        if opened["n"] > 1:  # the header is read; the comparison's read fails
            raise OSError("theirs vanished")
        return io.BytesIO(base + b"x\n")

    with pytest.raises(OSError, match="theirs vanished"):
        append_rows(CSV, lambda: io.BytesIO(base), lambda: io.BytesIO(base + b"y\n"), theirs,
                    io.BytesIO(), "t.csv")
    assert not [t for t in threading.enumerate() if t.name == "copy"]


@pytest.mark.parametrize(("theirs_new", "kept"), [
    (b"3,c\n4,d\n", True),         # appended rows, written as read: the speculative copy kept
    (b"3,c\n\n4,d\n", False),     # a blank line is dropped: rewound, rows written one by one
    (b"2,o\n4,d\n", False),        # a row ours added too is written once: rewound
    (b"3,c\r\n", False),           # theirs' line ending differs from ours': rewound
])
def test_the_copy_goes_on_into_theirs_new_rows_and_is_rewound_when_needed(
        theirs_new: bytes, kept: bool) -> None:
    base = b"k,v\n1,a\n"
    ours = base + b"2,o\n"
    out = Rewinding()
    merge_into(out, CSV, base, ours, base + theirs_new)
    assert (out.marks, out.rewinds) == (1, 0 if kept else 1)
    assert out.getvalue() == merge(CSV, base, ours, base + theirs_new)
    if kept:
        assert out.getvalue() == ours + theirs_new
