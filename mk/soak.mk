# mk/soak.mk - issue 7 soak: thousands of churning clients against the real
# sidecar for minutes (not part of `make test`). Included by the top
# Makefile (-include mk/*.mk).
#
#   make soak                   SOAK_SECONDS (600) of churn, then verdicts;
#                               writes bench/results/soak-<ts>.json
#   make soak SOAK_SECONDS=60   a short run
#   SOAK_ARGS=...               more options for bench/soak.py (see --help)
#   make soak-asan SOAK_SECONDS=120 SOAK_ARGS="--clients 2000 --games 200"
#                               the same against the ASan+UBSan build (every
#                               process preloads libasan; a report fails it;
#                               RSS is only reported: ASan's quarantine grows it)
#   make redis-cost             Redis commands and CPU per broadcast, connect
#                               and disconnect with 1 and 2 sidecar processes
#                               (bench/redis_cost.py; REDIS_COST_ARGS=...)

SOAK_SECONDS ?= 600
SOAK_ARGS    ?=
SOAK_PY      := $(if $(PY),$(PY),.venv/bin/python)
SOAK_CC      ?= cc
SOAK_CFLAGS  ?= -std=c11 -Wall -Wextra -Werror -O2 -g

.PHONY: soak soak-build soak-asan redis-cost
REDIS_COST_ARGS ?=

build/bench/soak: bench/soak.c bench/wscommon.h
	@mkdir -p $(@D)
	$(SOAK_CC) $(SOAK_CFLAGS) -o $@ bench/soak.c $(BENCH_LDLIBS)

soak-build: build/bench/soak

soak: soak-build
	$(SOAK_PY) bench/soak.py --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

soak-asan: soak-build
	$(call asan_run,$(SOAK_PY) bench/soak.py --seconds $(SOAK_SECONDS) --rss-informational $(SOAK_ARGS))

redis-cost: soak-build
	$(SOAK_PY) bench/redis_cost.py $(REDIS_COST_ARGS)
