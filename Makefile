GO ?= go
export CGO_ENABLED = 0
BIN := bin
PREFIX ?= /usr/local

.PHONY: all build test unit e2e generate check-generate demo install clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/dhcp6leased ./cmd/dhcp6leasectl

# Regenerate proto/*.pb.go with Debian's protoc and the protoc-gen-go pinned in go.mod.
generate:
	PATH="$$(dirname $$($(GO) tool -n protoc-gen-go)):$$PATH" protoc --proto_path=proto \
		--go_out=proto --go_opt=paths=source_relative proto/*.proto

# Every test: unit, fuzz corpora replay, and the network-namespace
# end-to-end tests against real DHCPv6 servers (need root).
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

demo: build
	$(GO) run ./internal/lab/demo -daemon $(BIN)/dhcp6leased -ctl $(BIN)/dhcp6leasectl

install: build
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BIN)/dhcp6leased $(BIN)/dhcp6leasectl $(DESTDIR)$(PREFIX)/sbin/

clean:
	rm -rf $(BIN)
