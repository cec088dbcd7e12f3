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
	report_setup_file
}

@test "the page of a small run works in headless Chromium" {
	report_run_made
	need_browser
	run_browser "$R/report.html" "$T/shot.png"
}
