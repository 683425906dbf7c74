# DeFineMed reproduction: the pipeline as a build graph.
# Each stage's target is the manifest it writes (data/<profile>/manifests/<stage>.json); a stage
# depends on its notebook, its config, the package code and the previous stage's manifest, so a
# second `make reproduce` with nothing changed runs nothing.
PROFILE ?= tiny
PYTHON ?= python3
VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/src
export TOKENIZERS_PARALLELISM := false
export HF_HUB_DISABLE_TELEMETRY := 1

DATA := data/$(PROFILE)
M := $(DATA)/manifests
CONFIG := configs/$(PROFILE).yaml
SRC := $(shell find src -name '*.py' -o -name '*.txt' -o -name '*.jinja' -o -name '*_yaml' -o -name '*.yaml' | sort) pyproject.toml
PROMPT_FILES := $(wildcard prompts/*)

# Numbered notebooks that exist; each one's manifest is a target of `reproduce`.
NOTEBOOK_STAGES := $(sort $(basename $(notdir $(wildcard notebooks/[0-9][0-9]_*.ipynb))))
# Non-notebook steps (e.g. the foundation-model zoo), added by their issues.
EXTRA_STAGES := $(if $(wildcard src/definemed/zoo/__init__.py),zoo)

.PHONY: help setup reproduce test test-fast bench clean clean-profile stages
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_0-9-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'
	@echo "  PROFILE=$(PROFILE) (tiny | paper); stages: $(NOTEBOOK_STAGES) $(EXTRA_STAGES)"

setup: $(STAMP) ## Create .venv and install the package with its dev extras (idempotent)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first: 2.13.0 installs here as a local CPU build; letting pip resolve it pulls CUDA wheels
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# ---- pipeline ------------------------------------------------------------------------------
$(M)/%.json: notebooks/%.ipynb $(CONFIG) $(SRC) $(PROMPT_FILES) | $(STAMP)
	$(PY) -m definemed run-notebook $* --profile $(PROFILE)

# The foundation models (not a notebook: in the paper profile it is the download of the models).
$(M)/zoo.json: $(CONFIG) $(SRC) $(M)/00_corpus.json | $(STAMP)
	$(PY) -m definemed zoo --profile $(PROFILE)

# Stage order (only stages whose notebook exists are run).
$(M)/01_label.json: $(M)/00_corpus.json
$(M)/02_classifier.json: $(M)/01_label.json
$(M)/03_filter.json: $(M)/02_classifier.json
$(M)/04_cpt.json: $(M)/03_filter.json $(M)/zoo.json
$(M)/05_merge.json: $(M)/04_cpt.json
$(M)/06_evaluate.json: $(M)/05_merge.json
$(M)/07_failure_analysis.json: $(M)/06_evaluate.json

# The one-page report (Markdown + HTML) of every stage's tables, figures and manifests.
figures/$(PROFILE)/report.html: $(foreach s,$(NOTEBOOK_STAGES) $(EXTRA_STAGES),$(M)/$(s).json) src/definemed/report/build.py | $(STAMP)
	$(PY) -m definemed report --profile $(PROFILE)

reproduce: $(STAMP) $(foreach s,$(NOTEBOOK_STAGES) $(EXTRA_STAGES),$(M)/$(s).json) figures/$(PROFILE)/report.html ## Run the pipeline (PROFILE=tiny by default)
	@echo "reproduce ($(PROFILE)): done; executed notebooks in build/$(PROFILE)/notebooks, figures in figures/$(PROFILE)"

stages: ## Show which stage manifests exist
	@for s in $(NOTEBOOK_STAGES) $(EXTRA_STAGES); do test -f $(M)/$$s.json && echo "  done  $$s" || echo "  todo  $$s"; done

# ---- checks -------------------------------------------------------------------------------
test: $(STAMP) ## Run the test suite (CPU, under 10 minutes; GPU tests skip)
	$(PY) -m pytest -q tests

bench: $(STAMP) ## Run the benchmarks; results in build/bench/
	$(PY) benchmarks/run.py

clean-profile: ## Remove the outputs of PROFILE (data, figures, build)
	rm -rf data/$(PROFILE) figures/$(PROFILE) build/$(PROFILE)

clean: ## Remove all outputs and the virtual environment
	rm -rf data/tiny data/paper figures/tiny figures/paper build $(VENV)
