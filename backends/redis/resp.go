package redis

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// conn is a RESP2 connection of bench's own, used where go-redis gives too
// little control over the bytes: the caller's pub/sub connection, the
// handshake of every connection, and the harness's own admin commands. It is
// not safe for concurrent use.
type conn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte    // the command being written; reused
	long []byte    // a reply line longer than br's buffer; reused
	bufs [4][]byte // the bulk strings of the last push; reused
}

// readBufferSize holds a typical pub/sub message whole; larger ones are
// read straight into the reusable push buffers.
const readBufferSize = 16 << 10

func newConn(nc net.Conn) *conn {
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, readBufferSize)}
}

// serverError is an error reply from the server ("-ERR ..." without the
// dash).
type serverError string

func (e serverError) Error() string { return string(e) }

// ServerError marks the reply as the server's, for counting errors by kind.
func (e serverError) ServerError() bool { return true }

// errProtocol reports bytes that are not RESP2.
var errProtocol = errors.New("the server's reply is not RESP (is it a Redis server? a TLS port needs rediss://)")

func appendArrayLen(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

func appendBulk(dst []byte, s string) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// appendCommand appends args as one RESP command, as redis-py packs it.
func appendCommand(dst []byte, args ...string) []byte {
	dst = appendArrayLen(dst, len(args))
	for _, a := range args {
		dst = appendBulk(dst, a)
	}
	return dst
}

// flush writes c.wbuf and empties it.
func (c *conn) flush() error {
	_, err := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}

// roundTrip sends one command and reads its reply. An error reply is
// returned as a serverError.
func (c *conn) roundTrip(args ...string) (any, error) {
	c.wbuf = appendCommand(c.wbuf[:0], args...)
	if err := c.flush(); err != nil {
		return nil, err
	}
	return c.readReply()
}

// readLine returns the next reply line without its CRLF. The line is valid
// until the next read.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errProtocol
	}
	return line[:len(line)-2], nil
}

// parseInt parses a RESP length or integer without allocating.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, errProtocol
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, errProtocol
		}
	}
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' || n > (1<<62)/10 {
			return 0, errProtocol
		}
		n = n*10 + int64(ch-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// readBulk reads the body of the bulk string whose header line is line
// into dst (reusing its capacity) and returns it; ok is false for a null
// bulk string.
func (c *conn) readBulk(line, dst []byte) (b []byte, ok bool, err error) {
	n, err := parseInt(line[1:])
	if err != nil {
		return dst[:0], false, err
	}
	if n < 0 {
		return dst[:0], false, nil
	}
	if int64(cap(dst)) < n+2 {
		dst = make([]byte, n+2)
	}
	dst = dst[:n+2]
	if _, err := io.ReadFull(c.br, dst); err != nil {
		return dst[:0], false, err
	}
	if dst[n] != '\r' || dst[n+1] != '\n' {
		return dst[:0], false, errProtocol
	}
	return dst[:n], true, nil
}

// readReply reads one reply of any type: string (simple or bulk), int64,
// []any, or nil for a null. A top-level error reply is returned as a
// serverError error; one inside an array becomes a serverError element.
// It allocates, and serves the handshake and admin commands only.
func (c *conn) readReply() (any, error) {
	line, err := c.readLine()
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '+':
		return string(line[1:]), nil
	case '-':
		return nil, serverError(line[1:])
	case ':':
		return parseInt(line[1:])
	case '$':
		b, ok, err := c.readBulk(line, nil)
		if err != nil || !ok {
			return nil, err
		}
		return string(b), nil
	case '*':
		n, err := parseInt(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		arr := make([]any, n)
		for i := range arr {
			v, err := c.readReply()
			var se serverError
			if errors.As(err, &se) {
				arr[i] = se
				continue
			}
			if err != nil {
				return nil, err
			}
			arr[i] = v
		}
		return arr, nil
	}
	return nil, errProtocol
}

// push is one reply on a subscribed connection: a message, or the
// confirmation of a SUBSCRIBE or UNSUBSCRIBE. Its slices are valid until
// the next readPush.
type push struct {
	kind    []byte // "message", "subscribe", "unsubscribe", ...
	channel []byte
	payload []byte // the message data
	count   int64  // subscriptions left, for a confirmation
}

func (p *push) is(kind string) bool { return string(p.kind) == kind }

// readPush reads the next reply of a subscribed connection into p without
// allocating once its buffers have grown to the largest message.
func (c *conn) readPush(p *push) error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	switch line[0] {
	case '*':
	case '-':
		return serverError(line[1:])
	default:
		return errProtocol
	}
	n, err := parseInt(line[1:])
	if err != nil {
		return err
	}
	*p = push{}
	for i := int64(0); i < n; i++ {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		switch line[0] {
		case '$':
			slot := &c.bufs[min(i, int64(len(c.bufs)-1))]
			b, _, err := c.readBulk(line, (*slot)[:0])
			if err != nil {
				return err
			}
			*slot = b
			switch i {
			case 0:
				p.kind = b
			case 1:
				p.channel = b
			case 2:
				p.payload = b
			}
		case ':':
			v, err := parseInt(line[1:])
			if err != nil {
				return err
			}
			if i == 2 {
				p.count = v
			}
		default:
			return errProtocol
		}
	}
	return nil
}

// reason is the short cause of a network error: "connection refused", "no
// such host", "i/o timeout".
func reason(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// connectError reports a server that could not be reached.
type connectError struct {
	addr string
	err  error
}

func (e *connectError) Error() string {
	return fmt.Sprintf("redis: cannot connect to %s: %s (is Redis running? check the host and port in --backend)", e.addr, reason(e.err))
}

func (e *connectError) Unwrap() error { return e.err }

// wrapped adds context to an error. It drops the "redis: " that opens the
// message of the error it wraps, so that a chain reads as one message with
// one prefix: "redis: store_result <id>: GET: cannot connect to ...".
type wrapped struct {
	what string
	err  error
}

func (e *wrapped) Error() string {
	return "redis: " + e.what + ": " + strings.TrimPrefix(e.err.Error(), "redis: ")
}

func (e *wrapped) Unwrap() error { return e.err }

func wrap(err error, format string, args ...any) error {
	return &wrapped{what: fmt.Sprintf(format, args...), err: err}
}
