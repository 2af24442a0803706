# Two entry points (see README Quick start): `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# The transformers backend's tests run tiny random models of real architectures on the CPU. torch and
# torchvision are pinned here only (a matching pair that builds the Qwen-VL processors); users bring their own.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q $(TORCH_PINS)
	$(BIN)/pip install -q -e '.[test,test-hf]' $(TORCH_PINS)
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pet2rep demo --out demo-out

# Browser tests (case viewer, review app) drive Debian's chromium through Playwright. Installed here when
# missing and apt-get can run (as root, as in CI); elsewhere those tests skip unless PET2REP_REQUIRE_BROWSER=1.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

test: $(TEST_STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

.PHONY: install demo test browser
