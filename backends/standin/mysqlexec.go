package standin

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// This file is the embedded MySQL's storage and statement execution.

// Value kinds.
const (
	kNull = iota
	kInt
	kStr
	kDate // s is "YYYY-MM-DD HH:MM:SS[.ffffff]"
)

// val is one SQL value.
type val struct {
	k   int
	i   int64
	s   string
	bin bool // a binary string: compared byte by byte, not case-insensitively
}

func (v val) appendText(p []byte) []byte {
	switch v.k {
	case kNull:
		return append(p, 0xfb)
	case kInt:
		var b [20]byte
		return appendLenEncString(p, string(strconv.AppendInt(b[:0], v.i, 10)))
	}
	return appendLenEncString(p, v.s)
}

// text is v as a string (numbers in decimal).
func (v val) text() string {
	if v.k == kInt {
		return strconv.FormatInt(v.i, 10)
	}
	return v.s
}

// num is v as a number, as MySQL converts strings: their leading numeric
// part, 0 if none.
func (v val) num() float64 {
	if v.k == kInt {
		return float64(v.i)
	}
	s := strings.TrimLeft(v.s, " \t\n")
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || s[end] == 'e' || s[end] == 'E' ||
		(s[end] == '-' || s[end] == '+') && (end == 0 || s[end-1] == 'e' || s[end-1] == 'E')) {
		end++
	}
	for ; end > 0; end-- {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
	}
	return 0
}

func boolVal(b bool) val {
	if b {
		return val{k: kInt, i: 1}
	}
	return val{k: kInt, i: 0}
}

// truth is v in a WHERE: true, false or NULL (unknown).
func truth(v val) (bool, bool) {
	switch v.k {
	case kNull:
		return false, false
	case kInt:
		return v.i != 0, true
	}
	return v.num() != 0, true
}

// Column types.
type colType int

const (
	colInt colType = iota
	colVarchar
	colText
	colBlob
	colDatetime
)

type column struct {
	name    string
	typ     colType
	size    int // VARCHAR characters; DATETIME fsp
	notNull bool
	autoInc bool
	primary bool
	unique  bool
}

// typeName is the column's type as information_schema.columns shows it.
func (c column) typeName() (data, full string) {
	switch c.typ {
	case colInt:
		return "int", "int"
	case colVarchar:
		return "varchar", "varchar(" + strconv.Itoa(c.size) + ")"
	case colText:
		return "text", "text"
	case colBlob:
		return "blob", "blob"
	}
	if c.size > 0 {
		return "datetime", "datetime(" + strconv.Itoa(c.size) + ")"
	}
	return "datetime", "datetime"
}

// meta is the column definition the server sends for c.
func (c column) meta(db, tbl string) colMeta {
	m := colMeta{schema: db, table: tbl, name: c.name, orgName: c.name}
	switch c.typ {
	case colInt:
		m.typ, m.charset, m.length = typeLong, collationBinary, 11
	case colVarchar:
		m.typ, m.charset, m.length = typeVarString, collationUTF8MB4, uint32(c.size*4)
	case colText:
		m.typ, m.charset, m.length, m.flags = typeBlob, collationUTF8MB4, 65535*4, flagBlob
	case colBlob:
		m.typ, m.charset, m.length, m.flags = typeBlob, collationBinary, 65535, flagBlob|flagBinary
	case colDatetime:
		m.typ, m.charset, m.length, m.flags = typeDatetime, collationBinary, 19, flagBinary
		if c.size > 0 {
			m.length += uint32(c.size) + 1
			m.decimals = byte(c.size)
		}
	}
	if c.notNull {
		m.flags |= flagNotNull
	}
	if c.primary {
		m.flags |= flagPriKey
	}
	if c.unique {
		m.flags |= flagUnique
	}
	if c.autoInc {
		m.flags |= flagAutoInc
	}
	return m
}

// colMeta is a column of a result set.
type colMeta struct {
	schema, table, name, orgName string
	charset                      uint16
	length                       uint32
	typ                          byte
	flags                        uint16
	decimals                     byte
}

// A table keeps its rows in a map keyed by the integer primary key, and
// each UNIQUE column's values in a map to that key, so that the lookups
// Celery makes (by task_id, by id) cost the same however many rows there
// are. Other conditions scan.
type table struct {
	db, name string
	cols     []column
	byName   map[string]int // lower-cased column name → index
	pk       int            // the primary key column
	nextID   int64          // AUTO_INCREMENT's next value
	rows     map[int64][]val
	uniques  []uniqueIndex
	indexes  map[string]bool // index names, for CREATE INDEX's duplicate check
}

type uniqueIndex struct {
	name string
	col  int
	keys map[string]int64 // uniqueKey(value) → primary key
}

// uniqueKey is the key under which a value goes in a unique index: text
// columns compare case-insensitively (utf8mb4_0900_ai_ci, less its accent
// folding), binary ones exactly.
func uniqueKey(c column, v val) string {
	if c.typ == colVarchar || c.typ == colText {
		return strings.ToLower(v.s)
	}
	return v.text()
}

func (t *table) column(name string) (int, bool) {
	i, ok := t.byName[strings.ToLower(name)]
	return i, ok
}

// insert adds row, checking the primary key and the unique indexes.
func (t *table) insert(row []val) error {
	id := row[t.pk].i
	if _, dup := t.rows[id]; dup {
		return sqlErr(1062, "23000", "Duplicate entry '%d' for key '%s.PRIMARY'", id, t.name)
	}
	for _, u := range t.uniques {
		v := row[u.col]
		if v.k == kNull {
			continue
		}
		if _, dup := u.keys[uniqueKey(t.cols[u.col], v)]; dup {
			return sqlErr(1062, "23000", "Duplicate entry '%s' for key '%s.%s'", errValue(v.text()), t.name, u.name)
		}
	}
	for _, u := range t.uniques {
		if v := row[u.col]; v.k != kNull {
			u.keys[uniqueKey(t.cols[u.col], v)] = id
		}
	}
	t.rows[id] = row
	if id >= t.nextID {
		t.nextID = id + 1
	}
	return nil
}

// remove deletes the row with primary key id and returns it.
func (t *table) remove(id int64) []val {
	row, ok := t.rows[id]
	if !ok {
		return nil
	}
	for _, u := range t.uniques {
		if v := row[u.col]; v.k != kNull {
			delete(u.keys, uniqueKey(t.cols[u.col], v))
		}
	}
	delete(t.rows, id)
	return row
}

// errValue shortens a value quoted in an error message, as MySQL does.
func errValue(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

// database is one database's tables.
type mysqlDB struct {
	name   string
	tables map[string]*table
}

// mysqlServer is the state shared by every connection.
//
// Transactions are serialised: a connection takes txLock at the first
// statement of a transaction that reads or writes a table (its own
// information_schema included) and holds it until COMMIT, ROLLBACK or
// the end of the statement in autocommit mode, so every transaction sees
// only committed data and no two interleave (SERIALIZABLE, in effect).
// Waiting longer than lockWait ends the statement with MySQL's 1205. The
// data in dbs, tables and rows is touched only under txLock.
type mysqlServer struct {
	version  string
	lockWait time.Duration
	txLock   chan struct{} // a one-slot semaphore
	done     chan struct{} // closed by Close

	catMu sync.Mutex // guards dbs itself (which databases exist)
	dbs   map[string]*mysqlDB
}

// lockWaitTimeout is innodb_lock_wait_timeout's default.
const lockWaitTimeout = 50 * time.Second

func (s *mysqlServer) database(name string) *mysqlDB {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	return s.dbs[name]
}

// undo records how to take back one row change.
type undo struct {
	t   *table
	id  int64 // the row inserted (old == nil), or changed or deleted
	old []val // the row before an UPDATE or DELETE
	del bool  // the change was a DELETE
}

// session is one connection's state.
type session struct {
	srv        *mysqlServer
	id         uint32
	db         string
	autocommit bool
	explicit   bool // BEGIN was sent and COMMIT or ROLLBACK not yet
	holding    bool // this session holds srv.txLock
	undo       []undo
	sqlMode    string
	charset    string
	foundRows  bool // CLIENT_FOUND_ROWS: UPDATE reports rows matched, not changed
	lastID     int64
	quit       bool
}

const defaultSQLMode = "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

func newSession(s *mysqlServer, id uint32) *session {
	return &session{srv: s, id: id, autocommit: true, sqlMode: defaultSQLMode, charset: "utf8mb4"}
}

func (ss *session) closed() bool { return ss.quit }

func (ss *session) inTxn() bool { return ss.holding || ss.explicit }

// end rolls back what the connection left open, as MySQL does when a
// client disconnects.
func (ss *session) end() { ss.rollback() }

// reset is COM_RESET_CONNECTION.
func (ss *session) reset() {
	ss.rollback()
	db, found := ss.db, ss.foundRows
	*ss = *newSession(ss.srv, ss.id)
	ss.db, ss.foundRows = db, found
}

func (ss *session) use(db string) error {
	if ss.srv.database(db) == nil {
		return sqlErr(1049, "42000", "Unknown database '%s'", db)
	}
	ss.db = db
	return nil
}

// lock takes srv.txLock for the current transaction, if it does not hold
// it already.
func (ss *session) lock() error {
	if ss.holding {
		return nil
	}
	t := time.NewTimer(ss.srv.lockWait)
	defer t.Stop()
	select {
	case ss.srv.txLock <- struct{}{}:
		ss.holding = true
		return nil
	case <-t.C:
		return sqlErr(1205, "HY000", "Lock wait timeout exceeded; try restarting transaction")
	case <-ss.srv.done:
		ss.quit = true
		return sqlErr(1053, "08S01", "Server shutdown in progress")
	}
}

func (ss *session) release() {
	if ss.holding {
		ss.holding = false
		<-ss.srv.txLock
	}
}

func (ss *session) commit() {
	ss.undo = ss.undo[:0]
	ss.explicit = false
	ss.release()
}

func (ss *session) rollback() {
	ss.undoTo(0)
	ss.explicit = false
	ss.release()
}

// undoTo takes back the changes after the first n.
func (ss *session) undoTo(n int) {
	for i := len(ss.undo) - 1; i >= n; i-- {
		u := ss.undo[i]
		switch {
		case u.old == nil: // an INSERT
			u.t.remove(u.id)
		case u.del:
			u.t.insert(u.old)
		default:
			u.t.remove(u.id)
			u.t.insert(u.old)
		}
	}
	ss.undo = ss.undo[:n]
}

// result is a statement's answer: rows when cols is not nil, else an OK.
type result struct {
	cols     []colMeta
	rows     [][]val
	affected uint64
	insertID uint64
}

// exec runs one statement.
func (ss *session) exec(q string) (*result, error) {
	st, err := parse(q, strings.Contains(ss.sqlMode, "NO_BACKSLASH_ESCAPES"))
	if err != nil {
		return nil, err
	}
	switch st := st.(type) {
	case beginStmt:
		ss.commit()
		ss.explicit = true
		return &result{}, nil
	case commitStmt:
		ss.commit()
		return &result{}, nil
	case rollbackStmt:
		ss.rollback()
		return &result{}, nil
	case *setStmt:
		return &result{}, ss.set(st)
	case useStmt:
		return &result{}, ss.use(st.db)
	case *selectStmt:
		if st.from == nil {
			return ss.selectNoTable(st)
		}
	case *createDBStmt, *dropDBStmt, *createTableStmt, *createIndexStmt, *dropTableStmt:
		// DDL commits the open transaction and then runs on its own.
		ss.commit()
		if err := ss.lock(); err != nil {
			return nil, err
		}
		defer ss.commit()
		return ss.ddl(st)
	}
	if err := ss.lock(); err != nil {
		return nil, err
	}
	mark := len(ss.undo)
	var res *result
	switch st := st.(type) {
	case *selectStmt:
		res, err = ss.selectTable(st)
	case *insertStmt:
		res, err = ss.insert(st)
	case *updateStmt:
		res, err = ss.update(st)
	case *deleteStmt:
		res, err = ss.delete(st)
	}
	if err != nil {
		ss.undoTo(mark) // a failed statement changes nothing
	}
	if ss.autocommit && !ss.explicit {
		ss.commit()
	}
	return res, err
}

// sysVar returns a system variable's value.
func (ss *session) sysVar(name string) (val, bool) {
	name = strings.ToLower(name)
	for _, pre := range []string{"session.", "local.", "global."} {
		name = strings.TrimPrefix(name, pre)
	}
	switch name {
	case "autocommit":
		return boolVal(ss.autocommit), true
	case "sql_mode":
		return val{k: kStr, s: ss.sqlMode}, true
	case "version":
		return val{k: kStr, s: ss.srv.version}, true
	case "version_comment":
		return val{k: kStr, s: "bench embedded MySQL stand-in"}, true
	case "tx_isolation", "transaction_isolation":
		return val{k: kStr, s: "REPEATABLE-READ"}, true
	case "transaction_read_only", "tx_read_only":
		return boolVal(false), true
	case "lower_case_table_names":
		return val{k: kInt, i: 0}, true
	case "max_allowed_packet":
		return val{k: kInt, i: maxPacket}, true
	case "auto_increment_increment", "auto_increment_offset":
		return val{k: kInt, i: 1}, true
	case "wait_timeout", "interactive_timeout":
		return val{k: kInt, i: int64(waitTimeout / time.Second)}, true
	case "innodb_lock_wait_timeout":
		return val{k: kInt, i: int64(ss.srv.lockWait / time.Second)}, true
	case "character_set_client", "character_set_connection", "character_set_results":
		return val{k: kStr, s: ss.charset}, true
	case "character_set_server", "character_set_database":
		return val{k: kStr, s: "utf8mb4"}, true
	case "collation_server", "collation_database", "default_collation_for_utf8mb4":
		return val{k: kStr, s: "utf8mb4_0900_ai_ci"}, true
	case "time_zone":
		return val{k: kStr, s: "SYSTEM"}, true
	case "system_time_zone":
		return val{k: kStr, s: "UTC"}, true
	case "default_storage_engine":
		return val{k: kStr, s: "InnoDB"}, true
	case "information_schema_stats_expiry":
		return val{k: kInt, i: 0}, true
	case "identity", "last_insert_id":
		return val{k: kInt, i: ss.lastID}, true
	}
	return val{}, false
}

func (ss *session) set(st *setStmt) error {
	for _, v := range st.vars {
		x, err := ss.eval(v.e, nil)
		if err != nil {
			return err
		}
		if v.name == "names" {
			ss.charset = strings.ToLower(x.text())
			continue
		}
		if v.scope == "GLOBAL" {
			return sqlErr(1227, "42000", "Access denied; the embedded MySQL stand-in does not change global variables")
		}
		switch v.name {
		case "autocommit":
			on, err := onOff(x, v.name)
			if err != nil {
				return err
			}
			if on && !ss.autocommit {
				ss.commit() // turning autocommit on commits
			}
			ss.autocommit = on
		case "sql_mode":
			if x.k == kNull {
				return sqlErr(1231, "42000", "Variable 'sql_mode' can't be set to the value of 'NULL'")
			}
			m := strings.ToUpper(x.text())
			if m == "DEFAULT" {
				m = defaultSQLMode
			}
			ss.sqlMode = m
		case "character_set_client", "character_set_connection", "character_set_results":
			ss.charset = strings.ToLower(x.text())
		case "information_schema_stats_expiry", "time_zone", "transaction_isolation", "tx_isolation",
			"wait_timeout", "interactive_timeout", "net_read_timeout", "net_write_timeout":
			// Accepted and without effect here.
		default:
			return sqlErr(1193, "HY000", "Unknown system variable '%s'", v.name)
		}
	}
	return nil
}

func onOff(v val, name string) (bool, error) {
	switch {
	case v.k == kInt && (v.i == 0 || v.i == 1):
		return v.i == 1, nil
	case v.k == kStr && (strings.EqualFold(v.s, "ON") || strings.EqualFold(v.s, "TRUE")):
		return true, nil
	case v.k == kStr && (strings.EqualFold(v.s, "OFF") || strings.EqualFold(v.s, "FALSE")):
		return false, nil
	}
	return false, sqlErr(1231, "42000", "Variable '%s' can't be set to the value of '%s'", name, v.text())
}

// ddl runs CREATE and DROP statements, under txLock.
func (ss *session) ddl(st any) (*result, error) {
	srv := ss.srv
	switch st := st.(type) {
	case *createDBStmt:
		srv.catMu.Lock()
		defer srv.catMu.Unlock()
		if srv.dbs[st.name] != nil {
			if st.ifNotExists {
				return &result{}, nil
			}
			return nil, sqlErr(1007, "HY000", "Can't create database '%s'; database exists", st.name)
		}
		srv.dbs[st.name] = &mysqlDB{name: st.name, tables: map[string]*table{}}
		return &result{affected: 1}, nil
	case *dropDBStmt:
		srv.catMu.Lock()
		defer srv.catMu.Unlock()
		d := srv.dbs[st.name]
		if d == nil {
			if st.ifExists {
				return &result{}, nil
			}
			return nil, sqlErr(1008, "HY000", "Can't drop database '%s'; database doesn't exist", st.name)
		}
		delete(srv.dbs, st.name)
		return &result{affected: uint64(len(d.tables))}, nil
	case *dropTableStmt:
		for _, ref := range st.tables {
			d, err := ss.dbOf(ref)
			if err != nil {
				return nil, err
			}
			if d.tables[ref.name] == nil {
				if st.ifExists {
					continue
				}
				return nil, sqlErr(1051, "42S02", "Unknown table '%s.%s'", d.name, ref.name)
			}
			delete(d.tables, ref.name)
		}
		return &result{}, nil
	case *createIndexStmt:
		t, err := ss.table(st.table)
		if err != nil {
			return nil, err
		}
		if t.indexes[strings.ToLower(st.name)] {
			return nil, sqlErr(1061, "42000", "Duplicate key name '%s'", st.name)
		}
		for _, c := range st.cols {
			if _, ok := t.column(c); !ok {
				return nil, sqlErr(1072, "42000", "Key column '%s' doesn't exist in table", c)
			}
		}
		if st.unique {
			return nil, sqlErr(1235, "42000", "The embedded MySQL stand-in does not support CREATE UNIQUE INDEX")
		}
		t.indexes[strings.ToLower(st.name)] = true // ordinary indexes change nothing here
		return &result{}, nil
	case *createTableStmt:
		return ss.createTable(st)
	}
	return nil, sqlErr(1105, "HY000", "unexpected statement")
}

func (ss *session) createTable(st *createTableStmt) (*result, error) {
	d, err := ss.dbOf(st.table)
	if err != nil {
		return nil, err
	}
	if d.tables[st.table.name] != nil {
		if st.ifNotExists {
			return &result{}, nil
		}
		return nil, sqlErr(1050, "42S01", "Table '%s' already exists", st.table.name)
	}
	t := &table{db: d.name, name: st.table.name, byName: map[string]int{}, pk: -1, nextID: 1,
		rows: map[int64][]val{}, indexes: map[string]bool{}}
	for _, cd := range st.cols {
		if _, dup := t.byName[strings.ToLower(cd.name)]; dup {
			return nil, sqlErr(1060, "42S21", "Duplicate column name '%s'", cd.name)
		}
		t.byName[strings.ToLower(cd.name)] = len(t.cols)
		t.cols = append(t.cols, column{name: cd.name, typ: cd.typ, size: cd.size, notNull: cd.notNull, autoInc: cd.autoInc})
		if cd.primary {
			st.primary = append(st.primary, cd.name)
		}
		if cd.unique {
			st.uniques = append(st.uniques, []string{cd.name})
		}
	}
	if len(st.primary) != 1 {
		return nil, sqlErr(1235, "42000", "The embedded MySQL stand-in needs a PRIMARY KEY of one INTEGER column")
	}
	pk, ok := t.column(st.primary[0])
	if !ok {
		return nil, sqlErr(1072, "42000", "Key column '%s' doesn't exist in table", st.primary[0])
	}
	if t.cols[pk].typ != colInt {
		return nil, sqlErr(1235, "42000", "The embedded MySQL stand-in needs a PRIMARY KEY of one INTEGER column")
	}
	t.pk = pk
	t.cols[pk].primary, t.cols[pk].notNull = true, true
	t.indexes["primary"] = true
	for _, u := range st.uniques {
		if len(u) != 1 {
			return nil, sqlErr(1235, "42000", "The embedded MySQL stand-in supports UNIQUE keys of one column only")
		}
		c, ok := t.column(u[0])
		if !ok {
			return nil, sqlErr(1072, "42000", "Key column '%s' doesn't exist in table", u[0])
		}
		if c == pk {
			continue
		}
		t.cols[c].unique = true
		name := t.cols[c].name
		for n := 2; t.indexes[strings.ToLower(name)]; n++ { // MySQL names a second key on x x_2
			name = t.cols[c].name + "_" + strconv.Itoa(n)
		}
		t.indexes[strings.ToLower(name)] = true
		t.uniques = append(t.uniques, uniqueIndex{name: name, col: c, keys: map[string]int64{}})
	}
	d.tables[t.name] = t
	return &result{}, nil
}

func (ss *session) dbOf(ref tableRef) (*mysqlDB, error) {
	name := ref.db
	if name == "" {
		name = ss.db
	}
	if name == "" {
		return nil, sqlErr(1046, "3D000", "No database selected")
	}
	d := ss.srv.database(name)
	if d == nil {
		return nil, sqlErr(1049, "42000", "Unknown database '%s'", name)
	}
	return d, nil
}

// table returns the table ref names: a user table, or information_schema's
// TABLES or COLUMNS built from the catalogue.
func (ss *session) table(ref tableRef) (*table, error) {
	if strings.EqualFold(ref.db, "information_schema") {
		switch strings.ToLower(ref.name) {
		case "tables":
			return ss.srv.infoTables(), nil
		case "columns":
			return ss.srv.infoColumns(), nil
		}
		return nil, sqlErr(1235, "42000", "The embedded MySQL stand-in does not support information_schema.%s", ref.name)
	}
	d, err := ss.dbOf(ref)
	if err != nil {
		return nil, err
	}
	t := d.tables[ref.name]
	if t == nil {
		return nil, sqlErr(1146, "42S02", "Table '%s.%s' doesn't exist", d.name, ref.name)
	}
	return t, nil
}

// virtual returns an empty table of text columns for information_schema.
func virtual(name string, cols ...string) *table {
	t := &table{db: "information_schema", name: name, byName: map[string]int{}, rows: map[int64][]val{}}
	t.cols = append(t.cols, column{name: "#", typ: colInt, primary: true}) // a hidden row key
	for _, c := range cols {
		t.byName[strings.ToLower(c)] = len(t.cols)
		t.cols = append(t.cols, column{name: c, typ: colVarchar, size: 64})
	}
	return t
}

func (s *mysqlServer) sortedDBs() []*mysqlDB {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	out := make([]*mysqlDB, 0, len(s.dbs))
	for _, d := range s.dbs {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *mysqlDB) int { return strings.Compare(a.name, b.name) })
	return out
}

func sortedTables(d *mysqlDB) []*table {
	out := make([]*table, 0, len(d.tables))
	for _, t := range d.tables {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *table) int { return strings.Compare(a.name, b.name) })
	return out
}

func str(s string) val { return val{k: kStr, s: s} }

func (s *mysqlServer) infoTables() *table {
	t := virtual("TABLES", "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE", "ENGINE", "TABLE_ROWS")
	n := int64(0)
	for _, d := range s.sortedDBs() {
		for _, tb := range sortedTables(d) {
			n++
			t.rows[n] = []val{{k: kInt, i: n}, str("def"), str(d.name), str(tb.name), str("BASE TABLE"), str("InnoDB"), str(strconv.Itoa(len(tb.rows)))}
		}
	}
	return t
}

func (s *mysqlServer) infoColumns() *table {
	t := virtual("COLUMNS", "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "COLUMN_NAME", "ORDINAL_POSITION",
		"IS_NULLABLE", "DATA_TYPE", "COLUMN_TYPE", "COLUMN_KEY", "EXTRA")
	n := int64(0)
	for _, d := range s.sortedDBs() {
		for _, tb := range sortedTables(d) {
			for i, c := range tb.cols {
				n++
				nullable, key, extra := "YES", "", ""
				if c.notNull {
					nullable = "NO"
				}
				if c.primary {
					key = "PRI"
				} else if c.unique {
					key = "UNI"
				}
				if c.autoInc {
					extra = "auto_increment"
				}
				data, full := c.typeName()
				t.rows[n] = []val{{k: kInt, i: n}, str("def"), str(d.name), str(tb.name), str(c.name), str(strconv.Itoa(i + 1)),
					str(nullable), str(data), str(full), str(key), str(extra)}
			}
		}
	}
	return t
}

// bind resolves the column references in e against t (nil: no table).
func (ss *session) bind(e *expr, t *table, clause string) error {
	if e == nil {
		return nil
	}
	if e.op == opCol {
		if t == nil {
			return sqlErr(1054, "42S22", "Unknown column '%s' in '%s'", e.name, clause)
		}
		i, ok := t.column(e.name)
		if ok && len(e.qual) > 0 {
			tq := e.qual[len(e.qual)-1]
			if t.db == "information_schema" {
				ok = strings.EqualFold(tq, t.name)
			} else {
				ok = tq == t.name
			}
			if len(e.qual) == 2 && !strings.EqualFold(e.qual[0], t.db) {
				ok = false
			}
		}
		if !ok {
			return sqlErr(1054, "42S22", "Unknown column '%s' in '%s'", strings.Join(append(slices.Clone(e.qual), e.name), "."), clause)
		}
		e.idx, e.table = i, t
		return nil
	}
	for _, a := range e.args {
		if err := ss.bind(a, t, clause); err != nil {
			return err
		}
	}
	return nil
}

// colValue is a stored value as an expression sees it.
func colValue(t *table, i int, row []val) val {
	v := row[i]
	if v.k == kStr && t.cols[i].typ == colBlob {
		v.bin = true
	}
	return v
}

// eval evaluates e on row (nil outside a table).
func (ss *session) eval(e *expr, row []val) (val, error) {
	switch e.op {
	case opLit:
		return e.v, nil
	case opCol:
		if row == nil {
			return val{}, sqlErr(1054, "42S22", "Unknown column '%s' in 'field list'", e.name)
		}
		return colValue(e.table, e.idx, row), nil
	case opSysVar:
		v, ok := ss.sysVar(e.name)
		if !ok {
			return val{}, sqlErr(1193, "HY000", "Unknown system variable '%s'", e.name)
		}
		return v, nil
	case opCount:
		return val{}, sqlErr(1111, "HY000", "Invalid use of group function")
	case opAnd, opOr:
		l, err := ss.eval(e.args[0], row)
		if err != nil {
			return val{}, err
		}
		lt, lok := truth(l)
		if e.op == opAnd && lok && !lt {
			return boolVal(false), nil
		}
		if e.op == opOr && lok && lt {
			return boolVal(true), nil
		}
		r, err := ss.eval(e.args[1], row)
		if err != nil {
			return val{}, err
		}
		rt, rok := truth(r)
		if e.op == opAnd {
			if rok && !rt {
				return boolVal(false), nil
			}
			if lok && rok {
				return boolVal(true), nil
			}
			return val{}, nil
		}
		if rok && rt {
			return boolVal(true), nil
		}
		if lok && rok {
			return boolVal(false), nil
		}
		return val{}, nil
	case opNot:
		v, err := ss.eval(e.args[0], row)
		if err != nil {
			return val{}, err
		}
		b, ok := truth(v)
		if !ok {
			return val{}, nil
		}
		return boolVal(!b), nil
	case opIsNull:
		v, err := ss.eval(e.args[0], row)
		if err != nil {
			return val{}, err
		}
		return boolVal((v.k == kNull) != e.neg), nil
	case opCmp:
		l, err := ss.eval(e.args[0], row)
		if err != nil {
			return val{}, err
		}
		r, err := ss.eval(e.args[1], row)
		if err != nil {
			return val{}, err
		}
		if e.name == "<=>" {
			if l.k == kNull || r.k == kNull {
				return boolVal(l.k == kNull && r.k == kNull), nil
			}
		}
		c, ok := compare(l, r)
		if !ok {
			return val{}, nil
		}
		switch e.name {
		case "=", "<=>":
			return boolVal(c == 0), nil
		case "<":
			return boolVal(c < 0), nil
		case ">":
			return boolVal(c > 0), nil
		case "<=":
			return boolVal(c <= 0), nil
		case ">=":
			return boolVal(c >= 0), nil
		}
		return boolVal(c != 0), nil
	case opIn:
		l, err := ss.eval(e.args[0], row)
		if err != nil {
			return val{}, err
		}
		sawNull := l.k == kNull
		for _, a := range e.args[1:] {
			r, err := ss.eval(a, row)
			if err != nil {
				return val{}, err
			}
			if c, ok := compare(l, r); ok && c == 0 {
				return boolVal(!e.neg), nil
			} else if !ok {
				sawNull = true
			}
		}
		if sawNull {
			return val{}, nil
		}
		return boolVal(e.neg), nil
	case opLike:
		l, err := ss.eval(e.args[0], row)
		if err != nil {
			return val{}, err
		}
		r, err := ss.eval(e.args[1], row)
		if err != nil {
			return val{}, err
		}
		esc := byte('\\')
		if len(e.args) == 3 {
			x, err := ss.eval(e.args[2], row)
			if err != nil {
				return val{}, err
			}
			if len(x.text()) != 1 {
				return val{}, sqlErr(1210, "HY000", "Incorrect arguments to ESCAPE")
			}
			esc = x.text()[0]
		}
		if l.k == kNull || r.k == kNull {
			return val{}, nil
		}
		s, pat := l.text(), r.text()
		if !l.bin && !r.bin {
			s, pat = strings.ToLower(s), strings.ToLower(pat)
		}
		return boolVal(like(s, pat, esc) != e.neg), nil
	case opCast:
		v, err := ss.eval(e.args[0], row)
		if err != nil || v.k == kNull {
			return v, err
		}
		switch e.name {
		case "BINARY":
			return val{k: kStr, s: v.text(), bin: true}, nil
		case "CHAR":
			return val{k: kStr, s: v.text()}, nil
		}
		f := v.num()
		return val{k: kInt, i: int64(math.Round(f))}, nil
	case opNeg, opArith:
		vals := make([]val, len(e.args))
		for i, a := range e.args {
			v, err := ss.eval(a, row)
			if err != nil {
				return val{}, err
			}
			if v.k == kNull {
				return val{}, nil
			}
			vals[i] = v
		}
		if e.op == opNeg {
			if vals[0].k == kInt {
				return val{k: kInt, i: -vals[0].i}, nil
			}
			return str(strconv.FormatFloat(-vals[0].num(), 'g', -1, 64)), nil
		}
		a, b := vals[0], vals[1]
		if a.k == kInt && b.k == kInt && e.name != "/" {
			switch e.name {
			case "+":
				return val{k: kInt, i: a.i + b.i}, nil
			case "-":
				return val{k: kInt, i: a.i - b.i}, nil
			case "*":
				return val{k: kInt, i: a.i * b.i}, nil
			}
		}
		x, y := a.num(), b.num()
		var z float64
		switch e.name {
		case "+":
			z = x + y
		case "-":
			z = x - y
		case "*":
			z = x * y
		default:
			if y == 0 {
				return val{}, nil
			}
			z = x / y
		}
		return str(strconv.FormatFloat(z, 'f', -1, 64)), nil
	case opFunc:
		return ss.call(e, row)
	}
	return val{}, sqlErr(1105, "HY000", "unexpected expression")
}

func (ss *session) call(e *expr, row []val) (val, error) {
	args := make([]val, len(e.args))
	for i, a := range e.args {
		v, err := ss.eval(a, row)
		if err != nil {
			return val{}, err
		}
		args[i] = v
	}
	nargs := func(n int) error {
		if len(args) != n {
			return sqlErr(1582, "42000", "Incorrect parameter count in the call to native function '%s'", e.name)
		}
		return nil
	}
	switch e.name {
	case "VERSION":
		return str(ss.srv.version), nargs(0)
	case "DATABASE", "SCHEMA":
		if ss.db == "" {
			return val{}, nargs(0)
		}
		return str(ss.db), nargs(0)
	case "CONNECTION_ID":
		return val{k: kInt, i: int64(ss.id)}, nargs(0)
	case "LAST_INSERT_ID":
		return val{k: kInt, i: ss.lastID}, nargs(0)
	case "USER", "CURRENT_USER", "SESSION_USER", "SYSTEM_USER":
		return str("root@localhost"), nargs(0)
	case "LENGTH", "OCTET_LENGTH", "CHAR_LENGTH", "CHARACTER_LENGTH":
		if err := nargs(1); err != nil || args[0].k == kNull {
			return val{}, err
		}
		s := args[0].text()
		if (e.name == "CHAR_LENGTH" || e.name == "CHARACTER_LENGTH") && !args[0].bin {
			return val{k: kInt, i: int64(utf8.RuneCountInString(s))}, nil
		}
		return val{k: kInt, i: int64(len(s))}, nil
	}
	return val{}, sqlErr(1305, "42000", "FUNCTION %s does not exist in the embedded MySQL stand-in", e.name)
}

// compare orders two non-NULL values as MySQL compares them: as times
// when either is a DATETIME, as numbers when either is one, as bytes when
// either is binary, and case-insensitively otherwise.
func compare(a, b val) (int, bool) {
	if a.k == kNull || b.k == kNull {
		return 0, false
	}
	if a.k == kDate || b.k == kDate {
		ta, okA := parseDatetime(a.text())
		tb, okB := parseDatetime(b.text())
		if okA && okB {
			return ta.Compare(tb), true
		}
	}
	if a.k == kInt && b.k == kInt {
		return cmpInt(a.i, b.i), true
	}
	if a.k == kInt || b.k == kInt {
		x, y := a.num(), b.num()
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	if a.bin || b.bin {
		return strings.Compare(a.s, b.s), true
	}
	return strings.Compare(strings.ToLower(a.s), strings.ToLower(b.s)), true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// like matches s against a LIKE pattern: % any run, _ one character (a
// byte here, which is a character for ASCII), esc quoting the next one.
func like(s, pat string, esc byte) bool {
	// Iterative matching with one backtrack point, as for globs.
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(pat) {
			c := pat[pi]
			switch {
			case c == '%':
				starP, starS = pi, si
				pi++
				continue
			case c == esc && pi+1 < len(pat):
				if s[si] == pat[pi+1] {
					si, pi = si+1, pi+2
					continue
				}
			case c == '_':
				_, n := utf8.DecodeRuneInString(s[si:])
				si, pi = si+n, pi+1
				continue
			case c == s[si]:
				si, pi = si+1, pi+1
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		si, pi = starS, starP+1
	}
	for pi < len(pat) && pat[pi] == '%' {
		pi++
	}
	return pi == len(pat)
}

// parseDatetime reads 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' (or with a T).
func parseDatetime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// store converts v for column c of row number rowNum (1-based), as MySQL
// does in strict mode.
func store(c column, v val, rowNum int) (val, error) {
	if v.k == kNull {
		if c.notNull && !c.autoInc {
			return v, sqlErr(1048, "23000", "Column '%s' cannot be null", c.name)
		}
		return v, nil
	}
	switch c.typ {
	case colInt:
		if v.k == kInt {
			return val{k: kInt, i: v.i}, nil
		}
		s := strings.TrimSpace(v.text())
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return val{k: kInt, i: n}, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return val{k: kInt, i: int64(math.Round(f))}, nil
		}
		return v, sqlErr(1366, "HY000", "Incorrect integer value: '%s' for column '%s' at row %d", errValue(s), c.name, rowNum)
	case colVarchar, colText:
		s := v.text()
		if !utf8.ValidString(s) {
			return v, sqlErr(1366, "HY000", "Incorrect string value: '%s' for column '%s' at row %d", errValue(s), c.name, rowNum)
		}
		if c.typ == colVarchar && utf8.RuneCountInString(s) > c.size || c.typ == colText && len(s) > 65535 {
			return v, sqlErr(1406, "22001", "Data too long for column '%s' at row %d", c.name, rowNum)
		}
		return str(s), nil
	case colBlob:
		s := v.text()
		if len(s) > 65535 {
			return v, sqlErr(1406, "22001", "Data too long for column '%s' at row %d", c.name, rowNum)
		}
		return str(s), nil
	}
	// DATETIME: MySQL 8 rounds the fraction to the column's precision.
	t, ok := parseDatetime(v.text())
	if !ok || t.Year() < 1000 {
		return v, sqlErr(1292, "22007", "Incorrect datetime value: '%s' for column '%s' at row %d", errValue(v.text()), c.name, rowNum)
	}
	unit := time.Second
	for range c.size {
		unit /= 10
	}
	t = t.Round(unit)
	f := "2006-01-02 15:04:05"
	if c.size > 0 {
		f += "." + strings.Repeat("0", c.size)
	}
	return val{k: kDate, s: t.Format(f)}, nil
}

// Row selection.

// candidates returns the primary keys of the rows of t that where may
// match, in primary key order: one row when where pins the primary key or
// a unique column to a constant, else every row.
func (ss *session) candidates(t *table, where *expr) ([]int64, error) {
	if id, ok, err := ss.pointLookup(t, where); err != nil {
		return nil, err
	} else if ok {
		if id < 0 {
			return nil, nil
		}
		return []int64{id}, nil
	}
	ids := make([]int64, 0, len(t.rows))
	for id := range t.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// pointLookup finds, in where or its top-level ANDs, col = constant on the
// primary key or a unique column, and returns the only row that can match
// (-1 for none).
func (ss *session) pointLookup(t *table, where *expr) (int64, bool, error) {
	if where == nil {
		return 0, false, nil
	}
	if where.op == opAnd {
		for _, a := range where.args {
			if id, ok, err := ss.pointLookup(t, a); ok || err != nil {
				return id, ok, err
			}
		}
		return 0, false, nil
	}
	if where.op != opCmp || where.name != "=" {
		return 0, false, nil
	}
	col, lit := where.args[0], where.args[1]
	if col.op != opCol {
		col, lit = lit, col
	}
	if col.op != opCol || col.table != t || lit.op != opLit || lit.v.k == kNull {
		return 0, false, nil
	}
	if col.idx == t.pk {
		if lit.v.k != kInt {
			return 0, false, nil
		}
		if _, ok := t.rows[lit.v.i]; !ok {
			return -1, true, nil
		}
		return lit.v.i, true, nil
	}
	for _, u := range t.uniques {
		if u.col == col.idx && !lit.v.bin && lit.v.k == kStr {
			id, ok := u.keys[uniqueKey(t.cols[u.col], lit.v)]
			if !ok {
				return -1, true, nil
			}
			return id, true, nil
		}
	}
	return 0, false, nil
}

// matching returns the primary keys of the rows where selects, in order.
func (ss *session) matching(t *table, where *expr) ([]int64, error) {
	ids, err := ss.candidates(t, where)
	if err != nil || where == nil {
		return ids, err
	}
	out := ids[:0]
	for _, id := range ids {
		v, err := ss.eval(where, t.rows[id])
		if err != nil {
			return nil, err
		}
		if b, ok := truth(v); ok && b {
			out = append(out, id)
		}
	}
	return out, nil
}

// exprMeta is the column definition of a select item that is not a column.
func (ss *session) exprMeta(e *expr, name string) colMeta {
	m := colMeta{name: name, typ: typeVarString, charset: collationUTF8MB4, length: 256}
	switch e.op {
	case opCol:
		m := e.table.cols[e.idx].meta(e.table.db, e.table.name)
		m.name = name
		return m
	case opCount, opIsNull, opIn, opLike, opCmp, opAnd, opOr, opNot:
		m.typ, m.charset, m.length, m.flags = typeLongLong, collationBinary, 21, flagBinary
	case opLit:
		if e.v.k == kInt {
			m.typ, m.charset, m.length, m.flags = typeLongLong, collationBinary, 21, flagBinary|flagNotNull
		} else if e.v.bin {
			m.charset, m.flags = collationBinary, flagBinary
		}
	case opSysVar:
		if v, ok := ss.sysVar(e.name); ok && v.k == kInt {
			m.typ, m.charset, m.length, m.flags = typeLongLong, collationBinary, 21, flagBinary
		}
	case opCast:
		switch e.name {
		case "BINARY":
			m.charset, m.flags = collationBinary, flagBinary
		case "SIGNED", "UNSIGNED":
			m.typ, m.charset, m.length, m.flags = typeLongLong, collationBinary, 21, flagBinary
		}
	case opFunc:
		switch e.name {
		case "LENGTH", "OCTET_LENGTH", "CHAR_LENGTH", "CHARACTER_LENGTH", "CONNECTION_ID", "LAST_INSERT_ID":
			m.typ, m.charset, m.length, m.flags = typeLongLong, collationBinary, 21, flagBinary
		}
	case opArith, opNeg:
		m.typ, m.charset, m.length, m.flags = typeLongLong, collationBinary, 21, flagBinary
	}
	return m
}

func itemName(it selItem) string {
	if it.alias != "" {
		return it.alias
	}
	if it.e.op == opCol {
		return it.e.name
	}
	return it.text
}

func (ss *session) selectNoTable(st *selectStmt) (*result, error) {
	res := &result{}
	row := make([]val, len(st.items))
	for i, it := range st.items {
		if err := ss.bind(it.e, nil, "field list"); err != nil {
			return nil, err
		}
		v, err := ss.eval(it.e, nil)
		if err != nil {
			return nil, err
		}
		row[i] = v
		m := ss.exprMeta(it.e, itemName(it))
		if it.e.op == opFunc && v.k == kInt {
			m.typ, m.charset, m.length, m.flags = typeLongLong, collationBinary, 21, flagBinary
		}
		res.cols = append(res.cols, m)
	}
	if st.where != nil {
		if err := ss.bind(st.where, nil, "where clause"); err != nil {
			return nil, err
		}
		v, err := ss.eval(st.where, nil)
		if err != nil {
			return nil, err
		}
		if b, ok := truth(v); !ok || !b {
			return res, nil
		}
	}
	if st.limit != 0 && st.offset == 0 {
		res.rows = [][]val{row}
	}
	return res, nil
}

func (ss *session) selectTable(st *selectStmt) (*result, error) {
	t, err := ss.table(*st.from)
	if err != nil {
		return nil, err
	}
	if st.star {
		st.items = nil
		for _, c := range t.cols {
			if c.name != "#" {
				st.items = append(st.items, selItem{e: &expr{op: opCol, name: c.name}})
			}
		}
	}
	agg := false
	for _, it := range st.items {
		if err := ss.bind(it.e, t, "field list"); err != nil {
			return nil, err
		}
		if it.e.op == opCount {
			agg = true
		}
	}
	if err := ss.bind(st.where, t, "where clause"); err != nil {
		return nil, err
	}
	for _, o := range st.order {
		if err := ss.bind(o.e, t, "order clause"); err != nil {
			return nil, err
		}
	}
	res := &result{}
	for _, it := range st.items {
		res.cols = append(res.cols, ss.exprMeta(it.e, itemName(it)))
	}
	if agg {
		return ss.aggregate(t, st, res)
	}
	ids, err := ss.matching(t, st.where)
	if err != nil {
		return nil, err
	}
	if len(st.order) > 0 {
		var sortErr error
		slices.SortStableFunc(ids, func(a, b int64) int {
			for _, o := range st.order {
				x, err1 := ss.eval(o.e, t.rows[a])
				y, err2 := ss.eval(o.e, t.rows[b])
				if err1 != nil || err2 != nil {
					if sortErr = err1; sortErr == nil {
						sortErr = err2
					}
					return 0
				}
				c := 0
				switch {
				case x.k == kNull && y.k == kNull:
				case x.k == kNull:
					c = -1
				case y.k == kNull:
					c = 1
				default:
					c, _ = compare(x, y)
				}
				if o.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		if sortErr != nil {
			return nil, sortErr
		}
	}
	ids = ids[min(int(st.offset), len(ids)):]
	if st.limit >= 0 && int64(len(ids)) > st.limit {
		ids = ids[:st.limit]
	}
	res.rows = make([][]val, 0, len(ids))
	for _, id := range ids {
		src := t.rows[id]
		row := make([]val, len(st.items))
		for i, it := range st.items {
			v, err := ss.eval(it.e, src)
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		res.rows = append(res.rows, row)
	}
	return res, nil
}

// aggregate answers a SELECT whose items are all COUNT(…).
func (ss *session) aggregate(t *table, st *selectStmt, res *result) (*result, error) {
	for _, it := range st.items {
		if it.e.op != opCount {
			return nil, sqlErr(1140, "42000", "In aggregated query without GROUP BY, the embedded MySQL stand-in supports only COUNT(…) items")
		}
	}
	var ids []int64
	if st.where != nil || anyCountArg(st) {
		var err error
		if ids, err = ss.matching(t, st.where); err != nil {
			return nil, err
		}
	}
	row := make([]val, len(st.items))
	for i, it := range st.items {
		n := int64(len(t.rows))
		if st.where != nil || len(it.e.args) > 0 {
			n = 0
			for _, id := range ids {
				if len(it.e.args) > 0 {
					v, err := ss.eval(it.e.args[0], t.rows[id])
					if err != nil {
						return nil, err
					}
					if v.k == kNull {
						continue
					}
				}
				n++
			}
		}
		row[i] = val{k: kInt, i: n}
	}
	if st.limit != 0 && st.offset == 0 {
		res.rows = [][]val{row}
	}
	return res, nil
}

func anyCountArg(st *selectStmt) bool {
	for _, it := range st.items {
		if len(it.e.args) > 0 {
			return true
		}
	}
	return false
}

func (ss *session) writable(ref tableRef) (*table, error) {
	t, err := ss.table(ref)
	if err != nil {
		return nil, err
	}
	if t.db == "information_schema" {
		return nil, sqlErr(1044, "42000", "Access denied for user 'root'@'localhost' to database 'information_schema'")
	}
	return t, nil
}

func (ss *session) insert(st *insertStmt) (*result, error) {
	t, err := ss.writable(st.table)
	if err != nil {
		return nil, err
	}
	cols := make([]int, 0, len(t.cols))
	if st.cols == nil {
		for i := range t.cols {
			cols = append(cols, i)
		}
	} else {
		seen := map[int]bool{}
		for _, name := range st.cols {
			i, ok := t.column(name)
			if !ok {
				return nil, sqlErr(1054, "42S22", "Unknown column '%s' in 'field list'", name)
			}
			if seen[i] {
				return nil, sqlErr(1110, "42000", "Column '%s' specified twice", name)
			}
			seen[i] = true
			cols = append(cols, i)
		}
	}
	res := &result{}
	var firstID int64
	for n, exprs := range st.rows {
		if len(exprs) != len(cols) {
			return nil, sqlErr(1136, "21S01", "Column count doesn't match value count at row %d", n+1)
		}
		row := make([]val, len(t.cols))
		given := make([]bool, len(t.cols))
		for j, e := range exprs {
			if err := ss.bind(e, nil, "field list"); err != nil {
				return nil, err
			}
			v, err := ss.eval(e, nil)
			if err != nil {
				return nil, err
			}
			c := cols[j]
			if row[c], err = store(t.cols[c], v, n+1); err != nil {
				return nil, err
			}
			given[c] = true
		}
		for i, c := range t.cols {
			if !given[i] && c.notNull && !c.autoInc {
				return nil, sqlErr(1364, "HY000", "Field '%s' doesn't have a default value", c.name)
			}
		}
		pk := &row[t.pk]
		if pk.k == kNull || pk.i == 0 && t.cols[t.pk].autoInc {
			if !t.cols[t.pk].autoInc {
				return nil, sqlErr(1364, "HY000", "Field '%s' doesn't have a default value", t.cols[t.pk].name)
			}
			*pk = val{k: kInt, i: t.nextID}
			if firstID == 0 {
				firstID = t.nextID
			}
		}
		if err := t.insert(row); err != nil {
			return nil, err
		}
		ss.undo = append(ss.undo, undo{t: t, id: pk.i})
		res.affected++
	}
	if firstID != 0 {
		ss.lastID = firstID
		res.insertID = uint64(firstID)
	}
	return res, nil
}

func (ss *session) update(st *updateStmt) (*result, error) {
	t, err := ss.writable(st.table)
	if err != nil {
		return nil, err
	}
	type set struct {
		col int
		e   *expr
	}
	sets := make([]set, len(st.sets))
	for i, s := range st.sets {
		c, ok := t.column(s.col)
		if !ok {
			return nil, sqlErr(1054, "42S22", "Unknown column '%s' in 'field list'", s.col)
		}
		if err := ss.bind(s.e, t, "field list"); err != nil {
			return nil, err
		}
		sets[i] = set{c, s.e}
	}
	if err := ss.bind(st.where, t, "where clause"); err != nil {
		return nil, err
	}
	ids, err := ss.matching(t, st.where)
	if err != nil {
		return nil, err
	}
	if st.limit >= 0 && int64(len(ids)) > st.limit {
		ids = ids[:st.limit]
	}
	res := &result{}
	for n, id := range ids {
		old := t.rows[id]
		row := slices.Clone(old)
		for _, s := range sets {
			v, err := ss.eval(s.e, row)
			if err != nil {
				return nil, err
			}
			if row[s.col], err = store(t.cols[s.col], v, n+1); err != nil {
				return nil, err
			}
		}
		changed := false
		for i := range row {
			if row[i] != old[i] {
				changed = true
			}
		}
		if ss.foundRows || changed {
			res.affected++
		}
		if !changed {
			continue
		}
		t.remove(id)
		if err := t.insert(row); err != nil {
			t.insert(old)
			return nil, err
		}
		ss.undo = append(ss.undo, undo{t: t, id: row[t.pk].i, old: old})
	}
	return res, nil
}

func (ss *session) delete(st *deleteStmt) (*result, error) {
	t, err := ss.writable(st.table)
	if err != nil {
		return nil, err
	}
	if err := ss.bind(st.where, t, "where clause"); err != nil {
		return nil, err
	}
	ids, err := ss.matching(t, st.where)
	if err != nil {
		return nil, err
	}
	if st.limit >= 0 && int64(len(ids)) > st.limit {
		ids = ids[:st.limit]
	}
	for _, id := range ids {
		old := t.remove(id)
		ss.undo = append(ss.undo, undo{t: t, id: id, old: old, del: true})
	}
	return &result{affected: uint64(len(ids))}, nil
}
