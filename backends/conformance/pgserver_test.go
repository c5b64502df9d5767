package conformance

import (
	"strings"
	"testing"
	"time"
)

// TestStartPostgres starts a private cluster with one more setting and reads back, from a log
// mark, the lines of one psql connection: authorized as postgres, a two-line statement kept
// whole, an error with its statement, the disconnection.
func TestStartPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	p := StartPostgres(t, "timezone=UTC")
	from := p.LogSize(t)
	p.Exec(t, "postgres", "SELECT 'two\nlines', current_setting('TimeZone')")
	if out, err := p.psql("postgres", "SELECT no_such_column"); err == nil {
		t.Fatalf("psql accepted a bad statement: %s", out)
	}
	var got []string
	// A backend logs its disconnection as it exits, after psql has returned.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got = got[:0]
		// Only connections authorized after the mark: the readiness probe's
		// disconnection may be logged after it.
		mine := map[int]bool{}
		for _, l := range p.ReadPostgresLog(t, from) {
			if strings.HasPrefix(l.Text, "connection authorized:") {
				mine[l.PID] = true
			}
			if mine[l.PID] && l.User == "postgres" && l.DB == "postgres" {
				got = append(got, l.Level+": "+strings.SplitN(l.Text, " session time", 2)[0])
			}
		}
		if len(got) >= 8 || time.Now().After(deadline) {
			break
		}
	}
	want := []string{
		"LOG: connection authorized: user=postgres database=postgres application_name=psql",
		"LOG: statement: SELECT 'two\nlines', current_setting('TimeZone')",
		"LOG: disconnection:",
		"LOG: connection authorized: user=postgres database=postgres application_name=psql",
		"LOG: statement: SELECT no_such_column",
		`ERROR: column "no_such_column" does not exist at character 8`,
		"STATEMENT: SELECT no_such_column",
		"LOG: disconnection:",
	}
	if strings.Join(got, "\n|") != strings.Join(want, "\n|") {
		t.Errorf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out, err := p.psql("postgres", "SHOW TimeZone"); err != nil || !strings.Contains(out, "UTC") {
		t.Errorf("SHOW TimeZone = %q, %v; want UTC (the extra setting)", out, err)
	}
}
