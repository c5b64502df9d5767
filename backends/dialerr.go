package backends

import (
	"errors"
	"net"
	"syscall"
)

// DialReason is the cause of a failed connection attempt in a few words
// for a one-line message: the system call's error ("connection refused"),
// "cannot resolve <name>: <why>" for a failed DNS lookup, or else err's own
// text.
func DialReason(err error) string {
	var errno syscall.Errno
	var dns *net.DNSError
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &dns):
		return "cannot resolve " + dns.Name + ": " + dns.Err
	}
	return err.Error()
}
