# Sidecar (issue 4): C core tests and drivers. Included by the top Makefile
# (`include mk/*.mk`); usable alone: make -f mk/sidecar.mk sidecar-all
#
#   sidecar-all        build tests/c drivers into build/sidecar/
#   sidecar-unit       C unit tests (no network), plain and under valgrind
#   sidecar-valgrind   the protocol suite against the driver under valgrind
#   SIDECAR_SAN=1      add sanitizers to sidecar-all
# The Django tests of the sidecar (tests/test_protocol.py, test_sidecar*.py)
# run in `make test-python`, and under ASan in `make asan` (mk/c.mk).

SIDECAR_CC      ?= cc
SIDECAR_PY      ?= .venv/bin/python
SIDECAR_OUT     ?= build/sidecar
SIDECAR_CFLAGS  ?= -std=c11 -Wall -Wextra -Werror -O2 -g
include mk/gen.mk
# The sidecar is built from its own sources and the shared ones (csrc/README.md).
SIDECAR_INC     := -Icsrc/common -Icsrc/sidecar -I$(PH_GEN_DIR) -I/usr/include/cjson
SIDECAR_LIBS    := -lwebsockets -luv -lhiredis -lcjson -lmsgpackc -lz -lcrypto -lpthread
SIDECAR_SRCS    := $(addprefix csrc/sidecar/,server.c server_conn.c server_redis.c server_http.c \
                   server_listen.c server_drain.c server_log.c conn.c conn_auth.c outq.c \
                   fanout.c uvredis.c wsparse.c heartbeat.c server_hb.c) \
                   $(addprefix csrc/common/,chanmsg.c mpack_read.c chash.c sentinel.c rbound.c \
                   rscripts.c rsetup.c)
SIDECAR_HDRS    := $(wildcard csrc/common/*.h csrc/sidecar/*.h) $(PH_GEN_DEFS)
SIDECAR_SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
ifeq ($(SIDECAR_SAN),1)
SIDECAR_XFLAGS := $(SIDECAR_SANFLAGS) -O1
endif

SIDECAR_BINS := $(SIDECAR_OUT)/sidecar_run $(SIDECAR_OUT)/sidecar_unit \
                $(SIDECAR_OUT)/sidecar_loopbench $(SIDECAR_OUT)/sidecar_loadgen

.PHONY: sidecar-all sidecar-test sidecar-unit sidecar-valgrind sidecar-clean

sidecar-all: $(SIDECAR_BINS)

$(SIDECAR_OUT)/sidecar_run: tests/c/sidecar_run.c $(SIDECAR_SRCS) $(SIDECAR_HDRS)
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) $(SIDECAR_INC) -o $@ tests/c/sidecar_run.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

$(SIDECAR_OUT)/sidecar_unit: tests/c/sidecar_unit.c $(SIDECAR_SRCS) $(SIDECAR_HDRS)
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) $(SIDECAR_INC) -o $@ tests/c/sidecar_unit.c $(SIDECAR_SRCS) $(SIDECAR_LIBS)

$(SIDECAR_OUT)/sidecar_loopbench: tests/c/sidecar_loopbench.c
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) -o $@ $< -lwebsockets -luv

$(SIDECAR_OUT)/sidecar_loadgen: tests/c/sidecar_loadgen.c
	@mkdir -p $(@D)
	$(SIDECAR_CC) $(SIDECAR_CFLAGS) $(SIDECAR_XFLAGS) -o $@ $<

# C unit tests, plain and under valgrind (errors or leaks fail the run).
sidecar-unit: $(SIDECAR_OUT)/sidecar_unit
	$(SIDECAR_OUT)/sidecar_unit
	valgrind -q --error-exitcode=1 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect $(SIDECAR_OUT)/sidecar_unit

# The WebSocket protocol suite (tests/test_protocol.py) against the
# standalone driver under valgrind memcheck: any error, or a definite or
# indirect leak, makes the driver exit 9, which fails the suite's teardown.
SIDECAR_VG := valgrind -q --error-exitcode=9 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect
sidecar-valgrind: $(SIDECAR_OUT)/sidecar_run
	SIDECAR_BIN=$(SIDECAR_OUT)/sidecar_run SIDECAR_WRAP="$(SIDECAR_VG)" SIDECAR_SLOW=8 \
	    $(SIDECAR_PY) manage.py test tests.test_protocol.SidecarProtocolTests

sidecar-test: sidecar-unit sidecar-valgrind

sidecar-clean:
	rm -rf build/sidecar
