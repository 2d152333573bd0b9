# Two commands do everything: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: demo test lint typecheck pytest bench clean java chromium fonts

$(VENV): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit("guardpay needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $(VENV)

demo: $(VENV)
	$(BIN)/guardpay demo --port $(PORT)

test: $(VENV) java chromium fonts
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup

# The AML tests run every scenario on Spark too, which needs a Java runtime: installed
# from Debian's packages when missing (as root, or with sudo).
java:
	@command -v java >/dev/null 2>&1 || { \
		echo "installing a Java runtime for the Spark tests (default-jre-headless)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq default-jre-headless >/dev/null; }

# The screens' end-to-end tests drive Debian's Chromium with Playwright (tools here cannot
# download their own browser): installed from Debian's packages when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Chromium for the browser tests (Debian's chromium)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The screenshots the browser tests keep show the Chinese pages too: a CJK font (WenQuanYi
# Micro Hei, 4 MB) from Debian's packages when the machine has none.
fonts: chromium
	@[ -n "$$(fc-list :lang=zh 2>/dev/null)" ] || { \
		echo "installing a CJK font for the screens' screenshots (fonts-wqy-microhei)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq fonts-wqy-microhei >/dev/null; }

bench: $(VENV)
	$(BIN)/guardpay bench ledger --backend sqlite --json

clean:
	rm -rf $(VENV) guardpay-data .mypy_cache .ruff_cache .pytest_cache test-artifacts
