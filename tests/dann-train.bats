#!/usr/bin/env bats
# dann-train on tiny synthetic datasets: outputs, determinism, target labels never used,
# interrupt + resume, overfitting, bad input.
bats_require_minimum_version 1.5.0
load helper

setup() {
	mk_data "$T/src.npy" 192 1
	mk_data "$T/tgt.npy" 192 2 rgb
}

@test "--help goes to stdout; unknown options and bad numbers are usage errors" {
	run --separate-stderr dann-train --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	run --separate-stderr dann-train --bogus
	assert_fails_cleanly 2 dann-train "unknown option"
	run --separate-stderr dann-train --source "$T/src.npy" --target "$T/tgt.npy" --epochs 0 -o "$T/m"
	assert_fails_cleanly 2 dann-train "epochs"
	run --separate-stderr dann-train --source "$T/src.npy" --target "$T/tgt.npy" --mode both -o "$T/m"
	assert_fails_cleanly 2 dann-train "mode"
	run --separate-stderr dann-train --source "$T/src.npy" -o "$T/m"
	assert_fails_cleanly 2 dann-train "target"
}

@test "trains end to end: model, metrics log with the agreed columns, snapshots" {
	mk_data "$T/test.npy" 100 3 rgb
	run --separate-stderr dann-train --source "$T/src.npy" --target "$T/tgt.npy" \
		--target-test "$T/test.npy" --epochs 2 --log "$T/log.tsv" --log-every 2 \
		--snapshots 3 --snapshot-dir "$T/snaps" --threads 1 -o "$T/m.model"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ "$stderr" == *"2.00 epochs (6 steps)"*"target-test accuracy"* ]]
	[ -s "$T/m.model" ]
	[ "$(head -n 1 "$T/log.tsv")" = "$(printf 'step\tepoch\tlr\tlambda\tlabel_loss\tdomain_loss\tdomain_acc\tsource_acc\ttarget_acc')" ]
	[ "$(wc -l < "$T/log.tsv")" -eq 4 ]   # steps 2, 4, 6
	awk -F'\t' 'NR > 1 { if (NF != 9 || $9 == "nan" || $6 == "nan") exit 1 }' "$T/log.tsv"
	ls "$T/snaps"
	[ "$(ls "$T/snaps" | grep -c '^snap-000[0-3]\.model$')" -eq 4 ]
	[ "$(head -n 1 "$T/snaps/snapshots.tsv")" = "$(printf 'index\tstep\tepoch\tlambda\ttarget_acc')" ]
	[ "$(cut -f2 "$T/snaps/snapshots.tsv" | tail -n +2 | tr '\n' ' ')" = "0 2 4 6 " ]
	# the model file: numpy reads it as documented in dann-model(5)
	py '
f = open(sys.argv[1], "rb"); h = np.load(f)
assert h.dtype == np.int64 and h.shape == (16,) and h[0] == 1684106862, h
assert list(h[2:9]) == [0, 0, 28, 28, 3, 768, 10], h
w = np.load(f); assert w.shape == (32, 5, 5, 3) and w.dtype == np.float32
n = 1
while True:
    try: np.load(f); n += 1
    except Exception: break
assert n == h[9] + h[10], (n, h)' "$T/m.model"
	# the final snapshot is the final model
	cmp "$T/snaps/snap-0003.model" "$T/m.model"
}

@test "same inputs, seed and threads give a byte-identical model; another seed does not" {
	for i in 1 2; do
		dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 4 --threads 2 --batch 16 -o "$T/a$i.model"
	done
	cmp "$T/a1.model" "$T/a2.model"
	dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 4 --threads 2 --batch 16 --seed 9 -o "$T/b.model"
	! cmp -s "$T/a1.model" "$T/b.model"
}

@test "target labels are never read: shuffled target labels give a byte-identical model" {
	py '
f = open(sys.argv[1], "rb"); x = np.load(f); y = np.load(f)
g = open(sys.argv[2], "wb"); np.save(g, x); np.save(g, np.random.default_rng(5).permutation(y)); g.close()
assert (np.random.default_rng(5).permutation(y) != y).any()' "$T/tgt.npy" "$T/tgt2.npy"
	dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 4 --batch 16 -o "$T/a.model"
	dann-train -q --source "$T/src.npy" --target "$T/tgt2.npy" --steps 4 --batch 16 -o "$T/b.model"
	cmp "$T/a.model" "$T/b.model"
	# ...while the source labels are used
	py '
f = open(sys.argv[1], "rb"); x = np.load(f); y = np.load(f)
g = open(sys.argv[2], "wb"); np.save(g, x); np.save(g, ((y + 1) % 10).astype(np.uint8)); g.close()' "$T/src.npy" "$T/src2.npy"
	dann-train -q --source "$T/src2.npy" --target "$T/tgt.npy" --steps 4 --batch 16 -o "$T/c.model"
	! cmp -s "$T/a.model" "$T/c.model"
}

@test "the loss falls when overfitting 64 examples" {
	mk_data "$T/s64.npy" 64 4
	dann-train -q --mode source-only --source "$T/s64.npy" --batch 32 --steps 40 --lr 0.05 \
		--log "$T/log.tsv" --log-every 4 -o "$T/m.model"
	first=$(awk -F'\t' 'NR == 2 { print $5 }' "$T/log.tsv")
	last=$(awk -F'\t' 'END { print $5 }' "$T/log.tsv")
	acc=$(awk -F'\t' 'END { print $8 }' "$T/log.tsv")
	echo "label loss $first -> $last, batch accuracy $acc"
	awk -v a="$first" -v b="$last" -v c="$acc" 'BEGIN { exit !(b < 0.25 * a && c >= 0.9) }'
	# source-only: no domain columns
	awk -F'\t' 'NR > 1 { if ($4 != "nan" || $6 != "nan" || $7 != "nan") exit 1 }' "$T/log.tsv"
}

@test "SIGINT at a random moment writes a checkpoint; --resume reaches the same model" {
	# 400 steps, a log row every 10: the signal lands after a random number of rows (1-30 of
	# 40), chosen before the run starts, so a fast machine cannot finish first while the test
	# is still picking the moment (CI once did, with 120 steps and a sleep after the first row)
	args=(--source "$T/src.npy" --target "$T/tgt.npy" --steps 400 --batch 8 --threads 1 --log-every 10
	      --snapshots 4)
	dann-train -q "${args[@]}" --log "$T/full.tsv" --snapshot-dir "$T/s1" -o "$T/full.model"
	[ "$(wc -l < "$T/full.tsv")" -eq 41 ]
	for sig in INT TERM; do
		interrupted=0
		for try in 1 2 3 4 5; do
			# each try starts clean: a try that finished before the signal leaves a model
			rm -rf "$T/s2" "$T/part.model"* "$T/part.tsv"
			rows=$(( 2 + RANDOM % 30 ))   # header + 1..30 rows
			dann-train -q "${args[@]}" --log "$T/part.tsv" --snapshot-dir "$T/s2" -o "$T/part.model" &
			pid=$!
			for i in $(seq 2000); do
				[ "$(wc -l < "$T/part.tsv" 2>/dev/null || echo 0)" -ge "$rows" ] && break
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.005
			done
			kill -s "$sig" "$pid" || true
			rc=0; wait "$pid" || rc=$?
			echo "$sig try $try: signal after $((rows - 1)) rows, exit $rc"
			if [ "$rc" -ne 0 ]; then interrupted=1; break; fi
		done
		[ "$interrupted" -eq 1 ]
		if [ "$sig" = INT ]; then [ "$rc" -eq 130 ]; else [ "$rc" -eq 143 ]; fi
		[ -s "$T/part.model.ckpt" ]
		[ ! -e "$T/part.model" ]
		dann-train -q "${args[@]}" --log "$T/part.tsv" --snapshot-dir "$T/s2" -o "$T/part.model" \
			--resume "$T/part.model.ckpt"
		cmp "$T/full.model" "$T/part.model"
		cmp "$T/full.tsv" "$T/part.tsv"
		cmp "$T/s1/snapshots.tsv" "$T/s2/snapshots.tsv"
		cmp "$T/s1/snap-0002.model" "$T/s2/snap-0002.model"
	done
}

@test "--resume refuses a checkpoint made with other options, and a plain model" {
	dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 3 -o "$T/m.model"
	run --separate-stderr dann-train --source "$T/src.npy" --target "$T/tgt.npy" --steps 3 \
		--resume "$T/m.model" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "not a training checkpoint"
	# a real checkpoint: a long run stopped by SIGINT once it has logged a row
	args=(--source "$T/src.npy" --target "$T/tgt.npy" --steps 100000 --batch 8 --threads 1
	      --log "$T/l.tsv" --log-every 2)
	dann-train -q "${args[@]}" -o "$T/c.model" &
	pid=$!
	for i in $(seq 200); do [ "$(cat "$T/l.tsv" 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.05; done
	kill -INT "$pid"
	rc=0; wait "$pid" || rc=$?
	[ "$rc" -eq 130 ]
	[ -s "$T/c.model.ckpt" ]
	# per-domain statistics (two sets) cannot continue as joint (one set), nor with another seed
	run --separate-stderr dann-train -q "${args[@]}" --bn-stats joint --resume "$T/c.model.ckpt" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "BatchNorm statistics.*another --bn-stats"
	run --separate-stderr dann-train -q "${args[@]}" --seed 2 --resume "$T/c.model.ckpt" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "another seed"
}

@test "source-only mode needs no target; 32x32 images work" {
	mk_data "$T/s32.npy" 128 5 gray 32
	mk_data "$T/t32.npy" 128 6 rgb 32
	dann-train -q --mode source-only --source "$T/s32.npy" --steps 2 -o "$T/a.model"
	dann-train -q --source "$T/s32.npy" --target "$T/t32.npy" --steps 2 --arch paper -o "$T/b.model"
	py '
for p, f_ in ((sys.argv[1], 1200), (sys.argv[2], 1200)):
    h = np.load(open(p, "rb")); assert h[4] == 32 and h[7] == f_, h' "$T/a.model" "$T/b.model"
}

@test "bad input: missing labels, differing sizes, truncated stream, unwritable output" {
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((70, 28, 28), np.uint8)); f.close()' "$T/nolab.npy"
	run --separate-stderr dann-train --source "$T/nolab.npy" --target "$T/tgt.npy" -o "$T/m"
	assert_fails_cleanly 1 dann-train "labels"
	mk_data "$T/t32.npy" 128 6 rgb 32
	run --separate-stderr dann-train --source "$T/src.npy" --target "$T/t32.npy" -o "$T/m"
	assert_fails_cleanly 1 dann-train "sizes differ"
	head -c 100000 "$T/src.npy" > "$T/trunc.npy"
	run --separate-stderr dann-train --source "$T/trunc.npy" --target "$T/tgt.npy" -o "$T/m"
	assert_fails_cleanly 1 dann-train "trunc"
	run --separate-stderr dann-train --source "$T/missing.npy" --target "$T/tgt.npy" -o "$T/m"
	assert_fails_cleanly 1 dann-train "missing.npy"
	run --separate-stderr dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 1 -o "$T/no/such/dir/m"
	assert_fails_cleanly 1 dann-train "no/such/dir"
	run --separate-stderr dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 1 -o /dev/full
	assert_fails_cleanly 1 dann-train "write error|space"
	[ ! -e "$T/m" ]
}
