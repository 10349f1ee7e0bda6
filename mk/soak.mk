# mk/soak.mk - issue 7 soak: thousands of churning clients against the real
# sidecar for minutes (not part of `make test`). Included by the top
# Makefile (-include mk/*.mk).
#
#   make soak                   SOAK_SECONDS (600) of churn, then verdicts;
#                               writes bench/results/soak-<ts>.json
#   make soak SOAK_SECONDS=60   a short run
#   SOAK_ARGS=...               more options for bench/soak.py (see --help)
#   make redis-cost             Redis commands and CPU per broadcast, connect
#                               and disconnect with 1 and 2 sidecar processes
#                               (bench/redis_cost.py; REDIS_COST_ARGS=...)

SOAK_SECONDS ?= 600
SOAK_ARGS    ?=
SOAK_PY      := $(if $(PY),$(PY),.venv/bin/python)
SOAK_CC      ?= cc
SOAK_CFLAGS  ?= -std=c11 -Wall -Wextra -Werror -O2 -g

.PHONY: soak soak-build redis-cost
REDIS_COST_ARGS ?=

build/bench/soak: bench/soak.c bench/wscommon.h
	@mkdir -p $(@D)
	$(SOAK_CC) $(SOAK_CFLAGS) -o $@ bench/soak.c

soak-build: build/bench/soak

soak: soak-build
	$(SOAK_PY) bench/soak.py --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

redis-cost: soak-build
	$(SOAK_PY) bench/redis_cost.py $(REDIS_COST_ARGS)
