package s3_test

import (
	"slices"
	"testing"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/s3"
)

// The shim's commit log keys and cursors (record.LogKey, record.LogAfter) list in order:
// from a cursor at stamp s, exactly the keys of stamps >= s.
func TestLogCursorFake(t *testing.T) {
	st := openAt(t, startFake(t), s3.Options{Bucket: freshBucket(t.Name()), Prefix: "aft/", Create: true})
	defer st.Close()
	const base = 1_700_000_000_000_000_000
	var keys []string
	for i := range 20 {
		k := record.LogKey(base+uint64(i)*1000, "0123456789abcdef0123456789abcdef", map[bool]string{true: "idem", false: ""}[i%2 == 0])
		keys = append(keys, k)
		if err := st.Put(t.Context(), []store.Item{{Key: k}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range []int{0, 1, 7, 19} {
		var got []string
		err := st.ListAfter(t.Context(), record.LogDir(base), record.LogAfter(base+uint64(from)*1000), 100, func(k string) error {
			got = append(got, k)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, keys[from:]) {
			t.Errorf("from stamp %d: listed %d keys %q, want the %d from it", from, len(got), got, len(keys)-from)
		}
	}
}
