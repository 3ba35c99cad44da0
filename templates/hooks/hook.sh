#!/bin/sh
# branchml-managed-hook v1
# Written by `branchml install` (or `branchml init`). `branchml install --uninstall` removes it
# and puts back @@HOOK@@.legacy, the hook that was here before, if there was one.
# Runs, in order: branchml's check, git-lfs's hook, the legacy hook; the first failure stops.
HOOK=@@HOOK@@
RUN_BRANCHML=@@RUN_BRANCHML@@
RUN_LFS=@@RUN_LFS@@
here=$(dirname "$0")
input=
case "$HOOK" in pre-push|pre-receive) input=$(cat) ;; esac
feed() { if [ -n "$input" ]; then printf '%s\n' "$input"; fi; }

if [ "$RUN_BRANCHML" = 1 ]; then
  if ! command -v branchml >/dev/null 2>&1; then
    echo "branchml: the $HOOK hook needs branchml on PATH: activate the environment where it is installed (pip install branchml), or remove the hook with \`branchml install --uninstall\`." >&2
    exit 1
  fi
  feed | branchml hook "$HOOK" "$@" || exit $?
fi
if [ "$RUN_LFS" = 1 ]; then
  if ! command -v git-lfs >/dev/null 2>&1; then
    echo "branchml: this repository keeps files in git-lfs, but git-lfs is not on PATH: install it (apt-get install -y git-lfs)." >&2
    exit 2
  fi
  feed | git lfs "$HOOK" "$@" || exit $?
fi
if [ -x "$here/$HOOK.legacy" ]; then
  feed | "$here/$HOOK.legacy" "$@" || exit $?
fi
exit 0
