package folder

import (
	"fmt"
	"math"
	"strconv"
)

// LoadTwo reads the report folders (or results.json files) a and b with load, for a
// comparison of B with A.
func LoadTwo[R any](a, b string, load func(path string) (R, error)) (ra, rb R, err error) {
	if ra, err = load(Path(a)); err != nil {
		return ra, rb, err
	}
	rb, err = load(Path(b))
	return ra, rb, err
}

// Pair is a record of run A and a record of run B with the same key, for a comparison
// of two report folders. When only one run has the key, the other side is its zero value
// and InA or InB is false.
type Pair[T any] struct {
	Key      string
	A, B     T
	InA, InB bool
}

// Match pairs the records of a and b by key: each record of b, in order, with the first
// record of a that has its key, then the records of a whose key b lacks, in order.
func Match[T any](a, b []T, key func(T) string) []Pair[T] {
	inB := map[string]bool{}
	var out []Pair[T]
	for _, y := range b {
		p := Pair[T]{Key: key(y), B: y, InB: true}
		inB[p.Key] = true
		for _, x := range a {
			if key(x) == p.Key {
				p.A, p.InA = x, true
				break
			}
		}
		out = append(out, p)
	}
	for _, x := range a {
		if k := key(x); !inB[k] {
			out = append(out, Pair[T]{Key: k, A: x, InA: true})
		}
	}
	return out
}

// Ratio formats b/a as "1.23x", or "n/a" when a is zero: how B changed from A.
func Ratio(b, a float64) string {
	if a == 0 || math.IsNaN(b/a) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", b/a)
}

// Signed formats a change in a count with its sign: "+2", "-6", "0".
func Signed(d int) string {
	if d > 0 {
		return "+" + strconv.Itoa(d)
	}
	return strconv.Itoa(d)
}

// Millis formats a time in milliseconds for a table: two decimals below 100, none above.
func Millis(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
