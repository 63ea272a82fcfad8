# lambda-wsgi. `make help` lists the targets.
#
# Everything a fresh machine needs is installed here: a local virtualenv (.venv) for the test
# tools, one virtualenv per Python (.venv-3.X) with the examples' dependencies, and the Rust build
# through cargo. Each Python gets its own bootstrap build under target/py<version> (the binary
# links that Python's libpython), so switching versions never rebuilds the others.

SHELL := /bin/bash
# A recipe that fails leaves no half-written target behind (the layer zips, the stamps).
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.11
PYTHON_VERSIONS ?= 3.10 3.11 3.12 3.13
PORT ?= 8000
EVENT_FORMAT ?= http-v2
CARGO ?= cargo

# A Python by minor version: pyenv's install if there is one, else pythonX.Y on PATH.
python_for = $(firstword $(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python$(1)) $(shell command -v python$(1) 2>/dev/null))
PYTHON := $(call python_for,$(PYTHON_VERSION))

VENV := .venv
VENV_PY := $(VENV)/bin/python
MOTO_VENV := .venv-moto
# The examples' dependencies (requirements-apps.txt) for one Python: a bootstrap imports only
# packages installed for its own Python, so each has its own, made with that Python.
app_venv_for = .venv-$(1)
APP_VENV := $(call app_venv_for,$(PYTHON_VERSION))
APP_REQUIREMENTS := requirements-apps.txt examples/flask/requirements.txt examples/django/requirements.txt
EMULATOR := target/debug/lambda-wsgi-emulator
bootstrap_for = target/py$(1)/debug/bootstrap
# The pip package's wheels (make wheel) and handler mode's venv (make test-wheel).
WHEEL_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' python/Cargo.toml)
wheel_for = dist/lambda_wsgi_runtime-$(WHEEL_VERSION)-cp310-abi3-manylinux2014_$(1).manylinux_2_17_$(1).whl
WHEELS := $(call wheel_for,x86_64) $(call wheel_for,aarch64)
SDIST := dist/lambda_wsgi_runtime-$(WHEEL_VERSION).tar.gz
WHEEL_SOURCES := Cargo.toml Cargo.lock $(shell find runtime/src runtime/build.rs runtime/Cargo.toml python -type f -not -path '*/__pycache__/*')
MATURIN := $(VENV)/bin/maturin
# The managed runtime's client that handler mode runs under (make test-wheel installs it into
# each .venv-3.X beside the examples' dependencies).
AWSLAMBDARIC := 4.2.2
# The guide (docs/) and its checks: make docs, make test-docs.
include docs/docs.mk

# Debian's PostgreSQL server (the Django example's database tests start their own from it).
PG_INITDB := $(or $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb)),install-postgresql)

.PHONY: install-postgresql help run run-together invoke invoke-event test test-rust test-python test-wheel bench-pip test-layer test-templates lint fmt build clean-venv fuzz soak bench bench-concurrency bench-mounts bench-concurrency-managed bench-micro layer package package-cold-start

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: $(APP_VENV)/.installed build ## Serve examples/flask through bootstrap + the local emulator, reloading on .py changes (PORT=8000, EVENT_FORMAT=http-v2, PYTHON_VERSION=3.11, EMULATOR_ARGS="--snap-start --max-concurrency 4")
	@VIRTUAL_ENV=$(abspath $(APP_VENV)) $(EMULATOR) serve --bootstrap $(call bootstrap_for,$(PYTHON_VERSION)) \
		--handler app:app --task-root examples/flask --port $(PORT) --event-format $(EVENT_FORMAT) --reload $(EMULATOR_ARGS)

run-together: $(APP_VENV)/.installed build ## Serve examples/together (Flask at /, Django under /shop, admin/admin at /shop/admin/) through bootstrap + the local emulator, from a copy assembled in target/together
	@rm -rf target/together && $(VENV_PY) examples/together/assemble.py target/together >/dev/null
	@VIRTUAL_ENV=$(abspath $(APP_VENV)) $(EMULATOR) serve --bootstrap $(call bootstrap_for,$(PYTHON_VERSION)) \
		--handler app:app --task-root target/together --port $(PORT) --event-format $(EVENT_FORMAT) \
		--env WSGI_MOUNTS_FILE=mounts.txt --env DJANGO_MIGRATE_ON_START=1 --env DJANGO_DB_PATH=$(abspath target/together/db.sqlite3) \
		--env DJANGO_SUPERUSER_USERNAME=admin --env DJANGO_SUPERUSER_PASSWORD=admin \
		--env DJANGO_CSRF_TRUSTED_ORIGINS=http://127.0.0.1:$(PORT),http://localhost:$(PORT) $(EMULATOR_ARGS)

invoke: invoke-event $(APP_VENV)/.installed build ## Send one event file to the Flask example: make invoke EVENT=examples/flask/events/http-api-get.json
	@VIRTUAL_ENV=$(abspath $(APP_VENV)) $(EMULATOR) invoke --bootstrap $(call bootstrap_for,$(PYTHON_VERSION)) \
		--handler app:app --task-root examples/flask $(EVENT)

# Before anything is built: EVENT names an event file (or - for standard input).
invoke-event:
	@[ "$(EVENT)" = - ] || [ -f "$(EVENT)" ] || { \
		if [ -n "$(EVENT)" ]; then echo "make invoke: no such event file: $(EVENT)"; else echo "make invoke: EVENT is not set."; fi; \
		echo "Pass an event file (EVENT=- reads standard input); the Flask example's:"; \
		for f in examples/flask/events/*.json; do echo "  make invoke EVENT=$$f"; done; exit 2; }

build: ## Build the emulator and bootstrap for PYTHON_VERSION
	$(CARGO) build -p lambda-wsgi-emulator
	$(MAKE) --no-print-directory bootstrap-$(PYTHON_VERSION)

bootstrap-%:
	@test -n "$(call python_for,$*)" || { echo "Python $* not found (pyenv install $* or put python$* on PATH)"; exit 1; }
	PYO3_PYTHON=$(call python_for,$*) CARGO_TARGET_DIR=target/py$* $(CARGO) build -p lambda-wsgi --bin bootstrap

test: lint test-rust test-python test-wheel test-templates test-cdk test-bench test-layer check-cargo-lambda test-docs ## Every test: lint, Rust unit + golden, end-to-end per Python, the pip package (both modes), SAM templates, the CDK app, the benchmark statistics, the layer, the guide's checks

lint: ## cargo fmt --check, clippy -D warnings, and the layout rules (pyo3 and env reads in one place)
	$(CARGO) fmt --all -- --check
	PYO3_PYTHON=$(PYTHON) $(CARGO) clippy --workspace --all-targets -- -D warnings
	@bad=$$(grep -rlE '(use pyo3|pyo3::)' runtime/src --include='*.rs' | grep -vE 'runtime/src/(interpreter\.rs|wsgi/)'); \
		test -z "$$bad" || { echo "pyo3 used outside interpreter.rs and wsgi/: $$bad"; exit 1; }
	@bad=$$(grep -rlE 'env::var(s)?\(' runtime/src --include='*.rs' | grep -v 'runtime/src/main.rs'); \
		test -z "$$bad" || { echo "the environment is read outside main.rs (use Config): $$bad"; exit 1; }

test-rust: ## Unit and golden-file tests (no Python interpreter runs), and the emulator's tests
	$(CARGO) test -p lambda-wsgi-emulator
	@set -e; for v in $(PYTHON_VERSIONS); do \
		echo "== cargo test, Python $$v"; \
		PYO3_PYTHON=$$($(MAKE) -s python-path V=$$v) CARGO_TARGET_DIR=target/py$$v $(CARGO) test -p lambda-wsgi; \
	done

# The end-to-end suite (test_layer*.py and test_debian_root.py are make test-layer's).
E2E_TESTS := --ignore-glob='tests/e2e/test_layer*.py' --ignore=tests/e2e/test_debian_root.py tests/e2e
# Each Python's run gets its own app venv (LAMBDA_WSGI_APP_VENV); the test tools stay in .venv.
# Nothing may skip (LAMBDA_WSGI_NO_SKIP); test_layer.py and test_layer_provided.py are make test-layer's.
test-python: $(VENV)/.installed $(foreach v,$(PYTHON_VERSIONS),$(call app_venv_for,$(v))/.installed) $(MOTO_VENV)/.installed /usr/bin/chromedriver $(PG_INITDB) ## End-to-end tests: real bootstrap via the emulator, once per Python version
	$(CARGO) build -p lambda-wsgi-emulator -p lambda-wsgi-remote-config
	@set -e; for v in $(PYTHON_VERSIONS); do \
		echo "== end to end, Python $$v"; \
		$(MAKE) --no-print-directory bootstrap-$$v; \
		LAMBDA_WSGI_BOOTSTRAP=$(abspath $(call bootstrap_for,$$v)) LAMBDA_WSGI_EMULATOR=$(abspath $(EMULATOR)) \
		LAMBDA_WSGI_PYTHON=$$($(MAKE) -s python-path V=$$v) \
		LAMBDA_WSGI_REMOTE_CONFIG=$(abspath target/debug/lambda-wsgi-remote-config) \
		LAMBDA_WSGI_MOTO_SERVER=$(abspath $(MOTO_VENV))/bin/moto_server \
		LAMBDA_WSGI_APP_VENV=$(CURDIR)/$(call app_venv_for,$$v) LAMBDA_WSGI_NO_SKIP=1 \
			$(VENV)/bin/pytest -q -rs -p no:cacheprovider $(E2E_TESTS); \
	done

test-templates: $(VENV)/.installed ## cfn-lint and the SAM translator on every template in sam-templates/
	$(VENV)/bin/pytest -q -p no:cacheprovider sam-templates/test_templates.py sam-templates/pip/test_pip_templates.py

.PHONY: test-cdk nodejs
test-cdk: $(VENV)/.installed nodejs ## Synthesize the CDK app in cdk/ offline: assertions on the template, then cfn-lint
	$(VENV)/bin/pytest -q -p no:cacheprovider cdk/test_stack.py

# Node.js from Debian's packages when there is no node: aws-cdk-lib's Python library runs on jsii, which starts node.
nodejs:
	@command -v node >/dev/null || { \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs; }

# The layer played as on a managed python3.x runtime: the x86_64 layer on pyenv's Pythons in a temp
# root, the provided.al2023 route, and (needs root: chroot, mount) other Pythons and arm64 under
# qemu-user in roots of Debian's packages (target/debian-roots, .debs cached in target/debian-cache).
# Then the e2e suite's host-independent part (ROOT_E2E_TESTS: it needs no venv of this machine's)
# through the layer's wrapper in each of ROOT_E2E_CASES (tests/e2e/lambda_roots.py's launcher).
ROOT_E2E_CASES ?= amd64-forky-py3.14 arm64-bookworm-py3.11 arm64-trixie-py3.13 arm64-forky-py3.14
ROOT_E2E_TESTS := $(addprefix tests/e2e/,test_fixtures.py test_app_errors.py test_deadline.py test_event_bytes.py \
	test_front_door.py test_hostile_events.py test_invocation_state.py test_limits.py test_managed_instances.py \
	test_protocol_cases.py test_reload.py test_remote_user.py test_runtime_logs.py test_snapstart.py test_streaming.py)
test-layer: layer build qemu-user ## The layers' files checked, then served through the emulator: x86_64 3.10-3.13 (pyenv), 3.14 and arm64 3.11/3.13/3.14 in Debian roots, with the e2e suite in those roots
	LAMBDA_WSGI_LAYER_DIR=$(abspath dist) LAMBDA_WSGI_EMULATOR=$(abspath $(EMULATOR)) LAMBDA_WSGI_NO_SKIP=1 \
	LAMBDA_WSGI_WHEELS="$(abspath $(WHEELS))" LAMBDA_WSGI_BOOTSTRAP=$(abspath $(call bootstrap_for,$(PYTHON_VERSION))) \
		$(VENV)/bin/pytest -q -p no:cacheprovider tests/e2e/test_layer.py tests/e2e/test_layer_provided.py \
			tests/e2e/test_debian_root.py tests/e2e/test_layer_roots.py
	@set -e; for case in $(ROOT_E2E_CASES); do \
		echo "== end to end through the layer, Debian root $$case"; \
		launcher=$(abspath target/root-launchers)/$$case/bootstrap; \
		$(VENV_PY) tests/e2e/lambda_roots.py launcher $$case $(abspath dist) $$launcher; \
		LAMBDA_WSGI_BOOTSTRAP=$$launcher LAMBDA_WSGI_HOST=wrapper LAMBDA_WSGI_EMULATOR=$(abspath $(EMULATOR)) \
		LAMBDA_WSGI_NO_SKIP=1 $(VENV)/bin/pytest -q -rs -p no:cacheprovider $(ROOT_E2E_TESTS); \
	done

check-cargo-lambda: $(VENV)/.installed $(APP_VENV)/.installed ## `cargo lambda watch` serves examples/flask from this repository (cargo-lambda from pip)
	$(VENV_PY) -m pip install -q --disable-pip-version-check cargo-lambda==1.9.2
	LAMBDA_WSGI_APP_VENV=$(abspath $(APP_VENV)) PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=$(abspath target/py$(PYTHON_VERSION)) tests/cargo-lambda-check.sh

fuzz: ## Property tests at length from a fresh seed (FUZZ_CASES=200000); prints how many events parsed per source; a failure prints the seed to rerun
	@seed=$${FUZZ_SEED:-$$(date +%s)}; echo "fuzz: seed $$seed, $${FUZZ_CASES:-200000} cases per property"; \
	LAMBDA_WSGI_FUZZ_SEED=$$seed LAMBDA_WSGI_FUZZ_CASES=$${FUZZ_CASES:-200000} PYO3_PYTHON=$(PYTHON) \
		$(CARGO) test --release -p lambda-wsgi --test hostile -- --test-threads 2 --nocapture

soak: $(VENV)/.installed ## 100,000 invocations through a release bootstrap; reports RSS and open fds (SOAK_INVOCATIONS, SOAK_CONCURRENCY=4: Managed Instances)
	$(CARGO) build --release -p lambda-wsgi-emulator
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=target/py$(PYTHON_VERSION) $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	$(VENV_PY) bench/soak.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap --invocations $${SOAK_INVOCATIONS:-100000} \
		--max-concurrency $${SOAK_CONCURRENCY:-1}

bench: $(VENV)/.installed $(VENV)/.bench-installed ## Benchmarks against apig-wsgi, serverless-wsgi and the floors in alternating slice pairs, then bench-concurrency, bench-pip and bench-mounts; writes bench/RESULTS.md and bench/results/chart.png (BENCH_ARGS="--rounds 9 --runs 2")
	$(CARGO) build --release -p lambda-wsgi-emulator -p lambda-wsgi-bench-floors
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=target/py$(PYTHON_VERSION) $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	$(VENV_PY) bench/run.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap --floors target/release $(BENCH_ARGS)
	$(MAKE) bench-concurrency
	$(MAKE) bench-pip
	$(MAKE) bench-mounts

bench-pip: $(VENV)/.installed $(VENV)/.bench-installed $(WHEELS) ## The pip package: exec wrapper vs the embedded bootstrap, handler mode vs apig-wsgi (both under awslambdaric), paired; its section of bench/RESULTS.md (BENCH_PIP_ARGS="--rounds 9")
	$(CARGO) build --release -p lambda-wsgi-emulator
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=target/py$(PYTHON_VERSION) $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	$(VENV_PY) -m pip install -q --disable-pip-version-check --force-reinstall --no-deps $(call wheel_for,x86_64)
	$(VENV_PY) bench/pip_package.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap --python $(VENV_PY) $(BENCH_PIP_ARGS)

bench-mounts: $(VENV)/.installed $(VENV)/.bench-installed ## Two apps in one function: the routing alone (criterion) against werkzeug's DispatcherMiddleware, and end to end the mount table against one app and against DispatcherMiddleware (under lambda-wsgi and apig-wsgi), paired; its section of bench/RESULTS.md (BENCH_MOUNTS_ARGS="--rounds 15")
	$(CARGO) build --release -p lambda-wsgi-emulator
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=target/py$(PYTHON_VERSION) $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	$(VENV_PY) bench/mounts.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap --pyo3-python $(PYTHON) \
		--target-dir $(abspath target/py$(PYTHON_VERSION)) --cargo $(CARGO) $(BENCH_MOUNTS_ARGS)

bench-concurrency: $(VENV)/.installed $(VENV)/.bench-installed ## Managed Instances: lambda-wsgi vs awslambdaric's multi-concurrent mode at N = 2 and 8; writes its section of bench/RESULTS.md (CONCURRENCY_ARGS=--repeats 15)
	$(CARGO) build --release -p lambda-wsgi-emulator
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=target/py$(PYTHON_VERSION) $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	$(VENV_PY) bench/concurrency.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap $(CONCURRENCY_ARGS)

# Managed Instances need Python 3.13+: the same race on 3.13, in its own venv (awslambdaric then
# gets the python3.13 AWS_EXECUTION_ENV Lambda would set).
PY313 := $(call python_for,3.13)
bench-concurrency-managed: ## bench-concurrency on Python 3.13, as Managed Instances run it (.venv-3.13); writes its own section of bench/RESULTS.md
	@test -n "$(PY313)" || { echo "Python 3.13 not found"; exit 1; }
	test -x .venv-3.13/bin/python || $(PY313) -m venv .venv-3.13
	.venv-3.13/bin/python -m pip install -q --disable-pip-version-check $$(grep -i '^flask==' requirements-dev.txt) -r bench/requirements.txt
	$(CARGO) build --release -p lambda-wsgi-emulator
	PYO3_PYTHON=$(PY313) CARGO_TARGET_DIR=target/py3.13 $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	.venv-3.13/bin/python bench/concurrency.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py3.13/release/bootstrap --venv .venv-3.13 --peer-execution-env AWS_Lambda_python3.13 $(CONCURRENCY_ARGS)

.PHONY: test-bench
test-bench: $(VENV)/.installed ## The benchmark's statistics (pairing, median ratio, spread): unit tests, nothing timed
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/bench

bench-micro: ## Criterion micro-benchmarks: event parsing, environ building, response rendering
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=$(abspath target/py$(PYTHON_VERSION)) $(CARGO) bench -p lambda-wsgi --bench pipeline

$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(VENV_PY) -m pip install -q --disable-pip-version-check -r bench/requirements.txt
	@touch $@

# The pip package: one abi3 wheel per Lambda architecture (CPython 3.10+, manylinux2014: glibc
# 2.17, so Amazon Linux 2 and 2023 alike), linked by maturin with zig (the ziglang package) for
# both CPUs: no root, no qemu, no target Python. Plus the sdist, which builds where Rust is. The
# runtime's Python helpers are precompiled for each local Python of MANAGED_PYTHONS (build.rs).
MANAGED_PYTHONS ?= 3.10 3.11 3.12 3.13 3.14

.PHONY: wheel test-wheel
wheel: $(WHEELS) $(SDIST) ## Build the pip package: dist/lambda_wsgi_runtime-*-abi3-manylinux2014_{x86_64,aarch64}.whl and the sdist
	@ls -l $(WHEELS) $(SDIST)

$(WHEELS) &: $(VENV)/.wheel-tools $(WHEEL_SOURCES)
	@set -e; for arch in x86_64 aarch64; do \
		PATH=$(abspath $(VENV))/bin:$$PATH CARGO_TARGET_DIR=target/wheel \
		LAMBDA_WSGI_PRECOMPILE_PYTHONS="$(foreach v,$(MANAGED_PYTHONS),$(call python_for,$(v)))" \
			$(MATURIN) build --release -q -m python/Cargo.toml \
			--zig --target $$arch-unknown-linux-gnu --compatibility manylinux2014 --out dist; \
	done

$(SDIST): $(VENV)/.wheel-tools $(WHEEL_SOURCES)
	$(MATURIN) sdist -m python/Cargo.toml --out dist

# The examples' dependencies and the managed runtime's client, for handler mode.
$(VENV)/.wheel-tools: $(VENV)/.installed
	$(VENV_PY) -m pip install -q --disable-pip-version-check maturin==1.16.0 ziglang==0.17.1
	rustup target add aarch64-unknown-linux-gnu
	@touch $@

# The wheel installed with pip into each Python's app venv, then the end-to-end suite through its
# exec wrapper (tests/wheel/make_launcher.py plays Lambda's command line), and handler mode under
# awslambdaric (installed into the same venv) against the golden fixtures; then the wheel's own
# tests (tests/wheel): its tags and ELF files, pip's refusal of Python 3.9, a `pip install -t`
# task root served through the wrapper, the SAM pip templates, the sdist built by pip.
wrapper_for = target/wrapper-py$(1)/bootstrap
handler_for = target/handler-py$(1)/bootstrap
# What handler mode is held to: every golden fixture, errors, non-HTTP events (the event handler,
# manage, warm-up pings, the re-encoding of awkward JSON), and the mode's own tests.
HANDLER_TESTS := tests/e2e/test_fixtures.py tests/e2e/test_direct.py tests/e2e/test_handler_mode.py
test-wheel: $(WHEELS) $(SDIST) $(VENV)/.installed $(foreach v,$(PYTHON_VERSIONS),$(call app_venv_for,$(v))/.installed) $(MOTO_VENV)/.installed /usr/bin/chromedriver $(PG_INITDB) ## The wheel: pip-installed per Python, the e2e suite through its exec wrapper, handler mode under awslambdaric
	$(CARGO) build -p lambda-wsgi-emulator -p lambda-wsgi-remote-config
	@set -e; for v in $(PYTHON_VERSIONS); do \
		echo "== the wheel's exec wrapper, Python $$v"; \
		venv=$(CURDIR)/$(call app_venv_for,$$v); \
		$$venv/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps $(abspath $(call wheel_for,x86_64)); \
		$(VENV_PY) tests/wheel/make_launcher.py wrapper $$venv/bin/python$$v $(call wrapper_for,$$v); \
		LAMBDA_WSGI_BOOTSTRAP=$(abspath $(call wrapper_for,$$v)) LAMBDA_WSGI_HOST=wrapper LAMBDA_WSGI_EMULATOR=$(abspath $(EMULATOR)) \
		LAMBDA_WSGI_PYTHON=$$venv/bin/python \
		LAMBDA_WSGI_REMOTE_CONFIG=$(abspath target/debug/lambda-wsgi-remote-config) \
		LAMBDA_WSGI_MOTO_SERVER=$(abspath $(MOTO_VENV))/bin/moto_server \
		LAMBDA_WSGI_APP_VENV=$$venv LAMBDA_WSGI_NO_SKIP=1 \
			$(VENV)/bin/pytest -q -rs -p no:cacheprovider $(E2E_TESTS); \
		echo "== handler mode: awslambdaric $(AWSLAMBDARIC) calls lambda_wsgi.handler, Python $$v"; \
		$$venv/bin/python -m pip install -q --disable-pip-version-check awslambdaric==$(AWSLAMBDARIC); \
		$(VENV_PY) tests/wheel/make_launcher.py handler $$venv/bin/python $(call handler_for,$$v); \
		LAMBDA_WSGI_BOOTSTRAP=$(abspath $(call handler_for,$$v)) LAMBDA_WSGI_HOST=handler \
		LAMBDA_WSGI_EMULATOR=$(abspath $(EMULATOR)) LAMBDA_WSGI_PYTHON=$$venv/bin/python \
		LAMBDA_WSGI_APP_VENV=$$venv LAMBDA_WSGI_NO_SKIP=1 \
			$(VENV)/bin/pytest -q -rs -p no:cacheprovider $(HANDLER_TESTS); \
	done
	LAMBDA_WSGI_WHEELS="$(abspath $(WHEELS))" LAMBDA_WSGI_SDIST=$(abspath $(SDIST)) LAMBDA_WSGI_EMULATOR=$(abspath $(EMULATOR)) LAMBDA_WSGI_NO_SKIP=1 \
	LAMBDA_WSGI_HANDLER_PYTHON=$(CURDIR)/$(APP_VENV)/bin/python \
		$(VENV)/bin/pytest -q -rs -p no:cacheprovider tests/wheel

# The layer: one zip per Lambda architecture, made from that architecture's wheel (the package
# as `pip install --target` lays it out, in python/), plus the exec wrapper users point at
# (/opt/lambda-wsgi) and the remote-config helper. No root, no qemu: layer/build.py says how.
LAYER_ZIPS := dist/lambda-wsgi-layer-x86_64.zip dist/lambda-wsgi-layer-arm64.zip
LAYER_SOURCES := $(WHEELS) Cargo.lock $(shell find remote-config -type f) layer/lambda-wsgi layer/build.py

layer: $(LAYER_ZIPS) ## Build dist/lambda-wsgi-layer-{x86_64,arm64}.zip from the wheels: the package in python/, the exec wrapper, the remote-config helper

$(LAYER_ZIPS) &: $(VENV)/.layer-tools $(LAYER_SOURCES)
	$(VENV_PY) layer/build.py --wheel x86_64=$(call wheel_for,x86_64) --wheel arm64=$(call wheel_for,aarch64) \
		$(foreach v,$(MANAGED_PYTHONS),$(if $(call python_for,$(v)),--python $(call python_for,$(v))))

$(VENV)/.layer-tools: $(VENV)/.installed
	$(VENV_PY) -m pip install -q --disable-pip-version-check cargo-zigbuild==0.24.0 ziglang==0.17.1
	rustup target add aarch64-unknown-linux-gnu
	@touch $@

# Debian's Chromium and its driver, for the Django admin test (browsers cannot be downloaded here).
/usr/bin/chromedriver:
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

# aarch64 binaries run here under Debian's qemu-user-static, in a chroot too: binfmt_misc mounted, the
# aarch64 handler registered with the F flag (the kernel opens qemu at registration, so the chroot needs
# no qemu of its own). For the layer's arm64 bootstraps (tests/e2e/test_layer_roots.py).
.PHONY: qemu-user
qemu-user: ## Debian's qemu-user-static, its aarch64 binfmt handler registered with the F flag (runs in a chroot)
	@sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	[ -x /usr/bin/qemu-aarch64-static ] || { $$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static; }; \
	[ -e /proc/sys/fs/binfmt_misc/register ] || $$sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; \
	handler=/proc/sys/fs/binfmt_misc/qemu-aarch64; \
	if [ -e $$handler ] && ! grep -q '^flags:.*F' $$handler; then echo -1 | $$sudo tee $$handler >/dev/null; fi; \
	[ -e $$handler ] || $$sudo sh -c 'cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register'; \
	grep -q '^flags:.*F' $$handler || { echo "qemu-user: the aarch64 binfmt handler has no F flag:"; cat $$handler; exit 1; }

# Debian's PostgreSQL, when no /usr/lib/postgresql/*/bin/initdb exists. The tests run their own
# server on a temporary directory and port (tests/e2e/pg_server.py), as an unprivileged user.
install-postgresql:
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql

# A function package for provided.al2023 or a managed python3.x runtime: the app, its
# requirements (Lambda's platform wheels), and .pyc for all of it. /var/task is read-only on
# Lambda, so without them every cold start compiles every module again (make package-cold-start).
APP ?= examples/flask
FUNCTION_DIR := dist/function
package: ## Package APP (default examples/flask) with its requirements and precompiled .pyc: dist/function.zip
	rm -rf $(FUNCTION_DIR) && mkdir -p $(FUNCTION_DIR)
	$(PYTHON) -m pip install -q --disable-pip-version-check --target $(FUNCTION_DIR) --implementation cp \
		--platform manylinux2014_x86_64 --python-version $(PYTHON_VERSION) --only-binary=:all: -r $(APP)/requirements.txt
	tar -C $(APP) --exclude=__pycache__ --exclude=events -cf - . | tar -C $(FUNCTION_DIR) -xf -
	$(PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash $(FUNCTION_DIR)
	cd $(FUNCTION_DIR) && $(abspath $(PYTHON)) -m zipfile -c ../function.zip .
	@du -sh dist/function.zip

package-cold-start: package build ## Cold start of the package with and without its .pyc (read-only task root, as on Lambda)
	$(CARGO) build --release -p lambda-wsgi-emulator
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=target/py$(PYTHON_VERSION) $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	$(VENV_PY) layer/cold_start.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap --function $(FUNCTION_DIR) --event $(APP)/events/http-api-get.json

python-path:
	@echo $(call python_for,$(V))

$(VENV)/.installed: requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# .venv-3.12/.installed: the examples' dependencies, installed with Python 3.12 (app_venv_for).
.venv-3.%/.installed: $(APP_REQUIREMENTS)
	@test -n "$(call python_for,3.$*)" || { echo "Python 3.$* not found (pyenv install 3.$* or put python3.$* on PATH)"; exit 1; }
	$(call python_for,3.$*) -m venv .venv-3.$*
	.venv-3.$*/bin/python -m pip install -q --disable-pip-version-check -r requirements-apps.txt
	@touch $@

# moto (a local SSM / Secrets Manager / IAM for the remote-configuration tests) in a venv of its
# own (MOTO_VENV): it pins cfn-lint and the SAM translator older than the template tests use.
$(MOTO_VENV)/.installed:
	$(PYTHON) -m venv $(MOTO_VENV)
	$(MOTO_VENV)/bin/python -m pip install -q --disable-pip-version-check "moto[server]==5.1.22"
	@touch $@

clean-venv: ## Remove the virtualenvs
	rm -rf $(VENV) .venv-3.* $(MOTO_VENV)

# Not part of `make test` (instruction counts under valgrind: 2.5 minutes after the release builds). bench/studies/cold_start_ab.py
# compares two bootstraps' cold starts in wall time (paired, alternating).
.PHONY: bench-callgrind
bench-callgrind: $(VENV)/.bench-installed $(APP_VENV)/.installed /usr/bin/valgrind ## callgrind: one Flask call's instructions inside lambda-wsgi, apig-wsgi and a tight loop; the call timed with each kind of gap between calls; a cold start's instructions (bench/RESULTS.md)
	$(CARGO) build --release -p lambda-wsgi-emulator
	PYO3_PYTHON=$(PYTHON) CARGO_TARGET_DIR=target/py$(PYTHON_VERSION) $(CARGO) build --release -p lambda-wsgi --bin bootstrap
	$(VENV_PY) bench/studies/callgrind_flask.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap --app-venv $(APP_VENV) --loop-python $(APP_VENV)/bin/python
	$(APP_VENV)/bin/python bench/studies/flask_between_calls.py --emulator target/release/lambda-wsgi-emulator \
		--bootstrap target/py$(PYTHON_VERSION)/release/bootstrap
	$(VENV_PY) bench/studies/callgrind_init.py --emulator target/release/lambda-wsgi-emulator --app-venv $(APP_VENV) \
		--bootstrap this=target/py$(PYTHON_VERSION)/release/bootstrap

/usr/bin/valgrind:
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
