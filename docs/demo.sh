#!/usr/bin/env bash
# The whole branchml loop on a real dataset, in a temporary folder (run: make demo).
#
#   bash docs/demo.sh [--dir DIR] [--graph FILE]
#
# --dir DIR     work in DIR (must not exist) instead of a new temporary folder
# --graph FILE  also draw the finished repository to FILE with `branchml graph -o`
#               (docs/img/demo-graph.svg is made this way)
#
# Data: UCI Breast Cancer Wisconsin (Diagnostic), CC BY 4.0 (docs/demo/LICENSE.md).
# Every command is printed before it runs; a refusal shown on purpose says so.
set -euo pipefail
# fd 3 is the terminal's stdout: a command line is shown there even when the command's own
# output goes to /dev/null (`run CMD >/dev/null` would otherwise hide the `$ CMD` line too).
exec 3>&1
demo=$(cd "$(dirname "${BASH_SOURCE[0]}")/demo" && pwd)
work="" graph=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) work=$2; shift 2 ;;
    --graph) graph=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: bash docs/demo.sh [--dir DIR] [--graph FILE]" >&2; exit 2 ;;
  esac
done
if [ -z "$work" ]; then work=$(mktemp -d "${TMPDIR:-/tmp}/branchml-demo.XXXXXX"); else mkdir "$work"; fi
work=$(cd "$work" && pwd)
started=$SECONDS

# A home of its own, so the demo never reads or writes your git configuration.
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 MLFLOW_ALLOW_FILE_STORE=true
mkdir -p "$HOME"
git config --global user.name "Alice (demo)"
git config --global user.email alice@example.com
git config --global init.defaultBranch main
git config --global advice.detachedHead false

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&3; }
say() { printf '   %s\n' "$*" >&3; }
# Change user: the `cd` is shown like any command, with whose clone it is.
become() { say "(as $1)"; show cd "$2"; cd "$2"; }
# An argument with a space or a quote is shown in single quotes, as you would type it.
show() {
  local out="" a
  for a in "$@"; do
    if [[ $a =~ [[:space:]\'\"\$] ]]; then a="'${a//\'/\'\\\'\'}'"; fi
    out+="${out:+ }$a"
  done
  printf '\033[36m$ %s\033[0m\n' "$out" >&3
}
run() { show "$@"; "$@"; }
# A refusal shown on purpose: the command must fail, and the demo goes on.
refused() {
  show "$@"
  if "$@"; then echo "!! expected a refusal" >&2; exit 1; else say "(refused, as expected)"; fi
}
# Commit what `git add` staged, quietly (git's own output is not the point here).
commit() { run git commit -q -m "$1"; }
# What `branchml train` made: the model, its tracking, and the MLflow run when mlflow is there.
add_trained() {
  run git add models tracking
  if [ -d mlruns ]; then run git add mlruns; fi
}
alice=$work/acme-ml bob=$work/bob
server=$work/server.git

step "1. A project, a server, a second user; the first batch of data lands on raw"
run branchml init "$alice" --model model >/dev/null
show cd "$alice"; cd "$alice"
run python "$demo/policy.py" branchml.yaml
run git add branchml.yaml
commit "policy: validate patient rows, train with src/train.py, gate promotions on the tests"
run git init -q --bare "$server"
run branchml -C "$server" install >/dev/null
run git remote add origin "$server"
run branchml push >/dev/null
run branchml clone "$server" "$bob" >/dev/null
git -C "$bob" config user.name "Bob (demo)"
git -C "$bob" config user.email bob@example.com
run git switch -q raw
mkdir -p data
run python "$demo/batches.py" 1 data
run git add data
commit "raw: January's patients (one export came out empty)"
say "raw now holds $(($(wc -l < data/patients-2024-01.csv) - 1)) rows and an empty file"
say "raw only grows: editing a row already there is refused by the pre-commit hook"
run sed -i 's/^1,17.99,/1,18.99,/' data/patients-2024-01.csv
refused git commit -qam "raw: fix a measurement in place"
run git restore data/patients-2024-01.csv

step "2. Validate into clean, then split by patient id"
run git switch -q main
run branchml pull raw clean --validate
run branchml pull clean split
run branchml split --key id

step "3. A baseline on dev/model, promoted, trained on stable/model, released for acme"
run git switch -q dev/model
run cp -r "$demo/project/v1/." .
run git add src tests
commit "dev: majority-class baseline, its training script and a test"
run python -m unittest discover -s tests
run branchml promote dev/model stable/model
run branchml pull split stable/model
run git switch -q stable/model
run branchml train
add_trained
commit "stable: baseline trained"
run branchml track stable/model
run branchml tag --client acme -m "baseline for acme"
run branchml deploy acme-v1 --client acme
run branchml push

# Train on stable/model what it holds now, commit the model and its tracking, copy the
# tracking to main and cut the next release for acme.
retrain() {
  run git switch -q stable/model
  run branchml train
  add_trained
  commit "stable: $1"
  run branchml track stable/model
  run branchml tag --client acme -m "$1"
}

step "4. A better model: nearest centroid; promoted, retrained, released as acme-v2 behind a canary"
run git switch -q dev/model
run cp -r "$demo/project/v2/." .
run git add src tests
commit "dev: nearest centroid on z-scored features"
run branchml promote dev/model stable/model
retrain "nearest centroid"
run branchml diff acme-v1 acme-v2
run branchml deploy acme-v1 --client acme --canary acme-v2 --fraction 0.1
# Routing is by a hash of client and key (the same key always lands on the same release):
# of these ten, patient-3 falls in the canary's 10%.
run branchml route --client acme patient-1 patient-2 patient-3 patient-4 patient-5 \
  patient-6 patient-7 patient-8 patient-9 patient-10
say "(patient-3 is on acme-v2: the canary takes its share of traffic, one key in ten here)"
run branchml deploy acme-v2 --client acme
run branchml push >/dev/null

step "5. February's patients arrive on raw from Bob's clone; Alice syncs and retrains: acme-v3"
become Bob "$bob"
run branchml sync >/dev/null
run git switch -q raw
run python "$demo/batches.py" 2 data
run git add data
commit "raw: February's patients"
run branchml push
become Alice "$alice"
run branchml sync
run git switch -q main
run branchml pull raw clean --validate
run branchml pull clean split
run branchml split
run branchml pull split stable/model
retrain "retrained with February"
run branchml deploy acme-v3 --client acme

step "6. Production drifts (a new scanner reads sizes 40% larger); monitoring alerts; roll back"
run python "$demo/batches.py" prod "$work/scans.csv"
run python src/predict.py "$work/scans.csv" "$work/predictions.csv"
run branchml monitor log "$work/predictions.csv" --client acme --tag acme-v3
show branchml monitor check --tag acme-v3 --report "$work/drift.html"
if branchml monitor check --tag acme-v3 --report "$work/drift.html" > "$work/drift.txt"; then
  echo "!! expected an alert" >&2; exit 1
fi
head -2 "$work/drift.txt"; sed -n '/^Alerts:/,+3p' "$work/drift.txt"
say "(exit 1: an alert; the whole table is in $work/drift.txt, the report in $work/drift.html)"
run branchml rollback --client acme
deployed_at=$(git log -1 --format=%cI refs/deploy/acme~1)
run branchml deployed --client acme
run branchml deployed --client acme --at "$deployed_at"
run git log --format='%h %cI %s' refs/deploy/acme

step "7. What trained acme-v3, every run, the picture, and undo"
run branchml lineage models/model.pkl --rev acme-v3
run branchml lineage models/model.pkl --rev acme-v3 --rows
run branchml runs
run branchml graph
if [ -n "$graph" ]; then run branchml graph -o "$graph"; fi
run branchml undo --list
run branchml undo
run branchml deployed --client acme
say "(the rollback is taken back: acme is on acme-v3 again; roll back once more, for good)"
run branchml rollback --client acme

step "Done in $((SECONDS - started)) s"
say "releases:  $(git tag --list 'acme-v*' | tr '\n' ' ')"
say "deployed:  $(branchml deployed --client acme | head -1)"
say "alerts:    monitor check on acme-v3 alerted; report in $work/drift.html"
say "repository: $alice (the server is $server, Bob's clone $bob)"
bml=$(command -v branchml)
say "explore:   cd $alice && $bml status && $bml releases"
say "           (or first: . $(dirname "$bml")/activate, then plain branchml)"
