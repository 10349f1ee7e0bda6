# mk/difffuzz.mk - the differential fuzzer: `manage.py runsidecar` (with its
# inbound worker) and Daphne serving GameConsumer get the same generated
# handshakes and client messages; what a client observes must be equal or
# an intended difference (tests/test_differential.py, docs/protocol.md).
#
#   make fuzz-diff                 generated cases for DURATION seconds (1800),
#                                  a progress line every 100 cases; each new
#                                  disagreement, shrunk, is saved in
#                                  tests/fuzz/corpus/differential/ (commit it
#                                  with its fix: `make test` replays it)
#   make fuzz-diff DURATION=120    a shorter run
#
# `make test` runs the corpus and a fixed-seed smoke of 40 cases (the
# DifferentialFuzz tests in the suite).

DURATION ?= 1800

.PHONY: fuzz-diff

fuzz-diff: setup
	@echo ">> fuzz-diff: $(DURATION) s of generated cases against runsidecar and Daphne"
	@DIFF_FUZZ_SECONDS=$(DURATION) $(PY) manage.py test tests.test_differential.DifferentialFuzz.test_generated
