package workloads

import (
	"fmt"
	"slices"
)

// An app is one small application whose invariant a person sees at once. A request of it
// updates a few keys of its stream; the keys one function updates are a part, and in a
// composition the first function updates its part and calls the second for the rest.
type app struct {
	name      string
	invariant string
	// parts returns the updates of request i: per function, the keys (relative to the
	// stream) and what each adds to the key's number.
	parts func(i int) []part
	// extra returns the key a function of request i reads without writing it (a
	// catalogue, a profile): the paper's shape reads twice per write.
	extra func(i int) string
	// keys are all the keys of a stream, for readers.
	keys []string
	// fns names the functions: fns[0] runs a whole request, or the first part of a
	// composition; fns[1] the second part.
	fns [2]string
}

// part is the share of one function in a request.
type part struct {
	keys  []string
	delta []int64
}

// apps are the applications every scenario runs, one stream or more each.
var apps = []app{
	{
		name:      "counters",
		invariant: "each request is counted exactly once, in the total and in its bucket",
		parts: func(i int) []part {
			return []part{{keys: []string{"total"}, delta: []int64{1}}, {keys: []string{fmt.Sprintf("bucket-%d", i%2)}, delta: []int64{1}}}
		},
		extra: func(int) string { return "config" },
		keys:  []string{"total", "bucket-0", "bucket-1"},
		fns:   [2]string{"count", "count-bucket"},
	},
	{
		name:      "social",
		invariant: "follow edges are symmetric: x follows y exactly when y has follower x",
		parts: func(i int) []part {
			x, y := i%3, (i+1)%3
			return []part{{keys: []string{fmt.Sprintf("following/u%d", x)}, delta: []int64{1}},
				{keys: []string{fmt.Sprintf("followers/u%d", y)}, delta: []int64{1}}}
		},
		extra: func(i int) string { return fmt.Sprintf("profile/u%d", (i+1)%3) },
		keys:  []string{"following/u0", "following/u1", "following/u2", "followers/u0", "followers/u1", "followers/u2"},
		fns:   [2]string{"follow", "add-follower"},
	},
	{
		name:      "orders",
		invariant: "an order is recorded, its stock reserved and its payment charged together, once, or not at all",
		parts: func(int) []part {
			return []part{{keys: []string{"orders", "stock"}, delta: []int64{1, -1}}, {keys: []string{"wallet"}, delta: []int64{-5}}}
		},
		extra: func(int) string { return "catalog" },
		keys:  []string{"orders", "stock", "wallet"},
		fns:   [2]string{"order", "payment"},
	},
}

// whole returns the parts of request i as one function runs them.
func (a app) whole(i int) part {
	var p part
	for _, q := range a.parts(i) {
		p.keys = append(p.keys, q.keys...)
		p.delta = append(p.delta, q.delta...)
	}
	return p
}

// functions returns the names of the functions a run deploys for the apps.
func functions(compose bool) []string {
	var fns []string
	for _, a := range apps {
		fns = append(fns, a.fns[0])
		if compose {
			fns = append(fns, a.fns[1])
		}
	}
	return slices.Clip(fns)
}
