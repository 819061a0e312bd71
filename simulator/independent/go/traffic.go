package main

import (
	"math"
	"time"
)

func (g *Gen) emit(m *Merchant, r *R, b *Binding, t int64, card int32, typ uint8, amt int64, mcc string, entry uint8, resp string, fict bool) {
	if amt <= 0 {
		amt = 100
	}
	if t >= dayStart(NDays) || t < startMs {
		return
	}
	lat, lon, ok := m.position(r, b, t)
	g.Txns = append(g.Txns, Txn{T: t, Seq: g.nextSeq(), Lat: lat, Lon: lon, HasLoc: ok, Amt: amt, M: int32(m.Idx), Card: card,
		Term: b.T, MCC: mcc, Type: typ, Entry: entry, Resp: respIdx(resp), Fict: fict})
	if resp == "00" && (typ == TT_PURCHASE || typ == TT_COMPLETION) {
		d := int((t - startMs) / DayMs)
		if !fict {
			m.HonestVol[d] += float64(amt) / 100
		}
	}
}

func entryMode(r *R, amt int64, card int32) uint8 {
	ct := allCards[card].Type
	u := r.Float64()
	if ct == CT_UNKNOWN {
		if u < 0.8 {
			return EM_CHIP
		}
		return EM_MAGSTRIPE
	}
	if amt <= 100000 {
		switch {
		case u < 0.42:
			return EM_CONTACTLESS
		case u < 0.83:
			return EM_CHIP
		case u < 0.95:
			return EM_QR
		case u < 0.99:
			return EM_MAGSTRIPE
		case u < 0.997:
			return EM_MANUAL
		}
		return EM_UNKNOWN
	}
	switch {
	case u < 0.74:
		return EM_CHIP
	case u < 0.80:
		return EM_CONTACTLESS
	case u < 0.89:
		return EM_QR
	case u < 0.98:
		return EM_MAGSTRIPE
	}
	return EM_MANUAL
}

var declineCodes = []string{"51", "05", "55", "61", "54", "91", "96", "14"}
var declineW = []float64{0.40, 0.24, 0.14, 0.09, 0.04, 0.04, 0.02, 0.03}

func (g *Gen) dayFactor(m *Merchant, d int) float64 {
	di := days[d]
	c := m.Cat
	f := 1.0
	if di.Holiday == "" {
		if di.Weekend {
			f *= c.Wkend
		} else if di.Dow == time.Friday {
			f *= 1 + (c.Wkend-1)*0.3
		}
	}
	nat := di.Holiday == "national"
	hol := di.Holiday != ""
	switch c.Hol {
	case "retail":
		if nat {
			f *= 1.35
		} else if hol {
			f *= 1.2
		}
	case "dining":
		if hol {
			f *= 1.45
		}
		if di.DOM == 25 && !nat {
			f *= 1.3
		}
	case "travel":
		if nat && (di.DOM == 1 || di.DOM == 7 || di.DOM == 2) {
			f *= 1.5
		} else if hol {
			f *= 1.15
		}
	case "medical":
		if hol {
			f *= 0.55
		}
	case "education":
		if hol {
			f *= 0.3
		}
	case "b2b":
		if nat {
			f *= 0.3
		} else if hol {
			f *= 0.5
		}
	case "gift":
		if hol {
			f *= 1.3
		}
		if di.PreGift {
			f *= 2.0
		}
	case "mooncake":
		if di.MoonPeak > 0 {
			f *= di.MoonPeak
		} else if nat {
			f *= 1.2
		} else if hol {
			f *= 0.8
		}
	case "auto":
		if nat {
			f *= 1.6
		} else if hol {
			f *= 1.3
		}
	case "hotel":
		t := m.City.Tourist
		if nat {
			f *= 1 + 0.6*t
		} else if hol {
			f *= 1 + 0.3*t
		} else if di.Weekend {
			f *= math.Sqrt(t)
		}
	}
	switch c.Hol {
	case "retail", "dining", "gift", "mooncake":
		if di.DOM == 10 || di.DOM == 15 || di.DOM >= 28 || di.DOM <= 2 {
			f *= 1.06
		}
	}
	if c.Kind == "school" {
		f *= 0.45 + 1.8*math.Exp(-float64(d)/6)
	}
	return f
}

func (g *Gen) genHonest(m *Merchant) {
	r := newRng(g.Seed, 10000+uint64(m.Idx))
	for d := 0; d < NDays; d++ {
		if float64(d)+1 <= m.OpenDay {
			continue
		}
		if d > m.CloseDay {
			break
		}
		di := days[d]
		if m.ClosedDow >= 0 && int(di.Dow) == m.ClosedDow && di.Holiday == "" {
			continue
		}
		f := g.dayFactor(m, d)
		since := float64(d) + 0.5 - m.OpenDay
		if since < m.RampDays {
			f *= 0.12 + 0.88*math.Pow(math.Max(since, 0)/m.RampDays, 0.7)
		}
		mean := m.Base * f * math.Exp(0.13*r.NormFloat64())
		if m.Cat.Key == "hotel" {
			g.hotelDay(m, r, d, mean/1.5)
			continue
		}
		n := poisson(r, mean)
		seen := make(map[int32]uint8, n)
		for i := 0; i < n; i++ {
			g.honestTxn(m, r, d, seen)
		}
	}
}

func (m *Merchant) pickCard(r *R) int32 {
	if len(m.Regulars.idx) > 0 && r.Float64() < m.Regular {
		return m.Regulars.pick(r)
	}
	return m.City.pool.pick(r, m.District, r.Float64() < m.Credit)
}

// same-day repeat visits by one card are rare except at convenience-type shops
func repeatP(c *Cat) float64 {
	switch c.Key {
	case "convenience", "fastfood", "bakery", "market_stall", "supermarket", "cinema":
		return 0.35
	case "restaurant", "pharmacy", "fuel", "hospital", "wholesaler":
		return 0.12
	}
	return 0.06
}

func (g *Gen) honestTxn(m *Merchant, r *R, d int, seen map[int32]uint8) {
	t := m.sampleTime(r, d)
	b := m.pickBind(r, t)
	if b == nil {
		return
	}
	card := m.pickCard(r)
	for k := 0; k < 8; k++ {
		c := seen[card]
		if c == 0 || (c == 1 && r.Float64() < repeatP(m.Cat)) || r.Float64() < 0.01 {
			break
		}
		card = m.pickCard(r)
	}
	seen[card]++
	switch m.Cat.Key {
	case "fuel":
		if r.Float64() < 0.08 {
			pre := []int64{50000, 80000, 100000}[r.IntN(3)]
			fill := int64(math.Round(lognorm(r, 250, 0.35) * 100))
			if fill > pre {
				fill = pre - int64(r.IntN(5000))
			}
			mcc := m.mccAt(r, t)
			if g.maybeDecline(m, r, b, t, card, TT_PREAUTH, pre, mcc) {
				return
			}
			g.emit(m, r, b, t, card, TT_PREAUTH, pre, mcc, EM_CHIP, "00", false)
			g.emit(m, r, b, t+int64(120+r.IntN(420))*1000+r.Int64N(1000), card, TT_COMPLETION, fill, mcc, EM_CHIP, "00", false)
			return
		}
	case "car_dealer":
		if r.Float64() < 0.2 {
			g.bigSplit(m, r, b, t, card)
			return
		}
	}
	amt := g.amount(m, r, d)
	g.purchase(m, r, b, t, card, amt)
}

// a legitimate large payment split over 50,000 CNY swipes (card-present single-swipe limit)
func (g *Gen) bigSplit(m *Merchant, r *R, b *Binding, t int64, card int32) {
	total := int64(math.Round(lognorm(r, 90000, 0.5)/1000)) * 1000
	if total < 30000 {
		total = 30000
	}
	mcc := m.mccAt(r, t)
	for total > 0 && t < dayStart(NDays) {
		a := int64(50000)
		if total < a {
			a = total
		}
		if r.Float64() < 0.12 {
			g.emit(m, r, b, t, card, TT_PURCHASE, a*100, mcc, EM_CHIP, "61", false)
			card = m.City.pool.pick(r, m.District, true)
			t += int64(60+r.IntN(240)) * 1000
			continue
		}
		g.emit(m, r, b, t, card, TT_PURCHASE, a*100, mcc, EM_CHIP, "00", false)
		total -= a
		t += int64(90+r.IntN(300)) * 1000
		if r.Float64() < 0.5 {
			card = m.City.pool.pick(r, m.District, r.Float64() < 0.8)
		}
	}
}

func (g *Gen) maybeDecline(m *Merchant, r *R, b *Binding, t int64, card int32, typ uint8, amt int64, mcc string) bool {
	p := m.Cat.Decline
	if amt > 500000 {
		p *= 1.7
	}
	if allCards[card].Type == CT_PREPAID {
		p *= 2.5
	}
	if r.Float64() >= p {
		return false
	}
	code := declineCodes[pickW(r, declineW)]
	g.emit(m, r, b, t, card, typ, amt, mcc, entryMode(r, amt, card), code, false)
	return true
}

func (g *Gen) purchase(m *Merchant, r *R, b *Binding, t int64, card int32, amt int64) {
	mcc := m.mccAt(r, t)
	if g.maybeDecline(m, r, b, t, card, TT_PURCHASE, amt, mcc) {
		if r.Float64() > 0.55 {
			return
		}
		t += int64(20+r.IntN(160))*1000 + r.Int64N(1000)
		if r.Float64() < 0.65 {
			card = m.pickCard(r) // another card of the family / wallet
		}
		if r.Float64() < 0.1 {
			g.emit(m, r, b, t, card, TT_PURCHASE, amt, mcc, entryMode(r, amt, card), "51", false)
			return
		}
	}
	g.emit(m, r, b, t, card, TT_PURCHASE, amt, mcc, entryMode(r, amt, card), "00", false)
	if r.Float64() < 0.0015 {
		g.emit(m, r, b, t+int64(5+r.IntN(110))*1000+r.Int64N(1000), card, TT_REVERSAL, amt, mcc, EM_UNKNOWN, "00", false)
		return
	}
	if r.Float64() < m.Cat.Refund {
		d2 := int((t-startMs)/DayMs) + r.IntN(8)
		if d2 < NDays {
			t2 := m.sampleTime(r, d2)
			if t2 > t+HourMs {
				ra := amt
				if r.Float64() < 0.3 {
					ra = amt * int64(20+r.IntN(70)) / 100
				}
				if b2 := m.pickBind(r, t2); b2 != nil {
					g.emit(m, r, b2, t2, card, TT_REFUND, ra, m.mccAt(r, t2), EM_CHIP, "00", false)
				}
			}
		}
	}
}

func (g *Gen) hotelDay(m *Merchant, r *R, d int, stays float64) {
	n := poisson(r, stays)
	for i := 0; i < n; i++ {
		nights := 1
		for nights < 7 && r.Float64() < 0.42 {
			nights++
		}
		rate := math.Round(lognorm(r, m.AmtMed, 0.35))
		total := int64(rate) * int64(nights) * 100
		if r.Float64() < 0.3 {
			total += int64(math.Round(lognorm(r, 60, 0.8) * 100)) // minibar, laundry, restaurant
		}
		// check-in afternoon/evening, late arrivals after midnight
		h := 14 + r.IntN(10)
		if r.Float64() < 0.12 {
			h = 24 + r.IntN(2)
		}
		tin := dayStart(d) + int64(h)*HourMs + r.Int64N(HourMs)
		tout := dayStart(d+nights) + int64(7+r.IntN(6))*HourMs + r.Int64N(HourMs)
		card := m.pickCard(r)
		mcc := m.mccAt(r, tin)
		b := m.pickBind(r, tin)
		if b == nil {
			continue
		}
		if r.Float64() < 0.58 {
			var pre int64
			if r.Float64() < 0.4 {
				pre = []int64{50000, 100000, 100000, 200000}[r.IntN(4)]
			} else {
				pre = int64(math.Ceil(float64(total)*1.5/10000)) * 10000
			}
			if pre < total {
				pre = int64(math.Ceil(float64(total)/10000)) * 10000
			}
			if g.maybeDecline(m, r, b, tin, card, TT_PREAUTH, pre, mcc) {
				card = m.pickCard(r)
				tin += 60000
			}
			g.emit(m, r, b, tin, card, TT_PREAUTH, pre, mcc, entryMode(r, pre, card), "00", false)
			if r.Float64() < 0.95 {
				em := uint8(EM_MANUAL)
				if r.Float64() < 0.4 {
					em = EM_CHIP
				}
				g.emit(m, r, b, tout, card, TT_COMPLETION, total, mcc, em, "00", false)
			}
		} else {
			g.purchase(m, r, b, tout, card, total)
		}
	}
}

var gFracRand = 0

// ---------- honest amounts ----------

func nicePrice(r *R, x, unit float64, exactP float64) float64 {
	if unit == 0 {
		switch {
		case x < 50:
			unit = 1
		case x < 500:
			unit = 10
		case x < 5000:
			unit = 100
		default:
			unit = 1000
		}
	}
	n := math.Round(x/unit) * unit
	if n <= 0 {
		n = unit
	}
	u := r.Float64()
	switch {
	case u < exactP || unit < 10:
		return n
	case u < exactP+(1-exactP)*0.55:
		return n - 1 // 299, 1999
	default:
		if unit >= 100 {
			return n - unit/10*2 // 980, 4800 -> 4,800-200
		}
		return n - 2 // 298, 168
	}
}

func (g *Gen) genericAmount(m *Merchant, r *R, med float64) int64 {
	c := m.Cat
	x := lognorm(r, med, c.SigAmt)
	if x < c.MinAmt {
		x = c.MinAmt * (1 + r.Float64())
	}
	if x > c.MaxAmt {
		x = c.MaxAmt * (0.6 + 0.4*r.Float64())
	}
	if r.Float64() < c.WholeP {
		y := math.Round(x)
		if r.Float64() < c.NiceP {
			ex := 0.45
			if c.Unit >= 50 {
				ex = 0.85
			}
			y = nicePrice(r, x, c.Unit, ex)
		}
		if y < 1 {
			y = 1
		}
		return int64(y) * 100
	}
	var f int64
	if r.Float64() < c.JiaoP {
		f = int64(math.Round(x*10)) * 10
	} else {
		f = int64(math.Round(x * 100))
	}
	if f%100 == 0 {
		f += int64(10 * (1 + r.IntN(9)))
	}
	return f
}

func (g *Gen) amount(m *Merchant, r *R, d int) int64 {
	c := m.Cat
	med := m.AmtMed
	di := days[d]
	switch c.Key {
	case "hospital":
		if r.Float64() < 0.07 {
			return []int64{1000, 2000, 3000, 5000, 5000, 10000, 20000}[r.IntN(7)] * 100
		}
	case "car_dealer":
		u := r.Float64()
		if u < 0.45 {
			return []int64{2000, 3000, 5000, 5000, 10000, 10000, 20000, 30000}[r.IntN(8)] * 100
		}
		// after-sales service, accessories, insurance
		x := lognorm(r, 1100, 0.9)
		if r.Float64() < 0.6 {
			return int64(math.Round(x)) * 100
		}
		return int64(math.Round(x * 100))
	case "jeweller":
		if r.Float64() < 0.55 {
			grams := math.Round(lognorm(r, 6, 0.8)*100) / 100
			ppg := 1040 + 30*math.Sin(float64(d)/5) + float64(m.Idx%40)
			v := grams * ppg
			if r.Float64() < 0.3 {
				return int64(math.Round(v)) * 100
			}
			return int64(math.Round(v * 100))
		}
	case "school":
		if r.Float64() < 0.5 {
			return []int64{3800, 4500, 6800, 12800, 500, 1200, 2400, 1600}[r.IntN(8)] * 100
		}
	case "telecom":
		if r.Float64() < 0.7 {
			return []int64{50, 100, 100, 100, 200, 300, 500}[r.IntN(7)] * 100
		}
		return int64(nicePrice(r, lognorm(r, 2500, 0.6), 100, 0.2)) * 100
	case "bakery":
		if di.MoonPeak > 0 && r.Float64() < 0.35 {
			return []int64{128, 168, 198, 268, 388, 588}[r.IntN(6)] * 100 * int64(1+r.IntN(3))
		}
	case "liquor", "jeweller2":
		if di.PreGift {
			med *= 1.6
		}
	case "wholesaler":
		if r.Float64() < 0.15 {
			// a repeat buyer settling a running account in whole thousands
			return int64(math.Round(lognorm(r, 12, 0.6))) * 100000
		}
	}
	return g.genericAmount(m, r, med)
}
