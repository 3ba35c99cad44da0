"""Real git, real git-lfs, real repositories in tmp dirs; HOME isolated for every test."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from branchml.cli.main import main

BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One HOME for the session: libgit2 reads the global config path once per process.
    h = tmp_path_factory.mktemp("home")
    (h / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    return h


@pytest.fixture(autouse=True)
def isolated(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_GLOBAL"):
        monkeypatch.delenv(var, raising=False)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def bml(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the CLI in this process, in `cwd`, and capture what it prints."""

    def run(*args: str, cwd: Path | None = None) -> Result:
        capsys.readouterr()
        with monkeypatch.context() as m:
            if cwd is not None:
                m.chdir(cwd)
            code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def git(*args: str, cwd: Path, check: bool = True, input: str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout.strip()


def git_proc(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input)


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def snapshot(repo: Path) -> dict[str, str]:
    """Every ref, the hooks, the config and the worktree status: 'repo unchanged' means equal."""
    refs = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo, check=False)
    hooks_dir = repo / ".git" / "hooks"
    hooks = sorted(p.name for p in hooks_dir.iterdir()) if hooks_dir.is_dir() else []
    cfg = (repo / ".git" / "config").read_text() if (repo / ".git" / "config").exists() else ""
    status = git("status", "--porcelain", cwd=repo, check=False)
    return {"refs": refs, "hooks": " ".join(hooks), "config": cfg, "status": status}


@pytest.fixture
def project(tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """A repository made by `branchml init` (hooks and git-lfs installed)."""
    repo = tmp_path / "proj"
    r = bml("init", str(repo))
    assert r.code == 0, r.err
    return repo


def empty_server(project: Path, tmp_path: Path) -> Path:
    """An empty bare repository with `branchml install` in it (pre-receive, fsck), added as
    the project's `origin`."""
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    done = subprocess.run([f"{BIN}/branchml", "install"], cwd=bare, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    git("remote", "add", "origin", str(bare), cwd=project)
    return bare


@pytest.fixture
def installed_server(project: Path, tmp_path: Path) -> Path:
    """A bare server made the documented way (`git init --bare`, `branchml install` in it:
    the pre-receive hook, receive.fsckObjects), then the whole project pushed to it as
    `origin` (its first push, judged like any other)."""
    bare = empty_server(project, tmp_path)
    pushed = git_proc("push", "origin", "--all", cwd=project)
    assert pushed.returncode == 0, pushed.stderr
    return bare


@pytest.fixture
def plain_project(tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """A repository made by `branchml init --no-lfs --no-hooks` (checker driven directly)."""
    repo = tmp_path / "plain"
    r = bml("init", str(repo), "--no-lfs", "--no-hooks")
    assert r.code == 0, r.err
    return repo


def commit(repo: Path, files: dict[str, str | bytes | None], msg: str = "change",
           branch: str | None = None, verify: bool = False) -> str:
    if branch is not None:
        git("checkout", "-q", branch, cwd=repo)
    for rel, content in files.items():
        if content is None:
            git("rm", "-q", rel, cwd=repo)
        else:
            write(repo, rel, content)
            git("add", rel, cwd=repo)
    git("commit", "-q", "-m", msg, *([] if verify else ["--no-verify"]), cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


# -- real git + LFS servers over HTTP on 127.0.0.1 (tests/servers.py, docs/teams.md) -------------
def _http_server(base: Path):  # type: ignore[no-untyped-def]
    from tests.servers import HttpGitServer, missing

    reason = missing()
    if reason is not None:
        pytest.skip(reason)  # never silent: the reason says what is missing and `make servers`
    server = HttpGitServer(base)
    try:
        server.start()
    except BaseException:
        server.stop()  # what did start is not left running until the session ends
        raise
    return server


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """nginx + git http-backend + giftless for the whole session (one per xdist worker).
    `server.bare(name)` gives a new repository and its URL; tests that change the auth mode
    or kill a server take `fresh_http_server`."""
    server = _http_server(tmp_path_factory.mktemp("http-server"))
    yield server
    server.stop()


@pytest.fixture
def fresh_http_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A server of this test's own, to kill, restart or refuse LFS requests."""
    server = _http_server(tmp_path / "http-server")
    yield server
    server.stop()


# -- issue 18: a split pulled to stable (leakage guard), a release (lineage) ------------

SPLIT_ROWS = 40


@pytest.fixture
def trained(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """raw -> clean -> split (keyed by id), code promoted, split pulled into stable/model,
    which is checked out: where a training job runs."""
    rows = "".join(f"{i},{i * 2}\n" for i in range(SPLIT_ROWS))
    return split_into_stable(project, bml, "id,x\n" + rows)


def split_into_stable(project: Path, bml, csv: str) -> Path:  # type: ignore[no-untyped-def]
    """data/d.csv on raw, pulled to clean and split, split by `id`, code promoted, split
    pulled into stable/model, which is checked out."""
    commit(project, {"data/d.csv": csv}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", src, dst, cwd=project).code == 0
    assert bml("split", "--key", "id", cwd=project).code == 0
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    assert bml("pull", "split", "stable/model", cwd=project).code == 0
    git("checkout", "-q", "stable/model", cwd=project)
    return project


def release_for_monitoring(repo: Path, bml, train_csv: str,  # type: ignore[no-untyped-def]
                           monitor: str = "  target: label") -> Path:
    """`monitor` in place of main's `  target: null` line (`monitor.target: label` by default),
    `train_csv` as data/train.csv on raw pulled into stable/model, a model committed there and
    tagged acme-v1; main checked out."""
    if monitor != "  target: null":
        cfg = git("show", "main:branchml.yaml", cwd=repo).replace("  target: null", monitor)
        commit(repo, {"branchml.yaml": cfg + "\n"}, branch="main")
    commit(repo, {"data/train.csv": train_csv}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/m.pkl": "w"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    git("checkout", "-q", "main", cwd=repo)
    return repo


@pytest.fixture
def released(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """raw -> clean -> split -> stable/model, a model trained there, tagged acme-v1."""
    commit(project, {"data/d.csv": "id,x\n1,2\n2,4\n"}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", src, dst, cwd=project).code == 0
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    assert bml("pull", "split", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.pkl": "w1"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    return project


@pytest.fixture
def stable(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """dev code promoted, raw data pulled, a model trained on stable/model."""
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"data/d.csv": "a\n1\n"}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}',
                     "tracking/params.json": '{"lr": 0.1}'}, branch="stable/model")
    return project


# -- repositories built once per module and copied for each test (issue 20, test time) --------
Bml = Callable[..., Result]


def build_once(factory: pytest.TempPathFactory, home: Path, name: str,
               build: Callable[[Path, Bml], object]) -> Path:
    """`build(root, bml)` run once in a folder of its own, in the environment `isolated`
    gives every test (a module-scoped fixture is set up before the autouse one runs).
    Tests take a copy (`copy_built`): a prepared repository copies in a fraction of the
    seconds its branchml commands take to build it."""
    root = factory.mktemp(name)

    def run(*args: str, cwd: Path | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as m, redirect_stdout(out), redirect_stderr(err):
            if cwd is not None:
                m.chdir(cwd)
            code = main(list(args))
        return Result(code, out.getvalue(), err.getvalue())

    with pytest.MonkeyPatch.context() as m:
        m.setenv("HOME", str(home))
        m.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        m.setenv("GIT_CONFIG_NOSYSTEM", "1")
        m.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])
        for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_GLOBAL"):
            m.delenv(var, raising=False)
        build(root, run)
    return root


def copy_built(template: Path, dest: Path) -> None:
    """Every folder of `template` copied into `dest`; the absolute paths its files hold (a
    remote's URL in git's config, hook paths in branchml's operation log) rewritten to name
    the copy, so nothing points back at the template."""
    for child in template.iterdir():
        shutil.copytree(child, dest / child.name, symlinks=True)
    old, new = f"{template}{os.sep}".encode(), f"{dest}{os.sep}".encode()
    for path in dest.rglob("*"):
        if "objects" in path.parts or path.is_symlink() or not path.is_file():
            continue  # git's objects name no path; the rest is a few small files
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))
    for repo in dest.glob("*/.git"):
        # the copies' inodes and ctimes differ from what the index recorded: refreshed, so a
        # plumbing diff that does not refresh sees the clean tree a fresh build has
        git("update-index", "-q", "--refresh", cwd=repo.parent, check=False)


def served(root: Path, bml: Bml) -> Path:
    """What the `project` and `installed_server` fixtures make, under `root` (for
    `build_once`): `root/proj` made by `branchml init`, pushed whole to `root/server.git`
    (its `origin`, with `branchml install`)."""
    project = root / "proj"
    r = bml("init", str(project))
    assert r.code == 0, r.err
    empty_server(project, root)
    pushed = git_proc("push", "origin", "--all", cwd=project)
    assert pushed.returncode == 0, pushed.stderr
    return project


def inited(root: Path, bml: Bml) -> Path:
    """What the `project` fixture makes, under `root` (for `build_once`)."""
    project = root / "proj"
    r = bml("init", str(project))
    assert r.code == 0, r.err
    return project


@pytest.fixture(scope="session")
def inited_template(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Path:
    return build_once(tmp_path_factory, home, "inited", inited)


@pytest.fixture(scope="session")
def served_template(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Path:
    return build_once(tmp_path_factory, home, "served", served)


def copied_project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """For a test file's own `project` fixture: a copy of `branchml init`'s project at
    `tmp_path/proj`, with its server at `tmp_path/server.git` when the test takes
    `installed_server` (which then returns that path). Equal to what the conftest fixtures
    build, in ~10 ms instead of seconds."""
    wanted = "served_template" if "installed_server" in request.fixturenames else \
        "inited_template"
    copy_built(request.getfixturevalue(wanted), tmp_path)
    return tmp_path / "proj"


def copied_fixtures(server: bool = False) -> Any:
    """A test file's `project` fixture as a copy of `copied_project` (and, with `server`, its
    `installed_server`: the served origin the copy brings): `project = copied_fixtures()` or
    `project, installed_server = copied_fixtures(server=True)` at the file's top level."""

    @pytest.fixture(name="project")
    def _project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
        # `branchml init` (and the served origin) cost seconds per test: copied from one build
        return copied_project(request, tmp_path)

    @pytest.fixture(name="installed_server")
    def _server(project: Path, tmp_path: Path) -> Path:
        return tmp_path / "server.git"

    return (_project, _server) if server else _project
