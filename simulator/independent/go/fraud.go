package main

import (
	"math"
	"sort"
)

type FraudSpec struct {
	V                                                float64
	VMax                                             float64
	Active                                           [NDays]bool
	Farm                                             []int32 // credit cards (global idx)
	Budget                                           map[int32]float64
	Debit                                            []int32
	NearRound, Whole, CreditMix, Pairs, Cycle, Naive bool
	Struct, Night                                    bool
	Ring                                             *Ring
	RingPos                                          int
	FictMCC                                          string
	StartDay, EndDay                                 int
	HiddenShare                                      float64
}

type Ring struct {
	Members []*Merchant
	Farm    []int32
	Phase   map[int32]int
	Budget  map[int32]float64
	Debit   []int32
}

func has(ts []string, t string) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// before lifecycle: bust-outs are new merchants
func (g *Gen) fraudPre() {
	r := newRng(g.Seed, 91)
	for _, m := range g.Ms {
		switch m.Scenario {
		case "bust_out":
			m.OpenDay = -6 + 18*r.Float64()
			m.RampDays = 20
		case "card_testing":
			if r.Float64() < 0.5 {
				m.OpenDay = -40 + 35*r.Float64()
			}
		}
	}
}

var farmBINs = []string{"622575", "625330", "622690", "622156", "622908", "628298", "625905"}

func (g *Gen) makeFarm(r *R, m *Merchant, n int, binConc bool) ([]int32, []int32, map[int32]float64) {
	p := m.City.pool
	var farm, deb []int32
	bud := map[int32]float64{}
	seen := map[int32]bool{}
	bin := farmBINs[r.IntN(len(farmBINs))]
	for len(farm) < n {
		var c int32
		if binConc && r.Float64() < 0.8 {
			c = extraCard(g.Seed, bin, CT_CREDIT, m.CityIdx)
		} else if r.Float64() < 0.25 {
			// freshly applied cards held by the operator (no other use)
			c = extraCard(g.Seed, farmBINs[r.IntN(len(farmBINs))], CT_CREDIT, m.CityIdx)
		} else {
			c = p.subs[0][0].pick(r) // a real cardholder's card that also shops normally
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		farm = append(farm, c)
		bud[c] = clamp(lognorm(r, 52000, 0.5), 10000, 200000)
		if has(m.Tactics, "card_cycle") {
			bud[c] *= 1.5 // the line is repaid and swiped again within the cycle
		}
	}
	for i := 0; i < n/4+2; i++ {
		deb = append(deb, p.subs[0][1].pick(r))
	}
	return farm, deb, bud
}

func (g *Gen) setupFraud() {
	r := newRng(g.Seed, 92)
	rings := map[string]*Ring{}
	var ringKeys []string
	for _, m := range g.Ms {
		if m.Label != "fraud" || m.Scenario == "card_testing" {
			continue
		}
		f := &FraudSpec{}
		m.F = f
		f.NearRound = has(m.Tactics, "near_round")
		f.Whole = has(m.Tactics, "whole_units")
		f.CreditMix = has(m.Tactics, "credit_mix")
		f.Pairs = has(m.Tactics, "card_pairs")
		f.Cycle = has(m.Tactics, "card_cycle")
		f.Naive = has(m.Tactics, "naive")
		f.Struct = has(m.Tactics, "structuring")
		f.Night = m.Scenario == "night_cashout"
		f.StartDay, f.EndDay = 0, NDays
		if m.OpenDay > 0 {
			f.StartDay = int(math.Ceil(m.OpenDay))
		}
		activeP := 0.85
		nFarm := 0
		switch m.Scenario {
		case "naive_round_cashout":
			f.V = 150000 + 300000*r.Float64()
			activeP = 0.9
			nFarm = 6 + r.IntN(10)
		case "limit_structuring":
			activeP = 0.6 + 0.25*r.Float64()
			nFarm = 25 + r.IntN(20)
		case "playbook_cashout":
			f.V = clamp(lognorm(r, 45000, 0.6), 8000, 200000)
			activeP = 0.7 + 0.25*r.Float64()
		case "ring_cashout":
			f.V = clamp(lognorm(r, 40000, 0.5), 8000, 150000)
			activeP = 0.8
		case "intermittent_cashout":
			f.V = 80000 + 170000*r.Float64()
			activeP = 0
			k := 4 + r.IntN(5)
			for _, d := range r.Perm(NDays)[:k] {
				f.Active[d] = true
			}
		case "bust_out":
			f.StartDay = int(math.Max(0, math.Ceil(m.OpenDay))) + r.IntN(3)
			f.EndDay = f.StartDay + 12 + r.IntN(9)
			f.VMax = 120000 + 170000*r.Float64()
			activeP = 0.95
		case "hidden_in_volume":
			f.HiddenShare = 0.04 + 0.08*r.Float64()
			activeP = 0.75
		case "night_cashout":
			f.V = clamp(lognorm(r, 40000, 0.5), 10000, 120000)
			activeP = 0.8
		case "mcc_jump_cashout":
			f.V = clamp(lognorm(r, 40000, 0.5), 10000, 120000)
			f.FictMCC = []string{"5411", "5300", "8398", "5331", "5411"}[r.IntN(5)]
		}
		if activeP > 0 {
			for d := 0; d < NDays; d++ {
				f.Active[d] = r.Float64() < activeP
			}
		}
		nAct := 0
		for d := f.StartDay; d < f.EndDay && d < NDays; d++ {
			if f.Active[d] {
				nAct++
			}
		}
		if nFarm == 0 {
			v := f.V
			if v == 0 {
				v = math.Max(f.VMax, 30000)
			}
			nFarm = int(math.Ceil(1.3 * v * float64(nAct) / 52000))
			if m.Scenario == "hidden_in_volume" {
				nFarm = 15 + r.IntN(25)
			}
			if nFarm < 8 {
				nFarm = 8
			}
		}
		if m.Scenario == "ring_cashout" {
			key := m.Preset
			rg := rings[key]
			if rg == nil {
				rg = &Ring{Phase: map[int32]int{}}
				rings[key] = rg
				ringKeys = append(ringKeys, key)
			}
			f.Ring = rg
			f.RingPos = len(rg.Members)
			rg.Members = append(rg.Members, m)
			continue
		}
		f.Farm, f.Debit, f.Budget = g.makeFarm(r, m, nFarm, r.Float64() < 0.3)
		if m.Scenario == "bust_out" && f.EndDay < NDays {
			// merchant vanishes: acquirer closes it after the bust
			t := dayStart(f.EndDay) + int64(10+r.IntN(8))*HourMs
			m.CloseDay = f.EndDay
			for _, b := range m.Binds {
				if b.Until > t {
					b.Until = t
					g.addEvent(MEvent{T: t, M: m.Idx, Term: b.T.ID, Kind: "TERMINAL_UNBOUND"})
				}
			}
			g.addEvent(MEvent{T: t + 120000, M: m.Idx, Kind: "CLOSED"})
		}
	}
	sort.Strings(ringKeys)
	for _, k := range ringKeys {
		rg := rings[k]
		tot := 0.0
		for _, m := range rg.Members {
			tot += m.F.V * 0.8 * NDays
		}
		n := int(math.Ceil(1.2 * tot / 52000))
		rg.Farm, rg.Debit, rg.Budget = g.makeFarm(r, rg.Members[0], n, k == "2")
		for _, c := range rg.Farm {
			rg.Phase[c] = r.IntN(2)
		}
		g.rings = append(g.rings, rg)
	}
}

// is the farmed card in its cash-out window (after statement date until due date)?
func cycleActive(c int32, d int) bool {
	s := int(allCards[c].Stmt)
	k := (days[d].DOM - s + 31) % 31
	return k >= 1 && k <= 21
}

func monthIdx(d int) int {
	if days[d].DOM < 14 {
		return 1
	}
	return 0
}

func (g *Gen) fictAmount(r *R, f *FraudSpec) int64 {
	if f.Naive {
		return []int64{5000, 10000, 10000, 20000, 20000, 30000, 50000}[r.IntN(7)] * 100
	}
	if f.Struct {
		a := 45000 + r.Float64()*4990
		if r.Float64() < 0.4 {
			return int64(math.Round(a/10)) * 1000
		}
		return int64(math.Round(a)) * 100
	}
	var a float64
	if f.NearRound {
		R := clamp(math.Round(lognorm(r, 9, 0.6)), 2, 45)
		if f.Cycle {
			// repay-and-swipe rounds of a few thousand each
			R = clamp(math.Round(lognorm(r, 5, 0.5)), 2, 20)
		}
		dev := 0.003 + 0.017*r.Float64()
		if r.Float64() < 0.5 {
			dev = -dev
		}
		a = R * 1000 * (1 + dev)
		if f.Whole && r.Float64() < 0.5 {
			a = math.Round(a/10) * 10
		}
	} else {
		a = clamp(lognorm(r, 7000, 0.6), 1200, 49000)
		if f.Cycle {
			a = clamp(lognorm(r, 4500, 0.5), 1200, 20000)
		}
	}
	if f.Whole {
		return int64(math.Round(a)) * 100
	}
	v := int64(math.Round(a*100)) + int64(r.IntN(100))
	return v
}

func (g *Gen) fictTime(r *R, m *Merchant, f *FraudSpec, d int) int64 {
	if f.Night {
		if r.Float64() < 0.8 {
			return dayStart(d) + r.Int64N(5*HourMs)
		}
		return dayStart(d) + 22*HourMs + r.Int64N(2*HourMs)
	}
	if f.Naive && r.Float64() < 0.2 {
		return dayStart(d) + r.Int64N(3*HourMs)
	}
	// inside (mostly) the shop's own hours
	if r.Float64() < 0.85 {
		return m.sampleTime(r, d)
	}
	return dayStart(d) + int64(9+r.IntN(12))*HourMs + r.Int64N(HourMs)
}

func (g *Gen) fictSwipe(m *Merchant, r *R, f *FraudSpec, t int64, card int32, amt int64) bool {
	b := m.pickBind(r, t)
	if b == nil {
		return false
	}
	mcc := m.mccAt(r, t)
	if f.FictMCC != "" {
		mcc = f.FictMCC
	}
	em := uint8(EM_CHIP)
	if u := r.Float64(); u < 0.1 {
		em = EM_MAGSTRIPE
	} else if u < 0.14 {
		em = EM_CONTACTLESS
	}
	resp := "00"
	if r.Float64() < 0.03 {
		resp = []string{"51", "61", "05"}[r.IntN(3)]
	}
	g.emit(m, r, b, t, card, TT_PURCHASE, amt, mcc, em, resp, true)
	return resp == "00"
}

func (g *Gen) genFraud() {
	for _, m := range g.Ms {
		if m.F == nil {
			continue
		}
		r := newRng(g.Seed, 20000+uint64(m.Idx))
		f := m.F
		for d := f.StartDay; d < f.EndDay && d < NDays; d++ {
			if !f.Active[d] {
				continue
			}
			switch {
			case f.Naive:
				g.naiveDay(m, r, f, d)
			case f.Struct:
				g.structDay(m, r, f, d)
			default:
				v := f.V
				if m.Scenario == "bust_out" {
					k := float64(d - f.StartDay)
					v = f.VMax * math.Min(1, 0.45+k/5) * (0.85 + 0.3*r.Float64())
				}
				if m.Scenario == "hidden_in_volume" {
					v = f.HiddenShare * m.HonestVol[d] * (0.6 + 0.8*r.Float64())
				}
				farm, deb, bud := f.Farm, f.Debit, f.Budget
				if f.Ring != nil {
					rg := f.Ring
					deb, bud = rg.Debit, rg.Budget
					farm = nil
					n := len(rg.Members)
					for i, c := range rg.Farm {
						own := (i + (monthIdx(d)+rg.Phase[c])/2) % n
						if own == f.RingPos || r.Float64() < 0.15 {
							farm = append(farm, c)
						}
					}
				}
				g.evasiveDay(m, r, f, d, v*(0.8+0.4*r.Float64()), farm, deb, bud)
			}
		}
	}
}

func (g *Gen) evasiveDay(m *Merchant, r *R, f *FraudSpec, d int, V float64, farm, deb []int32, bud map[int32]float64) {
	var elig []int32
	for _, c := range farm {
		if bud[c] < 1500 {
			continue
		}
		if f.Cycle && !cycleActive(c, d) {
			continue
		}
		elig = append(elig, c)
	}
	r.Shuffle(len(elig), func(i, j int) { elig[i], elig[j] = elig[j], elig[i] })
	vol := 0.0
	nCredit := 0
	for _, c := range elig {
		if vol >= V {
			break
		}
		if f.Cycle && r.Float64() < 0.7 {
			continue // a few days of the window only: the line is repaid and swiped again
		}
		if !f.Cycle && r.Float64() < 0.4 {
			continue
		}
		swipes := 1
		if f.Pairs && r.Float64() < 0.85 {
			swipes = 2
		}
		t := g.fictTime(r, m, f, d)
		for s := 0; s < swipes; s++ {
			amt := g.fictAmount(r, f)
			if float64(amt)/100 > bud[c] {
				amt = int64(bud[c]*0.9/100) * 10000
				if amt < 100000 {
					break
				}
			}
			if g.fictSwipe(m, r, f, t, c, amt) {
				vol += float64(amt) / 100
				bud[c] -= float64(amt) / 100
				nCredit++
				if f.CreditMix && nCredit%4 == 0 && len(deb) > 0 {
					dc := deb[r.IntN(len(deb))]
					da := int64(101+r.IntN(200)) * 100
					g.fictSwipe(m, r, f, g.fictTime(r, m, f, d), dc, da)
				}
			}
			// the playbook pause: just over 5 minutes
			t += int64(300+r.IntN(240))*1000 + r.Int64N(1000)
		}
	}
}

func (g *Gen) naiveDay(m *Merchant, r *R, f *FraudSpec, d int) {
	V := f.V * (0.7 + 0.6*r.Float64())
	vol := 0.0
	for tries := 0; vol < V && tries < 60; tries++ {
		c := f.Farm[r.IntN(len(f.Farm))]
		amt := g.fictAmount(r, f)
		t := g.fictTime(r, m, f, d)
		k := 2 + r.IntN(4)
		for s := 0; s < k && vol < V; s++ {
			if g.fictSwipe(m, r, f, t, c, amt) {
				vol += float64(amt) / 100
			}
			t += int64(40+r.IntN(200)) * 1000
		}
	}
}

func (g *Gen) structDay(m *Merchant, r *R, f *FraudSpec, d int) {
	T := 282000 + 17500*r.Float64()
	rem := T - m.HonestVol[d]
	if rem < 45000 {
		return
	}
	n := int(math.Ceil(rem / 49990))
	per := rem / float64(n)
	elig := append([]int32{}, f.Farm...)
	r.Shuffle(len(elig), func(i, j int) { elig[i], elig[j] = elig[j], elig[i] })
	for i := 0; i < n; i++ {
		a := per - 600*r.Float64()
		var amt int64
		if r.Float64() < 0.4 {
			amt = int64(math.Floor(a/10)) * 1000
		} else {
			amt = int64(math.Floor(a)) * 100
		}
		c := elig[i%len(elig)]
		g.fictSwipe(m, r, f, g.fictTime(r, m, f, d), c, amt)
	}
}

// ---------- card testers ----------

var testBINs = []string{"622575", "625330", "622280", "622690", "438125", "431940", "426684", "517805", "622908", "625905"}

func (g *Gen) genCardTesting() {
	for _, m := range g.Ms {
		if m.Scenario != "card_testing" {
			continue
		}
		r := newRng(g.Seed, 30000+uint64(m.Idx))
		nb := 3 + r.IntN(5)
		first := int(math.Max(0, math.Ceil(m.OpenDay)))
		for k := 0; k < nb; k++ {
			d := first + r.IntN(NDays-first)
			var t int64
			if r.Float64() < 0.45 {
				t = dayStart(d) + r.Int64N(5*HourMs)
			} else {
				t = m.sampleTime(r, d)
			}
			attempts := 40 + r.IntN(180)
			dur := float64(10+r.IntN(70)) * 60
			bins := []string{testBINs[r.IntN(len(testBINs))]}
			if r.Float64() < 0.5 {
				bins = append(bins, testBINs[r.IntN(len(testBINs))])
			}
			style := r.IntN(3)
			var cards []int32
			approve := 0.05 + 0.15*r.Float64()
			for i := 0; i < attempts; i++ {
				var c int32
				if len(cards) > 0 && r.Float64() < 0.25 {
					c = cards[r.IntN(len(cards))]
				} else {
					bin := bins[r.IntN(len(bins))]
					typ := uint8(CT_CREDIT)
					if u := r.Float64(); u < 0.12 {
						typ = CT_DEBIT
					} else if u < 0.18 {
						typ, bin = CT_UNKNOWN, ""
					}
					c = extraCard(g.Seed, bin, typ, m.CityIdx)
					cards = append(cards, c)
				}
				var amt int64
				switch style {
				case 0:
					amt = 100
				case 1:
					amt = int64(100 + r.IntN(900))
				default:
					amt = int64(1+r.IntN(20)) * 100
				}
				resp := "00"
				if r.Float64() > approve {
					resp = []string{"14", "54", "05", "51", "41", "43", "57", "14", "05"}[r.IntN(9)]
				}
				em := uint8(EM_MANUAL)
				if r.Float64() < 0.4 {
					em = EM_MAGSTRIPE
				}
				b := m.pickBind(r, t)
				if b != nil {
					g.emit(m, r, b, t, c, TT_PURCHASE, amt, m.mccAt(r, t), em, resp, true)
				}
				t += int64(r.ExpFloat64()*dur/float64(attempts)*1000) + 1500
			}
		}
	}
}
