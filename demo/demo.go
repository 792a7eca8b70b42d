// Package demo generates a deterministic, realistic data set for the six
// built-in forms: casualties, hazardous areas and their release, stockpile
// destruction, risk education and costed needs in the provinces of Lao PDR,
// dated from 2015 to the given day.
//
// The app's demo mode, the reports benchmarks and tests use it. Every record
// it yields passes the built-in form's Validate at the given time, land
// releases only name hazardous areas generated before them and never release
// more than an area's size, and the same seed, size and day always give the
// same records in the same order. Personal fields (name, contact) hold
// invented names only when consent is "yes".
package demo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Form ids of the built-in forms the generator fills.
const (
	Casualty             = "casualty"
	HazardArea           = "hazard_area"
	LandRelease          = "land_release"
	StockpileDestruction = "stockpile_destruction"
	RiskEducation        = "risk_education"
	NeedsAssessment      = "needs_assessment"
)

// ErrBadSize reports a negative record count.
var ErrBadSize = errors.New("demo: record count must not be negative")

// Province is a first-level administrative division of Lao PDR with the
// weight of its share of the generated records (contamination is heaviest
// along the former Ho Chi Minh trail and on the Plain of Jars).
type Province struct {
	Name      string
	Code      string
	Weight    int
	Districts []string
	Lat, Lon  float64
}

// Provinces are the eighteen provinces of Lao PDR the generator uses as adm1.
var Provinces = []Province{
	{"Xiengkhouang", "XK", 20, []string{"Pek", "Kham", "Nonghet", "Phaxay", "Phoukout"}, 19.45, 103.2},
	{"Savannakhet", "SV", 16, []string{"Sepon", "Vilabouly", "Nong", "Phin", "Atsaphangthong"}, 16.55, 105.6},
	{"Houaphanh", "HP", 9, []string{"Xam Neua", "Viengxay", "Xiengkho"}, 20.35, 104.05},
	{"Salavan", "SL", 9, []string{"Ta Oy", "Samouay", "Toumlane"}, 15.7, 106.4},
	{"Khammouane", "KM", 8, []string{"Boualapha", "Mahaxay", "Nakai"}, 17.4, 105.3},
	{"Champasak", "CP", 6, []string{"Paksong", "Bachiang", "Soukhouma"}, 14.9, 105.9},
	{"Attapeu", "AT", 6, []string{"Sanxay", "Phouvong", "Sanamxay"}, 14.8, 106.8},
	{"Xekong", "XE", 6, []string{"Kaleum", "Dakcheung", "Lamam"}, 15.35, 106.75},
	{"Luang Prabang", "LP", 4, []string{"Ngoy", "Pak Ou", "Phonxay"}, 19.9, 102.4},
	{"Xaisomboun", "XS", 3, []string{"Longchaeng", "Thathom"}, 18.9, 102.9},
	{"Bolikhamxai", "BK", 3, []string{"Khamkeut", "Viengthong"}, 18.4, 104.4},
	{"Vientiane Province", "VT", 2, []string{"Kasy", "Vangvieng"}, 18.9, 102.45},
	{"Phongsaly", "PS", 2, []string{"Boun Neua", "Khoua"}, 21.7, 102.1},
	{"Oudomxay", "OU", 1, []string{"Xay", "Nga"}, 20.7, 101.99},
	{"Luang Namtha", "LN", 1, []string{"Namtha", "Viengphoukha"}, 20.95, 101.4},
	{"Bokeo", "BO", 1, []string{"Houayxay", "Paktha"}, 20.3, 100.6},
	{"Xaignabouli", "XB", 1, []string{"Paklay", "Kenethao"}, 19.25, 101.7},
	{"Vientiane Capital", "VC", 1, []string{"Sikhottabong", "Xaythany"}, 17.97, 102.6},
}

// First is the first day of generated data.
var First = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// Mix is the share, in records per thousand, of each form in a generated
// set; it sums to 1000. Casualty-heavy, as national databases are.
var Mix = []struct {
	FormID  string
	PerMill int
}{
	{Casualty, 400},
	{HazardArea, 160},
	{LandRelease, 250},
	{RiskEducation, 130},
	{NeedsAssessment, 50},
	{StockpileDestruction, 10},
}

// Generate calls fn with n records (form id and data, values shaped as JSON
// decodes them: numbers are float64, select_multiple are []any, sadd are
// nested maps) and stops at fn's first error, which it returns wrapped.
// Every form gets at least one record once n is at least six. Dates lie
// between First and now (UTC day). Memory grows only with the number of
// hazardous areas (a code and the area left to release each).
func Generate(seed int64, n int, now time.Time, fn func(formID string, data map[string]any) error) error {
	if n < 0 {
		return ErrBadSize
	}
	g := &gen{
		r:     rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		today: time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC),
	}
	if g.today.Before(First) {
		g.today = First
	}
	for _, p := range Provinces {
		g.totalWeight += p.Weight
	}
	// A fixed cycle of 1000 slots spreads each form evenly through the
	// stream; the first six slots give one record of each form.
	cycle := make([]string, 0, 1000)
	for _, m := range Mix {
		cycle = append(cycle, m.FormID)
	}
	for _, m := range Mix {
		for j := 1; j < m.PerMill; j++ {
			cycle = append(cycle, m.FormID)
		}
	}
	// Shuffle everything after the first six (and keep a hazard area before
	// any release: the first slots put hazard_area before land_release).
	tail := cycle[len(Mix):]
	g.r.Shuffle(len(tail), func(i, j int) { tail[i], tail[j] = tail[j], tail[i] })
	for i := range n {
		formID := cycle[i%len(cycle)]
		if formID == LandRelease && !g.hasOpenArea() {
			formID = HazardArea
		}
		var data map[string]any
		switch formID {
		case Casualty:
			data = g.casualty()
		case HazardArea:
			data = g.hazardArea()
		case LandRelease:
			data = g.landRelease()
		case RiskEducation:
			data = g.riskEducation()
		case NeedsAssessment:
			data = g.need()
		case StockpileDestruction:
			data = g.stockpile()
		}
		if err := fn(formID, data); err != nil {
			return fmt.Errorf("demo: record %d (%s): %w", i, formID, err)
		}
	}
	return nil
}

// area is a generated hazardous area still open for release.
type area struct {
	code      string
	province  int
	district  string
	surveyed  time.Time
	remaining float64
	lat, lon  float64
}

type gen struct {
	r           *rand.Rand
	today       time.Time
	totalWeight int
	areas       []area // areas with something left to release
	nextArea    int
}

func (g *gen) hasOpenArea() bool { return len(g.areas) > 0 }

// pick returns one of choices with the given weights.
func (g *gen) pick(choices []string, weights []int) string {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := g.r.IntN(total)
	for i, w := range weights {
		if x < w {
			return choices[i]
		}
		x -= w
	}
	return choices[len(choices)-1]
}

func (g *gen) province() int {
	x := g.r.IntN(g.totalWeight)
	for i, p := range Provinces {
		if x < p.Weight {
			return i
		}
		x -= p.Weight
	}
	return 0
}

// date returns a day between from and today, weighted slightly towards
// recent years (data entry catches up with the past).
func (g *gen) date(from time.Time) time.Time {
	if from.Before(First) {
		from = First
	}
	days := int(g.today.Sub(from).Hours()/24) + 1
	if days <= 1 {
		return from
	}
	u := math.Sqrt(g.r.Float64()) // density rising towards today
	return from.AddDate(0, 0, int(u*float64(days-1)))
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

func (g *gen) location(p int) map[string]any {
	pr := Provinces[p]
	return map[string]any{
		"lat":        round(pr.Lat+g.r.NormFloat64()*0.25, 5),
		"lon":        round(pr.Lon+g.r.NormFloat64()*0.25, 5),
		"accuracy_m": float64(3 + g.r.IntN(25)),
	}
}

func round(x float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(x*p) / p
}

// place fills adm1, adm2, and sometimes village and location.
func (g *gen) place(data map[string]any, p int) {
	pr := Provinces[p]
	data["adm1"] = pr.Name
	if g.r.IntN(10) < 8 {
		data["adm2"] = pr.Districts[g.r.IntN(len(pr.Districts))]
	}
	if g.r.IntN(10) < 6 {
		data["location"] = g.location(p)
	}
}

var (
	syllables  = []string{"Nam", "Phon", "Xay", "Na", "Khoun", "Houay", "Pak", "Don", "Sen", "Kham", "Vieng", "Thong", "Nong", "Lak", "Phou"}
	givenNames = []string{"Souksavanh", "Bounmy", "Khamla", "Vanh", "Noy", "Phonsavanh", "Thongchanh", "Keo", "Somphone", "Chanthala", "Bouasone", "Manivanh", "Sengphet", "Ly", "Vilay"}
	familyName = []string{"Phommachanh", "Sisouphanh", "Vongsa", "Keomany", "Inthavong", "Xayavong", "Douangmala", "Phanthavong", "Sayasane", "Chanthavong"}
	vaAll      = []string{"medical_care", "rehabilitation", "psychosocial", "education", "socio_economic", "legal"}
)

func (g *gen) village() string {
	return "Ban " + syllables[g.r.IntN(len(syllables))] + syllables[g.r.IntN(len(syllables))]
}

func (g *gen) casualty() map[string]any {
	p := g.province()
	data := map[string]any{}
	g.place(data, p)
	if g.r.IntN(10) < 7 {
		data["village"] = g.village()
	}
	data["incident_date"] = day(g.date(First))
	data["cm_context"] = g.pick([]string{"remnant", "attack", "unknown"}, []int{90, 2, 8})
	data["device_category"] = g.pick([]string{"submunition", "cluster_munition_other", "landmine", "other_erw", "unknown"}, []int{55, 5, 8, 25, 7})
	outcome := g.pick([]string{"killed", "injured", "unknown"}, []int{33, 65, 2})
	data["outcome"] = outcome
	data["sex"] = g.pick([]string{"male", "female", "unknown"}, []int{78, 20, 2})
	switch x := g.r.IntN(100); {
	case x < 35:
		data["age"] = float64(3 + g.r.IntN(15))
	case x < 85:
		data["age"] = float64(18 + g.r.IntN(42))
	case x < 93:
		data["age"] = float64(60 + g.r.IntN(30))
	default: // age unknown
	}
	data["civil_status"] = g.pick([]string{"civilian", "deminer", "security_forces", "unknown"}, []int{94, 3, 1, 2})
	data["activity"] = g.pick(
		[]string{"farming", "herding", "collecting_food_wood_water", "scrap_collection", "travelling", "playing", "household", "handling_device", "demining", "other", "unknown"},
		[]int{25, 6, 12, 10, 5, 12, 6, 12, 3, 4, 5})
	if outcome != "killed" {
		data["disability"] = g.pick([]string{"yes", "no", "unknown"}, []int{55, 35, 10})
	}
	if outcome == "injured" {
		var needs, received []any
		for _, c := range vaAll {
			if g.r.IntN(100) < 55 {
				needs = append(needs, c)
				if g.r.IntN(100) < 45 {
					received = append(received, c)
				}
			}
		}
		if len(needs) > 0 {
			data["va_needs"] = needs
		}
		if len(received) > 0 {
			data["va_received"] = received
		}
	}
	if g.r.IntN(100) < 40 {
		data["consent"] = "yes"
		data["name"] = givenNames[g.r.IntN(len(givenNames))] + " " + familyName[g.r.IntN(len(familyName))]
		if g.r.IntN(2) == 0 {
			data["contact"] = fmt.Sprintf("+856 20 %04d %04d", g.r.IntN(10000), g.r.IntN(10000))
		}
	} else if g.r.IntN(2) == 0 {
		data["consent"] = "no"
	}
	return data
}

// sadd returns counts for the given bands, shaped as JSON decodes them;
// scale is the mean number of people per sex. Empty rows are left out.
func (g *gen) sadd(bands []string, bandWeights []int, scale int) map[string]any {
	out := map[string]any{}
	for _, sex := range []string{"female", "male", "unknown"} {
		n := g.r.IntN(scale*2 + 1)
		if sex == "unknown" {
			n /= 10
		}
		if n == 0 {
			continue
		}
		row := map[string]any{}
		for range n {
			b := g.pick(bands, bandWeights)
			c, _ := row[b].(float64)
			row[b] = c + 1
		}
		out[sex] = row
	}
	return out
}

var (
	defaultBands = []string{"0-17", "18-59", "60+", "unknown"}
	reBands      = []string{"0-4", "5-12", "13-17", "18-59", "60+", "unknown"}
)

func (g *gen) hazardArea() map[string]any {
	p := g.province()
	g.nextArea++
	code := fmt.Sprintf("LAO-%s-%06d", Provinces[p].Code, g.nextArea)
	surveyed := g.date(First)
	data := map[string]any{"area_code": code, "survey_date": day(surveyed)}
	g.place(data, p)
	data["survey_type"] = g.pick([]string{"non_technical", "technical"}, []int{60, 40})
	status := g.pick([]string{"cha", "sha"}, []int{65, 35})
	data["status"] = status
	areaM2 := float64(2000 + g.r.IntN(60)*2500)
	if g.r.IntN(20) == 0 {
		areaM2 *= 10
	}
	data["area_m2"] = areaM2
	var evidence []any
	if status == "cha" {
		evidence = append(evidence, g.pick([]string{"remnant_seen", "remnant_found"}, []int{1, 1}))
	}
	for _, e := range []string{"accident_report", "witness_report", "craters", "unused_land", "military_records"} {
		if g.r.IntN(4) == 0 {
			evidence = append(evidence, e)
		}
	}
	if len(evidence) > 0 {
		data["evidence"] = evidence
	}
	data["remnant_types"] = []any{g.pick([]string{"unexploded_submunition", "unexploded_bomblet", "failed_cluster_munition", "abandoned_cluster_munition"}, []int{60, 25, 10, 5})}
	data["estimated_remnants"] = float64(g.r.IntN(200))
	if g.r.IntN(3) > 0 {
		data["year_of_use"] = float64(1964 + g.r.IntN(10))
	}
	data["blocked_land_use"] = []any{g.pick([]string{"agriculture", "housing", "infrastructure", "access", "grazing", "other"}, []int{60, 10, 8, 10, 10, 2})}
	data["beneficiaries"] = g.sadd(defaultBands, []int{40, 45, 12, 3}, 60)
	g.areas = append(g.areas, area{
		code: code, province: p, district: stringOr(data["adm2"]), surveyed: surveyed, remaining: areaM2,
		lat: Provinces[p].Lat, lon: Provinces[p].Lon,
	})
	return data
}

func stringOr(v any) string {
	s, _ := v.(string)
	return s
}

func (g *gen) landRelease() map[string]any {
	i := g.r.IntN(len(g.areas))
	a := &g.areas[i]
	data := map[string]any{
		"area_code":    a.code,
		"release_date": day(g.date(a.surveyed)),
		"adm1":         Provinces[a.province].Name,
	}
	if a.district != "" {
		data["adm2"] = a.district
	}
	method := g.pick([]string{"cleared", "reduced", "cancelled"}, []int{55, 25, 20})
	data["method"] = method
	// Release all of what is left, or a part of it in whole 100 m² steps.
	released := a.remaining
	if a.remaining > 200 && g.r.IntN(3) > 0 {
		released = math.Max(100, math.Floor(a.remaining*(0.2+0.5*g.r.Float64())/100)*100)
	}
	a.remaining -= released
	data["released_m2"] = released
	if method == "cleared" {
		data["clearance_depth_cm"] = float64([]int{20, 25, 30, 50}[g.r.IntN(4)])
		data["submunitions_destroyed"] = float64(g.r.IntN(40))
		data["other_items_destroyed"] = float64(g.r.IntN(10))
	}
	if a.remaining <= 0 {
		g.areas[i] = g.areas[len(g.areas)-1]
		g.areas = g.areas[:len(g.areas)-1]
	}
	return data
}

func (g *gen) riskEducation() map[string]any {
	p := g.province()
	data := map[string]any{"session_date": day(g.date(First))}
	g.place(data, p)
	method := g.pick([]string{"face_to_face", "mass_media", "digital", "school_curriculum"}, []int{70, 10, 5, 15})
	data["method"] = method
	scale := 25
	if method == "mass_media" {
		scale = 150
	}
	part := g.sadd(reBands, []int{5, 30, 20, 35, 8, 2}, scale)
	if len(part) > 0 {
		data["participants"] = part
		total := 0
		for _, row := range part {
			for _, c := range row.(map[string]any) {
				total += int(c.(float64))
			}
		}
		data["first_time_participants"] = float64(g.r.IntN(total + 1))
	}
	return data
}

var needTitles = map[string][]string{
	"art3_stockpile":         {"Destruction of remaining stockpiled submunitions", "Stockpile inventory and storage safety"},
	"art4_clearance":         {"Clearance teams for high-priority farmland", "Technical survey of suspected areas", "Non-technical survey of remaining villages"},
	"art4_risk_education":    {"School risk education materials", "Risk education for scrap collectors", "Community focal points training"},
	"art5_victim_assistance": {"Prosthetics and rehabilitation services", "Psychosocial support for survivors", "Livelihood grants for survivors' families", "Emergency medical care in district hospitals"},
	"art6_crosscutting":      {"Information management system and training", "National authority capacity building"},
}

func (g *gen) need() map[string]any {
	article := g.pick([]string{"art4_clearance", "art5_victim_assistance", "art4_risk_education", "art3_stockpile", "art6_crosscutting"}, []int{40, 30, 15, 5, 10})
	titles := needTitles[article]
	p := g.province()
	data := map[string]any{
		"title":   titles[g.r.IntN(len(titles))],
		"article": article,
	}
	if g.r.IntN(2) == 0 {
		data["adm1"] = Provinces[p].Name
	}
	var support []any
	for _, s := range []string{"technical", "material", "financial"} {
		if g.r.IntN(2) == 0 {
			support = append(support, s)
		}
	}
	if len(support) == 0 {
		support = []any{"financial"}
	}
	data["support_type"] = support
	data["activities"] = "Planned activities for " + data["title"].(string)
	quantity := float64(1 + g.r.IntN(50))
	unit := float64(500 + g.r.IntN(200)*250)
	data["quantity"] = quantity
	data["unit_cost"] = unit
	data["currency"] = "USD"
	total := quantity * unit
	national := math.Floor(total * 0.3 * g.r.Float64())
	international := math.Floor((total - national) * 0.6 * g.r.Float64())
	if national > 0 {
		data["secured_national"] = national
	}
	if international > 0 {
		data["secured_international"] = international
	}
	start := g.date(g.today.AddDate(-3, 0, 0))
	data["start_date"] = day(start)
	data["end_date"] = day(start.AddDate(1+g.r.IntN(4), 0, 0))
	data["priority"] = g.pick([]string{"high", "medium", "low"}, []int{40, 40, 20})
	status := "identified"
	switch {
	case national+international >= total:
		status = "met"
	case national+international > 0:
		status = "partially_met"
	case g.r.IntN(2) == 0:
		status = "requested"
	}
	data["status"] = status
	data["partners"] = []string{"UXO Lao", "NRA", "UNDP", "Norwegian People's Aid", "MAG", "HALO Trust"}[g.r.IntN(6)]
	data["beneficiaries"] = g.sadd(defaultBands, []int{35, 45, 15, 5}, 200)
	data["gender_age_considerations"] = "Mixed teams; sessions timed for women farmers and school children."
	return data
}

func (g *gen) stockpile() map[string]any {
	data := map[string]any{"event_date": day(g.date(First))}
	types := []string{"BLU-26 submunition", "BLU-63 submunition", "CBU-24 dispenser", "M42 DPICM", "RBK-250 bomb"}
	data["munition_type"] = types[g.r.IntN(len(types))]
	munitions := g.r.IntN(50)
	data["munitions_destroyed"] = float64(munitions)
	data["submunitions_destroyed"] = float64(munitions*g.r.IntN(300) + g.r.IntN(100))
	data["method"] = g.pick([]string{"open_burning", "open_detonation", "industrial", "other"}, []int{20, 50, 25, 5})
	data["site"] = "Demolition range " + []string{"Phonsavan", "Sepon", "Pakse"}[g.r.IntN(3)]
	if g.r.IntN(2) == 0 {
		data["adm1"] = Provinces[g.province()].Name
	}
	return data
}
