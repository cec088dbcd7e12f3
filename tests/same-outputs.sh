#!/usr/bin/env bash
# same-outputs.sh - do two commits make the same files?  For changes that must not change
# behaviour (moving code, renaming, splitting modules): builds each commit in a temporary
# worktree, runs one fixed pipeline with it and compares the SHA-256 of every output.
#
#   tests/same-outputs.sh BASE [HEAD]      commits (default HEAD: the work tree's HEAD)
#   tests/same-outputs.sh --hash DIR       only run the pipeline with DIR's bin/ and print hashes
#
# The pipeline: `make demo` made small (3,000 MNIST digits, 200 steps, 2 snapshots; every
# stage: mnist-fetch, mnistm-gen, dann-train x2 with snapshots and logs, dann-embed, tsne
# --sequence, plot-frames frames/GIF/sheet/curves, domain-distance, dann-report, the placement
# figure), then the tools' other paths once each: the bsds recipe with its contact sheet,
# every t-SNE method and both k-NN searches, placement, tensor-cat, dann-embed --accuracy and
# --predict.  Fixed seeds and thread counts: the same commit gives the same bytes.
#
# Listed but not required to match: report.html and commands.sh, which quote the pipeline's
# command lines (an option renamed changes them, not what the tools make).
#
# Needs ../shared/data (MNIST and BSDS500 mirrors), git, make; about 2 minutes a commit on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$(cd "$here/.." && pwd)/shared}
[ -d "$SHARED/data/mnist" ] || { echo "same-outputs.sh: no MNIST mirror in $SHARED/data/mnist" >&2; exit 1; }

# run_pipeline DIR OUT: the pipeline with the build in checkout DIR, outputs in OUT
run_pipeline() {
	local dir=$1 out=$2 b=$1/bin
	mkdir -p "$out"
	( cd "$dir" && make -s --no-print-directory SHARED="$SHARED" THREADS=2 SEED=1 \
		DEMO_TRAIN_N=3000 DEMO_TEST_N=600 DEMO_SNAPSHOTS=2 DEMO_PER_DOMAIN=100 DEMO_TWEEN=1 \
		DEMO_TRAIN_OPTS="--steps 200 --log-every 50 --eval-limit 300" \
		runs/demo/results.md runs/demo/alignment.gif runs/demo/curves.png runs/demo/report.html \
		runs/demo/placed.png >"$out.log" 2>&1 ) || { cat "$out.log" >&2; return 1; }
	cp -r "$dir/runs/demo" "$out/demo"
	local r=$out/demo x=$out/extra
	mkdir -p "$x"
	# the output-folder option of tsne --sequence, as this commit spells it
	local odir=--output-dir
	"$b/tsne" --help 2>&1 | grep -q -- '--output-dir' || odir=--outdir
	"$b/mnistm-gen" --recipe bsds --backgrounds "$SHARED/data/bsds500/train" --size 28 --seed 4 \
		--sheet "$x/bsds-sheet.png" --sheet-count 16 -q -o "$x/bsds.npy" "$r/mnist-test.npy"
	"$b/dann-embed" -m "$r/dann.model" --source "$r/mnist-test.npy" --target "$x/bsds.npy" \
		--per-domain 150 --seed 2 --threads 2 -q -o "$x/emb.npy"
	for m in exact bh fft; do
		"$b/tsne" --method $m --seed 3 --threads 2 --iter 300 -q -o "$x/tsne-$m.npy" "$x/emb.npy"
	done
	"$b/tsne" --knn approx --seed 3 --threads 2 --iter 300 -q -o "$x/tsne-approx.npy" "$x/emb.npy"
	"$b/dann-embed" -m "$r/dann.model" --source "$r/mnist-test.npy" --target "$x/bsds.npy" \
		--per-domain 50 --seed 5 --threads 2 -q -o "$x/emb-new.npy"
	"$b/tsne" --place-into "$x/tsne-bh.npy" --reference "$x/emb.npy" --threads 2 -q \
		-o "$x/placed.npy" "$x/emb-new.npy"
	"$b/tsne" --sequence "$odir" "$x/seq" --seed 3 --threads 2 --iter 200 -q \
		"$x/emb.npy" "$x/tsne-bh.npy"
	# these two name their inputs in what they write: relative names
	(cd "$x" && "$b/tensor-cat" -o cat.npy tsne-exact.npy tsne-fft.npy && "$b/tensor-cat" -l cat.npy > cat.txt)
	"$b/dann-embed" -m "$r/source-only.model" --accuracy --domain target --threads 2 \
		"$r/mnistm-test.npy" > "$x/accuracy.txt" 2>&1
	"$b/dann-embed" -m "$r/dann.model" --predict --domain target --threads 2 -q \
		-o "$x/predict.npy" "$r/mnistm-test.npy"
	(cd "$x" && "$b/domain-distance" --seed 2 -q -o pad.tsv emb.npy)
}

hash_tree() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum); }

if [ "${1:-}" = --hash ]; then
	[ $# -eq 2 ] || { echo "usage: same-outputs.sh --hash DIR" >&2; exit 2; }
	out=$(mktemp -d)
	run_pipeline "$(cd "$2" && pwd)" "$out"
	hash_tree "$out"
	rm -rf "$out"
	exit 0
fi
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: same-outputs.sh BASE [HEAD] | --hash DIR" >&2; exit 2; }
base=$(git -C "$here" rev-parse --verify "$1^{commit}") || exit 2
head=$(git -C "$here" rev-parse --verify "${2:-HEAD}^{commit}") || exit 2

# worktrees beside the project, so the Makefile's default ../shared finds the data as well
tmp=$(mktemp -d "$(dirname "$here")/same-outputs.XXXXXX")
trap 'git -C "$here" worktree remove --force "$tmp/a" 2>/dev/null; git -C "$here" worktree remove --force "$tmp/b" 2>/dev/null; rm -rf "$tmp"' EXIT
for side in a:$base b:$head; do
	d=$tmp/${side%%:*}
	git -C "$here" worktree add -q --detach "$d" "${side#*:}"
	echo "same-outputs: building ${side#*:}" >&2
	make -C "$d" -s -j2 all SHARED="$SHARED" >/dev/null
	echo "same-outputs: running the pipeline" >&2
	run_pipeline "$d" "$tmp/out-${side%%:*}"
	hash_tree "$tmp/out-${side%%:*}" > "$tmp/${side%%:*}.sha"
done
n=$(wc -l < "$tmp/a.sha")
if diff -u "$tmp/a.sha" "$tmp/b.sha" > "$tmp/diff"; then
	echo "same-outputs: all $n files identical ($base vs $head)"
	exit 0
fi
quoted='/(report\.html|commands\.sh)$'
if grep '^[-+] *[0-9a-f]\{64\}' "$tmp/diff" | grep -Evq "$quoted"; then
	echo "same-outputs: outputs differ ($base vs $head):" >&2
	grep '^[-+] *[0-9a-f]\{64\}' "$tmp/diff" >&2
	exit 1
fi
echo "same-outputs: $n files; identical but for the quoted commands in:"
grep '^+ *[0-9a-f]\{64\}' "$tmp/diff" | awk '{print "  " $2}'
