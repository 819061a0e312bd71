package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

const (
	DayMs  = int64(86400000)
	HourMs = int64(3600000)
	NDays  = 30
)

var loc = time.FixedZone("UTC+8", 8*3600)

// Start of the first measured local day: Monday 2026-09-14 00:00 +08:00.
var startDate = time.Date(2026, 9, 14, 0, 0, 0, 0, loc)
var startMs = startDate.UnixMilli()

func dayStart(d int) int64 { return startMs + int64(d)*DayMs }

// ---------- random helpers ----------

type R = rand.Rand

func newRng(seed uint64, stream uint64) *R {
	return rand.New(rand.NewPCG(seed, stream*0x9E3779B97F4A7C15+1))
}

func lognorm(r *R, med, sig float64) float64 { return med * math.Exp(sig*r.NormFloat64()) }

func poisson(r *R, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 40 {
		v := int(math.Round(mean + math.Sqrt(mean)*r.NormFloat64()))
		if v < 0 {
			v = 0
		}
		return v
	}
	L := math.Exp(-mean)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p < L {
			return k
		}
		k++
	}
}

func clamp(x, a, b float64) float64 { return math.Max(a, math.Min(b, x)) }

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

func pickW(r *R, w []float64) int {
	s := 0.0
	for _, x := range w {
		s += x
	}
	u := r.Float64() * s
	for i, x := range w {
		u -= x
		if u < 0 {
			return i
		}
	}
	return len(w) - 1
}

func offsetKm(lat, lon, dxKm, dyKm float64) (float64, float64) {
	return lat + dyKm/111.32, lon + dxKm/(111.32*math.Cos(lat*math.Pi/180))
}

func distKm(lat1, lon1, lat2, lon2 float64) float64 {
	const R = 6371.0
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * R * math.Asin(math.Sqrt(a))
}

// ---------- calendar ----------

type DayInfo struct {
	Dow      time.Weekday
	DOM      int
	Weekend  bool   // non-working weekend day
	Holiday  string // "", "midautumn", "national"
	PreGift  bool   // gift-buying days before a holiday
	MoonPeak float64
}

var days [NDays]DayInfo

func initCalendar() {
	for d := 0; d < NDays; d++ {
		t := startDate.AddDate(0, 0, d)
		di := DayInfo{Dow: t.Weekday(), DOM: t.Day()}
		m, dd := t.Month(), t.Day()
		di.Weekend = di.Dow == time.Saturday || di.Dow == time.Sunday
		if (m == 9 && dd == 20) || (m == 10 && dd == 10) { // make-up working days
			di.Weekend = false
		}
		if m == 9 && dd >= 25 && dd <= 27 {
			di.Holiday = "midautumn"
		}
		if m == 10 && dd <= 7 {
			di.Holiday = "national"
		}
		if m == 9 && ((dd >= 21 && dd <= 24) || (dd >= 28 && dd <= 30)) {
			di.PreGift = true
		}
		if m == 9 && dd >= 17 && dd <= 25 {
			di.MoonPeak = 1 + 2.2*float64(dd-16)/9
		}
		days[d] = di
	}
}

// ---------- cards ----------

const (
	CT_CREDIT = iota
	CT_DEBIT
	CT_PREPAID
	CT_UNKNOWN
)

var cardTypeName = []string{"CREDIT", "DEBIT", "PREPAID", "UNKNOWN"}

type Card struct {
	Token    string
	BIN      string // "" = null
	Type     uint8
	W        float64
	Stmt     uint8
	District uint8
	City     uint8
}

var allCards []Card

func newToken(seed uint64, n uint64) string {
	h1 := splitmix(seed*0x1000003 ^ n ^ 0xC0FFEE)
	h2 := splitmix(h1 ^ n)
	return fmt.Sprintf("k%016x%08x", h1, uint32(h2))
}

type sub struct {
	idx []int32
	cum []float64
}

func (s *sub) add(i int32, w float64) {
	last := 0.0
	if len(s.cum) > 0 {
		last = s.cum[len(s.cum)-1]
	}
	s.idx = append(s.idx, i)
	s.cum = append(s.cum, last+w)
}

func (s *sub) pick(r *R) int32 {
	if len(s.idx) == 0 {
		return -1
	}
	u := r.Float64() * s.cum[len(s.cum)-1]
	j := sort.SearchFloat64s(s.cum, u)
	if j >= len(s.idx) {
		j = len(s.idx) - 1
	}
	return s.idx[j]
}

type CardPool struct {
	// [0] city-wide, [k+1] district k ; [credit=0 / other=1]
	subs [][2]sub
}

func (p *CardPool) pick(r *R, district int, credit bool) int32 {
	k := 0
	if r.Float64() < 0.55 {
		k = district + 1
	}
	t := 1
	if credit {
		t = 0
	}
	c := p.subs[k][t].pick(r)
	if c < 0 {
		c = p.subs[0][t].pick(r)
	}
	return c
}

func buildPool(r *R, seed uint64, ci int, c *City, n int) {
	iss := append(append([]Issuer{}, national...), c.Local...)
	ws := make([]float64, len(iss))
	for i := range iss {
		ws[i] = iss[i].W
	}
	nd := len(c.Districts)
	p := &CardPool{subs: make([][2]sub, nd+1)}
	for i := 0; i < n; i++ {
		is := iss[pickW(r, ws)]
		cd := Card{W: math.Exp(0.75 * r.NormFloat64()), Stmt: uint8(1 + r.IntN(28)), District: uint8(r.IntN(nd)), City: uint8(ci)}
		u := r.Float64()
		switch {
		case u < 0.003:
			cd.Type = CT_UNKNOWN // foreign / unidentified cards, BIN not shared
		case u < 0.013:
			cd.Type = CT_PREPAID
			cd.BIN = []string{"623062", "620058", "621083"}[r.IntN(3)]
		case r.Float64() < clamp(is.CreditFrac+c.CreditAdj, 0.03, 0.8):
			cd.Type = CT_CREDIT
			cd.W *= 1.35 // credit cards are used more at POS
			cd.BIN = is.Credit[biasedIdx(r, len(is.Credit))]
		default:
			cd.Type = CT_DEBIT
			cd.BIN = is.Debit[biasedIdx(r, len(is.Debit))]
		}
		idx := int32(len(allCards))
		cd.Token = newToken(seed, uint64(idx))
		allCards = append(allCards, cd)
		t := 1
		if cd.Type == CT_CREDIT {
			t = 0
		}
		p.subs[0][t].add(idx, cd.W)
		p.subs[int(cd.District)+1][t].add(idx, cd.W)
	}
	c.pool = p
}

func biasedIdx(r *R, n int) int {
	// first BIN of an issuer most common
	for i := 0; i < n-1; i++ {
		if r.Float64() < 0.55 {
			return i
		}
	}
	return n - 1
}

// card created outside the city population (farm cards, tested dumps)
func extraCard(seed uint64, bin string, typ uint8, ci int) int32 {
	idx := int32(len(allCards))
	allCards = append(allCards, Card{Token: newToken(seed, uint64(idx)), BIN: bin, Type: typ, W: 1, City: uint8(ci)})
	return idx
}

// ---------- merchants ----------

type AddrChange struct {
	T        int64
	Lat, Lon float64
}

type Terminal struct {
	ID      string
	LocMode int // 0 none, 1 gps, 2 cell
	Noise   float64
}

type Binding struct {
	T           *Terminal
	From, Until int64
	W           float64
	Reloc       bool
	RelocT      int64
	RelocLat    float64
	RelocLon    float64
	BorrowShare float64 // >0 for a terminal used without being bound (lent)
	IsBorrowed  bool
}

type Merchant struct {
	Idx       int
	ID        string
	Acq       string
	City      *City
	CityIdx   int
	District  int
	Cat       *Cat
	Label     string
	Scenario  string
	Tactics   []string
	Design    []string
	Expected  []string
	Name      string
	Lat, Lon  float64
	Addr      []AddrChange
	RegMCC    string
	MCCChT    int64
	NewMCC    string
	SubMCC    string
	SubShare  float64
	SubFrom   int64
	OnboardT  int64
	OpenDay   float64
	CloseDay  int
	Base      float64
	RampDays  float64
	Credit    float64
	Regular   float64
	AmtMed    float64
	HoursCum  [24]float64
	ClosedDow int
	Mobile    bool
	Binds     []*Binding
	Regulars  sub
	Account   string
	F         *FraudSpec
	HonestVol [NDays]float64
	Preset    string // preset city name
}

func (m *Merchant) addrAt(t int64) (float64, float64) {
	lat, lon := m.Lat, m.Lon
	for _, a := range m.Addr {
		if t >= a.T {
			lat, lon = a.Lat, a.Lon
		}
	}
	return lat, lon
}

func (m *Merchant) mccAt(r *R, t int64) string {
	mcc := m.RegMCC
	if m.NewMCC != "" && t >= m.MCCChT {
		mcc = m.NewMCC
	}
	if m.SubMCC != "" && t >= m.SubFrom && r.Float64() < m.SubShare {
		mcc = m.SubMCC
	}
	return mcc
}

func buildHours(r *R, prof string, shift int) [24]float64 {
	var w [24]float64
	for _, s := range profiles[prof] {
		for h := s.from; h < s.to; h++ {
			w[(h+shift+48)%24] += s.w
		}
	}
	var cum [24]float64
	acc := 0.0
	for h := 0; h < 24; h++ {
		if w[h] > 0 {
			acc += w[h] * math.Exp(0.15*r.NormFloat64())
		}
		cum[h] = acc
	}
	return cum
}

func (m *Merchant) sampleTime(r *R, d int) int64 {
	tot := m.HoursCum[23]
	u := r.Float64() * tot
	h := 0
	for h < 23 && m.HoursCum[h] <= u {
		h++
	}
	return dayStart(d) + int64(h)*HourMs + r.Int64N(HourMs)
}

// terminal for a transaction at time t (owner's bindings only, plus borrowed)
func (m *Merchant) pickBind(r *R, t int64) *Binding {
	var tot float64
	for _, b := range m.Binds {
		if !b.IsBorrowed && t >= b.From && t < b.Until {
			tot += b.W
		}
	}
	for _, b := range m.Binds {
		if b.IsBorrowed && t >= b.From && t < b.Until && r.Float64() < b.BorrowShare {
			return b
		}
	}
	if tot == 0 {
		return nil
	}
	u := r.Float64() * tot
	var last *Binding
	for _, b := range m.Binds {
		if !b.IsBorrowed && t >= b.From && t < b.Until {
			last = b
			u -= b.W
			if u < 0 {
				return b
			}
		}
	}
	return last
}

func (m *Merchant) position(r *R, b *Binding, t int64) (float64, float64, bool) {
	tm := b.T
	if tm.LocMode == 0 {
		return 0, 0, false
	}
	lat, lon := m.addrAt(t)
	if b.Reloc && t >= b.RelocT {
		lat, lon = b.RelocLat, b.RelocLon
	}
	if m.Mobile {
		// today's pitch / delivery area: deterministic per merchant-day
		d := (t - startMs) / DayMs
		h := splitmix(uint64(m.Idx)*1000003 + uint64(d+1000))
		ang := float64(h%6283) / 1000
		u := float64((h>>16)%10000) / 10000
		var dist float64
		switch {
		case u < 0.25:
			dist = 0.2
		case u < 0.75:
			dist = 0.5 + 4.5*(u-0.25)/0.5 // 0.5..5 km
		case u < 0.96:
			dist = 5 + 4*(u-0.75)/0.21 // 5..9 km
		default:
			dist = 9 + 5*(u-0.96)/0.04 // across town, 9..14 km
		}
		lat, lon = offsetKm(lat, lon, dist*math.Cos(ang), dist*math.Sin(ang))
		lat, lon = offsetKm(lat, lon, r.NormFloat64()*0.4, r.NormFloat64()*0.4)
	}
	ns := tm.Noise
	if r.Float64() < 0.012 {
		if tm.LocMode == 1 {
			ns *= 8 // multipath / stale fix
		} else {
			ns *= 2.5
		}
	}
	if tm.LocMode == 2 && r.Float64() < 0.00002 {
		ns = 8 // wrong cell-tower database entry
	}
	lat, lon = offsetKm(lat, lon, r.NormFloat64()*ns, r.NormFloat64()*ns)
	return math.Round(lat*1e6) / 1e6, math.Round(lon*1e6) / 1e6, true
}

// ---------- events ----------

const (
	TT_PURCHASE = iota
	TT_REFUND
	TT_REVERSAL
	TT_PREAUTH
	TT_COMPLETION
)

var txnTypeName = []string{"PURCHASE", "REFUND", "REVERSAL", "PREAUTH", "PREAUTH_COMPLETION"}

const (
	EM_CHIP = iota
	EM_CONTACTLESS
	EM_MAGSTRIPE
	EM_MANUAL
	EM_QR
	EM_UNKNOWN
)

var entryName = []string{"CHIP", "CONTACTLESS", "MAGSTRIPE", "MANUAL", "QR", "UNKNOWN"}

var respCodes = []string{"00", "51", "05", "55", "61", "54", "91", "96", "14", "41", "43", "57", "65"}

func respIdx(code string) uint8 {
	for i, c := range respCodes {
		if c == code {
			return uint8(i)
		}
	}
	panic(code)
}

type Txn struct {
	T        int64
	Seq      int64
	Lat, Lon float64
	Amt      int64
	M        int32
	Card     int32
	Term     *Terminal
	MCC      string
	Type     uint8
	Entry    uint8
	Resp     uint8
	HasLoc   bool
	Fict     bool // fictitious / attack traffic (for stats only)
}

type MEvent struct {
	T        int64
	Seq      int64
	M        int
	Term     string
	Kind     string
	MCC      string
	Name     string
	HasLoc   bool
	Lat, Lon float64
	Account  string
}
