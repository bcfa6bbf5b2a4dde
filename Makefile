# Two commands: `make run` (set up, index the bundled corpus, open the chat) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
AIMF := $(VENV)/bin/aimf
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup run test test-fast gate corpus reader reader-cv near-miss-cv piaf-cv clean

setup:
	bash scripts/setup.sh

run: setup
	$(AIMF) ingest
	$(AIMF) ui

test: setup
	bash scripts/browser.sh
	$(PY) -m pytest -q
	$(MAKE) gate

# The answer-quality gate: the frozen test half of the gold sets (evals/datasets/splits.json), whole corpus indexed,
# extractive writer, must stay above evals/floors.json (set below the figures measured on that half).
gate:
	AIMF_DATA_DIR=.aimf-ci $(AIMF) ingest --quiet
	AIMF_DATA_DIR=.aimf-ci $(AIMF) eval run --split test --out eval-runs/ci --label ci --quiet
	$(AIMF) eval gate --summary eval-runs/ci/summary.json

# Rebuild the corpus's PDF and DOCX documents from corpus/_sources/*.md (same bytes on every run).
corpus:
	$(PY) scripts/build_corpus.py

# Rebuild the shipped reader's weights (rag/models/reader), about 45 minutes on 2 cores: PIAF dev first (8 layers,
# 3 epochs, lr 1e-4 / head 1e-3, seed 13: the defaults of `aimf train reader`), then the gold dev half, each question
# put to the index of the bundled corpus, with 300 PIAF questions again so that PIAF is not forgotten (2 epochs at a
# lower rate), shipped in int8 (14.3 MB instead of 28.4). Both cards record seed and data sha256.
GOLD_RECIPE := --gold dev --limit-questions 300 --epochs 2 --lr 1e-4 --lr-head 5e-4 --weights-dtype int8
GOLD_STAGE := --half all --init .aimf/reader-piaf $(GOLD_RECIPE)
reader: setup
	$(AIMF) train reader --half all --out .aimf/reader-piaf
	$(AIMF) ingest --quiet
	$(AIMF) train reader $(GOLD_STAGE)

# The dev groups of evals/datasets/splits.json, and the question file of group $$g (shell text for the recipes below).
DEV_GROUPS = $$($(PY) -c "from evals.splits import load_splits; \
	print(' '.join(g for g, v in load_splits().items() if v['split'] == 'dev'))")
GROUP_FILE = $$($(PY) -c "from evals.splits import load_splits; print(load_splits()['$$g']['file'])")

# The dev figures "en validation croisée par groupe" of the README: each dev group is read by a reader whose gold
# stage (same recipe, from the same PIAF stage) saw only the other dev groups; the runs are then pooled into
# eval-runs/reader-cv. About 10 minutes per group on 2 cores, plus 45 for the PIAF stage when it is not there yet.
reader-cv: setup
	test -f .aimf/reader-piaf/card.json || $(AIMF) train reader --half all --out .aimf/reader-piaf
	$(AIMF) ingest --quiet
	set -e; groups=$(DEV_GROUPS); \
	for g in $$groups; do \
		$(AIMF) train reader $(GOLD_STAGE) --leave-out $$g --out .aimf/reader-cv-$$g; \
		AIMF_READER=.aimf/reader-cv-$$g $(AIMF) eval run --quiet --out eval-runs/reader-cv-$$g --dataset \
			$(GROUP_FILE); \
	done; \
	$(AIMF) eval pool $$(for g in $$groups; do echo eval-runs/reader-cv-$$g; done) --out eval-runs/reader-cv

# Declining measured on questions the readers never saw: each dev group's near-misses (`aimf eval near-miss`, one
# name, year or amount swapped) asked with that group's held-out reader from `make reader-cv`. A few minutes per group.
near-miss-cv: setup
	set -e; for g in $(DEV_GROUPS); do \
		test -f .aimf/reader-cv-$$g/card.json || { echo "lecteur .aimf/reader-cv-$$g absent : lancez d'abord make reader-cv" >&2; exit 2; }; \
		AIMF_READER=.aimf/reader-cv-$$g $(AIMF) eval near-miss --quiet --out eval-runs/near-miss-cv-$$g.json --dataset \
			$(GROUP_FILE); \
	done

# The PIAF row of the README, "en validation croisée par moitiés d'articles": two readers of the shipped recipe, one
# trained on the even articles of PIAF dev and one on the odd ones (each then given the gold stage with PIAF questions
# of its own half), each reading the whole assistant's answers to the questions of the articles it never saw; the two
# runs pooled into eval-runs/piaf-cv. The readers are kept and skipped when present; trained side by side on one
# thread each, the two PIAF stages took 48 and 52 minutes here, the two gold stages 16 (plus 8 to measure 60
# questions each); indexing PIAF's 354 paragraphs takes about 10 minutes, each half's run a few more.
PIAF_FILE = $$($(PY) -c "from evals.dataset import PIAF; import os; print(os.environ.get('AIMF_PIAF', PIAF))")
piaf-cv: setup
	$(AIMF) ingest --quiet
	set -e; for h in even odd; do \
		test -f .aimf/reader-$$h-piaf/card.json || \
			$(AIMF) train reader --half $$h --eval-limit 60 --out .aimf/reader-$$h-piaf; \
		test -f .aimf/reader-$$h/card.json || \
			$(AIMF) train reader $(GOLD_RECIPE) --half $$h --eval-limit 60 --init .aimf/reader-$$h-piaf --out .aimf/reader-$$h; \
	done
	AIMF_READER=.aimf/reader-even $(AIMF) eval run --quiet --dataset $(PIAF_FILE) --articles odd --out eval-runs/piaf-cv-odd
	AIMF_READER=.aimf/reader-odd $(AIMF) eval run --quiet --dataset $(PIAF_FILE) --articles even --out eval-runs/piaf-cv-even
	$(AIMF) eval pool eval-runs/piaf-cv-odd eval-runs/piaf-cv-even --out eval-runs/piaf-cv

test-fast: setup
	$(PY) -m pytest -q -m "not real"

clean:
	rm -rf .aimf .aimf-ci eval-runs bench-results test-output
