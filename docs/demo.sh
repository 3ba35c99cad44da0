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

step "data moves: raw -> clean (validated) -> stable/churn, by append"
git checkout -q raw
echo "c9998,3,12.5,1" >> data/2024-01.csv && git commit -qam "raw: one more row"
git checkout -q main
branchml pull raw clean --validate
branchml pull clean stable/churn

step "promote the code of dev/churn to stable/churn, train there, release for acme"
git checkout -q dev/churn
mkdir -p src && printf 'import csv\nprint("training on", sum(1 for _ in open("data/2024-01.csv")) - 1, "rows")\n' > src/train.py
git add src && git commit -qm "dev: a training script"
branchml promote dev/churn stable/churn
git checkout -q stable/churn
python3 src/train.py
mkdir -p models tracking
head -c 2048 /dev/urandom > models/model.bin
echo '{"accuracy": 0.87, "auc": 0.91}' > tracking/metrics.json
echo '{"depth": 6}' > tracking/params.json
git add models tracking && git commit -qm "stable: trained"
branchml tag --client acme -m "first model for acme"
branchml show acme-v1
branchml lineage models/model.bin --rev acme-v1

step "deploy, and track the run onto main"
branchml deploy acme-v1 --client acme
branchml track acme-v1
branchml runs

step "production data onto monitoring, then a drift check (a shifted copy alerts: exit 1)"
python3 - "$work/prod.csv" <<'PY'
import csv, random, sys
random.seed(2)
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["customer", "tenure", "spend", "prediction"])
    for i in range(300):
        w.writerow([f"p{i:04d}", random.randint(40, 90), round(random.uniform(60, 150), 2), random.randint(0, 1)])
PY
git checkout -q main
cfg=$(git show main:branchml.yaml | sed 's/  target: null/  target: churned/')
printf '%s\n' "$cfg" > branchml.yaml && git commit -qam "monitor: churned is the target"
branchml monitor log "$work/prod.csv" --client acme --tag acme-v1
expect_fail branchml monitor check --tag acme-v1 --report "$work/drift.html"
echo "report: $work/drift.html"

step "done: the demo repository is in $work/acme"
