package main

import (
	"testing"
	"time"
)

// TestBackendOptions checks that every flag meant for the backends reaches
// backends.Options: --caller-pool and --connect-timeout once parsed and
// silently dropped, and the SQL callers opened a connection per poll.
func TestBackendOptions(t *testing.T) {
	fs, o := newRunFlags()
	if err := fs.Parse([]string{"--caller-pool", "--connect-timeout", "7s", "--result-extended", "--result-expires", "90s", "--force", "--celery", "5.2"}); err != nil {
		t.Fatal(err)
	}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	bo := o.backendOptions()
	if !bo.CallerPool || bo.ConnectTimeout != 7*time.Second || !bo.ResultExtended || bo.ResultExpires != 90*time.Second || !bo.Force {
		t.Errorf("backend options %+v do not carry the flags", bo)
	}
	if bo.Celery.String() != "5.2" {
		t.Errorf("Celery line %s, want 5.2", bo.Celery)
	}
	if bo.IDPrefix == "" {
		t.Error("no id prefix: Prepare could not tell bench's results from foreign ones")
	}

	fs, o = newRunFlags()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	if bo := o.backendOptions(); bo.CallerPool || bo.ConnectTimeout != 5*time.Second {
		t.Errorf("defaults: caller pool %v, connect timeout %s; want false, 5s", bo.CallerPool, bo.ConnectTimeout)
	}
}
