"""The Git LFS server of tests/servers.py: giftless, served by waitress, run by
`.venv-lfs/bin/python tests/lfs_app.py FD` on the listening socket FD it is handed.

Configured as shared/notes/servers.md says works with giftless 0.6.2: an identity module
of our own (its anonymous providers are broken with current PyJWT), no pre-authorized
actions, no legacy endpoints, `basic_streaming` over a local storage. The environment says
where things are: SERVERS_AUTH_MODE (the mode file), SERVERS_REPOS, SERVERS_LFS_ROOT.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from flask import Request
from giftless.app import init_app
from giftless.auth.identity import Identity, Permission
from giftless.storage.local_storage import LocalStorage
from waitress import serve

# ok/401/403 answer the batch request (git-lfs's first call); upload-401/upload-403 let the
# batch through and refuse the object's upload itself (the PUT)
UPLOAD = "/objects/storage/"


def mode() -> str:
    # read on every request: a test flips it without a restart
    return Path(os.environ["SERVERS_AUTH_MODE"]).read_text().strip()


class TestIdentity(Identity):
    """Someone; what they may do comes from the mode at the time of the request."""

    def __init__(self, upload: bool) -> None:
        super().__init__(name="tester", id="tester")
        self.upload = upload

    def is_authorized(self, organization: str, repo: str, permission: Permission,
                      oid: str | None = None) -> bool:
        now = mode()
        return now == "ok" or (now.startswith("upload-") and not self.upload)


def authenticate(request: Request) -> Identity | None:
    """giftless AUTH_PROVIDERS entry. `401`: nobody (giftless answers 401); `403`: someone
    allowed nothing; `ok`: someone allowed everything; `upload-401`/`upload-403`: the same
    refusals for an object's upload only."""
    upload = UPLOAD in request.path
    now = mode()
    if now == "401" or (now == "upload-401" and upload):
        return None
    return TestIdentity(upload)


class GitLayoutStorage(LocalStorage):  # type: ignore[misc]
    """giftless's LocalStorage, with each object at NAME.git/lfs/objects/aa/bb/<oid>: where
    git-lfs keeps it and where the pre-receive hook's checker reads it (docs/releases.md).
    Like LocalStorage it writes in place, without a temporary file."""

    def __init__(self, repos: str, **options: Any) -> None:
        super().__init__(**options)
        self.repos = Path(repos)

    def _get_path(self, prefix: str, oid: str) -> Path:
        repo = prefix.rsplit("/", 1)[-1]  # prefix is "<org>/<NAME>"
        return self.repos / f"{repo}.git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def serve_lfs(fd: int) -> None:
    adapter = {"factory": "giftless.transfer.basic_streaming:factory",
               "options": {"storage_class": "__main__:GitLayoutStorage",
                           "storage_options": {"path": os.environ["SERVERS_LFS_ROOT"],
                                               "repos": os.environ["SERVERS_REPOS"]},
                           "action_lifetime": 900}}
    app = init_app(additional_config={
        "AUTH_PROVIDERS": ["__main__:authenticate"],
        "PRE_AUTHORIZED_ACTION_PROVIDER": None,
        "LEGACY_ENDPOINTS": False,
        "TRANSFER_ADAPTERS": {"basic": adapter},
    })
    sock = socket.socket(fileno=fd)
    serve(app, sockets=[sock], threads=8, max_request_body_size=1 << 40,
          channel_timeout=600, _quiet=True)


if __name__ == "__main__":
    serve_lfs(int(sys.argv[1]))
