# aft: make run (the shim on its embedded store with a demo), make test (everything CI runs).
SHELL := /bin/bash
GO    ?= go
BIN   := bin/aft
PKGS  := ./...
# Short fuzz runs in make test, as counts of executions (about 10s each on 2 cores): a
# duration (-fuzztime=10s) races Go's fuzz coordinator, which then fails a run with "context
# deadline exceeded" and no failing input on a busy machine (golang/go#75804, fixed in Go
# 1.27; this module is on 1.26). make fuzz runs longer ones for a duration (default 5m each;
# make fuzz FUZZTIME=30m).
FUZZ_RECORD     ?= 400000x
FUZZ_HANDLER    ?= 30000x
FUZZ_MIDDLEWARE ?= 10000x
FUZZ_CODEC      ?= 100000x

.PHONY: all build run test deps verify unit fuzz-short fuzz bench load images clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/aft

# The shim on a fresh embedded store, the OpenFaaS plugin over the local provider, and a
# short demo workload against them.
run: build
	$(GO) build -o bin/fn-order ./sdk/examples/order
	$(GO) build -o bin/fn-reserve ./sdk/examples/reserve
	@bash scripts/run-demo.sh $(BIN)

test: deps verify unit fuzz-short

# Test servers and tools the tests need on a fresh machine (each script is idempotent).
deps:
	@for s in scripts/deps/*.sh; do [ -e "$$s" ] || continue; echo "== deps: $$s"; bash "$$s" || exit 1; done

verify:
	@echo "== verify: gofmt, go vet, go mod tidy, the deps scripts"
	@for s in scripts/test/*.sh; do bash "$$s" || exit 1; done
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@cp go.mod /tmp/aft-go.mod.bak; cp go.sum /tmp/aft-go.sum.bak; \
	  $(GO) mod tidy; \
	  if ! diff -q go.mod /tmp/aft-go.mod.bak >/dev/null || ! diff -q go.sum /tmp/aft-go.sum.bak >/dev/null; then \
	    diff -u /tmp/aft-go.mod.bak go.mod; cp /tmp/aft-go.mod.bak go.mod; cp /tmp/aft-go.sum.bak go.sum; \
	    echo "go.mod/go.sum are not tidy: run go mod tidy and commit"; exit 1; fi

# The e2e package takes 6-7 minutes here under -race; the timeout, a hang guard, leaves room
# for a CI machine three times slower than that and more (CI's own bound is 90 minutes).
unit:
	@echo "== unit and end-to-end tests (race detector on)"
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

fuzz-short:
	@echo "== short fuzz runs"
	$(GO) test -run='^$$' -fuzz='^FuzzUnmarshal$$' -fuzztime=$(FUZZ_RECORD) ./shim/record/
	$(GO) test -run='^$$' -fuzz='^FuzzHandler$$' -fuzztime=$(FUZZ_HANDLER) ./shim/server/
	$(GO) test -run='^$$' -fuzz='^FuzzMiddleware$$' -fuzztime=$(FUZZ_MIDDLEWARE) ./middleware/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeBatchRequest$$' -fuzztime=$(FUZZ_CODEC) ./api/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeAnswers$$' -fuzztime=$(FUZZ_CODEC) ./api/
	$(GO) test -run='^$$' -fuzz='^FuzzAppend$$' -fuzztime=$(FUZZ_CODEC) ./api/
	$(GO) test -run='^$$' -fuzz='^FuzzBase64$$' -fuzztime=$(FUZZ_CODEC) ./api/
	$(GO) test -run='^$$' -fuzz='^FuzzParseLogKey$$' -fuzztime=$(FUZZ_CODEC) ./shim/record/
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZ_CODEC) ./shim/peer/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZ_CODEC) ./shim/auth/
	$(GO) test -run='^$$' -fuzz='^FuzzBearerToken$$' -fuzztime=$(FUZZ_CODEC) ./shim/auth/
	$(GO) test -run='^$$' -fuzz='^FuzzConn$$' -fuzztime=$(FUZZ_HANDLER) ./internal/h1/
	$(GO) test -run='^$$' -fuzz='^FuzzDifferential$$' -fuzztime=$(FUZZ_HANDLER) ./internal/h1/

fuzz: FUZZTIME = 5m
fuzz:
	$(MAKE) fuzz-short FUZZ_RECORD=$(FUZZTIME) FUZZ_HANDLER=$(FUZZTIME) FUZZ_MIDDLEWARE=$(FUZZTIME) FUZZ_CODEC=$(FUZZTIME)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./shim/... ./bench/...

# The paper's transaction shape against a shim in-process, with the same work straight on the
# embedded store for comparison (aft bench -h for the knobs).
load: build
	$(BIN) bench

# The image of aft, built offline with ko (scripts/images.sh): images/aft-VERSION.tar,
# tagged aft.local/aft:VERSION as the charts name it.
images:
	bash scripts/images.sh images

clean:
	rm -rf bin aft-data images
