package main

// The output formats beyond the results package's own; each registers
// itself with results.RegisterFormat. A new format is one import here.
import (
	_ "github.com/celery-bench/bench/results/charts"
	_ "github.com/celery-bench/bench/results/html"
)
