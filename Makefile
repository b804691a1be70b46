# FlowOOD — two commands set everything up on a fresh Debian machine:
#   make report   reproduce the papers (builds the release binary, runs the chapters)
#   make test     build and run the test suite
SWIFT        ?= swift
RELEASE_BIN   = .build/release/flowood
PROFILE      ?= paper

.PHONY: all deps build release test report smoke bench clean help

all: release

help:
	@echo "make report   reproduce the papers from chapters/ into figures/ and the report"
	@echo "make test     build and run all tests (installs missing packages first)"
	@echo "make bench    engine throughput beside the PyTorch reference (when torch is importable)"
	@echo "make deps     install missing system packages (apt-get; prints the command when not root)"

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product flowood

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel
	$(SWIFT) build -c release --product flowood
	scripts/smoke-report.sh $(RELEASE_BIN)

report: release
	$(RELEASE_BIN) report --profile $(PROFILE)

smoke: release
	scripts/smoke-report.sh $(RELEASE_BIN)

bench: release
	scripts/bench.sh $(RELEASE_BIN)

clean:
	rm -rf .build build
