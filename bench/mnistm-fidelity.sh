#!/usr/bin/env bash
# mnistm-fidelity.sh - how close generated MNIST-M is to the published one, measured on the
# published sample (the first N images of the published training split; image i was made from
# MNIST training image i, so the same digits are compared).
#
#   bench/mnistm-fidelity.sh [RECIPE_NAME="MNISTM-GEN OPTIONS"]...
#
# With no arguments it compares the toolkit's bsds defaults with the earlier ones.  For each
# recipe, and for the published images, it reports:
#   1. channel means and standard deviations over the N images;
#   2. domain classifier: our network (dann-train --mode source-only) trained to tell generated
#      image i from published image i on the first half of the pairs, scored on the second half
#      (50% = indistinguishable);
#   3. train-on-target: a model trained with labels on MNIST-M generated from MNIST training
#      images N.. (digits the sample was not made from), scored on the published sample.
# Output: one TSV table on stdout, progress on stderr.
#
# Environment: SHARED (../shared), BIN (bin), THREADS (2), SEED (1), N (10000, at most the
# sample's size), CLS_EPOCHS (10), TOT_EPOCHS (5), WORK (a temporary folder, removed).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$here/../shared}
BIN=${BIN:-$here/bin}
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
SEED=${SEED:-1}
N=${N:-10000}
CLS_EPOCHS=${CLS_EPOCHS:-10}
TOT_EPOCHS=${TOT_EPOCHS:-5}
SAMPLE=${SAMPLE:-$SHARED/data/mnist_m_sample}
PHOTOS=${PHOTOS:-$SHARED/data/bsds500/train}
export MNIST_MIRROR=${MNIST_MIRROR:-$SHARED/data/mnist}
if [ $# -eq 0 ]; then
	set -- "bsds-default=" "bsds-earlier-28=--mask gray --size 28" "bsds-earlier-32=--mask gray --size 32 --fit resize"
fi
W=${WORK:-$(mktemp -d)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$W"' EXIT
say() { printf 'mnistm-fidelity: %s\n' "$*" >&2; }

say "published sample: $SAMPLE (first $N images)"
"$BIN/mnist-fetch" -q --dataset mnist-m --split train --mirror "$SAMPLE" --allow-partial --limit "$N" -o "$W/pub.npy"
"$BIN/mnist-fetch" -q --offline --cache "$W/cache" --split train --limit "$N" -o "$W/digits.npy"
"$BIN/mnist-fetch" -q --offline --cache "$W/cache" --split train --offset "$N" -o "$W/digits-rest.npy"

# $1 images stream -> "mean_r mean_g mean_b std_r std_g std_b"
stats() { "$PYTHON" -c '
import sys, numpy as np
a = np.load(open(sys.argv[1], "rb")).reshape(-1, 3).astype(np.float64)
print(" ".join("%.1f" % v for v in list(a.mean(0)) + list(a.std(0))))' "$1"; }

# $1 generated, $2 published -> $3-train.npy, $3-test.npy: (generated 0, published 1), halves by index
pairs() { "$PYTHON" -c '
import sys, numpy as np
g = np.load(open(sys.argv[1], "rb")); p = np.load(open(sys.argv[2], "rb")); h = len(g) // 2
for name, sl in (("train", slice(0, h)), ("test", slice(h, 2 * h))):
    with open(sys.argv[3] + "-" + name + ".npy", "wb") as f:
        np.save(f, np.concatenate([g[sl], p[sl]])); np.save(f, np.repeat(np.array([0, 1], np.uint8), h))' "$1" "$2" "$3"; }

acc() { "$BIN/dann-embed" -q --model "$1" --accuracy --domain "$2" --threads "$THREADS" "$3" | awk 'NR == 1 { print $2 }'; }

printf 'data\tmean_r\tmean_g\tmean_b\tstd_r\tstd_g\tstd_b\tsize\tdomain_classifier_accuracy\ttrain_on_target_on_published\n'
printf 'published\t%s\t32\t-\t-\n' "$(stats "$W/pub.npy" | tr ' ' '\t')"
for spec in "$@"; do
	name=${spec%%=*} opts=${spec#*=}
	say "$name: mnistm-gen --recipe bsds $opts"
	# shellcheck disable=SC2086
	"$BIN/mnistm-gen" -q --recipe bsds --backgrounds "$PHOTOS" --seed "$SEED" $opts -o "$W/gen.npy" "$W/digits.npy"
	size=$("$PYTHON" -c 'import sys, numpy as np; print(np.load(open(sys.argv[1], "rb"), mmap_mode=None).shape[1])' "$W/gen.npy")
	st=$(stats "$W/gen.npy" | tr ' ' '\t')
	dom=- tot=-
	if [ "$size" = 32 ]; then
		pairs "$W/gen.npy" "$W/pub.npy" "$W/dom"
		say "$name: domain classifier, $CLS_EPOCHS epochs on $N pairs' first half"
		"$BIN/dann-train" -q --mode source-only --source "$W/dom-train.npy" --epochs "$CLS_EPOCHS" --seed "$SEED" \
			--threads "$THREADS" -o "$W/dom.model"
		dom=$(acc "$W/dom.model" source "$W/dom-test.npy")
		say "$name: train-on-target, $TOT_EPOCHS epochs on MNIST training images $N.."
		# shellcheck disable=SC2086
		"$BIN/mnistm-gen" -q --recipe bsds --backgrounds "$PHOTOS" --seed "$SEED" --offset "$N" $opts \
			-o "$W/tot-train.npy" "$W/digits-rest.npy"
		"$BIN/dann-train" -q --mode source-only --source "$W/tot-train.npy" --epochs "$TOT_EPOCHS" --seed "$SEED" \
			--threads "$THREADS" -o "$W/tot.model"
		tot=$(acc "$W/tot.model" source "$W/pub.npy")
	else
		say "$name: ${size}x$size, not comparable image by image with the 32x32 published images"
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$st" "$size" "$dom" "$tot"
done
