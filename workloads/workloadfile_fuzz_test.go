package workloads

import (
	"errors"
	"testing"
)

// FuzzParseWorkloadFile checks ParseWorkloadFile on any bytes: no panic,
// every error is a workload-file error (errors.Is ErrWorkloadFile) naming
// the file, and parsing is deterministic.
func FuzzParseWorkloadFile(f *testing.F) {
	for _, s := range []string{
		"mix: roundtrip:80,polling:20\nresult_size: 64\n",
		"mix:\n  roundtrip: 3\n  group: 1\nresult_size: 16-1024\n",
		"mix: roundtrip\nmix: polling\n",
		"- a\n- b\n", "", "{", "mix: [1, 2]\n", "result_size: -1\n", "mix: roundtrip:0\n", "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wf, err := ParseWorkloadFile("w.yaml", data)
		_, err2 := ParseWorkloadFile("w.yaml", data)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("%q: parsed once (%v), refused once (%v)", data, err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrWorkloadFile) {
				t.Fatalf("%q: error %v is not an ErrWorkloadFile", data, err)
			}
			if len(err.Error()) < len("w.yaml") || err.Error()[:len("w.yaml")] != "w.yaml" {
				t.Fatalf("%q: error %q does not name the file", data, err)
			}
			return
		}
		if wf == nil || wf.Path != "w.yaml" {
			t.Fatalf("%q: accepted as %+v", data, wf)
		}
	})
}
