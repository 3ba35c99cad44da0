"""Issue 19, online experiments: the deterministic router, `monitor compare` (a canary's
forward test and backtest) and analysis branches that take only their client's monitoring
data (pull, plain git merge, checker, server). Real repositories, real git."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from branchml import api
from branchml.core import compare
from branchml.errors import UsageError
from tests.conftest import commit, git, git_proc, write

HEAD = "x1,x2,cat,label"
METRICS = "  metrics: [accuracy, error_rate, mae, rmse]\n"


def training(rows: int, seed: int = 1) -> str:
    rnd = random.Random(seed)
    lines = [HEAD]
    for _ in range(rows):
        x1 = rnd.gauss(0, 1)
        lines.append(f"{x1:.4f},{rnd.gauss(5, 2):.4f},{rnd.choice('ab')},{int(x1 > 0)}")
    return "\n".join(lines) + "\n"


ACCURACY = {"acme-v1": 0.7, "acme-v2": 0.9}  # how often each release's prediction is right


def serve(repo: Path, keys: range, seed: int = 2) -> dict[str, list[str]]:
    """What a serving job does: route each request by its key, predict with that release,
    and keep the row with the release's other rows (logged under its own tag)."""
    router = api.Router("acme", repo)
    rnd = random.Random(seed)
    rows: dict[str, list[str]] = {}
    for key in keys:
        tag = router.route(key)
        x1 = rnd.gauss(0, 1)
        label = int(x1 > 0)
        pred = label if rnd.random() < ACCURACY[tag] else 1 - label
        rows.setdefault(tag, [f"{HEAD},prediction"]).append(
            f"{x1:.4f},{rnd.gauss(5, 2):.4f},{rnd.choice('ab')},{label},{pred}")
    return rows


def log_rows(repo: Path, bml, tmp_path: Path, rows: dict[str, list[str]],  # type: ignore[no-untyped-def]
             name: str) -> None:
    for tag, lines in rows.items():
        f = write(tmp_path / tag, name, "\n".join(lines) + "\n")
        r = bml("monitor", "log", str(f), "--client", "acme", "--tag", tag, cwd=repo)
        assert r.code == 0, r.err


@pytest.fixture
def releases(plain_project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """acme-v1 and acme-v2 (two models on the same data), and globex-v1; the label is
    `monitor.target` and four metrics are named."""
    repo = plain_project
    cfg = git("show", "main:branchml.yaml", cwd=repo).replace("  target: null",
                                                              "  target: label\n" + METRICS)
    commit(repo, {"branchml.yaml": cfg + "\n"}, branch="main")
    commit(repo, {"data/train.csv": training(2000)}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/m.pkl": "w1"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    commit(repo, {"models/m.pkl": "w2"}, branch="stable/model")
    for client in ("acme", "globex"):
        r = bml("tag", "--client", client, "--allow-same", cwd=repo)
        assert r.code == 0, r.err
    git("checkout", "-q", "main", cwd=repo)
    return repo


# -- 1. the router -------------------------------------------------------------------------

def test_route_without_a_deployment_is_one_sentence(releases: Path, bml) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"acme has no deployment to route by \(no "
                                         r"refs/deploy/acme\); run `branchml deploy"):
        api.route("acme", "user-1", releases)
    r = bml("route", "--client", "acme", "user-1", cwd=releases)
    assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err


def test_router_shares_sticky_keys_and_monotone_buckets(releases: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=releases).code == 0
    assert {api.route("acme", k, releases) for k in ("a", 1, b"\x00")} == {"acme-v1"}
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
            "0.1", cwd=releases)
    assert r.code == 0, r.err
    router = api.Router("acme", releases)
    keys = [f"user-{i}" for i in range(100_000)]
    start = time.perf_counter()
    at_10 = {k for k in keys if router.route(k) == "acme-v2"}
    elapsed = time.perf_counter() - start
    assert abs(len(at_10) / len(keys) - 0.1) < 0.01
    assert elapsed < 5, elapsed  # about 0.1 s here; the bound only catches a slow path
    again = api.Router("acme", releases)  # another process, the same answer
    assert all(again.route(k) == router.route(k) for k in keys[:5000])
    assert bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
               "0.01", cwd=releases).code == 0
    assert router.route(keys[0]) == ("acme-v2" if keys[0] in at_10 else "acme-v1")
    assert router.refresh().fraction == 0.01
    at_1 = {k for k in keys if router.route(k) == "acme-v2"}
    assert abs(len(at_1) / len(keys) - 0.01) < 0.002
    assert at_1 <= at_10  # a key in the canary at 0.01 was in it at 0.1
    assert router.route(42) == router.route("42") and router.route(b"42") == router.route("42")
    with pytest.raises(UsageError, match="a routing key is a str, int or bytes, not float"):
        router.route(4.2)  # type: ignore[arg-type]
    r = bml("route", "--client", "acme", "--json", *keys[:50], cwd=releases)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert [x["tag"] for x in out["routes"]] == [router.route(k) for k in keys[:50]]
    text = bml("route", "--client", "acme", keys[0], cwd=releases).out
    assert text == f"{keys[0]}\t{router.route(keys[0])}\n"


@pytest.mark.parametrize("yaml", [
    "client: acme\nprimary: acme-v1\ncandidate: acme-v2\n",  # a candidate without a share
    "client: acme\nprimary: acme-v1\ncandidate: acme-v2\nfraction: 5\n",
    "client: acme\nprimary: [acme-v1]\n",
    "not: [closed\n",
])
def test_router_refuses_a_hand_made_deploy_ref(releases: Path, yaml: str) -> None:
    """A deploy ref made with plumbing (not `branchml deploy`) that the router cannot trust:
    one sentence, nothing routed."""
    from branchml.errors import StateError

    blob = git("hash-object", "-w", "--stdin", cwd=releases, input=yaml)
    tree = git("mktree", cwd=releases, input=f"100644 blob {blob}\tdeploy.yaml\n")
    git("update-ref", "refs/deploy/acme", git("commit-tree", tree, "-m", "d", cwd=releases),
        cwd=releases)
    with pytest.raises(StateError, match=r"^refs/deploy/acme .*; deploy again with ") as e:
        api.Router("acme", releases)
    assert "\n" not in str(e.value)


# -- 2. monitor compare --------------------------------------------------------------------

def test_forward_test_canary_against_primary(releases: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """deploy acme-v1 with acme-v2 as a canary, log each release's rows, compare."""
    assert bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
               "0.2", cwd=releases).code == 0
    rows = serve(releases, range(5000))
    log_rows(releases, bml, tmp_path, rows, "day.csv")
    r = bml("monitor", "compare", "--client", "acme", "acme-v1", "acme-v2", "--json",
            cwd=releases)
    assert r.code == 0, r.err
    c = json.loads(r.out)
    assert c["a"]["rows"] == len(rows["acme-v1"]) - 1 and c["b"]["rows"] == len(rows["acme-v2"]) - 1
    assert c["a"]["rows"] + c["b"]["rows"] == 5000
    acc = next(m for m in c["metrics"] if m["metric"] == "accuracy")
    assert acc["better"] == "b" and acc["excludes_zero"] and acc["low"] > 0
    assert abs(acc["a"] - 0.7) < 0.03 and abs(acc["b"] - 0.9) < 0.03
    err = next(m for m in c["metrics"] if m["metric"] == "error_rate")
    assert err["better"] == "b" and err["lower_is_better"] and err["high"] < 0
    mae = next(m for m in c["metrics"] if m["metric"] == "mae")
    assert mae["a"] == pytest.approx(err["a"]) and mae["low"] == pytest.approx(err["low"])
    rmse = next(m for m in c["metrics"] if m["metric"] == "rmse")
    assert rmse["a"] == pytest.approx(err["a"] ** 0.5) and rmse["better"] == "b"
    assert c["prediction"]["psi"] is not None and 0 <= c["prediction"]["ks"] <= 1
    text = bml("monitor", "compare", "--client", "acme", "acme-v1", "acme-v2",
               cwd=releases).out
    assert "accuracy on" in text and "acme-v2 is better (higher is better; the interval " \
        "excludes zero)" in text


def test_backtest_keeps_one_percent_on_the_old_release(releases: Path, bml, tmp_path: Path  # type: ignore[no-untyped-def]
                                                       ) -> None:
    assert bml("deploy", "acme-v2", "--client", "acme", cwd=releases).code == 0
    assert bml("deploy", "acme-v2", "--client", "acme", "--canary", "acme-v1", "--fraction",
               "0.01", cwd=releases).code == 0
    rows = serve(releases, range(20_000), seed=3)
    assert 120 < len(rows["acme-v1"]) < 300  # about 1% of 20,000 requests
    log_rows(releases, bml, tmp_path, rows, "day.csv")
    c = api.monitor_compare("acme", "acme-v2", "acme-v1", path=releases)
    acc = next(m for m in c["metrics"] if m["metric"] == "accuracy")
    assert acc["better"] == "a" and acc["high"] < 0  # the old release is worse, and it shows
    text = bml("monitor", "compare", "--client", "acme", "acme-v2", "acme-v1",
               cwd=releases).out
    assert "acme-v2 is better" in text


def test_compare_statistics_are_the_direct_ones(releases: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The streamed figures equal a direct computation over every row."""
    import numpy as np

    assert bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
               "0.3", cwd=releases).code == 0
    rows = serve(releases, range(3000), seed=5)
    log_rows(releases, bml, tmp_path, rows, "day.csv")
    c = api.monitor_compare("acme", "acme-v1", "acme-v2", path=releases)
    pa, pb = (np.array([float(r.rsplit(",", 1)[1]) for r in rows[t][1:]])
              for t in ("acme-v1", "acme-v2"))
    assert c["a"]["mean"] == pytest.approx(pa.mean()) and c["b"]["std"] == pytest.approx(pb.std(ddof=1))
    half = compare.Z95 * np.sqrt(pa.var(ddof=1) / pa.size + pb.var(ddof=1) / pb.size)
    d = pb.mean() - pa.mean()
    assert (c["prediction"]["low"], c["prediction"]["high"]) == (pytest.approx(d - half),
                                                                 pytest.approx(d + half))
    gaps = [abs((pa <= v).mean() - (pb <= v).mean()) for v in np.unique(np.r_[pa, pb])]
    assert c["prediction"]["ks"] == pytest.approx(max(gaps))
    try:
        from scipy.stats import ks_2samp
    except ImportError:
        return
    assert c["prediction"]["ks"] == pytest.approx(ks_2samp(pa, pb).statistic)


def test_compare_refuses_what_it_cannot_compare(releases: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = bml("monitor", "compare", "--client", "acme", "acme-v1", "globex-v1", cwd=releases)
    assert r.code == 2 and "globex-v1 is a release of globex, not of acme; compare two " \
        "releases of acme." in r.err
    r = bml("monitor", "compare", "--client", "acme", "acme-v1", "acme-v1", cwd=releases)
    assert r.code == 2 and "acme-v1 is named twice" in r.err
    r = bml("monitor", "compare", "--client", "acme", "acme-v1", "acme-v2", cwd=releases)
    assert r.code == 2 and "nothing is monitored for acme-v1 (no files under " \
        "monitoring/acme/acme-v1/ on monitoring)" in r.err
    r = bml("monitor", "compare", "--client", "acme", "acme-v1", "acme-v2", "--since", "x",
            cwd=releases)
    assert r.code == 2 and "Traceback" not in r.err


def test_streamed_pieces_against_numpy() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    values = rng.normal(3, 2, 120_001)
    m, res = compare.Moments(), compare.Reservoir(1000, 1, "prediction")
    for chunk in np.array_split(values, 7):
        m.add(chunk)
        res.add(chunk)
    assert (m.n, m.mean, m.var) == (values.size, pytest.approx(values.mean()),
                                    pytest.approx(values.var(ddof=1)))
    assert res.sample().size == 1000
    assert abs(res.sample().mean() - 3) < 0.3  # drawn from the whole stream, not its head


# -- 3. analysis branches take only their client's monitoring data -------------------------

@pytest.mark.parametrize(("branch", "status", "path", "rules"), [
    ("ds/acme", "A", "monitoring/acme/acme-v1/2026-01-01/a.csv", []),
    ("ds/acme", "M", "monitoring/acme/acme-v1/2026-01-01/a.csv", []),
    ("ds/acme", "A", "monitoring/globex/globex-v1/2026-01-01/g.csv", ["other-client"]),
    ("ds/acme", "M", "monitoring/globex/globex-v1/2026-01-01/g.csv", ["other-client"]),
    ("ds/acme", "A", "monitoring/acmex/a.csv", ["other-client"]),  # a prefix is not the folder
    ("ds/acme", "A", "monitoring/loose.csv", ["other-client"]),
    ("ds/acme", "D", "monitoring/globex/globex-v1/2026-01-01/g.csv", []),  # dropping it: fine
    ("ds/acme", "A", "monitoring/checks/mean.py", []),  # config (main's user checks), not data
    ("ds/acme", "A", "data/globex.csv", []),
    ("monitoring", "A", "monitoring/globex/globex-v1/2026-01-01/g.csv", []),
])
def test_other_client_rule(branch: str, status: str, path: str, rules: list[str]) -> None:
    from branchml import config
    from branchml.core.changes import Change, CommitFacts, Growth
    from branchml.core.policy import policy_from_config
    from branchml.core.rules import judge_commit

    policy = policy_from_config(config.load_bytes(None, ""))
    facts = CommitFacts("c0ffee", "s", (Change(status, path, "1" * 40, "2" * 40),))
    found = judge_commit(policy, branch, facts, lambda _: Growth(True))
    assert [v.rule for v in found] == rules


def monitored(repo: Path, bml, tmp_path: Path, client: str, tag: str, name: str) -> None:  # type: ignore[no-untyped-def]
    f = write(tmp_path / client, name, "id,x,prediction\n1,2,0.5\n2,4,0.7\n")
    r = bml("monitor", "log", str(f), "--client", client, "--tag", tag, cwd=repo)
    assert r.code == 0, r.err


def two_clients(released: Path, bml, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """acme-v1 and globex-v1 both monitored; ds/acme started; more rows of both logged."""
    assert bml("tag", "--client", "globex", "--allow-same", cwd=released).code == 0
    monitored(released, bml, tmp_path, "acme", "acme-v1", "a.csv")
    monitored(released, bml, tmp_path, "globex", "globex-v1", "g.csv")
    assert bml("analysis", "start", "acme", cwd=released).code == 0
    monitored(released, bml, tmp_path, "acme", "acme-v1", "a2.csv")
    monitored(released, bml, tmp_path, "globex", "globex-v1", "g2.csv")
    return released


def files_on(repo: Path, rev: str) -> list[str]:
    return git("ls-tree", "-r", "--name-only", rev, cwd=repo).splitlines()


def test_pull_monitoring_takes_only_the_clients_folders(released: Path, bml, tmp_path: Path  # type: ignore[no-untyped-def]
                                                        ) -> None:
    repo = two_clients(released, bml, tmp_path)
    started = files_on(repo, "ds/acme")
    assert not any(p.startswith("monitoring/globex/") for p in started)
    r = bml("pull", "monitoring", "ds/acme", "--dry-run", "--json", cwd=repo)
    assert r.code == 0, r.err
    added = json.loads(r.out)["added"]
    assert [p.rsplit("/", 1)[1] for p in added] == ["a2.csv"]
    assert files_on(repo, "ds/acme") == started
    r = bml("pull", "monitoring", "ds/acme", cwd=repo)
    assert r.code == 0, r.err
    files = files_on(repo, "ds/acme")
    assert any(p.endswith("/a2.csv") for p in files)
    assert not any(p.startswith("monitoring/globex/") for p in files)
    assert bml("check", "--range", "main..ds/acme", "--branch", "ds/acme", cwd=repo).code == 0
    monitored(repo, bml, tmp_path, "globex", "globex-v1", "g3.csv")  # only globex moved
    r = bml("pull", "monitoring", "ds/acme", "--json", cwd=repo)
    assert r.code == 0 and json.loads(r.out)["up_to_date"] is True


def merge_commit(repo: Path, clients: list[str]) -> str:
    """A merge of monitoring into ds/acme made by hand: ds/acme's tree with monitoring/
    replaced by the monitoring branch's folders of `clients`."""
    entries = [ln for ln in git("ls-tree", "monitoring:monitoring", cwd=repo).splitlines()
               if ln.split("\t")[1] in clients]
    mon = git("mktree", cwd=repo, input="\n".join(entries) + "\n")
    top = [ln for ln in git("ls-tree", "ds/acme", cwd=repo).splitlines()
           if ln.split("\t")[1] != "monitoring"] + [f"040000 tree {mon}\tmonitoring"]
    tree = git("mktree", cwd=repo, input="\n".join(top) + "\n")
    return git("commit-tree", tree, "-p", "ds/acme", "-p", "monitoring", "-m",
               "merge monitoring", cwd=repo)


REFUSED = ("monitoring/globex/globex-v1/", "is another client's monitoring data: ds/acme "
           "holds only monitoring/acme/; remove it from the commit")


def test_checker_refuses_another_clients_data_on_ds(released: Path, bml, tmp_path: Path  # type: ignore[no-untyped-def]
                                                    ) -> None:
    repo = two_clients(released, bml, tmp_path)
    attack = merge_commit(repo, ["acme", "globex"])
    r = bml("check", "--range", f"ds/acme..{attack}", "--branch", "ds/acme", cwd=repo)
    assert r.code == 1 and all(s in r.out + r.err for s in REFUSED)
    twin = merge_commit(repo, ["acme"])
    r = bml("check", "--range", f"ds/acme..{twin}", "--branch", "ds/acme", cwd=repo)
    assert r.code == 0, r.out + r.err
    # a plain commit (no merge) of another client's file is refused the same way
    git("checkout", "-q", "ds/acme", cwd=repo)
    write(repo, "monitoring/globex/globex-v1/2026-01-01/x.csv", "id,x,prediction\n1,2,3\n")
    git("add", "monitoring", cwd=repo)
    p = git_proc("commit", "-m", "copy globex", cwd=repo)
    assert p.returncode != 0 and "is another client's monitoring data" in p.stderr
    git("reset", "-q", "--hard", cwd=repo)


def test_plain_git_merge_is_refused_by_the_hook(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """git adds theirs-only files without a merge driver; the pre-merge-commit hook judges
    the result and refuses the merge, pointing at `branchml pull`."""
    repo = two_clients(released, bml, tmp_path)
    git("checkout", "-q", "ds/acme", cwd=repo)
    before = git("rev-parse", "ds/acme", cwd=repo)
    p = git_proc("merge", "--no-edit", "monitoring", cwd=repo)
    assert p.returncode != 0 and all(s in p.stderr for s in REFUSED)
    assert "branchml pull monitoring ds/acme" in p.stderr
    git("merge", "--abort", cwd=repo)
    assert git("rev-parse", "ds/acme", cwd=repo) == before


@pytest.mark.slow
def test_server_refuses_another_clients_data_on_ds(released: Path, bml, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                   installed_server: Path) -> None:
    repo = two_clients(released, bml, tmp_path)
    pushed = git_proc("push", "origin", "monitoring", "ds/acme", cwd=repo)  # LFS objects too
    assert pushed.returncode == 0, pushed.stderr
    before = git("rev-parse", "ds/acme", cwd=installed_server)
    attack = merge_commit(repo, ["acme", "globex"])
    p = git_proc("push", "--no-verify", "origin", f"{attack}:refs/heads/ds/acme", cwd=repo)
    assert p.returncode != 0 and all(s in p.stderr for s in REFUSED)
    assert git("rev-parse", "ds/acme", cwd=installed_server) == before
    twin = merge_commit(repo, ["acme"])
    p = git_proc("push", "--no-verify", "origin", f"{twin}:refs/heads/ds/acme", cwd=repo)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "ds/acme", cwd=installed_server) == twin
