"""The door to remotes: list, fetch and push (all refs or none) through the git CLI, never
asking at a prompt, with every failure turned into one sentence and exit 4.

git itself must run here (transports, credentials, the pre-push hook and git-lfs's upload),
so this is the one module that starts `git ls-remote`, `git fetch` and `git push`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from branchml.core.names import check_remote_name
from branchml.errors import StateError
from branchml.repo import proc

# Never wait for a person: no terminal prompt, no askpass program, no credential manager UI.
# A transfer that stalls below 1 KB/s for 60 s is given up rather than left hanging.
# git-lfs retries a refused object transfer (401/403 on the upload or download URL) 8 times
# with a backoff up to 10 s: ~36 s of silence before one line (measured, git-lfs 3.3). Three
# tries at most 1 s apart still ride out a passing hiccup, and fail a refusal in ~2 s. Given
# with -c, the settings reach the git-lfs that git's hooks and filters start.
# The askpass programs fail (`false`), not answer (`echo` made git-lfs send its own prompt
# text as a password and retry a 401 forever), so a missing credential fails at once.
# A transfer stalled below 1 KB/s for 60 s (a silent server included) is given up: exit 4.
ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "false", "SSH_ASKPASS": "false",
       "GCM_INTERACTIVE": "never"}
OPTS = ("-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60",
        "-c", "lfs.transfer.maxretries=3", "-c", "lfs.transfer.maxretrydelay=1")
# ssh the same way (no prompt; a dead link dropped after ~60 s of silence), unless the user
# chose their own ssh command (a key, a jump host): that one is left as it is.
SSH = ("ssh -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 "
       "-o ServerAliveCountMax=4")


def _ssh_env(cwd: str | Path | None) -> dict[str, str]:
    if "GIT_SSH_COMMAND" in os.environ or "GIT_SSH" in os.environ:
        return {}
    mine = proc.run(["git", "config", "--get", "core.sshCommand"], cwd=cwd, check=False)
    return {} if mine.stdout.strip() else {"GIT_SSH_COMMAND": SSH}


class RemoteError(StateError):
    """The remote could not be reached, refused us, or is not what branchml needs."""


def git(cwd: str | Path | None, *args: str, stdin: bytes | None = None,
        env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """`git ARGS` for a transport command: non-interactive, not checked (see `explain`)."""
    return proc.run(["git", *OPTS, *args], cwd=cwd,
                    env={**ENV, **_ssh_env(cwd), **(env or {})}, stdin=stdin, check=False)


# What git prints -> what happened. The first match wins; order matters (a 403 mentions the URL).
_CAUSES: tuple[tuple[str, str], ...] = (
    (r"\b(401|403)\b|Authentication failed|credentials for .* not found|credential fill"
     r"|could not read Username|Permission denied|terminal prompts disabled|access denied"
     r"|not authorized|Unauthorized|Forbidden",
     "refused our credentials: check that you may access it (a token, an SSH key or "
     "`git config credential.helper`), then run the command again"),
    (r"does not appear to be a git repository|repository .* not found|not found|\b404\b"
     r"|No such file or directory|does not exist",
     "has no repository at that address: check the URL (`git remote -v`)"),
    (r"Could not resolve host|Connection refused|Failed to connect|Connection timed out"
     r"|Operation timed out|Network is unreachable|Couldn't connect|Empty reply|Connection reset"
     r"|unexpected disconnect|the remote end hung up|RPC failed|early EOF|transfer closed"
     r"|Operation too slow|LFS: .*(dial|connection|EOF)",
     "cannot be reached: check the address and your network, then run the command again"),
)


def _cause(text: str) -> str | None:
    return next((cause for pattern, cause in _CAUSES if re.search(pattern, text, re.IGNORECASE)),
                None)


def _last_line(text: str) -> str:
    lines = (ln.strip() for ln in reversed(re.split(r"[\r\n]", text)))
    return next((ln for ln in lines if ln and "LFS objects:" not in ln), "no message")[:300]


def explain(what: str, where: str, stderr: bytes) -> RemoteError:
    """One sentence for a failed transport command `what` against `where`."""
    text = stderr.decode("utf-8", errors="replace")
    cause = _cause(text)
    if cause:
        return RemoteError(f"{what} failed: {where} {cause}.")
    last = _last_line(text)
    return RemoteError(f"{what} failed against {where} (git said: {last[:300]}); nothing was "
                       "changed here: fix that and run the command again.")


def url_of(cwd: str | Path, remote: str) -> str:
    """The URL of a configured remote (a name that is not one: exit 4 with what to do)."""
    check_remote_name(remote)
    r = proc.run(["git", "config", "--get", f"remote.{remote}.url"], cwd=cwd, check=False)
    url = r.stdout.decode("utf-8", errors="replace").strip()
    if r.returncode != 0 or not url:
        raise RemoteError(f"there is no remote named {remote!r} here: add it with "
                          f"`git remote add {remote} URL`, or name another with --remote.")
    return url


def ls_remote(cwd: str | Path | None, remote: str, *patterns: str) -> dict[str, str]:
    """The remote's refs now (full names -> ids; peeled `^{}` lines left out)."""
    r = git(cwd, "ls-remote", "--", remote, *patterns)
    if r.returncode != 0:
        raise explain("listing the refs of the remote", remote, r.stderr)
    refs = {}
    for line in r.stdout.decode("utf-8", errors="replace").splitlines():
        sha, _, name = line.partition("\t")
        if name and not name.endswith("^{}"):
            refs[name] = sha
    return refs


def head_branch(cwd: str | Path | None, remote: str) -> str | None:
    """The branch the remote's HEAD names (its default branch, which only its owner sets),
    None when HEAD is detached or absent."""
    r = git(cwd, "ls-remote", "--symref", "--", remote, "HEAD")
    if r.returncode != 0:
        raise explain("listing the refs of the remote", remote, r.stderr)
    for line in r.stdout.decode("utf-8", errors="replace").splitlines():
        target, _, name = line.partition("\t")
        if name == "HEAD" and target.startswith("ref: refs/heads/"):
            return target.removeprefix("ref: refs/heads/")
    return None


def fetch(cwd: str | Path, remote: str, refspecs: Sequence[str], prune: bool = False,
          objects_only: bool = False) -> None:
    """`git fetch` of exactly `refspecs` (no tags but those asked for). `objects_only`: no
    ref is written at all, not even the remote-tracking refs git would otherwise update
    from `remote.<name>.fetch` (`--refmap=`), so the caller moves every ref itself."""
    r = git(cwd, "fetch", "--no-tags", "--no-write-fetch-head", *(["--prune"] if prune else []),
            *(["--refmap="] if objects_only else []), "--", remote, *refspecs)
    if r.returncode != 0:
        raise explain("fetching from the remote", remote, r.stderr)


@dataclass
class PushOutcome:
    """What `git push --porcelain --atomic` said, ref by ref."""

    ok: bool
    refs: dict[str, str] = field(default_factory=dict)  # remote ref -> flag+summary
    rejected: dict[str, str] = field(default_factory=dict)  # remote ref -> git's reason
    stderr: str = ""


def push_atomic(cwd: str | Path, remote: str, refspecs: Sequence[str],
                verify: bool = True, leases: Mapping[str, str] | None = None,
                env: Mapping[str, str] | None = None) -> PushOutcome:
    """Push every refspec in one `git push --atomic`: the remote takes all of them or none.
    `verify` keeps the pre-push hook (branchml's check and git-lfs's upload) on. `leases`
    (remote ref -> the value it must still have, "" for absent) makes each update a
    compare-and-swap on the remote: a ref someone moved since it was read is refused."""
    cas = [f"--force-with-lease={ref}:{old}" for ref, old in (leases or {}).items()]
    r = git(cwd, "push", "--atomic", "--porcelain", *([] if verify else ["--no-verify"]),
            *cas, "--", remote, *refspecs, env=env)
    out = PushOutcome(r.returncode == 0, stderr=r.stderr.decode("utf-8", errors="replace"))
    for line in r.stdout.decode("utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or len(parts[0]) != 1:
            continue
        flag, spec, summary = parts[0], parts[1], parts[2]
        ref = spec.split(":", 1)[-1]
        (out.rejected if flag == "!" else out.refs)[ref] = summary
    return out


def lfs_pending(cwd: str | Path, remote: str, revs: Sequence[str]) -> list[tuple[str, str]]:
    """The LFS objects (oid, path) of the commits of `revs` that git-lfs would upload to
    `remote` (those the clone's copy of the remote's refs does not already reference)."""
    if not revs:
        return []
    r = git(cwd, "lfs", "push", "--dry-run", remote, "--stdin",
            stdin="".join(f"{rev}\n" for rev in revs).encode())
    if r.returncode != 0:
        raise explain("listing the LFS objects to upload", remote, r.stderr)
    found: dict[str, str] = {}
    for line in r.stdout.decode("utf-8", errors="replace").splitlines():
        head, _, path = line.partition(" => ")
        words = head.split()
        if len(words) == 2 and words[0] == "push":
            found.setdefault(words[1], path)
    return sorted(found.items(), key=lambda item: item[1])


Progress = Callable[[int, int, str], None]  # objects done, objects in all, bytes said by git-lfs
_PROGRESS = re.compile(r"\((\d+)/(\d+)\), ([^|,]+)")


def lfs_upload(cwd: str | Path, remote: str, oids: Sequence[str],
               progress: Progress | None = None) -> None:
    """Upload exactly `oids` to `remote`'s LFS storage (before any ref moves); `progress` is
    told what git-lfs reports as it goes."""
    if not oids:
        return
    args = ["git", *OPTS, "lfs", "push", "--object-id", remote, "--stdin"]
    env = {**ENV, **_ssh_env(cwd), "GIT_LFS_FORCE_PROGRESS": "1" if progress else "0"}
    said = bytearray()
    with proc.output_stream(args, cwd, env, "".join(f"{o}\n" for o in oids).encode()) as p:
        for chunk in p.chunks():
            said += chunk
            if progress:
                for m in _PROGRESS.finditer(chunk.decode("utf-8", errors="replace")):
                    progress(int(m[1]), int(m[2]), m[3].strip())
    if p.returncode == 0:
        return
    text = said.decode("utf-8", errors="replace")
    if _cause(text):
        raise explain("uploading the LFS objects", remote, bytes(said))
    # git-lfs relays a refusal (403 and others) as the server's own message, no status
    raise RemoteError(f"uploading the LFS objects failed: the LFS server of {remote} refused "
                      f"them (it said: {_last_line(text)}); check that you may write there, "
                      "then push again (no ref was moved).")
