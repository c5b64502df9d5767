package charts

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/celery-bench/bench/results"
)

// The image formats: one chart of a run, chosen by RenderOptions.
func init() {
	for _, format := range []string{"png", "svg"} {
		results.RegisterFormat(results.Format{Name: format, Binary: format == "png",
			Description: "one chart (--chart, --op) as " + strings.ToUpper(format) + ", sized for a pull-request comment",
			Render: func(w io.Writer, r *results.Run, o results.RenderOptions) error {
				return renderFormat(w, r, o, format)
			}})
	}
}

func renderFormat(w io.Writer, r *results.Run, o results.RenderOptions, format string) error {
	kind := o.Chart
	if kind == "" {
		kind = Kinds[0]
	}
	if !slices.Contains(Kinds, kind) {
		return fmt.Errorf("%w: unknown chart %q; use one of %s", results.ErrCannotRender, kind, strings.Join(Kinds, ", "))
	}
	if o.Op != "" && !slices.Contains(OpNames(r), o.Op) {
		return fmt.Errorf("%w: the run has no op %q; it has %s", results.ErrCannotRender, o.Op, strings.Join(OpNames(r), ", "))
	}
	err := Render(w, r, kind, o.Op, format)
	if errors.Is(err, ErrNoData) {
		return fmt.Errorf("%w: %w", results.ErrCannotRender, err)
	}
	return err
}
