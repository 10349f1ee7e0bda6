# mk/bench.mk - issue 5 benchmarks. Included by the top Makefile
# (-include mk/*.mk).
#
#   make bench         full run: every scenario, every peer (the sidecar,
#                      Daphne, uvicorn, the raw loop, uWebSockets and Node
#                      ws); writes bench/results/<ts>.json,
#                      PNG plots and the table in BENCHMARKS.md
#   make bench-quick   reduced set (< 2 min)
#   make bench-smoke   tiny sizes, to prove the harness on a busy machine
#   make bench-drain   issue 9: drain sidecar A (10,000 clients, 10 s) into
#                      sidecar B; results JSON only (the "Drain" section of
#                      BENCHMARKS.md is written by hand from it)
#   make bench-compare the fan-out of the sidecar, uWebSockets and the raw loop
#                      at 1,000 and 10,000 sockets, RUNS times (default 4),
#                      then bench/compare.py: medians and per-run ratios (one
#                      run's p99 moves by 20-30 %); results in
#                      bench/results/compare-<ts>/
#   make bench-build   only the C tools (build/bench/loadgen, rawserver)
#   BENCH_ARGS=...     extra options for bench/run.py (see --help)

BENCH_CC      ?= cc
BENCH_CFLAGS  ?= -std=c11 -Wall -Wextra -Werror -O2 -g
# The handshake's SHA-1 and base64 (bench/wscommon.h).
BENCH_LDLIBS  ?= $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
BENCH_OUT     := build/bench
BENCH_PY      := $(if $(PY),$(PY),.venv/bin/python)
BENCH_ARGS    ?=
RUNS          ?= 4
COMPARE_PEERS ?= sidecar,uws,raw
COMPARE_SIZES ?= 1000,10000

.PHONY: bench bench-quick bench-smoke bench-drain bench-compare bench-build bench-deps bench-report bench-clean

$(BENCH_OUT)/loadgen: bench/loadgen.c bench/wscommon.h
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ bench/loadgen.c $(BENCH_LDLIBS)

$(BENCH_OUT)/rawserver: bench/rawserver.c bench/wscommon.h
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ bench/rawserver.c $(BENCH_LDLIBS)

# Python side: uvicorn and socketify (uWebSockets) as peers, matplotlib
# (plots) on top of the project. Node side (issue 20): Debian's nodejs and
# npm when no node is installed, then bench/peers' pinned lock file
# (ws, ioredis, @msgpack/msgpack) with `npm ci`, redone when the lock changes.
BENCH_SOCKETIFY ?= socketify==0.0.31
BENCH_NODE_STAMP := bench/peers/node_modules/.package-lock.json

bench-deps: setup $(BENCH_NODE_STAMP)
	@$(BENCH_PY) -c "import uvicorn, matplotlib, socketify" 2>/dev/null || \
		$(BENCH_PY) -m pip install -q 'uvicorn[standard]' matplotlib '$(BENCH_SOCKETIFY)'

$(BENCH_NODE_STAMP): bench/peers/package.json bench/peers/package-lock.json
	@command -v npm >/dev/null || { \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nodejs npm >/dev/null; }
	cd bench/peers && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The sidecar's Python binding: realtime._sidecar.Server once module.c
# registers it, until then the stand-in module built by mk/sidecar.mk.
bench-build: $(BENCH_OUT)/loadgen $(BENCH_OUT)/rawserver bench-deps
	@$(BENCH_PY) -c "import realtime._sidecar as m; m.Server" 2>/dev/null || \
		$(MAKE) --no-print-directory build/sidecar/_sidecar_server_test.so SIDECAR_PY=$(BENCH_PY)

bench: bench-build
	$(BENCH_PY) bench/run.py --profile full $(BENCH_ARGS)

bench-quick: bench-build
	$(BENCH_PY) bench/run.py --profile quick $(BENCH_ARGS)

bench-smoke: bench-build
	$(BENCH_PY) bench/run.py --profile smoke $(BENCH_ARGS)

# BENCH_ARGS="--profile smoke" for a small run on a busy machine. Needs only
# the C tools and the extension (no uvicorn, no plots).
bench-drain: $(BENCH_OUT)/loadgen $(BENCH_OUT)/rawserver
	$(BENCH_PY) bench/run.py --profile full --scenarios drain --peers sidecar --no-report \
	    --label drain $(BENCH_ARGS)

bench-compare: bench-build
	@out=bench/results/compare-$$(date +%Y%m%dT%H%M%S); mkdir -p $$out; \
	for i in $$(seq $(RUNS)); do \
	    echo "bench-compare: run $$i of $(RUNS)"; \
	    $(BENCH_PY) bench/run.py --profile full --scenarios fanout --peers $(COMPARE_PEERS) \
	        --fanout-sizes $(COMPARE_SIZES) --no-report --label compare-$$i --out $$out \
	        $(BENCH_ARGS) || exit 1; \
	done; \
	$(BENCH_PY) bench/compare.py $$out/*.json | tee $$out/compare.md

# Re-render plots and the BENCHMARKS.md table from a results file:
#   make bench-report RESULTS=bench/results/<ts>.json
bench-report:
	$(BENCH_PY) bench/report.py $(RESULTS)

bench-clean:
	rm -rf $(BENCH_OUT)
