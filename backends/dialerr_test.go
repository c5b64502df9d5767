package backends

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestDialReason(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	dns := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "db.invalid"}}
	for err, want := range map[error]string{
		refused:                        "connection refused",
		fmt.Errorf("wrapped: %w", dns): "cannot resolve db.invalid: no such host",
		errors.New("tls: bad record"):  "tls: bad record",
	} {
		if got := DialReason(err); got != want {
			t.Errorf("DialReason(%v) = %q, want %q", err, got, want)
		}
	}
}
