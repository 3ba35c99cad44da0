#!/usr/bin/env bash
# The branchml workflow end to end, on a small repository made on the spot (run: make demo).
# Every refusal below is expected: it is the policy doing its job.
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/branchml-demo.XXXXXX")
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "Demo User"
git config --global user.email demo@example.com
git config --global init.defaultBranch main
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect_fail() { if "$@"; then echo "!! expected a refusal" >&2; exit 1; else echo "(refused, as expected)"; fi; }

step "branchml init acme --model churn (a new repository, laid out for the workflow)"
branchml init "$work/acme" --model churn
cd "$work/acme"
git log --oneline --all --decorate

step "branchml status"
branchml status

step "upload data on raw: a new file, then rows appended at its end (both allowed)"
git checkout -q raw
mkdir -p data
python3 - <<'PY'
import csv, random
random.seed(1)
with open("data/2024-01.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["customer", "tenure", "spend", "churned"])
    for i in range(200):
        w.writerow([f"c{i:04d}", random.randint(1, 60), round(random.uniform(5, 90), 2), random.randint(0, 1)])
PY
git add data && git commit -qm "raw: January customers" && echo "committed data/2024-01.csv (git-lfs: $(git lfs ls-files | wc -l) file)"
echo "c9999,12,40.5,0" >> data/2024-01.csv
git commit -qam "raw: a late January row" && echo "appended a row: accepted"

step "edit an old row on raw (append-only): the pre-commit hook refuses"
sed -i 's/^c0000,/c0000x,/' data/2024-01.csv
expect_fail git commit -qam "raw: fix a row in place"
git checkout -q -- data/2024-01.csv

step "code on main: refused"
git checkout -q main
echo "print('train')" > train.py && git add train.py
expect_fail git commit -qm "train on main"
git rm -q --cached train.py && rm train.py

step "branchml branch create dev/new-approach (from main, its type's parent)"
branchml branch create dev/new-approach
expect_fail branchml branch create -- "stable/../x"

step "branchml check --range in CI, with --json"
base=$(git rev-list --max-parents=0 raw)
branchml check --range "$base..raw" --branch raw --json

step "a server: a bare repository with the pre-receive hook; --no-verify cannot bypass it"
git init -q --bare -b main "$work/server.git"
printf '#!/bin/sh\nexec branchml hook pre-receive\n' > "$work/server.git/hooks/pre-receive"
chmod +x "$work/server.git/hooks/pre-receive"
git remote add origin "$work/server.git"
git push -q origin --all
git checkout -q raw
git rm -q data/2024-01.csv && git commit -q --no-verify -m "raw: delete January"
expect_fail git push --no-verify origin raw
git reset -q --hard HEAD~1

step "done: the demo repository is in $work/acme"
