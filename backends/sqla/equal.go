package sqla

import (
	"bytes"
	"math"
	"math/big"

	"github.com/celery-bench/bench/backends/codec/py"
)

// PyEqual reports whether Python's == holds between two values of package
// py's value model. It is how SQLAlchemy decides whether the result column
// changed (PickleType.compare_values). bool, int and float compare as
// numbers (True == 1 == 1.0); a list never equals a tuple; dicts compare
// regardless of key order; NaN equals nothing. A value outside the model
// equals nothing, so its column is always written.
func PyEqual(a, b any) bool {
	if x, ok := toNumber(a); ok {
		y, ok := toNumber(b)
		return ok && x.equal(y)
	}
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		s, ok := b.(string)
		return ok && a == s
	case []byte:
		s, ok := b.([]byte)
		return ok && bytes.Equal(a, s)
	case []any:
		s, ok := b.([]any)
		return ok && seqEqual(a, s)
	case py.Tuple:
		s, ok := b.(py.Tuple)
		return ok && seqEqual(a, s)
	case py.Dict:
		d, ok := b.(py.Dict)
		if !ok || len(a) != len(d) {
			return false
		}
		for _, it := range a {
			v, ok := d.Get(it.Key)
			if !ok || !PyEqual(it.Value, v) {
				return false
			}
		}
		return true
	}
	return false
}

func seqEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !PyEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// number is a Python int (exact, as a big.Int) or float.
type number struct {
	isFloat bool
	f       float64
	i       *big.Int
}

func toNumber(v any) (number, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return number{i: big.NewInt(1)}, true
		}
		return number{i: big.NewInt(0)}, true
	case int:
		return number{i: big.NewInt(int64(v))}, true
	case int8:
		return number{i: big.NewInt(int64(v))}, true
	case int16:
		return number{i: big.NewInt(int64(v))}, true
	case int32:
		return number{i: big.NewInt(int64(v))}, true
	case int64:
		return number{i: big.NewInt(v)}, true
	case uint:
		return number{i: new(big.Int).SetUint64(uint64(v))}, true
	case uint8:
		return number{i: big.NewInt(int64(v))}, true
	case uint16:
		return number{i: big.NewInt(int64(v))}, true
	case uint32:
		return number{i: big.NewInt(int64(v))}, true
	case uint64:
		return number{i: new(big.Int).SetUint64(v)}, true
	case *big.Int:
		if v == nil {
			return number{}, false
		}
		return number{i: v}, true
	case big.Int:
		return number{i: &v}, true
	case float32:
		return number{isFloat: true, f: float64(v)}, true
	case float64:
		return number{isFloat: true, f: v}, true
	}
	return number{}, false
}

// equal compares exactly, as Python compares int with float.
func (x number) equal(y number) bool {
	switch {
	case x.isFloat && y.isFloat:
		return x.f == y.f
	case !x.isFloat && !y.isFloat:
		return x.i.Cmp(y.i) == 0
	case x.isFloat:
		return intFloatEqual(y.i, x.f)
	default:
		return intFloatEqual(x.i, y.f)
	}
}

func intFloatEqual(i *big.Int, f float64) bool {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return false
	}
	bf, _ := new(big.Float).SetFloat64(f).Int(nil)
	return bf.Cmp(i) == 0
}
