"""Issue 20 (fd): what a newcomer found in `make demo`: a release's file lineage lists every
raw file behind its data (not only the latest pull's), and `deployed --at` a time before the
first deployment answers "nothing deployed" (exit 0) instead of a usage error."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import commit, git


def _two_pulls(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """January's file pulled (the fixture), then February's: a second pull, retrained, tagged."""
    commit(stable, {"data/feb.csv": "a\n2\n"}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=stable).code == 0
    commit(stable, {"models/model.pkl": "w2", "tracking/metrics.json": '{"acc": 0.95}'},
           branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=stable).code == 0


def test_lineage_lists_the_raw_files_of_every_pull(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    _two_pulls(stable, bml)
    r = bml("lineage", "models/model.pkl", "--rev", "acme-v1", "--json", cwd=stable)
    assert r.code == 0, r.err
    chain = json.loads(r.out)["chain"]
    assert chain["end"] == "origin"
    assert chain["hops"][0]["files"] == ["data/feb.csv"]  # the latest pull brought one file
    assert chain["sources"] == ["data/d.csv", "data/feb.csv"]  # both are behind the data
    text = bml("lineage", "models/model.pkl", "--rev", "acme-v1", cwd=stable).out
    assert "sources  2 raw data file(s) behind this data (every pull so far): " \
           "data/d.csv, data/feb.csv" in text
    assert "  data in data/: 2 file(s)," in text  # not "data data/: 2 files"


def test_lineage_of_a_single_pull_lists_its_file(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    r = bml("lineage", "models/model.pkl", "--rev", "acme-v1", "--json", cwd=stable)
    assert json.loads(r.out)["chain"]["sources"] == ["data/d.csv"]


def test_deployed_before_the_first_deployment_says_nothing_ran(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=stable).code == 0
    first = git("log", "-1", "--format=%cI", "refs/deploy/acme", cwd=stable)
    r = bml("deployed", "--client", "acme", "--at", "2000-01-01T00:00+00:00", cwd=stable)
    assert r.code == 0, r.err
    assert r.out == (f"acme had no release deployed at 2000-01-01T00:00:00+00:00 (UTC+00:00, "
                     f"as given); its first deployment was at {first}.\n")
    j = json.loads(bml("deployed", "--client", "acme", "--at", "2000-01-01T00:00+00:00",
                       "--json", cwd=stable).out)
    assert j["primary"] is None and j["first"] == first and j["current"] is False
    # a time after it still names the release
    after = json.loads(bml("deployed", "--client", "acme", "--at", first, "--json",
                           cwd=stable).out)
    assert after["primary"] == "acme-v1"


def test_deployed_for_a_client_never_deployed_is_still_refused(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("deployed", "--client", "acme", "--at", "2000-01-01T00:00", cwd=stable)
    assert r.code != 0 and "acme has never been deployed" in r.err
