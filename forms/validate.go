package forms

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxTextLength is the most characters a text answer may hold. It keeps one
// record from filling a hub's memory or a printed page.
const MaxTextLength = 10000

// normalize converts a value as encoding/json (or Go code) gives it into the
// internal value of fd's type. On failure it returns the rule and a message
// (without the label) saying what is wrong.
func normalize(fd *Field, v any) (val any, msg, rule string) {
	switch fd.Type {
	case TypeText:
		s, ok := v.(string)
		if !ok {
			return nil, "must be text", "type"
		}
		if utf8.RuneCountInString(s) > MaxTextLength {
			return nil, fmt.Sprintf("must be at most %d characters", MaxTextLength), "max_length"
		}
		return s, "", ""
	case TypeInteger, TypeDecimal:
		x, ok := toFloat(v)
		if !ok {
			return nil, "must be a number", "type"
		}
		if fd.Type == TypeInteger && x != math.Trunc(x) {
			return nil, "must be a whole number", "type"
		}
		return x, "", ""
	case TypeDate:
		s, ok := v.(string)
		if !ok {
			return nil, "must be a date (YYYY-MM-DD)", "type"
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, fmt.Sprintf("%s is not a valid date (YYYY-MM-DD)", fd.quote(s)), "type"
		}
		return s, "", ""
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, "must be yes or no (true or false)", "type"
		}
		return b, "", ""
	case TypeSelectOne:
		s, ok := v.(string)
		if !ok {
			return nil, "must be one of the choices", "type"
		}
		if !fd.options[s] {
			return nil, fmt.Sprintf("%s is not one of the choices (%s)", fd.quote(s), fd.optionList()), "option"
		}
		return s, "", ""
	case TypeSelectMultiple:
		var list []string
		switch x := v.(type) {
		case []string:
			list = x
		case []any:
			list = make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, "must be a list of choices", "type"
				}
				list = append(list, s)
			}
		default:
			return nil, "must be a list of choices", "type"
		}
		seen := make(map[string]bool, len(list))
		for _, s := range list {
			if !fd.options[s] {
				return nil, fmt.Sprintf("%s is not one of the choices (%s)", fd.quote(s), fd.optionList()), "option"
			}
			if seen[s] {
				return nil, fmt.Sprintf("%s is chosen twice", fd.quote(s)), "option"
			}
			seen[s] = true
		}
		return append([]string(nil), list...), "", ""
	case TypeGeopoint:
		m, ok := v.(map[string]any)
		if g, isGo := v.(map[string]float64); isGo {
			m, ok = make(map[string]any, len(g)), true
			for k, x := range g {
				m[k] = x
			}
		}
		if !ok {
			return nil, `must be a location {"lat", "lon", "accuracy_m"}`, "type"
		}
		g := map[string]float64{}
		for k, e := range m {
			switch k {
			case "lat", "lon", "accuracy_m":
			default:
				return nil, fmt.Sprintf("unknown part %s of a location (lat, lon, accuracy_m)", fd.quote(k)), "type"
			}
			x, ok := toFloat(e)
			if !ok {
				return nil, fmt.Sprintf("%s must be a number", k), "type"
			}
			g[k] = x
		}
		lat, ok1 := g["lat"]
		lon, ok2 := g["lon"]
		if !ok1 || !ok2 {
			return nil, "needs both latitude and longitude", "type"
		}
		if lat < -90 || lat > 90 {
			return nil, "latitude must be between -90 and 90", "range"
		}
		if lon < -180 || lon > 180 {
			return nil, "longitude must be between -180 and 180", "range"
		}
		if a, ok := g["accuracy_m"]; ok && a < 0 {
			return nil, "accuracy must not be negative", "range"
		}
		return g, "", ""
	case TypeSADD:
		m, ok := v.(map[string]any)
		if !ok {
			if mm, ok2 := v.(map[string]map[string]any); ok2 {
				m = make(map[string]any, len(mm))
				for k, r := range mm {
					m[k] = r
				}
			} else if mm, ok2 := v.(map[string]map[string]float64); ok2 {
				m = make(map[string]any, len(mm))
				for k, r := range mm {
					row := make(map[string]any, len(r))
					for b, c := range r {
						row[b] = c
					}
					m[k] = row
				}
			} else if mm, ok2 := v.(map[string]map[string]int); ok2 {
				m = make(map[string]any, len(mm))
				for k, r := range mm {
					row := make(map[string]any, len(r))
					for b, c := range r {
						row[b] = c
					}
					m[k] = row
				}
			} else {
				return nil, `must be counts by sex and age, e.g. {"female": {"0-17": 3}}`, "type"
			}
		}
		out := make(map[string]map[string]float64, len(m))
		for _, sex := range sortedKeys(m) {
			if !contains(fd.Sexes, sex) {
				return nil, fmt.Sprintf("unknown sex %s (%s)", fd.quote(sex), strings.Join(fd.Sexes, ", ")), "sadd"
			}
			row, ok := m[sex].(map[string]any)
			if !ok {
				return nil, fmt.Sprintf("%s must hold counts by age band", sex), "type"
			}
			counts := make(map[string]float64, len(row))
			for _, band := range sortedKeys(row) {
				if !contains(fd.Bands, band) {
					return nil, fmt.Sprintf("unknown age band %s (%s)", fd.quote(band), strings.Join(fd.Bands, ", ")), "sadd"
				}
				x, ok := toFloat(row[band])
				if !ok || x < 0 || x != math.Trunc(x) {
					return nil, fmt.Sprintf("%s %s must be a whole number of people, 0 or more", sex, band), "sadd"
				}
				counts[band] = x
			}
			out[sex] = counts
		}
		return out, "", ""
	}
	return nil, "has no value in this form", "unknown"
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// quote quotes a user's answer for a message, shortened; the answer of a
// sensitive field is never repeated.
func (fd *Field) quote(s string) string {
	if fd.Sensitive {
		return "the answer"
	}
	return fmt.Sprintf("%q", clip(s))
}

// clip shortens a user value quoted in a message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func (fd *Field) optionList() string {
	vals := make([]string, 0, len(fd.Options))
	for _, o := range fd.Options {
		vals = append(vals, o.Value)
	}
	if len(vals) > 12 {
		return strings.Join(vals[:12], ", ") + ", …"
	}
	return strings.Join(vals, ", ")
}

// toFloat accepts float64, json.Number and Go integer and float types.
func toFloat(v any) (float64, bool) {
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case float32:
		x = float64(n)
	case int:
		x = float64(n)
	case int8:
		x = float64(n)
	case int16:
		x = float64(n)
	case int32:
		x = float64(n)
	case int64:
		x = float64(n)
	case uint:
		x = float64(n)
	case uint8:
		x = float64(n)
	case uint16:
		x = float64(n)
	case uint32:
		x = float64(n)
	case uint64:
		x = float64(n)
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, false
		}
		x = f
	default:
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// isEmptyInput reports whether a raw data value counts as not filled.
func isEmptyInput(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// state is one record's data, normalised, with calculated values.
type state struct {
	vals  map[string]any // field id → internal value (valid, non-empty only)
	probs []Problem
}

func (f *Form) problem(fd *Field, rule, msg string) Problem {
	if m := fd.Messages[rule]; m != "" {
		msg = m
	}
	return Problem{Field: fd.ID, Rule: rule, Message: fd.Label + ": " + msg}
}

// load normalises data. Keys the form does not define and values of the
// wrong type become problems; values of calculated fields and notes are
// ignored (they are recomputed).
func (f *Form) load(data map[string]any) *state {
	st := &state{vals: make(map[string]any, len(data))}
	for _, k := range sortedKeys(data) {
		fd, ok := f.Field(k)
		if !ok {
			st.probs = append(st.probs, Problem{Field: k, Rule: "unknown",
				Message: fmt.Sprintf("%s: this form (%s v%d) has no such question", clip(k), f.ID, f.Version)})
			continue
		}
		if !fd.stored() || isEmptyInput(data[k]) {
			continue
		}
		v, msg, rule := normalize(fd, data[k])
		if msg != "" {
			st.probs = append(st.probs, f.problem(fd, rule, msg))
			continue
		}
		st.vals[k] = v
	}
	f.computeInto(st.vals)
	return st
}

// computeInto evaluates calculated fields in form order.
func (f *Form) computeInto(vals map[string]any) {
	en := &env{vals: vals}
	for i := range f.Fields {
		fd := &f.Fields[i]
		if fd.Type != TypeCalculated || fd.calculate == nil {
			continue
		}
		v := fd.calculate.eval(en)
		if isEmptyValue(v) {
			delete(vals, fd.ID)
		} else {
			vals[fd.ID] = v
		}
	}
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// checkValue applies a field's range, pattern and date rules to a valid
// normalised value. today is "" when the date is unknown (drafts).
func (f *Form) checkValue(fd *Field, v any, today string) []Problem {
	var probs []Problem
	switch x := v.(type) {
	case float64:
		lo, hi := fd.Min, fd.Max
		switch {
		case lo != nil && hi != nil && (x < *lo || x > *hi || fd.MinExclusive && x == *lo):
			rule := "max"
			if x <= *lo {
				rule = "min"
			}
			if fd.MinExclusive {
				probs = append(probs, f.problem(fd, rule, fmt.Sprintf("must be more than %s and at most %s", fmtNum(*lo), fmtNum(*hi))))
			} else {
				probs = append(probs, f.problem(fd, rule, fmt.Sprintf("must be between %s and %s", fmtNum(*lo), fmtNum(*hi))))
			}
		case lo != nil && fd.MinExclusive && x <= *lo:
			probs = append(probs, f.problem(fd, "min", fmt.Sprintf("must be more than %s", fmtNum(*lo))))
		case lo != nil && x < *lo:
			probs = append(probs, f.problem(fd, "min", fmt.Sprintf("must be %s or more", fmtNum(*lo))))
		case hi != nil && x > *hi:
			probs = append(probs, f.problem(fd, "max", fmt.Sprintf("must be %s or less", fmtNum(*hi))))
		}
	case string:
		if fd.pattern != nil && !fd.pattern.MatchString(x) {
			probs = append(probs, f.problem(fd, "pattern", "is not in the expected format"))
		}
		if fd.Type == TypeDate {
			if lo := dateBound(fd.MinDate, today); lo != "" && x < lo {
				probs = append(probs, f.problem(fd, "min", "must not be before "+describeBound(fd.MinDate, lo)))
			}
			if hi := dateBound(fd.MaxDate, today); hi != "" && x > hi {
				probs = append(probs, f.problem(fd, "max", "must not be after "+describeBound(fd.MaxDate, hi)))
			}
		}
	}
	return probs
}

func dateBound(b, today string) string {
	if b == "today" {
		return today
	}
	return b
}

func describeBound(b, v string) string {
	if b == "today" {
		return "today (" + v + ")"
	}
	return v
}

// Validate checks a record's data against the form as of the date of now
// (for "today" rules) and returns nil or a *ValidationError listing every
// problem (errors.Is(err, ErrInvalid)). Values of calculated fields in data
// are ignored: they are recomputed.
func (f *Form) Validate(data map[string]any, now time.Time) error {
	return f.validate(data, now.Format(time.DateOnly), false)
}

// ValidateDraft checks only the values that are filled: keys, types,
// options, ranges and patterns. Required fields, relevance, date rules
// relative to today and constraints are left for Validate.
func (f *Form) ValidateDraft(data map[string]any) error {
	return f.validate(data, "", true)
}

func (f *Form) validate(data map[string]any, today string, draft bool) error {
	st := f.load(data)
	probs := st.probs
	// A value that breaks its own field's rules is reported once and then
	// treated as empty, so that it does not also trip rules that read it.
	for i := range f.Fields {
		fd := &f.Fields[i]
		if v, filled := st.vals[fd.ID]; filled && fd.stored() {
			if p := f.checkValue(fd, v, today); len(p) > 0 {
				probs = append(probs, p...)
				delete(st.vals, fd.ID)
			}
		}
	}
	// Rules that read a field with a problem, directly or through a
	// calculated field, are not judged: the field's own problem says it all.
	tainted := make(map[string]bool, len(probs))
	for _, p := range probs {
		tainted[p.Field] = true
	}
	if len(tainted) > 0 {
		for i := range f.Fields {
			fd := &f.Fields[i]
			if fd.calculate != nil && fd.calculate.reads(tainted) {
				tainted[fd.ID] = true
			}
		}
		f.computeInto(st.vals)
	}
	// An unconditionally required field that is missing is reported as
	// such; rules that read it wait for it.
	for i := range f.Fields {
		fd := &f.Fields[i]
		if fd.Required && fd.relevant == nil && isEmptyInput(data[fd.ID]) {
			tainted[fd.ID] = true
		}
	}
	en := &env{vals: st.vals, today: today}
	for i := range f.Fields {
		fd := &f.Fields[i]
		if !fd.stored() || draft {
			continue
		}
		if fd.relevant.reads(tainted) || fd.requiredIf.reads(tainted) {
			if fd.Required && fd.relevant == nil && isEmptyInput(data[fd.ID]) {
				probs = append(probs, f.problem(fd, "required", "is required"))
			}
			continue
		}
		relevant := fd.relevant == nil
		if !relevant {
			relevant, _ = truth(fd.relevant.eval(en))
		}
		rawFilled := !isEmptyInput(data[fd.ID])
		switch {
		case !relevant && rawFilled:
			probs = append(probs, f.problem(fd, "relevant", "must be left empty here (it does not apply to this record)"))
		case relevant && !rawFilled && fd.Required:
			probs = append(probs, f.problem(fd, "required", "is required"))
		case relevant && !rawFilled && fd.requiredIf != nil:
			if b, _ := truth(fd.requiredIf.eval(en)); b {
				probs = append(probs, f.problem(fd, "required", "is required here"))
			}
		}
	}
	if !draft {
		for i := range f.Constraints {
			c := &f.Constraints[i]
			if c.expr == nil || c.expr.reads(tainted) {
				continue
			}
			b, known := truth(c.expr.eval(en))
			if !known || b {
				continue
			}
			rule := c.Rule
			if rule == "" {
				rule = "constraint"
			}
			for _, id := range c.Fields {
				fd, ok := f.Field(id)
				if !ok {
					continue
				}
				probs = append(probs, Problem{Field: id, Rule: rule, Message: fd.Label + ": " + c.Message})
			}
		}
	}
	if len(probs) > 0 {
		// Problems follow the order of the form; keys it does not define
		// come last.
		sort.SliceStable(probs, func(i, j int) bool { return f.order(probs[i].Field) < f.order(probs[j].Field) })
		return &ValidationError{FormID: f.ID, Version: f.Version, Problems: probs}
	}
	return nil
}

func (f *Form) order(id string) int {
	if i, ok := f.index[id]; ok {
		return i
	}
	return len(f.Fields)
}

// Relevant reports whether a field applies to a record with this data (skip
// logic): a field without a relevant expression always applies, one whose
// expression is not true (false or unknown) does not. Unknown ids are not
// relevant.
func (f *Form) Relevant(fieldID string, data map[string]any) bool {
	fd, ok := f.Field(fieldID)
	if !ok {
		return false
	}
	if fd.relevant == nil {
		return true
	}
	st := f.load(data)
	b, _ := truth(fd.relevant.eval(&env{vals: st.vals}))
	return b
}

// Compute returns a copy of data with the calculated fields filled in (and
// removed when their value is empty). Calculated values are float64 numbers
// or strings. data itself is not modified.
func (f *Form) Compute(data map[string]any) map[string]any {
	out := maps.Clone(data)
	if out == nil {
		out = map[string]any{}
	}
	st := f.load(data)
	for i := range f.Fields {
		fd := &f.Fields[i]
		if fd.Type != TypeCalculated {
			continue
		}
		if v, ok := st.vals[fd.ID]; ok {
			out[fd.ID] = exportValue(v)
		} else {
			delete(out, fd.ID)
		}
	}
	return out
}

// exportValue turns an internal value back into the JSON-shaped value of
// record data.
func exportValue(v any) any {
	switch x := v.(type) {
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]map[string]float64:
		out := make(map[string]any, len(x))
		for s, row := range x {
			r := make(map[string]any, len(row))
			for b, c := range row {
				r[b] = c
			}
			out[s] = r
		}
		return out
	case map[string]float64:
		out := make(map[string]any, len(x))
		for k, c := range x {
			out[k] = c
		}
		return out
	}
	return v
}

// Strip returns a copy of data without calculated fields, notes, keys the
// form does not define, and empty values (nil, "", [], {}): what is stored
// and sent.
func (f *Form) Strip(data map[string]any) map[string]any {
	out := make(map[string]any, len(data))
	for k, v := range data {
		fd, ok := f.Field(k)
		if !ok || !fd.stored() || isEmptyInput(v) {
			continue
		}
		out[k] = v
	}
	return out
}
