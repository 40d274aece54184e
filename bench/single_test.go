package bench

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSingleRounds: a single run with rounds runs each mode once a round, interleaved, and
// ends with the median ratios; each run says what it cost per transaction.
func TestSingleRounds(t *testing.T) {
	var out bytes.Buffer
	c := Config{Options: Options{Shape: PaperShape, Clients: 2, Txns: 30, ProgressEvery: time.Hour},
		Direct: true, Batches: true, Rounds: 2, NoSync: true, DataDir: t.TempDir(), Stdout: &out}
	if err := Execute(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"round 1 of 2\n", "round 2 of 2\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in:\n%s", want, s)
		}
	}
	for re, n := range map[string]int{
		`(?m)^aft over HTTP: +30 txns`:                                           2,
		`(?m)^aft in batches \(begin with ops, commit\): +30 txns`:               2,
		`(?m)^same work on the store: +30 txns`:                                  2,
		`(?m)^ +per txn: this process \d+ µs CPU, \d+ allocs$`:                   6,
		`(?m)^median of 2 rounds, ratio aft/store: throughput [\d.]+x \([\d.]+-`: 1,
		`(?m)^median of 2 rounds, ratio aft in batches/store: throughput `:       1,
	} {
		if got := len(regexp.MustCompile(re).FindAllString(s, -1)); got != n {
			t.Errorf("%d lines match %s, want %d, in:\n%s", got, re, n, s)
		}
	}
}
