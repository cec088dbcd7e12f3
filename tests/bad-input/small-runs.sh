# small-runs.sh - sourced by tests/faults.bats and tests/fuzz/valgrind-tools.sh.
# run_cmd TOOL OUT: print a shell command for a small, valid, fast run of TOOL whose main
# output goes to OUT ("-" for stdout).  $IN holds the inputs of make-inputs.py, $MNIST_DIR
# the MNIST mirror.  Returns 1 (prints nothing) for a tool with no entry yet.
# fail_cmd TOOL: a command for a run that fails on bad data (for valgrind's error paths).
run_cmd() {
	local tool=$1 out=$2
	# tools that write only named files (no stream on stdout) have no "-" form
	case $tool:$out in dann-train:- | plot-frames:-) return 1 ;; esac
	case $tool in
	tensor-cat) echo "tensor-cat -o '$out' '$IN/ok_big.npy' '$IN/ok_gray.npy'" ;;
	mnist-fetch)
		[ -f "$MNIST_DIR/SHA256SUMS" ] || return 1
		echo "env -u MNIST_MIRROR XDG_CACHE_HOME='$IN/cache' mnist-fetch --offline -q --mirror '$MNIST_DIR' --split test --limit 3000 -o '$out'" ;;
	mnistm-gen) echo "mnistm-gen -q --seed 3 -o '$out' '$IN/ok_big.npy'" ;;
	dann-train) echo "dann-train --source '$IN/ok_big.npy' --mode source-only --steps 30 --batch 8 --threads 1 -q -o '$out'" ;;
	dann-embed) echo "dann-embed -m '$IN/m28.model' --threads 1 -q -o '$out' '$IN/ok_big.npy'" ;;
	tsne) echo "tsne -q --threads 1 -p 5 -n 200 -o '$out' '$IN/ok_emb.npy'" ;;
	plot-frames) echo "plot-frames -q --size 320x240 --tween 3 --gif '$out' '$IN/ok_pts.npy' '$IN/ok_pts.npy'" ;;
	plot-curves) echo "plot-curves -q -o '$out' '$IN/ok.tsv'" ;;
	domain-distance) echo "domain-distance -q -o '$out' '$IN/ok_emb.npy' '$IN/ok_emb.npy'" ;;
	dann-report) echo "dann-report -q --images '$IN/rep_images.npy' --predictions '$IN/rep_pred.npy' -o '$out' '$IN/ok_pts.npy'" ;;
	*) return 1 ;;
	esac
}

fail_cmd() {
	case $1 in
	tensor-cat) echo "tensor-cat -o '$IN/never.npy' '$IN/ok_gray.npy' '$IN/trunc_body.npy'" ;;
	mnist-fetch) echo "env -u MNIST_MIRROR XDG_CACHE_HOME='$IN/cache-fail' mnist-fetch --offline -q --mirror '$IN/mirror_trunc' --split test -o '$IN/never.npy'" ;;
	mnistm-gen) echo "mnistm-gen -q -o '$IN/never.npy' '$IN/ds_labels10.npy'" ;;
	dann-train) echo "dann-train --source '$IN/ok_gray.npy' --target '$IN/trunc_labels.npy' --steps 2 --batch 8 --threads 1 -q -o '$IN/never.model'" ;;
	dann-embed) echo "dann-embed -m '$IN/m_trunc.model' --threads 1 -q -o '$IN/never.npy' '$IN/ok_gray.npy'" ;;
	tsne) echo "tsne -q --threads 1 -p 5 -o '$IN/never.npy' '$IN/emb_nan.npy'" ;;
	plot-frames) echo "plot-frames -q --size 200x150 --gif '$IN/never.gif' '$IN/ok_pts.npy' '$IN/pts_nan.npy'" ;;
	plot-curves) echo "plot-curves -q -o '$IN/never.png' '$IN/ok.tsv' '$IN/bad_number.tsv'" ;;
	domain-distance) echo "domain-distance -q -o '$IN/never.tsv' '$IN/ok_emb.npy' '$IN/emb_nan.npy'" ;;
	dann-report) echo "dann-report -q -o '$IN/never.html' '$IN/ok_pts.npy' '$IN/pts_nan.npy'" ;;
	*) return 1 ;;
	esac
}

# make_models: models in $IN for the dann-embed and dann-train cases (needs dann-train):
#   m28.model  trained one step on ok_gray.npy (28x28)    m16.model  the same on 16x16 images
#   m_arch.model  m28 with its header saying arch "paper" (a model of another architecture)
#   m_trunc.model  m28 cut short      m_nan.model  m28 with one parameter NaN (a diverged run)
#   victim.model  a copy of m28 that a case names as input and output
make_models() {
	command -v dann-train >/dev/null || return 0
	[ -f "$IN/m28.model" ] && return 0
	dann-train --source "$IN/ok_gray.npy" --mode source-only --steps 1 --batch 8 --threads 1 -q \
		-o "$IN/m28.model" || return 1
	dann-train --source "$IN/ok_gray16.npy" --mode source-only --steps 1 --batch 8 --threads 1 -q \
		-o "$IN/m16.model" || return 1
	head -c 400000 "$IN/m28.model" > "$IN/m_trunc.model"
	cp "$IN/m28.model" "$IN/victim.model"  # named as input and output by a case
	"$PYTHON" -c '
import sys, numpy as np
b = bytearray(open(sys.argv[1], "rb").read())
f = open(sys.argv[1], "rb"); np.lib.format.read_magic(f); np.lib.format.read_array_header_1_0(f)
off = f.tell()
hdr = np.frombuffer(bytes(b[off:off + 128]), "<i8").copy()
hdr[3] = 1 - hdr[3]  # arch seed <-> paper
b[off:off + 128] = hdr.tobytes()
open(sys.argv[2], "wb").write(bytes(b))
f.seek(off + 128)  # past the header array: the first tensor
np.lib.format.read_magic(f); np.lib.format.read_array_header_1_0(f)
off = f.tell() + 4 * 5
b = bytearray(open(sys.argv[1], "rb").read())
b[off:off + 4] = np.array([np.nan], "<f4").tobytes()
open(sys.argv[3], "wb").write(bytes(b))' "$IN/m28.model" "$IN/m_arch.model" "$IN/m_nan.model"
}
