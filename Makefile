GO ?= go
export CGO_ENABLED = 0
BIN := bin
PREFIX ?= /usr/local

.PHONY: all deps build test generate demo bench install clean chaos soak

all: build

# --version prints VERSION: git describe in a checkout, else what the
# caller sets (debian/rules passes the changelog's version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
LDFLAGS = -X github.com/dhcp6leased/dhcp6leased/internal/version.tag=$(VERSION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/dhcp6leased ./cmd/dhcp6leasectl

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
	$(MAKE) fuzz FUZZTIME=10s

# Run every fuzz target in the repository for FUZZTIME each (go test
# -fuzz takes one target of one package at a time); `go test` alone
# replays the committed corpora. `go test -list` names the targets of the
# packages whose tests define any, so the end-to-end TestMain is not run.
# Each new interesting input is minimized for at most FUZZMINIMIZETIME:
# at Go's default (60 s) one minimization can take a whole short run.
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 5s
.PHONY: fuzz
fuzz:
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "== $$dir $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$dir || exit 1; \
		done; \
	done

# The chaos suite (tests/chaos, docs/CHAOS.md): each disturbance of a
# running daemon with its convergence time and bound; about 25 s, also
# part of `make test`. `make soak` runs them at random for SOAK (10m) and
# compares fds, RSS, threads and goroutines at the start and the end.
# The exit status is go test's (a pipe into grep would hide a failure),
# and a failing run prints its whole log.
chaos: deps
	@log=$$(mktemp); $(GO) test -count=1 -v -run '^Test' ./tests/chaos >$$log 2>&1; status=$$?; \
	if [ $$status = 0 ]; then grep -E '^(---|ok)|converged' $$log; else cat $$log; fi; rm -f $$log; exit $$status
SOAK ?= 10m
soak: deps
	DHCP6LEASED_SOAK=$(SOAK) $(GO) test -count=1 -v -timeout 60m -run '^TestSoak$$' ./tests/chaos

demo: deps build
	$(GO) run ./tests/lab/demo -daemon $(BIN)/dhcp6leased -ctl $(BIN)/dhcp6leasectl

# Performance and scale beside dhcpcd and WIDE dhcp6c (bench/, as root,
# about ten minutes): rewrites docs/PERFORMANCE.md and docs/performance.svg.
# Not part of `make test`.
bench: deps build
	sh bench/deps.sh
	$(GO) run ./bench -go $(GO) -daemon $(BIN)/dhcp6leased -out docs/PERFORMANCE.md -plot docs/performance.svg

# Binaries, man pages, the systemd unit with its sysusers.d and tmpfiles.d
# files, the example configuration and the radvd hook; DESTDIR stages the
# tree for a package (tests/e2e/install_test.go checks it). The unit's
# ExecStart and ExecReload follow PREFIX. No /etc/dhcp6leased.conf: the
# unit starts once the administrator writes one (docs/DEPLOY.md).
SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man
UNITDIR = $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d
TMPFILESDIR = $(PREFIX)/lib/tmpfiles.d
DOCDIR = $(PREFIX)/share/doc/dhcp6leased
DATADIR = $(PREFIX)/share/dhcp6leased

install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DATADIR)
	install -m 0755 $(BIN)/dhcp6leased $(BIN)/dhcp6leasectl $(DESTDIR)$(SBINDIR)/
	install -m 0644 docs/man/dhcp6leased.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/dhcp6leased.8 docs/man/dhcp6leasectl.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's,^\(Exec[A-Za-z]*\)=/usr/sbin/,\1=$(SBINDIR)/,' contrib/systemd/dhcp6leased.service >$(BIN)/dhcp6leased.service
	install -m 0644 $(BIN)/dhcp6leased.service $(DESTDIR)$(UNITDIR)/
	install -m 0644 contrib/systemd/dhcp6leased.sysusers $(DESTDIR)$(SYSUSERSDIR)/dhcp6leased.conf
	install -m 0644 contrib/systemd/dhcp6leased.tmpfiles $(DESTDIR)$(TMPFILESDIR)/dhcp6leased.conf
	install -m 0644 contrib/dhcp6leased.conf.example $(DESTDIR)$(DOCDIR)/examples/dhcp6leased.conf
	install -m 0755 contrib/radvd-hook $(DESTDIR)$(DATADIR)/

# The Debian package (debian/), built with the Go on PATH (not Debian's
# golang-go); installs debhelper and lintian first, moves what
# dpkg-buildpackage writes to ../ into $(BIN)/deb and lints it
# (debian/dhcp6leased.lintian-overrides says what is accepted and why).
DEBVERSION = $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB = $(BIN)/deb/dhcp6leased_$(DEBVERSION)_$(shell dpkg --print-architecture).deb
.PHONY: deb boottest
deb:
	command -v dh >/dev/null && command -v lintian >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debhelper lintian; }
	dpkg-buildpackage -us -uc -b
	mkdir -p $(BIN)/deb
	mv ../dhcp6leased_$(DEBVERSION)_* ../dhcp6leased-dbgsym_$(DEBVERSION)_* $(BIN)/deb/
	lintian --fail-on warning,error $(BIN)/deb/dhcp6leased_$(DEBVERSION)_*.changes

# The package booted in a systemd-nspawn container against Kea (tests/boot,
# as root; a few minutes the first time, which debootstraps the Debian root
# into /var/cache/dhcp6leased-boottest; not part of `make test`).
boottest: deb
	sh tests/deps.sh boot
	$(GO) test -count=1 -v -timeout 30m ./tests/boot -deb $(abspath $(DEB))

clean:
	rm -rf $(BIN)
