"""The canary router's arithmetic: each key gets a fixed bucket, a 64-bit hash of the client
and the key; a key goes to the candidate when its bucket is below fraction * 2**64. The
bucket does not depend on the releases or the fraction, so raising the fraction only adds
keys to the canary (a key in at 0.01 is still in at 0.1), and the same key always lands on
the same release while the deployment stays."""

from __future__ import annotations

import hashlib

from branchml.errors import UsageError

SPACE = 1 << 64
_PERSON = b"branchml-route"  # blake2b's personalisation: these buckets are ours alone

Key = str | int | bytes


def key_bytes(key: Key) -> bytes:
    """A key as hashed: a str as UTF-8, an int as its decimal spelling (so 42 and "42" route
    alike, as they do from the command line), bytes as they are."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8", "surrogatepass")
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key).encode()
    raise UsageError(f"a routing key is a str, int or bytes, not {type(key).__name__}; "
                     "pass the request's id as one of those.")


def hasher(client: str) -> hashlib.blake2b:
    """The client's hash state, copied for each key (the client is hashed once)."""
    h = hashlib.blake2b(digest_size=8, person=_PERSON)
    h.update(client.encode() + b"\0")  # a client id never holds NUL: client+key is unambiguous
    return h


def bucket(client: str, key: Key) -> int:
    """The key's bucket in [0, 2**64)."""
    h = hasher(client)
    h.update(key_bytes(key))
    return int.from_bytes(h.digest(), "big")


def cut(fraction: float | None) -> int:
    """Buckets below this go to the candidate (0: none do)."""
    return 0 if not fraction else int(fraction * SPACE)
