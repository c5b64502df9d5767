package mysqldialect

import "testing"

func TestParseProcStat(t *testing.T) {
	v, ok := parseProcStat("3799 (mari) adbd) S 1 3798 3798 0 -1 4194560 57827 0 4 0 2171 1902 0 0 20 0 33")
	if !ok || v != 40.73 {
		t.Errorf("parseProcStat = %v, %v; want 40.73, true", v, ok)
	}
	if _, ok := parseProcStat("garbage"); ok {
		t.Error("parseProcStat accepted garbage")
	}
}
