package reports

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
)

// Section ids, in report order.
const (
	SectionCasualties    = "casualties"
	SectionAssistance    = "victim_assistance"
	SectionContamination = "contamination"
	SectionStockpile     = "stockpile"
	SectionRiskEducation = "risk_education"
	SectionNeeds         = "needs"
)

// The casualty groups of the Landmine and Cluster Munition Monitor: girls and
// boys are under 18; women and men are 18 or older; everyone whose sex or age
// is unknown is "Unknown".
var groups = []string{"Girls", "Boys", "Women", "Men", "Unknown"}

func groupOf(sex, ageGroup string) int {
	child := ageGroup == "child"
	adult := ageGroup == "adult" || ageGroup == "elderly"
	switch {
	case sex == "female" && child:
		return 0
	case sex == "male" && child:
		return 1
	case sex == "female" && adult:
		return 2
	case sex == "male" && adult:
		return 3
	}
	return 4
}

var (
	sexes      = []string{"female", "male", "unknown"}
	sexLabels  = []string{"Female", "Male", "Unknown"}
	ageGroups  = []string{"child", "adult", "elderly", "unknown"}
	ageLabels  = []string{"Child (<18)", "Adult (18–59)", "Elderly (60+)", "Unknown"}
	outcomes   = []string{"killed", "injured", "unknown"}
	outLabels  = []string{"Killed", "Injured", "Unknown"}
	contexts   = []string{"attack", "remnant", "unknown"}
	casCols    = []string{"Killed, attack", "Killed, remnant", "Killed, unknown", "Injured, attack", "Injured, remnant", "Injured, unknown", "Outcome unknown"}
	components = []string{"medical_care", "rehabilitation", "psychosocial", "education", "socio_economic", "legal"}
	compLabels = []string{"Medical care", "Rehabilitation", "Psychosocial support", "Education", "Social and economic inclusion", "Legal and administrative"}
	methods    = []string{"cancelled", "reduced", "cleared", ""}
	methLabels = []string{"Cancelled", "Reduced", "Cleared", "Method not given"}
	articles   = []string{"art3_stockpile", "art4_clearance", "art4_risk_education", "art5_victim_assistance", "art6_crosscutting"}
	artLabels  = []string{"Art. 3 Stockpile destruction", "Art. 4 Clearance", "Art. 4 Risk education", "Art. 5 Victim assistance", "Art. 6 Cross-cutting"}
	supports   = []string{"technical", "material", "financial"}
	supLabels  = []string{"Technical", "Material", "Financial"}
	priorities = []string{"high", "medium", "low"}
	reMethods  = []string{"face_to_face", "mass_media", "digital", "school_curriculum"}
	reMethLbl  = []string{"Face to face", "Mass media", "Digital", "School curriculum"}
)

// index returns the position of v in list, or the last position (the
// "unknown" or "other" bucket) when v is not listed.
func index(list []string, v string) int {
	if i := slices.Index(list, v); i >= 0 {
		return i
	}
	return len(list) - 1
}

// PriorityListLen is the number of needs the priority list shows.
const PriorityListLen = 40

// Build computes a needs assessment from src: one streaming pass per form.
// Calculated fields (age_group, total_cost, funding_gap) are computed with
// the revision's own form version from reg. meta.GeneratedAt is the report
// time; the years-left estimate uses the year of f.To, or of GeneratedAt.
func Build(ctx context.Context, src Source, reg *forms.Registry, f Filter, meta Meta) (*Report, error) {
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return nil, fmt.Errorf("reports: period ends (%s) before it starts (%s): %w", f.To.Format(time.DateOnly), f.From.Format(time.DateOnly), ErrBadFilter)
	}
	if f.SuppressBelow < 0 {
		return nil, fmt.Errorf("reports: suppression threshold %d is negative: %w", f.SuppressBelow, ErrBadFilter)
	}
	a := &aggregator{reg: reg, f: f, forms: map[formKey]*forms.Form{}}
	a.from, a.to = dateBound(f.From), dateBound(f.To)
	a.adm1 = normAdm1(f.Adm1)
	passes := []struct {
		form string
		fn   func(map[string]any)
	}{
		{"casualty", a.casualty},
		{"hazard_area", a.hazard},
		{"land_release", a.release},
		{"stockpile_destruction", a.stockpile},
		{"risk_education", a.riskEducation},
		{"needs_assessment", a.need},
	}
	a.init()
	for _, p := range passes {
		n := 0
		err := src.EachCurrent(ctx, p.form, func(rev *record.Revision) error {
			if n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n++
			if f.Progress != nil && n%ProgressEvery == 0 {
				f.Progress(p.form, n)
			}
			if rev.Deleted || rev.FormID != p.form {
				return nil
			}
			form, err := a.form(rev.FormID, rev.FormVersion)
			if err != nil {
				return err
			}
			data := rev.Data
			if p.form == "casualty" || p.form == "needs_assessment" {
				data = form.Compute(rev.Data)
			}
			p.fn(data)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reports: reading %s records: %w", p.form, err)
		}
		if f.Progress != nil {
			f.Progress(p.form, n)
		}
	}
	endYear := meta.GeneratedAt.Year()
	if !f.To.IsZero() {
		endYear = f.To.Year()
	}
	return a.report(meta, endYear), nil
}

type formKey struct {
	id      string
	version int
}

type aggregator struct {
	reg      *forms.Registry
	forms    map[formKey]*forms.Form
	f        Filter
	from, to string // "YYYY-MM-DD" or ""
	adm1     string

	// casualties
	casByYear   map[int]*[7]float64
	groupByYear map[int]*[5]float64
	sexAge      [3][4]float64
	groupOut    [5][3]float64
	// victim assistance (injured survivors)
	survivors     [5]float64
	disabled      [5]float64
	needed, met   [6][5]float64
	withUnmetNeed [5]float64
	// contamination
	areas      map[string]*areaInfo
	provStatus map[string]*[2][2]float64 // province -> status -> {count, m2}
	relByYear  map[int]*[4]float64       // year -> method -> m2
	relByProv  map[string]*[4]float64
	subsByYear map[int]float64
	itemsDestr float64
	orphanRel  float64 // m2 released on areas not on file
	// rateByYear is m2 released per year up to the period's end, whatever
	// its start: the release rate has a fixed window (see Build).
	rateByYear map[int]float64
	// stockpile
	stockByType map[string]*[3]float64 // events, munitions, submunitions
	stockByYear map[int]*[3]float64
	// risk education
	reach    [3][6]float64
	reByMeth [4][3]float64 // sessions, participants, first-time
	// needs, per currency
	needs map[string]*needTotals
	prio  []priorityItem
}

type areaInfo struct {
	adm1     string
	m2       float64
	released float64 // m2 released on it up to the period's end
	// inStock: surveyed by the period's end (whatever its start) and in the
	// province filter, so it counts towards the remaining area.
	inStock bool
}

type needTotals struct {
	byArticle [5]moneyRow
	bySupport [3]moneyRow
	total     moneyRow
}

type moneyRow struct {
	count, cost, national, international, gap float64
	start, end                                string
}

func (m *moneyRow) add(cost, nat, intl, gap float64, start, end string) {
	m.count++
	m.cost += cost
	m.national += nat
	m.international += intl
	m.gap += gap
	if start != "" && (m.start == "" || start < m.start) {
		m.start = start
	}
	if end != "" && end > m.end {
		m.end = end
	}
}

type priorityItem struct {
	title, article, priority, status, currency, adm1, start, end string
	cost, gap                                                    float64
}

func (a *aggregator) init() {
	a.casByYear = map[int]*[7]float64{}
	a.groupByYear = map[int]*[5]float64{}
	a.areas = map[string]*areaInfo{}
	a.provStatus = map[string]*[2][2]float64{}
	a.relByYear = map[int]*[4]float64{}
	a.relByProv = map[string]*[4]float64{}
	a.rateByYear = map[int]float64{}
	a.subsByYear = map[int]float64{}
	a.stockByType = map[string]*[3]float64{}
	a.stockByYear = map[int]*[3]float64{}
	a.needs = map[string]*needTotals{}
}

func (a *aggregator) form(id string, version int) (*forms.Form, error) {
	k := formKey{id, version}
	if f, ok := a.forms[k]; ok {
		return f, nil
	}
	f, err := a.reg.Get(id, version)
	if err != nil {
		return nil, fmt.Errorf("form %s version %d: %w", id, version, err)
	}
	a.forms[k] = f
	return f, nil
}

func dateBound(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func normAdm1(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// inPeriod reports whether date (YYYY-MM-DD) lies in the filter's period; a
// record without a date is only in an open period.
func (a *aggregator) inPeriod(date string) bool {
	if a.from == "" && a.to == "" {
		return true
	}
	if len(date) < 10 {
		return false
	}
	return (a.from == "" || date >= a.from) && (a.to == "" || date <= a.to)
}

// byEnd reports whether date (YYYY-MM-DD) is on or before the period's end,
// whatever its start: the stock of hazardous area and the release rate are
// taken as of the end of the period. Without an end every record counts; with
// one, a record without a date does not.
func (a *aggregator) byEnd(date string) bool {
	if a.to == "" {
		return true
	}
	return len(date) >= 10 && date <= a.to
}

func (a *aggregator) inAdm1(v string) bool { return a.adm1 == "" || normAdm1(v) == a.adm1 }

func str(data map[string]any, k string) string {
	s, _ := data[k].(string)
	return s
}

// num returns a numeric value as JSON decodes it (float64), also accepting
// Go integers and json.Number; anything else counts as 0.
func num(data map[string]any, k string) float64 {
	switch v := data[k].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case interface{ Float64() (float64, error) }:
		x, _ := v.Float64()
		return x
	}
	return 0
}

func list(data map[string]any, k string) []string {
	switch v := data[k].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// year returns the year of a "YYYY-MM-DD" date, or 0.
func year(date string) int {
	if len(date) < 4 {
		return 0
	}
	y, err := strconv.Atoi(date[:4])
	if err != nil {
		return 0
	}
	return y
}

func (a *aggregator) casualty(d map[string]any) {
	date := str(d, "incident_date")
	if !a.inPeriod(date) || !a.inAdm1(str(d, "adm1")) {
		return
	}
	y := year(date)
	sex, ag, out := index(sexes, str(d, "sex")), index(ageGroups, str(d, "age_group")), index(outcomes, str(d, "outcome"))
	g := groupOf(sexes[sex], ageGroups[ag])
	col := 6
	if out < 2 {
		col = out*3 + index(contexts, str(d, "cm_context"))
	}
	row := a.casByYear[y]
	if row == nil {
		row = new([7]float64)
		a.casByYear[y] = row
	}
	row[col]++
	gr := a.groupByYear[y]
	if gr == nil {
		gr = new([5]float64)
		a.groupByYear[y] = gr
	}
	gr[g]++
	a.sexAge[sex][ag]++
	a.groupOut[g][out]++
	if outcomes[out] != "injured" {
		return
	}
	a.survivors[g]++
	if str(d, "disability") == "yes" {
		a.disabled[g]++
	}
	needs, recv := list(d, "va_needs"), list(d, "va_received")
	unmet := false
	for i, c := range components {
		if !slices.Contains(needs, c) {
			continue
		}
		a.needed[i][g]++
		if slices.Contains(recv, c) {
			a.met[i][g]++
		} else {
			unmet = true
		}
	}
	if unmet {
		a.withUnmetNeed[g]++
	}
}

func (a *aggregator) hazard(d map[string]any) {
	code := str(d, "area_code")
	adm1 := str(d, "adm1")
	date := str(d, "survey_date")
	in := a.inPeriod(date) && a.inAdm1(adm1)
	m2 := num(d, "area_m2")
	a.areas[code] = &areaInfo{adm1: adm1, m2: m2, inStock: a.byEnd(date) && a.inAdm1(adm1)}
	if !in {
		return
	}
	ps := a.provStatus[adm1]
	if ps == nil {
		ps = new([2][2]float64)
		a.provStatus[adm1] = ps
	}
	st := 0
	if str(d, "status") == "cha" {
		st = 1
	}
	ps[st][0]++
	ps[st][1] += m2
}

func (a *aggregator) release(d map[string]any) {
	date := str(d, "release_date")
	ar := a.areas[str(d, "area_code")]
	adm1 := str(d, "adm1")
	if ar != nil {
		adm1 = ar.adm1
	}
	if !a.inAdm1(adm1) || !a.byEnd(date) {
		return
	}
	m2 := num(d, "released_m2")
	// The stock and the rate look at every release up to the period's end.
	if ar != nil && ar.inStock {
		ar.released += m2
	}
	if len(date) >= 10 {
		a.rateByYear[year(date)] += m2
	}
	if !a.inPeriod(date) {
		return
	}
	m := index(methods, str(d, "method"))
	y := year(date)
	r := a.relByYear[y]
	if r == nil {
		r = new([4]float64)
		a.relByYear[y] = r
	}
	r[m] += m2
	p := a.relByProv[adm1]
	if p == nil {
		p = new([4]float64)
		a.relByProv[adm1] = p
	}
	p[m] += m2
	a.subsByYear[y] += num(d, "submunitions_destroyed")
	a.itemsDestr += num(d, "other_items_destroyed")
	if ar == nil || !ar.inStock {
		a.orphanRel += m2
	}
}

func (a *aggregator) stockpile(d map[string]any) {
	date := str(d, "event_date")
	if !a.inPeriod(date) || !a.inAdm1(str(d, "adm1")) {
		return
	}
	t := strings.TrimSpace(str(d, "munition_type"))
	if t == "" {
		t = "Unspecified"
	}
	vals := [3]float64{1, num(d, "munitions_destroyed"), num(d, "submunitions_destroyed")}
	bt := a.stockByType[t]
	if bt == nil {
		bt = new([3]float64)
		a.stockByType[t] = bt
	}
	by := a.stockByYear[year(date)]
	if by == nil {
		by = new([3]float64)
		a.stockByYear[year(date)] = by
	}
	for i, v := range vals {
		bt[i] += v
		by[i] += v
	}
}

func (a *aggregator) riskEducation(d map[string]any) {
	if !a.inPeriod(str(d, "session_date")) || !a.inAdm1(str(d, "adm1")) {
		return
	}
	total := 0.0
	if p, ok := d["participants"].(map[string]any); ok {
		for sex, row := range p {
			cells, _ := row.(map[string]any)
			for band := range cells {
				n := num(cells, band)
				a.reach[index(sexes, sex)][index(reBands, band)] += n
				total += n
			}
		}
	}
	m := index(reMethods, str(d, "method"))
	if slices.Index(reMethods, str(d, "method")) < 0 {
		m = -1
	}
	if m >= 0 {
		a.reByMeth[m][0]++
		a.reByMeth[m][1] += total
		a.reByMeth[m][2] += num(d, "first_time_participants")
	}
}

var reBands = []string{"0-4", "5-12", "13-17", "18-59", "60+", "unknown"}

func (a *aggregator) need(d map[string]any) {
	if a.adm1 != "" && !a.inAdm1(str(d, "adm1")) {
		return
	}
	cur := str(d, "currency")
	if cur == "" {
		cur = "USD"
	}
	nt := a.needs[cur]
	if nt == nil {
		nt = &needTotals{}
		a.needs[cur] = nt
	}
	cost, nat, intl, gap := num(d, "total_cost"), num(d, "secured_national"), num(d, "secured_international"), num(d, "funding_gap")
	start, end := str(d, "start_date"), str(d, "end_date")
	art := str(d, "article")
	if i := slices.Index(articles, art); i >= 0 {
		nt.byArticle[i].add(cost, nat, intl, gap, start, end)
	} else {
		nt.byArticle[len(articles)-1].add(cost, nat, intl, gap, start, end)
	}
	for _, s := range list(d, "support_type") {
		if i := slices.Index(supports, s); i >= 0 {
			nt.bySupport[i].add(cost, nat, intl, gap, start, end)
		}
	}
	nt.total.add(cost, nat, intl, gap, start, end)
	a.prio = append(a.prio, priorityItem{
		title: str(d, "title"), article: art, priority: str(d, "priority"), status: str(d, "status"),
		currency: cur, adm1: str(d, "adm1"), start: start, end: end, cost: cost, gap: gap,
	})
	if len(a.prio) >= 4*PriorityListLen {
		a.trimPriorities()
	}
}

// comparePriority orders needs: open before met, then high before low, then
// the larger funding gap, then the title.
func comparePriority(x, y priorityItem) int {
	return cmp.Or(
		cmp.Compare(boolInt(x.status == "met"), boolInt(y.status == "met")),
		cmp.Compare(priorityRank(x.priority), priorityRank(y.priority)),
		cmp.Compare(y.gap, x.gap),
		strings.Compare(x.title, y.title),
		strings.Compare(x.start, y.start),
	)
}

// priorityRank orders high, medium, low, then needs without a priority.
func priorityRank(p string) int {
	if i := slices.Index(priorities, p); i >= 0 {
		return i
	}
	return len(priorities)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *aggregator) trimPriorities() {
	slices.SortStableFunc(a.prio, comparePriority)
	if len(a.prio) > PriorityListLen {
		a.prio = a.prio[:PriorityListLen]
	}
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

func yearLabel(y int) string {
	if y == 0 {
		return "No date"
	}
	return strconv.Itoa(y)
}

func repeat(f string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f
	}
	return out
}
