# mk/scale.mk - issue 18: 100,000 concurrent WebSockets on one machine.
# Included by the top Makefile (-include mk/*.mk).
#
#   make bench-scale       ramp to 100,000 sockets over `runsidecar --workers 6`
#                          and 6 load generators (each under the 20,000
#                          descriptor limit), then one broadcast to all;
#                          writes bench/results/scale-<ts>.json
#   SCALE_ARGS=...         options of bench/scale.py (--help), e.g. a small run:
#                          SCALE_ARGS="--target 20000 --workers 2 --loadgens 2 --games 2000"

SCALE_ARGS ?=

.PHONY: bench-scale

bench-scale: setup build/bench/loadgen
	$(PY) bench/scale.py $(SCALE_ARGS)
