package sdk_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/shimtest"
)

func TestGetManyPutMany(t *testing.T) {
	shimURL, c := shimtest.Start(t)
	shimtest.Seed(t, c, "a", "1", "b", "2")
	id, h := begin(t, c, shimURL)
	tx, err := sdk.FromHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tx.GetMany(ctx, "a", "b", "missing")
	if err != nil || len(got) != 2 || string(got["a"]) != "1" || string(got["b"]) != "2" {
		t.Fatalf("GetMany = %q, %v; want a=1 b=2 and no missing", got, err)
	}
	// More keys than one batch holds: the SDK splits them.
	kv := map[string][]byte{"a": []byte("10"), "empty": {}}
	for i := range api.MaxBatchOps + 5 {
		kv[fmt.Sprintf("k%04d", i)] = []byte(fmt.Sprint(i))
	}
	if err := tx.PutMany(ctx, kv); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "empty", "k0000", fmt.Sprintf("k%04d", api.MaxBatchOps+4)}
	for i := range api.MaxBatchOps {
		keys = append(keys, fmt.Sprintf("k%04d", i))
	}
	got, err = tx.GetMany(ctx, keys...)
	if err != nil || string(got["a"]) != "10" || got["empty"] == nil || len(got["empty"]) != 0 ||
		string(got[fmt.Sprintf("k%04d", api.MaxBatchOps+4)]) != fmt.Sprint(api.MaxBatchOps+4) {
		t.Fatalf("GetMany of own writes = %d keys, %v", len(got), err)
	}
	commit(t, c, id)
	shimtest.Want(t, c, map[string]string{"a": "10", "k0999": "999", "empty": ""}, "missing")
	if _, err := tx.GetMany(ctx, "a"); !errors.Is(err, client.ErrCommitted) {
		t.Errorf("GetMany after commit: %v, want ErrCommitted", err)
	}
	if err := tx.PutMany(ctx, map[string][]byte{"": nil}); err == nil {
		t.Error("PutMany of an empty key: no error")
	}
}
