# slurm.mk - sweeps on a Slurm cluster (pipelines/sweep.mk, SLURM=1) and their test.
#   make test-slurm   tests/slurm.bats alone: a one-node Slurm cluster on 127.0.0.1
#                     (tests/slurm-cluster.sh), a tiny sweep through it, a cancelled job
# Debian's Slurm (controller, node daemon, client commands) and MUNGE, its authentication,
# for the test; on a real cluster the site's Slurm is used and these are not needed.
APT_PKGS += slurm-wlm munge
# The sanitizer pass of `make check` would only repeat, slowly, tool runs other tests cover.
SAN_SKIP += tests/slurm.bats tests/sweep.bats

test-slurm: all
	bats tests/slurm.bats
.PHONY: test-slurm
