// Package forms holds form definitions for CCM Collect: their JSON format,
// the six built-in forms of the data dictionary, validation of record data,
// skip logic (relevance), calculated fields, and the flat CSV layout of a
// form. It is pure Go: it performs no I/O beyond reading definitions and
// imports nothing else of this module, so the app and the hub validate data
// with exactly the same rules.
//
// A definition is parsed once with Parse, which also compiles every
// expression; a *Form is immutable afterwards and safe for concurrent use.
package forms

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Field types.
const (
	TypeText           = "text"
	TypeInteger        = "integer"
	TypeDecimal        = "decimal"
	TypeDate           = "date"
	TypeSelectOne      = "select_one"
	TypeSelectMultiple = "select_multiple"
	TypeBoolean        = "boolean"
	TypeGeopoint       = "geopoint"
	TypeSADD           = "sadd"
	TypeCalculated     = "calculated"
	TypeNote           = "note"
)

// Default SADD rows and columns, used when a sadd field names none.
var (
	DefaultSexes = []string{"female", "male", "unknown"}
	DefaultBands = []string{"0-17", "18-59", "60+", "unknown"}
)

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid marks record data that fails validation (*ValidationError).
	ErrInvalid = errors.New("invalid record data")
	// ErrUnknownForm marks a form id or version that a Registry does not hold.
	ErrUnknownForm = errors.New("unknown form")
	// ErrBadDefinition marks a form definition that cannot be used
	// (*DefinitionError), or a conflicting registration.
	ErrBadDefinition = errors.New("bad form definition")
)

// Option is one choice of a select_one or select_multiple field. Value is
// what is stored; Label is what a person reads.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Field is one question of a form. Its ID is the key of its value in record
// data and never changes meaning between versions of a form.
type Field struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Label string `json:"label"`
	Hint  string `json:"hint,omitempty"`

	// Required fields must be filled whenever they are relevant.
	Required bool `json:"required,omitempty"`
	// RequiredIf is an expression; when it is true the field must be filled.
	RequiredIf string `json:"required_if,omitempty"`
	// Min and Max bound integer and decimal values (inclusive unless
	// MinExclusive is set, which makes Min a strict lower bound).
	Min          *float64 `json:"min,omitempty"`
	Max          *float64 `json:"max,omitempty"`
	MinExclusive bool     `json:"min_exclusive,omitempty"`
	// MinDate and MaxDate bound date values: "YYYY-MM-DD" or "today".
	MinDate string `json:"min_date,omitempty"`
	MaxDate string `json:"max_date,omitempty"`
	// Pattern is a regular expression (RE2) that a whole text value must match.
	Pattern string `json:"pattern,omitempty"`
	// Sensitive marks personal data: never logged or printed in summaries.
	Sensitive bool `json:"sensitive,omitempty"`
	// Relevant is an expression; when it is not true the field is hidden and
	// must be empty.
	Relevant string `json:"relevant,omitempty"`
	// Calculate is the expression of a calculated field.
	Calculate string `json:"calculate,omitempty"`
	// Options are the choices of select fields (and the possible results of a
	// calculated field, for documentation and reports).
	Options []Option `json:"options,omitempty"`
	// Sexes and Bands are the rows and columns of a sadd field.
	Sexes []string `json:"sexes,omitempty"`
	Bands []string `json:"bands,omitempty"`
	// Default is the value a new record starts with (a UI pre-fill).
	Default any `json:"default,omitempty"`
	// HXL is the HXL hashtag of the field's CSV column, e.g. "#affected+killed".
	HXL string `json:"hxl,omitempty"`
	// Messages replace the generic validation message of a rule, keyed by
	// rule name ("required", "min", "relevant", …).
	Messages map[string]string `json:"messages,omitempty"`

	relevant   *expr
	requiredIf *expr
	calculate  *expr
	pattern    *regexp.Regexp
	options    map[string]bool
}

// Constraint is a rule across fields. Expr must not be false; a constraint
// whose expression is empty (unknown, because a field it reads is empty)
// passes. Fields are the fields the problem is reported against.
type Constraint struct {
	Expr    string   `json:"expr"`
	Message string   `json:"message"`
	Fields  []string `json:"fields"`
	// Rule names the rule in problems; default "constraint".
	Rule string `json:"rule,omitempty"`

	expr *expr
}

// Form is a parsed, checked form definition. Forms are identified by ID and
// Version; a published version never changes.
type Form struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Programme is the ISO 3166-1 alpha-3 code of the programme the form
	// belongs to; "" for built-in forms that serve every programme.
	Programme   string       `json:"programme,omitempty"`
	Fields      []Field      `json:"fields"`
	Constraints []Constraint `json:"constraints,omitempty"`

	index map[string]int
}

// Field returns the field with the given id. The field belongs to the form
// and must not be modified.
func (f *Form) Field(id string) (*Field, bool) {
	i, ok := f.index[id]
	if !ok {
		return nil, false
	}
	return &f.Fields[i], true
}

// SensitiveFields returns the ids of the fields marked sensitive, in form order.
func (f *Form) SensitiveFields() []string {
	var out []string
	for i := range f.Fields {
		if f.Fields[i].Sensitive {
			out = append(out, f.Fields[i].ID)
		}
	}
	return out
}

// Defaults returns a new map holding the default value of every field that
// has one: what a new record starts with.
func (f *Form) Defaults() map[string]any {
	out := map[string]any{}
	for i := range f.Fields {
		if f.Fields[i].Default != nil {
			out[f.Fields[i].ID] = f.Fields[i].Default
		}
	}
	return out
}

// OptionLabel returns the label of the option with value v, or v itself
// when the field has no such option.
func (fd *Field) OptionLabel(v string) string {
	for _, o := range fd.Options {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

// stored reports whether a field's value is part of record data (calculated
// fields and notes are not).
func (fd *Field) stored() bool {
	return fd.Type != TypeCalculated && fd.Type != TypeNote
}

// Problem is one reason record data is invalid. Field is the field id, Rule
// the rule that failed (required, type, min, max, pattern, option, relevant,
// unknown, constraint, …) and Message a sentence a field worker understands,
// starting with the field's label.
type Problem struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in one record's data.
type ValidationError struct {
	FormID   string
	Version  int
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s v%d: ", e.FormID, e.Version)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s: %s)", p.Message, p.Field, p.Rule)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// DefinitionError lists every problem found in a form definition.
type DefinitionError struct {
	Problems []string
}

func (e *DefinitionError) Error() string {
	return "bad form definition: " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrBadDefinition) true.
func (e *DefinitionError) Is(target error) bool { return target == ErrBadDefinition }
