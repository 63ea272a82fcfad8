# The guide (docs/, an mdBook) and its checks. Included by the Makefile, whose variables it uses:
# VENV, CARGO, EMULATOR, PYTHON_VERSION, PYTHON, bootstrap_for.

MDBOOK_VERSION := 0.5.4
MDBOOK := target/tools/bin/mdbook
# One stamp per version: changing MDBOOK_VERSION installs that one.
MDBOOK_STAMP := target/tools/.mdbook-$(MDBOOK_VERSION)

.PHONY: docs test-docs

docs: $(MDBOOK_STAMP) ## Build the guide (docs/src, mdBook) into target/book
	$(MDBOOK) build docs

# mdbook from crates.io, pinned; without default features (no serve/watch), it builds in a few minutes.
$(MDBOOK_STAMP):
	$(CARGO) install mdbook --version $(MDBOOK_VERSION) --locked --no-default-features --root target/tools
	@touch $@

test-docs: docs $(VENV)/.installed build ## Checked docs: links, the configuration reference against the code, snippets, errors; each migration guide's settings through bootstrap
	LAMBDA_WSGI_BOOTSTRAP=$(abspath $(call bootstrap_for,$(PYTHON_VERSION))) LAMBDA_WSGI_EMULATOR=$(abspath $(EMULATOR)) \
	LAMBDA_WSGI_PYTHON=$(PYTHON) LAMBDA_WSGI_APP_VENV=$(abspath $(VENV)) LAMBDA_WSGI_NO_SKIP=1 \
		$(VENV)/bin/pytest -q -rs -p no:cacheprovider tests/docs
