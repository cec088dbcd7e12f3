#!/usr/bin/env bats
# torch-crosscheck.bats - dann-train's first steps replayed in PyTorch (tests/torch_crosscheck.py):
# the same initial weights (snapshot 0), the same batches and dropout masks, and then the
# losses, the step-0 gradients, and every parameter and BatchNorm statistic after each step
# must agree within float tolerance.  Skipped where python3-torch is not installed.
bats_require_minimum_version 1.5.0
load helper

setup() {
	"$PYTHON" -c 'import torch' 2>/dev/null || skip "python3-torch is not installed"
	py "
r = np.random.default_rng(3)
with open(sys.argv[1], 'wb') as f:
    np.save(f, r.integers(0, 256, (32, 28, 28), dtype=np.uint8)); np.save(f, r.integers(0, 10, 32).astype(np.uint8))
with open(sys.argv[2], 'wb') as f:
    np.save(f, r.integers(0, 256, (32, 28, 28, 3), dtype=np.uint8)); np.save(f, r.integers(0, 10, 32).astype(np.uint8))
" "$T/s.npy" "$T/t.npy"
}

# train K=3 steps with one snapshot per step and a log row per step, then replay in torch
crosscheck() {  # name, then extra dann-train options (the replay gets the same ones it knows)
	local name=$1; shift
	dann-train -q --source "$T/s.npy" --target "$T/t.npy" --batch 16 --steps 3 --snapshots 3 \
		--snapshot-dir "$T/$name" --seed 5 --threads 2 --log "$T/$name.tsv" --log-every 1 \
		-o "$T/$name.model" "$@"
	local replay=()
	for o in "$@"; do case $o in --bn-stats|per-domain|joint) replay+=("$o");; esac; done
	run "$PYTHON" "$ROOT/tests/torch_crosscheck.py" "$T/$name" "$T/s.npy" "$T/t.npy" \
		--seed 5 --batch 16 --log "$T/$name.tsv" "${replay[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"3 steps, batch 16+16"* ]]
}

@test "torch replay: default network (BatchNorm, Dropout2d), per-domain BatchNorm statistics" {
	crosscheck seed
}

@test "torch replay: --bn-stats joint" {
	crosscheck joint --bn-stats joint
}

@test "torch replay: --arch paper (no BatchNorm, no dropout)" {
	crosscheck paper --arch paper
}

@test "torch replay fails when the replay differs (wrong BatchNorm grouping)" {
	dann-train -q --source "$T/s.npy" --target "$T/t.npy" --batch 16 --steps 2 --snapshots 2 \
		--snapshot-dir "$T/j" --seed 5 --bn-stats joint -o "$T/j.model"
	run "$PYTHON" "$ROOT/tests/torch_crosscheck.py" "$T/j" "$T/s.npy" "$T/t.npy" --seed 5 \
		--batch 16 --bn-stats per-domain
	[ "$status" -eq 1 ]
	[[ "$output" == *"out of tolerance"* ]]
}
