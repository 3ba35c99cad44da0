"""`branchml train` and `branchml reproduce` (issue 21): real git, real git-lfs, a real bare
server for the hand-made tag (docs/reproducibility.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from branchml.core import manifest as core
from tests.conftest import commit, empty_server, git, git_proc, snapshot

# a least-squares fit in plain Python; env vars (set by a test, passed through to the
# re-run) make it noisy, nondeterministic or silent, so one release shows every verdict
TRAIN_PY = """\
import json, os, random
rows = [r.split(",") for r in open("data/d.csv").read().splitlines()[1:] if r]
xs = [float(r[0]) for r in rows]
ys = [float(r[1]) for r in rows]
if os.environ.get("BML_TEST_FAIL"):
    raise SystemExit("SystemExit: bad input")
if os.environ.get("BML_TEST_SILENT"):
    raise SystemExit(0)
n = len(xs)
mx, my = sum(xs) / n, sum(ys) / n
sxx = sum((x - mx) ** 2 for x in xs)
sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
slope = sxy / sxx
if os.environ.get("BML_TEST_RANDOM"):
    slope += random.random()
intercept = my - slope * mx
mse = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys)) / n
mse += float(os.environ.get("BML_TEST_NOISE", "0"))
os.makedirs("models", exist_ok=True)
os.makedirs("tracking", exist_ok=True)
with open("models/model.json", "w") as f:
    json.dump({"slope": slope, "intercept": intercept}, f, sort_keys=True)
with open("tracking/metrics.json", "w") as f:
    json.dump({"mse": mse}, f)
print("trained: slope", slope)
"""

DATA = "x,y\n" + "".join(f"{i},{2 * i + 1 + (i % 3) * 0.5}\n" for i in range(30))
COMMAND = [sys.executable, "src/train.py"]


def _config(repo: Path, extra: str) -> None:
    cfg = git("show", "main:branchml.yaml", cwd=repo)
    commit(repo, {"branchml.yaml": cfg + "\n" + extra}, "train command", branch="main")


def _train_config(command: list[str], tolerance: str = "") -> str:
    text = "train:\n  command: " + json.dumps(command) + "\n"
    return text + (f"reproduce:\n  tolerance: {tolerance}\n" if tolerance else "")


def _setup(project: Path, bml, tolerance: str = "", script: str = TRAIN_PY,  # type: ignore[no-untyped-def]
           command: list[str] = COMMAND) -> Path:
    """main's train.command, `script` promoted onto stable/model with data pulled there,
    stable/model checked out (not yet trained)."""
    _config(project, _train_config(command, tolerance))
    commit(project, {"src/train.py": script}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"data/d.csv": DATA}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=project).code == 0
    git("checkout", "-q", "stable/model", cwd=project)
    return project


def runs(repo: Path) -> list[Path]:
    """The run folders `reproduce` has left under the git folder."""
    base = repo / ".git/branchml/reproduce"
    return sorted(base.iterdir()) if base.is_dir() else []


def _train_and_tag(repo: Path, bml) -> str:  # type: ignore[no-untyped-def]
    r = bml("train", cwd=repo)
    assert r.code == 0, r.err
    assert "commit models/, tracking/ (and mlruns/ when MLflow ran) now" in r.out
    git("add", "models", "tracking", cwd=repo)
    git("commit", "-q", "--no-verify", "-m", "trained", cwd=repo)
    r = bml("tag", "--client", "acme", "--json", cwd=repo)
    assert r.code == 0, r.err
    return str(json.loads(r.out)["tag"])


@pytest.fixture
def released(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """stable/model trained by `branchml train`, committed and tagged acme-v1."""
    _setup(project, bml, "{mse: 0.001}")
    assert _train_and_tag(project, bml) == "acme-v1"
    return project


def test_train_records_environment_and_reproduce_is_identical(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    env = json.loads((released / "tracking/environment.json").read_text())
    assert env["python"] == sys.version.split()[0] and env["implementation"] == "CPython"
    assert ["pytest", __import__("pytest").__version__] in env["packages"]
    m = core.parse(git("tag", "-l", "--format=%(contents)", "acme-v1", cwd=released))
    assert m is not None and m["train"]["command"] == COMMAND
    assert m["train"]["environment"]["packages"] == len(env["packages"])
    before = snapshot(released)
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["verdict"] == "identical", out
    assert out["models"] == {"models/model.json": "identical"}
    assert out["environment"] == [] and out["kept"] is None
    assert "trained: slope" in r.err  # the command's output, on stderr
    assert snapshot(released) == before
    assert not list((released / ".git/branchml/reproduce").iterdir())


def test_reruns_within_tolerance_and_those_that_differ(released: Path, bml,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BML_TEST_NOISE", "0.0001")  # under reproduce.tolerance {mse: 0.001}
    r = bml("reproduce", "acme-v1", cwd=released)
    assert r.code == 0, r.err
    assert r.out.startswith("acme-v1: within tolerance")
    assert "model models/model.json: identical" in r.out and "within tolerance: metric mse" \
        in r.out
    monkeypatch.setenv("BML_TEST_NOISE", "0.01")  # over it
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    out = json.loads(r.out)
    assert r.code == 1 and out["verdict"] == "differs"
    assert any(d.startswith("metric mse") and "(over 0.001)" in d for d in out["differences"])
    monkeypatch.delenv("BML_TEST_NOISE")
    monkeypatch.setenv("BML_TEST_RANDOM", "1")  # a nondeterministic command
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    out = json.loads(r.out)
    assert r.code == 1 and out["verdict"] == "differs"
    assert out["models"] == {"models/model.json": "differs"}
    assert "model models/model.json differs in its bytes" in out["differences"]
    monkeypatch.delenv("BML_TEST_RANDOM")
    monkeypatch.setenv("BML_TEST_SILENT", "1")  # exits 0 and writes nothing
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    out = json.loads(r.out)
    assert r.code == 1 and out["verdict"] == "differs" and out["exit"] == 0
    assert out["models"] == {"models/model.json": "missing"}
    assert "model models/model.json was not written" in out["differences"]
    assert any("tracking/metrics.json was not written" in d for d in out["differences"])
    monkeypatch.delenv("BML_TEST_SILENT")
    monkeypatch.setenv("BML_TEST_FAIL", "1")  # a command that fails: differs, exit 1
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    out = json.loads(r.out)
    assert r.code == 1 and out["exit"] == 1
    assert "the command failed (exit 1): SystemExit: bad input" in out["differences"]
    # every worktree removed again, also after the failure
    assert not list((released / ".git/branchml/reproduce").iterdir())
    assert len(git("worktree", "list", cwd=released).splitlines()) == 1


def test_changed_data_object_is_refused_by_verify(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    pointer = git("cat-file", "-p", "acme-v1^{commit}:data/d.csv", cwd=released)
    oid = next(line.split(":")[1] for line in pointer.splitlines() if line.startswith("oid "))
    obj = released / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid
    obj.chmod(0o644)
    obj.write_text(DATA.replace("0,1", "0,9"))  # same size, other bytes
    r = bml("reproduce", "acme-v1", cwd=released)
    assert r.code == 1 and r.out == ""
    assert "acme-v1 does not verify, so it is not re-run: data/d.csv: its git-lfs object " \
        f"{oid[:12]} does not hash to its id" in r.err
    assert not (released / ".git/branchml/reproduce").exists() \
        or not list((released / ".git/branchml/reproduce").iterdir())


def test_changed_environment_is_named_and_never_changes_the_verdict(released: Path, bml  # type: ignore[no-untyped-def]
                                                                    ) -> None:
    env = json.loads((released / "tracking/environment.json").read_text())
    env["packages"] = [[n, "0.0.1" if n == "pytest" else v] for n, v in env["packages"]]
    env["packages"].append(["left-pad", "1.0"])
    commit(released, {"tracking/environment.json": json.dumps(env)})
    assert bml("tag", "--client", "acme", "--allow-same", cwd=released).code == 0
    assert bml("verify", "acme-v2", cwd=released).code == 0
    r = bml("reproduce", "acme-v2", cwd=released)
    assert r.code == 0, r.err
    assert r.out.startswith("acme-v2: identical")
    assert "Environment differences (listed only; they never change the verdict):" in r.out
    assert f"package pytest 0.0.1 -> {pytest.__version__}" in r.out
    assert "package left-pad 1.0 removed" in r.out


def _hand_made(repo: Path, name: str, command: list[str]) -> None:
    """A release tag made by hand: acme-v1's manifest renamed, carrying `command`."""
    m = core.parse(git("tag", "-l", "--format=%(contents)", "acme-v1", cwd=repo))
    assert m is not None
    m.update(tag=name, n=int(name.rsplit("v", 1)[1]))
    m["train"]["command"] = command
    text = core.render(core.summary(m), m)
    git("tag", "-a", name, "-F", "-", m["commit"], cwd=repo, input=text)


@pytest.mark.slow
def test_foreign_command_refused_by_verify_reproduce_and_server(released: Path, bml,  # type: ignore[no-untyped-def]
                                                                tmp_path: Path) -> None:
    evil = ["sh", "-c", "touch /tmp/pwned-by-manifest"]
    _hand_made(released, "acme-v2", evil)
    r = bml("verify", "acme-v2", cwd=released)
    assert r.code == 1 and "train: its command was never main's train.command" in r.out
    r = bml("reproduce", "acme-v2", cwd=released)
    assert r.code == 1 and "acme-v2 does not verify, so it is not re-run: train: its " \
        "command was never main's train.command" in r.err
    server = empty_server(released, tmp_path)
    assert git_proc("push", "origin", "--all", cwd=released).returncode == 0
    p = git_proc("push", "--no-verify", "origin", "refs/tags/acme-v2", cwd=released)
    assert p.returncode != 0
    assert "release tag acme-v2: its manifest does not verify against its commit: it " \
        "differs in train (its command was never main's train.command)" in p.stderr
    assert git_proc("rev-parse", "-q", "--verify", "refs/tags/acme-v2",
                    cwd=server).returncode != 0
    # the twin: the same hand-made way, with main's own command, is accepted
    git("tag", "-d", "acme-v2", cwd=released)
    _hand_made(released, "acme-v2", COMMAND)
    assert bml("verify", "acme-v2", cwd=released).code == 0
    p = git_proc("push", "--no-verify", "origin", "refs/tags/acme-v2", cwd=released)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "refs/tags/acme-v2", cwd=server) == \
        git("rev-parse", "refs/tags/acme-v2", cwd=released)


def test_command_of_an_earlier_main_config_still_verifies(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=released)
    commit(released, {"branchml.yaml": cfg.replace("src/train.py", "src/train2.py")},
           branch="main")
    assert bml("verify", "acme-v1", cwd=released).code == 0


def test_keep_keeps_the_worktree(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("reproduce", "acme-v1", "--keep", cwd=released)
    assert r.code == 0, r.err
    kept = Path(r.out.split("Kept the worktree at ")[1].split(" (")[0])
    assert (kept / "models/model.json").is_file() and kept.is_relative_to(released / ".git")
    git("worktree", "remove", "--force", str(kept), cwd=released)


def test_bad_inputs_one_sentence_each(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    _setup(project, bml)
    git("checkout", "-q", "main", cwd=project)
    r = bml("train", cwd=project)
    assert r.code == 2 and "train runs in a checkout of a stable/* branch, not main" in r.err
    git("checkout", "-q", "stable/model", cwd=project)
    r = bml("train", "--dry-run", "--json", cwd=project)
    assert r.code == 0 and json.loads(r.out)["dry_run"] is True
    assert not (project / "tracking/environment.json").exists()
    r = bml("reproduce", "acme-v9", cwd=project)
    assert r.code == 2 and "there is no release acme-v9 here" in r.err
    # a release tagged before main had a train.command: nothing to re-run
    cfg = git("show", "main:branchml.yaml", cwd=project).split("\ntrain:")[0]
    commit(project, {"branchml.yaml": cfg + "\n"}, branch="main")
    git("checkout", "-q", "stable/model", cwd=project)
    r = bml("train", cwd=project)
    assert r.code == 2 and "main's branchml.yaml has no train.command" in r.err
    commit(project, {"models/model.json": "{}"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    r = bml("reproduce", "acme-v1", cwd=project)
    assert r.code == 1 and "acme-v1 carries no train.command" in r.err
    m = core.parse(git("tag", "-l", "--format=%(contents)", "acme-v1", cwd=project))
    assert m is not None and "train" not in m  # no command, no environment: no field


def test_training_failure_exits_1_with_its_last_line(project: Path, bml,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(project, bml)
    (project / "data/d.csv").unlink()  # the script cannot read its data
    r = bml("train", cwd=project)
    assert r.code == 1 and "the training command failed (exit 1): FileNotFoundError" in r.err
    assert not (project / "tracking/environment.json").exists()


@pytest.mark.parametrize(("extra", "said"), [
    ("train:\n  command: python train.py\n", "train.command: expected array"),
    ("train:\n  command: []\n", "train.command: must not be empty"),
    ("reproduce:\n  tolerance: -1\n", "reproduce.tolerance: -1 is less than the minimum"),
    ("reproduce:\n  tolerance: {mse: fast}\n", "reproduce.tolerance.mse: expected number"),
])
def test_config_validate_refuses_bad_train_and_tolerance(project: Path, bml, extra: str,  # type: ignore[no-untyped-def]
                                                         said: str) -> None:
    cfg = project / "branchml.yaml"
    cfg.write_text(cfg.read_text() + "\n" + extra)
    r = bml("config", "validate", str(cfg), cwd=project)
    assert r.code == 2 and said in r.err, r.err


def test_a_manifest_without_train_still_verifies(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A release from before the field (its commit holding an environment record all the
    same) verifies unchanged; with no command there is nothing to re-run."""
    m = core.parse(git("tag", "-l", "--format=%(contents)", "acme-v1", cwd=released))
    assert m is not None
    del m["train"]
    m.update(tag="acme-v2", n=2)
    git("tag", "-a", "acme-v2", "-F", "-", m["commit"], cwd=released,
        input=core.render(core.summary(m), m))
    assert bml("verify", "acme-v2", cwd=released).code == 0
    r = bml("reproduce", "acme-v2", cwd=released)
    assert r.code == 1 and "acme-v2 carries no train.command" in r.err


def test_tag_warns_when_no_environment_was_recorded(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    _setup(project, bml)
    commit(project, {"models/model.json": "{}", "tracking/metrics.json": '{"mse": 1}'})
    r = bml("tag", "--client", "acme", cwd=project)
    assert r.code == 0, r.err
    assert "has no tracking/environment.json: `branchml reproduce` cannot compare " \
        "environments for this release" in r.err
    m = core.parse(git("tag", "-l", "--format=%(contents)", "acme-v1", cwd=project))
    assert m is not None and m["train"] == {"command": COMMAND, "environment": None}
    assert bml("verify", "acme-v1", cwd=project).code == 0
