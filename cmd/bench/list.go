package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/workloads"
)

func listCmd(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("list takes no arguments")
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKENDS\t\t")
	for _, m := range backends.Registered() {
		fmt.Fprintf(tw, "  %s\t%s://\t%s\n", m.Name, strings.Join(m.Schemes, ":// "), m.Description)
	}
	fmt.Fprintln(tw, "\nWORKLOADS\t\t")
	for _, m := range workloads.Registered() {
		fmt.Fprintf(tw, "  %s\t\t%s\n", m.Name, m.Description)
	}
	return tw.Flush()
}
