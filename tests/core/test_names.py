from __future__ import annotations

import pytest

from branchml.core.names import (
    check_branch_name,
    check_client_id,
    pattern_matches,
    ref_name_problem,
)
from branchml.errors import InvalidName


@pytest.mark.parametrize("name", [
    "main", "raw", "dev/new-approach", "stable/model", "ds/acme", "dev/v1.2", "monitoring/eu_1",
])
def test_good_branch_names(name: str) -> None:
    assert check_branch_name(name) == name


@pytest.mark.parametrize("name", [
    "", "stable/../x", "--upload-pack=x", "-x", "dev/a..b", "dev/x.lock", "dev/.hidden",
    "dev//x", "dev/x/", "/dev", "dev/a b", "dev/a~1", "dev/a^", "dev/a:b", "dev/a?",
    "dev/a*", "dev/a[", "dev/a\\b", "@", "dev/a@{1}", "dev/x.", "dev/\x01", "x" * 201,
    "dev/_under", "dev/ünï",
])
def test_bad_branch_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName) as e:
        check_branch_name(name)
    assert "is not a valid branch name" in str(e.value)


def test_ref_name_problem_says_why() -> None:
    assert ref_name_problem("stable/../x") == "it holds '..', '@{' or '//', or is '@'"
    assert ref_name_problem("--upload-pack=x") == "it starts with '-'"
    assert ref_name_problem("ok/name") is None


@pytest.mark.parametrize(("pattern", "name", "hit"), [
    ("dev/*", "dev/x", True), ("dev/*", "dev/x/y", False), ("dev/*", "dev", False),
    ("main", "main", True), ("main", "mainx", False), ("*/b", "a/b", True),
])
def test_pattern_matches(pattern: str, name: str, hit: bool) -> None:
    assert pattern_matches(pattern, name) is hit


@pytest.mark.parametrize("client", ["acme", "a1", "0x", "acme_eu-2"])
def test_good_client_ids(client: str) -> None:
    assert check_client_id(client) == client


@pytest.mark.parametrize("client", ["", "Acme", "-a", "_a", "a b", "a/b", "a" * 65, "ac.me"])
def test_bad_client_ids(client: str) -> None:
    with pytest.raises(InvalidName, match="is not a valid client id"):
        check_client_id(client)
