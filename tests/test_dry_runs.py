"""Issue 18: `--dry-run` prints the plan and writes nothing. Every write command is run with
--dry-run on a project where it has something to do; its git objects (loose and packed), its
git-lfs objects, its refs, hooks, config and working tree are the same afterwards, and
`git fsck` finds nothing. Then the same command without --dry-run must write (so each case
really had work to do)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import commit, git, git_proc, snapshot


def _store(repo: Path) -> dict[str, object]:
    """What a write would leave: every file under .git/objects (loose objects, packs,
    info/) and under .git/lfs/objects, with the size of each, and the repository's refs,
    hooks, config and status."""
    files = {}
    for sub in ("objects", "lfs/objects"):
        root = repo / ".git" / sub
        for p in sorted(root.rglob("*")) if root.is_dir() else []:
            if p.is_file():
                files[str(p.relative_to(repo / ".git"))] = p.stat().st_size
    return {"files": files, **snapshot(repo)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project in the middle of the loop, where every write command has work to do:
    raw data not yet pulled, a split with new items, dev code not yet promoted, a trained
    stable/model not yet tracked, two releases of acme deployed in turn, an empty origin."""
    from tests.conftest import BIN

    base = tmp_path_factory.mktemp("dry")
    repo = base / "proj"

    def run(*args: str) -> None:
        done = git_proc("version", cwd=base)  # git is here; branchml runs as the user would
        assert done.returncode == 0
        import subprocess

        r = subprocess.run([f"{BIN}/branchml", *args], cwd=repo if repo.exists() else base,
                           capture_output=True, text=True)
        assert r.returncode == 0, (args, r.stdout, r.stderr)

    run("init", str(repo))
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    run("promote", "dev/model", "stable/model")
    commit(repo, {"data/d.csv": "id,x\n1,a\n2,b\n"}, branch="raw")
    run("pull", "raw", "clean")
    run("pull", "clean", "split")
    run("split", "--key", "id")
    run("pull", "split", "stable/model")
    commit(repo, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")
    run("tag", "--client", "acme")
    commit(repo, {"models/model.pkl": "w2", "tracking/metrics.json": '{"acc": 0.95}'},
           branch="stable/model")
    run("tag", "--client", "acme")
    run("deploy", "acme-v1", "--client", "acme")
    run("deploy", "acme-v2", "--client", "acme")
    # work for the dry runs: new raw rows, new split items, new dev code
    commit(repo, {"data/d.csv": "id,x\n1,a\n2,b\n3,c\n"}, branch="raw")
    commit(repo, {"data/e.csv": "id,x\n7,g\n8,h\n"}, branch="split")
    commit(repo, {"src/train.py": "print('train v2')\n"}, branch="dev/model")
    git("checkout", "-q", "main", cwd=repo)
    bare = base / "server.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=base)
    git("remote", "add", "origin", str(bare), cwd=repo)
    (base / "prod.csv").write_text("id,x\n9,z\n")
    git("gc", "-q", cwd=repo)  # packs and loose objects both present below: all of it counted
    commit(repo, {"docs/notes.md": "# notes\n"}, branch="main")
    return repo


CASES = {
    "pull": ["pull", "raw", "clean"],
    "merge": ["merge", "raw", "--into", "clean"],
    "split": ["split"],
    "promote": ["promote", "dev/model", "stable/model"],
    "track": ["track", "stable/model"],
    "tag": ["tag", "--client", "acme", "--allow-same"],
    "deploy": ["deploy", "acme-v1", "--client", "acme"],
    "rollback": ["rollback", "--client", "acme"],
    "branch create": ["branch", "create", "dev/other"],
    "monitor log": ["monitor", "log", "{base}/prod.csv", "--client", "acme", "--tag", "acme-v2"],
    "analysis start": ["analysis", "start", "acme"],
    "split rows": ["split", "rows", "train", "-o", "{base}/train.csv", "--for", "train"],
    "push": ["push"],
    "sync": ["sync"],
    "init": ["init", ".", "--model", "churn"],
    "upgrade": ["upgrade"],
    "install": ["install", "--ci", "github"],
}

# nothing for the twin to do here (a repository made by this branchml has nothing to upgrade;
# an empty origin has nothing to sync): their dry runs are still judged
NOTHING_TO_DO = {"upgrade", "sync"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_dry_run_writes_nothing(built: Path, tmp_path: Path, bml, name: str) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "proj"
    shutil.copytree(built, repo, symlinks=True)
    (tmp_path / "prod.csv").write_text((built.parent / "prod.csv").read_text())
    git("remote", "set-url", "origin", str(built.parent / "server.git"), cwd=repo)
    args = [a.format(base=tmp_path) for a in CASES[name]]
    before = _store(repo)
    r = bml(*args, "--dry-run", cwd=repo)
    assert r.code == 0, r.err
    after = _store(repo)
    assert after == before, f"`branchml {name} --dry-run` wrote: " + ", ".join(
        sorted(set(after["files"]) ^ set(before["files"])))  # type: ignore[arg-type]
    fsck = git_proc("fsck", "--no-progress", "--no-dangling", cwd=repo)
    assert fsck.returncode == 0 and fsck.stdout == "", fsck.stdout + fsck.stderr
    assert not (tmp_path / "train.csv").exists()
    if name == "push":  # the remote is empty after a dry push
        assert git("for-each-ref", cwd=built.parent / "server.git") == ""
    if name in NOTHING_TO_DO:
        return
    real = bml(*args, cwd=repo)  # the twin: the same command without --dry-run writes
    assert real.code == 0, real.err
    assert _store(repo) != before


@pytest.mark.slow
def test_dry_run_of_a_big_validated_pull_writes_nothing(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Without git-lfs: a big plain CSV merged three ways (its result goes straight into the
    object store, repo/looseobj.py), `--validate` committing its report, the branch checked
    out. The dry run writes nothing and says what the real run then does."""
    repo = plain_project
    rows = "".join(f"{i},v{i}\n" for i in range(20000))  # ~200 KB: a plain blob, not a pointer
    commit(repo, {"data/big.csv": "id,v\n" + rows}, branch="raw")
    assert bml("pull", "raw", "clean", cwd=repo).code == 0
    commit(repo, {"data/big.csv": "id,v\n" + rows + "20000,a\n21000,b,extra\n",
                  "data/e.jsonl": '{"id": 1}\n{"id": \n'}, branch="raw")
    commit(repo, {"data/big.csv": "id,v\n" + rows + "30000,c\n"}, branch="clean")
    before = _store(repo)
    dry = bml("pull", "raw", "clean", "--validate", "--json", "--dry-run", cwd=repo)
    assert dry.code == 0, dry.err
    assert _store(repo) == before
    fsck = git_proc("fsck", "--no-progress", "--no-dangling", cwd=repo)
    assert fsck.returncode == 0 and fsck.stdout == "", fsck.stdout + fsck.stderr
    real = bml("pull", "raw", "clean", "--validate", "--json", cwd=repo)
    assert real.code == 0, real.err
    said, done = json.loads(dry.out), json.loads(real.out)
    assert said["dry_run"] and not done["dry_run"]
    for key in ("added", "validation", "validation_path", "appended_by_format"):
        assert said[key] == done[key], key
    assert "data/big.csv" in done["validation"]["dropped"]  # the bad row was dropped
    assert git("rev-parse", "clean", cwd=repo).strip() == done["commit"]
