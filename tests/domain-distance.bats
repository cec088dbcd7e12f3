#!/usr/bin/env bats
# domain-distance: the table, theory on synthetic streams, agreement with liblinear's own
# train/predict programs on real network features, raw images, bad input.
bats_require_minimum_version 1.5.0
load helper

HEADER=$'input\tprotocol\tpad\tepsilon\tC\tflipped\tsource_train\ttarget_train\tsource_val\ttarget_val\tsource_test\ttarget_test'

# gauss FILE N_PER_DOMAIN DIM DELTA SEED: an embedding stream of two Gaussians N(0,I) and
# N(delta u, I), source rows first; extra arguments edit it (see the bad-input test).
gauss() {
	py '
n, dim, delta, seed = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
r = np.random.default_rng(seed)
u = r.standard_normal(dim); u /= np.linalg.norm(u)
x = r.standard_normal((2 * n, dim)); x[n:] += delta * u
d = np.repeat(np.arange(2), n).astype(np.uint8)
y = np.zeros(2 * n, np.uint8)
x = x.astype(np.float32)
what = sys.argv[6] if len(sys.argv) > 6 else ""
if what == "nan": x[3, 1] = np.nan
if what == "inf": x[7, 0] = -np.inf
if what == "onedomain": d[:] = 0
if what == "domain2": d[5] = 2
if what == "shortlabels": y = y[:-1]
if what == "shortdomains": d = d[:-3]
if what == "f64": x = x.astype(np.float64)
f = open(sys.argv[1], "wb"); np.save(f, x); np.save(f, y)
if what != "nodomains": np.save(f, d)
f.close()' "$@"
}

# noisy IN OUT SEED: the dataset IN with uniform noise 0..3 added to every pixel (a slightly
# brighter, grainier domain: the small model's features tell it apart at about 25% error)
noisy() {
	py '
f = open(sys.argv[1], "rb"); x = np.load(f); y = np.load(f)
r = np.random.default_rng(int(sys.argv[3]))
x = np.clip(x.astype(int) + r.integers(0, 4, x.shape), 0, 255).astype(np.uint8)
g = open(sys.argv[2], "wb"); np.save(g, x); np.save(g, y); g.close()' "$@"
}

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	gauss "$D/g0.npy" 600 8 0 1
	gauss "$D/g2.npy" 600 8 2 2
	gauss "$D/far.npy" 200 8 30 3
	# real features: a small model trained a few DANN steps on two shifted domains, then the
	# embedding of held-out images of both (768 features a row)
	mk_data "$D/src.npy" 256 1
	mk_data "$D/stest.npy" 400 3
	noisy "$D/src.npy" "$D/tgt.npy" 9
	noisy "$D/stest.npy" "$D/ttest.npy" 10
	dann-train -q --source "$D/src.npy" --target "$D/tgt.npy" --steps 10 --batch 32 --threads 1 \
		--bn-stats joint -o "$D/m.model"
	dann-embed -q -m "$D/m.model" --threads 1 --source "$D/stest.npy" --target "$D/ttest.npy" \
		-o "$D/emb.npy"
}

@test "--help: usage on stdout, status 0" {
	run --separate-stderr domain-distance --help
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[[ "$output" == "usage: domain-distance"* ]]
	[[ "$output" == *"--held-out"* ]]
}

@test "one row per stream after a header, in order; stdin; -o; deterministic" {
	run --separate-stderr domain-distance -q "$D/g2.npy" "$D/far.npy"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "${lines[0]}" = "$HEADER" ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == "$D/g2.npy"$'\tpaper\t'* ]]
	[[ "${lines[2]}" == "$D/far.npy"$'\tpaper\t2.0000\t0.0000\t'* ]]
	# counts: 300 of each domain train, 300 test (the first half of each domain's rows)
	[ "$(echo "${lines[1]}" | cut -f7-12)" = $'300\t300\t0\t0\t300\t300' ]
	domain-distance -q < "$D/g2.npy" | tail -n 1 | cut -f2- > "$T/stdin.tsv"
	echo "${lines[1]}" | cut -f2- | cmp - "$T/stdin.tsv"
	domain-distance -q "$D/g2.npy" "$D/far.npy" -o "$T/o.tsv"
	printf '%s\n' "${lines[@]}" | cmp - "$T/o.tsv"
	run --separate-stderr domain-distance -q --held-out "$D/g2.npy"
	[ "$(echo "${lines[1]}" | cut -f2)" = held-out ]
	[ "$(echo "${lines[1]}" | cut -f7-12)" = $'300\t300\t150\t150\t150\t150' ]
}

@test "theory: two Gaussians 2 apart, PAD of the Bayes error Phi(-1) within 0.16; identical: below 0.2" {
	# 300 test rows a domain: the error's standard deviation is 0.015, so 0.04 (0.16 on the PAD)
	# covers sampling and the SVM's own excess error in 8 dimensions
	domain-distance -q "$D/g2.npy" "$D/g0.npy" -o "$T/t.tsv"
	awk -F'\t' 'NR == 2 { d = $3 - 2 * (1 - 2 * 0.158655); if (d < -0.16 || d > 0.16) { print "PAD " $3; exit 1 } }
		NR == 3 { if ($3 < 0 || $3 > 0.2) { print "identical: PAD " $3; exit 1 } }' "$T/t.tsv"
	# -v reports every C on stderr
	run --separate-stderr domain-distance -v "$D/g2.npy"
	[ "$(printf '%s\n' "$stderr" | grep -c 'C .*: test error')" -eq 10 ]
}

# ref_pad EMB SOLVER: the paper's PAD computed with liblinear-train / liblinear-predict (the
# programs of Debian's liblinear-tools) on files that NumPy writes: the same split, the same
# standardisation (training rows' mean and standard deviation), bias -B 1, each C from scratch.
ref_pad() {
	local emb=$1 s=$2 dir="$T/ref"
	mkdir -p "$dir"
	py '
f = open(sys.argv[1], "rb"); x = np.load(f).astype(np.float64); np.load(f); d = np.load(f)
tr = np.zeros(len(d), bool)
for k in (0, 1):
    i = np.flatnonzero(d == k); tr[i[: len(i) // 2]] = True
m = x[tr].mean(0); s = x[tr].std(0); s[s <= 1e-12] = 1
x = (x - m) / s
for name, sel in (("train", tr), ("test", ~tr)):
    with open(sys.argv[2] + "/" + name + ".svm", "w") as o:
        for row, lab in zip(x[sel], d[sel]):
            o.write(str(int(lab)) + " " + " ".join("%d:%.17g" % (j + 1, v) for j, v in enumerate(row)) + "\n")' "$emb" "$dir"
	local best=1 c e
	for c in 1e-05 0.0001 0.001 0.01 0.1 1 10 100 1000 10000; do
		liblinear-train -q -s "$s" -B 1 -c "$c" "$dir/train.svm" "$dir/m" >/dev/null
		liblinear-predict -q "$dir/test.svm" "$dir/m" "$dir/p" >/dev/null
		e=$(cut -d' ' -f1 "$dir/test.svm" | paste -d' ' - "$dir/p" | awk '$1 != $2 { w++ } END { print w / NR }')
		best=$(awk -v b="$best" -v e="$e" 'BEGIN { if (e > 0.5) e = 1 - e; print (e < b) ? e : b }')
	done
	echo "$best"
}

@test "real features: the same PAD as liblinear's own train/predict programs, within 0.01 of error" {
	command -v liblinear-train >/dev/null || skip "liblinear-tools not installed (make deps)"
	# tolerance: liblinear-train starts each C from zero where domain-distance warm-starts the
	# squared hinge from the previous C; both stop at liblinear's tolerance, so a few of the
	# 400 test rows near the boundary may fall the other way: 0.01 of error = 4 rows.  The
	# hinge solver has no warm start: there the figures agree to the row (tolerance 1 row).
	# The features are neither trivially told apart nor alike (eps between 0.02 and 0.48).
	local ours ref
	for s in squared-hinge:2:0.01 hinge:3:0.0025; do
		IFS=: read -r name num tol <<< "$s"
		ours=$(domain-distance -q --solver "$name" "$D/emb.npy" | awk -F'\t' 'NR == 2 { print $4 }')
		ref=$(ref_pad "$D/emb.npy" "$num")
		echo "$name: ours $ours, liblinear-train $ref"
		awk -v a="$ours" -v b="$ref" -v t="$tol" 'BEGIN { d = a - b; exit !(d <= t && d >= -t && b > 0.02 && b < 0.48) }'
	done
}

@test "raw images: --source/--target with --per-domain; grey against RGB" {
	mk_data "$T/rgb.npy" 100 4 rgb
	run --separate-stderr domain-distance -q --source "$D/stest.npy" --target "$T/rgb.npy" --per-domain 80
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$HEADER" ]
	# inverted colours: told apart without error
	[[ "${lines[1]}" == "$D/stest.npy+$T/rgb.npy"$'\tpaper\t2.0000\t0.0000\t'*$'\t40\t40\t0\t0\t40\t40' ]]
	run --separate-stderr domain-distance -q --source "$D/stest.npy" --target "$T/rgb.npy" --per-domain 101
	assert_fails_cleanly 1 domain-distance "target: 101 images asked for, it has 100"
	mk_data "$T/small.npy" 100 4 gray 16
	run --separate-stderr domain-distance -q --source "$D/stest.npy" --target "$T/small.npy"
	assert_fails_cleanly 1 domain-distance "not comparable"
}

@test "bad input: one domain, too few rows, non-finite, mismatched lengths, wrong arrays" {
	local c
	for c in onedomain:"target domain has 0 rows" nan:"non-finite value nan at row 3, column 1" \
		inf:"non-finite value -inf at row 7, column 0" domain2:"value 2 at index 5" \
		shortlabels:"labels: 399 rows, but the features have 400" \
		shortdomains:"domains: 397 rows, but the features have 400" \
		f64:"unsupported dtype '<f8'" nodomains:"domains: stream ended after 2 arrays"; do
		gauss "$T/bad.npy" 200 4 1 5 "${c%%:*}"
		run --separate-stderr domain-distance -q "$D/g2.npy" "$T/bad.npy"
		assert_fails_cleanly 1 domain-distance "${c#*:}"
	done
	gauss "$T/few.npy" 3 4 1 5
	run --separate-stderr domain-distance "$T/few.npy"
	assert_fails_cleanly 1 domain-distance "source domain has 3 rows; the paper's protocol needs at least 4"
	gauss "$T/few.npy" 6 4 1 5
	run --separate-stderr domain-distance --held-out "$T/few.npy"
	assert_fails_cleanly 1 domain-distance "held-out protocol needs at least 8"
	run --separate-stderr domain-distance "$T/nope.npy"
	assert_fails_cleanly 1 domain-distance "nope.npy: No such file"
	# a failed run leaves no output file
	gauss "$T/bad.npy" 200 4 1 5 nan
	run --separate-stderr domain-distance -q -o "$T/out.tsv" "$D/g2.npy" "$T/bad.npy"
	[ "$status" -eq 1 ] && [ ! -e "$T/out.tsv" ]
}

@test "usage errors: status 2" {
	local a
	for a in "--bogus" "--solver svm" "--source $D/stest.npy" "--per-domain 5 $D/g2.npy" \
		"--source $D/stest.npy --target $D/ttest.npy $D/g2.npy" "--seed -1" "-v -q"; do
		run --separate-stderr domain-distance $a
		assert_fails_cleanly 2 domain-distance "."
	done
}
