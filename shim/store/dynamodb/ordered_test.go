package dynamodb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aft-shim/aft/shim/store"
)

// TestListOrderedPrefix: the directories under l/ are partitions of their own, and List
// of an l/ prefix still finds every key under it, subdirectories included, while
// ListAfter of a directory sees only the keys directly in it.
func TestListOrderedPrefix(t *testing.T) {
	s := openLocal(t)
	defer s.Close()
	ctx := t.Context()
	keys := []string{"l/1/a", "l/1/b", "l/1/sub/c", "l/2/a", "l/x"}
	var items []store.Item
	for _, k := range append(slices.Clone(keys), "v/l/1/a", "r/l") {
		items = append(items, store.Item{Key: k, Value: []byte{}})
	}
	if err := s.Put(ctx, items); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"l/", keys},
		{"l/1/", []string{"l/1/a", "l/1/b", "l/1/sub/c"}},
		{"l/1/s", []string{"l/1/sub/c"}},
		{"l/2", []string{"l/2/a"}},
		{"l", keys},
	}
	for _, tt := range tests {
		var got []string
		if err := s.List(ctx, tt.prefix, false, func(key string, _ []byte) error {
			got = append(got, key)
			return nil
		}); err != nil {
			t.Fatalf("List %q: %v", tt.prefix, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("List %q = %q, want %q", tt.prefix, got, tt.want)
		}
	}
	var got []string
	if err := s.ListAfter(ctx, "l/1/", "", 10, func(key string) error {
		got = append(got, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"l/1/a", "l/1/b"}; !slices.Equal(got, want) {
		t.Errorf("ListAfter l/1/ = %q, want %q (not the subdirectory's key)", got, want)
	}
}

// TestListAfterBadArguments: arguments outside the contract are errors that say so,
// not silently empty listings.
func TestListAfterBadArguments(t *testing.T) {
	s := newStore(stuckAPI{}, "unused") // no call may reach the table
	tests := []struct {
		dir   string
		limit int
		want  string
	}{
		{"v/1/", 10, "not a directory of the commit log"},
		{"l/1", 10, "not a directory of the commit log"},
		{"l/" + strings.Repeat("d", maxKeyLen) + "/", 10, "limit 512"},
		{"l/1/", 0, "limit 0, want at least 1"},
		{"l/1/", -1, "limit -1"},
	}
	for _, tt := range tests {
		err := s.ListAfter(t.Context(), tt.dir, "", tt.limit, func(string) error {
			t.Errorf("ListAfter(%.10q, %d) called fn", tt.dir, tt.limit)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ListAfter(%.10q, %d) = %v, want an error saying %q", tt.dir, tt.limit, err, tt.want)
		}
	}
}

// smallPagesAPI answers Queries in pages of at most 3 items, as DynamoDB does when a
// page reaches 1 MB.
type smallPagesAPI struct {
	api
	queries int
}

func (p *smallPagesAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	p.queries++
	in.Limit = aws.Int32(min(aws.ToInt32(in.Limit), 3))
	return p.api.Query(ctx, in, optFns...)
}

// TestListAfterPages: ListAfter goes on from page to page until its limit or the end.
func TestListAfterPages(t *testing.T) {
	s := openLocal(t)
	defer s.Close()
	ctx := t.Context()
	var keys []string
	var items []store.Item
	for i := range 20 {
		k := fmt.Sprintf("l/7/%02d", i)
		keys = append(keys, k)
		items = append(items, store.Item{Key: k, Value: []byte{}})
	}
	if err := s.Put(ctx, items); err != nil {
		t.Fatal(err)
	}
	pages := &smallPagesAPI{api: s.c}
	s.c = pages
	tests := []struct {
		after   string
		limit   int
		want    []string
		queries int
	}{
		{"", 15, keys[:15], 5},        // stops at the limit, without asking for more
		{"", 100, keys, 7},            // six full pages, then a last one of 2
		{keys[4], 4, keys[5:9], 2},    // 3, then the 1 left to the limit
		{"l/7/04~", 100, keys[5:], 6}, // five full pages, then an empty one: a full page ends with a LastEvaluatedKey
	}
	for _, tt := range tests {
		pages.queries = 0
		var got []string
		if err := s.ListAfter(ctx, "l/7/", tt.after, tt.limit, func(key string) error {
			got = append(got, key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ListAfter(%q, %d) = %q, want %q", tt.after, tt.limit, got, tt.want)
		}
		if pages.queries != tt.queries {
			t.Errorf("ListAfter(%q, %d): %d Queries, want %d", tt.after, tt.limit, pages.queries, tt.queries)
		}
	}
}
