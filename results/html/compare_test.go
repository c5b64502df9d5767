package html

import (
	"bytes"
	"context"
	stdhtml "html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/results"
)

// comparisonPage renders the comparison of results' own BASE and HEAD
// fixtures (five repetitions a side) as bench compare --format html does.
func comparisonPageOf(t *testing.T) (*results.Comparison, string) {
	t.Helper()
	base, err := results.ReadRunFile("../testdata/compare-base.json")
	if err != nil {
		t.Fatal(err)
	}
	head, err := results.ReadRunFile("../testdata/compare-head.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := results.Compare(base, head, results.CompareOptions{BaseLabel: "base.json", HeadLabel: "head.json"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteComparison(&b, c); err != nil {
		t.Fatal(err)
	}
	return c, b.String()
}

// TestComparisonPageSelfContained: the comparison page fetches nothing,
// forbids fetching, has one chart per compared metric and the full text
// of the comparison (every row with its p-value).
func TestComparisonPageSelfContained(t *testing.T) {
	c, page := comparisonPageOf(t)
	for _, bad := range []string{"src=", "href=", "url(", "@import", "http://", "https://"} {
		if i := strings.Index(page, bad); i >= 0 && !strings.Contains(page[max(0, i-40):i], "xmlns") {
			t.Errorf("page contains %q: ...%s...", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	if !strings.Contains(page, `content="default-src 'none'`) {
		t.Error("no Content-Security-Policy forbidding fetches")
	}
	metrics := map[string]bool{}
	for _, ch := range c.Rows {
		metrics[ch.Metric] = true
	}
	if len(metrics) < 2 {
		t.Fatalf("the fixtures compare %d metrics, want several", len(metrics))
	}
	for m := range metrics {
		if n := strings.Count(page, `<figure data-chart="`+m+`">`); n != 1 {
			t.Errorf("%d charts of %s, want 1", n, m)
		}
	}
	var text bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	shown := stdhtml.UnescapeString(page)
	for _, line := range strings.Split(strings.TrimSpace(text.String()), "\n") {
		if l := strings.TrimSpace(line); strings.Contains(l, "p=") && !strings.Contains(shown, l) {
			t.Errorf("the page lacks the row %q", l)
		}
	}
}

// TestComparisonInChromium opens the comparison page offline in headless
// Chromium: no request but the page, no console error, and every chart
// visible with ink in its box and BASE and HEAD in its legend.
func TestComparisonInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startBrowser(t, ctx)
	_, page := comparisonPageOf(t)
	path := filepath.Join(t.TempDir(), "compare.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + path
	v, err := b.open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range v.requests {
		if u != url {
			t.Errorf("the page asked for %s", u)
		}
	}
	if len(v.console) > 0 {
		t.Errorf("console errors: %q", v.console)
	}
	var boxes []box
	if err := b.eval(ctx, v, visibleCharts, &boxes); err != nil {
		t.Fatal(err)
	}
	img, err := b.screenshot(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) == 0 {
		t.Fatal("no chart visible")
	}
	for _, bx := range boxes {
		if f := inked(img, bx); f < 0.01 {
			t.Errorf("%s chart is blank in the screenshot (%.2f%% inked)", bx.Kind, 100*f)
		}
		for _, label := range []string{"BASE", "HEAD", "relative to BASE"} {
			if !strings.Contains(bx.Text, label) {
				t.Errorf("%s chart lacks %q: %s", bx.Kind, label, bx.Text)
			}
		}
	}
}
