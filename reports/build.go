package reports

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrBadFilter reports a filter that cannot select anything sensible (a
// period that ends before it starts, a negative threshold).
var ErrBadFilter = errors.New("invalid report filter")

// Table titles, stable: the JSON export and the tests find tables by them.
const (
	TableCasualtiesByYear    = "Casualties by year, outcome and context"
	TableCasualtiesByGroup   = "Casualties by year and group"
	TableCasualtiesSexAge    = "Casualties by sex and age group"
	TableCasualtiesOutcome   = "Casualties by group and outcome"
	TableSurvivors           = "Survivors by group"
	TableVANeeds             = "Victim assistance needs by component"
	TableVANeededByGroup     = "Survivors needing each component, by group"
	TableVAUnmetByGroup      = "Survivors whose need is unmet, by group"
	TableAreasByProvince     = "Hazardous areas by province and status"
	TableReleaseByYear       = "Land released by year and method (km²)"
	TableRemainingByProvince = "Remaining contamination by province"
	TableItemsByYear         = "Submunitions destroyed during clearance, by year"
	TableStockpileByType     = "Stockpile destruction by munition type"
	TableStockpileByYear     = "Stockpile destruction by year"
	TableREReach             = "Risk education participants by sex and age band"
	TableREByMethod          = "Risk education sessions by method"
	TableNeedsByArticle      = "Needs by Article"      // + " (CUR)"
	TableNeedsBySupport      = "Needs by support type" // + " (CUR)"
	TablePriorityList        = "Priority list"
)

func (a *aggregator) report(meta Meta, endYear int) *Report {
	s := suppressor(a.f.SuppressBelow)
	r := &Report{Meta: meta, Period: periodString(a.f), Adm1: a.f.Adm1, Suppress: a.f.SuppressBelow}

	// 1. Casualties.
	years := sortedKeys(a.casByYear)
	yl := make([]string, len(years))
	for i, y := range years {
		yl[i] = yearLabel(y)
	}
	byYear := s.build(tableSpec{title: TableCasualtiesByYear, rowHead: "Year", cols: casCols, formats: repeat(FormatPeople, 7),
		rows: yl, get: func(i, c int) float64 { return a.casByYear[years[i]][c] }, rowTotal: true, totalRow: true,
		note: "Attack: during a cluster munition attack; remnant: by a remnant afterwards; unknown: context not recorded."})
	byGroup := s.build(tableSpec{title: TableCasualtiesByGroup, rowHead: "Year", cols: groups, formats: repeat(FormatPeople, 5),
		rows: yl, get: func(i, c int) float64 { return a.groupByYear[years[i]][c] }, rowTotal: true, totalRow: true,
		note: "Girls and boys are under 18 at the time of the incident; women and men 18 or older; unknown sex or age is Unknown."})
	sexAge := s.build(tableSpec{title: TableCasualtiesSexAge, rowHead: "Sex", cols: ageLabels, formats: repeat(FormatPeople, 4),
		rows: sexLabels, get: func(i, c int) float64 { return a.sexAge[i][c] }, rowTotal: true, totalRow: true})
	groupOut := s.build(tableSpec{title: TableCasualtiesOutcome, rowHead: "Group", cols: outLabels, formats: repeat(FormatPeople, 3),
		rows: groups, get: func(i, c int) float64 { return a.groupOut[i][c] }, rowTotal: true, totalRow: true})
	chart := Chart{Title: "Casualties by year", Series: []string{"Killed", "Injured", "Unknown"}, Stacked: true, Unit: "people"}
	for _, row := range byYear.Rows {
		chart.Labels = append(chart.Labels, row.Label)
		chart.Totals = append(chart.Totals, row.Total.String())
		chart.Values = append(chart.Values, []float64{
			row.Cells[0].N + row.Cells[1].N + row.Cells[2].N,
			row.Cells[3].N + row.Cells[4].N + row.Cells[5].N,
			row.Cells[6].N,
		})
	}
	r.Sections = append(r.Sections, Section{ID: SectionCasualties, Title: "1. Casualties",
		Tables: []Table{byYear, byGroup, sexAge, groupOut}, Charts: []Chart{chart}})

	// 2. Victim assistance.
	surv := s.build(tableSpec{title: TableSurvivors, rowHead: "Group", cols: []string{"Survivors", "With a disability", "With an unmet need"},
		formats: repeat(FormatPeople, 3), rows: groups, totalRow: true,
		get: func(i, c int) float64 { return [][5]float64{a.survivors, a.disabled, a.withUnmetNeed}[c][i] }})
	comp := s.build(tableSpec{title: TableVANeeds, rowHead: "Component", cols: []string{"Needed", "Met", "Unmet"},
		formats: repeat(FormatPeople, 3), rows: compLabels, totalRow: true,
		note: "A survivor is an injured casualty. Met: the component was received; unmet: needed and not received. Totals count needs, not people.",
		get: func(i, c int) float64 {
			var need, met float64
			for g := range groups {
				need += a.needed[i][g]
				met += a.met[i][g]
			}
			return []float64{need, met, need - met}[c]
		}})
	neededBy := s.build(tableSpec{title: TableVANeededByGroup, rowHead: "Component", cols: groups, formats: repeat(FormatPeople, 5),
		rows: compLabels, rowTotal: true, get: func(i, c int) float64 { return a.needed[i][c] }})
	unmetBy := s.build(tableSpec{title: TableVAUnmetByGroup, rowHead: "Component", cols: groups, formats: repeat(FormatPeople, 5),
		rows: compLabels, rowTotal: true, get: func(i, c int) float64 { return a.needed[i][c] - a.met[i][c] }})
	r.Sections = append(r.Sections, Section{ID: SectionAssistance, Title: "2. Survivors and victim assistance",
		Tables: []Table{surv, comp, neededBy, unmetBy}})

	// 3. Contamination and land release.
	provSet := map[string]bool{}
	for p := range a.provStatus {
		provSet[p] = true
	}
	type provRem struct{ surveyed, released, remaining float64 }
	rem := map[string]*provRem{}
	var remaining, surveyed float64
	for _, ar := range a.areas {
		if !ar.inStock {
			continue
		}
		pr := rem[ar.adm1]
		if pr == nil {
			pr = &provRem{}
			rem[ar.adm1] = pr
		}
		rel := min(ar.released, ar.m2)
		pr.surveyed += ar.m2
		pr.released += rel
		pr.remaining += ar.m2 - rel
		remaining += ar.m2 - rel
		surveyed += ar.m2
	}
	provs := sortedKeys(provSet)
	areasT := s.build(tableSpec{title: TableAreasByProvince, rowHead: "Province",
		cols: []string{"SHA areas", "SHA km²", "CHA areas", "CHA km²"}, formats: []string{FormatCount, FormatKm2, FormatCount, FormatKm2},
		rows: provs, totalRow: true, get: func(i, c int) float64 { ps := a.provStatus[provs[i]]; return ps[c/2][c%2] }})
	relYears := sortedKeys(a.relByYear)
	rl := make([]string, len(relYears))
	for i, y := range relYears {
		rl[i] = yearLabel(y)
	}
	nm := 3
	for _, v := range a.relByYear {
		if v[3] > 0 {
			nm = 4
		}
	}
	relT := s.build(tableSpec{title: TableReleaseByYear, rowHead: "Year", cols: methLabels[:nm], formats: repeat(FormatKm2, nm),
		rows: rl, rowTotal: true, totalRow: true, get: func(i, c int) float64 { return a.relByYear[relYears[i]][c] }})
	remProvs := sortedKeys(rem)
	remT := s.build(tableSpec{title: TableRemainingByProvince, rowHead: "Province",
		cols: []string{"Surveyed km²", "Released km²", "Remaining km²"}, formats: repeat(FormatKm2, 3), rows: remProvs, totalRow: true,
		note: "Per area: its surveyed size minus what was released on it (never below zero). As of the end of the period: every area surveyed and every release made by then, whatever the period's start. Releases on areas not on file are not counted here.",
		get: func(i, c int) float64 {
			pr := rem[remProvs[i]]
			return []float64{pr.surveyed, pr.released, pr.remaining}[c]
		}})
	subYears := sortedKeys(a.subsByYear)
	sl := make([]string, len(subYears))
	for i, y := range subYears {
		sl[i] = yearLabel(y)
	}
	itemsT := s.build(tableSpec{title: TableItemsByYear, rowHead: "Year", cols: []string{"Submunitions"}, formats: []string{FormatCount},
		rows: sl, totalRow: true, get: func(i, c int) float64 { return a.subsByYear[subYears[i]] }})
	var lastThree float64
	for y := endYear - 3; y < endYear; y++ {
		lastThree += a.rateByYear[y]
	}
	rate := lastThree / 3
	yearsLeft := Value{Text: "—"}
	if rate > 0 {
		yearsLeft = Value{Text: strconv.FormatFloat(remaining/rate, 'f', 1, 64)}
	}
	var releasedTotal float64
	for _, v := range a.relByYear {
		releasedTotal += v[0] + v[1] + v[2] + v[3]
	}
	r.Sections = append(r.Sections, Section{ID: SectionContamination, Title: "3. Contamination and land release",
		Notes: []string{
			fmt.Sprintf("Remaining hazardous area: %s km² of %s km² surveyed.", group(remaining/1e6, 2), group(surveyed/1e6, 2)),
			fmt.Sprintf("Mean annual release over the last three full years (%d–%d): %s km² per year.", endYear-3, endYear-1, group(rate/1e6, 2)),
			fmt.Sprintf("Years left at that rate: %s.", yearsLeft.Text),
			fmt.Sprintf("Other explosive items destroyed during clearance: %s.", group(a.itemsDestr, 0)),
		},
		Tables: []Table{areasT, relT, remT, itemsT}})

	// 4. Stockpile destruction.
	types := sortedKeys(a.stockByType)
	stT := s.build(tableSpec{title: TableStockpileByType, rowHead: "Munition type", cols: []string{"Events", "Munitions", "Submunitions"},
		formats: repeat(FormatCount, 3), rows: types, totalRow: true, get: func(i, c int) float64 { return a.stockByType[types[i]][c] }})
	stYears := sortedKeys(a.stockByYear)
	styl := make([]string, len(stYears))
	for i, y := range stYears {
		styl[i] = yearLabel(y)
	}
	stY := s.build(tableSpec{title: TableStockpileByYear, rowHead: "Year", cols: []string{"Events", "Munitions", "Submunitions"},
		formats: repeat(FormatCount, 3), rows: styl, totalRow: true, get: func(i, c int) float64 { return a.stockByYear[stYears[i]][c] }})
	r.Sections = append(r.Sections, Section{ID: SectionStockpile, Title: "4. Stockpile destruction", Tables: []Table{stT, stY}})

	// 5. Risk education.
	reach := s.build(tableSpec{title: TableREReach, rowHead: "Sex", cols: reBands, formats: repeat(FormatPeople, len(reBands)),
		rows: sexLabels, rowTotal: true, totalRow: true, get: func(i, c int) float64 { return a.reach[i][c] }})
	reM := s.build(tableSpec{title: TableREByMethod, rowHead: "Method", cols: []string{"Sessions", "Participants", "First-time"},
		formats: []string{FormatCount, FormatPeople, FormatPeople}, rows: reMethLbl, totalRow: true,
		get: func(i, c int) float64 { return a.reByMeth[i][c] }})
	r.Sections = append(r.Sections, Section{ID: SectionRiskEducation, Title: "5. Risk education", Tables: []Table{reach, reM}})

	// 6. Needs.
	curs := sortedKeys(a.needs)
	if i := slices.Index(curs, "USD"); i > 0 {
		curs = append([]string{"USD"}, slices.Delete(curs, i, i+1)...)
	}
	needSec := Section{ID: SectionNeeds, Title: "6. Needs for cooperation and assistance"}
	for _, cur := range curs {
		nt := a.needs[cur]
		tf := func(m moneyRow) string {
			if m.start == "" && m.end == "" {
				return "—"
			}
			return m.start + " – " + m.end
		}
		byArt := s.build(tableSpec{title: TableNeedsByArticle + " (" + cur + ")", rowHead: "Article",
			cols:    []string{"Needs", "Total cost", "Secured national", "Secured international", "Funding gap", "Timeframe"},
			formats: []string{FormatCount, FormatMoney, FormatMoney, FormatMoney, FormatMoney, FormatText}, rows: artLabels, totalRow: true,
			get: func(i, c int) float64 {
				m := nt.byArticle[i]
				return []float64{m.count, m.cost, m.national, m.international, m.gap}[c]
			},
			text: func(i, c int) string { return tf(nt.byArticle[i]) }})
		byArt.Total.Cells[5] = Value{Text: tf(nt.total)}
		byArt.weights = []float64{38, 13, 22, 22, 22, 22, 41}
		bySup := s.build(tableSpec{title: TableNeedsBySupport + " (" + cur + ")", rowHead: "Support type",
			cols: []string{"Needs", "Total cost", "Funding gap"}, formats: []string{FormatCount, FormatMoney, FormatMoney}, rows: supLabels,
			note: "A need asking for several kinds of support counts under each, so this table has no total.",
			get: func(i, c int) float64 {
				m := nt.bySupport[i]
				return []float64{m.count, m.cost, m.gap}[c]
			}})
		needSec.Tables = append(needSec.Tables, byArt, bySup)
		ch := Chart{Title: "Funding gap by Article (" + cur + ")", Series: []string{"Secured", "Funding gap"}, Stacked: true, Unit: cur}
		for i, l := range artLabels {
			m := nt.byArticle[i]
			ch.Labels = append(ch.Labels, l)
			ch.Values = append(ch.Values, []float64{m.national + m.international, m.gap})
		}
		needSec.Charts = append(needSec.Charts, ch)
	}
	a.trimPriorities()
	prio := s.build(tableSpec{title: TablePriorityList, rowHead: "#",
		cols:    []string{"Need", "Article", "Priority", "Status", "Total cost", "Funding gap", "Timeframe"},
		formats: []string{FormatText, FormatText, FormatText, FormatText, FormatMoney, FormatMoney, FormatText},
		rows:    numbered(len(a.prio)),
		note:    fmt.Sprintf("Open needs first, then by priority and the largest funding gap; at most %d. Amounts in each need's own currency.", PriorityListLen),
		get: func(i, c int) float64 {
			return []float64{0, 0, 0, 0, a.prio[i].cost, a.prio[i].gap}[c]
		},
		text: func(i, c int) string {
			p := a.prio[i]
			art := p.article
			if j := slices.Index(articles, art); j >= 0 {
				art = artLabels[j][:6]
			}
			return orDash([]string{p.title, art, p.priority, strings.ReplaceAll(p.status, "_", " "), "", "", tf2(p.start, p.end)}[c])
		}})
	prio.weights = []float64{7, 44, 13, 15, 22, 22, 22, 40}
	needSec.Tables = append(needSec.Tables, prio)
	r.Sections = append(r.Sections, needSec)

	// Key figures come from the tables, so they are suppressed alike.
	fig := func(label string, v Value, f string) { r.KeyFigures = append(r.KeyFigures, Figure{label, v, f}) }
	fig("Casualties recorded", *byYear.Total.Total, FormatPeople)
	fig("Killed", groupOut.Total.Cells[0], FormatPeople)
	fig("Injured (survivors)", groupOut.Total.Cells[1], FormatPeople)
	fig("Survivors with an unmet need", surv.Total.Cells[2], FormatPeople)
	fig("Hazardous area remaining (km²)", Value{N: remaining}, FormatKm2)
	fig("Land released in the period (km²)", Value{N: releasedTotal}, FormatKm2)
	fig("Years left at the recent release rate", yearsLeft, FormatText)
	fig("Risk education participants", *reach.Total.Total, FormatPeople)
	if len(curs) > 0 {
		nt := a.needs[curs[0]]
		fig("Needs: total cost ("+curs[0]+")", Value{N: nt.total.cost}, FormatMoney)
		fig("Needs: funding gap ("+curs[0]+")", Value{N: nt.total.gap}, FormatMoney)
	}
	return r
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func tf2(start, end string) string {
	if start == "" && end == "" {
		return ""
	}
	return start + " – " + end
}
