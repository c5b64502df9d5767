// Package pickle writes and reads Python pickles byte for byte as CPython's
// C pickler writes them (protocol 2 to 5, with protocol 4+ framing and
// memoization), for the value model of package py.
//
// The encoder follows Modules/_pickle.c of CPython 3.11 and is checked byte
// for byte against pickle.dumps (testdata/gen.py writes the goldens):
//
//   - the PROTO header, then for protocol 4+ FRAME opcodes: a frame is opened
//     by the first write after the previous one was committed, committed
//     when a value is about to be saved and the frame holds at least 64 KiB,
//     and dropped (its 9-byte header removed) when it ends up holding fewer
//     than 4 bytes; a str or bytes payload of 64 KiB or more is written
//     outside any frame;
//   - memoization of every str, bytes, list, dict and non-empty tuple, with
//     MEMOIZE for protocol 4+ and BINPUT/LONG_BINPUT for protocols 2 and 3;
//   - the smallest int opcode (BININT1, BININT2, BININT, else LONG1), BINFLOAT,
//     SHORT_BINUNICODE/BINUNICODE/BINUNICODE8, SHORT_BINBYTES/BINBYTES/
//     BINBYTES8, TUPLE1-3 or MARK..TUPLE, and lists and dicts filled by
//     APPEND/SETITEM for one element or by batches of 1000 in MARK..APPENDS
//     and MARK..SETITEMS (a dict of a multiple of 1000 items ends with an
//     empty batch, as CPython's does).
//
// Python memoizes by object identity, so a Python value that holds the same
// object twice pickles the second occurrence as a BINGET. This package has
// no identities: every string, bytes, list, dict and tuple is written out as
// a distinct object. CPython shares more than a Go programmer may expect:
// the empty str and bytes and all one-character latin-1 strings are
// singletons, identifiers and string constants are interned, and equal
// constants in one code object are shared. A payload whose bytes must match
// Python's should therefore not repeat such strings, or be built in Python
// from distinct objects. Decode reads BINGET back, so it reads Python's
// pickles either way. Global, *Object and Interned are the exceptions: they
// carry an identity, for pickling Python objects (see Global).
//
// Other differences from Python: a Go string that is not valid UTF-8 is
// written with each invalid byte replaced by U+FFFD (a Python str is always
// text); bytes cannot be written with protocol 2 (CPython reduces them to a
// codecs.encode call there); and a NaN is written with the bits it has
// (Python's float('nan') is 0x7ff8000000000000, Go's math.NaN() is not).
package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/celery-bench/bench/backends/codec/py"
)

const (
	// HighestProtocol is the newest protocol Append writes, pickle.HIGHEST_PROTOCOL
	// since Python 3.8 and what Celery's database backend uses.
	HighestProtocol = 5
	// LowestProtocol is the oldest protocol Append writes.
	LowestProtocol = 2

	batchSize        = 1000     // items per APPENDS/SETITEMS, _pickle.c BATCHSIZE
	frameSizeMin     = 4        // smaller frames are dropped, FRAME_SIZE_MIN
	frameSizeTarget  = 64 << 10 // FRAME_SIZE_TARGET
	frameHeaderSize  = 9        // FRAME + 8-byte length
	maxDepth         = 10000    // nesting limit of Append and Decode
	maxShortBinBytes = 0xff
)

// ErrUnsupportedType is wrapped by the error Append returns for a value
// outside the value model of package py (or bytes under protocol 2).
var ErrUnsupportedType = errors.New("unsupported type")

// ErrTooDeep is returned by Append and Decode for values nested more than
// 10000 deep; it also stops Append on a cyclic []any, which Python would
// pickle with a memo reference.
var ErrTooDeep = errors.New("pickle: nested too deeply")

// Append appends pickle.dumps(v, protocol) to dst and returns the extended
// buffer. It is safe for concurrent use.
//
// The protocol must be 2 to 5. Besides the py model, Append accepts the
// other Go integer types and float32 (widened to float64). It does not
// retain v or dst, and allocates only when dst must grow. On error it
// returns dst unchanged (its length restored) and an error.
func Append(dst []byte, v any, protocol int) ([]byte, error) {
	if protocol < LowestProtocol || protocol > HighestProtocol {
		return dst, fmt.Errorf("pickle: protocol %d not supported (want %d to %d)",
			protocol, LowestProtocol, HighestProtocol)
	}
	e := encoder{buf: dst, proto: protocol, frameStart: -1}
	e.buf = append(e.buf, opProto, byte(protocol))
	e.framing = protocol >= 4
	if err := e.save(v, 0); err != nil {
		return dst, err
	}
	e.op(opStop)
	e.commitFrame()
	return e.buf, nil
}

// Objects beyond the py value model, for pickles of Python objects such as
// Celery's GroupResult, which are written through their __reduce__. Python
// memoizes by identity and these types carry one, so a value that holds the
// same object twice pickles as Python's does:
//
//   - Global is a module attribute pickled by name (a class or function:
//     STACK_GLOBAL). Equal Globals are one object, and so are equal module
//     names (a module's classes share its __name__ string).
//   - *Object is an object pickled as Func(*Args) (REDUCE). The same
//     pointer twice is the same object: its second occurrence is a BINGET.
//   - Interned is a str that Python shares wherever it appears (an
//     identifier or string constant): equal Interned strings are one object.
//
// They are written with protocol 4 and 5 only.
type (
	Global struct{ Module, Name string }
	Object struct {
		Func Global
		Args py.Tuple
	}
	Interned string
)

// identity keys of the memo.
type (
	moduleKey   string
	internedKey string
)

// encoder is the state of one Append: the CPython Pickler's output buffer,
// frame and memo counter, and the memo indices of objects with an identity
// (nil until the first).
type encoder struct {
	buf        []byte
	proto      int
	framing    bool // protocol 4+: writes go into frames
	frameStart int  // offset of the open frame's header in buf, or -1
	memoLen    int  // objects memoized so far (the next memo index)
	memo       map[any]int
}

// memoGet writes a reference to an object memoized before, if it was, and
// reports whether it did.
func (e *encoder) memoGet(key any) bool {
	idx, ok := e.memo[key]
	if !ok {
		return false
	}
	e.open()
	if idx < 256 {
		e.buf = append(e.buf, opBinGet, byte(idx))
	} else {
		e.buf = append(e.buf, opLongBinGet)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(idx))
	}
	return true
}

// memoPutKey memoizes the object just written under key.
func (e *encoder) memoPutKey(key any) {
	if e.memo == nil {
		e.memo = map[any]int{}
	}
	e.memo[key] = e.memoLen
	e.memoPut()
}

// saveGlobal is save_global for protocol 4+: module and qualified name,
// STACK_GLOBAL, memoized.
func (e *encoder) saveGlobal(g Global) error {
	if e.proto < 4 {
		return fmt.Errorf("pickle: globals are written with protocol 4 or 5 only, not %d: %w", e.proto, ErrUnsupportedType)
	}
	if e.memoGet(g) {
		return nil
	}
	if !e.memoGet(moduleKey(g.Module)) {
		if err := e.saveStr(g.Module); err != nil {
			return err
		}
		e.memo[moduleKey(g.Module)] = e.memoLen - 1
	}
	if err := e.saveStr(g.Name); err != nil {
		return err
	}
	e.op(opStackGlobal)
	e.memoPutKey(g)
	return nil
}

// saveObject is save_reduce for (func, args): the function, the argument
// tuple, REDUCE, and the object memoized.
func (e *encoder) saveObject(o *Object, depth int) error {
	if e.memoGet(o) {
		return nil
	}
	if depth >= maxDepth {
		return ErrTooDeep
	}
	if err := e.save(o.Func, depth+1); err != nil {
		return err
	}
	if err := e.save(o.Args, depth+1); err != nil {
		return err
	}
	e.op(opReduce)
	e.memoPutKey(o)
	return nil
}

// open starts a frame if framing is on and none is open: what
// _Pickler_Write does before writing anything.
func (e *encoder) open() {
	if e.framing && e.frameStart < 0 {
		e.frameStart = len(e.buf)
		e.buf = append(e.buf, opFrame, 0, 0, 0, 0, 0, 0, 0, 0)
	}
}

// op writes a one-byte opcode.
func (e *encoder) op(c byte) {
	e.open()
	e.buf = append(e.buf, c)
}

// commitFrame closes the open frame: it fills in the header, or removes it
// when the frame holds fewer than frameSizeMin bytes (_Pickler_CommitFrame).
func (e *encoder) commitFrame() {
	if e.frameStart < 0 {
		return
	}
	n := len(e.buf) - e.frameStart - frameHeaderSize
	if n >= frameSizeMin {
		e.buf[e.frameStart] = opFrame
		binary.LittleEndian.PutUint64(e.buf[e.frameStart+1:], uint64(n))
	} else {
		copy(e.buf[e.frameStart:], e.buf[e.frameStart+frameHeaderSize:])
		e.buf = e.buf[:len(e.buf)-frameHeaderSize]
	}
	e.frameStart = -1
}

// boundary is _Pickler_OpcodeBoundary, run before each value is saved: a
// frame that has reached the target size is committed.
func (e *encoder) boundary() {
	if e.frameStart >= 0 && len(e.buf)-e.frameStart-frameHeaderSize >= frameSizeTarget {
		e.commitFrame()
	}
}

// memoPut records one more memoized object (memo_put).
func (e *encoder) memoPut() {
	idx := e.memoLen
	e.memoLen++
	e.open()
	switch {
	case e.proto >= 4:
		e.buf = append(e.buf, opMemoize)
	case idx < 256:
		e.buf = append(e.buf, opBinPut, byte(idx))
	default:
		e.buf = append(e.buf, opLongBinPut)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(idx))
	}
}

func (e *encoder) save(v any, depth int) error {
	e.boundary()
	switch v := v.(type) {
	case nil:
		e.op(opNone)
	case string:
		return e.saveStr(v)
	case bool:
		if v {
			e.op(opNewTrue)
		} else {
			e.op(opNewFalse)
		}
	case int:
		e.saveInt(int64(v))
	case int64:
		e.saveInt(v)
	case float64:
		e.saveFloat(v)
	case py.Dict:
		return e.saveDict(v, depth)
	case []any:
		return e.saveList(v, depth)
	case py.Tuple:
		return e.saveTuple(v, depth)
	case []byte:
		return e.saveBytes(v)
	case int32:
		e.saveInt(int64(v))
	case int16:
		e.saveInt(int64(v))
	case int8:
		e.saveInt(int64(v))
	case uint:
		e.saveUint(uint64(v))
	case uint64:
		e.saveUint(v)
	case uint32:
		e.saveInt(int64(v))
	case uint16:
		e.saveInt(int64(v))
	case uint8:
		e.saveInt(int64(v))
	case float32:
		e.saveFloat(float64(v))
	case Global:
		if e.memo == nil {
			e.memo = map[any]int{}
		}
		return e.saveGlobal(v)
	case *Object:
		return e.saveObject(v, depth)
	case Interned:
		if e.memoGet(internedKey(v)) {
			return nil
		}
		if err := e.saveStr(string(v)); err != nil {
			return err
		}
		if e.memo == nil {
			e.memo = map[any]int{}
		}
		e.memo[internedKey(v)] = e.memoLen - 1
	default:
		return fmt.Errorf("pickle: cannot encode %T: %w", v, ErrUnsupportedType)
	}
	return nil
}

// saveInt is save_long for a value that fits an int64.
func (e *encoder) saveInt(v int64) {
	e.open()
	switch {
	case v >= 0 && v <= 0xff:
		e.buf = append(e.buf, opBinInt1, byte(v))
	case v >= 0 && v <= 0xffff:
		e.buf = append(e.buf, opBinInt2, byte(v), byte(v>>8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		e.buf = append(e.buf, opBinInt)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(v))
	default:
		// LONG1: the shortest little-endian two's complement, which is
		// what CPython's nbits/8+1 bytes, trimmed of a redundant 0xff, give.
		n := 8
		for n > 1 && int64(v<<(64-8*(n-1)))>>(64-8*(n-1)) == v {
			n--
		}
		e.buf = append(e.buf, opLong1, byte(n))
		for i := range n {
			e.buf = append(e.buf, byte(v>>(8*i)))
		}
	}
}

func (e *encoder) saveUint(v uint64) {
	if v <= math.MaxInt64 {
		e.saveInt(int64(v))
		return
	}
	e.open() // 2**63 and up: nine bytes, the last one 0 for the sign
	e.buf = append(e.buf, opLong1, 9)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, v)
	e.buf = append(e.buf, 0)
}

func (e *encoder) saveFloat(f float64) {
	e.open()
	e.buf = append(e.buf, opBinFloat)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// saveKey saves a dict key: save() for a str, without boxing it in an any.
func (e *encoder) saveKey(s string) error {
	e.boundary()
	return e.saveStr(s)
}

// saveStr is save_unicode: write_unicode_binary and a memo entry.
func (e *encoder) saveStr(s string) error {
	n := len(s)
	valid := utf8.ValidString(s)
	if !valid {
		n = fixedLen(s)
	}
	var hdr [9]byte
	h := hdr[:0]
	switch {
	case n <= 0xff && e.proto >= 4:
		h = append(h, opShortBinUnicode, byte(n))
	case uint64(n) <= math.MaxUint32:
		h = append(h, opBinUnicode)
		h = binary.LittleEndian.AppendUint32(h, uint32(n))
	case e.proto >= 4:
		h = append(h, opBinUnicode8)
		h = binary.LittleEndian.AppendUint64(h, uint64(n))
	default:
		return errors.New("pickle: serializing a string larger than 4 GiB requires pickle protocol 4 or higher")
	}
	e.beginPayload(h, n)
	if valid {
		e.buf = append(e.buf, s...)
	} else {
		e.buf = appendFixed(e.buf, s)
	}
	e.memoPut()
	return nil
}

// saveBytes is save_bytes for protocol 3 and up (_save_bytes_data).
func (e *encoder) saveBytes(b []byte) error {
	if e.proto < 3 {
		return fmt.Errorf("pickle: cannot encode []byte with protocol %d (Python reduces bytes to codecs.encode there): %w",
			e.proto, ErrUnsupportedType)
	}
	n := len(b)
	var hdr [9]byte
	h := hdr[:0]
	switch {
	case n <= maxShortBinBytes:
		h = append(h, opShortBinBytes, byte(n))
	case uint64(n) <= math.MaxUint32:
		h = append(h, opBinBytes)
		h = binary.LittleEndian.AppendUint32(h, uint32(n))
	case e.proto >= 4:
		h = append(h, opBinBytes8)
		h = binary.LittleEndian.AppendUint64(h, uint64(n))
	default:
		return errors.New("pickle: serializing a bytes object larger than 4 GiB requires pickle protocol 4 or higher")
	}
	e.beginPayload(h, n)
	e.buf = append(e.buf, b...)
	e.memoPut()
	return nil
}

// beginPayload starts _Pickler_write_bytes: it writes the header of a str
// or bytes payload of n bytes, which the caller appends next. A payload of
// frameSizeTarget bytes or more commits the open frame and goes, with its
// header, outside any frame (the next write opens a new one).
func (e *encoder) beginPayload(header []byte, n int) {
	if n >= frameSizeTarget {
		e.commitFrame()
	} else {
		e.open()
	}
	e.buf = append(e.buf, header...)
}

func (e *encoder) saveTuple(t py.Tuple, depth int) error {
	if len(t) == 0 {
		e.op(opEmptyTuple) // the empty tuple is a singleton: not memoized
		return nil
	}
	if depth >= maxDepth {
		return ErrTooDeep
	}
	if len(t) > 3 {
		e.op(opMark)
	}
	for _, x := range t {
		if err := e.save(x, depth+1); err != nil {
			return err
		}
	}
	if len(t) > 3 {
		e.op(opTuple)
	} else {
		e.op(opTuple1 + byte(len(t)-1))
	}
	e.memoPut()
	return nil
}

// saveList is save_list with batch_list_exact.
func (e *encoder) saveList(l []any, depth int) error {
	if depth >= maxDepth {
		return ErrTooDeep
	}
	e.op(opEmptyList)
	e.memoPut()
	if len(l) == 1 {
		if err := e.save(l[0], depth+1); err != nil {
			return err
		}
		e.op(opAppend)
		return nil
	}
	for total := 0; total < len(l); {
		e.op(opMark)
		for batch := 0; total < len(l) && batch < batchSize; batch++ {
			if err := e.save(l[total], depth+1); err != nil {
				return err
			}
			total++
		}
		e.op(opAppends)
	}
	return nil
}

// saveDict is save_dict with batch_dict_exact, whose loop writes one more,
// empty, MARK..SETITEMS batch when the size is a multiple of 1000.
func (e *encoder) saveDict(d py.Dict, depth int) error {
	if depth >= maxDepth {
		return ErrTooDeep
	}
	e.op(opEmptyDict)
	e.memoPut()
	switch len(d) {
	case 0:
		return nil
	case 1:
		if err := e.saveItem(d[0], depth); err != nil {
			return err
		}
		e.op(opSetItem)
		return nil
	}
	for next := 0; ; {
		e.op(opMark)
		batch := 0
		for ; next < len(d) && batch < batchSize; batch++ {
			if err := e.saveItem(d[next], depth); err != nil {
				return err
			}
			next++
		}
		e.op(opSetItems)
		if batch < batchSize {
			return nil
		}
	}
}

func (e *encoder) saveItem(it py.Item, depth int) error {
	if err := e.saveKey(it.Key); err != nil {
		return err
	}
	return e.save(it.Value, depth+1)
}

// fixedLen is the length of s once each byte that is not valid UTF-8 is
// replaced by U+FFFD (3 bytes).
func fixedLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += 3
		} else {
			n += size
		}
		i += size
	}
	return n
}

// appendFixed appends s with each invalid byte replaced by U+FFFD.
func appendFixed(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
