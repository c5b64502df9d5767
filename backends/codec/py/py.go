// Package py models the Python values that Celery stores as task results, so
// that the JSON and pickle encoders can reproduce what Python writes.
//
// A Go value stands for a Python value as follows:
//
//	nil                   None
//	bool                  bool
//	int, int64            int
//	float64               float
//	string                str
//	[]byte                bytes
//	[]any                 list
//	Tuple                 tuple (a JSON array; a pickle tuple)
//	Dict                  dict, keys in insertion order as Python keeps them
//
// Any other Go type is an error in the encoders.
package py

// Dict is a Python dict whose keys keep their insertion order, as CPython
// dicts do. Keys are strings: Celery's result dicts never have other keys.
type Dict []Item

// Item is one key/value pair of a Dict.
type Item struct {
	Key   string
	Value any
}

// Get returns the value stored under key and whether it was present.
func (d Dict) Get(key string) (any, bool) {
	for _, it := range d {
		if it.Key == key {
			return it.Value, true
		}
	}
	return nil, false
}

// Tuple is a Python tuple. JSON has no tuples, so pyjson writes it as a list;
// pickle keeps it a tuple. Celery's exception records hold their arguments
// in one ("exc_message").
type Tuple []any

// Exception returns the dict Celery stores for an exception when the result
// serializer is JSON (celery.backends.base.Backend.prepare_exception):
// {"exc_type": typ, "exc_message": args, "exc_module": module}.
func Exception(module, typ string, args ...any) Dict {
	return Dict{
		{Key: "exc_type", Value: typ},
		{Key: "exc_message", Value: Tuple(args)},
		{Key: "exc_module", Value: module},
	}
}

// A DictBuilder builds a Dict as a Python dict assigns its keys: a new key
// goes last, a repeated one keeps its place and takes the new value. Small
// dicts are searched linearly; larger ones get an index of key positions.
// The decoders of both wire formats (JSON and pickle) build dicts with it.
// The zero value is an empty builder; it is not safe for concurrent use.
type DictBuilder struct {
	Dict Dict
	idx  map[string]int
}

// dictIndexAt is the size at which a DictBuilder starts indexing keys.
const dictIndexAt = 16

// Set assigns v to key.
func (b *DictBuilder) Set(key string, v any) {
	if b.idx != nil {
		if i, ok := b.idx[key]; ok {
			b.Dict[i].Value = v
			return
		}
		b.idx[key] = len(b.Dict)
	} else {
		for i := range b.Dict {
			if b.Dict[i].Key == key {
				b.Dict[i].Value = v
				return
			}
		}
		if len(b.Dict) == dictIndexAt {
			b.idx = make(map[string]int, 2*dictIndexAt)
			for i := range b.Dict {
				b.idx[b.Dict[i].Key] = i
			}
			b.idx[key] = len(b.Dict)
		}
	}
	b.Dict = append(b.Dict, Item{Key: key, Value: v})
}
