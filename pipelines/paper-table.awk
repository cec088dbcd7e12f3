# paper-table.awk - runs/paper/results.tsv -> results.md (pipelines/paper.mk).
# In: the results.tsv of the paper's sweep (pipelines/sweep.mk), columns found by name: arch,
# model, seed, target_accuracy, published_accuracy (only when the published MNIST-M was given),
# source_accuracy, train_seconds.
# Variables: epochs recipe size opts tn pub (pub: the published column's name, or empty).
function sd(k, N, S, Q,  v) { v = N[k] > 1 ? (Q[k] - N[k] * (S[k] / N[k]) ^ 2) / (N[k] - 1) : 0; return v > 0 ? sqrt(v) : 0 }
function range(k, LO, HI) { return sprintf("%.4f – %.4f", LO[k], HI[k]) }
function stat(k, x, S, Q, LO, HI) {
	S[k] += x; Q[k] += x * x
	if (!(k in LO) || x < LO[k]) LO[k] = x
	if (!(k in HI) || x > HI[k]) HI[k] = x
}
NR == 1 {
	for (i = 1; i <= NF; i++) col[$i] = i
	if (!("arch" in col) || !("model" in col) || !("target_accuracy" in col) || !("source_accuracy" in col) || !("train_seconds" in col)) {
		print "paper-table.awk: " FILENAME ": no arch, model, target_accuracy, source_accuracy or train_seconds column" > "/dev/stderr"
		bad = 1; exit 1
	}
	next
}
{
	k = $col["arch"] SUBSEP $col["model"]; n[k]++; arch[$col["arch"]] = 1
	stat(k, $col["target_accuracy"], ts, tq, tlo, thi)
	if ("published_accuracy" in col) { np[k]++; stat(k, $col["published_accuracy"], ps, pq, plo, phi) }
	stat(k, $col["source_accuracy"], ss, sq, slo, shi)
	w[k] += $col["train_seconds"]
}
END {
	if (bad) exit 1
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
			if (pub != "") p = np[k] ? sprintf(" %.4f ± %.4f (%s) |", ps[k] / np[k], sd(k, np, ps, pq), range(k, plo, phi)) : " – |"
			printf "| %s | %.4f ± %.4f | %s |%s %.4f ± %.4f (%.4f) | %d | %.0f s | %s |\n", m, ts[k] / n[k], sd(k, n, ts, tq), \
				range(k, tlo, thi), p, ss[k] / n[k], sd(k, n, ss, sq), slo[k], n[k], w[k] / n[k], paper[m]
		}
	}
}
