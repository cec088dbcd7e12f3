#!/usr/bin/env bash
# sweep-run.sh - one run of a sweep (pipelines/sweep.mk): train it, or score it.
#
#   sweep-run.sh train DIR BIN SOURCE TARGET TARGET-TEST DANN-TRAIN-OPTION...
#       DIR/train.model (and train.tsv, the metrics log; train.seconds, the wall time of the
#       training, summed over the attempts a resumed run took).  The model is written as
#       train.model.part and renamed last, so DIR/train.model exists only for a finished run.
#       A training stopped by SIGTERM/SIGINT (scancel, Ctrl-C) leaves the checkpoint
#       train.model.part.ckpt; the next call resumes from it (moved to train.model.resume
#       while it runs), unless DIR/options (the run's settings) changed since, when it starts
#       over.  With --snapshots K among the options, the snapshots go to DIR/snapshots/.
#   sweep-run.sh eval DIR BIN SOURCE-TEST TARGET-TEST THREADS [--also TEST]... FIELD...
#       DIR/result.tsv: one row, the FIELDs (recipe, axis values, seed), then the accuracy on
#       the target test split, on each --also TEST (scored as target-domain data), on the
#       source test split, and train.seconds.
#
# SWEEP_LAUNCH, when set, prefixes each tool (srun ... under Slurm; split on spaces).
set -euo pipefail
me=sweep-run.sh
die() { echo "$me: $*" >&2; exit 1; }
[ $# -ge 3 ] || die "usage: $me train|eval DIR BIN ..."
cmd=$1 dir=$2 bin=$3
shift 3
read -r -a launch <<<"${SWEEP_LAUNCH:-}"

case $cmd in
train)
	[ $# -ge 3 ] || die "train: SOURCE TARGET TARGET-TEST are needed"
	src=$1 tgt=$2 test=$3
	shift 3
	part=$dir/train.model.part ckpt=$dir/train.model.part.ckpt acc=$dir/train.seconds.part
	from=$dir/train.model.resume
	rm -f "$part" "$dir/train.seconds"
	resume=()
	# dann-train replaces no input: the checkpoint it resumes from is moved aside, so that a
	# resumed run stopped again can write its new checkpoint under the usual name
	[ -f "$ckpt" ] && mv "$ckpt" "$from"
	if [ -f "$from" ] && [ "$from" -nt "$dir/options" ]; then
		resume=(--resume "$from")
		echo "$me: $dir: resuming from its checkpoint" >&2
	else
		rm -f "$from" "$acc"
	fi
	# snapshots (an option --snapshots K) go into the run's folder; a fresh start clears them
	snap=()
	for a in "$@"; do [ "$a" = --snapshots ] && snap=(--snapshot-dir "$dir/snapshots"); done
	[ ${#snap[@]} -gt 0 ] && [ ${#resume[@]} -eq 0 ] && rm -rf "$dir/snapshots"
	t0=$(date +%s.%N)
	rc=0
	"${launch[@]}" "$bin/dann-train" --source "$src" --target "$tgt" --target-test "$test" \
		"$@" "${snap[@]}" "${resume[@]}" -q --log "$dir/train.tsv" -o "$part" || rc=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" -v p="$(cat "$acc" 2>/dev/null || echo 0)" \
		'BEGIN { printf "%.1f\n", p + b - a }')
	if [ $rc -ne 0 ]; then
		# stopped with a new checkpoint: the old one is spent; without one (a usage error, a
		# crash), the old one is kept for the next attempt
		if [ -f "$ckpt" ]; then rm -f "$from"; elif [ -f "$from" ]; then mv "$from" "$ckpt"; fi
		# a checkpoint means this attempt's time counts towards the resumed run
		if [ -f "$ckpt" ]; then echo "$secs" > "$acc.tmp" && mv "$acc.tmp" "$acc"; fi
		[ -f "$ckpt" ] && echo "$me: $dir: stopped (status $rc); make again resumes it" >&2
		exit $rc
	fi
	[ -f "$part" ] || die "$dir: dann-train wrote no model"
	echo "$secs" > "$dir/train.seconds.tmp"
	mv "$dir/train.seconds.tmp" "$dir/train.seconds"
	rm -f "$acc" "$ckpt" "$from"
	mv "$part" "$dir/train.model"
	;;
eval)
	[ $# -ge 4 ] || die "eval: SOURCE-TEST TARGET-TEST THREADS FIELD... are needed"
	stest=$1 ttest=$2 threads=$3
	shift 3
	also=()
	while [ $# -ge 2 ] && [ "$1" = --also ]; do also+=("$2"); shift 2; done
	acc() {  # domain file -> accuracy (first line of dann-embed --accuracy: "accuracy 0.9876 ...")
		"${launch[@]}" "$bin/dann-embed" --model "$dir/train.model" --accuracy --domain "$1" \
			--threads "$threads" -q "$2" | awk 'NR == 1 { print $2 }'
	}
	scores=("$(acc target "$ttest")")
	for f in "${also[@]}"; do scores+=("$(acc target "$f")"); done
	scores+=("$(acc source "$stest")")
	for a in "${scores[@]}"; do [[ $a =~ ^[0-9.]+$ ]] || die "$dir: no accuracy from dann-embed"; done
	{ printf '%s\t' "$@" "${scores[@]}"; cat "$dir/train.seconds"; } > "$dir/result.tsv.tmp"
	mv "$dir/result.tsv.tmp" "$dir/result.tsv"
	;;
*) die "unknown command '$cmd' (train or eval)" ;;
esac
