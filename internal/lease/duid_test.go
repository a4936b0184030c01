package lease

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateUUID(t *testing.T) {
	dir := t.TempDir()
	u, err := LoadOrCreateUUID(dir)
	if err != nil {
		t.Fatalf("first LoadOrCreateUUID: %v", err)
	}
	if u[6]>>4 != 4 || u[8]>>6 != 2 {
		t.Errorf("UUID %x: want version 4, variant 10", u)
	}
	b, err := os.ReadFile(filepath.Join(dir, "uuid"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`).Match(b) {
		t.Errorf("uuid file %q: want the lowercase text form and a newline", b)
	}
	fi, err := os.Stat(filepath.Join(dir, "uuid"))
	if err != nil || fi.Mode() != 0o600 {
		t.Errorf("uuid file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	again, err := LoadOrCreateUUID(dir)
	if err != nil || again != u {
		t.Errorf("second LoadOrCreateUUID = %x, %v; want the stored %x", again, err, u)
	}
	other, err := LoadOrCreateUUID(t.TempDir())
	if err != nil || other == u {
		t.Errorf("LoadOrCreateUUID in another directory = %x, %v; want a new random UUID", other, err)
	}
}

func TestLoadUUID(t *testing.T) {
	tests := []struct {
		name, content string
		want          [16]byte
		wantErr       bool
	}{
		{
			// As OpenBSD's get_uuid() writes it; not version 4, still ours.
			name:    "OpenBSD file",
			content: "0123abcd-4567-89ef-0123-456789abcdef\n",
			want:    [16]byte{0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
		},
		{
			name:    "upper case, no newline",
			content: "0123ABCD-4567-89EF-0123-456789ABCDEF",
			want:    [16]byte{0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
		},
		{name: "empty", content: "", wantErr: true},
		{name: "torn", content: "0123abcd-4567-89ef-01", wantErr: true},
		{name: "no hyphens", content: "0123abcd456789ef0123456789abcdef\n", wantErr: true},
		{name: "not hex", content: "0123abcd-4567-89ef-0123-456789abcdeg\n", wantErr: true},
		{name: "two lines", content: "0123abcd-4567-89ef-0123-456789abcdef\n\n", wantErr: true},
		{name: "huge", content: strings.Repeat("0", 1<<20), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "uuid")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateUUID(dir)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), path) {
					t.Errorf("LoadOrCreateUUID = %x, %v; want an error naming %s", got, err, path)
				}
				if b, _ := os.ReadFile(path); string(b) != tt.content {
					t.Error("LoadOrCreateUUID replaced a bad uuid file")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("LoadOrCreateUUID = %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

func TestLoadOrCreateLLTTime(t *testing.T) {
	dir := t.TempDir()
	first := time.Date(2026, 5, 1, 14, 0, 0, 500_000_000, time.FixedZone("CEST", 2*3600))
	got, err := LoadOrCreateLLTTime(dir, first)
	want := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err != nil || !got.Equal(want) {
		t.Fatalf("first LoadOrCreateLLTTime = %v, %v; want %v", got, err, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "duid-llt-time"))
	if err != nil || string(b) != "2026-05-01T12:00:00Z\n" {
		t.Errorf("duid-llt-time file = %q, %v; want %q", b, err, "2026-05-01T12:00:00Z\n")
	}
	got, err = LoadOrCreateLLTTime(dir, first.Add(48*time.Hour))
	if err != nil || !got.Equal(want) {
		t.Errorf("second LoadOrCreateLLTTime = %v, %v; want the stored %v", got, err, want)
	}

	path := filepath.Join(dir, "duid-llt-time")
	if err := os.WriteFile(path, []byte("2026-05-01T12:"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadOrCreateLLTTime(dir, first); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadOrCreateLLTTime of a torn file = %v, %v; want an error naming %s", got, err, path)
	}
}
