package forms

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The expression language of relevant, required_if, calculate and
// constraints. Expressions are parsed once, when the form is parsed, into a
// small tree that is evaluated without reflection. Values are nil (empty),
// float64, string (text, dates as YYYY-MM-DD, choices), bool, []string
// (select_multiple and list literals) and map[string]map[string]float64
// (sadd). docs/forms.md describes the language.

const (
	maxExprLen   = 4096
	maxExprDepth = 64  // nesting of parentheses, calls, not and unary minus
	maxTreeDepth = 256 // depth of the compiled tree, including operator chains
)

type exprKind int

const (
	exLit exprKind = iota
	exField
	exList
	exNeg
	exNot
	exAnd
	exOr
	exBin // arithmetic or comparison; op holds the operator
	exIn
	exCall
)

type expr struct {
	kind exprKind
	op   string // operator or function name
	val  any    // literal value
	name string // field id
	args []*expr
}

// funcs lists the functions and their argument counts (max -1 = variadic).
var funcs = map[string]struct{ min, max int }{
	"today":         {0, 0},
	"year":          {1, 1},
	"selected":      {2, 2},
	"count":         {1, 1},
	"subset":        {2, 2},
	"empty":         {1, 1},
	"filled":        {1, 1},
	"age_group":     {1, 1},
	"if":            {3, 3},
	"coalesce":      {1, -1},
	"years_between": {2, 2},
	"round":         {1, 2},
}

type token struct {
	kind string // "num", "str", "id", "op", "eof"
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			toks = append(toks, token{"num", s[i:j], i})
			i = j
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, token{"str", s[i+1 : j], i})
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, token{"id", s[i:j], i})
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "<=", ">=", "!=", "==", "<>":
				if two == "<>" {
					two = "!="
				}
				if two == "==" {
					two = "="
				}
				toks = append(toks, token{"op", two, i})
				i += 2
				continue
			}
			if strings.IndexByte("+-*/()<>=,[]", c) < 0 {
				return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
			}
			toks = append(toks, token{"op", string(c), i})
			i++
		}
	}
	return append(toks, token{"eof", "", len(s)}), nil
}

type parser struct {
	toks   []token
	pos    int
	depth  int
	fields func(string) bool // known field ids
}

// parseExpr compiles src. known reports whether an identifier is a field id
// of the form.
func parseExpr(src string, known func(string) bool) (*expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	if len(src) > maxExprLen {
		return nil, fmt.Errorf("expression longer than %d characters", maxExprLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, fields: known}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
	}
	if e.depth() > maxTreeDepth {
		return nil, fmt.Errorf("expression nested deeper than %d levels", maxTreeDepth)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != "eof" {
		p.pos++
	}
	return t
}
func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == "id" && t.text == w
}
func (p *parser) isOp(o string) bool {
	t := p.peek()
	return t.kind == "op" && t.text == o
}
func (p *parser) expect(o string) error {
	if !p.isOp(o) {
		t := p.peek()
		if t.kind == "eof" {
			return fmt.Errorf("expected %q at end of expression", o)
		}
		return fmt.Errorf("expected %q at offset %d, found %q", o, t.pos, t.text)
	}
	p.next()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxExprDepth {
		return fmt.Errorf("expression nested deeper than %d levels", maxExprDepth)
	}
	return nil
}

func (p *parser) or() (*expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &expr{kind: exOr, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) and() (*expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &expr{kind: exAnd, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) not() (*expr, error) {
	if p.isWord("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		p.next()
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return &expr{kind: exNot, args: []*expr{e}}, nil
	}
	return p.cmp()
}

func (p *parser) cmp() (*expr, error) {
	l, err := p.add()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == "op" {
		switch t.text {
		case "=", "!=", "<", "<=", ">", ">=":
			p.next()
			r, err := p.add()
			if err != nil {
				return nil, err
			}
			return &expr{kind: exBin, op: t.text, args: []*expr{l, r}}, nil
		}
	}
	if p.isWord("in") {
		p.next()
		r, err := p.add()
		if err != nil {
			return nil, err
		}
		return &expr{kind: exIn, args: []*expr{l, r}}, nil
	}
	return l, nil
}

func (p *parser) add() (*expr, error) {
	l, err := p.mul()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next().text
		r, err := p.mul()
		if err != nil {
			return nil, err
		}
		l = &expr{kind: exBin, op: op, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) mul() (*expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") {
		op := p.next().text
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &expr{kind: exBin, op: op, args: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) unary() (*expr, error) {
	if p.isOp("-") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		p.next()
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &expr{kind: exNeg, args: []*expr{e}}, nil
	}
	return p.primary()
}

func (p *parser) primary() (*expr, error) {
	t := p.next()
	switch t.kind {
	case "num":
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("bad number %q at offset %d", t.text, t.pos)
		}
		return &expr{kind: exLit, val: v}, nil
	case "str":
		return &expr{kind: exLit, val: t.text}, nil
	case "id":
		switch t.text {
		case "true":
			return &expr{kind: exLit, val: true}, nil
		case "false":
			return &expr{kind: exLit, val: false}, nil
		case "and", "or", "not", "in":
			return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
		}
		if p.isOp("(") {
			return p.call(t)
		}
		if p.fields != nil && !p.fields(t.text) {
			return nil, fmt.Errorf("unknown field %q at offset %d", t.text, t.pos)
		}
		return &expr{kind: exField, name: t.text}, nil
	case "op":
		switch t.text {
		case "(":
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer func() { p.depth-- }()
			e, err := p.or()
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		case "[":
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer func() { p.depth-- }()
			args, err := p.list("]")
			if err != nil {
				return nil, err
			}
			return &expr{kind: exList, args: args}, nil
		}
	case "eof":
		return nil, fmt.Errorf("expression ends too early")
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
}

func (p *parser) list(end string) ([]*expr, error) {
	var args []*expr
	if p.isOp(end) {
		p.next()
		return args, nil
	}
	for {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
		if p.isOp(",") {
			p.next()
			continue
		}
		return args, p.expect(end)
	}
}

func (p *parser) call(name token) (*expr, error) {
	spec, ok := funcs[name.text]
	if !ok {
		return nil, fmt.Errorf("unknown function %q at offset %d", name.text, name.pos)
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.next() // (
	args, err := p.list(")")
	if err != nil {
		return nil, err
	}
	if len(args) < spec.min || spec.max >= 0 && len(args) > spec.max {
		return nil, fmt.Errorf("function %s takes %s, got %d", name.text, argCount(spec.min, spec.max), len(args))
	}
	return &expr{kind: exCall, op: name.text, args: args}, nil
}

func argCount(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d arguments", lo)
	case lo == hi && lo == 1:
		return "1 argument"
	case lo == hi:
		return fmt.Sprintf("%d arguments", lo)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

// depth is the height of the tree. The recursion is bounded because the
// source is at most maxExprLen characters long.
func (e *expr) depth() int {
	d := 0
	for _, a := range e.args {
		d = max(d, a.depth())
	}
	return d + 1
}

// refs appends the field ids e reads to out.
func (e *expr) refs(out []string) []string {
	if e == nil {
		return out
	}
	if e.kind == exField {
		out = append(out, e.name)
	}
	for _, a := range e.args {
		out = a.refs(out)
	}
	return out
}

// reads reports whether e reads any of the given fields.
func (e *expr) reads(fields map[string]bool) bool {
	if e == nil || len(fields) == 0 {
		return false
	}
	if e.kind == exField && fields[e.name] {
		return true
	}
	for _, a := range e.args {
		if a.reads(fields) {
			return true
		}
	}
	return false
}

// usesToday reports whether e calls today().
func (e *expr) usesToday() bool {
	if e == nil {
		return false
	}
	if e.kind == exCall && e.op == "today" {
		return true
	}
	for _, a := range e.args {
		if a.usesToday() {
			return true
		}
	}
	return false
}

// env is what an expression reads: normalised field values and the date.
type env struct {
	vals  map[string]any
	today string // YYYY-MM-DD; "" when unknown
}

// truth is the outcome of a condition: true, false or unknown (nil).
func truth(v any) (b, known bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case nil:
		return false, false
	}
	return !isEmptyValue(v), true
}

// eval evaluates e. It never panics: type mismatches and missing values
// yield nil (empty), and recursion is bounded by the parse depth limit.
func (e *expr) eval(en *env) any {
	switch e.kind {
	case exLit:
		return e.val
	case exField:
		return en.vals[e.name]
	case exList:
		out := make([]string, 0, len(e.args))
		for _, a := range e.args {
			if s, ok := scalarString(a.eval(en)); ok {
				out = append(out, s)
			}
		}
		return out
	case exNeg:
		if x, ok := e.args[0].eval(en).(float64); ok {
			return -x
		}
		return nil
	case exNot:
		b, known := truth(e.args[0].eval(en))
		if !known {
			return nil
		}
		return !b
	case exAnd:
		l, lk := truth(e.args[0].eval(en))
		if lk && !l {
			return false
		}
		r, rk := truth(e.args[1].eval(en))
		if rk && !r {
			return false
		}
		if lk && rk {
			return true
		}
		return nil
	case exOr:
		l, lk := truth(e.args[0].eval(en))
		if lk && l {
			return true
		}
		r, rk := truth(e.args[1].eval(en))
		if rk && r {
			return true
		}
		if lk && rk {
			return false
		}
		return nil
	case exBin:
		return binary(e.op, e.args[0].eval(en), e.args[1].eval(en))
	case exIn:
		l, r := e.args[0].eval(en), e.args[1].eval(en)
		ls, ok := scalarString(l)
		if !ok {
			return nil
		}
		if r == nil {
			return nil
		}
		for _, s := range asList(r) {
			if s == ls {
				return true
			}
		}
		return false
	case exCall:
		return e.call(en)
	}
	return nil
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func binary(op string, l, r any) any {
	if l == nil || r == nil {
		return nil
	}
	switch op {
	case "+", "-", "*", "/":
		a, ok1 := l.(float64)
		b, ok2 := r.(float64)
		if !ok1 || !ok2 {
			return nil
		}
		var v float64
		switch op {
		case "+":
			v = a + b
		case "-":
			v = a - b
		case "*":
			v = a * b
		case "/":
			if b == 0 {
				return nil
			}
			v = a / b
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
		return v
	}
	c, ok := compare(l, r)
	if !ok {
		if op == "=" {
			return false
		}
		if op == "!=" {
			return true
		}
		return nil
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return nil
}

// compare orders two values of the same kind.
func compare(l, r any) (int, bool) {
	switch a := l.(type) {
	case float64:
		b, ok := r.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	case string:
		b, ok := r.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(a, b), true
	case bool:
		b, ok := r.(bool)
		if !ok {
			return 0, false
		}
		if a == b {
			return 0, true
		}
		if !a {
			return -1, true
		}
		return 1, true
	case []string:
		b, ok := r.([]string)
		if !ok || len(a) != len(b) {
			return 0, false
		}
		if subsetOf(a, b) && subsetOf(b, a) {
			return 0, true
		}
	}
	return 0, false
}

func subsetOf(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func asList(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case string:
		return []string{x}
	}
	return nil
}

func (e *expr) call(en *env) any {
	arg := func(i int) any { return e.args[i].eval(en) }
	switch e.op {
	case "today":
		if en.today == "" {
			return nil
		}
		return en.today
	case "year":
		if d, ok := arg(0).(string); ok {
			if t, err := time.Parse(time.DateOnly, d); err == nil {
				return float64(t.Year())
			}
		}
		return nil
	case "selected":
		v, ok := scalarString(arg(1))
		if !ok {
			return false
		}
		for _, s := range asList(arg(0)) {
			if s == v {
				return true
			}
		}
		return false
	case "count":
		switch x := arg(0).(type) {
		case []string:
			return float64(len(x))
		case map[string]map[string]float64:
			var n float64
			for _, row := range x {
				for _, c := range row {
					n += c
				}
			}
			return n
		case nil:
			return 0.0
		}
		return 1.0
	case "subset":
		return subsetOf(asList(arg(0)), asList(arg(1)))
	case "empty":
		return isEmptyValue(arg(0))
	case "filled":
		return !isEmptyValue(arg(0))
	case "age_group":
		a, ok := arg(0).(float64)
		switch {
		case !ok:
			return "unknown"
		case a < 18:
			return "child"
		case a < 60:
			return "adult"
		}
		return "elderly"
	case "if":
		if b, _ := truth(arg(0)); b {
			return arg(1)
		}
		return arg(2)
	case "coalesce":
		for i := range e.args {
			if v := arg(i); !isEmptyValue(v) {
				return v
			}
		}
		return nil
	case "years_between":
		a, ok1 := arg(0).(string)
		b, ok2 := arg(1).(string)
		if !ok1 || !ok2 {
			return nil
		}
		ta, err1 := time.Parse(time.DateOnly, a)
		tb, err2 := time.Parse(time.DateOnly, b)
		if err1 != nil || err2 != nil {
			return nil
		}
		return float64(wholeYears(ta, tb))
	case "round":
		x, ok := arg(0).(float64)
		if !ok {
			return nil
		}
		digits := 0.0
		if len(e.args) == 2 {
			d, ok := arg(1).(float64)
			if !ok {
				return nil
			}
			digits = math.Max(-15, math.Min(15, math.Trunc(d)))
		}
		p := math.Pow(10, digits)
		v := math.Round(x*p) / p
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
		return v
	}
	return nil
}

// wholeYears is the number of whole years from a to b (negative when b is
// before a), as a birthday is counted.
func wholeYears(a, b time.Time) int {
	sign := 1
	if b.Before(a) {
		a, b = b, a
		sign = -1
	}
	y := b.Year() - a.Year()
	if b.Month() < a.Month() || b.Month() == a.Month() && b.Day() < a.Day() {
		y--
	}
	return sign * y
}

// isEmptyValue reports whether v counts as not filled: nil, "", an empty
// list or an empty object.
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	case map[string]map[string]float64:
		return len(x) == 0
	}
	return false
}
