# The two commands of the quick start: `make run` and `make test`.
# Each sets up what it needs on a fresh Debian machine and is safe to repeat.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYBABEL := $(VENV)/bin/pybabel
FLASK := PYTHONPATH=$(CURDIR) $(VENV)/bin/flask --app web
PG_URL ?= postgresql://postgres@127.0.0.1:5432/green_ladder_test

CHROMIUM := /usr/bin/chromium

.PHONY: run test setup postgres fonts bench bench-timers translations bench-inbox bench-bombs bench-scale modeler

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# The English pages' texts: each catalog (.po) is kept in git, its compiled form (.mo) is built here.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/*.po))

$(CATALOGS): %.mo: %.po | $(VENV)/.installed
	$(PYBABEL) compile --statistics -i $< -o $@

# After changing a text in web/: re-extract the Chinese msgids and merge them into each catalog,
# then translate what is new or marked fuzzy in the .po (tests/test_translations.py checks that none is left).
# The models' texts (processes/, forms/) are the `models` domain: their English is models.po.
translations: setup
	$(PYBABEL) extract -F babel.cfg -k _l -k lazy_gettext --project "Green Ladder" --copyright-holder "Green Ladder" \
	  --no-wrap --no-location -o web/translations/messages.pot .
	$(PYBABEL) update --no-wrap -i web/translations/messages.pot -d web/translations
	PYTHONPATH=$(CURDIR) $(PYBABEL) extract -F babel-models.cfg --project "Green Ladder" --copyright-holder "Green Ladder" \
	  --no-wrap --no-location -o web/translations/models.pot .
	$(PYBABEL) update --no-wrap -D models -i web/translations/models.pot -d web/translations

# bpmn-js and the other browser libraries the app serves from node_modules, as package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The analysts' modeler: bpmn-js, its properties panel and dmn-js bundled by esbuild from node_modules
# (never committed; web/static/modeler/build/ is ignored by git).
MODELER_SRC := $(wildcard web/static/modeler/src/*.js) web/static/modeler/spiffworkflow.json
MODELER_BUNDLE := web/static/modeler/build/.built

$(MODELER_BUNDLE): node_modules/.installed $(MODELER_SRC)
	node_modules/.bin/esbuild web/static/modeler/src/bpmn-editor.js web/static/modeler/src/dmn-editor.js \
	  --bundle --minify --sourcemap --format=iife --target=es2020 --outdir=web/static/modeler/build \
	  --loader:.woff=file --loader:.woff2=file --loader:.ttf=file --loader:.eot=file --loader:.svg=file \
	  --log-level=warning
	touch $@

modeler: $(MODELER_BUNDLE)

# The dashboard's charts: the parts of ECharts they use, bundled the same way (web/static/dashboard/build/, ignored by git).
CHARTS_BUNDLE := web/static/dashboard/build/.built

$(CHARTS_BUNDLE): node_modules/.installed $(wildcard web/static/dashboard/src/*.js)
	node_modules/.bin/esbuild web/static/dashboard/src/charts.js --bundle --minify --sourcemap --format=iife \
	  --target=es2020 --outdir=web/static/dashboard/build --log-level=warning
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used); a CJK font for its pages.
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei

# The Chinese font the PDF documents embed (web/documents/render.py; DOCUMENT_FONT names another).
DOCUMENT_FONT ?= /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
$(DOCUMENT_FONT):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei

fonts: $(DOCUMENT_FONT)

# The local PostgreSQL the suite also runs on: started if it is down, test database created if missing.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='green_ladder_test'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -d postgres -qc "create database green_ladder_test"

run: setup fonts node_modules/.installed $(MODELER_BUNDLE) $(CHARTS_BUNDLE) $(CATALOGS)
	$(FLASK) db upgrade
	$(FLASK) demo
	GREEN_LADDER_ENV=development SCHEDULER=in-process $(FLASK) run --host 127.0.0.1 --port 5000

# ruff first (ruff.toml: the rules the code keeps), then the suite in one worker more than the
# cores (pytest-xdist; each worker has its own SQLite file and PostgreSQL database): many tests
# wait on a browser, a subprocess or a timer, and the extra worker keeps the cores busy meanwhile;
# idle workers steal queued tests, so the long ones do not all end up last on one worker.
# On 2 cores: 4 min 14 s with 3 workers, 4 min 17 s with 4 (and, before the tests shared their
# database engines, 6 min 47 s with 2 against 6 min 9 s with 3).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: setup postgres fonts node_modules/.installed $(MODELER_BUNDLE) $(CHARTS_BUNDLE) $(CHROMIUM) $(CATALOGS)
	$(VENV)/bin/ruff check .
	PYTHONPATH=$(CURDIR) TEST_POSTGRES_URL=$(PG_URL) $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

bench: setup postgres
	PYTHONPATH=$(CURDIR) BENCH_POSTGRES_URL=$(PG_URL) $(PY) bench/engine.py

# 10,000 deadlines at one moment among 100,000 waiting cases, on SQLite and PostgreSQL (the bench
# empties its PostgreSQL database: BENCH_PG_URL=... points it at one of its own); ~10 minutes
BENCH_PG_URL ?= $(PG_URL)
bench-timers: setup postgres
	PYTHONPATH=$(CURDIR) BENCH_POSTGRES_URL=$(BENCH_PG_URL) $(PY) bench/timers.py $(BENCH_TIMERS_ARGS)

bench-inbox: setup postgres
	PYTHONPATH=$(CURDIR) BENCH_POSTGRES_URL=$(PG_URL) $(PY) bench/inbox.py

# The main pages and API lists with 20,000 cases and 10,000 designations, through gunicorn on PostgreSQL,
# at 1 and 4 clients (p50/p95), and the 10,000-row /registry.xlsx as a background job (`timers run`
# beside gunicorn). Wipes its own database.
BENCH_SCALE_URL ?= postgresql://postgres@127.0.0.1:5432/green_ladder_bench_scale
bench-scale: setup postgres $(CATALOGS)
	@psql "$(dir $(BENCH_SCALE_URL))postgres" -tAc "select 1 from pg_database where datname='$(notdir $(BENCH_SCALE_URL))'" | grep -q 1 \
	  || psql "$(dir $(BENCH_SCALE_URL))postgres" -qc "create database $(notdir $(BENCH_SCALE_URL))"
	PYTHONPATH=$(CURDIR) BENCH_POSTGRES_URL=$(BENCH_SCALE_URL) $(PY) bench/scale.py

# GET /login latency while analysts' script bombs are refused (the server must not be held by one).
bench-bombs: setup
	PYTHONPATH=$(CURDIR) $(PY) bench/script_bombs.py
