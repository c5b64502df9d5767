package standin

import (
	"strconv"
	"strings"
)

// This file parses the SQL the embedded MySQL understands: the statements
// Celery's SQLAlchemy backend (and bench's copy of it) sends, in MySQL's
// syntax, and a little more so that hand-written probes work. What it does
// not know is answered with an ERR packet naming the statement.

// Token kinds.
const (
	tEOF = iota
	tIdent
	tQIdent // `quoted` identifier
	tStr
	tNum
	tOp
	tSysVar // @@[scope.]name; s is the part after @@
)

type token struct {
	kind     int
	s        string // identifier, operator, number text, string value
	bin      bool   // a binary string: _binary'…', x'…', 0x…
	pos, end int    // byte offsets in the statement
}

// lexer splits a statement into tokens. noBackslash is the
// NO_BACKSLASH_ESCAPES sql_mode: backslashes in string literals are then
// ordinary characters.
type lexer struct {
	src         string
	i           int
	noBackslash bool
}

func (lx *lexer) all() ([]token, error) {
	var out []token
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if t.kind == tEOF {
			return out, nil
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func (lx *lexer) skipSpace() error {
	for lx.i < len(lx.src) {
		c := lx.src[lx.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			lx.i++
		case c == '#' || c == '-' && strings.HasPrefix(lx.src[lx.i:], "--") && (lx.i+2 == len(lx.src) || lx.src[lx.i+2] <= ' '):
			if j := strings.IndexByte(lx.src[lx.i:], '\n'); j >= 0 {
				lx.i += j + 1
			} else {
				lx.i = len(lx.src)
			}
		case c == '/' && strings.HasPrefix(lx.src[lx.i:], "/*"):
			j := strings.Index(lx.src[lx.i+2:], "*/")
			if j < 0 {
				return parseErr(lx.src, lx.i)
			}
			lx.i += j + 4
		default:
			return nil
		}
	}
	return nil
}

func (lx *lexer) next() (token, error) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	start := lx.i
	if lx.i >= len(lx.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := lx.src[lx.i]
	switch {
	case c == '\'' || c == '"':
		s, err := lx.str(c)
		return token{kind: tStr, s: s, pos: start, end: lx.i}, err
	case c == '`':
		j := lx.i + 1
		var b strings.Builder
		for {
			k := strings.IndexByte(lx.src[j:], '`')
			if k < 0 {
				return token{}, parseErr(lx.src, start)
			}
			b.WriteString(lx.src[j : j+k])
			j += k + 1
			if j < len(lx.src) && lx.src[j] == '`' { // `` is a backtick
				b.WriteByte('`')
				j++
				continue
			}
			break
		}
		lx.i = j
		return token{kind: tQIdent, s: b.String(), pos: start, end: j}, nil
	case c == '@' && strings.HasPrefix(lx.src[lx.i:], "@@"):
		j := lx.i + 2
		for j < len(lx.src) && (isIdentByte(lx.src[j]) || lx.src[j] == '.') {
			j++
		}
		lx.i = j
		return token{kind: tSysVar, s: lx.src[start+2 : j], pos: start, end: j}, nil
	case (c == 'x' || c == 'X') && lx.i+1 < len(lx.src) && lx.src[lx.i+1] == '\'':
		lx.i++
		s, err := lx.str('\'')
		if err != nil {
			return token{}, err
		}
		b, ok := unhex(s)
		if !ok {
			return token{}, parseErr(lx.src, start)
		}
		return token{kind: tStr, s: b, bin: true, pos: start, end: lx.i}, nil
	case c == '0' && lx.i+1 < len(lx.src) && lx.src[lx.i+1] == 'x':
		j := lx.i + 2
		for j < len(lx.src) && isIdentByte(lx.src[j]) {
			j++
		}
		h := lx.src[lx.i+2 : j]
		if len(h)%2 == 1 {
			h = "0" + h
		}
		b, ok := unhex(h)
		if !ok {
			return token{}, parseErr(lx.src, start)
		}
		lx.i = j
		return token{kind: tStr, s: b, bin: true, pos: start, end: j}, nil
	case c >= '0' && c <= '9' || c == '.' && lx.i+1 < len(lx.src) && lx.src[lx.i+1] >= '0' && lx.src[lx.i+1] <= '9':
		j := lx.i
		for j < len(lx.src) && (lx.src[j] >= '0' && lx.src[j] <= '9' || lx.src[j] == '.') {
			j++
		}
		if j < len(lx.src) && (lx.src[j] == 'e' || lx.src[j] == 'E') {
			k := j + 1
			if k < len(lx.src) && (lx.src[k] == '+' || lx.src[k] == '-') {
				k++
			}
			if k < len(lx.src) && lx.src[k] >= '0' && lx.src[k] <= '9' {
				for k < len(lx.src) && lx.src[k] >= '0' && lx.src[k] <= '9' {
					k++
				}
				j = k
			}
		}
		if j < len(lx.src) && isIdentByte(lx.src[j]) { // 1abc is an identifier
			for j < len(lx.src) && isIdentByte(lx.src[j]) {
				j++
			}
			lx.i = j
			return token{kind: tIdent, s: lx.src[start:j], pos: start, end: j}, nil
		}
		lx.i = j
		return token{kind: tNum, s: lx.src[start:j], pos: start, end: j}, nil
	case isIdentByte(c):
		j := lx.i
		for j < len(lx.src) && isIdentByte(lx.src[j]) {
			j++
		}
		word := lx.src[start:j]
		lx.i = j
		// A character set introducer: _binary'…', _utf8mb4'…'.
		if word[0] == '_' && len(word) > 1 {
			save := lx.i
			if err := lx.skipSpace(); err == nil && lx.i < len(lx.src) && (lx.src[lx.i] == '\'' || lx.src[lx.i] == '"') {
				s, err := lx.str(lx.src[lx.i])
				return token{kind: tStr, s: s, bin: strings.EqualFold(word, "_binary"), pos: start, end: lx.i}, err
			}
			lx.i = save
		}
		return token{kind: tIdent, s: word, pos: start, end: j}, nil
	}
	for _, op := range []string{"<=>", "<=", ">=", "<>", "!=", ":=", "||", "&&"} {
		if strings.HasPrefix(lx.src[lx.i:], op) {
			lx.i += len(op)
			return token{kind: tOp, s: op, pos: start, end: lx.i}, nil
		}
	}
	if strings.IndexByte("(),.;=<>*+-/%!", c) >= 0 {
		lx.i++
		return token{kind: tOp, s: string(c), pos: start, end: lx.i}, nil
	}
	return token{}, parseErr(lx.src, start)
}

// str reads a string literal quoted with q as MySQL does: a doubled quote
// stands for one; unless NO_BACKSLASH_ESCAPES, \0 \' \" \b \n \r \t \Z and
// \\ are escapes, \% and \_ keep their backslash (for LIKE), and a
// backslash before any other character is dropped.
func (lx *lexer) str(q byte) (string, error) {
	start := lx.i
	j := lx.i + 1
	var b []byte
	for {
		if j >= len(lx.src) {
			return "", parseErr(lx.src, start)
		}
		c := lx.src[j]
		switch {
		case c == q:
			if j+1 < len(lx.src) && lx.src[j+1] == q {
				b = append(b, q)
				j += 2
				continue
			}
			lx.i = j + 1
			return string(b), nil
		case c == '\\' && !lx.noBackslash && j+1 < len(lx.src):
			e := lx.src[j+1]
			switch e {
			case '0':
				b = append(b, 0)
			case 'b':
				b = append(b, '\b')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'Z':
				b = append(b, 0x1a)
			case '%', '_':
				b = append(b, '\\', e)
			default:
				b = append(b, e)
			}
			j += 2
		default:
			b = append(b, c)
			j++
		}
	}
}

func unhex(s string) (string, bool) {
	if len(s)%2 != 0 {
		return "", false
	}
	b := make([]byte, len(s)/2)
	for i := range b {
		n, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return "", false
		}
		b[i] = byte(n)
	}
	return string(b), true
}

// parseErr is MySQL's 1064 for a statement, quoting it from offset at.
func parseErr(src string, at int) *mysqlError {
	near := src[min(at, len(src)):]
	if len(near) > 80 {
		near = near[:80]
	}
	return sqlErr(1064, "42000", "You have an error in your SQL syntax; the embedded MySQL stand-in cannot parse the statement near '%s'", near)
}

// notSupported is the answer to a statement that parses but that the
// stand-in has no meaning for.
func notSupported(src string) *mysqlError {
	return sqlErr(1235, "42000", "The embedded MySQL stand-in does not support %s", abbrevStmt(src))
}

// abbrevStmt names a statement in an error: its first words.
func abbrevStmt(src string) string {
	s := strings.Join(strings.Fields(src), " ")
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return "'" + s + "'"
}

// Expressions.

type opcode int

const (
	opLit opcode = iota
	opCol
	opSysVar
	opFunc  // name, args
	opCount // COUNT(*) or COUNT(expr)
	opAnd
	opOr
	opNot
	opCmp // name is the operator
	opIsNull
	opLike
	opIn
	opCast // name is BINARY, CHAR, SIGNED or UNSIGNED
	opNeg
	opArith // name is + - * /
)

type expr struct {
	op    opcode
	v     val      // opLit
	qual  []string // opCol: database and table qualifiers
	name  string   // column, variable, function, operator or cast type
	args  []*expr
	neg   bool // NOT LIKE, NOT IN, IS NOT NULL
	idx   int  // opCol: bound column index
	table *table
}

// parser is a recursive-descent parser over a statement's tokens.
type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isKw reports whether the next token is the keyword kw.
func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.s, kw)
}

func (p *parser) acceptKw(kws ...string) bool {
	save := p.i
	for _, kw := range kws {
		if !p.isKw(kw) {
			p.i = save
			return false
		}
		p.i++
	}
	return true
}

func (p *parser) expectKw(kws ...string) error {
	if !p.acceptKw(kws...) {
		return p.errHere()
	}
	return nil
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.s == op
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.errHere()
	}
	return nil
}

func (p *parser) errHere() error { return parseErr(p.src, p.peek().pos) }

// ident reads an identifier, quoted or not.
func (p *parser) ident() (string, error) {
	t := p.peek()
	if t.kind == tIdent || t.kind == tQIdent {
		p.i++
		return t.s, nil
	}
	return "", p.errHere()
}

// end checks that only an optional ';' is left.
func (p *parser) end() error {
	p.acceptOp(";")
	if p.peek().kind != tEOF {
		return p.errHere()
	}
	return nil
}

// reserved are words that end an expression or a select item where an
// alias could otherwise follow.
var reserved = map[string]bool{
	"FROM": true, "WHERE": true, "ORDER": true, "LIMIT": true, "AND": true, "OR": true, "NOT": true,
	"IS": true, "LIKE": true, "IN": true, "AS": true, "ASC": true, "DESC": true, "BY": true, "SET": true,
	"VALUES": true, "ESCAPE": true, "NULL": true, "OFFSET": true, "BETWEEN": true, "FOR": true, "GROUP": true,
	"HAVING": true, "UNION": true, "INTO": true, "ON": true, "XOR": true,
}

func (p *parser) expr() (*expr, error) { return p.orExpr() }

func (p *parser) orExpr() (*expr, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("OR") || p.acceptOp("||") {
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &expr{op: opOr, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) andExpr() (*expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("AND") || p.acceptOp("&&") {
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &expr{op: opAnd, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) notExpr() (*expr, error) {
	if p.acceptKw("NOT") {
		e, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &expr{op: opNot, args: []*expr{e}}, nil
	}
	return p.cmpExpr()
}

func (p *parser) cmpExpr() (*expr, error) {
	l, err := p.addExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tOp && (t.s == "=" || t.s == "<" || t.s == ">" || t.s == "<=" || t.s == ">=" || t.s == "<>" || t.s == "!=" || t.s == "<=>"):
			p.i++
			r, err := p.addExpr()
			if err != nil {
				return nil, err
			}
			l = &expr{op: opCmp, name: t.s, args: []*expr{l, r}}
		case p.acceptKw("IS"):
			neg := p.acceptKw("NOT")
			if err := p.expectKw("NULL"); err != nil {
				return nil, err
			}
			l = &expr{op: opIsNull, neg: neg, args: []*expr{l}}
		default:
			neg := false
			save := p.i
			if p.acceptKw("NOT") {
				neg = true
			}
			switch {
			case p.acceptKw("LIKE"):
				r, err := p.addExpr()
				if err != nil {
					return nil, err
				}
				args := []*expr{l, r}
				if p.acceptKw("ESCAPE") {
					e, err := p.addExpr()
					if err != nil {
						return nil, err
					}
					args = append(args, e)
				}
				l = &expr{op: opLike, neg: neg, args: args}
			case p.acceptKw("IN"):
				if err := p.expectOp("("); err != nil {
					return nil, err
				}
				args := []*expr{l}
				for {
					e, err := p.expr()
					if err != nil {
						return nil, err
					}
					args = append(args, e)
					if !p.acceptOp(",") {
						break
					}
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				l = &expr{op: opIn, neg: neg, args: args}
			default:
				p.i = save
				return l, nil
			}
		}
	}
}

func (p *parser) addExpr() (*expr, error) {
	l, err := p.mulExpr()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.advance().s
		r, err := p.mulExpr()
		if err != nil {
			return nil, err
		}
		l = &expr{op: opArith, name: op, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) mulExpr() (*expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") {
		op := p.advance().s
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &expr{op: opArith, name: op, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) unary() (*expr, error) {
	if p.acceptOp("-") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		if e.op == opLit && e.v.k == kInt {
			e.v.i = -e.v.i
			return e, nil
		}
		return &expr{op: opNeg, args: []*expr{e}}, nil
	}
	if p.acceptOp("+") {
		return p.unary()
	}
	if p.acceptOp("!") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &expr{op: opNot, args: []*expr{e}}, nil
	}
	return p.primary()
}

func (p *parser) primary() (*expr, error) {
	t := p.peek()
	switch t.kind {
	case tStr:
		p.i++
		return &expr{op: opLit, v: val{k: kStr, s: t.s, bin: t.bin}}, nil
	case tNum:
		p.i++
		if n, err := strconv.ParseInt(t.s, 10, 64); err == nil {
			return &expr{op: opLit, v: val{k: kInt, i: n}}, nil
		}
		return &expr{op: opLit, v: val{k: kStr, s: t.s}}, nil // decimals: compared as numbers
	case tSysVar:
		p.i++
		return &expr{op: opSysVar, name: t.s}, nil
	case tOp:
		if p.acceptOp("(") {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		}
		return nil, p.errHere()
	case tIdent, tQIdent:
		if t.kind == tIdent {
			switch strings.ToUpper(t.s) {
			case "NULL":
				p.i++
				return &expr{op: opLit, v: val{}}, nil
			case "TRUE":
				p.i++
				return &expr{op: opLit, v: val{k: kInt, i: 1}}, nil
			case "FALSE":
				p.i++
				return &expr{op: opLit, v: val{k: kInt, i: 0}}, nil
			}
			if reserved[strings.ToUpper(t.s)] {
				return nil, p.errHere()
			}
			if p.toks[p.i+1].kind == tOp && p.toks[p.i+1].s == "(" {
				return p.call()
			}
		}
		var parts []string
		for {
			s, err := p.ident()
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
			if !p.acceptOp(".") {
				break
			}
		}
		if len(parts) > 3 {
			return nil, parseErr(p.src, t.pos)
		}
		return &expr{op: opCol, qual: parts[:len(parts)-1], name: parts[len(parts)-1]}, nil
	}
	return nil, p.errHere()
}

// call parses a function call.
func (p *parser) call() (*expr, error) {
	name := strings.ToUpper(p.advance().s)
	p.advance() // (
	switch name {
	case "COUNT":
		if p.acceptOp("*") {
			return &expr{op: opCount}, p.expectOp(")")
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &expr{op: opCount, args: []*expr{e}}, p.expectOp(")")
	case "CAST":
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("AS"); err != nil {
			return nil, err
		}
		typ, err := p.ident()
		if err != nil {
			return nil, err
		}
		typ = strings.ToUpper(typ)
		if p.acceptOp("(") { // CHAR(60)
			p.advance()
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
		}
		if typ == "SIGNED" || typ == "UNSIGNED" {
			p.acceptKw("INTEGER")
		}
		switch typ {
		case "BINARY", "CHAR", "SIGNED", "UNSIGNED":
		default:
			return nil, notSupported("CAST(… AS " + typ + ")")
		}
		return &expr{op: opCast, name: typ, args: []*expr{e}}, p.expectOp(")")
	}
	e := &expr{op: opFunc, name: name}
	if p.acceptOp(")") {
		return e, nil
	}
	for {
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		e.args = append(e.args, a)
		if !p.acceptOp(",") {
			break
		}
	}
	return e, p.expectOp(")")
}

// tableName parses [db.]table.
func (p *parser) tableName() (tableRef, error) {
	a, err := p.ident()
	if err != nil {
		return tableRef{}, err
	}
	if p.acceptOp(".") {
		b, err := p.ident()
		if err != nil {
			return tableRef{}, err
		}
		return tableRef{db: a, name: b}, nil
	}
	return tableRef{name: a}, nil
}

type tableRef struct{ db, name string }

// Statements.

type selItem struct {
	e     *expr
	alias string
	text  string // the expression as written, its column name without alias
}

type orderItem struct {
	e    *expr
	desc bool
}

type selectStmt struct {
	star   bool // SELECT *: items are the table's columns
	items  []selItem
	from   *tableRef
	where  *expr
	order  []orderItem
	limit  int64 // -1: none
	offset int64
}

type insertStmt struct {
	table tableRef
	cols  []string // nil: all, in table order
	rows  [][]*expr
}

type setItem struct {
	col string
	e   *expr
}

type updateStmt struct {
	table tableRef
	sets  []setItem
	where *expr
	limit int64
}

type deleteStmt struct {
	table tableRef
	where *expr
	limit int64
}

type createDBStmt struct {
	name        string
	ifNotExists bool
}

type dropDBStmt struct {
	name     string
	ifExists bool
}

type columnDef struct {
	name    string
	typ     colType
	size    int // VARCHAR length in characters; DATETIME fsp
	notNull bool
	autoInc bool
	primary bool
	unique  bool
}

type createTableStmt struct {
	table       tableRef
	ifNotExists bool
	cols        []columnDef
	primary     []string
	uniques     [][]string
}

type createIndexStmt struct {
	name   string
	table  tableRef
	cols   []string
	unique bool
}

type dropTableStmt struct {
	tables   []tableRef
	ifExists bool
}

type setVar struct {
	scope string // "", "SESSION", "GLOBAL"
	name  string // lower case; "names" for SET NAMES
	e     *expr
}

type setStmt struct{ vars []setVar }

type (
	beginStmt    struct{}
	commitStmt   struct{}
	rollbackStmt struct{}
	useStmt      struct{ db string }
)

// parse parses one statement.
func parse(src string, noBackslash bool) (any, error) {
	lx := &lexer{src: src, noBackslash: noBackslash}
	toks, err := lx.all()
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind != tIdent {
		if p.peek().kind == tEOF || p.isOp(";") {
			return nil, sqlErr(1065, "42000", "Query was empty")
		}
		return nil, p.errHere()
	}
	var st any
	switch strings.ToUpper(p.peek().s) {
	case "SELECT":
		st, err = p.selectStmt()
	case "INSERT":
		st, err = p.insertStmt()
	case "UPDATE":
		st, err = p.updateStmt()
	case "DELETE":
		st, err = p.deleteStmt()
	case "CREATE":
		st, err = p.createStmt()
	case "DROP":
		st, err = p.dropStmt()
	case "SET":
		st, err = p.setStmt()
	case "BEGIN":
		p.advance()
		p.acceptKw("WORK")
		st = beginStmt{}
	case "START":
		p.advance()
		if err = p.expectKw("TRANSACTION"); err == nil {
			if p.acceptKw("READ") {
				if !p.acceptKw("WRITE") && !p.acceptKw("ONLY") {
					err = p.errHere()
				}
			}
		}
		st = beginStmt{}
	case "COMMIT":
		p.advance()
		p.acceptKw("WORK")
		st = commitStmt{}
	case "ROLLBACK":
		p.advance()
		p.acceptKw("WORK")
		st = rollbackStmt{}
	case "USE":
		p.advance()
		var db string
		db, err = p.ident()
		st = useStmt{db: db}
	default:
		return nil, notSupported(src)
	}
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return st, nil
}

func (p *parser) limit() (int64, error) {
	t := p.advance()
	if t.kind != tNum {
		return 0, parseErr(p.src, t.pos)
	}
	n, err := strconv.ParseInt(t.s, 10, 64)
	if err != nil || n < 0 {
		return 0, parseErr(p.src, t.pos)
	}
	return n, nil
}

func (p *parser) selectStmt() (*selectStmt, error) {
	p.advance()
	s := &selectStmt{limit: -1}
	if p.acceptOp("*") { // every column, in table order
		s.star = true
		if !p.isKw("FROM") {
			return nil, p.errHere()
		}
	}
	for !s.star {
		start := p.peek().pos
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		it := selItem{e: e, text: strings.TrimSpace(p.src[start:p.toks[p.i-1].end])}
		if p.acceptKw("AS") {
			if it.alias, err = p.aliasName(); err != nil {
				return nil, err
			}
		} else if t := p.peek(); t.kind == tQIdent || t.kind == tStr || t.kind == tIdent && !reserved[strings.ToUpper(t.s)] {
			it.alias, _ = p.aliasName()
		}
		s.items = append(s.items, it)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("FROM") {
		ref, err := p.tableName()
		if err != nil {
			return nil, err
		}
		s.from = &ref
	}
	if p.acceptKw("WHERE") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.where = e
	}
	if p.acceptKw("ORDER", "BY") {
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			it := orderItem{e: e}
			if p.acceptKw("DESC") {
				it.desc = true
			} else {
				p.acceptKw("ASC")
			}
			s.order = append(s.order, it)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("LIMIT") {
		n, err := p.limit()
		if err != nil {
			return nil, err
		}
		s.limit = n
		if p.acceptOp(",") { // LIMIT offset, count
			m, err := p.limit()
			if err != nil {
				return nil, err
			}
			s.offset, s.limit = n, m
		} else if p.acceptKw("OFFSET") {
			if s.offset, err = p.limit(); err != nil {
				return nil, err
			}
		}
	}
	if p.isKw("FOR") || p.isKw("GROUP") || p.isKw("UNION") || p.isKw("HAVING") || p.isKw("INTO") {
		return nil, notSupported(p.src)
	}
	return s, nil
}

func (p *parser) aliasName() (string, error) {
	t := p.peek()
	if t.kind == tStr || t.kind == tIdent || t.kind == tQIdent {
		p.i++
		return t.s, nil
	}
	return "", p.errHere()
}

func (p *parser) identList() ([]string, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []string
	for {
		s, err := p.ident()
		if err != nil {
			return nil, err
		}
		if p.acceptOp("(") { // an index prefix length: col(10)
			p.advance()
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
		}
		p.acceptKw("ASC")
		p.acceptKw("DESC")
		out = append(out, s)
		if !p.acceptOp(",") {
			break
		}
	}
	return out, p.expectOp(")")
}

func (p *parser) insertStmt() (*insertStmt, error) {
	p.advance()
	p.acceptKw("INTO")
	ref, err := p.tableName()
	if err != nil {
		return nil, err
	}
	s := &insertStmt{table: ref}
	if p.isOp("(") {
		if s.cols, err = p.identList(); err != nil {
			return nil, err
		}
	}
	if !p.acceptKw("VALUES") && !p.acceptKw("VALUE") {
		return nil, notSupported(p.src)
	}
	for {
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var row []*expr
		if !p.isOp(")") {
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				row = append(row, e)
				if !p.acceptOp(",") {
					break
				}
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		s.rows = append(s.rows, row)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.isKw("ON") {
		return nil, notSupported(p.src)
	}
	return s, nil
}

func (p *parser) updateStmt() (*updateStmt, error) {
	p.advance()
	ref, err := p.tableName()
	if err != nil {
		return nil, err
	}
	if err := p.expectKw("SET"); err != nil {
		return nil, err
	}
	s := &updateStmt{table: ref, limit: -1}
	for {
		col, err := p.columnName()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.sets = append(s.sets, setItem{col: col, e: e})
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("WHERE") {
		if s.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("LIMIT") {
		if s.limit, err = p.limit(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// columnName parses [table.]column and returns the column.
func (p *parser) columnName() (string, error) {
	s, err := p.ident()
	if err != nil {
		return "", err
	}
	for p.acceptOp(".") {
		if s, err = p.ident(); err != nil {
			return "", err
		}
	}
	return s, nil
}

func (p *parser) deleteStmt() (*deleteStmt, error) {
	p.advance()
	if err := p.expectKw("FROM"); err != nil {
		return nil, err
	}
	ref, err := p.tableName()
	if err != nil {
		return nil, err
	}
	s := &deleteStmt{table: ref, limit: -1}
	if p.acceptKw("WHERE") {
		if s.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.isKw("ORDER") {
		return nil, notSupported(p.src)
	}
	if p.acceptKw("LIMIT") {
		if s.limit, err = p.limit(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) createStmt() (any, error) {
	p.advance()
	switch {
	case p.acceptKw("DATABASE") || p.acceptKw("SCHEMA"):
		s := &createDBStmt{ifNotExists: p.acceptKw("IF", "NOT", "EXISTS")}
		var err error
		if s.name, err = p.ident(); err != nil {
			return nil, err
		}
		for p.peek().kind != tEOF && !p.isOp(";") { // CHARACTER SET …, COLLATE …
			p.advance()
		}
		return s, nil
	case p.acceptKw("TABLE"):
		return p.createTable()
	case p.acceptKw("UNIQUE", "INDEX"):
		return p.createIndex(true)
	case p.acceptKw("INDEX"):
		return p.createIndex(false)
	}
	return nil, notSupported(p.src)
}

func (p *parser) createIndex(unique bool) (*createIndexStmt, error) {
	s := &createIndexStmt{unique: unique}
	var err error
	if s.name, err = p.ident(); err != nil {
		return nil, err
	}
	if err := p.expectKw("ON"); err != nil {
		return nil, err
	}
	if s.table, err = p.tableName(); err != nil {
		return nil, err
	}
	s.cols, err = p.identList()
	return s, err
}

func (p *parser) createTable() (*createTableStmt, error) {
	s := &createTableStmt{ifNotExists: p.acceptKw("IF", "NOT", "EXISTS")}
	var err error
	if s.table, err = p.tableName(); err != nil {
		return nil, err
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for {
		switch {
		case p.acceptKw("PRIMARY", "KEY"):
			cols, err := p.identList()
			if err != nil {
				return nil, err
			}
			s.primary = cols
		case p.acceptKw("UNIQUE"):
			if !p.acceptKw("KEY") {
				p.acceptKw("INDEX")
			}
			if !p.isOp("(") {
				p.ident() // the index name
			}
			cols, err := p.identList()
			if err != nil {
				return nil, err
			}
			s.uniques = append(s.uniques, cols)
		case p.acceptKw("KEY") || p.acceptKw("INDEX"):
			if !p.isOp("(") {
				p.ident()
			}
			if _, err := p.identList(); err != nil {
				return nil, err
			}
		default:
			cd, err := p.columnDef()
			if err != nil {
				return nil, err
			}
			s.cols = append(s.cols, cd)
		}
		if !p.acceptOp(",") {
			break
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	for p.peek().kind != tEOF && !p.isOp(";") { // ENGINE=…, CHARSET=…
		p.advance()
	}
	return s, nil
}

func (p *parser) columnDef() (columnDef, error) {
	var cd columnDef
	var err error
	if cd.name, err = p.ident(); err != nil {
		return cd, err
	}
	t, err := p.ident()
	if err != nil {
		return cd, err
	}
	size := -1
	if p.acceptOp("(") {
		n := p.advance()
		size, err = strconv.Atoi(n.s)
		if err != nil {
			return cd, parseErr(p.src, n.pos)
		}
		if err := p.expectOp(")"); err != nil {
			return cd, err
		}
	}
	switch strings.ToUpper(t) {
	case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT":
		cd.typ = colInt
	case "VARCHAR":
		if size < 0 {
			return cd, p.errHere()
		}
		cd.typ, cd.size = colVarchar, size
	case "TEXT":
		cd.typ = colText
	case "BLOB":
		cd.typ = colBlob
	case "DATETIME":
		cd.typ, cd.size = colDatetime, max(size, 0)
		if cd.size > 6 {
			return cd, sqlErr(1426, "42000", "Too-big precision %d specified for '%s'. Maximum is 6.", cd.size, cd.name)
		}
	default:
		return cd, sqlErr(1235, "42000", "The embedded MySQL stand-in does not support the column type %s", strings.ToUpper(t))
	}
	for {
		switch {
		case p.acceptKw("NOT", "NULL"):
			cd.notNull = true
		case p.acceptKw("NULL"):
		case p.acceptKw("AUTO_INCREMENT"):
			cd.autoInc = true
		case p.acceptKw("PRIMARY", "KEY"):
			cd.primary = true
		case p.acceptKw("UNIQUE"):
			p.acceptKw("KEY")
			cd.unique = true
		case p.acceptKw("DEFAULT"):
			if !p.acceptKw("NULL") {
				return cd, sqlErr(1235, "42000", "The embedded MySQL stand-in does not support column defaults other than NULL")
			}
		default:
			return cd, nil
		}
	}
}

func (p *parser) dropStmt() (any, error) {
	p.advance()
	switch {
	case p.acceptKw("DATABASE") || p.acceptKw("SCHEMA"):
		s := &dropDBStmt{ifExists: p.acceptKw("IF", "EXISTS")}
		var err error
		s.name, err = p.ident()
		return s, err
	case p.acceptKw("TABLE"):
		s := &dropTableStmt{ifExists: p.acceptKw("IF", "EXISTS")}
		for {
			ref, err := p.tableName()
			if err != nil {
				return nil, err
			}
			s.tables = append(s.tables, ref)
			if !p.acceptOp(",") {
				break
			}
		}
		return s, nil
	}
	return nil, notSupported(p.src)
}

func (p *parser) setStmt() (*setStmt, error) {
	p.advance()
	s := &setStmt{}
	for {
		var v setVar
		switch {
		case p.acceptKw("NAMES"):
			t := p.advance()
			if t.kind != tIdent && t.kind != tStr && t.kind != tQIdent {
				return nil, parseErr(p.src, t.pos)
			}
			v = setVar{name: "names", e: &expr{op: opLit, v: val{k: kStr, s: t.s}}}
			if p.acceptKw("COLLATE") {
				p.advance()
			}
			s.vars = append(s.vars, v)
			if !p.acceptOp(",") {
				return s, nil
			}
			continue
		case p.acceptKw("SESSION") || p.acceptKw("LOCAL"):
			v.scope = "SESSION"
		case p.acceptKw("GLOBAL"):
			v.scope = "GLOBAL"
		case p.acceptKw("TRANSACTION") || p.acceptKw("CHARACTER"):
			return nil, notSupported(p.src)
		}
		t := p.advance()
		switch t.kind {
		case tSysVar:
			name := strings.ToLower(t.s)
			for _, pre := range []string{"session.", "local."} {
				if n, ok := strings.CutPrefix(name, pre); ok {
					name, v.scope = n, "SESSION"
				}
			}
			if n, ok := strings.CutPrefix(name, "global."); ok {
				name, v.scope = n, "GLOBAL"
			}
			v.name = name
		case tIdent, tQIdent:
			v.name = strings.ToLower(t.s)
		default:
			return nil, notSupported(p.src) // user variables and the like
		}
		if !p.acceptOp("=") && !p.acceptOp(":=") {
			return nil, p.errHere()
		}
		// ON and OFF are words here, not columns.
		if t := p.peek(); t.kind == tIdent && (strings.EqualFold(t.s, "ON") || strings.EqualFold(t.s, "OFF") || strings.EqualFold(t.s, "DEFAULT")) {
			p.i++
			v.e = &expr{op: opLit, v: val{k: kStr, s: strings.ToUpper(t.s)}}
		} else {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if e.op == opCol && len(e.qual) == 0 { // SET x = word
				e = &expr{op: opLit, v: val{k: kStr, s: e.name}}
			}
			v.e = e
		}
		s.vars = append(s.vars, v)
		if !p.acceptOp(",") {
			return s, nil
		}
	}
}
