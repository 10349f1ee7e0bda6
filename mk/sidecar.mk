# Sidecar (issue 4): C core tests and drivers. Included by the top Makefile
# (`include mk/*.mk`); usable alone: make -f mk/sidecar.mk sidecar-all
#
#   sidecar-all        build tests/c drivers into build/sidecar/
#   sidecar-test       unit tests (no network) + Python end-to-end tests
#   sidecar-asan       the driver built with ASan+UBSan (build/sidecar-asan/)
#   SIDECAR_SAN=1      add sanitizers to sidecar-all

SIDECAR_CC      ?= cc
SIDECAR_PY      ?= .venv/bin/python
SIDECAR_OUT     ?= build/sidecar
SIDECAR_CFLAGS  ?= -std=c11 -Wall -Wextra -Werror -O2 -g
SIDECAR_INC     := -Icsrc -I/usr/include/cjson
SIDECAR_LIBS    := -lwebsockets -luv -lhiredis -lcjson -lpthread
SIDECAR_SRCS    := csrc/server.c csrc/server_log.c csrc/conn.c csrc/conn_auth.c \
                   csrc/outq.c csrc/fanout.c csrc/fanout_mp.c csrc/uvredis.c \
                   csrc/wsparse.c
SIDECAR_SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
ifeq ($(SIDECAR_SAN),1)
SIDECAR_XFLAGS := $(SIDECAR_SANFLAGS) -O1
endif

SIDECAR_BINS := $(SIDECAR_OUT)/sidecar_run $(SIDECAR_OUT)/sidecar_unit \
                $(SIDECAR_OUT)/sidecar_loopbench $(SIDECAR_OUT)/sidecar_loadgen

.PHONY: sidecar-all sidecar-test sidecar-unit sidecar-e2e sidecar-asan sidecar-valgrind sidecar-clean

sidecar-all: $(SIDECAR_BINS)

$(SIDECAR_OUT)/sidecar_run: tests/c/sidecar_run.c $(SIDECAR_SRCS) csrc/*.h
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) $(SIDECAR_INC) -o $@ tests/c/sidecar_run.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

$(SIDECAR_OUT)/sidecar_unit: tests/c/sidecar_unit.c $(SIDECAR_SRCS) csrc/*.h
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) $(SIDECAR_INC) -o $@ tests/c/sidecar_unit.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

$(SIDECAR_OUT)/sidecar_loopbench: tests/c/sidecar_loopbench.c
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) -o $@ $< -lwebsockets -luv

$(SIDECAR_OUT)/sidecar_loadgen: tests/c/sidecar_loadgen.c
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) -o $@ $<

sidecar-unit: $(SIDECAR_OUT)/sidecar_unit
	$(SIDECAR_OUT)/sidecar_unit

sidecar-e2e: $(SIDECAR_OUT)/sidecar_run
	SIDECAR_BIN=$(SIDECAR_OUT)/sidecar_run $(SIDECAR_PY) tests/sidecar/test_sidecar_e2e.py

sidecar-test: sidecar-unit sidecar-e2e

# ASan+UBSan: unit tests, then the end-to-end tests against the
# instrumented driver (the server exits 0 only if ASan found nothing).
sidecar-asan:
	$(MAKE) -f mk/sidecar.mk SIDECAR_OUT=build/sidecar-asan SIDECAR_SAN=1 \
	    build/sidecar-asan/sidecar_run build/sidecar-asan/sidecar_unit
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    build/sidecar-asan/sidecar_unit
	ASAN_OPTIONS=detect_leaks=1:exitcode=23 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    SIDECAR_BIN=build/sidecar-asan/sidecar_run SIDECAR_SLOW=2 \
	    $(SIDECAR_PY) tests/sidecar/test_sidecar_e2e.py

# A short run of the end-to-end tests with the server under valgrind.
sidecar-valgrind: $(SIDECAR_OUT)/sidecar_run
	SIDECAR_WRAP="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite" \
	    SIDECAR_BIN=$(SIDECAR_OUT)/sidecar_run SIDECAR_SLOW=8 \
	    $(SIDECAR_PY) tests/sidecar/test_sidecar_e2e.py $(SIDECAR_VG_TESTS)

sidecar-clean:
	rm -rf build/sidecar build/sidecar-asan

# The Python binding (csrc/server_py.c) in a stand-in module until
# module.c's exec slot registers it in realtime._sidecar.
SIDECAR_PYINC    = $(shell $(SIDECAR_PY) -c "import sysconfig; print(sysconfig.get_paths()['include'])")
SIDECAR_PYMOD   := $(SIDECAR_OUT)/_sidecar_server_test.so

$(SIDECAR_PYMOD): tests/c/sidecar_pymod.c csrc/server_py.c $(SIDECAR_SRCS) csrc/*.h
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) -fPIC -shared $(SIDECAR_INC) -I$(SIDECAR_PYINC) -o $@ \
	    tests/c/sidecar_pymod.c csrc/server_py.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

.PHONY: sidecar-pytest
sidecar-pytest: $(SIDECAR_PYMOD)
	SIDECAR_PYMOD_DIR=$(SIDECAR_OUT) $(SIDECAR_PY) tests/sidecar/test_sidecar_binding.py -v

sidecar-all: $(SIDECAR_PYMOD)
