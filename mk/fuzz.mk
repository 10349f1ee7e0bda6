# mk/fuzz.mk - libFuzzer targets for every parser that reads outside input
# (tests/fuzz/*.c). Included by the top Makefile (include mk/*.mk); usable
# alone: make -f mk/fuzz.mk fuzz-smoke
#
#   make fuzz                 each target for FUZZ_SECONDS (60) on its corpus
#   make fuzz-smoke           each target replays its corpus, then fuzzes for
#                             FUZZ_SMOKE_RUNS (20000, seed 1); skipped without clang
#   make fuzz-merge           minimise new finds into tests/fuzz/corpus/
#   make fuzz-build           build only (build/fuzz/fuzz_<target>)
#   make fuzz-<target>        one target, e.g. make fuzz-client_msg
#
# New inputs go to build/fuzz/corpus/<target> (the committed corpus is only
# read); crashes to build/fuzz/artifacts/. A crash input belongs in
# tests/fuzz/corpus/<target>/ with the fix, as its regression test.

include mk/gen.mk
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_OUT           ?= build/fuzz
FUZZ_CORPUS        := tests/fuzz/corpus
FUZZ_CFLAGS        ?= -std=c11 -Wall -Wextra -Werror -g -O1 \
                      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                      -Icsrc/common -Icsrc/sidecar -I$(PH_GEN_DIR) -I/usr/include/cjson
FUZZ_RUN_FLAGS     ?= -rss_limit_mb=2048 -timeout=10
FUZZ_TARGETS       := mpack_read channel_msg client_msg url redis_reply

fuzz_srcs_mpack_read  := csrc/common/mpack_read.c
fuzz_srcs_channel_msg := csrc/common/chanmsg.c csrc/common/mpack_read.c
fuzz_srcs_client_msg  := csrc/sidecar/wsparse.c
fuzz_srcs_url         := csrc/sidecar/wsparse.c
fuzz_srcs_redis_reply := $(addprefix csrc/sidecar/,server.c server_http.c server_listen.c \
                         server_drain.c server_log.c conn.c conn_auth.c outq.c fanout.c \
                         uvredis.c wsparse.c heartbeat.c server_hb.c) \
                         $(addprefix csrc/common/,chanmsg.c mpack_read.c chash.c sentinel.c rbound.c \
                         rscripts.c rsetup.c)
fuzz_libs_mpack_read  :=
fuzz_libs_channel_msg := -lmsgpackc
fuzz_libs_client_msg  := -lcjson -lm
fuzz_libs_url         := -lcjson
# server_conn.c and server_redis.c (the static reply callbacks) are
# #included by the harness, the rest linked; lws is linked but the four lws
# calls the reply paths make are wrapped (see the harness).
fuzz_libs_redis_reply := -Wl,--wrap=lws_callback_on_writable,--wrap=lws_set_timeout \
                         -Wl,--wrap=lws_partial_buffered,--wrap=lws_write \
                         -lwebsockets -luv -lhiredis \
                         -lcjson -lmsgpackc -lz -lcrypto -lpthread

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-merge fuzz-clean $(FUZZ_TARGETS:%=fuzz-%)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h csrc/*/*.c csrc/*/*.h $(PH_GEN_DEFS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(fuzz_srcs_$*) $(fuzz_libs_$*)

# One target for FUZZ_SECONDS: new inputs kept in build/, seeds from the repo.
$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FUZZ_OUT)/fuzz_%
	@mkdir -p $(FUZZ_OUT)/corpus/$* $(FUZZ_OUT)/artifacts
	$(FUZZ_OUT)/fuzz_$* $(FUZZ_RUN_FLAGS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_OUT)/artifacts/$*- $(FUZZ_OUT)/corpus/$* $(FUZZ_CORPUS)/$*

fuzz: $(FUZZ_TARGETS:%=fuzz-%)

# Replay every committed input (the regression tests), then a short run.
# Part of `make test`: skipped, with the reason, when clang or its fuzzer
# runtime (libclang-rt-14-dev) is missing, probed by linking an empty
# target (only when fuzz-smoke runs).
FUZZ_PROBE = printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
             | $(FUZZ_CC) -fsanitize=fuzzer,address -x c - -o $(FUZZ_OUT)/.probe >/dev/null 2>&1

# The smoke in `make test` is deterministic (fixed seed, fixed number of
# runs), so CI never fails on a random find; `make fuzz` explores.
FUZZ_SMOKE_RUNS ?= 20000

fuzz-smoke:
	@mkdir -p $(FUZZ_OUT)/artifacts
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	    echo "fuzz-smoke: SKIPPED: $(FUZZ_CC) not found (make system-deps installs clang libclang-rt-14-dev)"; exit 0; \
	fi; \
	if ! $(FUZZ_PROBE); then \
	    echo "fuzz-smoke: SKIPPED: $(FUZZ_CC) cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?)"; exit 0; \
	fi; \
	$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) fuzz-build >/dev/null || exit 1; \
	for t in $(FUZZ_TARGETS); do \
	    log=$(FUZZ_OUT)/smoke-$$t.log; rm -rf $(FUZZ_OUT)/smoke/$$t; mkdir -p $(FUZZ_OUT)/smoke/$$t; \
	    if ! $(FUZZ_OUT)/fuzz_$$t $(FUZZ_RUN_FLAGS) -runs=0 $(FUZZ_CORPUS)/$$t >$$log 2>&1 \
	       || ! $(FUZZ_OUT)/fuzz_$$t $(FUZZ_RUN_FLAGS) -seed=1 -runs=$(FUZZ_SMOKE_RUNS) \
	            -artifact_prefix=$(FUZZ_OUT)/artifacts/$$t- $(FUZZ_OUT)/smoke/$$t \
	            $(FUZZ_CORPUS)/$$t >>$$log 2>&1; then \
	        tail -40 $$log; echo "fuzz-smoke: $$t FAILED (log: $$log)"; exit 1; \
	    fi; \
	    echo "fuzz-smoke $$t: $$(tail -1 $$log)"; rm -rf $(FUZZ_OUT)/smoke/$$t; \
	done

# Fold what `make fuzz` found into the committed corpus, minimised.
fuzz-merge: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_OUT)/corpus/$$t; \
	    $(FUZZ_OUT)/fuzz_$$t -merge=1 $(FUZZ_CORPUS)/$$t $(FUZZ_OUT)/corpus/$$t 2>&1 | tail -1; \
	done

fuzz-clean:
	rm -rf $(FUZZ_OUT)
