from __future__ import annotations

import pytest

from branchml.core.globs import glob_match


@pytest.mark.parametrize(("glob", "path", "hit"), [
    ("data/**", "data/a.csv", True),
    ("data/**", "data/x/y/z.csv", True),
    ("data/**", "data", False),
    ("data/**", "database/a", False),
    ("**/*.md", "README.md", True),
    ("**/*.md", "docs/a/b.md", True),
    ("*.md", "docs/a.md", False),
    ("*.md", "a.md", True),
    ("branchml.yaml", "branchml.yaml", True),
    ("branchml.yaml", "x/branchml.yaml", False),
    ("models/*.pkl", "models/m.pkl", True),
    ("models/*.pkl", "models/a/m.pkl", False),
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("data/(x)+", "data/(x)+", True),
    ("**", "anything/at/all", True),
])
def test_glob(glob: str, path: str, hit: bool) -> None:
    assert glob_match(glob, path) is hit
