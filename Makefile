# partyhub: two commands for a newcomer.
#   make run   set up everything, then serve the game (Daphne + Redis)
#   make test  set up everything, then run every test
# Everything a fresh Debian machine needs is installed from here.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.partyhub-installed

# Debian packages: Redis for the channel layer and the tests; the C
# extension's libraries (libwebsockets, hiredis, libuv, msgpack-c, cJSON,
# uthash) and the tools to build and check it (clang and its runtime for
# the libFuzzer targets, mk/fuzz.mk); Chromium for the browser tests; nginx
# (the shipped deploy/nginx.conf runs in front of the servers in the proxy
# tests) and OpenSSL (libcrypto for the C code, and the test certificate);
# gettext (msgfmt: `make setup` compiles the translations) and a colour emoji
# font (the reaction bar in the test browser); ICU and g++ for PyICU
# (lobby.text: names people can tell apart).
APT_PACKAGES := redis-server redis-tools redis-sentinel gcc make pkg-config python3-dev \
	libwebsockets-dev libwebsockets-evlib-uv libhiredis-dev libuv1-dev \
	libmsgpack-dev libcjson-dev uthash-dev clang libclang-rt-14-dev chromium \
	nginx openssl libssl-dev gettext fonts-noto-color-emoji \
	libicu-dev g++

.PHONY: all setup system-deps venv messages run test test-python test-smoke lint clean

all: setup

setup: system-deps venv messages

# Install missing Debian packages (root, or sudo when available).
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo ">> installing Debian packages:" $$missing; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard realtime/*_table.py) $(wildcard csrc/*/*.c csrc/*/*.h)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo ">> installing partyhub into $(VENV)"
	@$(PY) -m pip install -q --upgrade pip >/dev/null
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# The translations (each app's locale/*/LC_MESSAGES/*.po) compiled to the .mo
# files Django reads; the .mo files are build outputs, never committed.
messages: venv
	@$(PY) manage.py compilemessages --ignore=.venv --ignore=build -v0

run: setup
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py loadquestions
	@$(PY) manage.py loadlocations
	@$(PY) manage.py runparty

lint: venv
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

# The whole Django suite against the normal build (`make test` runs it under
# ASan instead, below).
test-python: setup
	@$(PY) manage.py test --parallel $(TEST_PARALLEL)

# `make test` runs the whole Django suite once, under the ASan+UBSan build
# of the extension (`asan`, mk/c.mk: it rebuilds the normal one after), then
# a smoke of the normal -O2 build the suite did not run on: its binding, the
# C layer and the sidecar's protocol. Running the suite twice (plain and
# ASan) would take ~9 of the 10-minute budget (docs/testing.md).
SMOKE_TESTS ?= tests.test_sidecar_binding tests.test_c_layer_broadcast tests.test_protocol

test-smoke: setup
	@$(PY) manage.py test $(SMOKE_TESTS)

test: setup lint typecheck ctest sidecar-unit fuzz-smoke asan test-smoke sidecar-valgrind

clean:
	rm -rf build *.egg-info realtime/*.so

-include mk/*.mk
