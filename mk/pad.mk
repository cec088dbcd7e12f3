# pad.mk - domain-distance (the proxy A-distance, issue 17).
# liblinear: the linear SVMs (Debian ships no pkg-config file for it, hence -llinear here);
# liblinear-tools: its train/predict programs, the independent check of tests/domain-distance.bats.
APT_PKGS += liblinear-dev liblinear-tools
LDLIBS_ALL += -llinear
