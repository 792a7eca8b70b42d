package forms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"
)

var (
	idRE        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	optionRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$`)
	programmeRE = regexp.MustCompile(`^[A-Z]{3}$`)
	hxlRE       = regexp.MustCompile(`^#[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$`)
)

// Limits on a definition, so that a hostile one cannot exhaust memory.
const (
	maxDefinitionBytes = 1 << 20
	maxFields          = 500
	maxOptions         = 1000
)

var knownTypes = map[string]bool{
	TypeText: true, TypeInteger: true, TypeDecimal: true, TypeDate: true, TypeSelectOne: true,
	TypeSelectMultiple: true, TypeBoolean: true, TypeGeopoint: true, TypeSADD: true,
	TypeCalculated: true, TypeNote: true,
}

// Parse decodes a JSON form definition and checks it. On failure the error
// is a *DefinitionError listing every problem found (errors.Is(err,
// ErrBadDefinition)). Expressions are compiled here, once.
func Parse(b []byte) (*Form, error) {
	if len(b) > maxDefinitionBytes {
		return nil, &DefinitionError{Problems: []string{fmt.Sprintf("definition is larger than %d bytes", maxDefinitionBytes)}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Form
	if err := dec.Decode(&f); err != nil {
		return nil, &DefinitionError{Problems: []string{"not a valid form definition: " + err.Error()}}
	}
	if dec.More() {
		return nil, &DefinitionError{Problems: []string{"not a valid form definition: data after the form object"}}
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// check validates a decoded definition, fills defaults and compiles
// expressions.
func (f *Form) check() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	if !idRE.MatchString(f.ID) {
		add("id %q must be 1–64 lowercase letters, digits or _ starting with a letter", f.ID)
	}
	if f.Version < 1 {
		add("version must be 1 or more, got %d", f.Version)
	}
	if f.Title == "" {
		add("title is required")
	}
	if f.Programme != "" && !programmeRE.MatchString(f.Programme) {
		add("programme %q must be an ISO 3166-1 alpha-3 code such as LAO, or absent", f.Programme)
	}
	if len(f.Fields) == 0 {
		add("fields: a form needs at least one field")
	}
	if len(f.Fields) > maxFields {
		add("fields: at most %d fields, got %d", maxFields, len(f.Fields))
		return &DefinitionError{Problems: probs}
	}
	f.index = make(map[string]int, len(f.Fields))
	for i := range f.Fields {
		fd := &f.Fields[i]
		if !idRE.MatchString(fd.ID) {
			add("field %d: id %q must be 1–64 lowercase letters, digits or _ starting with a letter", i+1, fd.ID)
			continue
		}
		if _, dup := f.index[fd.ID]; dup {
			add("field %q: defined twice", fd.ID)
			continue
		}
		f.index[fd.ID] = i
	}
	known := func(id string) bool { _, ok := f.index[id]; return ok }
	compile := func(what, src string) *expr {
		if src == "" {
			return nil
		}
		e, err := parseExpr(src, known)
		if err != nil {
			add("%s: expression %q: %v", what, src, err)
			return nil
		}
		return e
	}
	calcPos := map[string]int{} // calculated field id → index
	for i := range f.Fields {
		if f.Fields[i].Type == TypeCalculated {
			calcPos[f.Fields[i].ID] = i
		}
	}
	for i := range f.Fields {
		fd := &f.Fields[i]
		where := fmt.Sprintf("field %q", fd.ID)
		if !knownTypes[fd.Type] {
			add("%s: unknown type %q", where, fd.Type)
		}
		if fd.Label == "" {
			add("%s: label is required", where)
		}
		numeric := fd.Type == TypeInteger || fd.Type == TypeDecimal
		if (fd.Min != nil || fd.Max != nil || fd.MinExclusive) && !numeric {
			add("%s: min and max apply only to integer and decimal fields", where)
		}
		if fd.MinExclusive && fd.Min == nil {
			add("%s: min_exclusive needs min", where)
		}
		if fd.Min != nil && fd.Max != nil && *fd.Min > *fd.Max {
			add("%s: min %v is greater than max %v", where, *fd.Min, *fd.Max)
		}
		if (fd.MinDate != "" || fd.MaxDate != "") && fd.Type != TypeDate {
			add("%s: min_date and max_date apply only to date fields", where)
		}
		for _, d := range []string{fd.MinDate, fd.MaxDate} {
			if d != "" && d != "today" {
				if _, err := time.Parse(time.DateOnly, d); err != nil {
					add("%s: date bound %q must be YYYY-MM-DD or \"today\"", where, d)
				}
			}
		}
		if fd.MinDate != "" && fd.MaxDate != "" && fd.MinDate != "today" && fd.MaxDate != "today" && fd.MinDate > fd.MaxDate {
			add("%s: min_date %s is after max_date %s", where, fd.MinDate, fd.MaxDate)
		}
		if fd.Pattern != "" {
			if fd.Type != TypeText {
				add("%s: pattern applies only to text fields", where)
			}
			re, err := regexp.Compile(`^(?:` + fd.Pattern + `)$`)
			if err != nil {
				add("%s: pattern %q: %v", where, fd.Pattern, err)
			} else {
				fd.pattern = re
			}
		}
		isSelect := fd.Type == TypeSelectOne || fd.Type == TypeSelectMultiple
		if isSelect && len(fd.Options) == 0 {
			add("%s: a %s field needs options", where, fd.Type)
		}
		if len(fd.Options) > 0 && !isSelect && fd.Type != TypeCalculated {
			add("%s: options apply only to select_one, select_multiple and calculated fields", where)
		}
		if len(fd.Options) > maxOptions {
			add("%s: at most %d options", where, maxOptions)
		}
		fd.options = make(map[string]bool, len(fd.Options))
		for _, o := range fd.Options {
			if !optionRE.MatchString(o.Value) {
				add("%s: option value %q must be letters, digits or _ . + - (no spaces)", where, o.Value)
			}
			if fd.options[o.Value] {
				add("%s: option %q listed twice", where, o.Value)
			}
			if o.Label == "" {
				add("%s: option %q needs a label", where, o.Value)
			}
			fd.options[o.Value] = true
		}
		if fd.Type == TypeSADD {
			if len(fd.Sexes) == 0 {
				fd.Sexes = slices.Clone(DefaultSexes)
			}
			if len(fd.Bands) == 0 {
				fd.Bands = slices.Clone(DefaultBands)
			}
			for _, l := range [][]string{fd.Sexes, fd.Bands} {
				seen := map[string]bool{}
				for _, s := range l {
					if !optionRE.MatchString(s) {
						add("%s: sex or band %q must be letters, digits or _ . + - (no spaces)", where, s)
					}
					if seen[s] {
						add("%s: sex or band %q listed twice", where, s)
					}
					seen[s] = true
				}
			}
		} else if len(fd.Sexes) > 0 || len(fd.Bands) > 0 {
			add("%s: sexes and bands apply only to sadd fields", where)
		}
		if fd.HXL != "" && !hxlRE.MatchString(fd.HXL) {
			add("%s: hxl %q is not an HXL hashtag such as #affected+killed", where, fd.HXL)
		}
		if !fd.stored() {
			if fd.Required || fd.RequiredIf != "" {
				add("%s: a %s field cannot be required", where, fd.Type)
			}
			if fd.Default != nil {
				add("%s: a %s field cannot have a default", where, fd.Type)
			}
			if fd.Sensitive {
				add("%s: a %s field cannot be sensitive", where, fd.Type)
			}
		}
		if fd.Type == TypeCalculated {
			if fd.Calculate == "" {
				add("%s: a calculated field needs calculate", where)
			}
		} else if fd.Calculate != "" {
			add("%s: calculate applies only to calculated fields", where)
		}
		fd.relevant = compile(where+": relevant", fd.Relevant)
		fd.requiredIf = compile(where+": required_if", fd.RequiredIf)
		fd.calculate = compile(where+": calculate", fd.Calculate)
		for _, ref := range fd.relevant.refs(fd.requiredIf.refs(nil)) {
			if ref == fd.ID {
				add("%s: relevant and required_if cannot refer to the field itself", where)
				break
			}
		}
		if fd.calculate != nil {
			if fd.calculate.usesToday() {
				add("%s: calculate cannot use today(), calculated values must not change with the date", where)
			}
			for _, ref := range fd.calculate.refs(nil) {
				if j, ok := calcPos[ref]; ok && j >= i {
					add("%s: calculate refers to calculated field %q, which must come earlier in the form", where, ref)
				}
			}
		}
		if fd.Default != nil && knownTypes[fd.Type] && fd.stored() {
			if v, msg, _ := normalize(fd, fd.Default); msg != "" {
				add("%s: default %v: %s", where, fd.Default, msg)
			} else if fd.pattern != nil || fd.Type != TypeText {
				for _, p := range f.checkValue(fd, v, "") {
					add("%s: default %v: %s", where, fd.Default, p.Message)
				}
			}
		}
		for rule := range fd.Messages {
			if rule == "" {
				add("%s: messages need a rule name", where)
			}
		}
	}
	for i := range f.Constraints {
		c := &f.Constraints[i]
		where := fmt.Sprintf("constraint %d", i+1)
		if c.Expr == "" {
			add("%s: expr is required", where)
		}
		c.expr = compile(where, c.Expr)
		if c.Message == "" {
			add("%s: message is required", where)
		}
		if len(c.Fields) == 0 {
			add("%s: fields must name at least one field to report the problem on", where)
		}
		for _, id := range c.Fields {
			if !known(id) {
				add("%s: unknown field %q in fields", where, id)
			}
		}
		if c.Rule != "" && !idRE.MatchString(c.Rule) {
			add("%s: rule %q must be lowercase letters, digits or _", where, c.Rule)
		}
	}
	if len(probs) == 0 {
		// Flattened columns must be unique: a text field "location_lat" next
		// to a geopoint "location" would make CSV ambiguous.
		seen := map[string]bool{}
		for _, c := range f.Columns() {
			if seen[c] {
				add("CSV column %q would appear twice (a field id clashes with a geopoint or sadd column)", c)
			}
			seen[c] = true
		}
	}
	if len(probs) > 0 {
		return &DefinitionError{Problems: probs}
	}
	return nil
}
