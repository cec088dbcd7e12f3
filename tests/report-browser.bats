#!/usr/bin/env bats
# dann-report's page in a real browser: headless Chromium driven through WebDriver (Debian's
# chromium, chromium-driver and python3-selenium; tests/report-browser.py holds the checks).
# The page here comes from a small run of the real chain made in seconds
# (tests/report-fixture.bash); tests/pipeline-demo.bats runs the same checks on the page of
# `make demo`.  Skipped, saying why, only where no browser is installed.
bats_require_minimum_version 1.5.0
load helper
load report-fixture

setup_file() {
	load helper
	load report-fixture
	[ -x "$BIN_ABS/dann-report" ] || return 0
	make_report_run "$BATS_FILE_TMPDIR/run" > "$BATS_FILE_TMPDIR/run.log" 2>&1 || echo failed > "$BATS_FILE_TMPDIR/run.failed"
}

@test "the page of a small run works in headless Chromium" {
	[ -x "$BIN_ABS/dann-report" ] || skip "dann-report not built"
	need_browser
	[ ! -e "$BATS_FILE_TMPDIR/run.failed" ] || { cat "$BATS_FILE_TMPDIR/run.log"; false; }
	run_browser "$BATS_FILE_TMPDIR/run/report.html" "$T/shot.png"
}
