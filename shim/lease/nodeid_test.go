package lease

import (
	"strings"
	"testing"
)

// A data directory gives one identity, to one process at a time, across restarts.
func TestNodeID(t *testing.T) {
	dir := t.TempDir() + "/new"
	id, release, err := NodeID(dir)
	if err != nil || CheckNodeID(id) != nil {
		t.Fatalf("NodeID = %q, %v", id, err)
	}
	if _, _, err := NodeID(dir); err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), id) {
		t.Errorf("second holder of one data dir: %v, want refused naming %s", err, id)
	}
	release()
	again, release2, err := NodeID(dir)
	if err != nil || again != id {
		t.Errorf("after release: %q, %v; want %q again", again, err, id)
	}
	release2()
}

func TestCheckNodeID(t *testing.T) {
	for id, ok := range map[string]bool{"node-1": true, "10.0.0.1:7654": true, "": false, "a b": false, "é": false, strings.Repeat("x", 129): false} {
		if err := CheckNodeID(id); (err == nil) != ok {
			t.Errorf("CheckNodeID(%q) = %v, want ok %v", id, err, ok)
		}
	}
}
