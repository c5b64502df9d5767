package html

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/celery-bench/bench/results"
)

func readRun(t *testing.T, path string) *results.Run {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := results.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPageSelfContained checks the page's text: nothing it could fetch
// (no src, href or url() pointing anywhere), a CSP that forbids fetching,
// one section per op and every op in the <select>.
func TestPageSelfContained(t *testing.T) {
	r := readRun(t, "../testdata/memory.json")
	var b bytes.Buffer
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"src=", "href=", "url(", "@import", "http://", "https://"} {
		if i := strings.Index(page, bad); i >= 0 && !strings.Contains(page[max(0, i-40):i], "xmlns") {
			t.Errorf("page contains %q: ...%s...", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	if !strings.Contains(page, `content="default-src 'none'`) {
		t.Error("no Content-Security-Policy forbidding fetches")
	}
	for _, o := range r.Results[0].Ops {
		if !strings.Contains(page, `<option value="`+o.Name+`">`) || !strings.Contains(page, `data-op="`+o.Name+`"`) {
			t.Errorf("op %s missing from the select or the sections", o.Name)
		}
	}
	if strings.Contains(page, "<?xml") {
		t.Error("an SVG kept its XML declaration")
	}
}
