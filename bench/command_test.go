package bench

import "testing"

func TestCommandLineHidesSecrets(t *testing.T) {
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"bench", "--store", "redis://:pw@h/0?prefix=a", "--quick"}, "aft bench --store 'redis://:xxxxx@h/0?prefix=a' --quick"},
		{[]string{"bench", "--store=redis://u:pw@h"}, "aft bench --store=redis://u:xxxxx@h"},
		{[]string{"workloads", "--note", "a b"}, "aft workloads --note 'a b'"},
	} {
		if got := CommandLine(c.words...); got != c.want {
			t.Errorf("CommandLine(%q) = %q, want %q", c.words, got, c.want)
		}
	}
}
