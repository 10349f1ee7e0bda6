# mk/chaos.mk - issue 15's chaos soak (not part of `make test`): quiz games
# played by scripted clients on the sidecar and Daphne while Redis is
# SIGKILLed and restarted empty every 30-60 s (bench/chaos.py). Included by
# the top Makefile (-include mk/*.mk).
#
#   make chaos                    CHAOS_SECONDS (600) of games, then verdicts;
#                                 writes bench/results/chaos-<ts>.json
#   make chaos CHAOS_SECONDS=60 CHAOS_ARGS="--kill-min 10 --kill-max 20"

CHAOS_SECONDS ?= 600
CHAOS_ARGS    ?=
CHAOS_PY      := $(if $(PY),$(PY),.venv/bin/python)

.PHONY: chaos

chaos: setup
	$(CHAOS_PY) bench/chaos.py --seconds $(CHAOS_SECONDS) $(CHAOS_ARGS)
