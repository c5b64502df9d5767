package mysqldialect

import "github.com/celery-bench/bench/backends"

// Values are rendered as PyMySQL 1.0 (pymysql.converters) and mysqlclient
// (string_literal, mysql_real_escape_string) render parameters on the
// client: quoted, with NUL, \n, \r, \, ', " and ^Z escaped by a backslash,
// or, when the server runs with NO_BACKSLASH_ESCAPES, with only the quotes
// doubled. Every other byte, UTF-8 or binary, goes as is.

// AppendString appends s as a string literal.
func AppendString(dst []byte, s string, noBackslash bool) []byte {
	return appendQuoted(dst, s, noBackslash)
}

// AppendBytes appends b as PyMySQL writes a bytes parameter
// (converters.escape_bytes): the raw bytes in a plain '…' literal, with no
// _binary prefix, escaped as strings are.
func AppendBytes(dst, b []byte, noBackslash bool) []byte {
	return appendQuoted(dst, b, noBackslash)
}

// appendQuoted appends s quoted, each byte escaped by appendEscaped.
func appendQuoted[T string | []byte](dst []byte, s T, noBackslash bool) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		dst = appendEscaped(dst, s[i], noBackslash)
	}
	return append(dst, '\'')
}

// appendEscaped appends one byte of a string literal.
func appendEscaped(dst []byte, c byte, noBackslash bool) []byte {
	if noBackslash {
		if c == '\'' {
			return append(dst, '\'', '\'')
		}
		return append(dst, c)
	}
	switch c {
	case 0:
		return append(dst, '\\', '0')
	case '\\':
		return append(dst, '\\', '\\')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case 0x1a:
		return append(dst, '\\', 'Z')
	case '"':
		return append(dst, '\\', '"')
	case '\'':
		return append(dst, '\\', '\'')
	}
	return append(dst, c)
}

// AppendLike appends a LIKE pattern literal matching every string that
// starts with prefix: backends.LikePrefix (LIKE's wildcards and its
// escape character escaped with a backslash, then '%') as a string
// literal. Under NO_BACKSLASH_ESCAPES the pattern is the same; only its
// literal doubles quotes instead of escaping.
func AppendLike(dst []byte, prefix string, noBackslash bool) []byte {
	return AppendString(dst, backends.LikePrefix(prefix), noBackslash)
}
