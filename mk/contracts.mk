# The published contracts (docs/protocol.md, "The contracts"):
#   make contracts   regenerate what comes from the typed message table: the
#                    TypeScript declarations (the transport's,
#                    realtime/static/realtime/partyhub-transport.d.ts; the
#                    platform's and games', lobby/static/lobby/partyhub-games.d.ts)
#                    and the message tables of docs/protocol.md (commit the result)
#   make typecheck   check they are current, then tsc (pinned in
#                    tools/package-lock.json) on both declaration files, code
#                    that uses each (tools/*-usage.ts) and the JS client's
#                    JSDoc types; part of `make test`
# The OpenAPI and AsyncAPI documents are served live (/api/openapi.json,
# /api/asyncapi.json); tests/test_contracts.py and tests/test_schemathesis.py
# check them in the Django suite.

TSC := tools/node_modules/.bin/tsc

.PHONY: contracts typecheck node-deps

contracts: venv
	@$(PY) manage.py contracts

# Node.js and npm for tsc: Debian's, unless the machine has an npm already.
node-deps:
	@command -v npm >/dev/null || { \
		echo ">> installing Debian packages: nodejs npm"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nodejs npm >/dev/null; }

$(TSC): tools/package.json tools/package-lock.json | node-deps
	@echo ">> installing tools/ (npm ci)"
	@cd tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

typecheck: venv $(TSC)
	@$(PY) manage.py contracts --check
	@$(TSC) -p tools/tsconfig.json
	@$(TSC) -p tools/tsconfig.client.json
