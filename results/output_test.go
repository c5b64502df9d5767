package results

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestEveryFormatGolden renders a fixed run file, and a comparison of two
// fixed run files, in every registered format that renders them, and
// compares each with its golden file: a new format is tested by
// registering it (and running go test -update once to write its golden).
func TestEveryFormatGolden(t *testing.T) {
	run, err := ReadRunFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	base, err := ReadRunFile("testdata/compare-base.json")
	if err != nil {
		t.Fatal(err)
	}
	head, err := ReadRunFile("testdata/compare-head.json")
	if err != nil {
		t.Fatal(err)
	}
	cmp, err := Compare(base, head, CompareOptions{BaseLabel: "base.json", HeadLabel: "head.json"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range AllFormats() {
		if f.Run != nil {
			n++
			check(t, "format-"+f.Name+".golden", func(b *bytes.Buffer) error { return f.Run(b, run) })
		}
		if f.Compare != nil {
			n++
			check(t, "compare-"+f.Name+".golden", func(b *bytes.Buffer) error { return f.Compare(b, cmp) })
		}
	}
	if n < 6 {
		t.Errorf("only %d renderings: formats are missing from the registry", n)
	}
}

func check(t *testing.T, name string, render func(*bytes.Buffer) error) {
	t.Helper()
	var b bytes.Buffer
	if err := render(&b); err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if b.Len() == 0 {
		t.Errorf("%s: rendered nothing", name)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("%s differs from its golden file:\n--- got:\n%s\n--- want:\n%s", name, b.Bytes(), want)
	}
}
