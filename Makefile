# Everything a fresh machine needs (Python 3.11, Node 20, npm) is installed by these targets.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
LAMBDA_FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_DEPS := $(foreach f,$(LAMBDA_FUNCTIONS),build/lambda-deps/$(f)/.requirements.sha256)

.PHONY: setup deps test synth diff deploy destroy lint demo clean

setup: $(VENV)/.installed node_modules/.installed deps

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	touch $@

# Lambda dependencies for arm64, installed once (needs PyPI); synth then needs no network.
deps: $(LAMBDA_DEPS)
build/lambda-deps/%/.requirements.sha256: functions/%/requirements.txt $(VENV)/.installed
	$(PY) -m stacks.bundling $*

# Two workers (pytest-xdist), each test file kept in one worker (its module fixtures deploy
# once), files in collection order (tests/conftest.py: LONGEST_FILES first); PYTEST_ARGS= runs
# it serially. See the README's Tests section.
# Bytecode caches are written even where the environment turns them off (PYTHONDONTWRITEBYTECODE):
# each worker and each process a test starts (payops serve, cdk synth's app, replay workers)
# would otherwise compile every module again, and pytest re-rewrite every test file's asserts.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder
test: setup browser
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest $(PYTEST_ARGS)

# The order-status page test needs Debian's chromium (issue 15). Installed here when this machine
# allows it (root with apt-get); otherwise nothing happens and that test is skipped (failed in CI).
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else echo "chromium not installed (needs root and apt-get): the browser test will be skipped"; fi

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

# Synthesize both ingress modes with the pinned CDK CLI (no AWS account, no network).
synth: setup
	$(CDK) synth --quiet --output cdk.out/partner -c ingress=partner
	$(CDK) synth --quiet --output cdk.out/webhook -c ingress=webhook
	@ls -l cdk.out/partner/*.template.json cdk.out/webhook/*.template.json

# The README's deployment commands, for the stack and the settings in cdk.json (add more with
# CDK_ARGS, e.g. make deploy CDK_ARGS="-c ingress=webhook"). cdk.json runs .venv/bin/python, so
# these work from a plain shell without activating the virtualenv.
STACK := StripePayOps
CDK_ARGS ?=
diff: setup
	$(CDK) diff $(STACK) $(CDK_ARGS)

deploy: setup
	$(CDK) deploy $(STACK) $(CDK_ARGS)

destroy: setup
	$(CDK) destroy $(STACK) $(CDK_ARGS)

# The main job: the real stack in the local AWS (moto + bridges), the example events through it.
# With the chat and ticket consumers on (fake Slack and Backlog in the local AWS).
demo: setup
	$(PY) -m payops replay -c chatProvider=slack -c ticketProvider=backlog \
		--stripe-data examples/stripe-data examples/events/

clean:
	rm -rf cdk.out build .pytest_cache

# Speed and cost, measured on this machine (about 10 minutes): the table goes to docs/BENCH.md.
.PHONY: bench diagrams
bench: setup
	$(PY) -m bench.run --with-suite

# Mermaid pictures from the synthesized template and statemachines/*.asl.json, into docs/.
diagrams: setup
	$(PY) -m payops.diagram
