# report-fixture.bash - loaded by tests/report.bats, tests/report-browser.bats and
# tests/pipeline-demo.bats (after `load helper`).  make_report_run DIR: a small DANN run through the real chain, in seconds -
# dann-train with 2 snapshots on synthetic digits (mk_data), dann-embed of 60 + 60 test images
# per snapshot with --predictions and --images, tsne --sequence - and its page DIR/report.html.
make_report_run() {
	local d=$1 m b
	mkdir -p "$d/embed"
	mk_data "$d/src.npy" 160 1
	mk_data "$d/tgt.npy" 160 2 rgb
	mk_data "$d/src-test.npy" 100 3
	mk_data "$d/tgt-test.npy" 100 4 rgb
	dann-train -q --source "$d/src.npy" --target "$d/tgt.npy" --target-test "$d/tgt-test.npy" \
		--steps 40 --batch 16 --threads 1 --log-every 5 --snapshots 2 --snapshot-dir "$d/snaps" \
		--log "$d/dann.tsv" -o "$d/dann.model" || return 1
	for m in "$d"/snaps/snap-*.model; do
		b=$(basename "$m" .model)
		dann-embed -q -m "$m" --source "$d/src-test.npy" --target "$d/tgt-test.npy" --per-domain 60 \
			--threads 1 --predictions "$d/embed/pred-${b#snap-}.npy" -o "$d/embed/$b.npy" \
			$([ -e "$d/embed/points.npy" ] || echo --images "$d/embed/points.npy") || return 1
	done
	tsne -q --threads 1 -p 10 -n 300 --sequence -O "$d/tsne" "$d"/embed/snap-*.npy || return 1
	printf 'model\tsource_accuracy\ttarget_accuracy\ndann\t0.9\t0.8\n' > "$d/results.tsv"
	printf 'dann-train ... \ntsne --sequence ... <not a tag>\n' > "$d/commands.sh"
	dann-report -q --title "small run" --snapshots "$d/snaps/snapshots.tsv" --images "$d/embed/points.npy" \
		$(for p in "$d"/embed/pred-*.npy; do echo --predictions "$p"; done) --log DANN="$d/dann.tsv" \
		--results "$d/results.tsv" --commands "$d/commands.sh" -o "$d/report.html" "$d"/tsne/frame-*.npy
}

# need_browser: skip, saying what is missing, where no browser can be driven.
need_browser() {
	[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (Debian package chromium): cannot test the page in a browser"
	[ -x /usr/bin/chromedriver ] || skip "no /usr/bin/chromedriver (Debian package chromium-driver)"
	"$PYTHON" -c 'import selenium' 2>/dev/null || skip "no Python selenium (Debian package python3-selenium)"
}

# run_browser PAGE SHOT: the checks of tests/report-browser.py; they print "ok: ..." lines.
run_browser() {
	run timeout 120 "$PYTHON" "$ROOT/tests/report-browser.py" "$1" "$2"
	echo "$output"
	[ "$status" -ne 3 ] || skip "no browser could be started: $output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^ok: ' <<<"$output")" -ge 10 ]
	[ -s "$2" ]
}

# setup_file of the report tests: the small run in $BATS_FILE_TMPDIR/run (R); its failure is
# reported by the first test that calls report_run_made.
report_setup_file() {
	export R="$BATS_FILE_TMPDIR/run"
	[ -x "$BIN_ABS/dann-report" ] || return 0
	make_report_run "$R" > "$BATS_FILE_TMPDIR/run.log" 2>&1 || echo failed > "$BATS_FILE_TMPDIR/run.failed"
}
report_run_made() {
	[ -x "$BIN_ABS/dann-report" ] || skip "dann-report not built"
	[ ! -e "$BATS_FILE_TMPDIR/run.failed" ] || { cat "$BATS_FILE_TMPDIR/run.log"; false; }
}
