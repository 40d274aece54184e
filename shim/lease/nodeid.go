package lease

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NodeIDFile is the file in a node's data directory that keeps its identity.
const NodeIDFile = "node-id"

// maxNodeID bounds a node identity.
const maxNodeID = 128

// CheckNodeID returns an error unless id is a usable node identity: 1..128 printable ASCII
// characters without spaces.
func CheckNodeID(id string) error {
	if len(id) == 0 || len(id) > maxNodeID {
		return fmt.Errorf("node id %q: want 1..%d characters", id, maxNodeID)
	}
	for _, c := range id {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("node id %q: character %q not allowed (want printable ASCII without spaces)", id, c)
		}
	}
	return nil
}

// NodeID returns the identity kept in dir/node-id, made (random) and written the first time,
// and holds the file locked until release is called or the process ends (a kill -9
// included), so that two processes on one directory never share an identity: the second
// gets an error saying the directory is in use. dir is created if missing.
func NodeID(dir string) (id string, release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("node id: %w", err)
	}
	path := filepath.Join(dir, NodeIDFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("node id: %w", err)
	}
	b, _ := os.ReadFile(path)
	id = strings.TrimSpace(string(b))
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return "", nil, fmt.Errorf("data dir %s is in use by another process (aft serve, node %q): give each node a data dir of its own, or a --node-id", dir, id)
		}
		return "", nil, fmt.Errorf("node id: lock %s: %w", path, err)
	}
	if id == "" {
		id = instanceID()
		if _, err := f.WriteAt([]byte(id+"\n"), 0); err != nil {
			f.Close()
			return "", nil, fmt.Errorf("node id: write %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return "", nil, fmt.Errorf("node id: write %s: %w", path, err)
		}
	} else if err := CheckNodeID(id); err != nil {
		f.Close()
		return "", nil, fmt.Errorf("%s: %w (remove the file to get a new identity)", path, err)
	}
	return id, func() { f.Close() }, nil
}

// instanceID returns 16 random hex digits.
func instanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
