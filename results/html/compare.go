package html

import (
	"bytes"
	"errors"
	"html/template"
	"io"

	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/results/charts"
)

// WriteComparison writes c as one self-contained page: for every metric a
// chart of BASE and HEAD overlaid with their confidence intervals, then
// the comparison's full text (every row, its p-value and verdict).
func WriteComparison(w io.Writer, c *results.Comparison) error {
	page := comparisonPage{C: c}
	for _, metric := range charts.ComparisonMetrics(c) {
		ch, err := charts.Comparison(c, metric)
		if errors.Is(err, charts.ErrNoData) {
			continue
		}
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := ch.Write(&b, "svg"); err != nil {
			return err
		}
		page.Charts = append(page.Charts, chartData{Kind: metric, SVG: inline(b.String())})
	}
	var text bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		return err
	}
	page.Text = text.String()
	var b bytes.Buffer
	if err := compareTmpl.Execute(&b, page); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

type comparisonPage struct {
	C      *results.Comparison
	Charts []chartData
	Text   string
}

var compareTmpl = template.Must(template.New("compare").Funcs(template.FuncMap{
	"svg": func(s string) template.HTML { return template.HTML(s) }, // drawn by gonum from the comparison's figures; text is escaped by the SVG writer
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>bench compare: {{.C.Base}} → {{.C.Head}}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em auto;max-width:1000px;padding:0 1em;color:#111}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
.warn{background:#fee;border:1px solid #c00;padding:.5em}
svg.chart{display:block;max-width:100%;height:auto;margin:.5em 0}
pre{font-size:12px;overflow-x:auto;background:#f7f7f7;padding:.5em}
</style></head><body>
<h1>bench compare</h1>
<p><b>BASE</b> {{.C.Base}}: {{.C.BaseSummary}}<br><b>HEAD</b> {{.C.Head}}: {{.C.HeadSummary}}</p>
{{range .C.Warnings}}<p class="warn">{{.}}</p>{{end}}
{{range .Charts}}<figure data-chart="{{.Kind}}">{{svg .SVG}}</figure>
{{end}}
<h2>Every figure</h2>
<pre>{{.Text}}</pre>
</body></html>
`))
