package parent

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestLookupSocketGroup(t *testing.T) {
	if g, err := lookupSocketGroup("root"); err != nil || g.gid != 0 {
		t.Errorf("root: %+v, %v; want gid 0", g, err)
	}
	if g, err := lookupSocketGroup("no_such_group_x"); err == nil {
		t.Errorf("no_such_group_x: %+v; want an error", g)
	}
}

// TestListenControlGroup: the socket is created with the group and mode
// 0660, and the fsgid does not stay on: a file made afterwards is root's
// group again.
func TestListenControlGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setfsgid needs root (CAP_SETGID)")
	}
	dir := t.TempDir()
	const gid = 65534
	sock := filepath.Join(dir, "ctl.sock")
	f, err := listenControl(sock, socketGroup{name: "nogroup", gid: gid})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for range 20 { // on whichever threads the goroutines land
		if err := withFSGID(-1, func() error { return os.WriteFile(filepath.Join(dir, "after"), nil, 0o600) }); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, "after"), &st); err != nil || st.Gid != 0 {
			t.Fatalf("a file created after the socket: gid %d, %v; want 0", st.Gid, err)
		}
		os.Remove(filepath.Join(dir, "after"))
	}
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err != nil || st.Gid != gid || st.Uid != 0 || st.Mode&0o7777 != 0o660 {
		t.Errorf("socket: uid %d gid %d mode %o, %v; want root, %d, 0660", st.Uid, st.Gid, st.Mode&0o7777, err, gid)
	}
}
