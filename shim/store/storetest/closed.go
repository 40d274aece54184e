package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

// RunAfterClose checks that every method of a closed store returns an error wrapping
// closedErr instead of panicking. The interface forbids such calls; backends that answer
// them anyway (both of ours) check it with this.
func RunAfterClose(t *testing.T, s store.Store, closedErr error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Put(ctx, []store.Item{{Key: "k", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, getErr := s.Get(ctx, "k")
	tests := []struct {
		name string
		err  error
	}{
		{"Get", getErr},
		{"Put", s.Put(ctx, []store.Item{{Key: "k", Value: nil}})},
		{"Create", s.Create(ctx, "n", nil)},
		{"Delete", s.Delete(ctx, []string{"k"})},
		{"List", s.List(ctx, "", false, func(string, []byte) error { return nil })},
		{"Close", s.Close()},
	}
	if c, ok := s.(store.Committer); ok {
		tests = append(tests, struct {
			name string
			err  error
		}{"PutCreate", c.PutCreate(ctx, nil, "p", nil)})
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, closedErr) {
			t.Errorf("%s after Close: got %v, want %v", tt.name, tt.err, closedErr)
		}
	}
}
