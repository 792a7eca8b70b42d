package reports_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/reports"
)

// expected holds figures computed independently of the package: table title
// -> row label -> column -> value. Absent cells are zero.
type expected map[string]map[string]map[string]float64

func (e expected) add(table, row, col string, x float64) {
	if e[table] == nil {
		e[table] = map[string]map[string]float64{}
	}
	if e[table][row] == nil {
		e[table][row] = map[string]float64{}
	}
	e[table][row][col] += x
}

// person classifies a casualty the way the Monitor does, from the raw age.
func person(d map[string]any) (group, ageCol string) {
	age, hasAge := d["age"].(float64)
	sex, _ := d["sex"].(string)
	switch {
	case !hasAge:
		ageCol = "Unknown"
	case age >= 60:
		ageCol = "Elderly (60+)"
	case age >= 18:
		ageCol = "Adult (18–59)"
	default:
		ageCol = "Child (<18)"
	}
	group = "Unknown"
	if hasAge && (sex == "female" || sex == "male") {
		group = map[bool]map[string]string{
			true:  {"female": "Girls", "male": "Boys"},
			false: {"female": "Women", "male": "Men"},
		}[age < 18][sex]
	}
	return group, ageCol
}

func has(d map[string]any, key, v string) bool {
	l, _ := d[key].([]any)
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// independent recomputes every table of the casualty, victim assistance,
// contamination, stockpile, risk education and needs sections from the raw
// data, by a different route: plain string-keyed sums.
func independent(src *memSource, from, to, adm1 string, endYear int) (expected, map[string]float64) {
	e := expected{}
	key := map[string]float64{}
	inP := func(d string) bool { return (from == "" || d >= from) && (to == "" || d <= to) }
	inA := func(v any) bool { return adm1 == "" || strings.EqualFold(fmt.Sprint(v), adm1) }
	compNames := map[string]string{"medical_care": "Medical care", "rehabilitation": "Rehabilitation", "psychosocial": "Psychosocial support",
		"education": "Education", "socio_economic": "Social and economic inclusion", "legal": "Legal and administrative"}
	for _, rev := range src.byForm["casualty"] {
		d := rev.Data
		date := d["incident_date"].(string)
		if !inP(date) || !inA(d["adm1"]) {
			continue
		}
		yr := date[:4]
		g, ageCol := person(d)
		out, _ := d["outcome"].(string)
		ctx, _ := d["cm_context"].(string)
		if ctx == "" {
			ctx = "unknown"
		}
		col := "Outcome unknown"
		if out != "unknown" {
			col = strings.ToUpper(out[:1]) + out[1:] + ", " + ctx
		}
		e.add(reports.TableCasualtiesByYear, yr, col, 1)
		e.add(reports.TableCasualtiesByGroup, yr, g, 1)
		e.add(reports.TableCasualtiesSexAge, strings.ToUpper(d["sex"].(string)[:1])+d["sex"].(string)[1:], ageCol, 1)
		e.add(reports.TableCasualtiesOutcome, g, strings.ToUpper(out[:1])+out[1:], 1)
		key["casualties"]++
		if out != "injured" {
			continue
		}
		e.add(reports.TableSurvivors, g, "Survivors", 1)
		if d["disability"] == "yes" {
			e.add(reports.TableSurvivors, g, "With a disability", 1)
		}
		anyUnmet := false
		for c, label := range compNames {
			if !has(d, "va_needs", c) {
				continue
			}
			e.add(reports.TableVANeeds, label, "Needed", 1)
			e.add(reports.TableVANeededByGroup, label, g, 1)
			if has(d, "va_received", c) {
				e.add(reports.TableVANeeds, label, "Met", 1)
			} else {
				anyUnmet = true
				e.add(reports.TableVANeeds, label, "Unmet", 1)
				e.add(reports.TableVAUnmetByGroup, label, g, 1)
			}
		}
		if anyUnmet {
			e.add(reports.TableSurvivors, g, "With an unmet need", 1)
		}
	}
	// The period's own tables: areas surveyed and releases made in it.
	areaProv := map[string]string{}
	for _, rev := range src.byForm["hazard_area"] {
		d := rev.Data
		prov := d["adm1"].(string)
		areaProv[d["area_code"].(string)] = prov
		if !inP(d["survey_date"].(string)) || !inA(prov) {
			continue
		}
		st := strings.ToUpper(d["status"].(string))
		e.add(reports.TableAreasByProvince, prov, st+" areas", 1)
		e.add(reports.TableAreasByProvince, prov, st+" km²", d["area_m2"].(float64))
	}
	for _, rev := range src.byForm["land_release"] {
		d := rev.Data
		date := d["release_date"].(string)
		if !inP(date) || !inA(areaProv[d["area_code"].(string)]) {
			continue
		}
		m2 := d["released_m2"].(float64)
		method := d["method"].(string)
		e.add(reports.TableReleaseByYear, date[:4], strings.ToUpper(method[:1])+method[1:], m2)
		key["released"] += m2
		s, _ := d["submunitions_destroyed"].(float64)
		e.add(reports.TableItemsByYear, date[:4], "Submunitions", s)
	}
	// The stock and the rate, as of the end of the period whatever its
	// start: each area surveyed by then, less what was released on it by
	// then; the rate over the three full years before endYear.
	byEnd := func(d string) bool { return to == "" || d <= to }
	for _, h := range src.byForm["hazard_area"] {
		hd := h.Data
		if !byEnd(hd["survey_date"].(string)) || !inA(hd["adm1"]) {
			continue
		}
		size := hd["area_m2"].(float64)
		var relOn float64
		for _, r := range src.byForm["land_release"] {
			rd := r.Data
			if rd["area_code"] == hd["area_code"] && byEnd(rd["release_date"].(string)) {
				relOn += rd["released_m2"].(float64)
			}
		}
		left := math.Max(0, size-relOn)
		e.add(reports.TableRemainingByProvince, hd["adm1"].(string), "Surveyed km²", size)
		e.add(reports.TableRemainingByProvince, hd["adm1"].(string), "Released km²", size-left)
		e.add(reports.TableRemainingByProvince, hd["adm1"].(string), "Remaining km²", left)
		key["remaining"] += left
	}
	first, last := fmt.Sprintf("%04d-01-01", endYear-3), fmt.Sprintf("%04d-12-31", endYear-1)
	for _, r := range src.byForm["land_release"] {
		rd := r.Data
		date := rd["release_date"].(string)
		if date >= first && date <= last && byEnd(date) && inA(areaProv[rd["area_code"].(string)]) {
			key["rate"] += rd["released_m2"].(float64) / 3
		}
	}
	for _, rev := range src.byForm["stockpile_destruction"] {
		d := rev.Data
		date := d["event_date"].(string)
		if !inP(date) || !inA(d["adm1"]) {
			continue
		}
		for _, k := range []string{d["munition_type"].(string), date[:4]} {
			tbl := reports.TableStockpileByType
			if k == date[:4] {
				tbl = reports.TableStockpileByYear
			}
			e.add(tbl, k, "Events", 1)
			e.add(tbl, k, "Munitions", d["munitions_destroyed"].(float64))
			e.add(tbl, k, "Submunitions", d["submunitions_destroyed"].(float64))
		}
	}
	methodNames := map[string]string{"face_to_face": "Face to face", "mass_media": "Mass media", "digital": "Digital", "school_curriculum": "School curriculum"}
	for _, rev := range src.byForm["risk_education"] {
		d := rev.Data
		if !inP(d["session_date"].(string)) || !inA(d["adm1"]) {
			continue
		}
		total := 0.0
		p, _ := d["participants"].(map[string]any)
		for sex, row := range p {
			for band, n := range row.(map[string]any) {
				e.add(reports.TableREReach, strings.ToUpper(sex[:1])+sex[1:], band, n.(float64))
				total += n.(float64)
				key["reach"] += n.(float64)
			}
		}
		m := methodNames[d["method"].(string)]
		e.add(reports.TableREByMethod, m, "Sessions", 1)
		e.add(reports.TableREByMethod, m, "Participants", total)
		ft, _ := d["first_time_participants"].(float64)
		e.add(reports.TableREByMethod, m, "First-time", ft)
	}
	artNames := map[string]string{"art3_stockpile": "Art. 3 Stockpile destruction", "art4_clearance": "Art. 4 Clearance",
		"art4_risk_education": "Art. 4 Risk education", "art5_victim_assistance": "Art. 5 Victim assistance", "art6_crosscutting": "Art. 6 Cross-cutting"}
	for _, rev := range src.byForm["needs_assessment"] {
		d := rev.Data
		if adm1 != "" && !inA(d["adm1"]) {
			continue
		}
		q, u := d["quantity"].(float64), d["unit_cost"].(float64)
		nat, _ := d["secured_national"].(float64)
		intl, _ := d["secured_international"].(float64)
		cost := q * u
		tbl := reports.TableNeedsByArticle + " (" + d["currency"].(string) + ")"
		a := artNames[d["article"].(string)]
		e.add(tbl, a, "Needs", 1)
		e.add(tbl, a, "Total cost", cost)
		e.add(tbl, a, "Secured national", nat)
		e.add(tbl, a, "Secured international", intl)
		e.add(tbl, a, "Funding gap", cost-nat-intl)
		key["cost"] += cost
		key["gap"] += cost - nat - intl
		for _, s := range d["support_type"].([]any) {
			st := reports.TableNeedsBySupport + " (" + d["currency"].(string) + ")"
			label := strings.ToUpper(s.(string)[:1]) + s.(string)[1:]
			e.add(st, label, "Needs", 1)
			e.add(st, label, "Total cost", cost)
			e.add(st, label, "Funding gap", cost-nat-intl)
		}
	}
	return e, key
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// compare checks every numeric cell, row total and total-row cell of every
// table in want against the report.
func compare(t *testing.T, rep *reports.Report, want expected) {
	t.Helper()
	tables := map[string]*reports.Table{}
	for si := range rep.Sections {
		for ti := range rep.Sections[si].Tables {
			tb := &rep.Sections[si].Tables[ti]
			tables[tb.Title] = tb
		}
	}
	checked := 0
	for title, rows := range want {
		tb := tables[title]
		if tb == nil {
			t.Errorf("report has no table %q", title)
			continue
		}
		colTotals := map[string]float64{}
		for rowLabel, cols := range rows {
			found := false
			for _, r := range tb.Rows {
				if r.Label != rowLabel {
					continue
				}
				found = true
				rowSum := 0.0
				for ci, col := range tb.Columns {
					if tb.Formats[ci] == reports.FormatText {
						continue
					}
					if got := r.Cells[ci].N; !near(got, cols[col]) {
						t.Errorf("%s / %s / %s = %v, want %v", title, rowLabel, col, got, cols[col])
					}
					rowSum += cols[col]
					colTotals[col] += cols[col]
					checked++
				}
				if r.Total != nil && !near(r.Total.N, rowSum) {
					t.Errorf("%s / %s total = %v, want %v", title, rowLabel, r.Total.N, rowSum)
				}
			}
			if !found {
				t.Errorf("%s: no row %q", title, rowLabel)
			}
		}
		// Rows the report has but the independent count has not must be zero.
		for _, r := range tb.Rows {
			if _, ok := rows[r.Label]; ok {
				continue
			}
			for ci, c := range r.Cells {
				if tb.Formats[ci] != reports.FormatText && c.N != 0 {
					t.Errorf("%s / %s / %s = %v, want 0", title, r.Label, tb.Columns[ci], c.N)
				}
			}
		}
		if tb.Total != nil {
			for ci, col := range tb.Columns {
				if tb.Formats[ci] == reports.FormatText {
					continue
				}
				if got := tb.Total.Cells[ci].N; !near(got, colTotals[col]) {
					t.Errorf("%s / Total / %s = %v, want %v", title, col, got, colTotals[col])
				}
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d cells checked", checked)
	}
}

func figure(t *testing.T, rep *reports.Report, label string) reports.Value {
	t.Helper()
	for _, f := range rep.KeyFigures {
		if f.Label == label {
			return f.Value
		}
	}
	t.Fatalf("no key figure %q", label)
	return reports.Value{}
}

func TestBuildMatchesIndependentComputation(t *testing.T) {
	src := demoSource(t, 11, 4000)
	tests := []struct {
		name     string
		from, to string
		adm1     string
	}{
		{name: "everything"},
		{name: "period", from: "2018-03-01", to: "2023-06-30"},
		{name: "province", adm1: "savannakhet"},
		{name: "period and province", from: "2020-01-01", adm1: "Xiengkhouang"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := reports.Filter{Adm1: tc.adm1}
			endYear := testNow.Year()
			if tc.from != "" {
				f.From, _ = time.Parse(time.DateOnly, tc.from)
			}
			if tc.to != "" {
				f.To, _ = time.Parse(time.DateOnly, tc.to)
				endYear = f.To.Year()
			}
			rep, err := reports.Build(context.Background(), src, forms.Builtin(), f, reports.Meta{State: "Lao PDR", GeneratedAt: testNow})
			if err != nil {
				t.Fatal(err)
			}
			want, key := independent(src, tc.from, tc.to, tc.adm1, endYear)
			compare(t, rep, want)
			if got := figure(t, rep, "Casualties recorded").N; got != key["casualties"] {
				t.Errorf("casualties recorded = %v, want %v", got, key["casualties"])
			}
			if got := figure(t, rep, "Hazardous area remaining (km²)").N; !near(got, key["remaining"]) {
				t.Errorf("remaining = %v, want %v", got, key["remaining"])
			}
			if got := figure(t, rep, "Land released in the period (km²)").N; !near(got, key["released"]) {
				t.Errorf("released = %v, want %v", got, key["released"])
			}
			if got := figure(t, rep, "Risk education participants").N; got != key["reach"] {
				t.Errorf("reach = %v, want %v", got, key["reach"])
			}
			if got := figure(t, rep, "Needs: funding gap (USD)").N; !near(got, key["gap"]) {
				t.Errorf("gap = %v, want %v", got, key["gap"])
			}
			yl := figure(t, rep, "Years left at the recent release rate").Text
			if key["rate"] == 0 {
				if yl != "—" {
					t.Errorf("years left = %q with no release, want —", yl)
				}
			} else if want := strconv.FormatFloat(key["remaining"]/key["rate"], 'f', 1, 64); yl != want {
				t.Errorf("years left = %q, want %q", yl, want)
			}
		})
	}
}

func TestBuildSuppression(t *testing.T) {
	src := &memSource{}
	// Three injured girls in 2024 and seven men killed in 2024.
	for range 3 {
		src.add(t, "casualty", map[string]any{"incident_date": "2024-05-01", "adm1": "Attapeu", "outcome": "injured", "sex": "female", "age": 9.0, "cm_context": "remnant"})
	}
	for range 7 {
		src.add(t, "casualty", map[string]any{"incident_date": "2024-06-01", "adm1": "Attapeu", "outcome": "killed", "sex": "male", "age": 30.0, "cm_context": "remnant"})
	}
	rep, err := reports.Build(context.Background(), src, forms.Builtin(), reports.Filter{SuppressBelow: 5}, reports.Meta{GeneratedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	tb := rep.Section(reports.SectionCasualties).Table(reports.TableCasualtiesByGroup)
	girls, _ := tb.Cell("2024", "Girls")
	men, _ := tb.Cell("2024", "Men")
	if !girls.Suppressed || girls.N != 0 || girls.String() != "<5" {
		t.Errorf("3 girls shown as %+v (%s), want suppressed <5", girls, girls)
	}
	if men.Suppressed || men.N != 7 {
		t.Errorf("7 men shown as %+v, want 7", men)
	}
	row := tb.Rows[0]
	if !row.Total.AtLeast || row.Total.N != 7 || row.Total.String() != "7+" {
		t.Errorf("row total %+v (%s), want 7+ (visible cells only)", row.Total, row.Total)
	}
	if got := figure(t, rep, "Casualties recorded"); got.String() != "7+" {
		t.Errorf("key figure casualties = %s, want 7+", got)
	}
	// Without suppression the exact figures show.
	rep, err = reports.Build(context.Background(), src, forms.Builtin(), reports.Filter{}, reports.Meta{GeneratedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	girls, _ = rep.Section(reports.SectionCasualties).Table(reports.TableCasualtiesByGroup).Cell("2024", "Girls")
	if girls.Suppressed || girls.N != 3 {
		t.Errorf("unsuppressed girls = %+v, want 3", girls)
	}
	if got := figure(t, rep, "Casualties recorded"); got.String() != "10" {
		t.Errorf("casualties = %s, want 10", got)
	}
}

func TestBuildBadFilter(t *testing.T) {
	src := &memSource{}
	tests := []reports.Filter{
		{From: testNow, To: testNow.AddDate(0, 0, -1)},
		{SuppressBelow: -1},
	}
	for _, f := range tests {
		t.Run("", func(t *testing.T) {
			if _, err := reports.Build(context.Background(), src, forms.Builtin(), f, reports.Meta{}); !errors.Is(err, reports.ErrBadFilter) {
				t.Fatalf("got %v, want ErrBadFilter", err)
			}
		})
	}
}

func TestBuildUnknownFormVersion(t *testing.T) {
	src := &memSource{}
	rev := src.add(t, "casualty", map[string]any{"incident_date": "2024-05-01", "adm1": "Attapeu", "outcome": "injured", "sex": "female"})
	rev.FormVersion = 99
	_, err := reports.Build(context.Background(), src, forms.Builtin(), reports.Filter{}, reports.Meta{})
	if !errors.Is(err, forms.ErrUnknownForm) {
		t.Fatalf("got %v, want ErrUnknownForm", err)
	}
}

func TestPriorityList(t *testing.T) {
	src := demoSource(t, 17, 3000)
	rep, err := reports.Build(context.Background(), src, forms.Builtin(), reports.Filter{}, reports.Meta{GeneratedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	tb := rep.Section(reports.SectionNeeds).Table(reports.TablePriorityList)
	// Independently: the open needs with high priority, largest gap first.
	var gaps []float64
	for _, rev := range src.byForm["needs_assessment"] {
		d := rev.Data
		if d["status"] == "met" || d["priority"] != "high" {
			continue
		}
		nat, _ := d["secured_national"].(float64)
		intl, _ := d["secured_international"].(float64)
		gaps = append(gaps, d["quantity"].(float64)*d["unit_cost"].(float64)-nat-intl)
	}
	if len(gaps) < reports.PriorityListLen {
		t.Fatalf("only %d open high-priority needs; the data set is too small for this test", len(gaps))
	}
	slices.Sort(gaps)
	slices.Reverse(gaps)
	if len(tb.Rows) != reports.PriorityListLen {
		t.Fatalf("priority list has %d rows, want %d", len(tb.Rows), reports.PriorityListLen)
	}
	for i, r := range tb.Rows {
		if r.Cells[2].Text != "high" || r.Cells[3].Text == "met" {
			t.Errorf("row %d: priority %s, status %s", i+1, r.Cells[2].Text, r.Cells[3].Text)
		}
		if !near(r.Cells[5].N, gaps[i]) {
			t.Errorf("row %d: gap %v, want %v", i+1, r.Cells[5].N, gaps[i])
		}
	}
}

// TestContaminationStockIgnoresFrom: the remaining area is a stock as of the
// period's end and the rate has a fixed window before it, so a start date
// changes neither; the period's own release table still follows it.
func TestContaminationStockIgnoresFrom(t *testing.T) {
	src := &memSource{}
	src.add(t, "hazard_area", map[string]any{"area_code": "XK-001", "survey_date": "2020-04-01", "adm1": "Xiengkhouang", "status": "cha", "area_m2": 1e6})
	src.add(t, "land_release", map[string]any{"area_code": "XK-001", "release_date": "2023-06-01", "adm1": "Xiengkhouang", "method": "cleared", "released_m2": 3e5})
	to := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name                string
		f                   reports.Filter
		remaining, inPeriod float64
		yearsLeft           string
	}{
		{name: "to only", f: reports.Filter{To: to}, remaining: 7e5, inPeriod: 3e5, yearsLeft: "7.0"},
		{name: "from and to", f: reports.Filter{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: to}, remaining: 7e5, inPeriod: 0, yearsLeft: "7.0"},
		{name: "from, to and province", f: reports.Filter{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: to, Adm1: "xiengkhouang"}, remaining: 7e5, inPeriod: 0, yearsLeft: "7.0"},
		{name: "other province", f: reports.Filter{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: to, Adm1: "Attapeu"}, remaining: 0, inPeriod: 0, yearsLeft: "—"},
		{name: "end before the release", f: reports.Filter{From: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2022, 12, 31, 0, 0, 0, 0, time.UTC)}, remaining: 1e6, inPeriod: 0, yearsLeft: "—"},
		{name: "end before the survey", f: reports.Filter{To: time.Date(2019, 12, 31, 0, 0, 0, 0, time.UTC)}, remaining: 0, inPeriod: 0, yearsLeft: "—"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := reports.Build(context.Background(), src, forms.Builtin(), tc.f, reports.Meta{GeneratedAt: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if got := figure(t, rep, "Hazardous area remaining (km²)").N; !near(got, tc.remaining) {
				t.Errorf("remaining = %v, want %v", got, tc.remaining)
			}
			if got := figure(t, rep, "Land released in the period (km²)").N; !near(got, tc.inPeriod) {
				t.Errorf("released in the period = %v, want %v", got, tc.inPeriod)
			}
			if got := figure(t, rep, "Years left at the recent release rate").Text; got != tc.yearsLeft {
				t.Errorf("years left = %q, want %q", got, tc.yearsLeft)
			}
		})
	}
}

// TestReportJSONAreasInKm2: in the JSON export, areas are in km², as their
// labels say; other figures are unchanged.
func TestReportJSONAreasInKm2(t *testing.T) {
	src := &memSource{}
	src.add(t, "hazard_area", map[string]any{"area_code": "XK-001", "survey_date": "2020-04-01", "adm1": "Xiengkhouang", "status": "cha", "area_m2": 1e6})
	src.add(t, "land_release", map[string]any{"area_code": "XK-001", "release_date": "2023-06-01", "adm1": "Xiengkhouang", "method": "cleared", "released_m2": 3e5})
	src.add(t, "casualty", map[string]any{"incident_date": "2023-05-01", "adm1": "Attapeu", "outcome": "killed", "sex": "male", "age": 30.0, "cm_context": "remnant"})
	rep, err := reports.Build(context.Background(), src, forms.Builtin(), reports.Filter{}, reports.Meta{GeneratedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		KeyFigures []struct {
			Label string `json:"label"`
			Value any    `json:"value"`
		} `json:"key_figures"`
		Sections []struct {
			Tables []struct {
				Title   string   `json:"title"`
				Columns []string `json:"columns"`
				Rows    []struct {
					Label string `json:"label"`
					Cells []any  `json:"cells"`
				} `json:"rows"`
				Total *struct {
					Cells []any `json:"cells"`
					Total any   `json:"total"`
				} `json:"total"`
			} `json:"tables"`
		} `json:"sections"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	figs := map[string]any{}
	for _, f := range got.KeyFigures {
		figs[f.Label] = f.Value
	}
	for label, want := range map[string]float64{"Hazardous area remaining (km²)": 0.7, "Land released in the period (km²)": 0.3, "Casualties recorded": 1} {
		if v, ok := figs[label].(float64); !ok || !near(v*1e6, want*1e6) {
			t.Errorf("JSON %q = %v, want %v", label, figs[label], want)
		}
	}
	checked := 0
	for _, s := range got.Sections {
		for _, tb := range s.Tables {
			switch tb.Title {
			case reports.TableRemainingByProvince:
				if len(tb.Rows) != 1 || fmt.Sprint(tb.Rows[0].Cells) != "[1 0.3 0.7]" {
					t.Errorf("JSON %s rows = %+v, want Xiengkhouang [1 0.3 0.7]", tb.Title, tb.Rows)
				}
				checked++
			case reports.TableReleaseByYear:
				if tb.Total == nil || fmt.Sprint(tb.Total.Total) != "0.3" {
					t.Errorf("JSON %s total = %+v, want 0.3", tb.Title, tb.Total)
				}
				checked++
			}
		}
	}
	if checked != 2 {
		t.Errorf("found %d of the 2 area tables in the JSON", checked)
	}
}
