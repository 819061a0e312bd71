package main

import (
	"math"
)

const farFuture = int64(1) << 62

func (g *Gen) setupLifecycle() {
	r := newRng(g.Seed, 77)
	// terminals and onboarding
	for _, m := range g.Ms {
		m.OnboardT = g.onboardTime(r, m)
		g.addEvent(MEvent{T: m.OnboardT, M: m.Idx, Kind: "ONBOARDED", MCC: m.RegMCC, Name: m.Name, HasLoc: true, Lat: m.Lat, Lon: m.Lon, Account: m.Account})
		nt := 1 + poisson(r, m.Cat.Terms*math.Sqrt(math.Max(m.Base, 0.1)/m.Cat.MedTx))
		if nt > 40 {
			nt = 40
		}
		for i := 0; i < nt; i++ {
			t := g.newTerminal(r)
			from := m.OnboardT + int64(20+r.IntN(600))*60000
			if i > 0 && r.Float64() < 0.4 && m.OpenDay < -60 {
				// added later, still before the month
				from = m.OnboardT + int64(r.Float64()*float64(startMs-m.OnboardT)*0.9)
			}
			b := &Binding{T: t, From: from, Until: farFuture, W: math.Exp(0.5 * r.NormFloat64())}
			m.Binds = append(m.Binds, b)
			g.addEvent(MEvent{T: from, M: m.Idx, Term: t.ID, Kind: "TERMINAL_BOUND"})
		}
		// historical honest account changes
		if m.OpenDay < -200 && r.Float64() < 0.03 {
			m.Account = g.newAccount()
			g.addEvent(MEvent{T: m.OnboardT + int64(r.Float64()*float64(startMs-m.OnboardT-30*DayMs)), M: m.Idx, Kind: "SETTLEMENT_ACCOUNT_CHANGED", Account: m.Account})
		}
	}
	var legit []*Merchant
	for _, m := range g.Ms {
		if m.Label == "legit" && m.OpenDay < 0 {
			legit = append(legit, m)
		}
	}
	used := map[int]bool{}
	pickLegit := func(filter func(*Merchant) bool) *Merchant {
		for tries := 0; tries < 10000; tries++ {
			m := legit[r.IntN(len(legit))]
			if !used[m.Idx] && (filter == nil || filter(m)) {
				used[m.Idx] = true
				return m
			}
		}
		return nil
	}
	midT := func(lo, hi int) int64 {
		d := lo + r.IntN(hi-lo)
		return dayStart(d) + int64(8+r.IntN(10))*HourMs + r.Int64N(HourMs)
	}
	// honest account changes in the month
	for i := 0; i < 12; i++ {
		m := pickLegit(nil)
		m.Account = g.newAccount()
		g.addEvent(MEvent{T: midT(0, 29), M: m.Idx, Kind: "SETTLEMENT_ACCOUNT_CHANGED", Account: m.Account})
	}
	// chains sharing one account (2 shops; one chain of 3)
	for i := 0; i < 5; i++ {
		a := pickLegit(nil)
		n := 1
		if i == 4 {
			n = 2
		}
		for k := 0; k < n; k++ {
			b := pickLegit(func(x *Merchant) bool { return x.CityIdx == a.CityIdx && x.Cat == a.Cat })
			if b == nil {
				continue
			}
			b.Account = a.Account
			for j := range g.Events {
				if g.Events[j].M == b.Idx && g.Events[j].Kind == "ONBOARDED" {
					g.Events[j].Account = a.Account
				}
			}
			b.Name = a.Name[:len(a.Name)] + "分店"
			for j := range g.Events {
				if g.Events[j].M == b.Idx && g.Events[j].Kind == "ONBOARDED" {
					g.Events[j].Name = b.Name
				}
			}
		}
	}
	// terminal swaps
	for i := 0; i < 15; i++ {
		m := pickLegit(nil)
		old := m.Binds[r.IntN(len(m.Binds))]
		t := midT(1, 29)
		old.Until = t
		g.addEvent(MEvent{T: t, M: m.Idx, Term: old.T.ID, Kind: "TERMINAL_UNBOUND"})
		nt := g.newTerminal(r)
		m.Binds = append(m.Binds, &Binding{T: nt, From: t + 60000, Until: farFuture, W: old.W})
		g.addEvent(MEvent{T: t + 60000, M: m.Idx, Term: nt.ID, Kind: "TERMINAL_BOUND"})
	}
	// honest moves with ADDRESS_CHANGED (one of them >10 km)
	for i := 0; i < 4; i++ {
		m := pickLegit(func(x *Merchant) bool { return !x.Mobile })
		t := midT(3, 25)
		d := 2 + 6*r.Float64()
		if i == 0 {
			d = 13
		}
		a := r.Float64() * 2 * math.Pi
		lat, lon := offsetKm(m.Lat, m.Lon, d*math.Cos(a), d*math.Sin(a))
		lat, lon = math.Round(lat*1e6)/1e6, math.Round(lon*1e6)/1e6
		m.Addr = append(m.Addr, AddrChange{T: t, Lat: lat, Lon: lon})
		g.addEvent(MEvent{T: t, M: m.Idx, Kind: "ADDRESS_CHANGED", HasLoc: true, Lat: lat, Lon: lon})
	}
	// honest MCC re-classification
	mccCh := map[string]string{"convenience": "5411", "restaurant": "5814", "cosmetics": "7230", "fastfood": "5812", "supermarket": "5499"}
	for i := 0; i < 3; i++ {
		m := pickLegit(func(x *Merchant) bool { _, ok := mccCh[x.Cat.Key]; return ok })
		m.MCCChT = midT(2, 26)
		m.NewMCC = mccCh[m.Cat.Key]
		g.addEvent(MEvent{T: m.MCCChT, M: m.Idx, Kind: "MCC_CHANGED", MCC: m.NewMCC})
	}
	// closures with terminal re-use by later-opening shops
	var newShops []*Merchant
	for _, m := range g.Ms {
		if m.Label == "legit" && m.OpenDay > 12 {
			newShops = append(newShops, m)
		}
	}
	for i := 0; i < 5; i++ {
		m := pickLegit(func(x *Merchant) bool { return x.Base < 40 })
		cd := 4 + r.IntN(8)
		m.CloseDay = cd
		t := dayStart(cd) + 10*HourMs + r.Int64N(8*HourMs)
		for _, b := range m.Binds {
			if b.Until > t {
				b.Until = t
				g.addEvent(MEvent{T: t, M: m.Idx, Term: b.T.ID, Kind: "TERMINAL_UNBOUND"})
			}
		}
		g.addEvent(MEvent{T: t + 60000, M: m.Idx, Kind: "CLOSED"})
		if i < 3 && i < len(newShops) {
			n := newShops[i]
			// refurbished terminal handed to a new shop after the old one closed
			b0 := m.Binds[0]
			nb := n.Binds[0]
			if nb.From < t {
				nb.From = t + DayMs
			}
			for j := range g.Events {
				if g.Events[j].M == n.Idx && g.Events[j].Kind == "TERMINAL_BOUND" && g.Events[j].Term == nb.T.ID {
					g.Events[j].Term = b0.T.ID
					g.Events[j].T = nb.From
				}
			}
			nb.T = b0.T
		}
	}
}

// compliance scenario wiring
func (g *Gen) setupCompliance() {
	r := newRng(g.Seed, 88)
	midT := func(lo, hi int) int64 {
		d := lo + r.IntN(hi-lo)
		return dayStart(d) + int64(9+r.IntN(9))*HourMs + r.Int64N(HourMs)
	}
	byGroup := map[string][]*Merchant{}
	relIdx := 0
	for _, m := range g.Ms {
		switch m.Scenario {
		case "relocation":
			g.setupRelocation(r, m, relIdx)
			relIdx++
		case "mcc_mismatch":
			sub := map[string]string{"restaurant": "5814", "jeweller": "5411", "ktv": "5812", "liquor": "5411", "hotel": "5411", "electronics": "5411", "spa": "8062"}
			m.SubMCC = sub[m.Cat.Key]
			if r.Float64() < 0.5 {
				m.SubMCC = []string{"5411", "5300", "5331", "8398"}[r.IntN(4)]
			}
			m.SubShare = 0.35 + 0.65*r.Float64()
			m.SubFrom = startMs
			if r.Float64() < 0.4 {
				m.SubFrom = midT(5, 20)
			}
		case "settlement_churn":
			n := 2 + r.IntN(3)
			for k := 0; k < n; k++ {
				m.Account = g.newAccount()
				g.addEvent(MEvent{T: midT(k*28/n, (k+1)*28/n), M: m.Idx, Kind: "SETTLEMENT_ACCOUNT_CHANGED", Account: m.Account})
			}
		case "shared_account", "terminal_lender", "terminal_borrower", "terminal_double_bound":
			byGroup[m.Scenario+m.Preset] = append(byGroup[m.Scenario+m.Preset], m)
		}
	}
	// shared account: first merchant's account used by all; two switch during the month
	if ms := byGroup["shared_account0"]; len(ms) > 0 {
		acct := ms[0].Account
		for i, m := range ms[1:] {
			if i < 1 {
				m.Account = acct
				for j := range g.Events {
					if g.Events[j].M == m.Idx && g.Events[j].Kind == "ONBOARDED" {
						g.Events[j].Account = acct
					}
				}
			} else {
				m.Account = acct
				g.addEvent(MEvent{T: midT(2, 20), M: m.Idx, Kind: "SETTLEMENT_ACCOUNT_CHANGED", Account: acct})
			}
		}
	}
	for p := 0; p < 2; p++ {
		ls, bs := byGroup["terminal_lender"+itoa(p)], byGroup["terminal_borrower"+itoa(p)]
		if len(ls) == 0 || len(bs) == 0 {
			continue
		}
		a, b := ls[0], bs[0]
		// lender gets a second terminal which is lent to the borrower from day X
		t := g.newTerminal(r)
		t.LocMode = 2
		t.Noise = 0.5
		from := a.OnboardT + 2*HourMs
		if from > startMs-DayMs {
			from = startMs - DayMs
		}
		x := midT(0, 12)
		a.Binds = append(a.Binds, &Binding{T: t, From: from, Until: x, W: 1})
		g.addEvent(MEvent{T: from, M: a.Idx, Term: t.ID, Kind: "TERMINAL_BOUND"})
		b.Binds = append(b.Binds, &Binding{T: t, From: x, Until: farFuture, W: 1, IsBorrowed: true, BorrowShare: 0.4 + 0.4*r.Float64()})
	}
	for p := 0; p < 2; p++ {
		ms := byGroup["terminal_double_bound"+itoa(p)]
		if len(ms) < 2 {
			continue
		}
		a, b := ms[0], ms[1]
		// stalls in the same market
		b.Lat, b.Lon = offsetKm(a.Lat, a.Lon, 0.05, 0.03)
		b.Lat, b.Lon = math.Round(b.Lat*1e6)/1e6, math.Round(b.Lon*1e6)/1e6
		for j := range g.Events {
			if g.Events[j].M == b.Idx && g.Events[j].Kind == "ONBOARDED" {
				g.Events[j].Lat, g.Events[j].Lon = b.Lat, b.Lon
			}
		}
		b.Mobile, a.Mobile = false, false
		t := a.Binds[0].T
		x := midT(3, 15)
		b.Binds = append(b.Binds, &Binding{T: t, From: x, Until: farFuture, W: 2})
		g.addEvent(MEvent{T: x, M: b.Idx, Term: t.ID, Kind: "TERMINAL_BOUND"})
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func (g *Gen) setupRelocation(r *R, m *Merchant, i int) {
	// relocated terminals must report a position
	targets := map[string][3]float64{
		"Leshan":    {30.6586, 104.0648, 0}, // moved to Chengdu
		"Mianyang":  {30.6586, 104.0648, 0},
		"Zhanjiang": {23.0215, 113.1214, 0}, // to Foshan
		"Yiwu":      {30.2741, 120.1551, 0}, // to Hangzhou
		"Shaoguan":  {23.1291, 113.2644, 0}, // to Guangzhou (outside portfolio)
		"Chengdu":   {0, 0, 1},              // same city, far district
		"Hangzhou":  {0, 0, 1},
		"Foshan":    {22.5430, 114.0579, 0}, // to Shenzhen
		"Shaoxing":  {30.2741, 120.1551, 0},
	}
	tg := targets[m.City.Name]
	var lat, lon float64
	if tg[2] == 1 {
		d := 16 + 20*r.Float64()
		a := r.Float64() * 2 * math.Pi
		lat, lon = offsetKm(m.Lat, m.Lon, d*math.Cos(a), d*math.Sin(a))
	} else {
		lat, lon = offsetKm(tg[0], tg[1], 6*r.NormFloat64(), 6*r.NormFloat64())
	}
	from := startMs - 20*DayMs
	if i%3 == 1 {
		from = dayStart(4+r.IntN(18)) + 8*HourMs
	}
	m.Mobile = false
	// all or most terminals relocated
	for k, b := range m.Binds {
		if k == 0 || r.Float64() < 0.7 {
			if b.T.LocMode == 0 {
				b.T.LocMode = 2
				b.T.Noise = 0.4
			}
			b.Reloc, b.RelocT, b.RelocLat, b.RelocLon = true, from, lat, lon
		}
	}
}
