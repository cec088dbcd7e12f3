#!/bin/sh
# nn-accuracy.sh - dann-train's accuracy over seeds, on MNIST-M made by the tools
# exactly as the pipelines make it (mnist-fetch, then mnistm-gen --seed S; the test split with
# --offset 1000000).  Long: one 15-epoch DANN run is ~4 min on 2 free cores.
#
#   RECIPE   noise (default) or bsds (photos from BSDS500_DIR)
#   MODES    "source-only dann" (default); also train-on-target
#   BN       per-domain (default) or joint (dann-train --bn-stats; DANN only)
#   SEEDS    "1 2 3"    EPOCHS 15    THREADS (default: all cores)
#   TRAIN_OPTS  more dann-train options (e.g. --steps 20 for a smoke test)
#   TORCH=1  also train the same network in PyTorch (bench/torch_accuracy.py --bn $BN, DANN only)
#   OUT      working folder (default build/nn-accuracy)
#
# Appends one row per run to $OUT/results.tsv:
#   impl mode recipe bn seed epochs target_accuracy source_accuracy train_seconds
# (target: the MNIST-M test split from MNIST's 10,000 test images; source: MNIST test).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN_ABS:-$ROOT/bin}
PYTHON=${PYTHON:-/usr/bin/python3}
SHARED=${SHARED:-$ROOT/../shared}
OUT=${OUT:-$ROOT/build/nn-accuracy}
RECIPE=${RECIPE:-noise} MODES=${MODES:-"source-only dann"} BN=${BN:-per-domain}
EPOCHS=${EPOCHS:-15} SEEDS=${SEEDS:-"1 2 3"} THREADS=${THREADS:-$(nproc)} TORCH=${TORCH:-0}
TRAIN_OPTS=${TRAIN_OPTS:-}
BSDS500_DIR=${BSDS500_DIR:-$SHARED/data/bsds500/train}
export MNIST_MIRROR="${MNIST_MIRROR:-$SHARED/data/mnist}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
mkdir -p "$OUT"
cd "$OUT"
[ -s mnist-train.npy ] || "$BIN/mnist-fetch" --split train -q -o mnist-train.npy
[ -s mnist-test.npy ] || "$BIN/mnist-fetch" --split test -q -o mnist-test.npy
gen="--recipe $RECIPE"
[ "$RECIPE" = bsds ] && gen="$gen --backgrounds $BSDS500_DIR"
[ -s results.tsv ] || printf 'impl\tmode\trecipe\tbn\tseed\tepochs\ttarget_accuracy\tsource_accuracy\ttrain_seconds\n' > results.tsv
acc() { "$BIN/dann-embed" -q -m "$1" --accuracy --domain "$3" --threads "$THREADS" "$2" | awk 'NR == 1 { print $2 }'; }
for s in $SEEDS; do
	tr=$RECIPE-s$s-train.npy te=$RECIPE-s$s-test.npy
	[ -s "$tr" ] || "$BIN/mnistm-gen" $gen --seed "$s" -q -o "$tr" mnist-train.npy
	[ -s "$te" ] || "$BIN/mnistm-gen" $gen --seed "$s" --offset 1000000 -q -o "$te" mnist-test.npy
	for mode in $MODES; do
		n=$mode-$RECIPE-$BN-e$EPOCHS-s$s src=mnist-train.npy m=$mode
		[ "$mode" = train-on-target ] && src=$tr m=source-only
		t0=$(date +%s.%N)
		"$BIN/dann-train" --mode "$m" --bn-stats "$BN" --source "$src" --target "$tr" --target-test "$te" \
			--epochs "$EPOCHS" --seed "$s" --threads "$THREADS" $TRAIN_OPTS --log "$n.tsv" -o "$n.model" 2> "$n.err" \
			|| { tail -n 1 "$n.err" >&2; exit 1; }
		sec=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		printf 'ours\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$RECIPE" "$BN" "$s" "$EPOCHS" \
			"$(acc "$n.model" "$te" target)" "$(acc "$n.model" mnist-test.npy source)" "$sec" | tee -a results.tsv
		if [ "$TORCH" = 1 ] && [ "$mode" = dann ]; then
			"$PYTHON" "$ROOT/bench/torch_accuracy.py" mnist-train.npy "$tr" "$te" mnist-test.npy \
				--epochs "$EPOCHS" --seed "$s" --threads "$THREADS" --bn "$BN" 2> "torch-$n.err" |
				awk -F'\t' -v r="$RECIPE" -v bn="$BN" '{ printf "pytorch\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $2, r, bn, $3, $4, $5, $6, $7 }' |
				tee -a results.tsv
		fi
	done
done
