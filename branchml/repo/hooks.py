"""Hook installer: branchml's hooks beside the user's own, idempotent and reversible.

A foreign hook already in place moves to `<name>.legacy` and keeps running after ours.
git-lfs refuses to install its hooks where any hook exists, so branchml's hooks call
`git lfs <hook>` themselves (what `git lfs update --manual` recommends), unless the legacy hook
already does.
"""

from __future__ import annotations

import os
from pathlib import Path

from branchml.core.plan import HookInstall, HookRemove, Step
from branchml.errors import StateError
from branchml.repo import proc
from branchml.resources import template_text

MARKER = "# branchml-managed-hook v1"
CHECK_HOOKS = ("pre-commit", "pre-push")
LFS_HOOKS = ("pre-push", "post-checkout", "post-commit", "post-merge")
SERVER_HOOKS = ("pre-receive",)


def hooks_dir(cwd: Path, repo_root: Path) -> Path:
    """Where git runs hooks from: core.hooksPath if set, else the common git dir's hooks/
    (shared by linked worktrees). branchml writes nothing outside the repository."""
    out = proc.output(["git", "rev-parse", "--path-format=absolute", "--git-path", "hooks"],
                      cwd=cwd)
    path = Path(out).resolve()
    common = Path(proc.output(["git", "rev-parse", "--path-format=absolute",
                               "--git-common-dir"], cwd=cwd)).resolve()
    if not (path.is_relative_to(repo_root.resolve()) or path.is_relative_to(common)):
        raise StateError(
            f"core.hooksPath points outside the repository ({path}); branchml writes nothing "
            "outside it: point core.hooksPath inside the repository, or unset it."
        )
    return path


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(errors="replace")
    except OSError:
        return False


def render(name: str, run_branchml: bool, run_lfs: bool) -> str:
    text = template_text("hooks/hook.sh")
    return (text.replace("@@HOOK@@", name)
            .replace("@@RUN_BRANCHML@@", "1" if run_branchml else "0")
            .replace("@@RUN_LFS@@", "1" if run_lfs else "0"))


def wanted(bare: bool, use_lfs: bool) -> dict[str, tuple[bool, bool]]:
    """Hook name -> (runs branchml, runs git-lfs)."""
    if bare:
        return {n: (True, False) for n in SERVER_HOOKS}
    names = list(CHECK_HOOKS) + [n for n in LFS_HOOKS if use_lfs and n not in CHECK_HOOKS]
    return {n: (n in CHECK_HOOKS, use_lfs and n in LFS_HOOKS) for n in names}


def plan_install(hdir: Path, bare: bool, use_lfs: bool) -> list[Step]:
    steps: list[Step] = []
    for name, (run_bml, run_lfs) in wanted(bare, use_lfs).items():
        path, legacy = hdir / name, hdir / f"{name}.legacy"
        foreign = path.exists() and not is_ours(path)
        if foreign and legacy.exists():
            raise StateError(
                f"{path} and {legacy} both exist and neither is branchml's: move one away, "
                "then run the command again."
            )
        legacy_text = _text(path if foreign else legacy)
        lfs_in_legacy = f"git lfs {name}" in legacy_text
        content = render(name, run_bml, run_lfs and not lfs_in_legacy)
        if not foreign and _text(path) == content:
            continue
        steps.append(HookInstall(name, str(path), content, keep_legacy=foreign))
    return steps


def plan_uninstall(hdir: Path) -> list[Step]:
    names = set(CHECK_HOOKS) | set(LFS_HOOKS) | set(SERVER_HOOKS)
    return [
        HookRemove(n, str(hdir / n), restore_legacy=(hdir / f"{n}.legacy").exists())
        for n in sorted(names) if is_ours(hdir / n)
    ]


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def apply_install(step: HookInstall) -> dict[str, object]:
    path = Path(step.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if step.keep_legacy:
        os.replace(path, path.with_name(path.name + ".legacy"))
    tmp = path.with_name(f".{path.name}.branchml-tmp")
    tmp.write_text(step.content)
    tmp.chmod(0o755)
    os.replace(tmp, path)
    return {"kind": "hook", "action": "install", "path": step.path, "legacy": step.keep_legacy}


def apply_remove(step: HookRemove) -> dict[str, object]:
    path = Path(step.path)
    path.unlink(missing_ok=True)
    if step.restore_legacy:
        os.replace(path.with_name(path.name + ".legacy"), path)
    return {"kind": "hook", "action": "remove", "path": step.path,
            "legacy_restored": step.restore_legacy}
