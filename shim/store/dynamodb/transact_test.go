package dynamodb

import (
	"bytes"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

func TestTransact(t *testing.T) {
	s := openLocal(t)
	defer s.Close()
	ctx := t.Context()
	items := []store.Item{{Key: "d/a", Value: []byte("1")}, {Key: "d/b", Value: []byte("2")}}
	vals, err := s.Transact(ctx, items, []string{"d/b", "d/missing", "d/a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 3 || !bytes.Equal(vals[0], []byte("2")) || vals[1] != nil || !bytes.Equal(vals[2], []byte("1")) {
		t.Errorf("Transact read %q, want [2 <nil> 1]", vals)
	}
	if got, err := s.Get(ctx, "d/a"); err != nil || string(got) != "1" {
		t.Errorf("Get after Transact = %q, %v", got, err)
	}
}
