package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/celery-bench/bench/results"
)

// TestNoSecretInAnyOutput runs bench against a Redis that requires a
// password, given in each form bench accepts, in every output format with
// every artefact, and requires that the run worked (so the password was
// used) and that no output, file or message holds it.
func TestNoSecretInAnyOutput(t *testing.T) {
	const secret = "Tz9-s3cret-PW"
	srv := miniredis.RunT(t)
	srv.RequireAuth(secret)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "redis.pw")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENCH_SECRETS_TEST_PW", secret)
	forms := map[string]string{
		"userinfo": "redis://:" + secret + "@" + srv.Addr() + "/0",
		"query":    "redis://" + srv.Addr() + "/0?password=" + secret,
		"file":     "redis://" + srv.Addr() + "/0?password_file=" + url.QueryEscape(pwFile),
		"env":      "redis://" + srv.Addr() + "/0?password_env=BENCH_SECRETS_TEST_PW",
	}
	n := 0
	for form, u := range forms {
		for _, format := range results.Formats() {
			n++
			out := filepath.Join(dir, form+"-"+format+".out")
			hdr := filepath.Join(dir, form+"-"+format+".hdr")
			var stdout, stderr bytes.Buffer
			code := bench(context.Background(), []string{"run", "--backend", u, "-d", "200ms", "--warmup", "0",
				"-c", "2", "--workers", "2", "--format", format, "-o", out, "--hdr-log", hdr, "--progress", "50ms"},
				&stdout, &stderr)
			if code != exitOK {
				t.Fatalf("%s %s: exit %d: %s", form, format, code, stderr.String())
			}
			for what, b := range map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes(),
				"-o": readFile(t, out), "--hdr-log": readFile(t, hdr)} {
				if len(b) == 0 && what == "-o" {
					t.Errorf("%s %s: -o file is empty", form, format)
				}
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s %s: %s shows the password:\n%s", form, format, what, b)
				}
			}
		}
	}
	// The report of a saved run, and messages about bad URLs.
	var stdout, stderr bytes.Buffer
	bench(context.Background(), []string{"report", filepath.Join(dir, "query-json.out")}, &stdout, &stderr)
	for _, args := range [][]string{
		{"run", "--backend", "db+mysql:root:" + secret + "@db.internal:3307/x"},
		{"run", "--backend", "db+mysql://root:" + secret + "@127.0.0.1:1/x", "--connect-timeout", "200ms"},
		{"run", "--backend", "redis://127.0.0.1:1/0?password=" + secret, "--connect-timeout", "200ms"},
		{"run", "--backend", "redis://" + srv.Addr() + "/0?password=wrong-" + secret},
		{"run", "--backend", "db+mysql://root@h/x?password=" + secret},
		{"run", "redis://:" + secret + "@h/0"},
		{"run", "--backend=redis://:" + secret + "@h:0/0"},
		{"inspect", "redis://:" + secret + "@127.0.0.1:1/0", "id", "--connect-timeout", "200ms"},
		{"run", "--backend", "redis://:" + secret + "@h/0?bogus=1"},
	} {
		code := bench(context.Background(), args, &stdout, &stderr)
		if code == exitOK {
			t.Errorf("bench %q: exit 0, want a failure", args)
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Errorf("a message shows the password:\n%s%s", stdout.String(), stderr.String())
	}
	if n == 0 {
		t.Fatal("no format was tried")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
