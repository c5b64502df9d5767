// Package pickle writes and reads Python pickles byte for byte as CPython's
// C pickler writes them (protocol 2 to 5, with protocol 4+ framing and
// memoization), for the value model of package py.
package pickle

// Append appends pickle.dumps(v, protocol) to dst and returns the extended
// buffer. It is safe for concurrent use.
func Append(dst []byte, v any, protocol int) ([]byte, error) {
	panic("not yet written")
}

// Decode reads a pickle of the py value model back (None, bool, int, float,
// str, bytes, list, tuple, dict). Other opcodes, such as the GLOBAL/REDUCE of a
// pickled exception object, are an error.
func Decode(data []byte) (any, error) {
	panic("not yet written")
}
