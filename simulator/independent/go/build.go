package main

import (
	"fmt"
	"math"
	"sort"
)

type Gen struct {
	Seed    uint64
	R       *R
	Cities  []*City
	Ms      []*Merchant
	Txns    []Txn
	Events  []MEvent
	seq     int64
	termCtr int
	acctCtr uint64
	rings   []*Ring
	idCtr   map[string]int
}

func (g *Gen) nextSeq() int64 { g.seq++; return g.seq }

func (g *Gen) newTerminal(r *R) *Terminal {
	g.termCtr++
	n := (g.termCtr*7919 + 1234567) % 90000000
	t := &Terminal{ID: fmt.Sprintf("%08d", 10000000+n)}
	u := r.Float64()
	switch {
	case u < 0.25:
		t.LocMode = 0
	case u < 0.70:
		t.LocMode = 1
		t.Noise = 0.02 + 0.06*r.Float64()
	default:
		t.LocMode = 2
		t.Noise = 0.3 + 0.6*r.Float64()
	}
	return t
}

func (g *Gen) newAccount() string {
	g.acctCtr++
	h := splitmix(g.Seed<<20 ^ g.acctCtr ^ 0xACC)
	return fmt.Sprintf("sa-%016x", h)
}

func luhnOK(s string) bool {
	sum, alt := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if alt {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		alt = !alt
	}
	return sum%10 == 0
}

func (g *Gen) merchantID(c *City, mcc string) string {
	g.idCtr[c.Code]++
	for k := 0; ; k++ {
		id := fmt.Sprintf("898%s%s%04d", c.Code, mcc, (g.idCtr[c.Code]*37+k*1000)%10000)
		if !luhnOK(id) {
			return id
		}
	}
}

func (g *Gen) addEvent(e MEvent) {
	e.Seq = g.nextSeq()
	g.Events = append(g.Events, e)
}

// ----- portfolio spec -----

type Spec struct {
	Label, Scenario string
	Cat             *Cat
	Tactics         []string
	Design          []string
	City            string
	SizeMul         float64
	Group           int
}

func fraudFronts() []string {
	return []string{"supermarket", "convenience", "clothing", "electronics", "restaurant", "liquor", "hardware", "cosmetics", "beauty", "shoes", "sports"}
}

func (g *Gen) buildSpecs() []*Spec {
	r := g.R
	var sp []*Spec
	add := func(s *Spec) { sp = append(sp, s) }
	// look-alikes
	for _, c := range cats {
		if c.Kind != "legit" {
			for i := 0; i < int(c.W); i++ {
				add(&Spec{Label: "lookalike", Scenario: c.Kind, Cat: c, SizeMul: 1})
			}
		}
	}
	ff := fraudFronts()
	front := func() *Cat { return catByKey(ff[r.IntN(len(ff))]) }
	// cash-out
	for i := 0; i < 5; i++ {
		add(&Spec{Label: "fraud", Scenario: "naive_round_cashout", Cat: front(), Tactics: []string{"naive", "whole_units"},
			Design: []string{"round_amount", "repeated_card", "credit_debit_mix", "daily_volume", "high_ticket"}, SizeMul: 0.5})
	}
	for i := 0; i < 8; i++ {
		add(&Spec{Label: "fraud", Scenario: "limit_structuring", Cat: front(), Tactics: []string{"structuring", "whole_units", "near_round"},
			Design: []string{"structuring", "near_round_amount", "high_ticket", "credit_debit_mix"}, SizeMul: 0.7})
	}
	for i := 0; i < 20; i++ {
		t := []string{"near_round", "whole_units", "credit_mix", "card_pairs", "card_cycle"}
		// most mix several tips, not all
		if i%4 == 1 {
			t = []string{"near_round", "whole_units", "credit_mix", "card_pairs"}
		} else if i%4 == 2 {
			t = []string{"near_round", "credit_mix", "card_cycle"}
		} else if i%4 == 3 {
			t = []string{"whole_units", "card_pairs", "card_cycle", "credit_mix"}
		}
		add(&Spec{Label: "fraud", Scenario: "playbook_cashout", Cat: front(), Tactics: t, SizeMul: 0.8 + r.Float64()})
	}
	ringDefs := [][]string{
		{"Chengdu", "Chengdu", "Chengdu", "Chengdu", "Chengdu"},
		{"Hangzhou", "Hangzhou", "Hangzhou", "Shaoxing", "Shaoxing"},
		{"Foshan", "Foshan", "Foshan", "Foshan", "Foshan"},
		{"Mianyang", "Mianyang", "Chengdu", "Chengdu"},
	}
	for gi, rd := range ringDefs {
		for _, cn := range rd {
			t := []string{"ring", "card_cycle", "near_round", "whole_units", "credit_mix"}
			if gi == 1 {
				t = append(t, "card_pairs")
			}
			add(&Spec{Label: "fraud", Scenario: "ring_cashout", Cat: front(), Tactics: t, City: cn, Group: gi, SizeMul: 0.8})
		}
	}
	for i := 0; i < 10; i++ {
		add(&Spec{Label: "fraud", Scenario: "intermittent_cashout", Cat: front(), Tactics: []string{"near_round", "whole_units", "card_cycle"}, SizeMul: 1})
	}
	for i := 0; i < 8; i++ {
		add(&Spec{Label: "fraud", Scenario: "bust_out", Cat: front(), Tactics: []string{"bust_out", "near_round", "whole_units", "credit_mix"},
			Design: []string{"new_merchant_ramp"}, SizeMul: 0.5})
	}
	for i := 0; i < 10; i++ {
		fc := []string{"supermarket", "department", "electronics", "restaurant", "fuel"}[i%5]
		add(&Spec{Label: "fraud", Scenario: "hidden_in_volume", Cat: catByKey(fc), Tactics: []string{"near_round", "whole_units", "card_pairs"}, SizeMul: 2.5 + 2.5*r.Float64()})
	}
	for i := 0; i < 5; i++ {
		fc := []string{"convenience", "restaurant", "spa", "convenience", "liquor"}[i]
		add(&Spec{Label: "fraud", Scenario: "night_cashout", Cat: catByKey(fc), Tactics: []string{"near_round", "whole_units", "credit_mix"}, Design: []string{"night_share"}, SizeMul: 0.6})
	}
	for i := 0; i < 5; i++ {
		fc := []string{"jeweller", "restaurant", "electronics", "ktv", "furniture"}[i]
		add(&Spec{Label: "fraud", Scenario: "mcc_jump_cashout", Cat: catByKey(fc), Tactics: []string{"mcc_mismatch", "near_round", "whole_units", "credit_mix"}, Design: []string{"mcc_mismatch"}, SizeMul: 0.7})
	}
	// card testers
	for i := 0; i < 6; i++ {
		fc := []string{"convenience", "florist", "clothing", "fastfood", "books", "cosmetics"}[i]
		add(&Spec{Label: "fraud", Scenario: "card_testing", Cat: catByKey(fc), Tactics: []string{"card_testing"}, Design: []string{"decline_ratio"}, SizeMul: 0.5})
	}
	// compliance
	relo := []string{"Leshan", "Mianyang", "Zhanjiang", "Yiwu", "Shaoguan", "Chengdu", "Hangzhou", "Foshan", "Shaoxing", "Chengdu"}
	for i := 0; i < 10; i++ {
		add(&Spec{Label: "compliance", Scenario: "relocation", Cat: front(), Tactics: []string{"relocation"}, Design: []string{"relocation"}, City: relo[i], Group: i, SizeMul: 1})
	}
	mm := []string{"restaurant", "jeweller", "ktv", "liquor", "hotel", "electronics", "spa"}
	for i := 0; i < 7; i++ {
		add(&Spec{Label: "compliance", Scenario: "mcc_mismatch", Cat: catByKey(mm[i]), Tactics: []string{"mcc_mismatch"}, Design: []string{"mcc_mismatch"}, SizeMul: 1})
	}
	for i := 0; i < 4; i++ {
		add(&Spec{Label: "compliance", Scenario: "settlement_churn", Cat: front(), Tactics: []string{"settlement_churn"}, Design: []string{"settlement_churn"}, SizeMul: 1})
	}
	for i := 0; i < 4; i++ {
		add(&Spec{Label: "compliance", Scenario: "shared_account", Cat: front(), Tactics: []string{"shared_account"}, Design: []string{"settlement_churn"}, City: "Foshan", SizeMul: 0.8})
	}
	for p := 0; p < 2; p++ {
		cn := []string{"Chengdu", "Hangzhou"}[p]
		add(&Spec{Label: "compliance", Scenario: "terminal_lender", Cat: front(), Tactics: []string{"terminal_lent"}, City: cn, Group: p, SizeMul: 1})
		add(&Spec{Label: "compliance", Scenario: "terminal_borrower", Cat: front(), Tactics: []string{"terminal_lent"}, Design: []string{"terminal_sharing"}, City: cn, Group: p, SizeMul: 0.6})
	}
	for p := 0; p < 2; p++ {
		cn := []string{"Yiwu", "Zhanjiang"}[p]
		c := catByKey("market_stall")
		add(&Spec{Label: "compliance", Scenario: "terminal_double_bound", Cat: c, Tactics: []string{"terminal_double_bound"}, Design: []string{"terminal_sharing"}, City: cn, Group: p, SizeMul: 0.7})
		add(&Spec{Label: "compliance", Scenario: "terminal_double_bound", Cat: c, Tactics: []string{"terminal_double_bound"}, Design: []string{"terminal_sharing"}, City: cn, Group: p, SizeMul: 0.7})
	}
	// ordinary shops fill the rest
	total := 0
	for _, c := range g.Cities {
		total += c.N
	}
	var lw []float64
	var lc []*Cat
	for _, c := range cats {
		if c.Kind == "legit" {
			lw = append(lw, c.W)
			lc = append(lc, c)
		}
	}
	for len(sp) < total {
		add(&Spec{Label: "legit", Scenario: "legit", Cat: lc[pickW(r, lw)], SizeMul: 1})
	}
	return sp
}

// ----- merchants -----

func (g *Gen) cityByName(n string) int {
	for i, c := range g.Cities {
		if c.Name == n {
			return i
		}
	}
	panic(n)
}

func (g *Gen) buildMerchants() {
	r := g.R
	specs := g.buildSpecs()
	remaining := make([]float64, len(g.Cities))
	for i, c := range g.Cities {
		remaining[i] = float64(c.N)
	}
	// preset cities first
	cityOf := make([]int, len(specs))
	for i, s := range specs {
		cityOf[i] = -1
		if s.City != "" {
			ci := g.cityByName(s.City)
			cityOf[i] = ci
			remaining[ci]--
		}
	}
	for i, s := range specs {
		if cityOf[i] >= 0 {
			continue
		}
		w := make([]float64, len(g.Cities))
		for ci, c := range g.Cities {
			w[ci] = math.Max(remaining[ci], 0)
			if s.Cat.Key == "wholesaler" && (c.Name == "Yiwu" || c.Name == "Foshan" || c.Name == "Shaoxing") {
				w[ci] *= 5
			}
			if s.Cat.Key == "hotel" && c.Tourist > 1.4 {
				w[ci] *= 2.5
			}
		}
		ci := pickW(r, w)
		cityOf[i] = ci
		remaining[ci]--
	}
	// shuffle merchant order so that ids do not reveal labels
	order := r.Perm(len(specs))
	for k, si := range order {
		s := specs[si]
		ci := cityOf[si]
		c := g.Cities[ci]
		m := &Merchant{Idx: k, City: c, CityIdx: ci, Acq: c.Acq, Cat: s.Cat, Label: s.Label, Scenario: s.Scenario,
			Tactics: s.Tactics, Design: s.Design, RegMCC: s.Cat.MCC, CloseDay: NDays, ClosedDow: -1}
		m.Preset = fmt.Sprintf("%d", s.Group)
		if m.Tactics == nil {
			m.Tactics = []string{}
		}
		if s.Cat.Key == "wholesaler" {
			m.RegMCC = []string{"5137", "5065", "5099", "5137", "5122", "5131"}[r.IntN(6)]
			if c.Name == "Yiwu" {
				m.RegMCC = []string{"5099", "5137", "5131", "5094"}[r.IntN(4)]
			}
		}
		if s.Cat.Key == "market_stall" {
			m.RegMCC = []string{"5422", "5422", "5499", "5411"}[r.IntN(4)]
		}
		if s.Cat.Key == "hardware" && r.Float64() < 0.4 {
			m.RegMCC = "5211"
		}
		if s.Cat.Key == "books" && r.Float64() < 0.4 {
			m.RegMCC = "5943"
		}
		if s.Cat.Key == "clothing" && r.Float64() < 0.4 {
			m.RegMCC = []string{"5621", "5611", "5641", "5691"}[r.IntN(4)]
		}
		m.District = r.IntN(len(c.Districts))
		// location: sector by district, dense core
		nd := float64(len(c.Districts))
		ang := (float64(m.District) + r.Float64()) / nd * 2 * math.Pi
		dist := c.R * math.Min(1, r.ExpFloat64()*0.33)
		m.Lat, m.Lon = offsetKm(c.Lat, c.Lon, dist*math.Cos(ang), dist*math.Sin(ang))
		m.Lat, m.Lon = math.Round(m.Lat*1e6)/1e6, math.Round(m.Lon*1e6)/1e6
		m.Name = c.CN + c.Districts[m.District] + "区" + s.Cat.Names[r.IntN(len(s.Cat.Names))] + s.Cat.CN
		if r.Float64() < 0.5 {
			m.Name = c.CN + s.Cat.Names[r.IntN(len(s.Cat.Names))] + "(" + c.Districts[m.District] + "店)"
		}
		// size
		m.Base = s.SizeMul * lognorm(r, s.Cat.MedTx, s.Cat.SigTx)
		if m.Base > 2500 {
			m.Base = 2500 * (0.8 + 0.2*r.Float64())
		}
		m.Credit = clamp(s.Cat.Credit+c.CreditAdj+0.09*r.NormFloat64(), 0.03, 0.9)
		m.Regular = clamp(s.Cat.Regular+0.08*r.NormFloat64(), 0, 0.9)
		pa := 1.0
		if c.R < 10 {
			pa = 0.85
		}
		m.AmtMed = s.Cat.MedAmt * pa * math.Exp(0.3*r.NormFloat64())
		prof := s.Cat.Prof
		if r.Float64() < s.Cat.P24 {
			switch prof {
			case "conv", "grocery":
				prof = "conv24"
			case "fuel":
				prof = "fuel24"
			case "pharm":
				prof = "pharm24"
			}
		}
		shift := 0
		if prof != "conv24" && prof != "fuel24" && prof != "pharm24" {
			if u := r.Float64(); u < 0.15 {
				shift = -1
			} else if u < 0.3 {
				shift = 1
			}
		}
		m.HoursCum = buildHours(r, prof, shift)
		if m.Base < 8 && r.Float64() < 0.2 && prof != "conv24" && prof != "hospital" && prof != "hotel" {
			m.ClosedDow = r.IntN(7)
		}
		m.Mobile = r.Float64() < s.Cat.Mobile || (s.Cat.Key == "restaurant" && r.Float64() < 0.04)
		// onboarding date: mostly long-standing merchants
		u := r.Float64()
		var onDay float64
		switch {
		case u < 0.06:
			onDay = -5 - 55*r.Float64()
		default:
			onDay = -60 - math.Min(r.ExpFloat64()*700, 3000)
		}
		m.OpenDay = onDay + 1 + 2*r.Float64()
		m.RampDays = 14 + 30*r.Float64()
		m.Account = g.newAccount()
		g.Ms = append(g.Ms, m)
	}
	// new shops opening during the month (ordinary shops)
	var legit []*Merchant
	for _, m := range g.Ms {
		if m.Label == "legit" {
			legit = append(legit, m)
		}
	}
	for k := 0; k < 38; k++ {
		m := legit[r.IntN(len(legit))]
		m.OpenDay = 1 + 26*r.Float64()
	}
	// a few look-alikes new as well (a new hotel, a new furniture store)
	for _, m := range g.Ms {
		if m.Label == "lookalike" && r.Float64() < 0.03 {
			m.OpenDay = 2 + 20*r.Float64()
		}
	}
	// deterministic order by Idx
	sort.Slice(g.Ms, func(i, j int) bool { return g.Ms[i].Idx < g.Ms[j].Idx })
}

// merchants' onboarding event time (ms) derived from OpenDay
func (g *Gen) onboardTime(r *R, m *Merchant) int64 {
	od := math.Floor(m.OpenDay) - 1 - float64(r.IntN(3))
	if od > m.OpenDay-0.5 {
		od = math.Floor(m.OpenDay - 1)
	}
	return startMs + int64(od)*DayMs + int64(9+r.IntN(8))*HourMs + r.Int64N(HourMs)
}

func (g *Gen) scaleAndPools(target float64) {
	// expected honest txns
	tot := 0.0
	for _, m := range g.Ms {
		tot += m.Base * g.activeDays(m) * g.typMul(m)
	}
	scale := target / tot
	for _, m := range g.Ms {
		m.Base *= scale
	}
	perCity := make([]float64, len(g.Cities))
	for _, m := range g.Ms {
		perCity[m.CityIdx] += m.Base * g.activeDays(m) * g.typMul(m)
	}
	for ci, c := range g.Cities {
		n := int(perCity[ci] / 12.5)
		if n < 2000 {
			n = 2000
		}
		buildPool(newRng(g.Seed, 100+uint64(ci)), g.Seed, ci, c, n)
	}
}

func (g *Gen) typMul(m *Merchant) float64 {
	switch m.Cat.Key {
	case "hotel":
		return 1.5
	}
	return 1.0
}

func (g *Gen) activeDays(m *Merchant) float64 {
	a := float64(NDays) - math.Max(0, m.OpenDay)
	if m.OpenDay > 0 {
		a -= m.RampDays * 0.4
	}
	return math.Max(a, 1)
}

func (g *Gen) buildRegulars() {
	for _, m := range g.Ms {
		r := newRng(g.Seed, 5000+uint64(m.Idx))
		if m.Regular <= 0 {
			continue
		}
		n := int(m.Base * 7 * m.Regular / m.Cat.Visits)
		if n < 3 {
			n = 3
		}
		if n > 5000 {
			n = 5000
		}
		p := m.City.pool
		for i := 0; i < n; i++ {
			var c int32 = -1
			credit := r.Float64() < m.Credit
			if r.Float64() < 0.85 {
				c = p.subs[m.District+1][btoi(!credit)].pick(r)
			}
			if c < 0 {
				c = p.subs[0][btoi(!credit)].pick(r)
			}
			m.Regulars.add(c, math.Exp(0.6*r.NormFloat64()))
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
