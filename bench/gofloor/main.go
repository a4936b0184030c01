// Command gofloor is the smallest Go daemon there is: it starts and waits
// for SIGTERM. Three of them are the Go floor the benchmarks set beside
// dhcp6leased's three processes: what any three Go processes cost in
// memory before doing anything.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
