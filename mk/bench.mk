# bench.mk - the performance benchmarks (make bench): the tools side by side with PyTorch and scikit-learn.
#   make bench         peak FLOP/s, our training step vs PyTorch's (1 and 2 threads), per-layer
#                      profile, dann-embed forward vs PyTorch no_grad (needs python3-torch only
#                      here; the PyTorch lines are skipped when it is missing)
#   make bench-ours    just our side (no torch)
# Variables: BENCH_STEPS BENCH_REPS BENCH_THREADS (default "1 2")
BENCH_STEPS   ?= 20
BENCH_REPS    ?= 7
BENCH_THREADS ?= 1 2
BENCH_DIR     := $(BUILD)/bench
# the layer calls the profile times (link-time wrappers in bench/train_step.c)
BENCH_WRAP := model_features_forward model_blocks_forward model_label_forward model_domain_forward \
	model_label_backward model_domain_backward model_features_backward model_blocks_backward \
	kern_block_forward kern_block_backward kern_blocks_backward kern_features_eval nn_batchnorm_forward \
	nn_batchnorm_backward nn_maxpool2_forward nn_maxpool2_backward nn_relu_forward \
	nn_relu_backward nn_linear_forward nn_linear_backward kern_linear_forward \
	kern_linear_backward nn_dropout2d_forward \
	nn_dropout2d_backward nn_input_from_u8
BENCH_WRAP_FLAGS := $(foreach f,$(BENCH_WRAP),-Wl,--wrap=$(f))

$(BENCH_DIR)/train_step: bench/train_step.c $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS_ALL) $(BENCH_WRAP_FLAGS)

$(BENCH_DIR)/peak: bench/peak.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS_ALL)

bench-build: $(BENCH_DIR)/train_step $(BENCH_DIR)/peak

bench-ours: bench-build
	@for t in $(BENCH_THREADS); do \
		$(BENCH_DIR)/train_step --threads $$t --steps $(BENCH_STEPS) --reps $(BENCH_REPS) --embed; done

bench: bench-build
	@BENCH_DIR=$(BENCH_DIR) BENCH_STEPS=$(BENCH_STEPS) BENCH_REPS=$(BENCH_REPS) \
		BENCH_THREADS="$(BENCH_THREADS)" bench/run.sh

.PHONY: bench bench-ours bench-build
