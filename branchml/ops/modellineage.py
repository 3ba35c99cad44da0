"""`branchml lineage FILE [--rev TAG|COMMIT]`: where a model came from (its data, code,
promotion, split requests, the proven Pulled-From chain back to raw) and which releases hold
the same model. Read from the release's manifest, or computed for a commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from branchml.content import manifests
from branchml.content.lineage import chain as chain_of
from branchml.errors import UsageError
from branchml.ops.release import find, read_releases, tag_format
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo.reader import Git


def lineage(path: Path, file: str, rev: str | None, rows: bool = False,
            raw: str | None = None) -> dict[str, Any]:
    """With `rows`, also the rows it trained on per raw upload (ops/rowlineage.py)."""
    g = Git(path)
    fmt = tag_format(g)
    releases = read_releases(g, fmt)
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    if rev is not None and fmt.parse(rev):
        m = find(g, fmt, rev).manifest
    else:
        commit = g.resolve(rev or "HEAD")
        if commit is None:
            raise UsageError(f"{rev!r} is not a commit in this repository.")
        m = manifests.compute(g, policy, commit, rev or "HEAD")
    assert m is not None
    model = m["models"].get(file)
    if model is None:
        raise UsageError(f"{file} is not a model file of {rev or 'HEAD'} "
                         f"(models: {', '.join(m['models']) or 'none'}).")
    ident = model.get("lfs_oid") or model.get("blob")
    found: dict[str, Any] = {"path": file, "model": model, "commit": m["commit"], "data": m["data"],
             "pulled_from": m.get("pulled_from"), "code": m["code"],
             "promotion": m.get("promotion"), "splits": m.get("splits") or [],
             "chain": chain_of(g, policy, m["commit"]),
             "releases": [r.tag for r in releases if r.manifest and any(
                 (x.get("lfs_oid") or x.get("blob")) == ident
                 for x in r.manifest.get("models", {}).values())]}
    if rows:  # issue 21: row lineage
        from branchml.ops import rowlineage

        found["rows"] = rowlineage.rows(g, path, policy, m, raw)
    return found
