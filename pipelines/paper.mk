# pipelines/paper.mk - make paper: Ganin et al.'s MNIST -> MNIST-M (Table 2 of the JMLR paper).
#
# MNIST-M from the bsds recipe (digits blended with random patches of the BSDS500 training
# photographs), full MNIST, PAPER_SEEDS seeds.  For each seed: source-only, DANN and
# train-on-target (an upper bound: trained on labelled MNIST-M), each scored on the MNIST-M
# test split and on the MNIST test split.  Writes runs/paper/results.tsv (one row per model and
# seed: accuracies and training seconds) and results.md (mean +- std next to the paper's figures).
#
#   BSDS500_DIR   a folder of BSDS500 training photographs; when unset and not found beside the
#                 project, `make paper` downloads BSR_bsds500.tgz from Berkeley and unpacks it.
#   PAPER_RECIPE  bsds (default) or noise; noise writes under runs/paper-noise instead.
#   PAPER_TRAIN_N, PAPER_TEST_N   MNIST images used (0 = all; a smaller run for tests).
PAPER_SEEDS  ?= 1 2 3
PAPER_EPOCHS ?= 15
PAPER_TRAIN_OPTS ?=
PAPER_RECIPE ?= bsds
PAPER_TRAIN_N ?= 0
PAPER_TEST_N  ?= 0
BSDS500_URL  ?= http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz
BSDS500_DIR  ?= $(or $(wildcard $(SHARED)/data/bsds500/train),runs/bsds500/BSR/BSDS500/data/images/train)
PR := runs/paper$(if $(filter-out bsds,$(PAPER_RECIPE)),-$(PAPER_RECIPE))
PAPER_GEN := --recipe $(PAPER_RECIPE) $(if $(filter bsds,$(PAPER_RECIPE)),--backgrounds $(BSDS500_DIR))
PAPER_GEN_DEP := $(if $(filter bsds,$(PAPER_RECIPE)),$(BSDS500_DIR))
PAPER_LIMIT_TRAIN := $(if $(filter-out 0,$(PAPER_TRAIN_N)),--limit $(PAPER_TRAIN_N))
PAPER_LIMIT_TEST := $(if $(filter-out 0,$(PAPER_TEST_N)),--limit $(PAPER_TEST_N))

paper: deps
	@$(MAKE) --no-print-directory $(PR)/results.md
	@cat $(PR)/results.md

# Only used when no local copy is given: the 200 photographs through mnist-fetch, each verified
# by its SHA-256, from the cache, $BSDS500_MIRROR (folders, BSR_bsds500.tgz, URLs), then
# BSDS500_URL; written into a temporary folder renamed into place.
runs/bsds500/BSR/BSDS500/data/images/train: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	DANN_FETCH_PUBLIC_MIRRORS='$(BSDS500_URL)' $(BIN)/mnist-fetch --dataset bsds500 --split train -q -O $@

$(PR)/mnist-train.npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --split train $(PAPER_LIMIT_TRAIN) -q -o $@
$(PR)/mnist-test.npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --split test $(PAPER_LIMIT_TEST) -q -o $@

# $(call paper_train,SEED,MODEL,MODE,SOURCE): one training; its wall seconds go to MODEL.seconds.
define paper_train
$(PR)/s$(1)/$(2).model: $(4) $(PR)/s$(1)/mnistm-train.npy $(PR)/s$(1)/mnistm-test.npy | $(BIN)/dann-train
	t0=$$$$(date +%s.%N) && \
	$(BIN)/dann-train --mode $(3) --source $(4) --target $(PR)/s$(1)/mnistm-train.npy --target-test $(PR)/s$(1)/mnistm-test.npy \
		--epochs $(PAPER_EPOCHS) --seed $(1) --threads $(THREADS) $(PAPER_TRAIN_OPTS) --log $$(@:.model=.tsv) -o $$@.part && \
	awk -v a=$$$$t0 -v b=$$$$(date +%s.%N) 'BEGIN { printf "%.1f\n", b - a }' > $$(@:.model=.seconds) && \
	mv $$@.part $$@
endef

# $(call paper_seed,SEED)
define paper_seed
$(PR)/s$(1)/mnistm-train.npy: $(PR)/mnist-train.npy | $(BIN)/mnistm-gen $(PAPER_GEN_DEP)
	@mkdir -p $$(@D)
	$(BIN)/mnistm-gen $(PAPER_GEN) --seed $(1) -q -o $$@ $$<
$(PR)/s$(1)/mnistm-test.npy: $(PR)/mnist-test.npy | $(BIN)/mnistm-gen $(PAPER_GEN_DEP)
	@mkdir -p $$(@D)
	$(BIN)/mnistm-gen $(PAPER_GEN) --seed $(1) --offset 1000000 -q -o $$@ $$<
$(call paper_train,$(1),source-only,source-only,$(PR)/mnist-train.npy)
$(call paper_train,$(1),dann,dann,$(PR)/mnist-train.npy)
$(call paper_train,$(1),train-on-target,source-only,$(PR)/s$(1)/mnistm-train.npy)
$(PR)/s$(1)/results.tsv: $(PR)/s$(1)/source-only.model $(PR)/s$(1)/dann.model $(PR)/s$(1)/train-on-target.model $(PR)/s$(1)/mnistm-test.npy $(PR)/mnist-test.npy
	for m in source-only dann train-on-target; do \
		t=$$$$($(BIN)/dann-embed --model $$(@D)/$$$$m.model --accuracy --domain target --threads $(THREADS) $$(@D)/mnistm-test.npy | awk 'NR==1{print $$$$2}') && \
		s=$$$$($(BIN)/dann-embed --model $$(@D)/$$$$m.model --accuracy --domain source --threads $(THREADS) $(PR)/mnist-test.npy | awk 'NR==1{print $$$$2}') && \
		[ -n "$$$$t" ] && [ -n "$$$$s" ] && printf '%s\t%s\t%s\t%s\t%s\n' $$$$m $(1) $$$$t $$$$s $$$$(cat $$(@D)/$$$$m.seconds) || exit 1; \
	done > $$@.tmp
	mv $$@.tmp $$@
endef
$(foreach s,$(PAPER_SEEDS),$(eval $(call paper_seed,$(s))))

$(PR)/results.tsv: $(foreach s,$(PAPER_SEEDS),$(PR)/s$(s)/results.tsv)
	{ printf 'model\tseed\ttarget_accuracy\tsource_accuracy\ttrain_seconds\n'; cat $^; } > $@.tmp
	mv $@.tmp $@

# mean +- sample std over seeds, beside the paper's Table 2 (MNIST -> MNIST-M).
$(PR)/results.md: $(PR)/results.tsv
	awk -F'\t' -v epochs=$(PAPER_EPOCHS) -v recipe=$(PAPER_RECIPE) -v opts='$(PAPER_TRAIN_OPTS)' -v tn=$(PAPER_TEST_N) ' \
		function sd(m, S, Q) { v = n[m] > 1 ? (Q[m] - n[m] * (S[m] / n[m]) ^ 2) / (n[m] - 1) : 0; return v > 0 ? sqrt(v) : 0 } \
		NR > 1 { m = $$1; n[m]++; s[m] += $$3; q[m] += $$3 * $$3; a[m] += $$4; b[m] += $$4 * $$4; \
		  if (!(m in lo) || $$4 < lo[m]) lo[m] = $$4; if (!(m in tlo) || $$3 < tlo[m]) tlo[m] = $$3; \
		  if (!(m in thi) || $$3 > thi[m]) thi[m] = $$3; w[m] += $$5 } \
		END { paper["source-only"] = ".5225"; paper["dann"] = ".7666"; paper["train-on-target"] = ".9596"; \
		  print "# paper: MNIST -> MNIST-M (" recipe " recipe), " epochs " epochs" (opts != "" ? ", dann-train " opts : ""); print ""; \
		  print "Target: the MNIST-M test split made from " (tn ? "the first " tn : "all 10,000") " of MNIST'"'"'s test images; source: the same MNIST test images."; print ""; \
		  print "| model | target accuracy, mean ± std | target min – max | source accuracy, mean ± std (min) | seeds | training time per run | paper (Ganin et al. 2016) |"; \
		  print "|---|---|---|---|---|---|---|"; \
		  split("source-only dann train-on-target", order, " "); \
		  for (i = 1; i <= 3; i++) { m = order[i]; if (!n[m]) continue; \
		    printf "| %s | %.4f ± %.4f | %.4f – %.4f | %.4f ± %.4f (%.4f) | %d | %.0f s | %s |\n", m, s[m] / n[m], sd(m, s, q), \
		      tlo[m], thi[m], a[m] / n[m], sd(m, a, b), lo[m], n[m], w[m] / n[m], paper[m] } }' $< > $@.tmp
	mv $@.tmp $@
