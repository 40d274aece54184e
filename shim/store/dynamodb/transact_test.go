package dynamodb

import (
	"bytes"
	"testing"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/store/mem"
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

// TestTransactRepeats checks that keys written or read twice in one transaction (which
// DynamoDB refuses) are sent once: the last value written, each read answered.
func TestTransactRepeats(t *testing.T) {
	s := openLocal(t)
	defer s.Close()
	items := []store.Item{{Key: "d/a", Value: []byte("1")}, {Key: "d/b", Value: []byte("2")}, {Key: "d/a", Value: []byte("3")}}
	vals, err := s.Transact(t.Context(), items, []string{"d/a", "d/b", "d/a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 3 || string(vals[0]) != "3" || string(vals[1]) != "2" || string(vals[2]) != "3" {
		t.Errorf("Transact read %q, want [3 2 3]", vals)
	}
}

func TestOf(t *testing.T) {
	s := &Store{}
	wrapped, _ := faults.Wrap(s, faults.Options{})
	twice, _ := faults.Wrap(wrapped, faults.Options{})
	for _, c := range []struct {
		name string
		st   store.Store
		want *Store
	}{
		{"itself", s, s},
		{"wrapped", wrapped, s},
		{"wrapped twice", twice, s},
		{"another store", mem.New(), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Of(c.st); got != c.want {
				t.Errorf("Of = %p, want %p", got, c.want)
			}
		})
	}
}
