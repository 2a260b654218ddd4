# The two commands: `make up` runs the system, `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv from the PATH when there is one, else the one the first target installs into the virtualenv.
UV = $(or $(shell command -v uv 2>/dev/null),$(VENV)/bin/uv)
# tox and its uv plugin live in the project's virtualenv too: a fresh machine needs only Python.
TOX := $(VENV)/bin/tox
PROJECTS := chassis tools auth users search pdf-reporting reservations payments bank-sandbox booking-ui
HOTELS ?= 3000
UNIT_ENVS := lint,chassis,chassis-pg,search,search-pg,users,users-pg,auth,auth-pg,reservations,reservations-pg,payments,payments-pg,bank-sandbox,bank-sandbox-pg,pdf-reporting,pdf-reporting-pg,booking-ui,booking-ui-pg,gateway,manifests,images
SYSTEM_ENVS := integration,integration-pg,reliability,replicas,e2e

.PHONY: up down test test-unit test-system client seed trace bench bench-deps lint constraints clean manifests images

## Run everything behind the gateway at http://127.0.0.1:8080 (Ctrl-C stops it).
## Several instances of every service: make up REPLICAS=2 POSTGRES_URL=postgresql://postgres@127.0.0.1:5432
REPLICAS ?= 1
export REPLICAS
up: $(STAMP)
	@mkdir -p var
	$(PY) -m hotelbook_stack bootstrap --hotels $(HOTELS)
	@$(PY) -m hotelbook_stack procfile > var/Procfile
	@# exec: honcho keeps the shell's PID, which `make down` reads back from var/honcho.pid.
	@echo $$$$ > var/honcho.pid; PATH="$(abspath $(VENV))/bin:$$PATH" exec $(VENV)/bin/honcho -f var/Procfile -d . start

## Stop a system started in the background (Ctrl-C does the same in the foreground). Only the
## honcho this folder's `make up` started: a system run from another checkout keeps running.
down:
	@pid=$$(cat var/honcho.pid 2>/dev/null); \
	if [ -n "$$pid" ] && ps -o args= -p "$$pid" 2>/dev/null | grep -q honcho; then \
		kill -TERM "$$pid" && echo "stopping make up (honcho, pid $$pid)"; \
	else echo "no make up running from this folder"; fi; rm -f var/honcho.pid

## The whole tox matrix: unit envs in parallel, then the cross-service suites.
test: test-unit test-system

test-unit: $(TOX)
	$(TOX) p -p auto -e $(UNIT_ENVS)

test-system: $(TOX)
	$(TOX) -e $(SYSTEM_ENVS)

## Register an OAuth client: make client NAME=x SCOPES="a b" GRANTS="client_credentials" [REDIRECT_URI=u] [PUBLIC=1]
##   [DISPLAY_NAME="Shown name"] [SIGNUP_URI=u] [PASSWORD_RESET_URI=u] (the login page shows and links them)
client: $(STAMP)
	@$(PY) -m hotelbook_stack client --name "$(NAME)" --scopes "$(SCOPES)" --grants "$(or $(GRANTS),client_credentials)" \
		$(if $(REDIRECT_URI),--redirect-uri "$(REDIRECT_URI)") $(if $(PUBLIC),--public) \
		$(if $(DISPLAY_NAME),--display-name "$(DISPLAY_NAME)") $(if $(SIGNUP_URI),--signup-uri "$(SIGNUP_URI)") \
		$(if $(PASSWORD_RESET_URI),--password-reset-uri "$(PASSWORD_RESET_URI)")

## Seed the catalogue: make seed HOTELS=100000
seed: $(STAMP)
	$(PY) -m hotelbook_stack seed --hotels $(HOTELS)

## Print the trace of one request as a tree: make trace ID=<X-Request-ID>
trace: $(STAMP)
	@$(PY) -m hotelbook_stack trace "$(ID)"

## Every benchmark; what they need beyond the services (Locust for bench/load.py, responses for
## bench/receipts.py) goes into the project's virtualenv first.
bench: bench-deps
	for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## What the benchmarks need beyond the services, for running one script alone: .venv/bin/python bench/load.py
bench-deps: $(STAMP)
	$(UV) pip install --quiet --python $(PY) -c constraints.txt locust responses

lint: $(TOX)
	$(TOX) -e lint

## Kubernetes objects of one overlay as one YAML stream: make manifests [OVERLAY=dev]
OVERLAY ?= production
manifests: $(STAMP)
	@$(PY) -m hotelbook_stack.kubernetes --overlay $(OVERLAY)

## Container images with buildah: make images [REGISTRY=registry.example/hotelbook] [TAG=1.0.0]
images: $(STAMP)
	$(PY) -m hotelbook_stack.images $(if $(REGISTRY),--registry $(REGISTRY)) --tag $(or $(TAG),latest)

## Re-pin every dependency from the development virtualenv.
constraints: $(STAMP)
	@{ head -n 2 constraints.txt; $(VENV)/bin/uv pip freeze --exclude-editable --python $(PY) 2>/dev/null \
		|| $(PY) -m pip freeze --exclude-editable; } > constraints.tmp && mv constraints.tmp constraints.txt

$(STAMP): constraints.txt $(foreach p,$(PROJECTS),$(p)/pyproject.toml)
	@# Without uv on the PATH: a plain virtualenv first, and uv into it (python3 -m venv; on
	@# Debian and Ubuntu that is the python3-venv package).
	@command -v uv >/dev/null || test -x $(VENV)/bin/uv || { python3 -m venv $(VENV) && $(PY) -m pip install --quiet uv; }
	$(UV) venv --allow-existing --quiet $(VENV)
	$(UV) pip install --quiet --python $(PY) -c constraints.txt $(foreach p,$(PROJECTS),-e ./$(p)) honcho uv
	@touch $@

$(TOX): $(STAMP)
	$(UV) pip install --quiet --python $(PY) -c constraints.txt "tox>=4.20" "tox-uv>=1.11"
	@touch $@

clean:
	rm -rf var .tox
