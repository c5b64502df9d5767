// Package pyjson encodes and decodes JSON exactly as Python's json module
// (and so kombu's default serializer) writes it: ", " and ": " separators,
// ASCII-only output with \uXXXX escapes, dict keys in insertion order and
// Python's float repr.
//
// The encoder is checked byte for byte against CPython 3.11's json.dumps
// (testdata/gen.py writes the goldens). It uses no reflection: Append is a
// type switch over the value model of package py and appends into the
// caller's buffer, so it allocates nothing when dst has room.
//
// Where Go and Python values cannot match, the package chooses as follows.
//
//   - A Go string that is not valid UTF-8 is written with each invalid byte
//     replaced by \ufffd (U+FFFD), as encoding/json does; Python str values
//     are always valid text, so such output has no Python original.
//   - Decode turns a lone UTF-16 surrogate escape (\ud800 without its pair)
//     into U+FFFD, because a Go string cannot hold one; Python keeps the lone
//     surrogate in the str.
//   - Decode rejects integers outside the int64 range (Python has bignums)
//     and nests at most MaxDepth arrays and objects (Python's limit is its
//     recursion limit, about 1000). Append stops at the same depth, which is
//     also what keeps a cyclic []any from recursing forever (Python raises
//     "Circular reference detected").
//   - Decode reads UTF-8 only, after an optional UTF-8 BOM (json.loads on
//     bytes also sniffs UTF-16 and UTF-32).
package pyjson

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/celery-bench/bench/backends/codec/py"
)

// MaxDepth is how deeply Append and Decode nest lists, tuples and dicts.
const MaxDepth = 10000

// ErrUnsupportedType is wrapped by the error Append returns for a value
// outside the value model of package py, or for bytes, which JSON cannot
// hold (Python: "Object of type bytes is not JSON serializable").
var ErrUnsupportedType = errors.New("unsupported type")

// ErrTooDeep is returned when a value or a document nests deeper than
// MaxDepth.
var ErrTooDeep = fmt.Errorf("pyjson: nested deeper than %d", MaxDepth)

// Append appends the JSON text of v (see package py for the value model) to
// dst and returns the extended buffer, as json.dumps(v) would write it with
// its defaults (ensure_ascii=True, separators=(", ", ": ")).
// It does not retain v or dst. It is safe for concurrent use.
//
// Besides the py model it accepts the other Go integer types and float32
// (widened to float64, as Python would see it). It allocates only when dst
// must grow. On error it returns dst unchanged (its length restored) and an
// error wrapping ErrUnsupportedType or ErrTooDeep.
func Append(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return AppendString(dst, v), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case float64:
		return appendFloat(dst, v), nil
	case py.Dict:
		if depth >= MaxDepth {
			return dst, ErrTooDeep
		}
		dst = append(dst, '{')
		for i := range v {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendString(dst, v[i].Key)
			dst = append(dst, ": "...)
			var err error
			if dst, err = appendValue(dst, v[i].Value, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		return appendList(dst, v, depth)
	case py.Tuple:
		return appendList(dst, v, depth)
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case float32:
		return appendFloat(dst, float64(v)), nil
	case []byte:
		return dst, fmt.Errorf("pyjson: cannot encode []byte (Python bytes): %w", ErrUnsupportedType)
	default:
		return dst, fmt.Errorf("pyjson: cannot encode %T: %w", v, ErrUnsupportedType)
	}
}

func appendList(dst []byte, v []any, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, ErrTooDeep
	}
	dst = append(dst, '[')
	for i, e := range v {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		var err error
		if dst, err = appendValue(dst, e, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// appendFloat writes f as json.dumps does: float.__repr__ for finite values,
// and NaN, Infinity and -Infinity otherwise (allow_nan=True).
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return appendRepr(dst, f)
}

// appendRepr appends Python's repr of the finite float f. Both Python and
// strconv pick the shortest digit string that reads back as f (the nearest
// one when several are as short), so only the layout differs: Python uses
// scientific notation when the decimal exponent is below -4 or at least 16,
// with a sign and at least two exponent digits (1e-05, 1e+16), which is
// exactly strconv's 'e' form; otherwise it writes positional digits and adds
// ".0" to integral values.
func appendRepr(dst []byte, f float64) []byte {
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±dd[d]
	ei := len(b) - 4
	for b[ei] != 'e' {
		ei--
	}
	exp := 0
	for _, c := range b[ei+2:] {
		exp = exp*10 + int(c-'0')
	}
	if b[ei+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		return append(dst, b...)
	}
	mant := b[:ei]
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	// The significant digits: the first one, then those after the point.
	var digs [20]byte
	nd := copy(digs[:], mant[:1])
	if len(mant) > 2 {
		nd += copy(digs[nd:], mant[2:])
	}
	d := digs[:nd]
	if exp < 0 {
		dst = append(dst, "0."...)
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	if nd <= exp+1 {
		dst = append(dst, d...)
		for i := nd; i < exp+1; i++ {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	}
	dst = append(dst, d[:exp+1]...)
	dst = append(dst, '.')
	return append(dst, d[exp+1:]...)
}

const hexDigits = "0123456789abcdef"

// plain marks the bytes json.dumps copies unescaped: printable ASCII except
// the quote and the backslash. Unlike Go's encoding/json it leaves <, > and
// & alone, and it escapes DEL (0x7f).
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c <= '~'; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a Python JSON string literal (with quotes).
//
// Printable ASCII is copied, \" \\ \n \r \t \b \f use their short escapes,
// other control characters and all non-ASCII characters become \u00XX /
// \uXXXX (lowercase hex, astral characters as a UTF-16 surrogate pair), and
// each byte that is not valid UTF-8 becomes \ufffd. It allocates only when
// dst must grow; it is safe for concurrent use.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendU(dst, rune(c))
			}
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU(appendU(dst, r1), r2)
		} else {
			dst = appendU(dst, r) // an invalid byte decodes as U+FFFD, size 1
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plain8 reports whether the 8 bytes of s are all plain, testing them at
// once as a uint64 (the "has a byte less than n" and "has a zero byte" bit
// tricks, which never miss a match).
func plain8(s string) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	ctl := (x - ' '*lsb) &^ x // a byte < 0x20
	high := x | (x + lsb)     // a byte >= 0x7f
	q := x ^ ('"' * lsb)
	b := x ^ ('\\' * lsb)
	return (ctl|high|(q-lsb)&^q|(b-lsb)&^b)&msb == 0
}

// appendU appends the escape \uXXXX for the BMP code point r.
func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
