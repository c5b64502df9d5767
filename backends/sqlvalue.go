package backends

import (
	"database/sql/driver"
	"fmt"
)

// ValueBytes reads a text column value as a SQL driver returns it: []byte
// or string as is, nil as nil, anything else as fmt.Sprint writes it.
func ValueBytes(v driver.Value) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case nil:
		return nil
	}
	return []byte(fmt.Sprint(v))
}
