# pipelines/sweep.mk - sweeps: every combination of the values given per option, over seeds,
# on one machine (make -j) or through Slurm (SLURM=1).  README "Sweeps and clusters".
#
#   make sweep-lambda   the lambda schedule of DANN: the paper's gamma = 10 against other gamma
#                       and against constant lambda values, 3 seeds, noise MNIST-M
#   make sweep          a sweep described on the command line with SWEEP_* (below)
#
# $(call sweep,NAME,P) defines runs/NAME/ from the variables P_*:
#   P_RECIPES          MNIST-M recipes, one data set and one set of runs each (noise, bsds)
#   P_GEN_<recipe>     mnistm-gen options of a recipe (default --recipe <recipe>; bsds adds
#                      --backgrounds $(SWEEP_BACKGROUNDS))
#   P_AXES             the swept options, in order; the first is the x axis of the figure
#   P_<axis>           the values of an axis
#   P_<axis>_<value>   dann-train options for that value (default: --<axis> <value>); the word
#                      source=target in them trains on the labelled target instead of MNIST
#                      (the train-on-target bound)
#   P_SEEDS            seeds: the table gives mean +- std and min - max over them
#   P_DATA_SEED        seed: MNIST-M generated anew for each run's seed (as make paper does);
#                      a number: one MNIST-M for every run
#   P_TRAIN_N P_TEST_N MNIST images used (0 = all)
#   P_TRAIN_OPTS       dann-train options of every run (--epochs, --steps, ...)
# and, optionally (make paper uses them):
#   P_DIR              the sweep's folder (default $(SWEEP_RUNS)/NAME)
#   P_FETCH            mnist-fetch options of both splits (--size 32)
#   P_TRAIN_OFFSET     skip the first N MNIST training images (their MNIST-M keeps the draws
#                      of the same image indices)
#   P_GEN_DEPS         what the generation needs first (a folder of photographs)
#   P_TESTS            more test sets, words NAME=FILE: every model is also scored on FILE (as
#                      target-domain data), the column NAME_accuracy of results.tsv
#   P_PAGE             a page `make NAME` also makes and names (`open FILE`) before the table
#   P_OUTPUTS          what `make NAME` makes; it shows the first (default: summary.md and the
#                      figures)
#   P_RUN_STAGES       macros called for every run after its scores, $(call M,P,RUN-FOLDER,
#                      DATA-FOLDER): the rules of more files of the run (escaped for one
#                      $(eval)), which they add to P_STAGE_OUTPUTS, made by `make NAME`
# A makefile read before this one defines its sweep by adding NAME=P to SWEEP_DEFS.
# Axis names and values are words of letters, digits and . + - (they name files).
#
# Layout: runs/NAME/data/ (MNIST, and MNIST-M per recipe and data seed), one folder per run
# named from its settings (runs/NAME/noise_schedule-gamma10_seed-1/: options, train.tsv,
# train.model, train.seconds, result.tsv), and the results: results.tsv (a row per run:
# recipe, the axes, seed, target_accuracy, the P_TESTS accuracies, source_accuracy,
# train_seconds),
# summary.tsv and summary.md (mean +- std, min - max over seeds per configuration) and
# RECIPE.png (target accuracy against the first axis).
#
# Every stage is a file written under a temporary name and renamed, so a failed or cancelled
# run leaves nothing under a final name and `make` again does only what is missing.  A
# training stopped by SIGTERM or SIGINT (Ctrl-C, scancel) leaves a checkpoint that the next
# make resumes from.  `options` holds a run's dann-train options and changes only when they
# do; the run depends on it, so changing an option retrains exactly the runs it touches.
#
# Slurm (README "Running on a cluster"): SLURM=1 prefixes every mnistm-gen, dann-train and
# dann-embed with srun, one task of SLURM_CPUS CPUs each; make stays the scheduler of
# dependencies, run it with -j (the number of trainings at once).
#   SWEEP_THREADS    threads of each tool on this machine (default 1; make -j N runs N)
#   SLURM            1: launch through srun; 0 (default): run here with SWEEP_THREADS threads
#   SLURM_CPUS       CPUs (and threads) per task (default: SLURM_CPUS_PER_TASK of the
#                    allocation make runs in, else SWEEP_THREADS)
#   SLURM_SRUN_OPTS  more srun options (--partition, --time, --mem-per-cpu, ...)
#   SWEEP_RUNS       the folder that holds the sweeps (default runs; shared on a cluster)
#   SWEEP_BIN        where the tools are (default the build's bin/)

SWEEP_RUNS ?= runs
SWEEP_BIN  ?= $(BIN)
SWEEP_BACKGROUNDS ?= $(or $(wildcard $(SHARED)/data/bsds500/train),runs/bsds500/BSR/BSDS500/data/images/train)
# One thread per training, and make -j N for N trainings at once: on 2 busy cores one training
# ran 4.6 times slower at 2 threads than at 1 (README "Sweeps and clusters").
SWEEP_THREADS ?= 1
SLURM      ?= 0
SLURM_CPUS ?= $(or $(SLURM_CPUS_PER_TASK),$(SWEEP_THREADS))
SLURM_SRUN_OPTS ?=
# Under Slurm the compute nodes hold no package database: install on the login node (make deps).
SWEEP_DEPS ?= $(if $(filter 1,$(SLURM)),,deps)
sweep_threads = $(if $(filter 1,$(SLURM)),$(SLURM_CPUS),$(SWEEP_THREADS))
# $(call sweep_launch,JOB-NAME): the prefix of a command that should run on a compute node.
# --exact: a step inside an allocation takes only its own CPUs, so steps run side by side.
sweep_launch = $(if $(filter 1,$(SLURM)),srun --exact --nodes=1 --ntasks=1 --cpus-per-task=$(SLURM_CPUS) --job-name=$(1) $(SLURM_SRUN_OPTS))

SWEEP_PLOT := $(BUILD)/pipelines/sweep-plot
# the sweep tests run it directly
test: $(SWEEP_PLOT)
$(BUILD)/pipelines/%: $(BUILD)/pipelines/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS_ALL)
.SECONDARY: $(BUILD)/pipelines/sweep-plot.o
-include $(BUILD)/pipelines/sweep-plot.d

# A settings file: written by its rule when missing; rewritten while make reads the makefiles
# when it holds other text, so that what depends on it is made again (under make -n it is left
# alone and only marked out of date) -- only by a make asked for the sweep or a file in its
# folder (sweep_active): another make, with other settings of the same sweep or none, leaves
# it alone.  Text without commas.
sweep_eq = $(and $(findstring x$(1)x,x$(2)x),$(findstring x$(2)x,x$(1)x))
sweep_dry := $(findstring n,$(firstword -$(MAKEFLAGS)))
sweep_restamp = $(if $(sweep_active),$(if $(wildcard $(1)),$(if $(call sweep_eq,$(2),$(file <$(1))),,$(if $(sweep_dry),$(eval $(1): sweep-force),$(file >$(1),$(2))))))
sweep-force:
.PHONY: sweep-force
# $(call sweep_stamp_rule,FILE,TEXT)
define sweep_stamp_rule
$$(call sweep_restamp,$(1),$(2))
$(1):
	@mkdir -p $$(@D) && printf '%s\n' '$(2)' > $$@.tmp && mv $$@.tmp $$@
endef

# The options of one axis value, and of a combination word a=v@b=w.
sweep_opt = $(if $(filter-out undefined,$(origin $(1)_$(2)_$(3))),$($(1)_$(2)_$(3)),--$(2) $(3))
sweep_pairs = $(foreach p,$(subst @, ,$(2)),$(call sweep_opt,$(1),$(word 1,$(subst =, ,$(p))),$(word 2,$(subst =, ,$(p)))))
sweep_values = $(foreach p,$(subst @, ,$(1)),$(word 2,$(subst =, ,$(p))))
# Every combination of the axes' values as words a=v@b=w (the first axis varies slowest).
sweep_cross = $(if $(2),$(foreach v,$($(1)_$(firstword $(2))),$(addprefix $(firstword $(2))=$(v)@,$(call sweep_cross,$(1),$(wordlist 2,999,$(2))))),END)
sweep_combos = $(patsubst %@END,%,$(filter-out END,$(call sweep_cross,$(1),$($(1)_AXES)))) $(if $($(1)_AXES),,END)
# A run's folder: recipe, axis-value pairs, seed.  $(call sweep_run_name,RECIPE,COMBO,SEED)
sweep_run_name = $(1)$(if $(filter-out END,$(2)),_$(subst @,_,$(subst =,-,$(2))))_seed-$(3)
sweep_gen = $(if $(filter-out undefined,$(origin $(1)_GEN_$(2))),$($(1)_GEN_$(2)),--recipe $(2)$(if $(filter bsds,$(2)), --backgrounds $(SWEEP_BACKGROUNDS)))
sweep_data_seed = $(if $(filter seed,$($(1)_DATA_SEED)),$(2),$($(1)_DATA_SEED))
sweep_sp := $(subst x, ,x)
sweep_tabs = $(subst $(sweep_sp),\t,$(strip $(1)))
sweep_limit = $(if $(filter-out 0,$(1)),--limit $(1))
sweep_offset = $(if $(filter-out 0,$(1)),--offset $(1))
# mnistm-gen options of the training split: $(call sweep_gen_train,P,RECIPE,DATA-SEED)
sweep_gen_train = $(call sweep_gen,$(1),$(2)) --seed $(3)$(if $(call sweep_offset,$($(1)_TRAIN_OFFSET)), $(call sweep_offset,$($(1)_TRAIN_OFFSET)))
# The MNIST training split's mnist-fetch options and the generation options of its MNIST-M
# (which start at the same image index, so that each image keeps its draw): $(call ..,P)
sweep_fetch_train = $(strip $(call sweep_limit,$($(1)_TRAIN_N)) $($(1)_FETCH) $(call sweep_offset,$($(1)_TRAIN_OFFSET)))
sweep_fetch_test = $(strip $(call sweep_limit,$($(1)_TEST_N)) $($(1)_FETCH))
# The more test sets of P_TESTS (words NAME=FILE): their files and names.
sweep_test_files = $(foreach t,$($(1)_TESTS),$(word 2,$(subst =, ,$(t))))
sweep_test_names = $(foreach t,$($(1)_TESTS),$(word 1,$(subst =, ,$(t))))

# $(call sweep_data,P,R,RECIPE,DATA-SEED): MNIST-M of one recipe and seed.
define sweep_data
$(call sweep_stamp_rule,$(2)/data/$(3)-s$(4)/options,$(call sweep_gen_train,$(1),$(3),$(4)))
$(2)/data/$(3)-s$(4)/mnistm-train.npy: $(2)/data/mnist-train.npy $(2)/data/$(3)-s$(4)/options | $(SWEEP_BIN)/mnistm-gen $($(1)_GEN_DEPS)
	$$(call sweep_launch,mnistm-gen) $(SWEEP_BIN)/mnistm-gen $(call sweep_gen_train,$(1),$(3),$(4)) -q -o $$@ $$<
$(2)/data/$(3)-s$(4)/mnistm-test.npy: $(2)/data/mnist-test.npy $(2)/data/$(3)-s$(4)/options | $(SWEEP_BIN)/mnistm-gen $($(1)_GEN_DEPS)
	$$(call sweep_launch,mnistm-gen) $(SWEEP_BIN)/mnistm-gen $(call sweep_gen,$(1),$(3)) --seed $(4) --offset 1000000 -q -o $$@ $$<
endef

# $(call sweep_run,P,R,RECIPE,COMBO,SEED): one training and its scores, then the stages of
# P_RUN_STAGES.
define sweep_run
$(call sweep_stamp_rule,$(2)/$(call sweep_run_name,$(3),$(4),$(5))/options,$(strip $(call sweep_pairs,$(1),$(filter-out END,$(4))) $($(1)_TRAIN_OPTS) --seed $(5)))
$(2)/$(call sweep_run_name,$(3),$(4),$(5))/train.model: $(2)/$(call sweep_run_name,$(3),$(4),$(5))/options \
		$(if $(filter source=target,$(call sweep_pairs,$(1),$(filter-out END,$(4)))),$(2)/data/$(3)-s$(call sweep_data_seed,$(1),$(5))/mnistm-train.npy,$(2)/data/mnist-train.npy) \
		$(2)/data/$(3)-s$(call sweep_data_seed,$(1),$(5))/mnistm-train.npy $(2)/data/$(3)-s$(call sweep_data_seed,$(1),$(5))/mnistm-test.npy \
		| $(SWEEP_BIN)/dann-train
	SWEEP_LAUNCH='$$(call sweep_launch,$(call sweep_run_name,$(3),$(4),$(5)))' pipelines/sweep-run.sh train $$(@D) $(SWEEP_BIN) $$(wordlist 2,4,$$+) \
		$(strip $(filter-out source=target,$(call sweep_pairs,$(1),$(filter-out END,$(4)))) $($(1)_TRAIN_OPTS)) --seed $(5) --threads $$(sweep_threads)
$(2)/$(call sweep_run_name,$(3),$(4),$(5))/result.tsv: $(2)/$(call sweep_run_name,$(3),$(4),$(5))/train.model \
		$(2)/data/mnist-test.npy $(2)/data/$(3)-s$(call sweep_data_seed,$(1),$(5))/mnistm-test.npy $(2)/data/score-options \
		$(call sweep_test_files,$(1)) | $(SWEEP_BIN)/dann-embed
	SWEEP_LAUNCH='$$(call sweep_launch,$(call sweep_run_name,$(3),$(4),$(5))-eval)' pipelines/sweep-run.sh eval $$(@D) $(SWEEP_BIN) $$(wordlist 2,3,$$+) \
		$$(sweep_threads) $(foreach f,$(call sweep_test_files,$(1)),--also $(f)) $(3) $(call sweep_values,$(filter-out END,$(4))) $(5)
$(1)_RESULTS += $(2)/$(call sweep_run_name,$(3),$(4),$(5))/result.tsv
$(foreach g,$($(1)_RUN_STAGES),$(call $(g),$(1),$(2)/$(call sweep_run_name,$(3),$(4),$(5)),$(2)/data/$(3)-s$(call sweep_data_seed,$(1),$(5))))
endef

# $(call sweep,NAME,P)
define sweep
$(1)_R := $(or $($(2)_DIR),$(SWEEP_RUNS)/$(1))
sweep_active := $$(filter $(1) $$($(1)_R)/%,$$(MAKECMDGOALS))
$(2)_RESULTS :=
$(2)_STAGE_OUTPUTS :=

$(1): $$(SWEEP_DEPS)
	@$$(MAKE) --no-print-directory $$(or $$($(2)_OUTPUTS),$$($(1)_R)/summary.md $$(foreach r,$$($(2)_RECIPES),$$($(1)_R)/$$(r).png)) $$($(2)_STAGE_OUTPUTS)
	@$$(if $$($(2)_PAGE),printf '\nopen %s\n\n' $$($(2)_PAGE))
	@cat $$(firstword $$($(2)_OUTPUTS) $$($(1)_R)/summary.md)

$$(eval $$(call sweep_stamp_rule,$$($(1)_R)/data/train-options,$$(call sweep_fetch_train,$(2))))
$$(eval $$(call sweep_stamp_rule,$$($(1)_R)/data/test-options,$$(call sweep_fetch_test,$(2))))
# the test sets every model is scored on besides the two splits: another list scores them again
$$(eval $$(call sweep_stamp_rule,$$($(1)_R)/data/score-options,$$($(2)_TESTS)))
$$($(1)_R)/data/mnist-train.npy: $$($(1)_R)/data/train-options | $(SWEEP_BIN)/mnist-fetch
	$(SWEEP_BIN)/mnist-fetch --split train $$(call sweep_fetch_train,$(2)) -q -o $$@
$$($(1)_R)/data/mnist-test.npy: $$($(1)_R)/data/test-options | $(SWEEP_BIN)/mnist-fetch
	$(SWEEP_BIN)/mnist-fetch --split test $$(call sweep_fetch_test,$(2)) -q -o $$@

$$(foreach r,$$($(2)_RECIPES),$$(foreach s,$$(sort $$(foreach x,$$($(2)_SEEDS),$$(call sweep_data_seed,$(2),$$(x)))),$$(eval $$(call sweep_data,$(2),$$($(1)_R),$$(r),$$(s)))))
$$(foreach r,$$($(2)_RECIPES),$$(foreach c,$$(call sweep_combos,$(2)),$$(foreach s,$$($(2)_SEEDS),$$(eval $$(call sweep_run,$(2),$$($(1)_R),$$(r),$$(c),$$(s))))))

# One row per run, in the order of the definition; then the table over seeds.
$$($(1)_R)/results.tsv: $$($(2)_RESULTS)
	{ printf '$$(call sweep_tabs,recipe $$($(2)_AXES) seed target_accuracy $$(addsuffix _accuracy,$$(call sweep_test_names,$(2))) source_accuracy train_seconds)\n'; cat $$^; } > $$@.tmp
	mv $$@.tmp $$@
$$($(1)_R)/summary.md: $$($(1)_R)/results.tsv
	pipelines/sweep-table.sh --title '$(1): dann-train $$(strip $$($(2)_TRAIN_OPTS))$$(if $$(filter-out 0,$$($(2)_TRAIN_N)),; $$($(2)_TRAIN_N) MNIST training images)' \
		--tsv $$($(1)_R)/summary.tsv -o $$@ $$<
$$($(1)_R)/summary.tsv: $$($(1)_R)/summary.md
$$($(1)_R)/%.png: $$($(1)_R)/results.tsv | $(SWEEP_PLOT)
	$(SWEEP_PLOT) --recipe $$* --title '$(1) ($$*): target accuracy over seeds' -o $$@ $$<
.PHONY: $(1)
endef


# --- make sweep-lambda: the lambda schedule ---------------------------------------------
# lambda_p = 2 / (1 + exp(-gamma p)) - 1 rises from 0 to 1 over training (p from 0 to 1); the
# paper's gamma = 10 reaches 0.76 at p = 0.2, gamma 1 only 0.46 at the end, gamma 100 is above
# 0.9999 from p = 0.1 on.  Against it, lambda held constant (dann-train --lambda-const): 0 (the domain
# classifier learns, the features ignore it: per-domain BatchNorm alone), 0.1, 0.3, 1.
# Defaults: 10,000 MNIST training images, 3,000 steps (where DANN has adapted: README), 3 seeds;
# gamma3, gamma30 and lambda3 are defined for SWEEP_LAMBDA_schedule too.
SWEEP_LAMBDA_RECIPES ?= noise
SWEEP_LAMBDA_AXES    ?= schedule
SWEEP_LAMBDA_schedule ?= lambda0 lambda0.1 lambda0.3 lambda1 gamma1 gamma10 gamma100
$(foreach v,0 0.1 0.3 1 3,$(eval SWEEP_LAMBDA_schedule_lambda$(v) ?= --lambda-const $(v)))
$(foreach g,1 3 10 30 100,$(eval SWEEP_LAMBDA_schedule_gamma$(g) ?= --gamma $(g)))
SWEEP_LAMBDA_SEEDS     ?= 1 2 3
SWEEP_LAMBDA_DATA_SEED ?= seed
SWEEP_LAMBDA_TRAIN_N   ?= 10000
SWEEP_LAMBDA_TEST_N    ?= 0
SWEEP_LAMBDA_TRAIN_OPTS ?= --steps 3000
$(eval $(call sweep,sweep-lambda,SWEEP_LAMBDA))

# --- make sweep: one described on the command line ---------------------------------------
#   make sweep SWEEP_NAME=arch SWEEP_AXES="arch bn-stats" SWEEP_arch="seed paper" \
#        SWEEP_bn-stats="per-domain joint" SWEEP_TRAIN_OPTS="--epochs 5"
SWEEP_NAME      ?= custom
SWEEP_RECIPES   ?= noise
SWEEP_AXES      ?=
SWEEP_SEEDS     ?= 1 2 3
SWEEP_DATA_SEED ?= seed
SWEEP_TRAIN_N   ?= 0
SWEEP_TEST_N    ?= 0
SWEEP_TRAIN_OPTS ?=
$(eval $(call sweep,sweep-$(SWEEP_NAME),SWEEP))
sweep: sweep-$(SWEEP_NAME)
.PHONY: sweep

# Sweeps defined by other makefiles (pipelines/paper.mk: `make paper`), which are read before
# this one: SWEEP_DEFS holds their NAME=PREFIX.
$(foreach d,$(SWEEP_DEFS),$(eval $(call sweep,$(word 1,$(subst =, ,$(d))),$(word 2,$(subst =, ,$(d))))))
