package backends

import "strings"

// SQLLabel names a SQL statement by its verb and table for error
// messages: "SELECT … FROM celery_taskmeta", "INSERT INTO celery_taskmeta",
// "UPDATE celery_taskmeta". It never includes values.
func SQLLabel(stmt string) string {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return "empty statement"
	}
	if strings.EqualFold(f[0], "UPDATE") && len(f) > 1 {
		return f[0] + " " + f[1]
	}
	for i, w := range f {
		switch w {
		case "FROM", "INTO", "TABLE", "SEQUENCE", "INDEX", "DATABASE":
			if i+1 >= len(f) {
				break
			}
			if i <= 3 {
				return strings.Join(f[:i+2], " ")
			}
			return f[0] + " … " + w + " " + f[i+1]
		}
	}
	return strings.Join(f[:min(len(f), 3)], " ")
}
