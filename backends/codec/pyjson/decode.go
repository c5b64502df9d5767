package pyjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/celery-bench/bench/backends/codec/py"
)

// SyntaxError is the error Decode returns for text that Python's json.loads
// would reject (or, for integers beyond int64, that it cannot represent).
type SyntaxError struct {
	Msg    string // what is wrong, in the words of Python's json module (lower-cased)
	Offset int    // byte offset in the input
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("pyjson: %s at offset %d", e.Msg, e.Offset)
}

// pyNaN is float('nan') as CPython spells it (Go's math.NaN has other bits).
var pyNaN = math.Float64frombits(0x7ff8000000000000)

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// Decode parses JSON text into the py value model: objects become py.Dict in
// document order, arrays []any, numbers int64 when integral and float64
// otherwise, strings string, null nil.
//
// It accepts what json.loads accepts: NaN, Infinity and -Infinity, any
// whitespace of " \t\n\r" around tokens, and repeated object keys (the last
// value wins, in the first key's place, as in a Python dict). It rejects
// trailing data, control characters inside strings, invalid UTF-8 and
// integers outside the int64 range, with a *SyntaxError. Empty objects and
// arrays decode to non-nil empty values. The result does not alias data.
// Decode is safe for concurrent use.
func Decode(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if !utf8.Valid(data) {
		return nil, &SyntaxError{Msg: "invalid UTF-8", Offset: invalidOffset(data)}
	}
	d := decoder{data: data}
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("extra data")
	}
	return v, nil
}

func invalidOffset(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}

type decoder struct {
	data  []byte
	pos   int
	depth int
}

func (d *decoder) errorf(msg string) error {
	return &SyntaxError{Msg: msg, Offset: d.pos}
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) literal(word string, v any) (any, error) {
	if !bytes.HasPrefix(d.data[d.pos:], []byte(word)) {
		return nil, d.errorf("expecting value")
	}
	d.pos += len(word)
	return v, nil
}

func (d *decoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.errorf("expecting value")
	}
	switch c := d.data[d.pos]; c {
	case '"':
		return d.str()
	case '{':
		return d.object()
	case '[':
		return d.array()
	case 'n':
		return d.literal("null", nil)
	case 't':
		return d.literal("true", true)
	case 'f':
		return d.literal("false", false)
	case 'N':
		return d.literal("NaN", pyNaN)
	case 'I':
		return d.literal("Infinity", math.Inf(1))
	case '-':
		if bytes.HasPrefix(d.data[d.pos:], []byte("-Infinity")) {
			d.pos += len("-Infinity")
			return math.Inf(-1), nil
		}
		return d.number()
	default:
		if c >= '0' && c <= '9' {
			return d.number()
		}
		return nil, d.errorf("expecting value")
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, the grammar of
// json.scanner.NUMBER_RE: an incomplete fraction or exponent is not part of
// the number (and then fails as the next token).
func (d *decoder) number() (any, error) {
	data, start := d.data, d.pos
	i := start
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && isDigit(data[i]):
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return nil, d.errorf("expecting value")
	}
	isFloat := false
	if i+1 < len(data) && data[i] == '.' && isDigit(data[i+1]) {
		isFloat = true
		for i += 2; i < len(data) && isDigit(data[i]); i++ {
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		j := i + 1
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			j++
		}
		if j < len(data) && isDigit(data[j]) {
			isFloat = true
			for i = j; i < len(data) && isDigit(data[i]); i++ {
			}
		}
	}
	if !isFloat && i-start <= 18 { // at most 18 digits: no overflow
		var n int64
		for _, c := range data[start:i] {
			if c != '-' {
				n = n*10 + int64(c-'0')
			}
		}
		if data[start] == '-' {
			n = -n
		}
		d.pos = i
		return n, nil
	}
	text := string(data[start:i])
	if !isFloat {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, d.errorf("integer out of int64 range")
		}
		d.pos = i
		return n, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, d.errorf("invalid number") // unreachable after the scan above
	}
	d.pos = i // out of range: ±Inf or 0, as Python's float() gives
	return f, nil
}

// str decodes the string literal at d.pos (which holds the opening quote).
// It is long because it is the decoder's hot loop: a fast scan over plain
// bytes, then escapes and surrogate pairs as Python's json module reads
// them, kept in one function so the common case stays a tight loop.
func (d *decoder) str() (string, error) {
	data, start := d.data, d.pos
	i := start + 1
	for ; i < len(data); i++ {
		c := data[i]
		if c == '"' {
			d.pos = i + 1
			return string(data[start+1 : i]), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			d.pos = i
			return "", d.errorf("invalid control character")
		}
	}
	buf := make([]byte, 0, i-start+16)
	buf = append(buf, data[start+1:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			d.pos = i
			return "", d.errorf("invalid control character")
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(data) {
			break
		}
		esc := data[i+1]
		i += 2
		switch esc {
		case '"', '\\', '/':
			buf = append(buf, esc)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(data, i)
			if !ok {
				d.pos = i - 1
				return "", d.errorf("invalid \\uXXXX escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A high surrogate pairs with an immediately following
				// \uDC00-\uDFFF escape; anything else leaves it alone.
				if r < 0xdc00 && i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
					r2, ok := hex4(data, i+2)
					if !ok {
						d.pos = i + 1
						return "", d.errorf("invalid \\uXXXX escape")
					}
					if r2 >= 0xdc00 && r2 <= 0xdfff {
						r = utf16.DecodeRune(r, r2)
						i += 6
					}
				}
				if utf16.IsSurrogate(r) {
					r = utf8.RuneError // a lone surrogate: Go strings cannot hold one
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			d.pos = i - 2
			return "", d.errorf("invalid \\escape")
		}
	}
	d.pos = start
	return "", d.errorf("unterminated string starting")
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (d *decoder) enter() error {
	if d.depth++; d.depth > MaxDepth {
		return ErrTooDeep
	}
	return nil
}

func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // [
	d.skipSpace()
	list := []any{}
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return list, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		d.skipSpace()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case ']':
				d.pos++
				d.depth--
				return list, nil
			case ',':
				d.pos++
				d.skipSpace()
				continue
			}
		}
		return nil, d.errorf("expecting ',' delimiter")
	}
}

func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // {
	d.skipSpace()
	var b py.DictBuilder
	b.Dict = py.Dict{}
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return b.Dict, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expecting property name enclosed in double quotes")
		}
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expecting ':' delimiter")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		b.Set(key, v)
		d.skipSpace()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case '}':
				d.pos++
				d.depth--
				return b.Dict, nil
			case ',':
				d.pos++
				d.skipSpace()
				continue
			}
		}
		return nil, d.errorf("expecting ',' delimiter")
	}
}
