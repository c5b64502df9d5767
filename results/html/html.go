// Package html writes a run as one self-contained HTML page: every chart of
// package charts as inline SVG, a <select> of the op to show, the side by
// side figures per backend, and the run's settings and versions. The page
// needs no network: no external stylesheet, script, font or image, and its
// only script is the few lines that switch the op.
package html

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/results/charts"
)

func init() {
	results.RegisterFormat(results.Format{Name: "html", Run: Write, Compare: WriteComparison,
		Description: "one self-contained page with every chart, for a browser (no network request)"})
}

// Write writes r as an HTML page to w.
func Write(w io.Writer, r *results.Run) error {
	page := pageData{Run: r, Summary: r.Summary, Embedded: r.Embedded(), Warning: results.EmbeddedWarning}
	ops := charts.OpNames(r)
	if len(ops) == 0 {
		return errors.New("the run has no ops to show")
	}
	for _, op := range ops {
		od := opData{Name: op}
		for _, kind := range []string{"percentiles", "timeline", "sweep", "reps"} {
			svg, err := chartSVG(r, kind, op)
			if err != nil {
				return err
			}
			if svg != "" {
				od.Charts = append(od.Charts, chartData{Kind: kind, SVG: svg})
			}
		}
		od.Table = opTable(r, op)
		page.Ops = append(page.Ops, od)
	}
	cost, err := chartSVG(r, "cost", "")
	if err != nil {
		return err
	}
	page.Cost = cost
	for _, res := range r.Results {
		if res.Rep == 0 {
			page.Servers = append(page.Servers, serverData{Backend: res.Backend, Level: res.Level, Server: res.Server.String(), Notes: res.Caveats()})
		}
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, page); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// chartSVG returns the chart as inline SVG, "" when the run has nothing
// for it.
func chartSVG(r *results.Run, kind, op string) (string, error) {
	c, err := charts.Make(r, kind, op)
	if errors.Is(err, charts.ErrNoData) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := c.Write(&b, "svg"); err != nil {
		return "", err
	}
	return inline(b.String()), nil
}

var (
	xmlHead = regexp.MustCompile(`(?s)^<\?xml[^>]*>\s*(<!--.*?-->\s*)?`)
	svgSize = regexp.MustCompile(`<svg width="([0-9.]+)pt" height="([0-9.]+)pt"`)
)

// inline makes an SVG document an inline <svg> element sized in pixels
// (96 dpi) that shrinks with the page.
func inline(svg string) string {
	svg = xmlHead.ReplaceAllString(svg, "")
	return svgSize.ReplaceAllStringFunc(svg, func(m string) string {
		p := svgSize.FindStringSubmatch(m)
		w, _ := strconv.ParseFloat(p[1], 64)
		h, _ := strconv.ParseFloat(p[2], 64)
		return fmt.Sprintf(`<svg class="chart" width="%.0f" height="%.0f" preserveAspectRatio="xMinYMin meet"`, w*4/3, h*4/3)
	})
}

type pageData struct {
	Run      *results.Run
	Summary  string
	Embedded bool
	Warning  string
	Ops      []opData
	Cost     string
	Servers  []serverData
}

type opData struct {
	Name   string
	Charts []chartData
	Table  tableData
}

type chartData struct {
	Kind string
	SVG  string
}

type serverData struct {
	Backend, Level, Server string
	Notes                  []string
}

type tableData struct {
	Head []string
	Rows [][]string
}

// opTable is op's figures with a column per result (repetitions
// combined), the figures of the text format as rows.
func opTable(r *results.Run, op string) tableData {
	rs := r.Combine()
	t := tableData{Head: []string{op}}
	rows := [][]string{{"count"}, {"per s"}, {"mean"}, {"p50"}, {"p90"}, {"p99"}, {"p99.9"}, {"max"}, {"errors"}}
	for i := range rs {
		o, ok := rs[i].Op(op)
		if !ok {
			continue
		}
		t.Head = append(t.Head, charts.Label(rs, i))
		s := results.Summarize(o.Latency)
		cells := []string{results.Count(o.Count()), results.Rate(o.Rate(rs[i].Elapsed())), "-", "-", "-", "-", "-", "-", results.Count(o.Errors)}
		if o.Count() > 0 {
			for j, v := range []int64{int64(s.Mean), s.P50, s.P90, s.P99, s.P999, s.Max} {
				cells[2+j] = results.Nanos(v)
			}
		}
		for j := range rows {
			rows[j] = append(rows[j], cells[j])
		}
	}
	t.Rows = rows
	return t
}

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"svg":  func(s string) template.HTML { return template.HTML(s) }, // drawn by gonum from the run's figures; text is escaped by the SVG writer
	"join": strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>bench report: {{.Summary}}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em auto;max-width:1000px;padding:0 1em;color:#111}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
.warn{background:#fee;border:1px solid #c00;padding:.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}td{text-align:right}td:first-child,th:first-child{text-align:left}
table.settings td{text-align:left}
svg.chart{display:block;max-width:100%;height:auto;margin:.5em 0}
.op[hidden]{display:none}
select{font-size:1em}
</style></head><body>
<h1>bench report</h1>
<p>{{.Summary}}</p>
{{if .Run.Interrupt}}<p class="warn">Interrupted: {{.Run.Interrupt}}; the figures cover the time until then.</p>{{end}}
{{if .Embedded}}<p class="warn">{{.Warning}}</p>{{end}}
{{range .Run.Findings}}<p><b>{{.}}</b></p>{{end}}
<p><label for="op">Operation: </label><select id="op">{{range .Ops}}<option value="{{.Name}}">{{.Name}}</option>{{end}}</select></p>
{{range $i, $op := .Ops}}<section class="op" data-op="{{.Name}}"{{if $i}} hidden{{end}}>
<h2>{{.Name}}</h2>
<table><tr>{{range .Table.Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Table.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{range .Charts}}<figure data-chart="{{.Kind}}">{{svg .SVG}}</figure>
{{end}}</section>
{{end}}
{{if .Cost}}<h2>Server cost per task</h2><figure data-chart="cost">{{svg .Cost}}</figure>{{end}}
<h2>Servers</h2>
<table><tr><th>backend</th><th>level</th><th>server</th><th>notes</th></tr>
{{range .Servers}}<tr><td>{{.Backend}}</td><td>{{.Level}}</td><td>{{.Server}}</td><td>{{join .Notes "; "}}</td></tr>
{{end}}</table>
<h2>Settings and versions</h2>
<table class="settings">
<tr><td>bench</td><td>{{.Run.Bench}}</td></tr>
<tr><td>go</td><td>{{.Run.Go}}</td></tr>
<tr><td>platform</td><td>{{.Run.Platform}}</td></tr>
<tr><td>started</td><td>{{.Run.Started.UTC.Format "2006-01-02 15:04:05 UTC"}}</td></tr>
<tr><td>seed</td><td>{{.Run.Seed}}</td></tr>
{{range .Run.Options}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>
{{end}}</table>
<script>
(function(){var s=document.getElementById('op');function show(){document.querySelectorAll('section.op').forEach(function(e){e.hidden=e.dataset.op!==s.value;});}s.addEventListener('change',show);show();})();
</script>
</body></html>
`))
