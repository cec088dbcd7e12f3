#!/usr/bin/env bats
# Faults: a full disk, a reader that goes away, SIGKILL in the middle of writing.
# Every tool gets a small valid run (run_cmd below); a tool not built yet is skipped.
bats_require_minimum_version 1.5.0
load helper

setup_file() {
	export IN="$BATS_FILE_TMPDIR/in"
	"$PYTHON" "$ROOT/tests/bad-input/make-inputs.py" "$IN"
	. "$ROOT/tests/bad-input/small-runs.sh"
	make_models
}

. "$ROOT/tests/bad-input/small-runs.sh"  # run_cmd TOOL OUT: a small valid run

need_tool() {
	[ -x "$BIN_ABS/$1" ] || skip "$1 not built"
	run_cmd "$1" x >/dev/null || skip "$1: no small run in tests/bad-input/small-runs.sh yet"
}

# full_disk TOOL: -o /dev/full and > /dev/full are exit 1 with one line "tool: ...write error..."
full_disk() {
	local tool=$1
	need_tool "$tool"
	run --separate-stderr timeout 60 bash -c "$(run_cmd "$tool" /dev/full)"
	assert_fails_cleanly 1 "$tool" "[Ww]rite error|No space left"
	run_cmd "$tool" - >/dev/null || return 0  # writes named files only
	run --separate-stderr timeout 60 bash -c "$(run_cmd "$tool" -) > /dev/full"
	assert_fails_cleanly 1 "$tool" "[Ww]rite error|No space left"
}

# closed_pipe TOOL: `tool | head -c 100` ends quietly (no stderr text, no hang).
closed_pipe() {
	local tool=$1
	need_tool "$tool"
	run --separate-stderr timeout 60 bash -c "$(run_cmd "$tool" -) | head -c 100 | wc -c"
	[ "$status" -eq 0 ] || { echo "status $status"; false; }
	[ "$output" -eq 100 ]
	[ -z "$stderr" ] || { echo "stderr: $stderr"; false; }
}

# killed TOOL: SIGKILL at random moments of a run writing -o FILE: FILE is then either absent or
# byte-identical to an uninterrupted run's output, never a partial file under the final name.
killed() {
	local tool=$1 i t dur
	need_tool "$tool"
	local t0=$(date +%s%N)
	bash -c "$(run_cmd "$tool" "$T/ref")"
	dur=$(( ($(date +%s%N) - t0) / 1000000 ))  # ms
	[ -s "$T/ref" ]
	for i in $(seq 1 8); do
		rm -f "$T/out"
		bash -c "exec $(run_cmd "$tool" "$T/out")" 2>/dev/null 3>&- &
		local pid=$!
		t=$(( (RANDOM % (dur + 20)) ))
		sleep "$(awk -v t="$t" 'BEGIN { printf "%.3f", t / 1000 }')"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		if [ -e "$T/out" ]; then cmp "$T/out" "$T/ref" || { echo "partial output after kill at ${t}ms"; return 1; }; fi
	done
}

@test "tensor-cat: a full disk is exit 1 with a message" { full_disk tensor-cat; }
@test "mnist-fetch: a full disk is exit 1 with a message" { full_disk mnist-fetch; }
@test "mnistm-gen: a full disk is exit 1 with a message" { full_disk mnistm-gen; }
@test "dann-train: a full disk is exit 1 with a message" { full_disk dann-train; }
@test "dann-embed: a full disk is exit 1 with a message" { full_disk dann-embed; }
@test "tsne: a full disk is exit 1 with a message" { full_disk tsne; }
@test "plot-frames: a full disk is exit 1 with a message" { full_disk plot-frames; }
@test "plot-curves: a full disk is exit 1 with a message" { full_disk plot-curves; }
@test "domain-distance: a full disk is exit 1 with a message" { full_disk domain-distance; }
@test "dann-report: a full disk is exit 1 with a message" { full_disk dann-report; }
@test "tensor-cat: a closed pipe is quiet" { closed_pipe tensor-cat; }
@test "mnist-fetch: a closed pipe is quiet" { closed_pipe mnist-fetch; }
@test "mnistm-gen: a closed pipe is quiet" { closed_pipe mnistm-gen; }
@test "dann-embed: a closed pipe is quiet" { closed_pipe dann-embed; }
@test "tsne: a closed pipe is quiet" { closed_pipe tsne; }
@test "domain-distance: a closed pipe is quiet" { closed_pipe domain-distance; }
@test "dann-report: a closed pipe is quiet" { closed_pipe dann-report; }
@test "tensor-cat: SIGKILL never leaves a partial file under the final name" { killed tensor-cat; }
@test "mnist-fetch: SIGKILL never leaves a partial file under the final name" { killed mnist-fetch; }
@test "mnistm-gen: SIGKILL never leaves a partial file under the final name" { killed mnistm-gen; }
@test "dann-train: SIGKILL never leaves a partial file under the final name" { killed dann-train; }
@test "dann-embed: SIGKILL never leaves a partial file under the final name" { killed dann-embed; }
@test "tsne: SIGKILL never leaves a partial file under the final name" { killed tsne; }
@test "plot-frames: SIGKILL never leaves a partial file under the final name" { killed plot-frames; }
@test "plot-curves: SIGKILL never leaves a partial file under the final name" { killed plot-curves; }
@test "domain-distance: SIGKILL never leaves a partial file under the final name" { killed domain-distance; }
@test "dann-report: SIGKILL never leaves a partial file under the final name" { killed dann-report; }

@test "tensor-cat: SIGKILL while blocked mid-stream: partial data only under the temporary name" {
	# the first array is written out, then the second operand (a FIFO) stalls after its header
	mkfifo "$T/fifo"
	tensor-cat -o "$T/out.npy" "$IN/ok_big.npy" "$T/fifo" 2>/dev/null 3>&- &
	local pid=$!
	exec {w}>"$T/fifo"
	head -c 200 "$IN/ok_gray.npy" >&$w
	local i
	for i in $(seq 1 100); do  # until the temporary file holds the first array
		[ "$(cat "$T"/out.npy.tmp.* 2>/dev/null | wc -c)" -ge 1000000 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	exec {w}>&-
	[ ! -e "$T/out.npy" ]
	[ "$(cat "$T"/out.npy.tmp.* | wc -c)" -ge 1000000 ]
}

@test "tensor-cat: SIGTERM and SIGINT remove the temporary file" {
	mkfifo "$T/fifo"
	local sig pid w
	for sig in TERM INT; do
		tensor-cat -o "$T/out.npy" "$IN/ok_big.npy" "$T/fifo" 2>/dev/null 3>&- &
		pid=$!
		exec {w}>"$T/fifo"
		head -c 200 "$IN/ok_gray.npy" >&$w
		sleep 0.3
		kill -"$sig" "$pid"
		run wait "$pid"
		[ "$status" -ne 0 ]
		exec {w}>&-
		[ ! -e "$T/out.npy" ]
		[ -z "$(ls "$T" | grep tmp)" ] || { ls "$T"; false; }
	done
}

@test "secondary outputs (logs, sheets, frames) to a full disk: exit 1 with a message" {
	local cmds=()
	[ -x "$BIN_ABS/dann-train" ] && cmds+=(
		"dann-train --source '$IN/ok_gray.npy' --mode source-only --steps 2 --batch 8 --threads 1 -q --log /dev/full -o '$T/m.model'")
	[ -x "$BIN_ABS/mnistm-gen" ] && cmds+=("mnistm-gen -q --sheet /dev/full -o '$T/m.npy' '$IN/ok_gray.npy'")
	[ -x "$BIN_ABS/plot-frames" ] && cmds+=(
		"plot-frames -q --size 200x150 --sheet /dev/full '$IN/ok_pts.npy'")
	[ -x "$BIN_ABS/dann-embed" ] && cmds+=("dann-embed -m '$IN/m28.model' --threads 1 --accuracy '$IN/ok_gray.npy' > /dev/full")
	[ "${#cmds[@]}" -gt 0 ] || skip "no tool with secondary outputs built"
	local c tool
	for c in "${cmds[@]}"; do
		tool=${c%% *}
		run --separate-stderr timeout 60 bash -c "$c"
		assert_fails_cleanly 1 "$tool" "[Ww]rite [Ee]rror|No space left" || { echo "in: $c"; return 1; }
		[ ! -e "$T/m.model" ] && [ ! -e "$T/m.npy" ] || { echo "output left by: $c"; return 1; }
	done
}

# through TOOL: -o through a symbolic link writes the link's target (the link stays a link),
# -o /dev/stdout writes stdout (the device is never replaced by a file); both give the bytes
# of a plain run.
through() {
	local tool=$1
	need_tool "$tool"
	bash -c "$(run_cmd "$tool" "$T/ref")"
	mkdir "$T/d"
	ln -s ../real "$T/d/link"
	run --separate-stderr bash -c "$(run_cmd "$tool" "$T/d/link")"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[ -L "$T/d/link" ] || { echo "the link was replaced"; ls -l "$T/d"; false; }
	cmp "$T/real" "$T/ref"
	[ "$(ls -A "$T/d")" = link ] || { echo "left in the link's folder: $(ls -A "$T/d")"; false; }
	# a dangling link: its target is created
	rm "$T/real"
	bash -c "$(run_cmd "$tool" "$T/d/link")"
	[ -L "$T/d/link" ] && cmp "$T/real" "$T/ref"
	run_cmd "$tool" - >/dev/null || return 0  # writes named files only
	run --separate-stderr bash -c "$(run_cmd "$tool" /dev/stdout) > '$T/via-stdout'"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[ -c /dev/null ] && [ -L /dev/stdout ]
	cmp "$T/via-stdout" "$T/ref"
}

@test "tensor-cat: -o through a symlink or /dev/stdout writes through" { through tensor-cat; }
@test "mnist-fetch: -o through a symlink or /dev/stdout writes through" { through mnist-fetch; }
@test "mnistm-gen: -o through a symlink or /dev/stdout writes through" { through mnistm-gen; }
@test "dann-train: -o through a symlink writes through" { through dann-train; }
@test "dann-embed: -o through a symlink or /dev/stdout writes through" { through dann-embed; }
@test "tsne: -o through a symlink or /dev/stdout writes through" { through tsne; }
@test "plot-frames: --gif through a symlink writes through" { through plot-frames; }
@test "plot-curves: -o through a symlink or /dev/stdout writes through" { through plot-curves; }

# dann-train SIGINT/SIGTERM -> checkpoint -> --resume byte-identical: tests/dann-train.bats.

@test "a FIFO or a device where a file is read never blocks: mirrors, the cache, MNIST-M, photos" {
	# FIFOs with no writer and links to /dev/zero (tests/bad-input/make-inputs.py): each run must
	# end at once with exit 1, never hang (timeout's 124) or read a device without end.
	local cmds=()
	export XDG_CACHE_HOME="$T/xdg"  # never the user's cache
	unset MNIST_MIRROR MNISTM_MIRROR
	[ -x "$BIN_ABS/mnist-fetch" ] && cmds+=(
		"mnist-fetch --offline -q --mirror '$IN/mirror_fifo' --split test -o '$T/m.npy'"
		"mnist-fetch --offline -q --mirror '$IN/mirror_dev' --split train -o '$T/m.npy'"
		"mnist-fetch --offline -q --mirror 'file://$IN/mirror_fifo' --split train -o '$T/m.npy'"
		"mnist-fetch --offline -q --cache '$IN/cache_fifo' --mirror '$IN/mirror_fifo' --split test -o '$T/m.npy'"
		"mnist-fetch --dataset mnist-m --offline -q --mirror '$IN/mnistm_fifo' -o '$T/m.npy'"
		"mnist-fetch --dataset mnist-m --offline -q --allow-partial --mirror '$IN/mnistm_dev' -o '$T/m.npy'"
		"mnist-fetch --dataset mnist-m --offline -q --mirror '$IN/mirror_fifo/t10k-labels-idx1-ubyte.gz' -o '$T/m.npy'")
	[ -x "$BIN_ABS/mnistm-gen" ] && cmds+=(
		"mnistm-gen -q --recipe bsds --backgrounds '$IN/photos_fifo' -o '$T/m.npy' '$IN/ok_gray.npy'")
	[ "${#cmds[@]}" -gt 0 ] || skip "no tool built"
	local c
	for c in "${cmds[@]}"; do
		run --separate-stderr timeout 10 bash -c "$c"
		assert_fails_cleanly 1 "${c%% *}" "not a regular file|no source to fetch it from but the cache" || { echo "in: $c"; return 1; }
		[ ! -e "$T/m.npy" ]
	done
}
