"""The checker's `git log -z --raw` stream, parsed in one pass with bounded memory.

Anyone who can push chooses what this stream holds: a commit whose one-line message is
300 MiB of 'x' costs kilobytes on the wire. So each byte is scanned once (a read is split on
its own; the unfinished token is carried over, never the output read so far), and a token
keeps at most HEADER_CAP bytes (the rest is read and dropped): time linear in the output,
memory bounded whatever one commit holds. Only a record's header can grow that long: its
paths are bounded by git, and a commit changing 1,000,000 paths is 2,000,000 short tokens.

A commit message (subject and body) over MESSAGE_LIMIT bytes is refused by the checker at
every door (ops/check.py); the reader finds those from the commit objects' sizes
(reader.py), without reading the messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO

from branchml.core.changes import Change, CommitFacts

MESSAGE_LIMIT = 1 << 20  # bytes of one commit message (subject + body) the checker accepts
# A header holds the ids, the subject and the Promoted-From values: all of a message within
# the limit, plus room for its ids (a merge of ~1,500 parents). A longer one is cut: its
# commit is refused for its message, or judged without the trailer it lost (fails closed).
HEADER_CAP = MESSAGE_LIMIT + (64 << 10)
READ = 1 << 16

LOG_FORMAT = ("--format=%x01%H %P%x1f%s%x1f"
              "%(trailers:key=Promoted-From,valueonly,separator=%x1d)")


def tokens(stream: IO[bytes], cap: int = HEADER_CAP, read: int = READ
           ) -> Iterator[list[bytes]]:
    """The NUL-separated tokens of `stream`, one list per read (those that read completed;
    the last token needs no NUL), each cut to its first `cap` bytes."""
    head = bytearray()  # the unfinished token: at most `cap` bytes, whatever git sends
    while chunk := stream.read(read):
        parts = chunk.split(b"\0")
        if len(parts) == 1:
            head += parts[0][:cap - len(head)]
            continue
        first = bytes(head + parts[0][:cap - len(head)])
        head = bytearray(parts[-1][:cap])
        yield [first, *(p[:cap] for p in parts[1:-1])]
    if head:
        yield [bytes(head)]


def records(batches: Iterable[list[bytes]]) -> Iterator[list[CommitFacts]]:
    """The commits of a `git log -z --raw` stream in LOG_FORMAT, in batches: the commits
    each batch of tokens completed (the last one at the end of the stream)."""
    sha, subject, promoted, parent, merged, meta = "", "", "", "", "", b""
    changes: list[Change] = []
    for batch in batches:
        done: list[CommitFacts] = []
        for tok in batch:
            if tok.startswith(b"\x01"):
                if sha:
                    done.append(CommitFacts(sha, subject, tuple(changes), promoted, parent,
                                            merged))
                ids, subject, promoted = header(tok)
                sha, _, parents = ids.partition(" ")
                parent, _, merged = parents.partition(" ")
                merged = "" if " " in merged else merged  # an octopus merge proves nothing
                changes = []
            elif meta:
                changes.append(change(meta, tok))
                meta = b""
            elif tok.lstrip(b"\n").startswith(b":"):
                meta = tok.lstrip(b"\n")
        if done:
            yield done
    if sha:
        yield [CommitFacts(sha, subject, tuple(changes), promoted, parent, merged)]


def header(tok: bytes) -> tuple[str, str, str]:
    """(ids, subject, Promoted-From value) of a log record's header token."""
    ids, subject, trailer = [*tok[1:].decode("utf-8", errors="replace").split("\x1f"), "", ""][:3]
    return ids, subject, trailer.split("\x1d")[-1].strip()


def change(meta: bytes, path: bytes) -> Change:
    """One `--raw -z` entry: its `:old_mode new_mode old new status` token and its path."""
    old_mode, new_mode, old, new, status = meta[1:].decode().split(" ")
    return Change(status[0], path.decode("utf-8", errors="surrogateescape"), old, new,
                  old_mode, new_mode)


def message_size(commit_object: Iterable[bytes]) -> int:
    """The bytes of a commit's message, from its object's chunks: what follows the blank
    line that ends the headers. Streamed: only one chunk is held at a time."""
    total, start, tail = 0, -1, b""
    for chunk in commit_object:
        if start < 0:
            found = (tail + chunk).find(b"\n\n")
            if found >= 0:
                start = total - len(tail) + found + 2
            tail = chunk[-1:]
        total += len(chunk)
    return total - start if start >= 0 else 0
