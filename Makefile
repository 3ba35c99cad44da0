# Everything a fresh Debian machine with Python 3.11 needs, from the repo itself.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help deps deps-core servers venv venv-core lint test test-fast test-faults demo docs bench wheel clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# graphviz: `branchml graph -o FILE.svg` draws through its `dot` (~9 MB installed)
deps:  ## git, git-lfs, a C compiler, chromium + chromedriver, graphviz (apt-get when missing; run as root)
	@command -v git >/dev/null 2>&1 && command -v git-lfs >/dev/null 2>&1 && \
	  { command -v cc >/dev/null 2>&1 && test -e /usr/include/string.h; } && \
	  test -x /usr/bin/chromium && test -x /usr/bin/chromedriver && \
	  command -v dot >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git git-lfs \
	    gcc libc6-dev chromium chromium-driver graphviz; }

# What the demo and a user need: no browser, no servers (chromium is only for the site's tests)
deps-core:  ## git, git-lfs, a C compiler, graphviz (apt-get when missing; run as root)
	@command -v git >/dev/null 2>&1 && command -v git-lfs >/dev/null 2>&1 && \
	  { command -v cc >/dev/null 2>&1 && test -e /usr/include/string.h; } && \
	  command -v dot >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git git-lfs \
	    gcc libc6-dev graphviz; }

# The real servers of tests/servers.py (docs/teams.md): nginx-light + fcgiwrap from Debian, and
# giftless in its own virtualenv, so that flask & co never reach branchml's. giftless's wheel
# declares no dependencies: these pins are the set checked to work (shared/notes/servers.md;
# marshmallow 4 breaks its import). Reinstalled only when the pins change.
LFS_VENV ?= .venv-lfs
LFS_PINS := giftless==0.6.2 flask~=2.3 flask-marshmallow~=0.15 marshmallow<4 werkzeug~=3.0 \
  webargs~=8.4 figcan==0.0.* flask-classful~=0.16 pyyaml~=6.0 PyJWT~=2.8 python-dotenv~=1.0 \
  python-dateutil cachetools importlib-metadata typing-extensions waitress~=3.0

servers:  ## nginx-light, fcgiwrap (apt-get when missing) and giftless in .venv-lfs
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 && \
	  { command -v fcgiwrap || test -x /usr/sbin/fcgiwrap; } >/dev/null 2>&1 || \
	  { apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq nginx-light fcgiwrap >/dev/null; }
	@# RUNLEVEL=1: the packages' scripts must not start a system nginx on port 80
	@test "$$(cat $(LFS_VENV)/.pins 2>/dev/null)" = "$(LFS_PINS)" || { \
	  rm -rf $(LFS_VENV) && $(PY) -m venv $(LFS_VENV) && \
	  $(LFS_VENV)/bin/pip install -q $(foreach p,$(LFS_PINS),'$(p)') \
	    >$(LFS_VENV)/install.log 2>&1 || { cat $(LFS_VENV)/install.log; exit 1; }; \
	  echo "$(LFS_PINS)" > $(LFS_VENV)/.pins; echo "giftless installed in $(LFS_VENV)"; }

# the install compiles branchml/core/_rowhash.c (hatch_build.py): redone when either changes
$(BIN)/branchml: pyproject.toml hatch_build.py branchml/core/_rowhash.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: deps servers $(BIN)/branchml  ## the virtualenv with branchml (editable) and the dev tools

venv-core: deps-core $(BIN)/branchml  ## the same virtualenv without chromium and the test servers

lint: venv  ## ruff + mypy (strict)
	$(BIN)/ruff check branchml tests bench
	$(BIN)/mypy

# The full kill matrix (marker faults) is test-faults' own: deselected here rather than shown as
# skips, so a skip in `make test` always means the machine lacks something (docs/develop.md).
test: lint servers  ## lint, then every test (slow end-to-end ones included), on all cores
	$(BIN)/pytest -q -n auto -p no:cacheprovider -m "not faults"

KILLS := bench/.work/kills.jsonl

# every fault point of every write command (tests/test_kills.py; `make test` runs a sample):
# the figures printed at the end are the ones in docs/reliability.md, section "Kills"
test-faults: venv  ## the full kill matrix, the 30 s soak and the corpus, then their figures
	mkdir -p bench/.work && rm -f $(KILLS)
	BRANCHML_FULL_KILLS=1 BRANCHML_KILLS_REPORT=$(CURDIR)/$(KILLS) \
	  $(BIN)/pytest -q -p no:cacheprovider -n 2 -m faults tests/test_kills.py
	$(BIN)/python -c "import json; rows = [json.loads(l) for l in open('$(KILLS)')]; \
	  [print(f\"| {r['command']} | {r['points']} | {r['clean']} | {r['kinds']} |\") \
	   for r in sorted(rows, key=lambda r: r['command'])]; \
	  print('total', sum(r['points'] for r in rows), 'kill points,', \
	        sum(r['clean'] for r in rows), 'clean')"
	BRANCHML_SOAK_SECONDS=30 $(BIN)/pytest -q -p no:cacheprovider -s tests/test_soak.py \
	  > bench/.work/soak.log; code=$$?; grep -E '^soak:|passed|failed' bench/.work/soak.log; \
	  exit $$code
	$(BIN)/pytest -q -p no:cacheprovider -n 2 tests/test_bad_input.py

test-fast: venv  ## the tests without the slow end-to-end ones
	$(BIN)/pytest -q -n auto -m "not slow and not faults"

# DEMO_ARGS="--graph docs/img/demo-graph.svg" redraws the README's picture; --dir DIR keeps it there
demo: venv-core  ## the whole loop on a real dataset in a temporary folder (docs/tutorial.md follows it)
	bash docs/demo.sh $(DEMO_ARGS)

# the references are generated from the CLI and the JSON Schema first (committed too, so that
# GitHub readers see them; tests/test_docs_site.py fails when they drift)
docs: venv  ## the documentation site into site/ (mkdocs build --strict)
	@$(BIN)/python -c "import mkdocs, material" 2>/dev/null || $(BIN)/pip install -q -e '.[docs]'
	$(BIN)/python -m branchml.cli.reference docs/reference
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: venv  ## benchmarks (figures go to docs/benchmarks.md by hand)
	$(BIN)/python bench/bench_check.py
	$(BIN)/python bench/bench_merge.py --big
	$(BIN)/python bench/bench_releases.py  # gto side by side when gto is on PATH
	$(BIN)/python bench/bench_monitor.py  # Evidently beside it, in .venv-evidently (made once)
	$(BIN)/python bench/bench_lineage.py  # 10M rows from 1,000 uploads beside a Python set baseline

wheel: venv  ## build the wheel into dist/
	$(BIN)/python -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) $(LFS_VENV) .venv-evidently dist build site .mypy_cache .ruff_cache bench/.work
