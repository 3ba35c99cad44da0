"""Issue 18, lineage to raw: `lineage PATH --rev TAG` walks the Pulled-From chain back to where
the data was committed, each hop proven from git objects (its source is the second parent of
the merge carrying the trailer, on the branch it names); a forged hop is reported, never
followed; the walk is bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from branchml.content import lineage as chain_module
from tests.conftest import commit, git


def pulled(repo: Path, branch: str, src: str) -> tuple[str, str]:
    """(the merge on `branch` that pulled `src`, the source commit it names)."""
    out = git("log", "--first-parent", "--format=%H %(trailers:key=Pulled-From,valueonly)",
              branch, cwd=repo)
    for line in out.splitlines():
        sha, _, value = line.partition(" ")
        if value.startswith(src + " "):
            return sha, value.split()[1]
    raise AssertionError(f"no pull from {src} on {branch}")


def lineage(repo: Path, bml, rev: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    r = bml("lineage", "models/model.pkl", "--rev", rev, "--json", cwd=repo)
    assert r.code == 0, r.err
    return json.loads(r.out)["chain"]  # type: ignore[no-any-return]


def forge(repo: Path, branch: str, message: str, *parents: str) -> str:
    """A commit made by hand on `branch` (its tip's tree, the given parents), ref moved."""
    tree = git("rev-parse", f"{branch}^{{tree}}", cwd=repo)
    args = [x for p in parents for x in ("-p", p)]
    sha = git("commit-tree", tree, *args, "-m", message, cwd=repo)
    git("update-ref", f"refs/heads/{branch}", sha, cwd=repo)
    return sha


def test_the_chain_walks_back_to_raw(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    chain = lineage(released, bml, "acme-v1")
    assert chain["end"] == "origin"
    assert [h["branch"] for h in chain["hops"]] == ["split", "clean", "raw"]
    for (branch, src), hop in zip((("stable/model", "split"), ("split", "clean"),
                                   ("clean", "raw")), chain["hops"], strict=True):
        via, named = pulled(released, branch, src)
        assert (hop["via"], hop["commit"], hop["proven"]) == (via, named, True)
        assert hop["date"] == git("show", "-s", "--format=%cI", named, cwd=released)
        assert "data/d.csv" in hop["files"] and hop["files_total"] == len(hop["files"])
    text = bml("lineage", "models/model.pkl", "--rev", "acme-v1", cwd=released).out
    raw = chain["hops"][-1]["commit"][:10]
    assert f"  from     raw {raw} (" in text
    assert "  origin   raw: the data was committed there\n" in text


def test_a_forged_trailer_on_stable_is_reported_not_followed(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    split_tip = git("rev-parse", "split", cwd=released)
    stable = git("rev-parse", "stable/model", cwd=released)
    sha = forge(released, "stable/model", f"retrain\n\nPulled-From: split {split_tip}\n", stable)
    chain = lineage(released, bml, sha)
    assert chain["end"] == "unproven" and len(chain["hops"]) == 1
    hop = chain["hops"][0]
    assert (hop["proven"], hop["files"], hop["date"]) == (False, [], "")
    assert hop["why"] == (f"the commit {sha[:10]} carrying Pulled-From is not a merge of "
                          f"{split_tip[:10]}, the commit its trailer names")
    text = bml("lineage", "models/model.pkl", "--rev", sha, cwd=released).out
    assert f"  from     split {split_tip[:10]}: unproven, not followed (" in text
    assert "  origin   split: stopped at an unproven hop\n" in text
    # the release made before the forgery still walks its own, proven chain
    assert lineage(released, bml, "acme-v1")["end"] == "origin"


def test_a_forged_hop_deeper_in_the_chain_ends_it_there(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    raw_tip = git("rev-parse", "raw", cwd=released)
    commit(released, {"data/e.csv": "id,x\n3,6\n"}, branch="split",
           msg=f"claim\n\nPulled-From: clean {raw_tip}\n")  # new data, a made-up origin
    git("checkout", "-q", "main", cwd=released)
    assert bml("pull", "split", "stable/model", "--json", cwd=released).code == 0
    commit(released, {"models/model.pkl": "w2"}, branch="stable/model")
    chain = lineage(released, bml, "stable/model")
    assert [(h["branch"], h["proven"]) for h in chain["hops"]] == [("split", True),
                                                                    ("clean", False)]
    assert chain["end"] == "unproven"


def test_a_merge_whose_trailer_names_the_wrong_branch_is_unproven(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A real merge of a commit that is not on the branch its trailer names (a dev commit
    claimed as raw data) is no hop either."""
    stable = git("rev-parse", "stable/model", cwd=released)
    dev = git("rev-parse", "dev/model", cwd=released)
    sha = forge(released, "stable/model", f"pull\n\nPulled-From: raw {dev}\n", stable, dev)
    chain = lineage(released, bml, sha)
    assert chain["end"] == "unproven"
    assert chain["hops"][0]["why"] == f"{dev[:10]} is not on raw, the branch its trailer names"


def test_the_walk_is_capped(released: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(chain_module, "MAX_HOPS", 2)
    chain = lineage(released, bml, "acme-v1")
    assert chain["end"] == "limit" and [h["branch"] for h in chain["hops"]] == ["split", "clean"]
    text = bml("lineage", "models/model.pkl", "--rev", "acme-v1", cwd=released).out
    assert "  origin   clean: stopped after the hop limit\n" in text


def test_lineage_prints_the_split_requests(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("checkout", "-q", "stable/model", cwd=released)
    assert bml("split", "--key", "id", cwd=released).code == 0  # on split (checks it out)
    git("checkout", "-q", "stable/model", cwd=released)
    r = bml("split", "rows", "train", "-o", str(released.parent / "t.csv"), cwd=released)
    assert r.code == 0, r.err
    commit(released, {"models/model.pkl": "w2",
                      "tracking/splits.jsonl": (released / "tracking/splits.jsonl").read_text()})
    out = json.loads(bml("lineage", "models/model.pkl", "--json", cwd=released).out)
    assert [(s["split"], s["purpose"]) for s in out["splits"]] == [("train", "train")]
    text = bml("lineage", "models/model.pkl", cwd=released).out
    assert "  split    train for train: " in text
