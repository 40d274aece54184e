package mem_test

import (
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
	storetest.RunAfterClose(t, mem.New(), mem.ErrClosed)
}
