# paper-table.awk - runs/paper/results.tsv -> results.md (pipelines/paper.mk).
# Columns in: arch model seed target_accuracy published_accuracy source_accuracy train_seconds
# (published_accuracy is "-" when the published MNIST-M was not given).
# Variables: epochs recipe size opts tn pub (pub: the published column's name, or empty).
function sd(k, S, Q) { v = n[k] > 1 ? (Q[k] - n[k] * (S[k] / n[k]) ^ 2) / (n[k] - 1) : 0; return v > 0 ? sqrt(v) : 0 }
function range(k, LO, HI) { return sprintf("%.4f – %.4f", LO[k], HI[k]) }
function stat(k, x, S, Q, LO, HI) {
	S[k] += x; Q[k] += x * x
	if (!(k in LO) || x < LO[k]) LO[k] = x
	if (!(k in HI) || x > HI[k]) HI[k] = x
}
NR > 1 {
	k = $1 SUBSEP $2; n[k]++; arch[$1] = 1
	stat(k, $4, ts, tq, tlo, thi)
	if ($5 != "-") { np[k]++; stat(k, $5, ps, pq, plo, phi) }
	stat(k, $6, ss, sq, slo, shi)
	w[k] += $7
}
END {
	paper["source-only"] = ".5225"; paper["dann"] = ".7666"; paper["train-on-target"] = ".9596"
	name["seed"] = "our network (BatchNorm, dropout): --arch seed"
	name["paper"] = "the paper's network (no BatchNorm, no dropout): --arch paper"
	print "# paper: MNIST -> MNIST-M (" recipe " recipe, " size "x" size "), " epochs " epochs" (opts != "" ? ", dann-train " opts : "")
	print ""
	print "Target: the generated MNIST-M test split made from " (tn ? "the first " tn : "all 10,000") " of MNIST's test images" \
		(pub != "" ? "; published: the " pub : "") "; source: the same MNIST test images."
	split("seed paper", archs, " "); split("source-only dann train-on-target", order, " ")
	for (a = 1; a <= 2; a++) {
		A = archs[a]; if (!(A in arch)) continue
		print ""; print "## " name[A]; print ""
		printf "| model | target accuracy, mean ± std | target min – max |%s source accuracy, mean ± std (min) | seeds | training time per run | paper (Ganin et al. 2016) |\n", \
			(pub != "" ? " published MNIST-M, mean ± std (min – max) |" : "")
		printf "|---|---|---|%s---|---|---|---|\n", (pub != "" ? "---|" : "")
		for (i = 1; i <= 3; i++) {
			m = order[i]; k = A SUBSEP m; if (!n[k]) continue
			p = ""
			if (pub != "") p = np[k] ? sprintf(" %.4f ± %.4f (%s) |", ps[k] / np[k], sd2(k), range(k, plo, phi)) : " – |"
			printf "| %s | %.4f ± %.4f | %s |%s %.4f ± %.4f (%.4f) | %d | %.0f s | %s |\n", m, ts[k] / n[k], sd(k, ts, tq), \
				range(k, tlo, thi), p, ss[k] / n[k], sd(k, ss, sq), slo[k], n[k], w[k] / n[k], paper[m]
		}
	}
}
# the published column's std: over the runs that have it
function sd2(k) { v = np[k] > 1 ? (pq[k] - np[k] * (ps[k] / np[k]) ^ 2) / (np[k] - 1) : 0; return v > 0 ? sqrt(v) : 0 }
