package forms

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The flat (CSV) layout of a form. Columns come in form order; notes have no
// column. A geopoint field F is split into F_lat, F_lon and F_accuracy_m; a
// sadd field F has one column F_<sex>_<band> per sex and band (sexes outer,
// in the order the form lists them). select_multiple values are joined with
// a single space; booleans are "true"/"false"; numbers are written in plain
// decimal without exponent. Calculated fields are included (computed).

var geoParts = []string{"lat", "lon", "accuracy_m"}

// Columns returns the flat CSV column names in order.
func (f *Form) Columns() []string {
	var cols []string
	for i := range f.Fields {
		fd := &f.Fields[i]
		switch fd.Type {
		case TypeNote:
		case TypeGeopoint:
			for _, p := range geoParts {
				cols = append(cols, fd.ID+"_"+p)
			}
		case TypeSADD:
			for _, s := range fd.Sexes {
				for _, b := range fd.Bands {
					cols = append(cols, fd.ID+"_"+s+"_"+b)
				}
			}
		default:
			cols = append(cols, fd.ID)
		}
	}
	return cols
}

// ColumnFields returns, aligned with Columns, the id of the field each column
// belongs to, so that a caller can leave out, for example, the columns of
// sensitive fields.
func (f *Form) ColumnFields() []string {
	var ids []string
	for i := range f.Fields {
		fd := &f.Fields[i]
		n := 1
		switch fd.Type {
		case TypeNote:
			n = 0
		case TypeGeopoint:
			n = len(geoParts)
		case TypeSADD:
			n = len(fd.Sexes) * len(fd.Bands)
		}
		for range n {
			ids = append(ids, fd.ID)
		}
	}
	return ids
}

// HXLTags returns the HXL hashtag row aligned with Columns: the field's HXL
// tag, with +f/+m and age attributes added for sadd cells ("" where a field
// has no tag).
func (f *Form) HXLTags() []string {
	var tags []string
	for i := range f.Fields {
		fd := &f.Fields[i]
		switch fd.Type {
		case TypeNote:
		case TypeGeopoint:
			if fd.HXL == "" {
				tags = append(tags, "", "", "")
			} else {
				tags = append(tags, "#geo+lat", "#geo+lon", "#geo+accuracy")
			}
		case TypeSADD:
			for _, s := range fd.Sexes {
				for _, b := range fd.Bands {
					if fd.HXL == "" {
						tags = append(tags, "")
						continue
					}
					tags = append(tags, fd.HXL+hxlSex[s]+hxlBand[b])
				}
			}
		default:
			tags = append(tags, fd.HXL)
		}
	}
	return tags
}

var hxlSex = map[string]string{"female": "+f", "male": "+m"}
var hxlBand = map[string]string{
	"0-4": "+infants", "5-12": "+children", "13-17": "+adolescents", "0-17": "+children",
	"18-59": "+adults", "60+": "+elderly",
}

// Flatten returns one CSV row in Columns order. Calculated fields are
// computed; empty or invalid values give empty cells; a sadd that is present
// gives empty cells for its missing counts.
func (f *Form) Flatten(data map[string]any) []string {
	st := f.load(data)
	row := make([]string, 0, len(f.Fields))
	for i := range f.Fields {
		fd := &f.Fields[i]
		v := st.vals[fd.ID]
		switch fd.Type {
		case TypeNote:
		case TypeGeopoint:
			g, _ := v.(map[string]float64)
			for _, p := range geoParts {
				if x, ok := g[p]; ok {
					row = append(row, fmtNum(x))
				} else {
					row = append(row, "")
				}
			}
		case TypeSADD:
			m, _ := v.(map[string]map[string]float64)
			for _, s := range fd.Sexes {
				for _, b := range fd.Bands {
					if x, ok := m[s][b]; ok {
						row = append(row, fmtNum(x))
					} else {
						row = append(row, "")
					}
				}
			}
		default:
			row = append(row, cell(v))
		}
	}
	return row
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmtNum(x)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		return strings.Join(x, " ")
	}
	return fmt.Sprint(v)
}

// Unflatten is the inverse of Flatten, for CSV import: it turns a row keyed
// by column name into record data with typed values (numbers as float64,
// select_multiple as []any, booleans from true/false/yes/no/1/0). Empty cells
// are omitted, as are columns of calculated fields. An unknown column or a
// cell that cannot hold its field's type is an error naming the column. The
// result still needs Validate.
func (f *Form) Unflatten(row map[string]string) (map[string]any, error) {
	owner := map[string]*Field{}
	for i := range f.Fields {
		fd := &f.Fields[i]
		switch fd.Type {
		case TypeGeopoint:
			for _, p := range geoParts {
				owner[fd.ID+"_"+p] = fd
			}
		case TypeSADD:
			for _, s := range fd.Sexes {
				for _, b := range fd.Bands {
					owner[fd.ID+"_"+s+"_"+b] = fd
				}
			}
		case TypeNote:
		default:
			owner[fd.ID] = fd
		}
	}
	cols := make([]string, 0, len(row))
	for c := range row {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	out := map[string]any{}
	var errs []string
	for _, c := range cols {
		fd, ok := owner[c]
		if !ok {
			errs = append(errs, fmt.Sprintf("column %q: this form (%s v%d) has no such column", clip(c), f.ID, f.Version))
			continue
		}
		raw := strings.TrimSpace(row[c])
		if raw == "" || fd.Type == TypeCalculated {
			continue
		}
		switch fd.Type {
		case TypeInteger, TypeDecimal:
			x, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				errs = append(errs, fmt.Sprintf("column %q: %q is not a number", c, clip(raw)))
				continue
			}
			out[fd.ID] = x
		case TypeBoolean:
			switch strings.ToLower(raw) {
			case "true", "yes", "1":
				out[fd.ID] = true
			case "false", "no", "0":
				out[fd.ID] = false
			default:
				errs = append(errs, fmt.Sprintf("column %q: %q is not true or false", c, clip(raw)))
			}
		case TypeSelectMultiple:
			var list []any
			for _, s := range strings.Fields(raw) {
				list = append(list, s)
			}
			out[fd.ID] = list
		case TypeGeopoint:
			x, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				errs = append(errs, fmt.Sprintf("column %q: %q is not a number", c, clip(raw)))
				continue
			}
			g, _ := out[fd.ID].(map[string]any)
			if g == nil {
				g = map[string]any{}
				out[fd.ID] = g
			}
			g[strings.TrimPrefix(c, fd.ID+"_")] = x
		case TypeSADD:
			x, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				errs = append(errs, fmt.Sprintf("column %q: %q is not a number", c, clip(raw)))
				continue
			}
			rest := strings.TrimPrefix(c, fd.ID+"_")
			var sex, band string
			for _, s := range fd.Sexes {
				if strings.HasPrefix(rest, s+"_") && contains(fd.Bands, rest[len(s)+1:]) {
					sex, band = s, rest[len(s)+1:]
					break
				}
			}
			m, _ := out[fd.ID].(map[string]any)
			if m == nil {
				m = map[string]any{}
				out[fd.ID] = m
			}
			r, _ := m[sex].(map[string]any)
			if r == nil {
				r = map[string]any{}
				m[sex] = r
			}
			r[band] = x
		default:
			out[fd.ID] = raw
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return out, nil
}
