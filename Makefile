# DeFineMed reproduction: the pipeline as a build graph.
# Each stage's target is the manifest it writes (data/<profile>/manifests/<stage>.json). Make decides by
# content, never by file times (after `git clone` or a `touch` they say nothing): on every make,
# `python -m definemed.notebooks make-rules` hashes what each stage depends on (its config sections and
# seed, the source files its code imports, its notebook and the code that notebook shows with) into
# build/<profile>/stamps/<stage>.sha, rewriting a stamp only when that content changed, and writes
# build/<profile>/deps.mk: each manifest depends on its stamp and on the manifests of the stages it
# reads. Editing a module of stage 07 reruns 07 and the report only; a touched but unchanged file
# reruns nothing. The stage runner then decides by content again (definemed.stages: a fingerprint of
# config section, code and input content), so a copied output tree reruns nothing either.
PROFILE ?= tiny
PYTHON ?= python3
VENV := .venv
# Recipes quote "$(PY)": the clone's path may contain spaces (tests/test_makefile.py runs from one).
PY := $(CURDIR)/$(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/src
export TOKENIZERS_PARALLELISM := false
export HF_HUB_DISABLE_TELEMETRY := 1

DATA := data/$(PROFILE)
M := $(DATA)/manifests
CONFIG := configs/$(PROFILE).yaml
REPORT := figures/$(PROFILE)/report.html
STAGES := 00_corpus 01_label 02_classifier 03_filter zoo 04_cpt 05_merge 06_evaluate 07_failure_analysis
NOTEBOOK_SOURCES := $(wildcard notebooks/src/[0-9][0-9]*_*.py)
NOTEBOOKS := $(patsubst notebooks/src/%.py,notebooks/%.ipynb,$(NOTEBOOK_SOURCES))
DEPS := build/$(PROFILE)/deps.mk

.PHONY: help setup reproduce test bench clean clean-profile stages notebooks check-config lab screenshot FORCE
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_0-9-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'
	@echo "  PROFILE=$(PROFILE) (tiny | paper); stages: $(STAGES)"

setup: $(STAMP) ## Create .venv and install the package with its dev extras (idempotent)
	bash scripts/install_system_deps.sh  # German Hunspell dictionaries (apt, as root)

$(STAMP): pyproject.toml
	@test -x "$(PY)" || $(PYTHON) -m venv $(VENV)
	"$(PY)" -m pip install -q --upgrade pip
	# torch first: 2.13.0 installs here as a local CPU build; letting pip resolve it pulls CUDA wheels
	"$(PY)" -m pip install -q torch==2.13.0
	"$(PY)" -m pip install -q -e '.[dev]'
	@touch $@

# ---- pipeline ------------------------------------------------------------------------------
# Notebooks are generated from their percent-format sources (tests/test_notebooks.py checks they agree);
# each depends on the content stamp of its source and scripts/py2nb.py (build/stamps/notebooks/, in deps.mk).
notebooks/%.ipynb: | $(STAMP)
	"$(PY)" scripts/py2nb.py notebooks/src/$*.py $@

notebooks: $(NOTEBOOKS) ## Regenerate notebooks/*.ipynb from notebooks/src/*.py

# The content stamps and the rules on them, rewritten on every make (a second or two of hashing) for
# the targets that need them; a file whose content did not change keeps its time, so make does not restart.
ifneq ($(filter reproduce report stages notebooks notebooks/% data/% figures/%,$(MAKECMDGOALS)),)
-include $(DEPS)
endif
$(DEPS): FORCE | $(STAMP)
	@"$(PY)" -m definemed.notebooks make-rules --profile $(PROFILE) --out $@
FORCE:

# `exec`: the shell is replaced by python, so make's SIGTERM reaches the runner, which stops its kernel
# and everything the kernel started before it exits (definemed.procs).
$(M)/%.json: | $(STAMP)
	exec "$(PY)" -m definemed run-notebook $* --profile $(PROFILE)

# The one-page report (Markdown + HTML) of every stage's tables, figures and manifests.
$(REPORT): $(foreach s,$(STAGES),$(M)/$(s).json) | $(STAMP)
	exec "$(PY)" -m definemed report --profile $(PROFILE)

reproduce: $(STAMP) $(foreach s,$(STAGES),$(M)/$(s).json) $(REPORT) ## Run the pipeline (PROFILE=tiny by default)
	@echo "reproduce ($(PROFILE)): done; executed notebooks in build/$(PROFILE)/notebooks, figures in figures/$(PROFILE)"

check-config: | $(STAMP) ## Validate configs/$(PROFILE).yaml (unknown keys, types, names, paths)
	"$(PY)" -m definemed validate-config $(PROFILE)

# ---- stepping through ----------------------------------------------------------------------
KERNEL := definemed
lab: $(STAMP) ## JupyterLab on the repository ("DeFineMed (.venv)" kernel): notebooks/ and their executed copies in build/PROFILE/notebooks
	"$(PY)" -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "DeFineMed (.venv)" > /dev/null
	@echo "lab: notebooks/ holds the notebooks (no outputs), build/$(PROFILE)/notebooks/ the copies make reproduce executed"
	"$(PY)" -m jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)  # containers often run as root

screenshot: ## The report's first screen (1400 x 1000) as build/PROFILE/report_first_screen.png (needs chromium)
	"$(PY)" scripts/report_screenshot.py --profile $(PROFILE)

stages: ## Show which stage manifests exist
	@for s in $(STAGES); do test -f $(M)/$$s.json && echo "  done  $$s" || echo "  todo  $$s"; done

# ---- checks -------------------------------------------------------------------------------
test: $(STAMP) ## Run the test suite (CPU, under 10 minutes; GPU tests skip)
	"$(PY)" -m pytest -q tests

bench: $(STAMP) ## Run the benchmarks (~20 min); build/bench/results.json, published to benchmarks/results.json, README table and docs regenerated
	"$(PY)" benchmarks/run.py

# The name is checked by the code's rule and tracked files are never removed (scripts/clean_profile.py).
clean-profile: ## Remove the outputs of PROFILE (data, figures, build); refuses unsafe names and tracked files
	"$(PY)" scripts/clean_profile.py '$(subst ','"'"',$(PROFILE))'

clean: ## Remove all outputs and the virtual environment
	rm -rf data/tiny data/paper figures/tiny figures/paper build $(VENV)
