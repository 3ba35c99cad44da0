"""End to end over real servers on 127.0.0.1: nginx + git http-backend + giftless
(tests/servers.py). Two clones stand for two users of one branchml project whose server runs
branchml's pre-receive hook (`branchml install` in the bare repository)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, commit, git, git_proc
from tests.servers import HttpGitServer, group_members

pytestmark = pytest.mark.slow

# git-lfs's filters for one clone, set before its checkout (never in the shared test HOME)
LFS_CLONE = ("-c", "filter.lfs.clean=git-lfs clean -- %f",
             "-c", "filter.lfs.smudge=git-lfs smudge -- %f",
             "-c", "filter.lfs.process=git-lfs filter-process", "-c", "filter.lfs.required=true")
TYPED = ("raw", "clean", "split", "dev/model", "stable/model", "monitoring")


@pytest.fixture(autouse=True)
def no_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    # a 401 must fail, not wait for a password on a terminal
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")


@dataclass
class Team:
    """One project on an HTTP server with the pre-receive hook, and two users' clones."""

    server: HttpGitServer
    name: str
    bare: Path
    url: str
    a: Path
    b: Path

    def refs(self) -> str:
        return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.bare)


def branchml(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([f"{BIN}/branchml", *args], cwd=cwd, capture_output=True, text=True)


def clone(url: str, dest: Path, who: str) -> Path:
    """What a second user does with plain git: clone, install branchml's hooks, and a local
    branch for each typed branch."""
    p = git_proc("clone", "-q", *LFS_CLONE, url, str(dest), cwd=dest.parent)
    assert p.returncode == 0, p.stderr
    done = branchml("install", cwd=dest)
    assert done.returncode == 0, done.stderr
    for name in TYPED:
        git("branch", "-q", "--track", name, f"origin/{name}", cwd=dest)
    git("config", "user.name", who, cwd=dest)
    return dest


def serve(server: HttpGitServer, project: Path, tmp_path: Path) -> Team:
    name = tmp_path.name
    bare, url = server.bare(name)
    done = branchml("install", cwd=bare)
    assert done.returncode == 0, done.stderr
    git("remote", "add", "origin", url, cwd=project)
    p = git_proc("push", "origin", "--all", cwd=project)
    assert p.returncode == 0, p.stderr
    git("config", "user.name", "Person A", cwd=project)
    return Team(server, name, bare, url, project, clone(url, tmp_path / "b", "Person B"))


@pytest.fixture
def team(http_server: HttpGitServer, project: Path, tmp_path: Path) -> Team:
    return serve(http_server, project, tmp_path)


@pytest.fixture
def fresh_team(fresh_http_server: HttpGitServer, project: Path, tmp_path: Path) -> Team:
    return serve(fresh_http_server, project, tmp_path)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def lfs_oid(repo: Path, rel: str) -> str:
    pointer = git("show", f"HEAD:{rel}", cwd=repo)
    assert pointer.startswith("version https://git-lfs"), f"{rel} is not an LFS pointer"
    return pointer.split("oid sha256:")[1].split()[0]


def test_smoke_lfs_push_and_clone_over_http(http_server: HttpGitServer, tmp_path: Path) -> None:
    _, url = http_server.bare("smoke")
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    git("lfs", "install", "--local", cwd=work)
    git("lfs", "track", "*.bin", cwd=work)
    payload = os.urandom(1_000_000)
    (work / "model.bin").write_bytes(payload)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "model", cwd=work)
    git("push", "-q", url, "main", cwd=work)
    assert http_server.lfs_objects("smoke") == [lfs_oid(work, "model.bin")]
    dest = tmp_path / "clone"
    p = git_proc("clone", "-q", *LFS_CLONE, url, str(dest), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (dest / "model.bin").read_bytes() == payload


def test_servers_restart_on_their_ports_and_stop_whole(fresh_http_server: HttpGitServer,
                                                      tmp_path: Path) -> None:
    """What the kill tests rely on: a killed server is really gone (connection refused, not a
    hang), `start()` brings back what is down on the same ports within 2 s, and `stop()`
    leaves no process of any of the three groups behind."""
    server = fresh_http_server
    _, url = server.bare("life")
    ports = (server.port, server.fcgi_port, server.lfs_port)
    server.kill_web()
    server.kill_lfs()
    assert server.alive() == set()
    p = git_proc("ls-remote", url, cwd=tmp_path)
    assert p.returncode != 0 and "Failed to connect" in p.stderr
    started = time.monotonic()
    server.start()
    assert time.monotonic() - started < 2
    assert (server.port, server.fcgi_port, server.lfs_port) == ports
    assert server.alive() == {"web", "fcgi", "lfs"}
    assert git_proc("ls-remote", url, cwd=tmp_path).returncode == 0
    groups = [proc.pid for proc in server.procs.values()]
    server.stop()
    assert [group_members(pgid) for pgid in groups] == [[], [], []]


def test_two_users_share_data_and_models_through_lfs(team: Team) -> None:
    """A pushes raw data and a model; B fetches and reads the same bytes through LFS; B
    appends to the data and A reads that back. The server judged every push."""
    rows = "id,x\n" + "".join(f"{i},{i * i}\n" for i in range(20_000))
    commit(team.a, {"data/new.csv": rows}, msg="new raw data", branch="raw")
    weights = os.urandom(2_000_000)
    commit(team.a, {"models/model.bin": weights, "tracking/metrics.json": '{"acc": 0.9}'},
           msg="model", branch="stable/model")
    p = git_proc("push", "origin", "raw", "stable/model", cwd=team.a)
    assert p.returncode == 0, p.stderr
    assert lfs_oid(team.a, "models/model.bin") in team.server.lfs_objects(team.name)

    git("fetch", "-q", "origin", cwd=team.b)
    git("checkout", "-q", "raw", cwd=team.b)
    git("merge", "-q", "--ff-only", "origin/raw", cwd=team.b)
    assert (team.b / "data/new.csv").read_text() == rows
    git("checkout", "-q", "stable/model", cwd=team.b)
    git("merge", "-q", "--ff-only", "origin/stable/model", cwd=team.b)
    assert (team.b / "models/model.bin").read_bytes() == weights

    commit(team.b, {"data/new.csv": rows + "20000,400000000\n"}, msg="one more row",
           branch="raw")
    p = git_proc("push", "origin", "raw", cwd=team.b)
    assert p.returncode == 0, p.stderr
    git("checkout", "-q", "raw", cwd=team.a)
    git("pull", "-q", "--ff-only", "origin", "raw", cwd=team.a)
    assert (team.a / "data/new.csv").read_text().endswith("20000,400000000\n")
    assert git("rev-parse", "raw", cwd=team.a) == git("rev-parse", "raw", cwd=team.bare)


def test_a_200_mb_model_pushed_by_one_user_and_pulled_by_the_other(team: Team) -> None:
    git("checkout", "-q", "stable/model", cwd=team.a)
    weights = team.a / "models" / "big.bin"
    weights.parent.mkdir(exist_ok=True)
    with weights.open("wb") as f:  # random: nothing along the way can compress it
        for _ in range(200):
            f.write(os.urandom(1 << 20))
    digest = sha256(weights)
    git("add", "models/big.bin", cwd=team.a)
    commit(team.a, {"tracking/metrics.json": '{"acc": 0.91}'}, msg="200 MB model")
    assert lfs_oid(team.a, "models/big.bin") == digest
    p = git_proc("push", "origin", "stable/model", cwd=team.a)
    assert p.returncode == 0, p.stderr
    assert digest in team.server.lfs_objects(team.name)

    git("checkout", "-q", "stable/model", cwd=team.b)
    p = git_proc("pull", "-q", "--ff-only", "origin", "stable/model", cwd=team.b)
    assert p.returncode == 0, p.stderr
    assert sha256(team.b / "models" / "big.bin") == digest


def test_concurrent_tag_push_from_two_users_mints_two_numbers(team: Team) -> None:
    """Both users run `branchml tag --client acme --push` at once on the same stable commit:
    one gets acme-v1; the other a clean refusal: the lost race (exit 3), or, when it read the
    remote after the winner pushed, that acme-v1 already releases this snapshot (exit 1). Its
    rerun says the latter (never a second release of the same snapshot by accident); with
    --allow-same it gets acme-v2. The server holds both tags, each made by its own user."""
    commit(team.a, {"models/model.bin": os.urandom(100_000), "tracking/metrics.json": "{}"},
           msg="model", branch="stable/model")
    assert git_proc("push", "origin", "stable/model", cwd=team.a).returncode == 0
    git("checkout", "-q", "stable/model", cwd=team.b)
    git("pull", "-q", "--ff-only", "origin", "stable/model", cwd=team.b)
    argv = [f"{BIN}/branchml", "tag", "--client", "acme", "--push"]
    procs = [subprocess.Popen(argv, cwd=c, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for c in (team.a, team.b)]
    results = [(p.wait(), *p.communicate()) for p in procs]
    print("concurrent tag --push:", [(code, err.strip()) for code, _, err in results])
    for (code, _, err), user in zip(results, (team.a, team.b), strict=True):
        if code != 0:
            assert (code == 3 and "could not be pushed" in err) or \
                (code == 1 and "acme-v1 already releases this exact" in err), err
            assert "Traceback" not in err and git("tag", cwd=user) == ""
            again = branchml("tag", "--client", "acme", "--push", cwd=user)
            assert again.returncode == 1 and "acme-v1 already releases" in again.stderr
            again = branchml("tag", "--client", "acme", "--push", "--allow-same", cwd=user)
            assert again.returncode == 0, again.stderr
    assert git("tag", cwd=team.bare).splitlines() == ["acme-v1", "acme-v2"]
    stable = git("rev-parse", "stable/model", cwd=team.bare)
    taggers = set()
    for tag in ("acme-v1", "acme-v2"):
        assert git("rev-parse", f"{tag}^{{commit}}", cwd=team.bare) == stable
        taggers.add(git("for-each-ref", "--format=%(taggername)", f"refs/tags/{tag}",
                        cwd=team.bare))
    assert taggers == {"Person A", "Person B"}


def tree_with(repo: Path, tree: str | None, path: str, blob: str) -> str:
    """`tree` with `path` set to `blob`, made with `git mktree` only (no index, no hook)."""
    head, _, rest = path.partition("/")
    entries, sub = [], None
    for line in (git("ls-tree", tree, cwd=repo).splitlines() if tree else []):
        meta, name = line.split("\t", 1)
        if name == head:
            sub = meta.split()[2]
        else:
            entries.append(line)
    if rest:
        entries.append(f"040000 tree {tree_with(repo, sub, rest, blob)}\t{head}")
    else:
        entries.append(f"100644 blob {blob}\t{head}")
    return git("mktree", cwd=repo, input="\n".join(entries) + "\n")


def handmade(repo: Path, parent: str, path: str, content: str) -> str:
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=content)
    tree = tree_with(repo, git("rev-parse", f"{parent}^{{tree}}", cwd=repo), path, blob)
    return git("commit-tree", tree, "-p", parent, "-m", f"add {path}", cwd=repo)


def test_server_refuses_code_on_raw_even_with_no_verify(team: Team) -> None:
    before = team.refs()
    evil = handmade(team.a, "raw", "src/evil.py", "import os\nos.system('id')\n")
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/raw", cwd=team.a)
    assert p.returncode != 0
    assert "remote: branchml: push rejected: 1 violation" in p.stderr
    assert "code does not belong on raw" in p.stderr and "src/evil.py" in p.stderr
    assert "Traceback" not in p.stderr
    assert team.refs() == before
    # the legitimate twin, made and pushed the same way: docs may change on raw
    good = handmade(team.a, "raw", "docs/handmade.md", "# notes\n")
    p = git_proc("push", "--no-verify", "origin", f"{good}:refs/heads/raw", cwd=team.a)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "raw", cwd=team.bare) == good


def big_model(repo: Path, mib: int) -> str:
    """A `mib` MiB random model committed on stable/model (not pushed); its oid."""
    git("checkout", "-q", "stable/model", cwd=repo)
    weights = repo / "models" / "big.bin"
    weights.parent.mkdir(exist_ok=True)
    with weights.open("wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    git("add", "models/big.bin", cwd=repo)
    commit(repo, {"tracking/metrics.json": '{"acc": 0.92}'}, msg="big model")
    return lfs_oid(repo, "models/big.bin")


def wait_until(found, what: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.005)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def stored(team: Team, oid: str) -> Path:
    return team.bare / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def partly_uploaded(team: Team, oid: str) -> int:
    path = stored(team, oid)
    return path.stat().st_size if path.is_file() else 0


@pytest.mark.parametrize("killed", ["web", "lfs"])
def test_server_killed_during_the_lfs_upload_moves_no_ref(fresh_team: Team, killed: str) -> None:
    """The web server (nginx + git http-backend), or only the LFS server, is killed while a
    150 MiB model is being uploaded: the push fails, no ref moved on the server; after a
    restart the same push succeeds and the server holds the whole object."""
    size = 150 << 20
    oid = big_model(fresh_team.a, 150)
    before = fresh_team.refs()
    push = subprocess.Popen(["git", "push", "origin", "stable/model"], cwd=fresh_team.a,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: partly_uploaded(fresh_team, oid) > 0, "the upload")
    started = time.monotonic()
    if killed == "web":
        fresh_team.server.kill_web()
    else:
        fresh_team.server.kill_lfs()
    at_kill = partly_uploaded(fresh_team, oid)
    _, err = push.communicate(timeout=300)
    print(f"{killed} killed at {at_kill} of {size} bytes: push exit {push.returncode} after "
          f"{time.monotonic() - started:.1f} s:\n{err.strip()}")
    assert push.returncode != 0
    assert 0 < at_kill < size, "the kill came after the upload: nothing was tested"
    assert fresh_team.refs() == before

    fresh_team.server.start()
    p = git_proc("push", "origin", "stable/model", cwd=fresh_team.a)
    assert p.returncode == 0, p.stderr
    assert sha256(stored(fresh_team, oid)) == oid
    assert git("rev-parse", "stable/model", cwd=fresh_team.bare) == \
        git("rev-parse", "stable/model", cwd=fresh_team.a)


def receiving(team: Team) -> bool:
    """git receive-pack is writing the pushed objects into its quarantine folder."""
    return any(f.is_file() and f.name.startswith("tmp_") and f.stat().st_size > 0
               for f in (team.bare / "objects").glob("tmp_objdir-incoming-*/**/*"))


def test_web_server_killed_while_receive_pack_works_moves_no_ref(fresh_team: Team) -> None:
    """nginx and git http-backend, with the git receive-pack they started, are killed while
    receive-pack writes a 32 MiB push: no ref moves, not even seconds later (no orphan is left
    to finish the push); after a restart the same push succeeds."""
    commit(fresh_team.a, {"src/blob.py": os.urandom(32 << 20)}, msg="big code",
           branch="dev/model")
    before = fresh_team.refs()
    # stored, not deflated: the client sends at once instead of compressing for seconds
    push = subprocess.Popen(["git", "-c", "pack.compression=0", "push", "origin", "dev/model"],
                            cwd=fresh_team.a, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_until(lambda: receiving(fresh_team) or push.poll() is not None, "receive-pack")
    fresh_team.server.kill_web()
    _, err = push.communicate(timeout=300)
    print(f"web killed in receive-pack: push exit {push.returncode}: {err.strip()[-300:]}")
    assert push.returncode != 0, "the push ended before the kill: nothing was tested"
    time.sleep(2)  # an orphaned receive-pack would move the ref about now
    print("left behind:", [p.name for p in (fresh_team.bare / "objects").glob("tmp_objdir*")])
    assert fresh_team.refs() == before

    fresh_team.server.start()
    p = git_proc("push", "origin", "dev/model", cwd=fresh_team.a)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "dev/model", cwd=fresh_team.bare) == \
        git("rev-parse", "dev/model", cwd=fresh_team.a)


@pytest.mark.parametrize(("mode", "says"), [
    ("401", "Git credentials for {url} not found"),
    ("403", "batch response: 403 Forbidden: You are not authorized to perform this action"),
], ids=["401", "403"])
def test_lfs_server_refusing_auth_fails_plain_git_push(fresh_team: Team, mode: str,
                                                       says: str) -> None:
    """The LFS server answers 401 (no identity) or 403 (not allowed) to the batch request:
    plain `git push` (git-lfs's pre-push) fails within seconds (no terminal prompt) and no
    ref moves; what it prints and how long it takes is recorded in docs/teams.md. After a 401
    git-lfs remembers `lfs.<url>.access = basic` in the clone's config and asks for
    credentials from then on, even once the server lets everyone in again."""
    commit(fresh_team.a, {"models/model.bin": os.urandom(500_000), "tracking/m.json": "{}"},
           msg="model", branch="stable/model")
    before = fresh_team.refs()
    fresh_team.server.set_auth(mode)
    started = time.monotonic()
    p = git_proc("push", "origin", "stable/model", cwd=fresh_team.a)
    took = time.monotonic() - started
    print(f"LFS {mode}: git push exit {p.returncode} after {took:.1f} s:\n{p.stderr}")
    assert p.returncode != 0 and took < 30
    assert says.format(url=fresh_team.url) in p.stderr
    assert fresh_team.refs() == before
    assert fresh_team.server.lfs_objects(fresh_team.name) == []

    fresh_team.server.set_auth("ok")
    access = f"lfs.{fresh_team.url}/info/lfs.access"
    if mode == "401":
        assert git("config", access, cwd=fresh_team.a) == "basic"
        p = git_proc("push", "origin", "stable/model", cwd=fresh_team.a)
        assert p.returncode != 0 and "could not read Username" in p.stderr
        git("config", "--unset", access, cwd=fresh_team.a)
    p = git_proc("push", "origin", "stable/model", cwd=fresh_team.a)
    assert p.returncode == 0, p.stderr
    assert fresh_team.server.lfs_objects(fresh_team.name) == \
        [lfs_oid(fresh_team.a, "models/model.bin")]


@pytest.mark.parametrize(("mode", "says"), [
    ("upload-401", "LFS: Git credentials for {url} not found"),
    ("upload-403", "LFS: 403 Forbidden: You are not authorized to perform this action"),
])
def test_lfs_server_refusing_the_upload_fails_plain_git_push(fresh_team: Team, mode: str,
                                                             says: str) -> None:
    """The batch request is let through and the object's upload (the PUT) refused with 401
    or 403: plain `git push` fails with git-lfs's line, no ref moves, nothing is stored.
    git-lfs's default retries (8, backoff up to 10 s) make that take about 36 s (recorded in
    docs/teams.md); the clone here uses the bounds branchml's own transport sets
    (`repo/remote.py`: 3 retries, 1 s), which change how long, not what fails or what it says."""
    commit(fresh_team.a, {"models/model.bin": os.urandom(500_000), "tracking/m.json": "{}"},
           msg="model", branch="stable/model")
    git("config", "lfs.transfer.maxretries", "3", cwd=fresh_team.a)
    git("config", "lfs.transfer.maxretrydelay", "1", cwd=fresh_team.a)
    before = fresh_team.refs()
    fresh_team.server.set_auth(mode)
    started = time.monotonic()
    p = git_proc("push", "origin", "stable/model", cwd=fresh_team.a)
    took = time.monotonic() - started
    print(f"LFS {mode}: git push exit {p.returncode} after {took:.1f} s:\n{p.stderr}")
    assert p.returncode != 0 and took < 30
    assert says.format(url=fresh_team.url) in p.stderr
    assert fresh_team.refs() == before
    assert fresh_team.server.lfs_objects(fresh_team.name) == []


# -- what a real LFS server lets through (giftless checks sizes, never SHA-256) ----------------
def pointer(oid: str, size: int) -> str:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


def checkout_fails(team: Team, tmp_path: Path) -> str:
    """What a new clone of raw says; '' when its checkout works."""
    p = git_proc("clone", "-q", "-b", "raw", *LFS_CLONE, team.url, str(tmp_path / "new"),
                 cwd=tmp_path)
    return "" if p.returncode == 0 else p.stderr


def test_grown_lfs_pointer_whose_stored_bytes_are_not_its_oid_is_refused(
        team: Team, tmp_path: Path) -> None:
    """An attacker with write access to the LFS server stores bytes of their choosing under
    the oid of a legitimate append (giftless checks only the size), then pushes that append.
    The server accepts it and every clone's checkout of raw fails from then on (git-lfs
    verifies what it downloads), while raw is append-only: the file cannot be removed."""
    old = b"id,x\n1,1\n"
    commit(team.a, {"data/d.csv": old.decode()}, msg="data", branch="raw")
    assert git_proc("push", "origin", "raw", cwd=team.a).returncode == 0
    real, forged = old + b"2,4\n", old + b"9,9\n"  # same size, old bytes kept
    oid = hashlib.sha256(real).hexdigest()
    put = urllib.request.Request(
        f"{team.server.url}/srv/{team.name}.git/info/lfs/objects/storage/{oid}", data=forged,
        method="PUT", headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(put) as answer:
        assert answer.status == 200
    before = team.refs()
    evil = handmade(team.a, "raw", "data/d.csv", pointer(oid, len(real)))
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/raw", cwd=team.a)
    assert p.returncode != 0 and team.refs() == before
    assert f"data/d.csv: the server's LFS store ({team.bare}/lfs/objects" in p.stderr
    assert f"holds the git-lfs object {oid}, but its bytes there do not hash to that oid" \
        in p.stderr
    assert checkout_fails(team, tmp_path) == ""


def test_added_lfs_pointer_whose_object_is_nowhere_is_refused_on_raw(
        team: Team, tmp_path: Path) -> None:
    """A pointer to an object nobody has, added on raw with --no-verify: accepted, and raw
    can no longer be checked out anywhere; append-only, it cannot be deleted either."""
    before = team.refs()
    ghost = hashlib.sha256(b"nobody has this").hexdigest()
    evil = handmade(team.a, "raw", "data/ghost.csv", pointer(ghost, 1234))
    p = git_proc("push", "--no-verify", "origin", f"{evil}:refs/heads/raw", cwd=team.a)
    assert p.returncode != 0 and team.refs() == before
    assert f"data/ghost.csv: the git-lfs object {ghost} is not in the server's LFS store" \
        in p.stderr
    assert checkout_fails(team, tmp_path) == ""
