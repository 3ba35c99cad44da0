"""The release manifest inside an annotated tag's message: rendered, parsed, compared."""

from __future__ import annotations

import hashlib
import json
from typing import Any

BEGIN = "-----BEGIN BRANCHML MANIFEST-----"
END = "-----END BRANCHML MANIFEST-----"
SCHEMA = "branchml.manifest/1"
# the tagger's own word (who, when, why): shown as claims, never recomputed
CLAIMS = ("tagger", "time", "message")
VOLATILE = CLAIMS  # (the former name)


def snapshot_id(m: dict[str, Any]) -> str:
    """Content identity: the same code, data and models give the same id, whatever commit."""
    parts = [m["code"]["digest"]] + [f"{p}:{d['tree']}" for p, d in sorted(m["data"].items())]
    parts += [f"{p}:{x.get('lfs_oid') or x.get('blob')}" for p, x in sorted(m["models"].items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def render(summary: str, manifest: dict[str, Any]) -> str:
    body = json.dumps(manifest, indent=2, sort_keys=True)
    return f"{summary}\n\n{BEGIN}\n{body}\n{END}\n"


def parse(message: str) -> dict[str, Any] | None:
    start, end = message.find(BEGIN), message.find(END)
    if start < 0 or end < start:
        return None
    try:
        value = json.loads(message[start + len(BEGIN):end])
    except (ValueError, RecursionError):  # too deep a nesting is no manifest either
        return None
    return value if isinstance(value, dict) else None


def own_fields(tag: str, client: str, n: int) -> dict[str, Any]:
    """The fields a manifest takes from its tag's name: recomputed from the name, as the
    rest is from the commit."""
    return {"tag": tag, "client": client, "n": n}


def differences(recorded: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Fields of `recorded` that the recomputed manifest disagrees with: every field but the
    tagger's claims, so a field the recomputation lacks (one added by hand) differs too."""
    out = []
    for key in sorted(set(recorded) | set(actual)):
        if key in CLAIMS:
            continue
        # presence counts too: a field added by hand as null is a field the recomputation lacks
        if key not in recorded or key not in actual or recorded[key] != actual[key]:
            out.append(key)
    return out


def summary(m: dict[str, Any]) -> str:
    model = next(iter(m["models"].items()), None)
    model_text = ""
    if model:
        ident = model[1].get("lfs_oid") or model[1].get("blob") or ""
        model_text = f", model {model[0]} {ident[:10]}"
    metrics = ", ".join(f"{k} {v}" for k, v in list(m["metrics"].items())[:3])
    return (f"{m['tag']}: {m['branch']} at {m['commit'][:10]}{model_text}"
            + (f" ({metrics})" if metrics else ""))
