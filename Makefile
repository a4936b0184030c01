GO ?= go
export CGO_ENABLED = 0
BIN := bin
PREFIX ?= /usr/local

.PHONY: all deps build test generate demo install clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/dhcp6leased ./cmd/dhcp6leasectl

# Regenerate proto/*.pb.go with Debian's protoc and the protoc-gen-go pinned in go.mod.
generate:
	PATH="$$(dirname $$($(GO) tool -n protoc-gen-go)):$$PATH" protoc --proto_path=proto \
		--go_out=proto --go_opt=paths=source_relative proto/*.proto

# Debian packages and the _dhcp6leased user (tests/deps.sh).
deps:
	sh tests/deps.sh

# Every test: unit, fuzz corpora replay, and the network-namespace
# end-to-end tests against real DHCPv6 servers (need root).
test: deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

demo: deps build
	$(GO) run ./internal/lab/demo -daemon $(BIN)/dhcp6leased -ctl $(BIN)/dhcp6leasectl

install: build
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BIN)/dhcp6leased $(BIN)/dhcp6leasectl $(DESTDIR)$(PREFIX)/sbin/

clean:
	rm -rf $(BIN)
