package standin

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// This file is the MySQL client/server protocol of the embedded MySQL: the
// v10 handshake (any user and password accepted, mysql_native_password
// announced), then text-protocol commands: COM_QUERY, COM_PING, COM_QUIT,
// COM_INIT_DB and COM_RESET_CONNECTION. Result sets use the classic EOF
// packets (CLIENT_DEPRECATE_EOF is not offered); TLS, compression,
// multi-statements and prepared statements are not offered either.

// Capability flags (include/mysql_com.h).
const (
	capLongPassword     = 1 << 0
	capFoundRows        = 1 << 1
	capLongFlag         = 1 << 2
	capConnectWithDB    = 1 << 3
	capProtocol41       = 1 << 9
	capTransactions     = 1 << 13
	capSecureConn       = 1 << 15
	capMultiResults     = 1 << 17
	capPluginAuth       = 1 << 19
	capConnectAttrs     = 1 << 20
	capPluginAuthLenEnc = 1 << 21

	serverCaps = capLongPassword | capFoundRows | capLongFlag | capConnectWithDB | capProtocol41 |
		capTransactions | capSecureConn | capMultiResults | capPluginAuth | capConnectAttrs | capPluginAuthLenEnc
)

// Server status flags.
const (
	statusInTrans    = 0x0001
	statusAutocommit = 0x0002
)

// Commands.
const (
	comQuit            = 0x01
	comInitDB          = 0x02
	comQuery           = 0x03
	comPing            = 0x0e
	comResetConnection = 0x1f
)

// Timeouts of a connection, MySQL's defaults: connect_timeout for the
// handshake, wait_timeout between commands, net_write_timeout for each
// response.
const (
	connectTimeout = 10 * time.Second
	waitTimeout    = 8 * time.Hour
	writeTimeout   = 60 * time.Second
)

// maxPacket is max_allowed_packet (MySQL 8.0's default, 64 MiB).
const maxPacket = 64 << 20

// collationUTF8MB4 is utf8mb4_0900_ai_ci, the server's default collation;
// collationBinary marks binary strings and numbers in column definitions.
const (
	collationUTF8MB4 = 255
	collationBinary  = 63
)

// Column types of column definitions.
const (
	typeLong      = 3
	typeLongLong  = 8
	typeDatetime  = 12
	typeBlob      = 252
	typeVarString = 253
)

// Column definition flags.
const (
	flagNotNull = 1
	flagPriKey  = 2
	flagUnique  = 4
	flagBlob    = 16
	flagBinary  = 128
	flagAutoInc = 512
)

// wireConn is one client connection: its packet framing and its session.
type wireConn struct {
	srv  *mysqlServer
	nc   net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	seq  byte
	caps uint32 // negotiated capabilities
	sess *session
	out  []byte // the packet being built
}

// serve runs one connection until the client quits or drops, or the server
// closes. It closes nc.
func (s *mysqlServer) serve(nc net.Conn, id uint32) {
	c := &wireConn{srv: s, nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 16<<10)}
	c.sess = newSession(s, id)
	defer func() {
		c.sess.end()
		nc.Close()
	}()
	if err := c.handshake(id); err != nil {
		return
	}
	for {
		nc.SetReadDeadline(time.Now().Add(waitTimeout))
		c.seq = 0
		pkt, err := c.readPacket()
		if err != nil {
			if errors.Is(err, errPacketTooLarge) {
				c.writeErr(sqlErr(1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes"))
				c.flush()
			}
			return
		}
		if len(pkt) == 0 {
			return
		}
		nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		switch pkt[0] {
		case comQuit:
			return
		case comPing:
			c.writeOK(0, 0)
		case comInitDB:
			if err := c.sess.use(string(pkt[1:])); err != nil {
				c.writeErr(err)
			} else {
				c.writeOK(0, 0)
			}
		case comResetConnection:
			c.sess.reset()
			c.writeOK(0, 0)
		case comQuery:
			c.query(string(pkt[1:]))
		default:
			c.writeErr(sqlErr(1047, "08S01", "Unknown command"))
		}
		if err := c.flush(); err != nil {
			return
		}
		if c.sess.closed() {
			return
		}
	}
}

// handshake sends the v10 greeting and reads the client's response. Every
// user and password is accepted.
func (c *wireConn) handshake(id uint32) error {
	c.nc.SetDeadline(time.Now().Add(connectTimeout))
	defer c.nc.SetDeadline(time.Time{})
	var scramble [20]byte
	rand.Read(scramble[:])
	for i := range scramble {
		scramble[i] = scramble[i]%94 + 33 // printable, never NUL
	}
	p := c.begin()
	p = append(p, 10)
	p = append(p, c.srv.version...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint32(p, id)
	p = append(p, scramble[:8]...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(serverCaps&0xffff))
	p = append(p, collationUTF8MB4)
	p = binary.LittleEndian.AppendUint16(p, statusAutocommit)
	p = binary.LittleEndian.AppendUint16(p, uint16(serverCaps>>16))
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, scramble[8:]...)
	p = append(p, 0)
	p = append(p, "mysql_native_password"...)
	p = append(p, 0)
	c.out = p
	if err := c.send(); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	resp, err := c.readPacket()
	if err != nil {
		return err
	}
	db, err := c.parseHandshakeResponse(resp)
	if err != nil {
		c.writeErr(sqlErr(1043, "08S01", "Bad handshake"))
		c.flush()
		return err
	}
	c.sess.foundRows = c.caps&capFoundRows != 0
	if db != "" {
		if err := c.sess.use(db); err != nil {
			c.writeErr(err)
			c.flush()
			return err
		}
	}
	c.writeOK(0, 0)
	return c.flush()
}

// parseHandshakeResponse reads a HandshakeResponse41 and returns the
// database it names.
func (c *wireConn) parseHandshakeResponse(p []byte) (string, error) {
	bad := errors.New("bad handshake response")
	if len(p) < 32 {
		return "", bad
	}
	caps := binary.LittleEndian.Uint32(p)
	if caps&capProtocol41 == 0 {
		return "", errors.New("client does not speak protocol 4.1")
	}
	c.caps = caps & serverCaps
	rest := p[32:]
	cstr := func() (string, bool) {
		i := strings.IndexByte(string(rest), 0)
		if i < 0 {
			s := string(rest)
			rest = nil
			return s, false
		}
		s := string(rest[:i])
		rest = rest[i+1:]
		return s, true
	}
	if _, ok := cstr(); !ok { // user
		return "", bad
	}
	switch {
	case caps&capPluginAuthLenEnc != 0:
		n, k, ok := readLenEnc(rest)
		if !ok || uint64(len(rest)-k) < n {
			return "", bad
		}
		rest = rest[k+int(n):]
	case caps&capSecureConn != 0:
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return "", bad
		}
		rest = rest[1+int(rest[0]):]
	default:
		cstr()
	}
	var db string
	if caps&capConnectWithDB != 0 && len(rest) > 0 {
		db, _ = cstr()
	}
	return db, nil
}

var errPacketTooLarge = errors.New("packet too large")

// readPacket reads one logical packet, joining 16 MiB chunks.
func (c *wireConn) readPacket() ([]byte, error) {
	var out []byte
	for {
		var h [4]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
		c.seq = h[3] + 1
		if len(out)+n > maxPacket {
			return nil, errPacketTooLarge
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		if _, err := io.ReadFull(c.r, out[start:]); err != nil {
			return nil, err
		}
		if n < 0xffffff {
			return out, nil
		}
	}
}

// begin starts building a packet in c.out, leaving room for its header.
func (c *wireConn) begin() []byte { return append(c.out[:0], 0, 0, 0, 0) }

// send writes the packet built in c.out (header included), split into
// 16 MiB chunks as the protocol requires.
func (c *wireConn) send() error {
	payload := c.out[4:]
	for {
		n := min(len(payload), 0xffffff)
		h := [4]byte{byte(n), byte(n >> 8), byte(n >> 16), c.seq}
		c.seq++
		if _, err := c.w.Write(h[:]); err != nil {
			return err
		}
		if _, err := c.w.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if n < 0xffffff {
			return nil
		}
	}
}

func (c *wireConn) flush() error { return c.w.Flush() }

func (c *wireConn) status() uint16 {
	var st uint16
	if c.sess.autocommit {
		st |= statusAutocommit
	}
	if c.sess.inTxn() {
		st |= statusInTrans
	}
	return st
}

func (c *wireConn) writeOK(affected, insertID uint64) error {
	p := append(c.begin(), 0)
	p = appendLenEnc(p, affected)
	p = appendLenEnc(p, insertID)
	p = binary.LittleEndian.AppendUint16(p, c.status())
	p = append(p, 0, 0) // warnings
	c.out = p
	return c.send()
}

func (c *wireConn) writeEOF() error {
	p := append(c.begin(), 0xfe, 0, 0)
	c.out = binary.LittleEndian.AppendUint16(p, c.status())
	return c.send()
}

// writeErr sends err as an ERR packet: its MySQL number and SQLSTATE when
// it is a *mysqlError, 1105 (unknown error) otherwise.
func (c *wireConn) writeErr(err error) error {
	var me *mysqlError
	if !errors.As(err, &me) {
		me = sqlErr(1105, "HY000", "%s", err.Error())
	}
	p := append(c.begin(), 0xff)
	p = binary.LittleEndian.AppendUint16(p, me.num)
	p = append(p, '#')
	p = append(p, me.state...)
	c.out = append(p, me.msg...)
	return c.send()
}

// query runs one COM_QUERY and writes its answer.
func (c *wireConn) query(q string) {
	res, err := c.sess.exec(q)
	if err != nil {
		c.writeErr(err)
		return
	}
	if res.cols == nil {
		c.writeOK(res.affected, res.insertID)
		return
	}
	c.out = appendLenEnc(c.begin(), uint64(len(res.cols)))
	if c.send() != nil {
		return
	}
	for _, col := range res.cols {
		c.out = appendColumnDef(c.begin(), col)
		if c.send() != nil {
			return
		}
	}
	if c.writeEOF() != nil {
		return
	}
	for _, row := range res.rows {
		p := c.begin()
		for _, v := range row {
			p = v.appendText(p)
		}
		c.out = p
		if c.send() != nil {
			return
		}
	}
	c.writeEOF()
}

// appendColumnDef appends a ColumnDefinition41.
func appendColumnDef(p []byte, col colMeta) []byte {
	p = appendLenEncString(p, "def")
	p = appendLenEncString(p, col.schema)
	p = appendLenEncString(p, col.table)
	p = appendLenEncString(p, col.table)
	p = appendLenEncString(p, col.name)
	p = appendLenEncString(p, col.orgName)
	p = append(p, 0x0c)
	p = binary.LittleEndian.AppendUint16(p, col.charset)
	p = binary.LittleEndian.AppendUint32(p, col.length)
	p = append(p, col.typ)
	p = binary.LittleEndian.AppendUint16(p, col.flags)
	p = append(p, col.decimals, 0, 0)
	return p
}

func appendLenEnc(p []byte, n uint64) []byte {
	switch {
	case n < 251:
		return append(p, byte(n))
	case n < 1<<16:
		return append(p, 0xfc, byte(n), byte(n>>8))
	case n < 1<<24:
		return append(p, 0xfd, byte(n), byte(n>>8), byte(n>>16))
	}
	p = append(p, 0xfe)
	return binary.LittleEndian.AppendUint64(p, n)
}

func appendLenEncString(p []byte, s string) []byte {
	return append(appendLenEnc(p, uint64(len(s))), s...)
}

// readLenEnc reads a length-encoded integer and reports its size.
func readLenEnc(b []byte) (n uint64, size int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch b[0] {
	case 0xfc:
		if len(b) < 3 {
			return 0, 0, false
		}
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3, true
	case 0xfd:
		if len(b) < 4 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, true
	case 0xfe:
		if len(b) < 9 {
			return 0, 0, false
		}
		return binary.LittleEndian.Uint64(b[1:]), 9, true
	case 0xfb, 0xff:
		return 0, 0, false
	}
	return uint64(b[0]), 1, true
}

// A mysqlError is an error the server reports in an ERR packet.
type mysqlError struct {
	num   uint16
	state string // SQLSTATE, 5 characters
	msg   string
}

func (e *mysqlError) Error() string { return fmt.Sprintf("Error %d (%s): %s", e.num, e.state, e.msg) }

func sqlErr(num uint16, state, format string, args ...any) *mysqlError {
	return &mysqlError{num: num, state: state, msg: fmt.Sprintf(format, args...)}
}
