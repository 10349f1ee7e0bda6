# Sidecar (issue 4): C core tests and drivers. Included by the top Makefile
# (`include mk/*.mk`); usable alone: make -f mk/sidecar.mk sidecar-all
#
#   sidecar-all        build tests/c drivers into build/sidecar/
#   sidecar-test       unit tests (no network) + Python end-to-end tests
#   sidecar-asan       the driver built with ASan+UBSan (build/sidecar-asan/)
#   SIDECAR_SAN=1      add sanitizers to sidecar-all

SIDECAR_CC      ?= cc
SIDECAR_OUT     ?= build/sidecar
SIDECAR_CFLAGS  ?= -std=c11 -Wall -Wextra -Werror -O2 -g
SIDECAR_INC     := -Icsrc -I/usr/include/cjson
SIDECAR_LIBS    := -lwebsockets -luv -lhiredis -lcjson -lpthread
SIDECAR_SRCS    := csrc/server.c csrc/server_log.c csrc/conn.c csrc/conn_auth.c \
                   csrc/outq.c csrc/fanout.c csrc/fanout_mp.c csrc/uvredis.c \
                   csrc/wsparse.c
SIDECAR_SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
ifeq ($(SIDECAR_SAN),1)
SIDECAR_CFLAGS += $(SIDECAR_SANFLAGS)
endif

SIDECAR_BINS := $(SIDECAR_OUT)/sidecar_run $(SIDECAR_OUT)/sidecar_unit \
                $(SIDECAR_OUT)/sidecar_loopbench $(SIDECAR_OUT)/sidecar_loadgen

.PHONY: sidecar-all sidecar-test sidecar-unit sidecar-e2e sidecar-asan sidecar-clean

sidecar-all: $(SIDECAR_BINS)

$(SIDECAR_OUT)/sidecar_run: tests/c/sidecar_run.c $(SIDECAR_SRCS) csrc/*.h
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_INC) -o $@ tests/c/sidecar_run.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

$(SIDECAR_OUT)/sidecar_unit: tests/c/sidecar_unit.c $(SIDECAR_SRCS) csrc/*.h
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_INC) -o $@ tests/c/sidecar_unit.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

$(SIDECAR_OUT)/sidecar_loopbench: tests/c/sidecar_loopbench.c
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) -o $@ $< -lwebsockets -luv

$(SIDECAR_OUT)/sidecar_loadgen: tests/c/sidecar_loadgen.c
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) -o $@ $<

sidecar-unit: $(SIDECAR_OUT)/sidecar_unit
	$(SIDECAR_OUT)/sidecar_unit

sidecar-e2e: $(SIDECAR_OUT)/sidecar_run
	SIDECAR_BIN=$(SIDECAR_OUT)/sidecar_run python3 tests/sidecar/test_sidecar_e2e.py

sidecar-test: sidecar-unit sidecar-e2e

sidecar-asan:
	$(MAKE) -f mk/sidecar.mk SIDECAR_OUT=build/sidecar-asan SIDECAR_SAN=1 \
	    SIDECAR_CFLAGS="-std=c11 -Wall -Wextra -Werror -O1 -g" build/sidecar-asan/sidecar_run

sidecar-clean:
	rm -rf build/sidecar build/sidecar-asan

# The Python binding (csrc/server_py.c) in a stand-in module until
# module.c's exec slot registers it in realtime._sidecar.
SIDECAR_PY      ?= .venv/bin/python
SIDECAR_PYINC    = $(shell $(SIDECAR_PY) -c "import sysconfig; print(sysconfig.get_paths()['include'])")
SIDECAR_PYMOD   := $(SIDECAR_OUT)/_sidecar_server_test.so

$(SIDECAR_PYMOD): tests/c/sidecar_pymod.c csrc/server_py.c $(SIDECAR_SRCS) csrc/*.h
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) -fPIC -shared $(SIDECAR_INC) -I$(SIDECAR_PYINC) -o $@ \
	    tests/c/sidecar_pymod.c csrc/server_py.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

.PHONY: sidecar-pytest
sidecar-pytest: $(SIDECAR_PYMOD)
	SIDECAR_PYMOD_DIR=$(SIDECAR_OUT) $(SIDECAR_PY) tests/sidecar/test_sidecar_binding.py -v

sidecar-all: $(SIDECAR_PYMOD)
