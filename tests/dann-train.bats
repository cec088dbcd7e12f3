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
	run --separate-stderr dann-train --source "$T/src.npy" --target "$T/tgt.npy" --lambda-const -0.5 -o "$T/m"
	assert_fails_cleanly 2 dann-train "--lambda-const"
	run --separate-stderr dann-train --source "$T/src.npy" --target "$T/tgt.npy" --lambda-const x -o "$T/m"
	assert_fails_cleanly 2 dann-train "--lambda-const"
}

@test "--lambda-const X holds lambda at X from the first step; the default follows the gamma schedule" {
	dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 6 --batch 8 --threads 1 \
		--lambda-const 0.3 --log "$T/c.tsv" --log-every 2 -o "$T/c.model"
	[ "$(cut -f4 "$T/c.tsv" | tail -n +2 | sort -u)" = 0.3 ]
	[ "$(tail -n +2 "$T/c.tsv" | wc -l)" -eq 3 ]
	dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 6 --batch 8 --threads 1 \
		--log "$T/g.tsv" --log-every 2 -o "$T/g.model"
	# the schedule at the last step of each row: p = 1/6, 3/6, 5/6 with gamma 10
	py '
import csv, math
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
for r, s in zip(rows, (1, 3, 5)):
    assert abs(float(r["lambda"]) - (2 / (1 + math.exp(-10 * s / 6)) - 1)) < 1e-9, (r, s)
' "$T/g.tsv"
	! cmp -s "$T/c.model" "$T/g.model"
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
			rm -rf "$T/s2" "$T/part.model"* "$T/part.tsv"*
			rows=$(( 2 + RANDOM % 30 ))   # header + 1..30 rows
			dann-train -q "${args[@]}" --log "$T/part.tsv" --snapshot-dir "$T/s2" -o "$T/part.model" &
			pid=$!
			for i in $(seq 2000); do
				# the log is written under a temporary name until the run ends or stops
				[ "$(cat "$T/part.tsv" "$T"/part.tsv.tmp.* 2>/dev/null | wc -l)" -ge "$rows" ] && break
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

# stop_after ROWS LOG PID: wait until LOG (or its temporary file) has ROWS lines, then SIGTERM PID
stop_after() {
	for i in $(seq 4000); do
		[ "$(cat "$2" "$2".tmp.* 2>/dev/null | wc -l)" -ge "$1" ] && break
		kill -0 "$3" 2>/dev/null || break
		sleep 0.005
	done
	kill -s TERM "$3" || true
}

@test "a resumed run stopped again replaces the checkpoint it resumed from (default name); a third run completes it" {
	args=(--source "$T/src.npy" --target "$T/tgt.npy" --steps 600 --batch 8 --threads 1 --log-every 10)
	dann-train -q "${args[@]}" --log "$T/full.tsv" -o "$T/full.model"
	for try in 1 2 3 4 5; do
		rm -f "$T/p.model"* "$T/p.tsv"*
		dann-train -q "${args[@]}" --log "$T/p.tsv" -o "$T/p.model" & pid=$!
		stop_after 3 "$T/p.tsv" $pid
		rc=0; wait $pid || rc=$?
		[ "$rc" -eq 0 ] && continue   # finished before the signal: try again
		[ "$rc" -eq 143 ] && [ -s "$T/p.model.ckpt" ]
		first=$(wc -l < "$T/p.tsv")
		dann-train -q "${args[@]}" --log "$T/p.tsv" -o "$T/p.model" --resume "$T/p.model.ckpt" & pid=$!
		stop_after $((first + 3)) "$T/p.tsv" $pid
		rc=0; wait $pid || rc=$?
		[ "$rc" -eq 0 ] && continue
		echo "stopped twice: after $((first - 1)) rows, then $(( $(wc -l < "$T/p.tsv") - 1 ))"
		[ "$rc" -eq 143 ] && [ -s "$T/p.model.ckpt" ] && [ ! -e "$T/p.model" ]
		[ "$(wc -l < "$T/p.tsv")" -gt "$first" ]
		dann-train -q "${args[@]}" --log "$T/p.tsv" -o "$T/p.model" --resume "$T/p.model.ckpt"
		cmp "$T/full.model" "$T/p.model"
		cmp "$T/full.tsv" "$T/p.tsv"
		return 0
	done
	echo "every try finished before a signal"; false
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
	for i in $(seq 200); do [ "$(cat "$T"/l.tsv.tmp.* 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.05; done
	kill -INT "$pid"
	rc=0; wait "$pid" || rc=$?
	[ "$rc" -eq 130 ]
	[ -s "$T/c.model.ckpt" ]
	# per-domain statistics (two sets) cannot continue as joint (one set), nor with another seed
	run --separate-stderr dann-train -q "${args[@]}" --bn-stats joint --resume "$T/c.model.ckpt" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "BatchNorm statistics.*another --bn-stats"
	run --separate-stderr dann-train -q "${args[@]}" --seed 2 --resume "$T/c.model.ckpt" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "another seed"
	# the schedule cannot continue as a constant lambda
	run --separate-stderr dann-train -q "${args[@]}" --lambda-const 1 --resume "$T/c.model.ckpt" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "another --lambda-const"
	# the log continues the interrupted one only with its period (dann-train's own section)
	run --separate-stderr dann-train -q "${args[@]}" --log-every 3 --resume "$T/c.model.ckpt" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "c.model.ckpt: .*other logging/snapshot options"
	[ ! -e "$T/x.model" ]
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
	# an unusable output is a usage error, found before the data is read
	run --separate-stderr dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 1 -o "$T/no/such/dir/m"
	assert_fails_cleanly 2 dann-train "no/such/dir/m: cannot create"
	run --separate-stderr dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --steps 1 -o /dev/full
	assert_fails_cleanly 1 dann-train "write error|space"
	[ ! -e "$T/m" ]
}

# --- non-finite numbers, output paths, streams ---------------------------------------------

@test "a diverging training (huge --lr) stops with exit 1 naming the step; no model, the log kept" {
	run --separate-stderr dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --batch 8 \
		--steps 200 --lr 100 --threads 1 --log "$T/d.tsv" --log-every 1 --snapshots 2 \
		--snapshot-dir "$T/snaps" -o "$T/d.model"
	assert_fails_cleanly 1 dann-train "step [0-9]+: .*(loss is (nan|inf|-inf)|holds (nan|inf|-inf)).*diverged"
	[ ! -e "$T/d.model" ] && [ ! -e "$T/d.model.ckpt" ]
	[ -z "$(ls "$T" "$T/snaps" | grep "\.tmp\.")" ]
	# the log holds the rows up to the failing step, every number finite and in full
	step=$(sed -E 's/.*step ([0-9]+):.*/\1/' <<<"$stderr")
	[ "$(tail -n 1 "$T/d.tsv" | cut -f1)" -eq $((step - 1)) ]
	awk -F'\t' 'NR > 1 { for (i = 1; i <= 7; i++) if ($i !~ /^-?[0-9.]+(e[-+][0-9]+)?$/) exit 1 }' "$T/d.tsv"
	# the snapshot written before the divergence is a finite model; none after it
	[ -f "$T/snaps/snap-0000.model" ] && [ ! -e "$T/snaps/snap-0002.model" ]
	dann-embed -q -m "$T/snaps/snap-0000.model" --domain source --accuracy "$T/src.npy" > /dev/null
}

@test "log and snapshots.tsv numbers keep their precision (%.9g, never %.4f-truncated)" {
	dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --batch 8 --steps 3 --log-every 1 \
		--threads 1 --snapshots 3 --snapshot-dir "$T/s" --log "$T/p.tsv" -o "$T/p.model"
	# 24 steps an epoch: epoch 1/24 prints as 0.0416666667 (it was 0.0417), in the log and in
	# snapshots.tsv; losses carry 9 significant digits
	[ "$(awk -F'\t' 'NR == 2 { print $2 }' "$T/p.tsv")" = 0.0416666667 ]
	[ "$(awk -F'\t' 'NR == 3 { print $3 }' "$T/s/snapshots.tsv")" = 0.0416666667 ]
	# (%.9g drops trailing zeros: 2.125206 is 2.12520600, so not every row need be 10 long)
	awk -F'\t' 'NR > 1 && length($5) >= 10 { n++ } END { exit n < 2 }' "$T/p.tsv"
}

@test "--resume refuses a checkpoint holding a non-finite parameter" {
	args=(--source "$T/src.npy" --target "$T/tgt.npy" --steps 100000 --batch 8 --threads 1 --log-every 2)
	dann-train -q "${args[@]}" --log "$T/l.tsv" -o "$T/c.model" &
	pid=$!
	for i in $(seq 200); do [ "$(cat "$T"/l.tsv.tmp.* 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.05; done
	kill -INT "$pid"
	rc=0; wait "$pid" || rc=$?
	[ "$rc" -eq 130 ]
	# poison one float of the first parameter tensor (after the header array)
	py '
b = bytearray(open(sys.argv[1], "rb").read())
f = open(sys.argv[1], "rb"); np.load(f); np.lib.format.read_magic(f); np.lib.format.read_array_header_1_0(f)
o = f.tell() + 4 * 3
b[o:o + 4] = np.array([np.nan], "<f4").tobytes()
open(sys.argv[2], "wb").write(bytes(b))' "$T/c.model.ckpt" "$T/bad.ckpt"
	run --separate-stderr dann-train -q "${args[@]}" --log "$T/l.tsv" --resume "$T/bad.ckpt" -o "$T/x.model"
	assert_fails_cleanly 1 dann-train "bad.ckpt: tensor .* holds nan at index 3"
	[ ! -e "$T/x.model" ]
}

@test "outputs: checked before any work; none may be an input; symlinks written through" {
	local a=(--source "$T/src.npy" --target "$T/tgt.npy" --batch 8 --steps 2 --threads 1 -q)
	cp "$T/src.npy" "$T/src.orig"
	# --log, -o, --checkpoint naming an input (also through a link or another path): refused
	ln -s src.npy "$T/link.npy"
	for o in "--log $T/src.npy" "--log $T/link.npy" "--log $T/./src.npy" "-o $T/tgt.npy" "--checkpoint $T/src.npy"; do
		run --separate-stderr dann-train "${a[@]}" -o "$T/m.model" $o
		assert_fails_cleanly 2 dann-train "refusing to overwrite an input" || { echo "with $o"; return 1; }
	done
	cmp "$T/src.npy" "$T/src.orig"
	# empty names and unusable places: usage errors (exit 2), before the data is read
	for o in "-o ''" "--log ''" "--checkpoint ''" "--log $T/nodir/l.tsv" "--snapshots 2 --snapshot-dir $T/src.npy" \
		"--snapshots 2 --snapshot-dir $T/nodir/deeper" "--log $T"; do
		run --separate-stderr bash -c "dann-train --source /dev/zero --target '$T/tgt.npy' -q -o '$T/m.model' $o"
		assert_fails_cleanly 2 dann-train "empty|cannot create|directory" || { echo "with $o"; return 1; }
	done
	chmod 555 "$T/ro" 2>/dev/null || { mkdir "$T/ro"; chmod 555 "$T/ro"; }
	if [ "$(id -u)" != 0 ]; then
		run --separate-stderr dann-train "${a[@]}" -o "$T/ro/m.model"
		assert_fails_cleanly 2 dann-train "ro/m.model: cannot create a file in"
	fi
	# -o and --log through symbolic links: the targets are written, the links stay links
	ln -s real.model "$T/mlink"
	ln -s real.tsv "$T/llink"
	dann-train "${a[@]}" -o "$T/mlink" --log "$T/llink"
	[ -L "$T/mlink" ] && [ -L "$T/llink" ] && [ -s "$T/real.model" ] && [ -s "$T/real.tsv" ]
	[ -z "$(ls "$T" | grep tmp)" ]
}

@test "an empty --target-test, and a dataset followed by more arrays, are refused" {
	py '
f = open(sys.argv[1], "wb"); np.save(f, np.zeros((0, 28, 28), np.uint8)); np.save(f, np.zeros(0, np.uint8))' "$T/empty.npy"
	run --separate-stderr dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" --target-test "$T/empty.npy" \
		--batch 8 --steps 2 -o "$T/m.model"
	assert_fails_cleanly 1 dann-train "target-test: .*empty.npy holds no images"
	tensor-cat -o "$T/two.npy" "$T/src.npy" "$T/src.npy"
	for w in --source --target --target-test; do
		run --separate-stderr dann-train -q --source "$T/src.npy" --target "$T/tgt.npy" $w "$T/two.npy" \
			--batch 8 --steps 2 -o "$T/m.model"
		assert_fails_cleanly 1 dann-train "two.npy: another array follows the labels: \(192,28,28\) uint8"
	done
	cat "$T/src.npy" <(printf 'garbage') > "$T/junk.npy"
	run --separate-stderr dann-train -q --source - --target "$T/tgt.npy" --batch 8 --steps 2 -o "$T/m.model" < "$T/junk.npy"
	assert_fails_cleanly 1 dann-train "stdin: unexpected data after the labels"
	[ ! -e "$T/m.model" ]
}
