#!/usr/bin/env bats
# dann-embed: output shapes and dtypes, accuracy against predictions, snapshots, determinism,
# an independent NumPy forward, bad input.
bats_require_minimum_version 1.5.0
load helper

# One small trained model with snapshots, shared by the tests of this file (the default
# per-domain BatchNorm statistics: a set per domain, so single inputs say --domain).
setup_file() {
	export D="$BATS_FILE_TMPDIR"
	mk_data "$D/src.npy" 128 1
	mk_data "$D/tgt.npy" 128 2 rgb
	mk_data "$D/test.npy" 300 3 rgb
	dann-train -q --source "$D/src.npy" --target "$D/tgt.npy" --steps 6 --batch 32 \
		--snapshots 2 --snapshot-dir "$D/snaps" -o "$D/m.model"
}

# shapes FILE: print "shape dtype" of each array, one per line
shapes() {
	py '
f = open(sys.argv[1], "rb")
while True:
    try: a = np.load(f)
    except Exception: break
    print(a.shape, a.dtype)' "$1"
}

@test "embedding stream: features (N,768) float32, labels, domains, for each layer" {
	dann-embed -m "$D/m.model" --domain source "$D/test.npy" > "$T/e.npy"
	[ "$(shapes "$T/e.npy" | tr '\n' ';')" = "(300, 768) float32;(300,) uint8;(300,) uint8;" ]
	for l in label-hidden:100 logits:10 domain-hidden:100 features:768; do
		dann-embed -m "$D/m.model" --layer "${l%%:*}" --domain 1 -o "$T/l.npy" "$D/test.npy"
		[ "$(shapes "$T/l.npy" | head -n 1)" = "(300, ${l##*:}) float32" ]
	done
	py '
f = open(sys.argv[1], "rb"); x = np.load(f); y = np.load(f); d = np.load(f)
g = open(sys.argv[2], "rb"); np.load(g); yt = np.load(g)
assert (y == yt).all() and (d == 1).all() and np.isfinite(x).all()
f = open(sys.argv[3], "rb"); np.load(f); np.load(f); d0 = np.load(f); assert (d0 == 0).all()' \
		"$T/l.npy" "$D/test.npy" "$T/e.npy"
}

@test "grayscale input from stdin; RGB; the same image gives the same features either way" {
	py '
f = open(sys.argv[1], "rb"); x = np.load(f); y = np.load(f)
g = open(sys.argv[2], "wb"); np.save(g, np.repeat(x[..., None], 3, axis=3)); np.save(g, y); g.close()' \
		"$D/src.npy" "$T/src3.npy"
	dann-embed -m "$D/m.model" --domain 0 < "$D/src.npy" > "$T/a.npy"
	dann-embed -m "$D/m.model" --domain source "$T/src3.npy" > "$T/b.npy"
	cmp "$T/a.npy" "$T/b.npy"
}

@test "--accuracy agrees with a hand count from --predict" {
	dann-embed -m "$D/m.model" --domain target --predict "$D/test.npy" > "$T/p.npy"
	[ "$(shapes "$T/p.npy" | tr '\n' ';')" = "(300,) uint8;(300,) uint8;" ]
	run --separate-stderr dann-embed -m "$D/m.model" --domain target --accuracy "$D/test.npy"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 11 ]
	want=$(py '
f = open(sys.argv[1], "rb"); p = np.load(f); y = np.load(f)
ok = int((p == y).sum()); print("accuracy: %.4f (%d/%d)" % (ok / len(y), ok, len(y)))
c = np.zeros((10, 10), int)
np.add.at(c, (y, p), 1)
for r in c: print(" ".join(map(str, r)))' "$T/p.npy")
	[ "$output" = "$want" ]
}

@test "snapshot 0 and the final model give different features; the last snapshot is the model" {
	dann-embed -m "$D/snaps/snap-0000.model" --domain 1 "$D/test.npy" > "$T/s0.npy"
	dann-embed -m "$D/snaps/snap-0002.model" --domain 1 "$D/test.npy" > "$T/s2.npy"
	dann-embed -m "$D/m.model" --domain 1 "$D/test.npy" > "$T/f.npy"
	! cmp -s "$T/s0.npy" "$T/f.npy"
	cmp "$T/s2.npy" "$T/f.npy"
}

@test "deterministic; --source/--target --per-domain picks the same images for every model" {
	dann-embed -m "$D/m.model" --domain 1 "$D/test.npy" --threads 2 > "$T/a.npy"
	dann-embed -m "$D/m.model" --domain 1 "$D/test.npy" --threads 2 > "$T/b.npy"
	cmp "$T/a.npy" "$T/b.npy"
	dann-embed -m "$D/m.model" --source "$D/src.npy" --target "$D/test.npy" --per-domain 50 \
		--seed 4 > "$T/p1.npy"
	dann-embed -m "$D/snaps/snap-0000.model" --source "$D/src.npy" --target "$D/test.npy" \
		--per-domain 50 --seed 4 > "$T/p0.npy"
	[ "$(shapes "$T/p1.npy" | tr '\n' ';')" = "(100, 768) float32;(100,) uint8;(100,) uint8;" ]
	py '
def rd(p):
    f = open(p, "rb"); return np.load(f), np.load(f), np.load(f)
x1, y1, d1 = rd(sys.argv[1]); x0, y0, d0 = rd(sys.argv[2])
assert (y1 == y0).all() and (d1 == d0).all() and (d1[:50] == 0).all() and (d1[50:] == 1).all()
assert not np.array_equal(x1, x0)' "$T/p1.npy" "$T/p0.npy"
	# the subset rows are the features of those very images
	py '
f = open(sys.argv[1], "rb"); x = np.load(f); y = np.load(f)
p = open(sys.argv[2], "rb"); xs = np.load(p); ys = np.load(p)
assert np.isin(ys[:50], y).all()' "$D/src.npy" "$T/p1.npy"
}

@test "an independent NumPy forward of the model file matches the logits within 1e-4" {
	for d in source target; do
		dann-embed -m "$D/m.model" --layer logits --domain $d "$D/test.npy" > "$T/lg.npy"
		run "$PYTHON" "$ROOT/tests/nn_ref.py" "$D/m.model" "$D/test.npy" "$T/lg.npy" 10 $d
		echo "$output"
		[ "$status" -eq 0 ]
	done
	# and the reference does tell the two sets apart
	run "$PYTHON" "$ROOT/tests/nn_ref.py" "$D/m.model" "$D/test.npy" "$T/lg.npy" 10 source
	[ "$status" -eq 1 ]
	dann-train -q --source "$D/src.npy" --target "$D/tgt.npy" --steps 3 --batch 32 --arch paper -o "$T/p.model"
	dann-embed -m "$T/p.model" --layer logits "$D/tgt.npy" > "$T/lg2.npy"
	run "$PYTHON" "$ROOT/tests/nn_ref.py" "$T/p.model" "$D/tgt.npy" "$T/lg2.npy" 10
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "per-domain statistics: each domain its own; --source/--target uses each; a single input says which" {
	# the model keeps two sets: without --domain a single input is a usage error
	run --separate-stderr dann-embed -m "$D/m.model" "$D/test.npy"
	assert_fails_cleanly 2 dann-embed "for each domain.*--domain source or --domain target"
	run --separate-stderr dann-embed -m "$D/m.model" --domain 1 --source "$D/src.npy" --target "$D/test.npy"
	assert_fails_cleanly 2 dann-embed "--domain is for a single input"
	run --separate-stderr dann-embed -m "$D/m.model" --domain both "$D/test.npy"
	assert_fails_cleanly 2 dann-embed "--domain"
	dann-embed -m "$D/m.model" --domain source "$D/src.npy" > "$T/s.npy"
	dann-embed -m "$D/m.model" --domain target "$D/test.npy" > "$T/t.npy"
	dann-embed -m "$D/m.model" --domain source "$D/test.npy" > "$T/ts.npy"
	dann-embed -m "$D/m.model" --source "$D/src.npy" --target "$D/test.npy" > "$T/pair.npy"
	# a joint-statistics model has one set: --domain changes only the tag
	dann-train -q --source "$D/src.npy" --target "$D/tgt.npy" --steps 4 --batch 32 --bn-stats joint -o "$T/j.model"
	dann-embed -m "$T/j.model" "$D/test.npy" > "$T/j0.npy"
	dann-embed -m "$T/j.model" --domain target "$D/test.npy" > "$T/j1.npy"
	py '
def rd(p):
    f = open(p, "rb"); return np.load(f), np.load(f), np.load(f)
s, t, ts, pair = (rd(sys.argv[i]) for i in range(1, 5))
# the two sets give different features for the same images
assert not np.array_equal(t[0], ts[0])
# the pair: source rows with the source set, target rows with the target set, in order
assert np.array_equal(pair[0][:128], s[0]) and np.array_equal(pair[0][128:], t[0])
assert (pair[2][:128] == 0).all() and (pair[2][128:] == 1).all() and (t[2] == 1).all()
j0, j1 = rd(sys.argv[5]), rd(sys.argv[6])
assert np.array_equal(j0[0], j1[0]) and (j0[2] == 0).all() and (j1[2] == 1).all()
h = np.load(open(sys.argv[7], "rb")); hj = np.load(open(sys.argv[8], "rb"))
assert h[13] == 2 and h[10] == 16 and hj[13] == 0 and hj[10] == 10, (h, hj)' \
		"$T/s.npy" "$T/t.npy" "$T/ts.npy" "$T/pair.npy" "$T/j0.npy" "$T/j1.npy" "$D/m.model" "$T/j.model"
}

@test "bad input: missing, truncated or foreign model; wrong shape or dtype; --per-domain too large" {
	run --separate-stderr dann-embed -m "$T/nope.model" "$D/test.npy"
	assert_fails_cleanly 1 dann-embed "nope.model"
	head -c 5000 "$D/m.model" > "$T/trunc.model"
	run --separate-stderr dann-embed -m "$T/trunc.model" "$D/test.npy"
	assert_fails_cleanly 1 dann-embed "truncated"
	run --separate-stderr dann-embed -m "$D/test.npy" "$D/test.npy"
	assert_fails_cleanly 1 dann-embed "expected a dann-train model"
	mk_data "$T/d32.npy" 20 1 gray 32
	run --separate-stderr dann-embed -m "$D/m.model" --domain 1 "$T/d32.npy"
	assert_fails_cleanly 1 dann-embed "32x32.*28x28"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((5, 28, 28), np.float32)); np.save(f, np.zeros(5, np.uint8)); f.close()' "$T/f32.npy"
	run --separate-stderr dann-embed -m "$D/m.model" --domain 1 "$T/f32.npy"
	assert_fails_cleanly 1 dann-embed "uint8"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((5, 28, 28), np.uint8)); np.save(f, np.zeros(4, np.uint8)); f.close()' "$T/badlab.npy"
	run --separate-stderr dann-embed -m "$D/m.model" --domain 1 -o "$T/out.npy" "$T/badlab.npy"
	assert_fails_cleanly 1 dann-embed "labels"
	[ ! -e "$T/out.npy" ]
	head -c 30000 "$D/test.npy" > "$T/trunc.npy"
	run --separate-stderr dann-embed -m "$D/m.model" --domain 1 -o "$T/out.npy" "$T/trunc.npy"
	assert_fails_cleanly 1 dann-embed "trunc"
	[ ! -e "$T/out.npy" ]
	run --separate-stderr dann-embed -m "$D/m.model" --source "$D/src.npy" --target "$D/test.npy" --per-domain 200
	assert_fails_cleanly 1 dann-embed "per-domain"
	run --separate-stderr dann-embed -m "$D/m.model" --layer bogus "$D/test.npy"
	assert_fails_cleanly 2 dann-embed "layer"
	run --separate-stderr dann-embed -m "$D/m.model" --domain 1 -o /dev/full "$D/test.npy"
	assert_fails_cleanly 1 dann-embed "write error|space"
}

@test "a closed pipe is quiet" {
	run --separate-stderr bash -c "dann-embed -m '$D/m.model' --domain 1 '$D/test.npy' | head -c 100 > /dev/null"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}
