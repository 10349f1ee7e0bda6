# mk/c.mk - the C extension and its tests. Included by the top Makefile
# (include mk/*.mk); also usable alone: make -f mk/c.mk build
# The venv's interpreter: the top Makefile's $(PY), else .venv/bin/python
# (its $(CPY) is the bootstrap interpreter that creates the venv).
CPY := $(if $(PY),$(PY),.venv/bin/python)
CC ?= cc
VALGRIND ?= valgrind

CTEST_CFLAGS = -std=c11 -Wall -Wextra -Werror -g -O1 -Icsrc/common
CTEST_BIN = build/ctest/test_c
# Pure-C sources the unit tests link (no Python in them), all shared ones.
CTEST_SRCS = tests/c/test_main.c csrc/common/mpack_read.c csrc/common/chash.c \
             csrc/common/names.c csrc/common/sentinel.c
CTEST_LIBS = -lz -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc

ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so)

.PHONY: build asan ctest ctest-build bench-broadcast c-clean

# Build realtime/_redislayer*.so and realtime/_sidecar*.so in place (warnings
# are errors).
build:
	PARTYHUB_STRICT=1 $(CPY) setup.py -q build_ext --inplace --force

# ASan + UBSan build, then the WHOLE Django suite (ASAN_TESTS, empty = all)
# runs under it; the normal extension is rebuilt afterwards, pass or fail.
# The interpreter is not instrumented, so libasan is preloaded, and every
# process the tests start inherits it (runsidecar, Daphne, Celery, Redis,
# Playwright's driver) except Chromium, started through a wrapper that drops
# the preload (PARTYHUB_CHROMIUM). Leak detection is off because CPython's
# own allocations at exit would drown ours (valgrind checks leaks:
# sidecar-valgrind). Reports go to build/asan/{asan,ubsan}.<pid>, so an
# error in a subprocess fails the run even when no test noticed it.
ASAN_DIR = build/asan
ASAN_TESTS ?=
# Test processes (`manage.py test --parallel`): each worker has its own Redis
# and database clone (tests/runner.py). 2 fits the project's 2-core machine:
# most of the suite waits on servers, browsers and timers, not on a CPU.
TEST_PARALLEL ?= 2
ASAN_CHROMIUM ?= $(or $(PARTYHUB_CHROMIUM),/usr/bin/chromium)
ASAN_ENV = LD_PRELOAD=$(ASAN_LIB) PYTHONMALLOC=malloc \
	ASAN_OPTIONS=detect_leaks=0:log_path=$(abspath $(ASAN_DIR))/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(abspath $(ASAN_DIR))/ubsan \
	PARTYHUB_CHROMIUM=$(abspath $(ASAN_DIR))/chromium

# $(call asan_run,COMMAND): build with ASan+UBSan, run COMMAND under
# ASAN_ENV, rebuild the normal extension (pass or fail), fail on any report.
# Also used by `make soak-asan` (mk/soak.mk).
define asan_run
PARTYHUB_STRICT=1 PARTYHUB_SANITIZE=1 $(CPY) setup.py -q build_ext --inplace --force
@rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)
@printf '#!/bin/sh\n# Chromium without the ASan preload (mk/c.mk asan)\nunset LD_PRELOAD\nexec %s "$$@"\n' \
    '$(ASAN_CHROMIUM)' >$(ASAN_DIR)/chromium && chmod +x $(ASAN_DIR)/chromium
@rc=0; $(ASAN_ENV) $(1) || rc=$$?; \
echo "asan: rebuilding the normal extension"; \
PARTYHUB_STRICT=1 $(CPY) setup.py -q build_ext --inplace --force || rc=1; \
for f in $(ASAN_DIR)/asan.* $(ASAN_DIR)/ubsan.*; do \
    [ -e "$$f" ] || continue; echo "asan: report $$f:"; cat "$$f"; rc=1; \
done; \
if [ $$rc = 0 ]; then echo "asan: passed"; else echo "asan: FAILED"; fi; exit $$rc
endef

asan:
	$(call asan_run,$(CPY) manage.py test --parallel $(TEST_PARALLEL) $(ASAN_TESTS))

ctest-build: $(CTEST_BIN)

$(CTEST_BIN): $(CTEST_SRCS) tests/c/ctest.h csrc/common/mpack_read.h csrc/common/chash.h \
             csrc/common/names.h csrc/common/sentinel.h
	@mkdir -p $(dir $@)
	$(CC) $(CTEST_CFLAGS) -o $@ $(CTEST_SRCS) $(CTEST_LIBS)

# C unit tests, plain and under valgrind (errors or leaks fail the run).
ctest: $(CTEST_BIN)
	$(CTEST_BIN)
	$(VALGRIND) -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect $(CTEST_BIN)

bench-broadcast: build
	$(CPY) bench/broadcast.py

c-clean:
	rm -rf build/ctest build/temp.* realtime/_redislayer*.so realtime/_sidecar*.so
