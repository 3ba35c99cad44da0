"""Issue 18, releases and runs: rows per data file in `diff`, runs linked to the releases on
their commit, `runs --sort` direction, `releases` columns, `deploy --canary` and `--at`, and
the messages of deployed, rollback, promote and diff."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from branchml.core.rowcount import count_rows
from branchml.core.rows import RowFormat
from branchml.core.runsort import lower_is_better, sort_runs
from tests.conftest import BIN, commit, git, snapshot


def retrain(repo: Path, weights: str, metrics: dict[str, float],
            params: dict[str, object] | None = None) -> None:
    files: dict[str, str | bytes | None] = {"models/model.pkl": weights,
                                            "tracking/metrics.json": json.dumps(metrics)}
    if params is not None:
        files["tracking/params.json"] = json.dumps(params)
    commit(repo, files, branch="stable/model")


def main_config(repo: Path, extra: str) -> None:
    """Append `extra` to main's (the trusted) branchml.yaml."""
    cfg = git("show", "main:branchml.yaml", cwd=repo) + "\n" + extra
    commit(repo, {"branchml.yaml": cfg}, branch="main")


def sqlite_bytes(tmp: Path, rows: int) -> bytes:
    db = tmp / f"t{rows}.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x INTEGER)")
    con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    con.commit()
    con.close()
    return db.read_bytes()


# -- 1. diff: rows per data file, validation reports, absent params --------------------------

class TestDiff:
    def test_rows_added_per_data_file_and_validation_report(self, stable: Path, bml,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
        commit(stable, {"data/e.jsonl": '{"x": 1}\n', "data/arr.json": "[1, 2]",
                        "data/t.sqlite": sqlite_bytes(tmp_path, 2)}, branch="raw")
        assert bml("pull", "raw", "stable/model", cwd=stable).code == 0
        assert bml("tag", "--client", "acme", cwd=stable).code == 0
        commit(stable, {"data/d.csv": "a\n1\n2\n3\n", "data/e.jsonl": '{"x": 1}\n{"x": 2}\n',
                        "data/arr.json": "[1, 2, 3, 4, 5]",
                        "data/t.sqlite": sqlite_bytes(tmp_path, 7),
                        "data/new.csv": "k,v\n1,2\n3,4\n", "data/pic.png": b"\x89PNG"},
               branch="raw")
        r = bml("pull", "raw", "stable/model", "--validate", cwd=stable)
        assert r.code == 0, r.err
        retrain(stable, "w2", {"acc": 0.95}, {"lr": 0.1, "epochs": 10})
        assert bml("tag", "--client", "acme", cwd=stable).code == 0

        d = json.loads(bml("diff", "acme-v1", "acme-v2", "--json", cwd=stable).out)
        files = {f["path"]: f for f in d["files"]}
        # rows added and removed for row files and new files; the net figure alone for a
        # changed JSON array or SQLite file (only their counts are read)
        assert {p: (f["rows_before"], f["rows_after"], f["rows_added"], f["rows_removed"],
                    f["rows_net"])
                for p, f in files.items() if not f["validation_report"]} == {
            "data/d.csv": (1, 3, 2, 0, 2), "data/e.jsonl": (1, 2, 1, 0, 1),
            "data/arr.json": (2, 5, None, None, 3), "data/t.sqlite": (2, 7, None, None, 5),
            "data/new.csv": (0, 2, 2, 0, 2), "data/pic.png": (None, None, None, None, None)}
        reports = [p for p, f in files.items() if f["validation_report"]]
        assert len(reports) == 1 and reports[0].startswith("data/_validation/pull-")
        assert d["data"]["data"]["rows_added"] is None  # the image's rows are not known
        assert d["params"]["epochs"] == {"from": None, "to": 10, "change": "added"}

        text = bml("diff", "acme-v1", "acme-v2", cwd=stable).out
        assert "    data/d.csv: +2 row(s) (1 -> 3)\n" in text
        assert "    data/e.jsonl: +1 row(s) (1 -> 2)\n" in text
        assert "    data/arr.json: net +3 row(s) (2 -> 5)\n" in text
        assert "    data/t.sqlite: net +5 row(s) (2 -> 7)\n" in text
        assert "    data/new.csv: +2 row(s) (new file)\n" in text
        assert "    data/pic.png: new file (no row format)\n" in text
        assert f"    {reports[0]}: validation report (new)\n" in text
        assert "  param epochs: absent -> 10\n" in text
        assert "None" not in text

    def test_parquet_rows_from_its_footer(self, stable: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        def parquet(n: int) -> bytes:
            sink = io.BytesIO()
            pq.write_table(pa.table({"x": list(range(n))}), sink)
            return sink.getvalue()

        assert bml("tag", "--client", "acme", cwd=stable).code == 0
        commit(stable, {"data/p.parquet": parquet(6)}, branch="raw")
        assert bml("pull", "raw", "stable/model", cwd=stable).code == 0
        retrain(stable, "w2", {"acc": 0.91})
        assert bml("tag", "--client", "acme", cwd=stable).code == 0
        d = json.loads(bml("diff", "acme-v1", "acme-v2", "--json", cwd=stable).out)
        assert [(f["path"], f["rows_added"]) for f in d["files"]] == [("data/p.parquet", 6)]
        assert d["data"]["data"]["rows_added"] == 6

    def test_removed_param_prints_absent_and_a_null_param_prints_null(self, stable: Path,  # type: ignore[no-untyped-def]
                                                                      bml) -> None:
        retrain(stable, "w0", {"acc": 0.9}, {"lr": 0.1, "seed": None, "drop": 1})
        assert bml("tag", "--client", "acme", cwd=stable).code == 0
        retrain(stable, "w2", {"acc": 0.9}, {"lr": 0.1, "seed": 3})
        assert bml("tag", "--client", "acme", cwd=stable).code == 0
        text = bml("diff", "acme-v1", "acme-v2", cwd=stable).out
        assert "  param drop: 1 -> absent\n" in text
        assert "  param seed: null -> 3\n" in text

    def test_json_array_over_the_limit_is_not_parsed(self, stable: Path, bml,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        from branchml.ops import releasediff

        assert bml("tag", "--client", "acme", cwd=stable).code == 0
        commit(stable, {"data/arr.json": "[1, 2, 3]", "data/e.jsonl": '{"x": 1}\n'},
               branch="raw")
        assert bml("pull", "raw", "stable/model", cwd=stable).code == 0
        retrain(stable, "w2", {"acc": 0.91})
        assert bml("tag", "--client", "acme", cwd=stable).code == 0
        monkeypatch.setattr(releasediff, "JSON_LIMIT", 8)
        d = json.loads(bml("diff", "acme-v1", "acme-v2", "--json", cwd=stable).out)
        assert {f["path"]: f["rows_added"] for f in d["files"]} == {"data/arr.json": None,
                                                                    "data/e.jsonl": 1}
        assert "    data/arr.json: new file (rows of json not read: it is over the 8 bytes a " \
            "JSON file is scanned for)\n" in bml(
            "diff", "acme-v1", "acme-v2", cwd=stable).out

    @pytest.mark.parametrize(("fmt", "data", "rows"), [
        (RowFormat.CSV, b"a,b\n1,2\n3,4\n", 2),
        (RowFormat.CSV, b"a,b\r\n1,2\r\n3,4", 2),  # CRLF, no final newline
        (RowFormat.CSV, b'a,b\n1,"x\ny"\n', 1),  # a newline inside quotes is one row
        (RowFormat.CSV, b"a,b\n", 0),
        (RowFormat.CSV, b"", 0),
        (RowFormat.CSV, b"a\n1\n\n2\n", 2),  # a blank line is not a row
        (RowFormat.TSV, b"a\tb\n1\t2\n", 1),
        (RowFormat.JSONL, b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', 3),
        (RowFormat.JSON, b"[1, 2, 3]", 3),
        (RowFormat.JSON, b'{"a": 1}', None),  # not an array: no rows
        (RowFormat.JSON, b"[1, 2", None),  # not JSON
        (RowFormat.SQLITE, b"anything", None),
    ])
    def test_count_rows(self, fmt: RowFormat, data: bytes, rows: int | None) -> None:
        assert count_rows(io.BytesIO(data), fmt) == rows


# -- 2. runs linked to the releases on their commit ------------------------------------------

def test_run_tracked_before_its_tag_is_found_by_the_tag(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The issue's scenario: track, then tag; `runs compare acme-v1 acme-v2` once said
    "names no run" while `track acme-v1` said it was already there."""
    assert bml("track", "stable/model", cwd=stable).code == 0  # before any tag
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    assert bml("tag", "--client", "beta", "--allow-same", cwd=stable).code == 0
    retrain(stable, "w2", {"acc": 0.95})
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    assert bml("track", "acme-v2", cwd=stable).code == 0  # tracked by its tag
    r = bml("track", "acme-v1", cwd=stable)
    assert r.out.startswith("Nothing to track: acme-v1 is in main's run log already.")

    r = bml("runs", "compare", "acme-v1", "acme-v2", "--json", cwd=stable)
    assert r.code == 0, r.err
    assert json.loads(r.out)["metric acc"]["delta"] == pytest.approx(0.05)
    assert bml("runs", "compare", "beta-v1", "acme-v2", cwd=stable).code == 0
    rows = json.loads(bml("runs", "--json", cwd=stable).out)
    assert [(r["tag"], r["tags"]) for r in rows] == [("acme-v2", ["acme-v2"]),
                                                     ("acme-v1", ["acme-v1", "beta-v1"])]
    table = bml("runs", cwd=stable).out
    assert "tag" in table and "acme-v1, beta-v1" in table and "acme-v2" in table


def test_a_release_without_a_run_says_how_to_track_it(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    retrain(stable, "w2", {"acc": 0.95})
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    assert bml("track", "acme-v2", cwd=stable).code == 0
    r = bml("runs", "compare", "acme-v1", "acme-v2", cwd=stable)
    assert (r.code, r.err) == (2, "branchml: error: 'acme-v1' names no run in main's run log; "
                                  "give a tag or a longer commit prefix (or track it first: "
                                  "`branchml track acme-v1`).\n")


def test_a_hand_made_tag_without_a_manifest_links_no_run(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Only release tags with a manifest name runs: a lightweight tag or an annotated tag
    with a release-like name but no manifest is not a release."""
    assert bml("track", "stable/model", cwd=stable).code == 0
    git("tag", "acme-v7", "stable/model", cwd=stable)
    git("tag", "-a", "-m", "not a release", "acme-v8", "stable/model", cwd=stable)
    rows = json.loads(bml("runs", "--json", cwd=stable).out)
    assert rows[0]["tags"] == [] and rows[0]["tag"] is None


# -- 3. runs --sort: which way -----------------------------------------------------------------

@pytest.mark.parametrize(("metric", "lower"), [
    ("loss", True), ("val_loss", True), ("valLoss", True), ("logloss", True),
    ("test-rmse", True), ("mae", True), ("error_rate", True), ("MSE", True),
    ("perplexity", True), ("wer", True),
    ("acc", False), ("accuracy", False), ("f1", False), ("auc", False), ("r2", False),
    ("precision", False), ("glossary_score", False),
])
def test_lower_is_better_by_name(metric: str, lower: bool) -> None:
    assert lower_is_better(metric) is lower


def test_sort_runs_missing_and_non_numbers_last() -> None:
    rows = [{"commit": c, "metrics": m} for c, m in [
        ("a", {"loss": 0.5}), ("b", {}), ("c", {"loss": 0.2}), ("d", {"loss": "n/a"}),
        ("e", {"loss": 0.9})]]
    assert [r["commit"] for r in sort_runs(rows, "loss")] == ["c", "a", "e", "b", "d"]
    assert [r["commit"] for r in sort_runs(rows, "loss", False)] == ["e", "a", "c", "b", "d"]


def test_runs_sort_direction(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    for i, (loss, acc) in enumerate([(0.3, 0.8), (0.1, 0.9), (0.2, 0.7)]):
        retrain(stable, f"w{i}", {"loss": loss, "acc": acc})
        assert bml("track", "stable/model", cwd=stable).code == 0

    def order(*args: str) -> list[float]:
        r = bml("runs", *args, "--json", cwd=stable)
        assert r.code == 0, r.err
        return [row["metrics"][args[1]] for row in json.loads(r.out)]

    assert order("--sort", "loss") == [0.1, 0.2, 0.3]  # a loss: lowest first
    assert order("--sort", "acc") == [0.9, 0.8, 0.7]  # a score: highest first
    assert order("--sort", "loss", "--desc") == [0.3, 0.2, 0.1]
    assert order("--sort", "acc", "--asc") == [0.7, 0.8, 0.9]
    assert "best loss first (lowest first)" in bml("runs", "--sort", "loss", cwd=stable).out
    assert "best acc first (highest first)" in bml("runs", "--sort", "acc", cwd=stable).out
    r = bml("runs", "--asc", cwd=stable)
    assert (r.code, r.err) == (2, "branchml: error: --asc and --desc say which way --sort "
                                  "goes: name the metric with --sort METRIC.\n")
    from branchml import api

    assert [r["metrics"]["loss"] for r in api.runs_sorted("loss", path=stable)] == [0.1, 0.2,
                                                                                    0.3]
    help_text = bml("runs", "--help", cwd=stable).out
    assert "ascending" in help_text and "--asc" in help_text


# -- 4. releases: whole model paths, the metrics the config names ---------------------------

def test_releases_whole_model_path_and_configured_metrics(project: Path, bml,  # type: ignore[no-untyped-def]
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    long = "models/churn/gradient_boosting/model-2026-11.pkl"
    commit(project, {long: "w1", "tracking/metrics.json":
                     json.dumps({"acc": 0.9, "auc": 0.8, "brier": 0.1, "f1": 0.7})},
           branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal cuts nothing
    out = bml("releases", cwd=project).out
    assert long in out
    assert "acc=0.9, auc=0.8, brier=0.1" in out and "f1=" not in out  # no config: first three
    main_config(project, "releases:\n  metrics: [f1, acc, missing]\n")
    out = bml("releases", cwd=project).out
    assert out.splitlines()[1].endswith("f1=0.7, acc=0.9")
    assert json.loads(bml("releases", "--json", cwd=project).out)[0]["metrics"] == {
        "acc": 0.9, "auc": 0.8, "brier": 0.1, "f1": 0.7}  # --json keeps every metric


def test_releases_metrics_is_read_from_main_only(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A branchml.yaml on the checked-out branch (not main) names no columns."""
    retrain(stable, "w2", {"a": 1, "b": 2, "c": 3, "zz": 4})
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    git("checkout", "-q", "-b", "dev/other", "main", cwd=stable)
    cfg = git("show", "main:branchml.yaml", cwd=stable) + "\nreleases:\n  metrics: [zz]\n"
    commit(stable, {"branchml.yaml": cfg})
    assert bml("releases", cwd=stable).out.splitlines()[1].endswith(" a=1, b=2, c=3")


@pytest.mark.parametrize("bad", ["releases:\n  metrics: acc\n",
                                 "releases:\n  metrics: [acc, acc]\n",
                                 "releases:\n  metrics: ['  ']\n",
                                 "releases:\n  columns: [acc]\n"])
def test_releases_metrics_schema(project: Path, bml, bad: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "branchml.yaml"
    cfg.write_text(git("show", "main:branchml.yaml", cwd=project) + "\n" + bad)
    r = bml("config", "validate", str(cfg), cwd=project)
    assert r.code != 0 and "releases" in r.err and len(r.err.strip().splitlines()) == 1


# -- 5. deploy --canary equal to the primary; --at in the local zone --------------------------

def test_canary_equal_to_primary_refused(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    retrain(stable, "w2", {"acc": 0.95})
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    before = snapshot(stable)
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v1", "--fraction",
            "0.1", cwd=stable)
    assert (r.code, r.err) == (2, "branchml: error: --canary acme-v1 is the primary release "
                                  "itself: name another release as the candidate, or deploy "
                                  "without --canary.\n")
    assert snapshot(stable) == before
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
            "0.1", cwd=stable)  # the legitimate twin
    assert r.code == 0 and "candidate acme-v2 at 0.1" in r.out


def deployment(repo: Path, parent: str | None, primary: str, when: str) -> str:
    """A deployment commit as `branchml deploy` writes it, at a chosen time."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo,
               input=f"client: acme\nprimary: {primary}\n")
    tree = git("mktree", cwd=repo, input=f"100644 blob {blob}\tdeploy.yaml\n")
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    args = ["git", "commit-tree", tree, *(["-p", parent] if parent else []), "-m",
            f"deploy acme: {primary}\n\nDeploy-Primary: {primary}\n"]
    return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_naive_at_is_read_in_the_local_zone(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    # `deployed` names only releases that exist here, as the router does (atk19-10)
    for extra in ([], ["--allow-same"]):
        assert bml("tag", "--client", "acme", *extra, cwd=stable).code == 0
    first = deployment(stable, None, "acme-v1", "2026-11-01T10:00:00+00:00")
    second = deployment(stable, first, "acme-v2", "2026-11-01T14:00:00+00:00")
    git("update-ref", "refs/deploy/acme", second, cwd=stable)

    def deployed(at: str, tz: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([f"{BIN}/branchml", "deployed", "--client", "acme", "--at", at],
                              cwd=stable, env={**os.environ, "TZ": tz}, capture_output=True,
                              text=True)

    # 12:00 at UTC-5 is 17:00 UTC: acme-v2 (deployed at 14:00 UTC), which still runs
    r = deployed("2026-11-01T12:00", "XYZ+05")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("At 2026-11-01T12:00:00-05:00 (local zone XYZ, UTC-05:00), acme ran "
                        "acme-v2, and still runs it (deployed 2026-11-01T14:00:00+00:00).\n")
    # 07:00 at UTC-5 is 12:00 UTC: acme-v1 (read as UTC, it was 07:00 UTC: nothing yet)
    r = deployed("2026-11-01T07:00", "XYZ+05")
    assert r.stdout == ("At 2026-11-01T07:00:00-05:00 (local zone XYZ, UTC-05:00), acme ran "
                        "acme-v1 (deployed 2026-11-01T10:00:00+00:00).\n")
    # the same naive time where the local zone is UTC
    r = deployed("2026-11-01T12:00", "UTC")
    assert "acme ran acme-v1 " in r.stdout and "local zone UTC, UTC+00:00" in r.stdout
    # a time with its own zone is read as given, whatever TZ says
    r = deployed("2026-11-01T12:00+00:00", "XYZ+05")
    assert r.stdout.startswith("At 2026-11-01T12:00:00+00:00 (UTC+00:00, as given), acme ran "
                               "acme-v1 ")
    r = deployed("2026-11-01T04:00", "XYZ+05")
    # before the first deployment is a valid question with an answer (exit 0), in the local zone
    assert r.returncode == 0, r.stderr
    assert "2026-11-01T04:00:00-05:00 (local zone XYZ, UTC-05:00)" in r.stdout
    assert "its first deployment was at 2026-11-01T10:00:00+00:00." in r.stdout


# -- 6. messages: deployed, rollback, promote -------------------------------------------------

def test_deployed_says_runs_for_now_and_rollback_says_which_way(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    retrain(stable, "w2", {"acc": 0.95})
    assert bml("tag", "--client", "acme", cwd=stable).code == 0
    assert bml("deploy", "acme-v2", "--client", "acme", cwd=stable).code == 0
    assert bml("deployed", "--client", "acme", cwd=stable).out.startswith(
        "acme runs acme-v2 (deployed ")
    r = bml("rollback", "--client", "acme", "--to", "acme-v1", cwd=stable)
    assert r.out.startswith("acme rolled back to acme-v1 (from acme-v2) (refs/deploy/acme ")
    r = bml("rollback", "--client", "acme", "--to", "acme-v2", "--dry-run", cwd=stable)
    assert r.out.startswith("acme would roll forward to the newer acme-v2 (from acme-v1)")
    r = bml("rollback", "--client", "acme", "--to", "acme-v2", "--json", cwd=stable)
    assert json.loads(r.out)["direction"] == "forward"
    # plain rollback returns to the previous different primary: here the older one again
    r = bml("rollback", "--client", "acme", cwd=stable)
    assert r.out.startswith("acme rolled back to acme-v1 (from acme-v2)")
    r = bml("rollback", "--client", "acme", "--to", "acme-v1", cwd=stable)
    assert r.out.startswith("acme already runs acme-v1 alone; nothing changed")
    assert bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
               "0.2", cwd=stable).code == 0
    r = bml("rollback", "--client", "acme", "--to", "acme-v1", cwd=stable)
    assert r.out.startswith("acme rolled back to acme-v1 alone, without the candidate")


def test_promote_marks_new_changed_and_deleted_files(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(stable, {"src/util.py": "x = 1\n", "src/train.py": "print('v2')\n"},
           branch="dev/model")
    r = bml("promote", "dev/model", "stable/model", cwd=stable)
    assert r.code == 0, r.err
    assert "  + src/util.py\n" in r.out and "  ~ src/train.py\n" in r.out
    commit(stable, {"src/util.py": None}, branch="dev/model")
    r = bml("promote", "dev/model", "stable/model", "--json", cwd=stable)
    assert json.loads(r.out)["deleted"] == ["src/util.py"]
    commit(stable, {"src/extra.py": "y = 2\n"}, branch="dev/model")
    r = bml("promote", "dev/model", "stable/model", "--dry-run", cwd=stable)
    assert r.out.splitlines()[1:] == ["  + src/extra.py"]
