# CCM Collect. `make run` opens the desktop app on a demo data set;
# `make test` runs every check CI runs. Both install what a fresh Debian or
# Ubuntu machine lacks.
TAGS := migrated_fynedo
GO   ?= go

.PHONY: run build test lint bench fuzz hub clean

run:
	@scripts/deps.sh
	$(GO) run -tags $(TAGS) . --demo

build:
	@scripts/deps.sh
	$(GO) build -tags $(TAGS) -o bin/ccmcollect .
	$(GO) build -tags $(TAGS) -o bin/ccmhub ./cmd/ccmhub

test:
	@scripts/test.sh

lint:
	@scripts/deps.sh test
	gofmt -l . | (! grep .)
	$(GO) vet -tags $(TAGS) ./...
	$$($(GO) env GOPATH)/bin/staticcheck -tags $(TAGS) ./...

# Prints the performance figures that docs/performance.md records.
bench:
	@scripts/bench.sh

fuzz:
	@FUZZTIME=$${FUZZTIME:-60s} SKIP_TESTS=1 scripts/test.sh

# A local hub on 127.0.0.1:8470 with its data in ./ccmhub-data.
hub:
	$(GO) run -tags $(TAGS) ./cmd/ccmhub serve

clean:
	rm -rf bin
