# mk/c.mk - the C extension and its tests. Included by the top Makefile
# (include mk/*.mk); also usable alone: make -f mk/c.mk build
# The venv's interpreter: the top Makefile's $(PY), else .venv/bin/python
# (its $(CPY) is the bootstrap interpreter that creates the venv).
CPY := $(if $(PY),$(PY),.venv/bin/python)
CC ?= cc
VALGRIND ?= valgrind

CTEST_CFLAGS = -std=c11 -Wall -Wextra -Werror -g -O1 -Icsrc
CTEST_BIN = build/ctest/test_c
# Pure-C sources the unit tests link (no Python in them).
CTEST_SRCS = tests/c/test_main.c csrc/mpack_read.c csrc/chash.c csrc/names.c csrc/sentinel.c
CTEST_LIBS = -lz -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc

ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so)

.PHONY: build asan ctest ctest-build bench-broadcast c-clean

# Build realtime/_sidecar*.so in place (warnings are errors).
build:
	PARTYHUB_STRICT=1 $(CPY) setup.py -q build_ext --inplace --force

# ASan + UBSan build, then the C-layer tests run under it. The interpreter
# is not instrumented, so libasan is preloaded; leak detection is off
# because CPython's own allocations at exit would drown ours.
asan:
	PARTYHUB_STRICT=1 PARTYHUB_SANITIZE=1 $(CPY) setup.py -q build_ext --inplace --force
	LD_PRELOAD=$(ASAN_LIB) ASAN_OPTIONS=detect_leaks=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 PYTHONMALLOC=malloc \
	$(CPY) manage.py test tests.test_c_layer tests.test_c_layer_broadcast tests.test_msgpack \
	    tests.test_protocol tests.test_sidecar tests.test_sidecar_binding tests.test_drain
	@echo "asan: passed; rebuilding the normal extension"
	PARTYHUB_STRICT=1 $(CPY) setup.py -q build_ext --inplace --force

ctest-build: $(CTEST_BIN)

$(CTEST_BIN): $(CTEST_SRCS) tests/c/ctest.h csrc/mpack_read.h csrc/chash.h csrc/names.h
	@mkdir -p $(dir $@)
	$(CC) $(CTEST_CFLAGS) -o $@ $(CTEST_SRCS) $(CTEST_LIBS)

# C unit tests, plain and under valgrind (errors or leaks fail the run).
ctest: $(CTEST_BIN)
	$(CTEST_BIN)
	$(VALGRIND) -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect $(CTEST_BIN)

bench-broadcast: build
	$(CPY) bench/broadcast.py

c-clean:
	rm -rf build/ctest build/temp.* realtime/_sidecar*.so
