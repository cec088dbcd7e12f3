# pipelines/transform.mk - where do target digits land in a map of the source digits?
#
#   runs/NAME/placed.png   two panels: the source-only model's and the DANN model's features.
#                          Each panel is the t-SNE map of that model's features of the source
#                          test digits (MNIST, blue), with the target test digits (MNIST-M,
#                          red) placed into it by tsne --place-into: the map does not move,
#                          so a target digit lands next to the source digits whose features it
#                          resembles.  Without alignment the target digits gather on their own
#                          or between the classes; with DANN each lands among its own class.
#   runs/NAME/placed/      the two panels as frame-0000.png (source-only) and frame-0001.png
#
# make experiment makes runs/experiment/placed.png (a prerequisite of `experiment` below);
# `make runs/demo/placed.png` makes the small version from the demo's models.  At the
# experiment's size (10,000 source and 10,000 target test digits) each panel is one t-SNE map
# of 10,000 points (about 9 s of CPU) and one placement of 10,000 (placing the MNIST training
# digits 0-9,999 into the map of the 10,000 test digits took 6.4 s of CPU on 2 shared cores).

# $(call place_figure,NAME): the rules, for runs/NAME made by dann_pipeline.
define place_figure
$$($(1)_R)/place/%-source.npy: $$($(1)_R)/%.model $$($(1)_R)/mnist-test.npy | $(BIN)/dann-embed
	@mkdir -p $$(@D)
	$(BIN)/dann-embed -m $$< --domain source --threads $(THREADS) -q -o $$@ $$(word 2,$$^)
$$($(1)_R)/place/%-target.npy: $$($(1)_R)/%.model $$($(1)_R)/mnistm-test.npy | $(BIN)/dann-embed
	@mkdir -p $$(@D)
	$(BIN)/dann-embed -m $$< --domain target --threads $(THREADS) -q -o $$@ $$(word 2,$$^)
# the map of the source features, then the target features placed into it
$$($(1)_R)/place/%-map.npy: $$($(1)_R)/place/%-source.npy | $(BIN)/tsne
	$(BIN)/tsne --seed $(SEED) --threads $(THREADS) -q -o $$@ $$<
$$($(1)_R)/place/%-both.npy: $$($(1)_R)/place/%-map.npy $$($(1)_R)/place/%-source.npy $$($(1)_R)/place/%-target.npy | $(BIN)/tsne
	$(BIN)/tsne --place-into $$(word 1,$$^) --reference $$(word 2,$$^) --with-reference \
		--threads $(THREADS) -q -o $$@ $$(word 3,$$^)
$$($(1)_R)/place/titles.txt:
	@mkdir -p $$(@D)
	printf '%s\n' "source-only model" "DANN model" > $$@.tmp
	mv $$@.tmp $$@
$$($(1)_R)/placed.png: $$($(1)_R)/place/source-only-both.npy $$($(1)_R)/place/dann-both.npy $$($(1)_R)/place/titles.txt | $(BIN)/plot-frames
	rm -rf $$($(1)_R)/placed
	$(BIN)/plot-frames --titles $$(word 3,$$^) --title "MNIST-M test digits placed into the t-SNE map of the MNIST test features" \
		--sheet-cols 2 --thumb 600x450 -q -O $$($(1)_R)/placed --gif $$($(1)_R)/place/placed.gif \
		--sheet $$@ $$(word 1,$$^) $$(word 2,$$^)
endef

$(eval $(call place_figure,experiment))
$(eval $(call place_figure,demo))
.SECONDARY: $(foreach n,experiment demo,$(foreach m,source-only dann,$(foreach s,source target map both,runs/$(n)/place/$(m)-$(s).npy)))
# part of make experiment (after `deps`, like the rest of it)
experiment: $(experiment_R)/placed.png
$(experiment_R)/placed.png: | deps
