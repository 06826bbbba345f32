# Plinth — build, install, run and test. See README.md.
#
#   make run     start Postgres with Plinth on a project-local data directory
#                and open psql (again: reuses the data)
#   make stop    stop that server
#   make test    every test: Swift unit tests, pg_regress, isolation, end-to-end
#   make upstream  Postgres's own regression suite on heap and on Plinth,
#                and where their outputs differ (not pass/fail: a report)
#   make orm     Django's and SQLAlchemy's own test suites on Plinth (from PyPI)
#   make bench   Plinth beside heap, figures and plot under bench/results
#   make bench-store  the embedded store beside raw LMDB
#   make fuzz    every decoder of store bytes under libFuzzer, FUZZ_SECONDS
#                each (default 300); what it finds joins Fuzz/Corpus
#
# Installation follows PGXS conventions: the shared library goes to
# $(pg_config --pkglibdir), the control and script files to
# $(pg_config --sharedir)/extension.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
PG_CONFIG ?= pg_config
# Release builds specialise generics across modules (the store's SortedMap
# is used by the transaction layer: unspecialised, generic metadata lookups
# took 5% of a COPY) and leave exclusivity checks to the debug builds the
# unit tests run (swift_beginAccess on every buffer access).
SWIFT_BUILD_FLAGS = -c release -Xswiftc -static-stdlib \
	-Xswiftc -cross-module-optimization -Xswiftc -enforce-exclusivity=unchecked \
	-Xcc -I$(shell $(PG_CONFIG) --includedir-server) -Xcc -Wno-ignored-attributes

.PHONY: all deps build install run stop cluster cluster-stop psql test upstream orm unit-test regress isolation e2e bench bench-schema bench-store fuzz clean

all: build

deps:
	@scripts/deps.sh

build: deps
	swift build $(SWIFT_BUILD_FLAGS) --product plinth

install: build
	scripts/install.sh

run: install
	scripts/run.sh start

stop:
	scripts/run.sh stop

# N local servers on one store (default 3): `make cluster N=3`, `make cluster-stop`.
N ?= 3
cluster: install
	scripts/cluster.sh start $(N)

cluster-stop:
	scripts/cluster.sh stop

psql:
	scripts/run.sh psql

test: install
	scripts/test.sh

upstream: install
	scripts/upstream.sh

orm: install
	scripts/orm.sh

unit-test: deps
	scripts/test.sh unit

regress: install
	scripts/test.sh regress

isolation: install
	scripts/test.sh isolation

e2e: install
	scripts/test.sh e2e

bench: install
	scripts/bench.sh

# The embedded store beside raw LMDB doing the same key-value work.
# The shared schema's cost: DDL propagation on three servers, select-only beside a lone server.
bench-schema: install
	python3 bench/schema.py

bench-store: deps
	swift build $(SWIFT_BUILD_FLAGS) --product plinth-store-tool
	.build/release/plinth-store-tool bench --keys 100000 --seconds 3 --durable on

FUZZ_SECONDS ?= 300
fuzz: deps
	scripts/fuzz.sh --seconds $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-fuzz
