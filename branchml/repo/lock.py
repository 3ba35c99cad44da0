"""One branchml process at a time per repository: an O_EXCL lock file in the git dir."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from branchml.errors import LockHeld, StateError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RepoLock:
    def __init__(self, common_dir: Path, command: str) -> None:
        self.path = common_dir / "branchml" / "lock"
        self.command = command

    def __enter__(self) -> RepoLock:
        try:
            return self._take()
        except OSError as e:  # a read-only git dir, a full disk: nothing was changed yet
            raise StateError(f"could not write {self.path} ({e.strerror or e}); nothing was "
                             "changed: free space or make it writable, then run the command "
                             "again.") from None

    def _take(self) -> RepoLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_dead_drafts()
        # written whole under a name of our own, then linked into place (link fails when the
        # lock exists): a lock is never seen empty, so a killed holder can always be told
        draft = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        draft.write_text(f"{os.getpid()} {self.command}\n")
        try:
            for _ in range(2):
                try:
                    os.link(draft, self.path)
                except FileExistsError:
                    if self._break_stale():
                        continue
                    raise LockHeld(
                        f"another branchml command holds {self.path} ({self._holder()}); wait "
                        "for it to finish, or remove the file if no branchml is running."
                    ) from None
                return self
        finally:
            draft.unlink(missing_ok=True)
        raise LockHeld(f"could not take {self.path}; run the command again.")

    def _drop_dead_drafts(self) -> None:
        """Drafts left by a process killed between writing one and linking it."""
        for draft in self.path.parent.glob(f"{self.path.name}.*"):
            pid = draft.name.rsplit(".", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                draft.unlink(missing_ok=True)

    def _holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def _break_stale(self) -> bool:
        """A lock whose process is gone (killed) is taken over."""
        pid_text = self._holder().split(" ")[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            self.path.unlink(missing_ok=True)
            return True
        return False

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.path.unlink(missing_ok=True)
