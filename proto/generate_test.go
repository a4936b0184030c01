package pb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCurrent regenerates the Go code from the .proto files with
// Debian's protoc and the protoc-gen-go pinned in go.mod, and fails when the
// committed files differ: run `make generate`.
func TestGeneratedCurrent(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc not installed (Debian package protobuf-compiler)")
	}
	out, err := exec.Command("go", "tool", "-n", "protoc-gen-go").Output()
	if err != nil {
		t.Fatalf("go tool -n protoc-gen-go: %v", err)
	}
	plugin := strings.TrimSpace(string(out))
	protos, err := filepath.Glob("*.proto")
	if err != nil || len(protos) == 0 {
		t.Fatalf("no .proto files: %v", err)
	}
	dir := t.TempDir()
	args := append([]string{"--plugin=protoc-gen-go=" + plugin, "--proto_path=.", "--go_out=" + dir, "--go_opt=paths=source_relative"}, protos...)
	if out, err := exec.Command(protoc, args...).CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	for _, p := range protos {
		name := strings.TrimSuffix(p, ".proto") + ".pb.go"
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run make generate", name)
		}
	}
}
