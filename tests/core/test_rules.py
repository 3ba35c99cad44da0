"""The judge, table-driven, on the default policy: no git, no filesystem."""

from __future__ import annotations

import pytest

from branchml import config
from branchml.core.changes import Change, CommitFacts, Growth
from branchml.core.model import PathClass
from branchml.core.policy import Policy, policy_from_config
from branchml.core.rules import judge_commit, judge_ref_update

POLICY: Policy = policy_from_config(config.load_bytes(None, ""))
A, M, D = "A", "M", "D"


def grows(_: Change) -> Growth:
    return Growth(True)


def edited(_: Change) -> Growth:
    return Growth(False, "its old bytes changed")


def verdicts(branch: str, status: str, path: str, probe=grows) -> list[str]:  # type: ignore[no-untyped-def]
    commit = CommitFacts("c0ffee", "subject", (Change(status, path, "1" * 40, "2" * 40),))
    return [v.rule for v in judge_commit(POLICY, branch, commit, probe)]


@pytest.mark.parametrize(("path", "cls"), [
    ("branchml.yaml", PathClass.CONFIG), (".gitattributes", PathClass.CONFIG),
    ("tracking/runs.jsonl", PathClass.TRACKING), ("mlruns/1/meta.yaml", PathClass.TRACKING),
    ("models/model.pkl", PathClass.MODELS), ("data/a.csv", PathClass.DATA),
    ("data/README.md", PathClass.DATA), ("monitoring/acme/x.csv", PathClass.DATA),
    ("docs/problem.md", PathClass.DOCS), ("README.md", PathClass.DOCS),
    ("src/train.py", PathClass.CODE), ("Dockerfile", PathClass.CODE),
])
def test_classify(path: str, cls: PathClass) -> None:
    assert POLICY.classify(path) is cls


@pytest.mark.parametrize(("branch", "status", "path", "probe", "rules"), [
    ("main", A, "docs/x.md", grows, []),
    ("main", M, "branchml.yaml", grows, []),
    ("main", A, "src/a.py", grows, ["class-not-allowed"]),
    ("main", A, "data/a.csv", grows, ["class-not-allowed"]),
    ("main", A, "models/m.pkl", grows, ["class-not-allowed"]),
    ("main", A, "tracking/runs.jsonl", grows, []),
    ("main", M, "tracking/runs.jsonl", grows, []),
    ("main", M, "tracking/runs.jsonl", edited, ["append-only"]),
    ("main", D, "tracking/runs.jsonl", grows, ["append-only"]),
    ("raw", A, "data/a.csv", grows, []),
    ("raw", M, "data/a.csv", grows, []),
    ("raw", M, "data/a.csv", edited, ["append-only"]),
    ("raw", D, "data/a.csv", grows, ["append-only"]),
    ("raw", A, "train.py", grows, ["class-not-allowed"]),
    ("clean", D, "data/a.csv", grows, []),
    ("dev/x", A, "src/a.py", grows, []),
    ("dev/x", A, "models/m.pkl", grows, ["class-not-allowed"]),
    ("stable/x", A, "src/a.py", grows, ["promotion-only"]),
    ("stable/x", M, "models/m.pkl", edited, []),
    ("stable/x", A, "data/a.csv", grows, []),
    ("monitoring", A, "monitoring/acme/a.csv", grows, []),
    ("monitoring", D, "monitoring/acme/a.csv", grows, ["append-only"]),
    ("monitoring/eu", M, "monitoring/a.csv", edited, ["append-only"]),
    ("ds/acme", A, "notebooks/a.ipynb", grows, []),
    ("feature/x", A, "src/a.py", grows, ["unknown-branch"]),
])
def test_judge(branch: str, status: str, path: str, probe, rules: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert verdicts(branch, status, path, probe) == rules


def test_append_only_message_says_how() -> None:
    commit = CommitFacts("c0ffee", "s", (Change("M", "data/2024-01.csv", "1", "2"),))
    (v,) = judge_commit(POLICY, "raw", commit, lambda c: Growth(False))
    assert v.message.startswith("data on raw is append-only: data/2024-01.csv was edited")
    assert v.commit == "c0ffee" and v.path == "data/2024-01.csv" and v.branch == "raw"


def test_append_only_op_message_without_grow() -> None:
    cfg = config.load_bytes(None, "")
    cfg["branches"]["raw"]["ops"] = {"data": ["add"]}
    policy = policy_from_config(cfg)
    commit = CommitFacts("c", "s", (Change("M", "data/2024-01.csv", "1", "2"),))
    (v,) = judge_commit(policy, "raw", commit, grows)
    assert v.message == "data on raw is append-only: add a new file instead of editing data/2024-01.csv"


def test_op_not_allowed_message() -> None:
    cfg = config.load_bytes(None, "")
    cfg["branches"]["clean"]["ops"] = {"data": ["add", "modify"]}
    policy = policy_from_config(cfg)
    commit = CommitFacts("c", "s", (Change("D", "data/a.csv", "1", "2"),))
    (v,) = judge_commit(policy, "clean", commit, grows)
    assert v.rule == "op-not-allowed"
    assert v.message == "data on clean may only add, modify, not delete: data/a.csv"


def test_unknown_branches_allow() -> None:
    cfg = config.load_bytes(None, "")
    cfg["unknown_branches"] = "allow"
    commit = CommitFacts("c", "s", (Change("A", "x.py", "1", "2"),))
    assert judge_commit(policy_from_config(cfg), "feature/x", commit, grows) == []


@pytest.mark.parametrize(("branch", "deleting", "ff", "rule"), [
    ("main", True, True, "protected-delete"),
    ("main", False, False, "protected-force"),
    ("raw", False, True, None),
    ("stable/model", False, False, "protected-force"),
    ("monitoring", True, True, "protected-delete"),
    ("dev/x", True, False, None),
    ("clean", False, False, None),
    ("feature/x", True, True, None),
])
def test_protected(branch: str, deleting: bool, ff: bool, rule: str | None) -> None:
    v = judge_ref_update(POLICY, branch, deleting, ff)
    assert (v.rule if v else None) == rule


def test_parent_branch() -> None:
    assert POLICY.parent_branch("dev/x") == "main"
    assert POLICY.parent_branch("clean") == "raw"
    assert POLICY.parent_branch("main") is None
    assert POLICY.parent_branch("nope/x") is None


def test_summary_is_ordered() -> None:
    raw = POLICY.branch_type("raw")
    assert raw is not None and raw.summary()["data"] == ["add", "grow"]
    assert raw.is_append_only(PathClass.DATA) and not raw.is_append_only(PathClass.DOCS)
