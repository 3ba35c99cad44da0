"""Row hashes and hash sets in C (`_rowhash.c`, built when branchml is installed), loaded with
ctypes: the append strategy's fast path, without importing NumPy.

The library is optional. Installing branchml compiles it when a C compiler is there (see
hatch_build.py); without one, or when it does not load, `available()` is False and
`newrows.py` uses the NumPy code in rowhash.py, which computes the same hashes. Setting
BRANCHML_NATIVE=0 turns the library off (tests run both ways).

Hashes are held in `array('Q')`s (8 bytes a row, no Python object per row); a `Table` is
a set of them in one flat array, kept at most half full. An `UploadIndex` maps each raw
row's hash to its earliest upload (`lineage --rows`; core/rowindex.py holds the NumPy index
that gives the same answers).
"""

from __future__ import annotations

import ctypes
import os
from array import array
from collections.abc import Iterable, Sequence
from itertools import accumulate, compress
from pathlib import Path

_ABI = 3  # bm_abi() of the library this code was written for: another one is not used
_P = ctypes.c_void_p
_N = ctypes.c_size_t
_U64 = ctypes.c_uint64

SEED = int.from_bytes(os.urandom(8), "little") | 1  # per process: rows nobody can make collide


def _load() -> ctypes.CDLL | None:
    if os.environ.get("BRANCHML_NATIVE") == "0":
        return None
    try:
        lib = ctypes.CDLL(str(Path(__file__).with_name("_rowhash.so")))
        if lib.bm_abi() != _ABI:
            return None  # built from another version of _rowhash.c: reinstall to rebuild
    except (OSError, AttributeError):
        return None
    lib.bm_hash_lines.argtypes = [_P, _N, _U64, _P, _N, _P]
    lib.bm_hash_lines.restype = _N
    lib.bm_hash_records.argtypes = [ctypes.c_char_p, _P, _P, _N, _N, _U64, _P]
    lib.bm_hash_records.restype = None
    lib.bm_table_add.argtypes = [_P, _U64, _P, _N]
    lib.bm_table_add.restype = _N
    lib.bm_bits_set.argtypes = [_P, ctypes.c_uint, _P, _N]
    lib.bm_bits_set.restype = None
    lib.bm_bits_probe.argtypes = [_P, ctypes.c_uint, _P, _N, _P]
    lib.bm_bits_probe.restype = _N
    lib.bm_table_rehash.argtypes = [_P, _U64, _P, _N]
    lib.bm_table_rehash.restype = None
    lib.bm_table_hits.argtypes = [_P, _U64, _P, _N, _P]
    lib.bm_table_hits.restype = _N
    lib.bm_index_add.argtypes = [_P, _U64, _P, _N, ctypes.c_uint32]
    lib.bm_index_add.restype = _N
    lib.bm_index_count.argtypes = [_P, _U64, _P, _N, _P, _P]
    lib.bm_index_count.restype = None
    lib.bm_plain_numbers.argtypes = [ctypes.c_char_p, _N, ctypes.c_ubyte, _N, ctypes.c_char_p]
    lib.bm_plain_numbers.restype = ctypes.c_int
    return lib


_lib = _load()


def available() -> bool:
    return _lib is not None


def _zeros(n: int) -> array[int]:
    return array("Q", _ZERO) * n


_ZERO = (0,)


def _baddr(b: bytes) -> int:
    return ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value or 0


def _addr(a: array[int] | bytearray) -> int:
    if isinstance(a, bytearray):
        return ctypes.addressof((ctypes.c_char * len(a)).from_buffer(a)) if a else 0
    return a.buffer_info()[0]


def hash_lines(raw: bytes, seed: int = SEED) -> array[int]:
    """Hashes of the records of `raw`, each ended by \\n or \\r\\n (the terminator is not
    part of the record)."""
    assert _lib is not None
    out, n, done, used = array("Q"), 0, 0, ctypes.c_size_t()
    while done < len(raw):  # rows of 16 bytes or more fit at once; shorter ones take more
        out.extend(_zeros((len(raw) - done) // 16 + 16))
        n += _lib.bm_hash_lines(_baddr(raw) + done, len(raw) - done, seed,
                                _addr(out) + 8 * n, len(out) - n, ctypes.byref(used))
        if not used.value:
            break  # no \n left
        done += used.value
    del out[n:]
    return out


def hash_spans(data: bytes, starts: int, lens: int, n: int, out: int, seed: int = SEED) -> None:
    """Row hashes of data[s:s+n] into `out`, for `n` int64 starts and lengths: the arrays
    given by address (NumPy's `.ctypes.data`; core/keyspans.py)."""
    assert _lib is not None
    _lib.bm_hash_records(data, starts, lens, n, len(data), seed, out)


def plain_numbers(block: bytes, delimiter: int, fields: int, numeric: Sequence[bool]) -> bool:
    """numfields.plain_numbers in C (the library must be `available()`)."""
    assert _lib is not None
    mask = bytes(1 if x else 0 for x in numeric)
    return bool(_lib.bm_plain_numbers(block, len(block), delimiter, fields, mask))


def hash_rows(rows: Sequence[bytes], seed: int = SEED) -> array[int]:
    """Hashes of rows given as bytes objects (the values `hash_lines` gives)."""
    assert _lib is not None
    out = _zeros(len(rows))
    if rows:
        lens = array("q", map(len, rows))
        starts = array("q", [0])
        starts.extend(accumulate(lens[:-1]))
        data = b"".join(rows)
        _lib.bm_hash_records(data, _addr(starts), _addr(lens), len(rows), len(data), seed,
                             _addr(out))
    return out


class Table:
    """A set of row hashes."""

    def __init__(self) -> None:
        self._slots = _zeros(1024)
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, hashes: array[int]) -> None:
        assert _lib is not None
        need = self._len + len(hashes)
        if 2 * need > len(self._slots):
            self._grow(need)
        self._len += _lib.bm_table_add(_addr(self._slots), len(self._slots) - 1,
                                       _addr(hashes), len(hashes))

    def _grow(self, need: int) -> None:
        assert _lib is not None
        size = len(self._slots)
        while 2 * need > size:
            size *= 2
        old, self._slots = self._slots, _zeros(size)
        _lib.bm_table_rehash(_addr(self._slots), size - 1, _addr(old), len(old))

    def hits(self, hashes: array[int]) -> bytearray | None:
        """A byte per hash, 1 where it is in the set; None when none is (the usual case)."""
        assert _lib is not None
        if not self._len or not hashes:
            return None
        hit = bytearray(len(hashes))
        found = _lib.bm_table_hits(_addr(self._slots), len(self._slots) - 1, _addr(hashes),
                                   len(hashes), _addr(hit))
        return hit if found else None

    def hits_at(self, hashes: int, n: int, hit: int) -> int:
        """`hits` for `n` hashes and a byte a hash given by address (NumPy's `.ctypes.data`;
        core/keyspans.py); returns how many are in the set."""
        assert _lib is not None
        return int(_lib.bm_table_hits(_addr(self._slots), len(self._slots) - 1, hashes, n,
                                      hit))

    def found(self, hashes: array[int]) -> array[int]:
        """Those of `hashes` that are in the set."""
        hit = self.hits(hashes)
        return array("Q", compress(hashes, hit)) if hit is not None else array("Q")


def shared(ours: array[int], theirs: Iterable[array[int]]) -> Table:
    """The hashes in `ours` that are also in one of `theirs` (usually none), as a Table.

    Theirs' hashes are probed against a bitmap of ours' (2 bytes a hash; see _rowhash.c);
    those that pass are checked in one pass over ours, against a table of just them."""
    assert _lib is not None
    both = Table()
    if not ours:
        return both
    bits = max(16, (16 * len(ours) - 1).bit_length())
    shift = 64 - bits
    bitmap = bytearray(1 << (bits - 3))
    _lib.bm_bits_set(_addr(bitmap), shift, _addr(ours), len(ours))
    maybe = array("Q")
    for h in theirs:
        if h:
            out = _zeros(len(h))
            k = _lib.bm_bits_probe(_addr(bitmap), shift, _addr(h), len(h), _addr(out))
            if k:
                maybe.extend(out[:k])
    if maybe:
        candidates = Table()
        candidates.add(maybe)
        both.add(candidates.found(ours))
    return both


MAX_UPLOADS = 0x7FFFFFFE  # an upload's number and a flag share 32 bits (_rowhash.c)
MAX_ROWS = 3 * (1 << 30) - 128  # the table's slots (4/3 a row, +64) are numbered in 32 bits


class UploadIndex:
    """Raw rows by hash: each distinct hash's earliest upload and whether another upload
    added it too, in a table of 12 bytes a slot sized for `rows` hashes (at most 3/4 full:
    ~16 bytes a raw row). Uploads are added in any order; hashes are given by address (a
    NumPy int64 array's `.ctypes.data`), as `hash_spans` takes them."""

    def __init__(self, rows: int) -> None:
        assert _lib is not None
        self.capacity = rows + rows // 3 + 64
        if rows > MAX_ROWS:
            raise ValueError(f"{rows} rows are more than a row index holds")
        self._slots = bytearray(12 * self.capacity)
        self._at = _addr(self._slots)
        self._room, self._len, self._uploads = rows, 0, 0

    def __len__(self) -> int:
        return self._len

    def add_at(self, upload: int, hashes: int, n: int) -> None:
        """Adds the `n` hashes at address `hashes`, rows upload number `upload` added."""
        assert _lib is not None
        if not 0 <= upload <= MAX_UPLOADS:
            raise ValueError(f"upload number {upload} is out of the row index's range")
        if n > self._room:
            raise ValueError("more hashes than the row index was sized for")
        self._room -= n
        self._uploads = max(self._uploads, upload + 1)
        self._len += int(_lib.bm_index_add(self._at, self.capacity, hashes, n, upload))

    def count_at(self, hashes: int, n: int, per_upload: int, uploads: int) -> tuple[int, int]:
        """Counts the `n` hashes at `hashes` into the `uploads` int64 per-upload counts at
        `per_upload`; returns how many were in the index and how many of those another
        upload added too."""
        assert _lib is not None
        if uploads < self._uploads:
            raise ValueError("fewer per-upload counts than uploads in the row index")
        stats = (ctypes.c_int64 * 2)()
        if n:
            _lib.bm_index_count(self._at, self.capacity, hashes, n, per_upload, stats)
        return int(stats[0]), int(stats[1])
