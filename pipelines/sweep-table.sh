#!/usr/bin/env bash
# sweep-table.sh - the table of a sweep (pipelines/sweep.mk) over its seeds.
#
#   sweep-table.sh [--title TEXT] [--tsv SUMMARY.tsv] -o SUMMARY.md RESULTS.tsv
#
# RESULTS.tsv: a header, then one row per run: the settings (recipe and one column per swept
# option), seed, target_accuracy, source_accuracy, train_seconds.  Rows with the same settings
# are one configuration; for each, in the order of first appearance: the number of seeds,
# target accuracy mean, sample std (n - 1; 0 for one seed), min and max, source accuracy mean,
# std and min, and the mean training time.  SUMMARY.tsv holds them as numbers, SUMMARY.md as a
# Markdown table.  Both are written under a temporary name and renamed.
set -euo pipefail
me=sweep-table.sh
die() { echo "$me: $*" >&2; exit "${2:-1}"; }
title= tsv= out=
while [ $# -gt 0 ]; do
	case $1 in
	--title) [ $# -ge 2 ] || die "--title needs a value" 2; title=$2; shift 2 ;;
	--tsv) [ $# -ge 2 ] || die "--tsv needs a file" 2; tsv=$2; shift 2 ;;
	-o) [ $# -ge 2 ] || die "-o needs a file" 2; out=$2; shift 2 ;;
	-h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) die "unknown option '$1' (try '$me --help')" 2 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "one RESULTS.tsv is needed (try '$me --help')" 2
[ -n "$out" ] || die "-o SUMMARY.md is needed" 2
in=$1
[ -r "$in" ] || die "$in: cannot read"

tmp_md=$out.tmp.$$
tmp_tsv=
trap 'rm -f "$tmp_md" ${tmp_tsv:+"$tmp_tsv"}' EXIT
[ -z "$tsv" ] || tmp_tsv=$tsv.tmp.$$

awk -F'\t' -v OFS='\t' -v title="$title" -v tsv="${tmp_tsv:-/dev/null}" -v name="$in" '
function fail(m) { printf "%s: %s: %s\n", "sweep-table.sh", name, m > "/dev/stderr"; bad = 1; exit 1 }
function sd(k,  v) { v = n[k] > 1 ? (q[k] - n[k] * (s[k] / n[k]) ^ 2) / (n[k] - 1) : 0; return v > 0 ? sqrt(v) : 0 }
function sds(k,  v) { v = n[k] > 1 ? (qs[k] - n[k] * (ss[k] / n[k]) ^ 2) / (n[k] - 1) : 0; return v > 0 ? sqrt(v) : 0 }
NR == 1 {
	for (i = 1; i <= NF; i++) col[$i] = i
	if (!("seed" in col) || !("target_accuracy" in col) || !("source_accuracy" in col) || !("train_seconds" in col))
		fail("header lacks seed, target_accuracy, source_accuracy or train_seconds")
	ns = col["seed"] - 1
	if (ns < 1) fail("no settings columns before seed")
	for (i = 1; i <= ns; i++) head[i] = $i
	next
}
{
	if (NF != length(col)) fail("line " NR ": " NF " fields, the header has " length(col))
	k = $1; for (i = 2; i <= ns; i++) k = k SUBSEP $i
	t = $col["target_accuracy"]; a = $col["source_accuracy"]; w = $col["train_seconds"]
	if (t !~ /^[0-9.]+$/ || a !~ /^[0-9.]+$/ || w !~ /^[0-9.]+$/) fail("line " NR ": not a number")
	if (!(k in n)) { order[++nk] = k; lo[k] = t; hi[k] = t; slo[k] = a }
	n[k]++; s[k] += t; q[k] += t * t; ss[k] += a; qs[k] += a * a; sec[k] += w
	if (t < lo[k]) lo[k] = t; if (t > hi[k]) hi[k] = t; if (a < slo[k]) slo[k] = a
}
END {
	if (bad) exit 1
	if (nk == 0) fail("no runs")
	hdr = head[1]; rule = "|---"
	for (i = 2; i <= ns; i++) { hdr = hdr " | " head[i]; rule = rule "|---" }
	if (title != "") { print "# " title; print "" }
	print "| " hdr " | target accuracy, mean ± std | target min – max | source accuracy, mean ± std (min) | seeds | training time per run |"
	print rule "|---|---|---|---|---|"
	line = head[1]; for (i = 2; i <= ns; i++) line = line OFS head[i]
	print line, "seeds", "target_mean", "target_std", "target_min", "target_max", "source_mean", "source_std", "source_min", "train_seconds_mean" > tsv
	for (j = 1; j <= nk; j++) {
		k = order[j]; split(k, f, SUBSEP)
		cells = f[1]; line = f[1]
		for (i = 2; i <= ns; i++) { cells = cells " | " f[i]; line = line OFS f[i] }
		printf "| %s | %.4f ± %.4f | %.4f – %.4f | %.4f ± %.4f (%.4f) | %d | %.0f s |\n", cells, s[k] / n[k], sd(k),
			lo[k], hi[k], ss[k] / n[k], sds(k), slo[k], n[k], sec[k] / n[k]
		printf "%s\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.1f\n", line, n[k], s[k] / n[k], sd(k), lo[k], hi[k],
			ss[k] / n[k], sds(k), slo[k], sec[k] / n[k] > tsv
	}
}' "$in" > "$tmp_md"
[ -z "$tsv" ] || mv "$tmp_tsv" "$tsv"
mv "$tmp_md" "$out"
trap - EXIT
