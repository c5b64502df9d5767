package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/celery-bench/bench/backends/codec/py"
)

// ErrUnsupportedOpcode is wrapped by the error Decode returns for an opcode
// outside the subset it reads; the message names the opcode.
var ErrUnsupportedOpcode = errors.New("unsupported opcode")

// Error is the error Decode returns for a malformed or unsupported pickle.
type Error struct {
	Offset int    // offset of the opcode in the input
	Op     string // the opcode's pickletools name, or "" past the end
	Msg    string
	Err    error // ErrUnsupportedOpcode, ErrTooDeep or nil
}

func (e *Error) Error() string {
	if e.Op == "" {
		return fmt.Sprintf("pickle: %s at offset %d", e.Msg, e.Offset)
	}
	return fmt.Sprintf("pickle: %s: %s at offset %d", e.Op, e.Msg, e.Offset)
}

func (e *Error) Unwrap() error { return e.Err }

// Decode reads a pickle of the py value model back (None, bool, int, float,
// str, bytes, list, tuple, dict). Other opcodes, such as the GLOBAL/REDUCE of a
// pickled exception object, are an error.
//
// It reads protocols 0 to 5 as far as they use these opcodes: PROTO, FRAME,
// STOP, MARK, POP, POP_MARK, DUP, NONE, NEWTRUE, NEWFALSE, BININT, BININT1,
// BININT2, LONG1, LONG4, BINFLOAT, SHORT_BINUNICODE, BINUNICODE,
// BINUNICODE8, SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8 (as bytes),
// EMPTY_TUPLE, TUPLE, TUPLE1-3, EMPTY_LIST, LIST, APPEND, APPENDS,
// EMPTY_DICT, DICT, SETITEM, SETITEMS, MEMOIZE, BINPUT, LONG_BINPUT, BINGET
// and LONG_BINGET. Ints come back as int64, dicts as py.Dict in insertion
// order (a repeated key keeps its first place and takes the last value, as
// in Python), tuples as py.Tuple, lists as []any; empty containers are
// non-nil. An object shared through the memo comes back as one Go value
// referenced twice; a self-referencing list or dict is an error.
//
// Unlike pickle.loads, Decode rejects data after STOP, ints beyond int64,
// dict keys that are not str, and str payloads that are not valid UTF-8
// (Python accepts lone surrogates there). Errors are *Error values. The
// result does not alias data. Decode is safe for concurrent use.
func Decode(data []byte) (any, error) {
	return decode(decoder{data: data})
}

// DecodeObjects is Decode that also reads globals and reduced objects
// (STACK_GLOBAL, REDUCE) as Global and *Object values, without importing or
// calling anything: a way to read a pickled Python object's structure, such
// as the member ids of a pickled GroupResult.
func DecodeObjects(data []byte) (any, error) {
	return decode(decoder{data: data, objects: true})
}

func decode(d decoder) (any, error) {
	data := d.data
	v, err := d.run()
	if err != nil {
		return nil, err
	}
	if d.pos != len(data) {
		return nil, &Error{Offset: d.pos, Msg: "data after STOP"}
	}
	return v, nil
}

// node is a list, dict or tuple under construction. Containers live on the
// stack and in the memo as *node, so that APPENDS and SETITEMS reach the
// same object that a BINGET returns, as in Python. resolve turns them into
// py values at STOP.
type node struct {
	kind  byte // opEmptyList, opEmptyDict, opTuple or opReduce (items: func, args)
	items []any
	dict  py.DictBuilder
	state byte // building, resolving or resolved
	value any  // the resolved value
}

const (
	building = iota
	resolving
	resolved
)

type decoder struct {
	objects bool // DecodeObjects: STACK_GLOBAL and REDUCE allowed
	data    []byte
	pos     int
	op      int // offset of the current opcode
	stack   []any
	marks   []int // stack heights at each MARK
	memo    []any
	set     []bool // which memo slots hold a value
	nmemo   int    // slots set: the index MEMOIZE uses
}

func (d *decoder) fail(msg string) error {
	return &Error{Offset: d.op, Op: opName(d.data[d.op]), Msg: msg}
}

func (d *decoder) read(n uint64) ([]byte, error) {
	if n > uint64(len(d.data)-d.pos) {
		return nil, d.fail("pickle data was truncated")
	}
	b := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *decoder) readLen(size int) (uint64, error) {
	b, err := d.read(uint64(size))
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	default:
		return binary.LittleEndian.Uint64(b), nil
	}
}

// fence is the lowest stack index the current opcode may pop.
func (d *decoder) fence() int {
	if len(d.marks) == 0 {
		return 0
	}
	return d.marks[len(d.marks)-1]
}

func (d *decoder) push(v any) { d.stack = append(d.stack, v) }

func (d *decoder) pop() (any, error) {
	if len(d.stack) <= d.fence() {
		return nil, d.fail("unpickling stack underflow")
	}
	v := d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
	return v, nil
}

func (d *decoder) top() (any, error) {
	if len(d.stack) <= d.fence() {
		return nil, d.fail("unpickling stack underflow")
	}
	return d.stack[len(d.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and removes them and
// the mark. The slice aliases the stack: copy it before pushing.
func (d *decoder) popMark() ([]any, error) {
	if len(d.marks) == 0 {
		return nil, d.fail("could not find MARK")
	}
	m := d.marks[len(d.marks)-1]
	d.marks = d.marks[:len(d.marks)-1]
	items := d.stack[m:]
	d.stack = d.stack[:m]
	return items, nil
}

func (d *decoder) memoPut(idx uint64, v any) error {
	if idx >= uint64(len(d.memo)) {
		// A pickle memoizes fewer objects than it has bytes. CPython grows
		// its memo to twice the index, so huge indexes fail there too.
		if idx >= uint64(len(d.data)) {
			return d.fail("memo index too large")
		}
		n := int(idx) + 1
		d.memo = append(d.memo, make([]any, n-len(d.memo))...)
		d.set = append(d.set, make([]bool, n-len(d.set))...)
	}
	if !d.set[idx] {
		d.set[idx] = true
		d.nmemo++
	}
	d.memo[idx] = v
	return nil
}

func (d *decoder) memoGet(idx uint64) error {
	if idx >= uint64(len(d.memo)) || !d.set[idx] {
		return d.fail(fmt.Sprintf("memo value not found at index %d", idx))
	}
	d.push(d.memo[idx])
	return nil
}

// run interprets the pickle opcode by opcode until STOP. It is one switch
// with a case per opcode, as CPython's load loop is: each case is short,
// and splitting them across functions would hide the stack discipline
// they share.
func (d *decoder) run() (any, error) {
	for d.pos < len(d.data) {
		d.op = d.pos
		c := d.data[d.pos]
		d.pos++
		var err error
		switch c {
		case opProto:
			var b []byte
			if b, err = d.read(1); err == nil && b[0] > HighestProtocol {
				err = d.fail(fmt.Sprintf("unsupported pickle protocol: %d", b[0]))
			}
		case opFrame:
			var n uint64
			if n, err = d.readLen(8); err == nil && n > uint64(len(d.data)-d.pos) {
				err = d.fail("pickle exhausted before end of frame")
			}
		case opStop:
			v, err := d.pop()
			if err != nil {
				return nil, err
			}
			return d.resolve(v, 0)
		case opMark:
			d.marks = append(d.marks, len(d.stack))
		case opPop:
			if len(d.stack) > d.fence() {
				d.stack = d.stack[:len(d.stack)-1]
			} else {
				_, err = d.popMark() // POP of an empty mark frame drops the mark, as CPython does
			}
		case opPopMark:
			_, err = d.popMark()
		case opDup:
			var v any
			if v, err = d.top(); err == nil {
				d.push(v)
			}
		case opNone:
			d.push(nil)
		case opNewTrue:
			d.push(true)
		case opNewFalse:
			d.push(false)
		case opBinInt1, opBinInt2, opBinInt:
			err = d.loadBinInt(c)
		case opLong1, opLong4:
			err = d.loadLong(c)
		case opBinFloat:
			var b []byte
			if b, err = d.read(8); err == nil {
				d.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case opShortBinUnicode, opBinUnicode, opBinUnicode8:
			err = d.loadStr(c)
		case opShortBinBytes, opBinBytes, opBinBytes8, opByteArray8:
			err = d.loadBytes(c)
		case opEmptyTuple:
			d.push(&node{kind: opTuple, items: []any{}})
		case opTuple:
			var items []any
			if items, err = d.popMark(); err == nil {
				d.push(&node{kind: opTuple, items: append([]any{}, items...)})
			}
		case opTuple1, opTuple2, opTuple3:
			n := int(c-opTuple1) + 1
			if len(d.stack)-d.fence() < n {
				err = d.fail("unpickling stack underflow")
				break
			}
			items := append([]any{}, d.stack[len(d.stack)-n:]...)
			d.stack = d.stack[:len(d.stack)-n]
			d.push(&node{kind: opTuple, items: items})
		case opEmptyList:
			d.push(&node{kind: opEmptyList, items: []any{}})
		case opList:
			var items []any
			if items, err = d.popMark(); err == nil {
				d.push(&node{kind: opEmptyList, items: append([]any{}, items...)})
			}
		case opAppend:
			var v any
			if v, err = d.pop(); err == nil {
				err = d.appendTo(len(d.stack)-1, []any{v})
			}
		case opAppends:
			var items []any
			if items, err = d.popMark(); err == nil {
				err = d.appendTo(len(d.stack)-1, items)
			}
		case opEmptyDict:
			d.push(&node{kind: opEmptyDict, dict: py.DictBuilder{Dict: py.Dict{}}})
		case opDict:
			var items []any
			if items, err = d.popMark(); err == nil {
				n := &node{kind: opEmptyDict, dict: py.DictBuilder{Dict: py.Dict{}}}
				if err = d.setItems(n, items); err == nil {
					d.push(n)
				}
			}
		case opSetItem:
			if len(d.stack)-d.fence() < 3 {
				err = d.fail("unpickling stack underflow")
				break
			}
			kv := d.stack[len(d.stack)-2:]
			d.stack = d.stack[:len(d.stack)-2]
			err = d.setItemsAt(len(d.stack)-1, kv)
		case opSetItems:
			var items []any
			if items, err = d.popMark(); err == nil {
				err = d.setItemsAt(len(d.stack)-1, items)
			}
		case opMemoize:
			var v any
			if v, err = d.top(); err == nil {
				err = d.memoPut(uint64(d.nmemo), v)
			}
		case opBinPut, opLongBinPut:
			var idx uint64
			if idx, err = d.readLen(lenSize(c)); err == nil {
				var v any
				if v, err = d.top(); err == nil {
					err = d.memoPut(idx, v)
				}
			}
		case opBinGet, opLongBinGet:
			var idx uint64
			if idx, err = d.readLen(lenSize(c)); err == nil {
				err = d.memoGet(idx)
			}
		case opStackGlobal:
			if !d.objects {
				return nil, &Error{Offset: d.op, Op: opName(c), Msg: "opcode not supported", Err: ErrUnsupportedOpcode}
			}
			var name, module any
			if name, err = d.pop(); err == nil {
				if module, err = d.pop(); err == nil {
					m, ok1 := module.(string)
					n, ok2 := name.(string)
					if !ok1 || !ok2 {
						err = d.fail("STACK_GLOBAL requires str")
						break
					}
					d.push(Global{Module: m, Name: n})
				}
			}
		case opReduce:
			if !d.objects {
				return nil, &Error{Offset: d.op, Op: opName(c), Msg: "opcode not supported", Err: ErrUnsupportedOpcode}
			}
			var args, fn any
			if args, err = d.pop(); err == nil {
				if fn, err = d.pop(); err == nil {
					if _, ok := fn.(Global); !ok {
						err = d.fail("REDUCE of anything but a global is not supported")
						break
					}
					if a, ok := args.(*node); !ok || a.kind != opTuple {
						err = d.fail("REDUCE arguments must be a tuple")
						break
					}
					d.push(&node{kind: opReduce, items: []any{fn, args}})
				}
			}
		default:
			return nil, &Error{Offset: d.op, Op: opName(c), Msg: "opcode not supported", Err: ErrUnsupportedOpcode}
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, &Error{Offset: d.pos, Msg: "pickle data was truncated (no STOP)"}
}

func (d *decoder) loadBinInt(c byte) error {
	b, err := d.read(uint64(lenSize(c)))
	if err != nil {
		return err
	}
	switch c {
	case opBinInt1:
		d.push(int64(b[0]))
	case opBinInt2:
		d.push(int64(binary.LittleEndian.Uint16(b)))
	default:
		d.push(int64(int32(binary.LittleEndian.Uint32(b))))
	}
	return nil
}

// loadLong reads LONG1/LONG4: a little-endian two's complement of n bytes.
func (d *decoder) loadLong(c byte) error {
	n, err := d.readLen(lenSize(c))
	if err != nil {
		return err
	}
	if c == opLong4 && n > math.MaxInt32 {
		return d.fail("LONG pickle has negative byte count")
	}
	b, err := d.read(n)
	if err != nil {
		return err
	}
	var v int64
	if len(b) > 0 {
		// Sign bytes beyond the eighth must all repeat the sign of the
		// eighth, or the value does not fit an int64.
		k := min(len(b), 8)
		var u uint64
		for i := k - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*k)
		v = int64(u<<shift) >> shift
		sign := byte(0)
		if v < 0 {
			sign = 0xff
		}
		for _, x := range b[k:] {
			if x != sign {
				return d.fail("int out of int64 range")
			}
		}
	}
	d.push(v)
	return nil
}

func (d *decoder) loadStr(c byte) error {
	n, err := d.readLen(lenSize(c))
	if err != nil {
		return err
	}
	b, err := d.read(n)
	if err != nil {
		return err
	}
	if !utf8.Valid(b) {
		return d.fail("str is not valid UTF-8")
	}
	d.push(string(b))
	return nil
}

func (d *decoder) loadBytes(c byte) error {
	n, err := d.readLen(lenSize(c))
	if err != nil {
		return err
	}
	b, err := d.read(n)
	if err != nil {
		return err
	}
	d.push(append([]byte{}, b...))
	return nil
}

// appendTo appends items to the list at stack index i.
func (d *decoder) appendTo(i int, items []any) error {
	if i < d.fence() || i < 0 {
		return d.fail("unpickling stack underflow")
	}
	if len(items) == 0 {
		return nil // CPython returns before it looks at the target
	}
	n, ok := d.stack[i].(*node)
	if !ok || n.kind != opEmptyList {
		return d.fail(fmt.Sprintf("cannot append to %s", typeName(d.stack[i])))
	}
	n.items = append(n.items, items...)
	return nil
}

// setItemsAt sets the key/value pairs kv in the dict at stack index i.
func (d *decoder) setItemsAt(i int, kv []any) error {
	if i < d.fence() || i < 0 {
		return d.fail("unpickling stack underflow")
	}
	if len(kv) == 0 {
		return nil // CPython returns before it looks at the target
	}
	n, ok := d.stack[i].(*node)
	if !ok || n.kind != opEmptyDict {
		return d.fail(fmt.Sprintf("cannot set items of %s", typeName(d.stack[i])))
	}
	return d.setItems(n, kv)
}

func (d *decoder) setItems(n *node, kv []any) error {
	if len(kv)%2 != 0 {
		return d.fail("odd number of items")
	}
	for j := 0; j < len(kv); j += 2 {
		key, ok := kv[j].(string)
		if !ok {
			return d.fail(fmt.Sprintf("dict key of type %s not supported (str only)", typeName(kv[j])))
		}
		n.dict.Set(key, kv[j+1])
	}
	return nil
}

// resolve replaces the nodes in v by py values. A node reached twice (a
// memo reference) resolves once and is shared; a node reached from inside
// itself is a cycle, which the py model cannot hold.
func (d *decoder) resolve(v any, depth int) (any, error) {
	n, ok := v.(*node)
	if !ok {
		return v, nil
	}
	switch n.state {
	case resolved:
		return n.value, nil
	case resolving:
		return nil, &Error{Offset: d.op, Op: "STOP", Msg: "recursive list, dict or tuple not supported"}
	}
	if depth >= maxDepth {
		return nil, &Error{Offset: d.op, Op: "STOP", Msg: "nested too deeply", Err: ErrTooDeep}
	}
	n.state = resolving
	var err error
	if n.kind == opReduce {
		args, err := d.resolve(n.items[1], depth+1)
		if err != nil {
			return nil, err
		}
		n.value = &Object{Func: n.items[0].(Global), Args: args.(py.Tuple)}
	} else if n.kind == opEmptyDict {
		items := n.dict.Dict
		for i := range items {
			if items[i].Value, err = d.resolve(items[i].Value, depth+1); err != nil {
				return nil, err
			}
		}
		n.value = items
	} else {
		for i := range n.items {
			if n.items[i], err = d.resolve(n.items[i], depth+1); err != nil {
				return nil, err
			}
		}
		if n.kind == opTuple {
			n.value = py.Tuple(n.items)
		} else {
			n.value = n.items
		}
	}
	n.state = resolved
	n.items, n.dict = nil, py.DictBuilder{}
	return n.value, nil
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case *node:
		switch v.kind {
		case opEmptyList:
			return "list"
		case opEmptyDict:
			return "dict"
		}
		return "tuple"
	}
	return fmt.Sprintf("%T", v)
}
