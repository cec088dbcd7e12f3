# pipelines/paper.mk - make paper: Ganin et al.'s MNIST -> MNIST-M (Table 2 of the JMLR paper).
#
# The published MNIST-M's geometry and recipe (mnistm-gen --recipe bsds defaults: 32x32, the
# digit unscaled in the centre, binary mask, random patches of the BSDS500 training photographs),
# the MNIST source padded the same way (mnist-fetch --size 32), PAPER_SEEDS seeds.  For each
# network (PAPER_ARCHS: `seed`, our network with BatchNorm and dropout, and `paper`, the paper's
# own without either) and seed: source-only, DANN and train-on-target (an upper bound: trained on
# labelled MNIST-M), each scored on the generated MNIST-M test split, on the published MNIST-M
# when MNISTM_PUBLISHED names it, and on the MNIST test split.  Writes runs/paper/results.tsv (one
# row per network, model and seed) and results.md (mean +- std beside the paper's figures).
#
#   BSDS500_DIR   a folder of BSDS500 training photographs; when unset and not found beside the
#                 project, `make paper` fetches the 200 photographs with `mnist-fetch --dataset
#                 bsds500` (cache, BSDS500_MIRROR, then BSDS500_URL), each verified by its SHA-256.
#   PAPER_RECIPE  bsds (default) or noise; noise writes under runs/paper-noise instead.
#   PAPER_ARCHS   networks, `seed paper` by default (dann-train --arch).
#   PAPER_SIZE    image side, 32 by default (the published MNIST-M's); 28 gives the earlier setting.
#   PAPER_TRAIN_N, PAPER_TEST_N   MNIST images used (0 = all; a smaller run for tests).
#   PAPER_TRAIN_OFFSET   skip the first N MNIST training images (0); 10000 keeps the digits of
#                 the published sample (made from MNIST's first 10,000) out of training.
#   MNISTM_PUBLISHED  the published MNIST-M (a folder as distributed, or mnist_m.tar.gz, local or
#                 a URL: mnist-fetch --dataset mnist-m --mirror); every model is also scored on it.
#   MNISTM_PUBLISHED_SPLIT  test (default) or train;  MNISTM_PUBLISHED_OPTS  e.g. --allow-partial
#   PAPER_SNAPSHOTS  snapshots of every DANN training (10), for the report page (below)
#   PAPER_REPORT_PER_DOMAIN  test images a domain in the report page's animation (1000)
PAPER_SEEDS  ?= 1 2 3
PAPER_EPOCHS ?= 15
PAPER_TRAIN_OPTS ?=
PAPER_RECIPE ?= bsds
PAPER_ARCHS  ?= seed paper
PAPER_SIZE   ?= 32
PAPER_TRAIN_N ?= 0
PAPER_TEST_N  ?= 0
PAPER_TRAIN_OFFSET ?= 0
MNISTM_PUBLISHED ?=
MNISTM_PUBLISHED_SPLIT ?= test
MNISTM_PUBLISHED_OPTS ?=
PAPER_SNAPSHOTS ?= 10
PAPER_REPORT_PER_DOMAIN ?= 1000
BSDS500_URL  ?= http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz
BSDS500_DIR  ?= $(or $(wildcard $(SHARED)/data/bsds500/train),runs/bsds500/BSR/BSDS500/data/images/train)
PR := runs/paper$(if $(filter-out bsds,$(PAPER_RECIPE)),-$(PAPER_RECIPE))
PAPER_GEN := --recipe $(PAPER_RECIPE) $(if $(filter bsds,$(PAPER_RECIPE)),--backgrounds $(BSDS500_DIR)) --size $(PAPER_SIZE)
PAPER_GEN_DEP := $(if $(filter bsds,$(PAPER_RECIPE)),$(BSDS500_DIR))
PAPER_LIMIT_TRAIN := $(if $(filter-out 0,$(PAPER_TRAIN_N)),--limit $(PAPER_TRAIN_N)) $(if $(filter-out 0,$(PAPER_TRAIN_OFFSET)),--offset $(PAPER_TRAIN_OFFSET))
PAPER_LIMIT_TEST := $(if $(filter-out 0,$(PAPER_TEST_N)),--limit $(PAPER_TEST_N))
PAPER_PUB := $(if $(MNISTM_PUBLISHED),$(PR)/published-$(MNISTM_PUBLISHED_SPLIT).npy)

paper: deps
	@$(MAKE) --no-print-directory $(PR)/results.md $(PR)/report.html
	@printf '\nopen %s\n\n' $(PR)/report.html
	@cat $(PR)/results.md

# Only used when no local copy is given: the 200 photographs through mnist-fetch, each verified
# by its SHA-256, from the cache, $BSDS500_MIRROR (folders, BSR_bsds500.tgz, URLs), then
# BSDS500_URL; written into a temporary folder renamed into place.
runs/bsds500/BSR/BSDS500/data/images/train: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	DANN_FETCH_PUBLIC_MIRRORS='$(BSDS500_URL)' $(BIN)/mnist-fetch --dataset bsds500 --split train -q -O $@

$(PR)/mnist-train.npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --split train --size $(PAPER_SIZE) $(PAPER_LIMIT_TRAIN) -q -o $@
$(PR)/mnist-test.npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --split test --size $(PAPER_SIZE) $(PAPER_LIMIT_TEST) -q -o $@
$(PR)/published-$(MNISTM_PUBLISHED_SPLIT).npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --dataset mnist-m --split $(MNISTM_PUBLISHED_SPLIT) --mirror $(MNISTM_PUBLISHED) $(MNISTM_PUBLISHED_OPTS) -q -o $@

# $(call paper_train,ARCH,SEED,MODEL,MODE,SOURCE): one training; its wall seconds go to MODEL.seconds.
define paper_train
$(PR)/arch-$(1)/s$(2)/$(3).model: $(5) $(PR)/s$(2)/mnistm-train.npy $(PR)/s$(2)/mnistm-test.npy | $(BIN)/dann-train
	@mkdir -p $$(@D)
	$(if $(filter dann,$(3)),rm -rf $$(@D)/dann-snapshots)
	t0=$$$$(date +%s.%N) && \
	$(BIN)/dann-train --arch $(1) --mode $(4) --source $(5) --target $(PR)/s$(2)/mnistm-train.npy --target-test $(PR)/s$(2)/mnistm-test.npy \
		--epochs $(PAPER_EPOCHS) --seed $(2) --threads $(THREADS) $(PAPER_TRAIN_OPTS) -q --log $$(@:.model=.tsv) -o $$@.part \
		$(if $(filter dann,$(3)),--snapshots $(PAPER_SNAPSHOTS) --snapshot-dir $$(@D)/dann-snapshots) && \
	awk -v a=$$$$t0 -v b=$$$$(date +%s.%N) 'BEGIN { printf "%.1f\n", b - a }' > $$(@:.model=.seconds) && \
	mv $$@.part $$@
endef

# $(call paper_score,MODEL,DOMAIN,FILE): the accuracy of MODEL on FILE, as the shell word $$a.
paper_score = a=$$$$($(BIN)/dann-embed --model $(1) --accuracy --domain $(2) --threads $(THREADS) -q $(3) | awk 'NR==1{print $$$$2}') && [ -n "$$$$a" ]

# $(call paper_arch_seed,ARCH,SEED): the three models of one network and seed, and their row.
define paper_arch_seed
$(call paper_train,$(1),$(2),source-only,source-only,$(PR)/mnist-train.npy)
$(call paper_train,$(1),$(2),dann,dann,$(PR)/mnist-train.npy)
$(call paper_train,$(1),$(2),train-on-target,source-only,$(PR)/s$(2)/mnistm-train.npy)
$(PR)/arch-$(1)/s$(2)/results.tsv: $(PR)/arch-$(1)/s$(2)/source-only.model $(PR)/arch-$(1)/s$(2)/dann.model $(PR)/arch-$(1)/s$(2)/train-on-target.model $(PR)/s$(2)/mnistm-test.npy $(PR)/mnist-test.npy $(PAPER_PUB)
	for m in source-only dann train-on-target; do \
		$(call paper_score,$$(@D)/$$$$m.model,target,$(PR)/s$(2)/mnistm-test.npy) && t=$$$$a && \
		$(call paper_score,$$(@D)/$$$$m.model,source,$(PR)/mnist-test.npy) && s=$$$$a && \
		p=- && $(if $(PAPER_PUB),$(call paper_score,$$(@D)/$$$$m.model,target,$(PAPER_PUB)) && p=$$$$a &&) \
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $(1) $$$$m $(2) $$$$t $$$$p $$$$s $$$$(cat $$(@D)/$$$$m.seconds) || exit 1; \
	done > $$@.tmp
	mv $$@.tmp $$@
endef

# $(call paper_seed,SEED): the generated MNIST-M of one seed; the test split uses image indices
# far from the train split's, so no patch draw repeats.
define paper_seed
$(PR)/s$(1)/mnistm-train.npy: $(PR)/mnist-train.npy | $(BIN)/mnistm-gen $(PAPER_GEN_DEP)
	@mkdir -p $$(@D)
	$(BIN)/mnistm-gen $(PAPER_GEN) --seed $(1) $(if $(filter-out 0,$(PAPER_TRAIN_OFFSET)),--offset $(PAPER_TRAIN_OFFSET)) -q -o $$@ $$<
$(PR)/s$(1)/mnistm-test.npy: $(PR)/mnist-test.npy | $(BIN)/mnistm-gen $(PAPER_GEN_DEP)
	@mkdir -p $$(@D)
	$(BIN)/mnistm-gen $(PAPER_GEN) --seed $(1) --offset 1000000 -q -o $$@ $$<
endef
$(foreach s,$(PAPER_SEEDS),$(eval $(call paper_seed,$(s)))$(foreach a,$(PAPER_ARCHS),$(eval $(call paper_arch_seed,$(a),$(s)))))

$(PR)/results.tsv: $(foreach a,$(PAPER_ARCHS),$(foreach s,$(PAPER_SEEDS),$(PR)/arch-$(a)/s$(s)/results.tsv))
	{ printf 'arch\tmodel\tseed\ttarget_accuracy\tpublished_accuracy\tsource_accuracy\ttrain_seconds\n'; cat $^; } > $@.tmp
	mv $@.tmp $@

# mean +- sample std over seeds, beside the paper's Table 2 (MNIST -> MNIST-M), one block per
# network; the published column only when MNISTM_PUBLISHED was given.
$(PR)/results.md: $(PR)/results.tsv
	awk -F'\t' -v epochs=$(PAPER_EPOCHS) -v recipe=$(PAPER_RECIPE) -v size=$(PAPER_SIZE) -v opts='$(PAPER_TRAIN_OPTS)' \
		-v tn=$(PAPER_TEST_N) -v pub='$(if $(MNISTM_PUBLISHED),published MNIST-M $(MNISTM_PUBLISHED_SPLIT) split)' -f pipelines/paper-table.awk $< > $@.tmp
	mv $@.tmp $@

# The report page (dann-report): one page for the run directory, runs/paper/report.html.  Its
# animation is the DANN training of one network and seed (PAPER_REPORT_RUN, by default the first
# of each list; every DANN training keeps PAPER_SNAPSHOTS snapshots), embedded over
# PAPER_REPORT_PER_DOMAIN test images a domain; its table is the whole results.tsv and its
# commands every command of the run.
PAPER_REPORT_SEED ?= $(firstword $(PAPER_SEEDS))
PAPER_REPORT_RUN ?= arch-$(firstword $(PAPER_ARCHS))/s$(PAPER_REPORT_SEED)
PRR := $(PR)/$(PAPER_REPORT_RUN)
PAPER_REPORT_N := $(shell n=$(PAPER_REPORT_PER_DOMAIN); t=$(PAPER_TEST_N); [ "$$t" -gt 0 ] && [ "$$t" -lt "$$n" ] && n=$$t; echo $$n)
$(PRR)/embed/done: $(PRR)/dann.model $(PR)/mnist-test.npy $(PR)/s$(PAPER_REPORT_SEED)/mnistm-test.npy | $(BIN)/dann-embed
	@[ -d $(PRR)/dann-snapshots ] || { echo "$(PRR)/dann-snapshots: missing (an older make paper kept no snapshots): remove $(PRR)/dann.model to train it again" >&2; exit 1; }
	$(call embed_snapshots,$(PRR)/dann-snapshots,$(PAPER_REPORT_N),,report)
$(PRR)/tsne/done: $(PRR)/embed/done | $(BIN)/tsne
	rm -rf $(@D) && mkdir -p $(@D)
	$(BIN)/tsne --sequence -O $(@D) --seed $(SEED) --threads $(THREADS) -q $(sort $(wildcard $(PRR)/embed/snap-*.npy))
	touch $@
$(PR)/commands.sh: $(PR)/results.md
	{ echo '# make paper: the commands that made the files of $(PR) (make -n -B)'; \
	  $(call dry_run,$^ $(PR)/report.html); } > $@.tmp
	mv $@.tmp $@
$(PR)/report.html: $(PRR)/tsne/done $(PR)/results.tsv $(PR)/commands.sh | $(BIN)/dann-report
	$(BIN)/dann-report -q --title "make paper: MNIST → MNIST-M ($(PAPER_RECIPE), $(PAPER_SIZE)×$(PAPER_SIZE)); the animation: DANN, $(subst /, ,$(PAPER_REPORT_RUN))" \
		--snapshots $(PRR)/dann-snapshots/snapshots.tsv --images $(PRR)/embed/points.npy \
		$(addprefix --predictions ,$(sort $(wildcard $(PRR)/embed/pred-*.npy))) \
		--log source-only=$(PRR)/source-only.tsv --log DANN=$(PRR)/dann.tsv \
		--results $(PR)/results.tsv --commands $(PR)/commands.sh -o $@ \
		$(sort $(wildcard $(PRR)/tsne/frame-*.npy))
