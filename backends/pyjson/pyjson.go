// Package pyjson encodes and decodes JSON exactly as Python's json module
// (and so kombu's default serializer) writes it: ", " and ": " separators,
// ASCII-only output with \uXXXX escapes, dict keys in insertion order and
// Python's float repr.
package pyjson

// Append appends the JSON text of v (see package py for the value model) to
// dst and returns the extended buffer, as json.dumps(v) would write it with
// its defaults (ensure_ascii=True, separators=(", ", ": ")).
// It does not retain v or dst. It is safe for concurrent use.
func Append(dst []byte, v any) ([]byte, error) {
	panic("not yet written")
}

// AppendString appends s as a Python JSON string literal (with quotes).
func AppendString(dst []byte, s string) []byte {
	panic("not yet written")
}

// Decode parses JSON text into the py value model: objects become py.Dict in
// document order, arrays []any, numbers int64 when integral and float64
// otherwise, strings string, null nil.
func Decode(data []byte) (any, error) {
	panic("not yet written")
}
