package py

import (
	"fmt"
	"testing"
)

// TestDictBuilder checks Python's assignment order below and above the
// size at which keys get an index: a repeated key keeps its first place
// and takes the last value.
func TestDictBuilder(t *testing.T) {
	for _, n := range []int{3, dictIndexAt, 3 * dictIndexAt} {
		var b DictBuilder
		for i := 0; i < n; i++ {
			b.Set(fmt.Sprint("k", i), i)
		}
		b.Set("k1", "again")
		b.Set("k0", "last")
		if len(b.Dict) != n {
			t.Fatalf("n=%d: %d items", n, len(b.Dict))
		}
		for i, it := range b.Dict {
			want := any(i)
			switch i {
			case 0:
				want = "last"
			case 1:
				want = "again"
			}
			if it.Key != fmt.Sprint("k", i) || it.Value != want {
				t.Errorf("n=%d: item %d = %v, want k%d: %v", n, i, it, i, want)
			}
		}
	}
}
