"""Real git and Git LFS servers on 127.0.0.1 for the tests (docs/teams.md, "Servers used by
the tests").

One nginx (Debian's nginx-light) is the front: `*.git/info/lfs/*` goes to giftless (a real
Git LFS server, in its own virtualenv `.venv-lfs`, served by waitress), everything else to
`git http-backend` through fcgiwrap. A remote URL is `http://127.0.0.1:PORT/NAME.git` and
git-lfs finds the LFS endpoint from it by itself. Every config, temp, pid and log file lives
under the server's own folder. `make servers` installs what this needs; `python
tests/servers.py` serves one until Ctrl-C.

giftless's side (the auth modes, the storage layout) is tests/lfs_app.py, run by
`.venv-lfs/bin/python`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LFS_PYTHON = Path(os.environ.get("BRANCHML_LFS_PYTHON", ROOT / ".venv-lfs" / "bin" / "python"))
LFS_APP = Path(__file__).with_name("lfs_app.py")  # giftless's side, run by LFS_PYTHON
HTTP_BACKEND = Path("/usr/lib/git-core/git-http-backend")
# tests/lfs_app.py says what each means
AUTH_MODES = ("ok", "401", "403", "upload-401", "upload-403")
# giftless routes `<org>/<repo>.git/info/lfs/...`: the remote URL has no org, nginx adds this one
ORG = "srv"

NGINX_CONF = """\
@USER@
worker_processes 1;
daemon off;
pid @RUN@/nginx.pid;
error_log @RUN@/error.log warn;
events { worker_connections 256; }
http {
  access_log @RUN@/access.log;
  client_body_temp_path @RUN@/client_body;
  proxy_temp_path @RUN@/proxy;
  fastcgi_temp_path @RUN@/fastcgi;
  uwsgi_temp_path @RUN@/uwsgi;
  scgi_temp_path @RUN@/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:@PORT@;
    # the LFS API of NAME.git: giftless sees it as @ORG@/NAME.git and answers with hrefs there
    location ~ ^/([^/]+\\.git/info/lfs/.*)$ {
      proxy_pass http://127.0.0.1:@LFS@/@ORG@/$1$is_args$args;
      @PROXY@
    }
    location ~ ^/@ORG@/[^/]+\\.git/info/lfs/ {
      proxy_pass http://127.0.0.1:@LFS@;
      @PROXY@
    }
    location / {
      # no `include fastcgi_params`: its empty REMOTE_USER would win (shared/notes/servers.md);
      # no CONTENT_LENGTH: git http-backend then reads to EOF and fails cleanly on a cut body
      fastcgi_pass 127.0.0.1:@FCGI@;
      fastcgi_param SCRIPT_FILENAME @BACKEND@;
      fastcgi_param GIT_PROJECT_ROOT @REPOS@;
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param REMOTE_USER anonymous;
      fastcgi_param REMOTE_ADDR $remote_addr;
      fastcgi_param PATH_INFO $uri;
      fastcgi_param QUERY_STRING $query_string;
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param CONTENT_TYPE $content_type;
      fastcgi_param PATH @PATH@;
      fastcgi_param HOME @HOME@;
      fastcgi_param GIT_CONFIG_NOSYSTEM 1;
      fastcgi_buffering off;
      fastcgi_read_timeout 600s;
    }
  }
}
"""
PROXY = ("proxy_set_header Host $http_host; proxy_http_version 1.1; "
         "proxy_request_buffering off; proxy_buffering off; proxy_read_timeout 600s;")


def find(name: str) -> str | None:
    """A Debian daemon: on PATH, or in /usr/sbin (not on every user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    return found


def missing() -> str | None:
    """Why a server cannot start here (one sentence), or None when everything is installed."""
    lacking = [n for n in ("nginx", "fcgiwrap") if find(n) is None]
    if not HTTP_BACKEND.is_file():
        lacking.append(str(HTTP_BACKEND))
    if not LFS_PYTHON.is_file() or not list(LFS_PYTHON.parent.parent.glob(
            "lib/python*/site-packages/giftless/__init__.py")):
        lacking.append(f"giftless in {LFS_PYTHON.parent.parent}")
    if not lacking:
        return None
    return f"the HTTP servers need {', '.join(lacking)}: run `make servers` to install them"


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                found.append(int(stat.parent.name))
    return found


def _listener(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


class HttpGitServer:
    """nginx + fcgiwrap (git http-backend) + giftless on 127.0.0.1, under `base`."""

    def __init__(self, base: Path, bin_dir: Path | None = None) -> None:
        self.base = base
        self.repos = base / "repos"
        self.run = base / "run"
        self.lfs_root = base / "lfs"  # giftless's own scratch; objects go inside each NAME.git
        self.mode_file = base / "auth-mode"
        # the pre-receive hook runs `branchml`: the server's PATH starts with its venv
        self.bin_dir = bin_dir or Path(sys.executable).parent
        self.port = 0
        self.fcgi_port = 0
        self.lfs_port = 0
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for d in (self.repos, self.run, self.lfs_root, base / "home"):
            d.mkdir(parents=True, exist_ok=True)
        self.set_auth("ok")
        atexit.register(self.stop)  # a run that ends without the fixture's teardown

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        path = f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
        return {"PATH": path, "HOME": str(self.base / "home"), "GIT_CONFIG_NOSYSTEM": "1",
                "LANG": "C.UTF-8"}

    # -- processes ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start whatever is not running (all three the first time) and wait until it answers."""
        if "fcgi" not in self.alive():
            self._start_fcgi()
        if "lfs" not in self.alive():
            self._start_lfs()
        if "web" not in self.alive():
            self._start_web()
        self._wait_ready()

    def restart(self) -> None:
        """Stop everything, then start it again on the same ports."""
        self.stop()
        self.start()

    def stop(self) -> None:
        """SIGTERM to each group, SIGKILL to what is left after 3 s; returns once no process
        of any group is alive (nginx's worker and fcgiwrap's children outlive their leader
        by a moment)."""
        for name in list(self.procs):
            self._signal(name, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for name, p in list(self.procs.items()):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(name, signal.SIGKILL)
                p.wait()
            self._kill(name)

    def kill_web(self) -> None:
        """SIGKILL nginx and fcgiwrap with everything they started (git receive-pack, hooks):
        a killed web server leaves no orphan that still moves a ref later."""
        self._kill("web")
        self._kill("fcgi")

    def kill_lfs(self) -> None:
        self._kill("lfs")

    def alive(self) -> set[str]:
        return {n for n, p in self.procs.items() if p.poll() is None}

    def _kill(self, name: str) -> None:
        if name not in self.procs:
            return
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)

    def _signal(self, name: str, sig: int) -> None:
        # each was started as the leader of its own process group (start_new_session)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)

    def _spawn(self, name: str, argv: list[str], stdin: Any = subprocess.DEVNULL,
               env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()) -> None:
        # PIDs from Popen, each the leader of a new process group that killpg stops whole
        with (self.run / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(argv, stdin=stdin, stdout=log, stderr=log,
                                                env=env or self.env(), pass_fds=pass_fds,
                                                start_new_session=True, cwd=self.run)

    def _start_fcgi(self) -> None:
        # fcgiwrap takes its listening socket on fd 0 (the FastCGI convention): no port race
        sock = _listener(self.fcgi_port)
        self.fcgi_port = sock.getsockname()[1]
        with sock:
            self._spawn("fcgi", [find("fcgiwrap") or "fcgiwrap", "-c", "4"], stdin=sock)

    def _start_lfs(self) -> None:
        sock = _listener(self.lfs_port)
        self.lfs_port = sock.getsockname()[1]
        env = {**self.env(), "SERVERS_AUTH_MODE": str(self.mode_file),
               "SERVERS_REPOS": str(self.repos), "SERVERS_LFS_ROOT": str(self.lfs_root)}
        with sock:
            self._spawn("lfs", [str(LFS_PYTHON), str(LFS_APP), str(sock.fileno())],
                        env=env, pass_fds=(sock.fileno(),))

    def _start_web(self) -> None:
        # nginx binds its own port: take a free one, and on a lost race another (first start)
        for _ in range(5):
            if not self.port:
                with _listener() as probe:
                    self.port = probe.getsockname()[1]
            conf = self._nginx_conf()
            self._spawn("web", [find("nginx") or "nginx", "-p", f"{self.run}/", "-c", str(conf),
                                "-e", str(self.run / "error.log")])
            if self._answers(self.port, deadline=time.monotonic() + 5, name="web"):
                return
            self._kill("web")
            self.port = 0
        raise RuntimeError(f"nginx did not start; see {self.run / 'error.log'}")

    def _nginx_conf(self) -> Path:
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run / d).mkdir(exist_ok=True)
        values = {"RUN": str(self.run), "PORT": str(self.port), "LFS": str(self.lfs_port),
                  "FCGI": str(self.fcgi_port), "ORG": ORG, "PROXY": PROXY,
                  "BACKEND": str(HTTP_BACKEND), "REPOS": str(self.repos),
                  "PATH": self.env()["PATH"], "HOME": self.env()["HOME"],
                  # as root nginx's workers would be `nobody`, who cannot enter pytest's tmp
                  "USER": "user root;" if os.geteuid() == 0 else ""}
        text = NGINX_CONF
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        conf = self.run / "nginx.conf"
        conf.write_text(text)
        return conf

    def _answers(self, port: int, deadline: float, name: str) -> bool:
        """True once an HTTP request to `port` gets any answer; False when `name` died."""
        while time.monotonic() < deadline:
            if name not in self.alive():
                return False
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        if not self._answers(self.lfs_port, deadline, "lfs"):
            raise RuntimeError(f"giftless did not start; see {self.run / 'lfs.log'}")
        if "fcgi" not in self.alive():
            raise RuntimeError(f"fcgiwrap did not start; see {self.run / 'fcgi.log'}")

    # -- repositories and state ----------------------------------------------------------------
    def bare(self, name: str) -> tuple[Path, str]:
        """A new bare repository NAME.git that accepts pushes over HTTP, and its URL."""
        path = self.repos / f"{name}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True,
                       env={**os.environ, **self.env()})
        subprocess.run(["git", "config", "http.receivepack", "true"], cwd=path, check=True,
                       env={**os.environ, **self.env()})
        return path, f"{self.url}/{name}.git"

    def set_auth(self, mode: str) -> None:
        """What the LFS server answers from now on: `ok`; `401` (no identity) or `403` (an
        identity with no permission) to the batch request; `upload-401`, `upload-403` to the
        object's upload only. Read on every request: no restart."""
        if mode not in AUTH_MODES:
            raise ValueError(f"auth mode must be one of {AUTH_MODES}, not {mode!r}")
        self.mode_file.write_text(mode)

    def lfs_objects(self, name: str) -> list[str]:
        """The oids the LFS server stores for NAME.git (git-lfs's layout inside the repo)."""
        objects = self.repos / f"{name}.git" / "lfs" / "objects"
        return sorted(p.name for p in objects.glob("??/??/*") if p.is_file())

    def __enter__(self) -> HttpGitServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Serve git + LFS over HTTP until Ctrl-C.")
    parser.add_argument("names", nargs="*", default=["demo"], help="bare repositories to create")
    parser.add_argument("--dir", type=Path, help="the server's folder (default: a new tmp one)")
    args = parser.parse_args(argv)
    reason = missing()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    base = args.dir or Path(tempfile.mkdtemp(prefix="branchml-servers-"))
    # `kill PID` or a closed terminal stops the servers as Ctrl-C does, not leaving them behind
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    with HttpGitServer(base) as server:
        for name in args.names:
            path, url = server.bare(name)
            print(f"{url}    ({path})")
        print(f"logs and config in {server.run}; auth mode in {server.mode_file}; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
