package mem_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return mem.New() })
}

func TestConformanceSmallLimit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mem.NewWithOptions(mem.Options{MaxValueSize: 1000})
	})
}

func TestMaxValueSize(t *testing.T) {
	tests := []struct {
		name string
		opts mem.Options
		want int
	}{
		{"default", mem.Options{}, mem.DefaultMaxValueSize},
		{"negative", mem.Options{MaxValueSize: -1}, mem.DefaultMaxValueSize},
		{"set", mem.Options{MaxValueSize: 10}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mem.NewWithOptions(tt.opts).MaxValueSize(); got != tt.want {
				t.Errorf("MaxValueSize: got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAfterClose(t *testing.T) {
	s := mem.New()
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
	for _, tt := range tests {
		if !errors.Is(tt.err, mem.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", tt.name, tt.err)
		}
	}
}
