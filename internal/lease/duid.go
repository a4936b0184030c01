package lease

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names of the DUID state files in the state directory (docs/FILES.md).
const (
	uuidFile    = "uuid"
	lltTimeFile = "duid-llt-time"
)

// maxStateFile bounds what is read from the small state files: both hold one
// short line.
const maxStateFile = 64

// LoadOrCreateUUID returns the UUID of the client's DUID-UUID (RFC 6355),
// kept in the file "uuid" in dir. The first call creates it: a random
// version 4 UUID (RFC 9562 section 5.4), written atomically in the text form
// OpenBSD dhcp6leased uses (lowercase, hyphenated, newline), so an OpenBSD
// router's uuid file can be copied over to keep its DUID. A file that is not
// a UUID is an error naming the path, never silently replaced: replacing it
// would change the DUID, and the server would hand out new prefixes.
func LoadOrCreateUUID(dir string) ([16]byte, error) {
	path := filepath.Join(dir, uuidFile)
	s, err := readStateFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var u [16]byte
		// crypto/rand.Read never fails (Go >= 1.24).
		rand.Read(u[:])
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562 section 4.1)
		if err := writeAtomic(path, []byte(formatUUID(u)+"\n")); err != nil {
			return [16]byte{}, fmt.Errorf("create DUID UUID: %w", err)
		}
		return u, nil
	}
	if err != nil {
		return [16]byte{}, err
	}
	u, err := parseUUID(s)
	if err != nil {
		return [16]byte{}, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// LoadOrCreateLLTTime returns the time field of the client's DUID-LLT
// (RFC 8415 section 11.2), kept in the file "duid-llt-time" in dir as an
// RFC 3339 UTC line. The first call stores now (to the second). The time must
// persist: a DUID-LLT made with a new time is a new DUID.
func LoadOrCreateLLTTime(dir string, now time.Time) (time.Time, error) {
	path := filepath.Join(dir, lltTimeFile)
	s, err := readStateFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t := now.UTC().Truncate(time.Second)
		if t.Year() < 0 || t.Year() > 9999 {
			return time.Time{}, fmt.Errorf("create DUID-LLT time: %v outside RFC 3339", t)
		}
		if err := writeAtomic(path, []byte(t.Format(time.RFC3339)+"\n")); err != nil {
			return time.Time{}, fmt.Errorf("create DUID-LLT time: %w", err)
		}
		return t, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSuffix(s, "\n"))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: not an RFC 3339 time: %w", path, err)
	}
	return t.UTC().Truncate(time.Second), nil
}

// readStateFile returns the content of a small state file. A missing file is
// an error matching fs.ErrNotExist.
func readStateFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxStateFile {
		return "", fmt.Errorf("%s: longer than %d bytes", path, maxStateFile)
	}
	return string(b), nil
}

// parseUUID parses the text form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx with an
// optional trailing newline.
func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	s = strings.TrimSuffix(s, "\n")
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("%q is not a UUID", s)
	}
	digits := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(digits)); err != nil {
		return [16]byte{}, fmt.Errorf("%q is not a UUID: %w", s, err)
	}
	return u, nil
}

func formatUUID(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
