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
#   PAPER_RUN_STAGES  more stages per run (below); SLURM=1, SWEEP_THREADS: as for any sweep
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
# under SWEEP_RUNS (default runs; sweep.mk, read later, sets that default)
PR := $(or $(SWEEP_RUNS),runs)/paper$(if $(filter-out bsds,$(PAPER_RECIPE)),-$(PAPER_RECIPE))
PAPER_PUB := $(if $(MNISTM_PUBLISHED),$(PR)/published-$(MNISTM_PUBLISHED_SPLIT).npy)

# `make paper` is a sweep of pipelines/sweep.mk (read after this file, which defines it from
# SWEEP_DEFS): recipe PAPER_RECIPE, networks x models x seeds, one run folder each
# ($(PR)/bsds_arch-seed_model-dann_seed-1/: options, train.tsv, train.model, train.seconds,
# result.tsv), the data under $(PR)/data/, every stage resumable and launched through srun
# under SLURM=1 as any sweep's.  What is the paper's own: the 32x32 geometry, the training
# offset, the published MNIST-M as a second target test set, and the table (results.md).
SWEEP_DEFS += paper=PAPER_SWEEP
PAPER_SWEEP_DIR       = $(PR)
PAPER_SWEEP_RECIPES   = $(PAPER_RECIPE)
PAPER_SWEEP_AXES     := arch model
PAPER_SWEEP_arch      = $(PAPER_ARCHS)
PAPER_SWEEP_model    := source-only dann train-on-target
PAPER_SWEEP_model_source-only     := --mode source-only
PAPER_SWEEP_model_dann            := --mode dann --snapshots $(PAPER_SNAPSHOTS)
PAPER_SWEEP_model_train-on-target := --mode source-only source=target
PAPER_SWEEP_SEEDS     = $(PAPER_SEEDS)
PAPER_SWEEP_DATA_SEED := seed
PAPER_SWEEP_TRAIN_N   = $(PAPER_TRAIN_N)
PAPER_SWEEP_TEST_N    = $(PAPER_TEST_N)
PAPER_SWEEP_TRAIN_OFFSET = $(PAPER_TRAIN_OFFSET)
PAPER_SWEEP_FETCH     = --size $(PAPER_SIZE)
PAPER_SWEEP_GEN_$(PAPER_RECIPE) = --recipe $(PAPER_RECIPE) $(if $(filter bsds,$(PAPER_RECIPE)),--backgrounds $(BSDS500_DIR) )--size $(PAPER_SIZE)
PAPER_SWEEP_GEN_DEPS  = $(if $(filter bsds,$(PAPER_RECIPE)),$(BSDS500_DIR))
PAPER_SWEEP_TRAIN_OPTS = $(strip --epochs $(PAPER_EPOCHS) $(PAPER_TRAIN_OPTS))
PAPER_SWEEP_TESTS     = $(if $(PAPER_PUB),published=$(PAPER_PUB))
PAPER_SWEEP_OUTPUTS   = $(PR)/results.md $(PR)/report.html
PAPER_SWEEP_PAGE      = $(PR)/report.html
# A stage of every run after its scores: PAPER_RUN_STAGES += NAME, with NAME a macro
# $(call NAME,PAPER_SWEEP,RUN-FOLDER,DATA-FOLDER) that gives the rules of files in RUN-FOLDER
# (escaped for one $(eval), as the macros of sweep.mk) and adds them to
# PAPER_SWEEP_STAGE_OUTPUTS, which `make paper` makes.
PAPER_RUN_STAGES ?=
PAPER_SWEEP_RUN_STAGES = $(PAPER_RUN_STAGES)

# Only used when no local copy is given: the 200 photographs through mnist-fetch, each verified
# by its SHA-256, from the cache, $BSDS500_MIRROR (folders, BSR_bsds500.tgz, URLs), then
# BSDS500_URL; written into a temporary folder renamed into place.
runs/bsds500/BSR/BSDS500/data/images/train: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	DANN_FETCH_PUBLIC_MIRRORS='$(BSDS500_URL)' $(BIN)/mnist-fetch --dataset bsds500 --split train -q -O $@

$(PR)/published-$(MNISTM_PUBLISHED_SPLIT).npy: | $(BIN)/mnist-fetch
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --dataset mnist-m --split $(MNISTM_PUBLISHED_SPLIT) --mirror $(MNISTM_PUBLISHED) $(MNISTM_PUBLISHED_OPTS) -q -o $@

# mean +- sample std over seeds, beside the paper's Table 2 (MNIST -> MNIST-M), one block per
# network; the published column only when MNISTM_PUBLISHED was given.
$(PR)/results.md: $(PR)/results.tsv pipelines/paper-table.awk
	awk -F'\t' -v epochs=$(PAPER_EPOCHS) -v recipe=$(PAPER_RECIPE) -v size=$(PAPER_SIZE) -v opts='$(PAPER_TRAIN_OPTS)' \
		-v tn=$(PAPER_TEST_N) -v pub='$(if $(MNISTM_PUBLISHED),published MNIST-M $(MNISTM_PUBLISHED_SPLIT) split)' -f pipelines/paper-table.awk $< > $@.tmp
	mv $@.tmp $@

# The report page (dann-report): one page for the run directory, $(PR)/report.html.  Its
# animation is the DANN training of one network and seed (PAPER_REPORT_ARCH, PAPER_REPORT_SEED:
# by default the first of each list; every DANN training keeps PAPER_SNAPSHOTS snapshots in its
# run folder), embedded over PAPER_REPORT_PER_DOMAIN test images a domain; its table is the
# whole results.tsv and its commands every command of the run.
PAPER_REPORT_SEED ?= $(firstword $(PAPER_SEEDS))
PAPER_REPORT_ARCH ?= $(firstword $(PAPER_ARCHS))
PRR := $(PR)/$(PAPER_RECIPE)_arch-$(PAPER_REPORT_ARCH)_model-dann_seed-$(PAPER_REPORT_SEED)
PRS := $(PR)/$(PAPER_RECIPE)_arch-$(PAPER_REPORT_ARCH)_model-source-only_seed-$(PAPER_REPORT_SEED)
PAPER_REPORT_N := $(shell n=$(PAPER_REPORT_PER_DOMAIN); t=$(PAPER_TEST_N); [ "$$t" -gt 0 ] && [ "$$t" -lt "$$n" ] && n=$$t; echo $$n)
$(PRR)/embed/done: $(PRR)/train.model $(PR)/data/mnist-test.npy $(PR)/data/$(PAPER_RECIPE)-s$(PAPER_REPORT_SEED)/mnistm-test.npy | $(BIN)/dann-embed
	@[ -d $(PRR)/snapshots ] || { echo "$(PRR)/snapshots: missing (a make paper before PAPER_SNAPSHOTS kept none): remove $(PRR)/train.model to train it again" >&2; exit 1; }
	$(call embed_snapshots,$(PRR)/snapshots,$(PAPER_REPORT_N),,report)
$(PRR)/tsne/done: $(PRR)/embed/done | $(BIN)/tsne
	rm -rf $(@D) && mkdir -p $(@D)
	$(BIN)/tsne --sequence -O $(@D) --seed $(SEED) --threads $(THREADS) -q $(sort $(wildcard $(PRR)/embed/snap-*.npy))
	touch $@
$(PR)/commands.sh: $(PR)/results.md
	{ echo '# make paper: the commands that made the files of $(PR) (make -n -B)'; \
	  $(call dry_run,$^ $(PR)/report.html); } > $@.tmp
	mv $@.tmp $@
$(PR)/report.html: $(PRR)/tsne/done $(PR)/results.tsv $(PR)/commands.sh | $(BIN)/dann-report
	$(BIN)/dann-report -q --title "make paper: MNIST → MNIST-M ($(PAPER_RECIPE), $(PAPER_SIZE)×$(PAPER_SIZE)); the animation: DANN, arch $(PAPER_REPORT_ARCH), seed $(PAPER_REPORT_SEED)" \
		--snapshots $(PRR)/snapshots/snapshots.tsv --images $(PRR)/embed/points.npy \
		$(addprefix --predictions ,$(sort $(wildcard $(PRR)/embed/pred-*.npy))) \
		--log source-only=$(PRS)/train.tsv --log DANN=$(PRR)/train.tsv \
		--results $(PR)/results.tsv --commands $(PR)/commands.sh -o $@ \
		$(sort $(wildcard $(PRR)/tsne/frame-*.npy))
