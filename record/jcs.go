package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Canonical returns the RFC 8785 (JCS) canonical JSON encoding of v.
//
// v may be any value built from JSON-compatible Go types: nil, bool, string,
// float64, float32, the integer kinds, json.Number, []any, []string,
// map[string]any, map[string]int and nested combinations of those. Other
// values are first round-tripped through encoding/json, so structs with json
// tags work too. Numbers are written as ECMAScript's Number.prototype.toString
// writes them, so 3, 3.0 and json.Number("3.00") all encode as 3.
func Canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrNotCanonicalizable reports a value that has no JSON form (NaN, ±Inf,
// a channel, …).
var ErrNotCanonicalizable = errors.New("value cannot be written as canonical JSON")

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case string:
		writeString(buf, x)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return fmt.Errorf("%w: number %q", ErrNotCanonicalizable, string(x))
		}
		return writeNumber(buf, f)
	case float64:
		return writeNumber(buf, x)
	case float32:
		return writeNumber(buf, float64(x))
	case int:
		return writeNumber(buf, float64(x))
	case int8:
		return writeNumber(buf, float64(x))
	case int16:
		return writeNumber(buf, float64(x))
	case int32:
		return writeNumber(buf, float64(x))
	case int64:
		return writeNumber(buf, float64(x))
	case uint:
		return writeNumber(buf, float64(x))
	case uint8:
		return writeNumber(buf, float64(x))
	case uint16:
		return writeNumber(buf, float64(x))
	case uint32:
		return writeNumber(buf, float64(x))
	case uint64:
		return writeNumber(buf, float64(x))
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case []string:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, e)
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortUTF16(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := writeCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		// Fall back to encoding/json for structs and other maps, then
		// canonicalise the generic form.
		raw, err := json.Marshal(x)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotCanonicalizable, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var generic any
		if err := dec.Decode(&generic); err != nil {
			return fmt.Errorf("%w: %v", ErrNotCanonicalizable, err)
		}
		return writeCanonical(buf, generic)
	}
	return nil
}

// sortUTF16 sorts keys by their UTF-16 code units, as RFC 8785 §3.2.3 asks.
func sortUTF16(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if isASCII(a) && isASCII(b) {
			return a < b
		}
		ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
		for k := 0; k < len(ua) && k < len(ub); k++ {
			if ua[k] != ub[k] {
				return ua[k] < ub[k]
			}
		}
		return len(ua) < len(ub)
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// writeString writes s with the minimal escaping of RFC 8785 §3.2.2.2.
func writeString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch r {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '\b':
			buf.WriteString(`\b`)
		case '\f':
			buf.WriteString(`\f`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		default:
			if r < 0x20 {
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[r>>4])
				buf.WriteByte(hex[r&0xf])
			} else {
				buf.WriteRune(r)
			}
		}
	}
	buf.WriteByte('"')
}

// writeNumber writes f as ECMAScript's Number.prototype.toString does
// (RFC 8785 §3.2.2.3).
func writeNumber(buf *bytes.Buffer, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%w: %v", ErrNotCanonicalizable, f)
	}
	if f == 0 {
		buf.WriteByte('0') // also for -0
		return nil
	}
	if f < 0 {
		buf.WriteByte('-')
		f = -f
	}
	// Shortest round-trip digits and the decimal exponent.
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddddde±XX
	mant, expStr, _ := strings.Cut(s, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to digits
	switch {
	case k <= n && n <= 21:
		buf.WriteString(digits)
		buf.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		buf.WriteString(digits[:n])
		buf.WriteByte('.')
		buf.WriteString(digits[n:])
	case -6 < n && n <= 0:
		buf.WriteString("0.")
		buf.WriteString(strings.Repeat("0", -n))
		buf.WriteString(digits)
	default:
		buf.WriteByte(digits[0])
		if k > 1 {
			buf.WriteByte('.')
			buf.WriteString(digits[1:])
		}
		buf.WriteByte('e')
		if n-1 >= 0 {
			buf.WriteByte('+')
		}
		buf.WriteString(strconv.Itoa(n - 1))
	}
	return nil
}
