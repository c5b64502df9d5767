package backends

// LikePrefix returns the LIKE pattern that matches every string starting
// with prefix, for the default escape character backslash (PostgreSQL's,
// and MySQL's/MariaDB's without NO_BACKSLASH_ESCAPES): prefix with '%',
// '_' and '\' each preceded by '\', then '%'. It is the pattern only; each
// dialect quotes it as its driver writes a string literal (which doubles
// the backslashes again where backslash escapes string literals too).
func LikePrefix(prefix string) string {
	p := make([]byte, 0, len(prefix)+4)
	for i := 0; i < len(prefix); i++ {
		switch c := prefix[i]; c {
		case '%', '_', '\\':
			p = append(p, '\\', c)
		default:
			p = append(p, c)
		}
	}
	return string(append(p, '%'))
}
