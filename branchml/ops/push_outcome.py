"""What a refused `git push --atomic` means, in one sentence per cause and its exit code:
the server's policy (exit 1, its reasons relayed), a ref someone moved meanwhile or a tag
name someone took first (exit 3), the remote unreachable or refusing us (exit 4)."""

from __future__ import annotations

from branchml.errors import BranchmlError, ConflictError, VerdictError
from branchml.repo.remote import PushOutcome, explain

_RACE = ("stale info", "non-fast-forward", "fetch first", "already exists",
         "failed to update ref", "failed to lock", "cannot lock ref")
# "(atomic push failed)": refused only because another ref was. "(atomic transaction
# failed)" on every ref and nothing else: the server could not apply the update it had
# accepted, which with branchml's leases means another push took one of the refs meanwhile.
_COLLATERAL = "atomic"


def refusal(outcome: PushOutcome, remote: str) -> BranchmlError:
    causes = {ref: why for ref, why in outcome.rejected.items() if _COLLATERAL not in why}
    raced = sorted(ref for ref, why in causes.items() if any(r in why for r in _RACE))
    if not causes and outcome.rejected:
        raced = sorted(outcome.rejected, key=lambda r: not r.startswith("refs/tags/"))
    if raced:
        return ConflictError(_raced(raced[0], remote))
    if causes:
        said = [ln.removeprefix("remote:").strip() for ln in outcome.stderr.splitlines()
                if ln.startswith("remote:") and ln.removeprefix("remote:").strip()]
        reasons = "".join(f"\n  {ln}" for ln in said[:40]) or \
            "".join(f"\n  {ref}: {why}" for ref, why in sorted(causes.items()))
        return VerdictError(f"{remote} refused the push ({', '.join(sorted(causes))}); "
                            f"nothing moved there. Its reasons:{reasons}")
    return explain("pushing", remote, outcome.stderr.encode())


def _raced(ref: str, remote: str) -> str:
    if ref.startswith("refs/tags/"):
        name = ref.removeprefix("refs/tags/")
        return (f"{name} was taken on {remote} meanwhile (someone released it first); "
                "nothing moved there: make the release again with `branchml tag` (it mints "
                "the next number)")
    name = ref.removeprefix("refs/heads/")
    return (f"{name} moved on {remote} since it was read (someone pushed meanwhile); nothing "
            "moved there: run `branchml sync`, then `branchml push` again")
