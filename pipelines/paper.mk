# pipelines/paper.mk - make paper: Ganin et al.'s MNIST -> MNIST-M (Table 2 of the JMLR paper).
#
# MNIST-M from the bsds recipe (digits blended with random patches of the BSDS500 training
# photographs), full MNIST, PAPER_SEEDS seeds.  For each seed: source-only, DANN and
# train-on-target (an upper bound: trained on labelled MNIST-M), each scored on the MNIST-M
# test split.  Writes runs/paper/results.tsv (one row per model and seed) and results.md
# (mean +- std next to the paper's figures).
#
#   BSDS500_DIR   a folder of BSDS500 training photographs; when unset and not found beside the
#                 project, `make paper` downloads BSR_bsds500.tgz from Berkeley and unpacks it.
PAPER_SEEDS  ?= 1 2 3
PAPER_EPOCHS ?= 15
PAPER_TRAIN_OPTS ?=
BSDS500_URL  ?= http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz
BSDS500_DIR  ?= $(or $(wildcard $(SHARED)/data/bsds500/train),runs/bsds500/BSR/BSDS500/data/images/train)
PR := runs/paper

paper: deps
	@$(MAKE) --no-print-directory $(PR)/results.md
	@cat $(PR)/results.md

# Only used when no local copy is given: download, then unpack.
runs/bsds500/BSR/BSDS500/data/images/train:
	@mkdir -p runs/bsds500
	command -v curl >/dev/null || { echo "paper: curl is needed to download BSDS500 (or set BSDS500_DIR)" >&2; exit 1; }
	curl -fL --retry 3 --connect-timeout 20 -o runs/bsds500/BSR_bsds500.tgz.part $(BSDS500_URL)
	mv runs/bsds500/BSR_bsds500.tgz.part runs/bsds500/BSR_bsds500.tgz
	tar -xzf runs/bsds500/BSR_bsds500.tgz -C runs/bsds500 BSR/BSDS500/data/images/train
	touch $@

$(PR)/mnist-train.npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --split train -q -o $@
$(PR)/mnist-test.npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --split test -q -o $@

# $(call paper_seed,SEED)
define paper_seed
$(PR)/s$(1)/mnistm-train.npy: $(PR)/mnist-train.npy | $(BIN)/mnistm-gen $(BSDS500_DIR)
	@mkdir -p $$(@D)
	$(BIN)/mnistm-gen --recipe bsds --backgrounds $(BSDS500_DIR) --seed $(1) -q -o $$@ $$<
$(PR)/s$(1)/mnistm-test.npy: $(PR)/mnist-test.npy | $(BIN)/mnistm-gen $(BSDS500_DIR)
	@mkdir -p $$(@D)
	$(BIN)/mnistm-gen --recipe bsds --backgrounds $(BSDS500_DIR) --seed $(1) --offset 1000000 -q -o $$@ $$<
$(PR)/s$(1)/source-only.model: $(PR)/mnist-train.npy $(PR)/s$(1)/mnistm-train.npy $(PR)/s$(1)/mnistm-test.npy | $(BIN)/dann-train
	$(BIN)/dann-train --mode source-only --source $$(word 1,$$^) --target $$(word 2,$$^) --target-test $$(word 3,$$^) \
		--epochs $(PAPER_EPOCHS) --seed $(1) --threads $(THREADS) $(PAPER_TRAIN_OPTS) --log $$(@:.model=.tsv) -o $$@
$(PR)/s$(1)/dann.model: $(PR)/mnist-train.npy $(PR)/s$(1)/mnistm-train.npy $(PR)/s$(1)/mnistm-test.npy | $(BIN)/dann-train
	$(BIN)/dann-train --mode dann --source $$(word 1,$$^) --target $$(word 2,$$^) --target-test $$(word 3,$$^) \
		--epochs $(PAPER_EPOCHS) --seed $(1) --threads $(THREADS) $(PAPER_TRAIN_OPTS) --log $$(@:.model=.tsv) -o $$@
$(PR)/s$(1)/train-on-target.model: $(PR)/s$(1)/mnistm-train.npy $(PR)/s$(1)/mnistm-test.npy | $(BIN)/dann-train
	$(BIN)/dann-train --mode source-only --source $$(word 1,$$^) --target $$(word 1,$$^) --target-test $$(word 2,$$^) \
		--epochs $(PAPER_EPOCHS) --seed $(1) --threads $(THREADS) $(PAPER_TRAIN_OPTS) --log $$(@:.model=.tsv) -o $$@
$(PR)/s$(1)/results.tsv: $(PR)/s$(1)/source-only.model $(PR)/s$(1)/dann.model $(PR)/s$(1)/train-on-target.model $(PR)/s$(1)/mnistm-test.npy
	for m in source-only dann train-on-target; do \
		a=$$$$($(BIN)/dann-embed --model $$(@D)/$$$$m.model --accuracy --threads $(THREADS) $$(@D)/mnistm-test.npy | awk 'NR==1{print $$$$2}') && \
		[ -n "$$$$a" ] && printf '%s\t%s\t%s\n' $$$$m $(1) $$$$a || exit 1; \
	done > $$@.tmp
	mv $$@.tmp $$@
endef
$(foreach s,$(PAPER_SEEDS),$(eval $(call paper_seed,$(s))))

$(PR)/results.tsv: $(foreach s,$(PAPER_SEEDS),$(PR)/s$(s)/results.tsv)
	{ printf 'model\tseed\ttarget_accuracy\n'; cat $^; } > $@.tmp
	mv $@.tmp $@

# mean +- sample std over seeds, beside the paper's Table 2 (MNIST -> MNIST-M).
$(PR)/results.md: $(PR)/results.tsv
	awk -F'\t' -v epochs=$(PAPER_EPOCHS) ' \
		NR > 1 { n[$$1]++; s[$$1] += $$3; q[$$1] += $$3 * $$3 } \
		END { paper["source-only"] = ".5225"; paper["dann"] = ".7666"; paper["train-on-target"] = ".9596"; \
		  print "# paper: MNIST -> MNIST-M (bsds recipe), " epochs " epochs"; print ""; \
		  print "| model | target accuracy, mean ± std | seeds | paper (Ganin et al. 2016) |"; print "|---|---|---|---|"; \
		  split("source-only dann train-on-target", order, " "); \
		  for (i = 1; i <= 3; i++) { m = order[i]; if (!n[m]) continue; mu = s[m] / n[m]; \
		    v = n[m] > 1 ? (q[m] - n[m] * mu * mu) / (n[m] - 1) : 0; if (v < 0) v = 0; \
		    printf "| %s | %.4f ± %.4f | %d | %s |\n", m, mu, sqrt(v), n[m], paper[m] } }' $< > $@.tmp
	mv $@.tmp $@

.PHONY: paper
