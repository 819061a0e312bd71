package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
)

type MStat struct {
	n, appr, decl          int
	amt, credit            float64
	whole                  int
	ge1000, round1000      int
	whole1000              int
	ge5000, near           int
	struct_                int
	night                  float64
	days                   [NDays]float64
	attempts, declD        [NDays]int
	maxSameDay, maxSameAmt int
	gapN, gapIn            int
	reloc, mism            int
	binVol                 map[string]float64
	cards                  map[int32]bool
	monthsVol              map[int32]*[2]float64
	activeDays             map[int]bool
	pairDays               int
}

func (g *Gen) computeStats() []*MStat {
	st := make([]*MStat, len(g.Ms))
	for i := range st {
		st[i] = &MStat{binVol: map[string]float64{}, cards: map[int32]bool{}, monthsVol: map[int32]*[2]float64{}, activeDays: map[int]bool{}}
	}
	type key struct {
		m    int32
		term *Terminal
		card int32
		d    int
	}
	perDay := map[key][]int{}
	for i := range g.Txns {
		t := &g.Txns[i]
		s := st[t.M]
		m := g.Ms[t.M]
		d := int((t.T - startMs) / DayMs)
		s.n++
		s.activeDays[d] = true
		if t.HasLoc {
			la, lo := m.addrAt(t.T)
			if distKm(la, lo, t.Lat, t.Lon) > 10 {
				s.reloc++
			}
		}
		reg := m.RegMCC
		if m.NewMCC != "" && t.T >= m.MCCChT {
			reg = m.NewMCC
		}
		if t.MCC != reg {
			s.mism++
		}
		if t.Type == TT_PURCHASE || t.Type == TT_PREAUTH {
			s.attempts[d]++
			if t.Resp != 0 {
				s.declD[d]++
			}
		}
		if t.Resp != 0 {
			s.decl++
			continue
		}
		if t.Type != TT_PURCHASE && t.Type != TT_COMPLETION {
			continue
		}
		s.appr++
		a := float64(t.Amt) / 100
		s.amt += a
		c := &allCards[t.Card]
		if c.Type == CT_CREDIT {
			s.credit += a
		}
		if t.Amt%100 == 0 {
			s.whole++
		}
		if a >= 1000 {
			s.ge1000++
			if t.Amt%100000 == 0 {
				s.round1000++
			}
			if t.Amt%100 == 0 {
				s.whole1000++
			}
			if a >= 45000 && a < 50000 {
				s.struct_++
			}
		}
		if a >= 5000 {
			s.ge5000++
			r := math.Round(a/1000) * 1000
			if t.Amt%100000 != 0 && math.Abs(a-r) <= 0.02*r {
				s.near++
			}
		}
		lh := (t.T - startMs) % DayMs / HourMs
		if lh < 5 {
			s.night += a
		}
		s.days[d] += a
		s.binVol[c.BIN] += a
		s.cards[t.Card] = true
		mv := s.monthsVol[t.Card]
		if mv == nil {
			mv = &[2]float64{}
			s.monthsVol[t.Card] = mv
		}
		mv[monthIdx(d)] += a
		k := key{t.M, t.Term, t.Card, d}
		perDay[k] = append(perDay[k], i)
	}
	// per card/terminal/day: counts, same amounts, gaps
	type cm struct {
		m    int32
		card int32
	}
	pairDaysBy := map[cm]int{}
	for k, idx := range perDay {
		s := st[k.m]
		if len(idx) > s.maxSameDay {
			s.maxSameDay = len(idx)
		}
		am := map[int64]int{}
		for _, i := range idx {
			am[g.Txns[i].Amt]++
			if am[g.Txns[i].Amt] > s.maxSameAmt {
				s.maxSameAmt = am[g.Txns[i].Amt]
			}
		}
		if len(idx) >= 2 {
			pairDaysBy[cm{k.m, k.card}]++
			sort.Ints(idx)
			for j := 1; j < len(idx); j++ {
				gap := float64(g.Txns[idx[j]].T-g.Txns[idx[j-1]].T) / 60000
				s.gapN++
				if gap >= 5 && gap <= 10 {
					s.gapIn++
				}
			}
		}
	}
	for k, v := range pairDaysBy {
		if v >= 2 {
			st[k.m].pairDays++
		}
	}
	return st
}

func (s *MStat) creditShare() float64 {
	if s.amt == 0 {
		return 0
	}
	return s.credit / s.amt
}

// rules of the catalogue whose start thresholds the merchant's own transactions exceed
func (g *Gen) revealed(m *Merchant, s *MStat, p Peer) map[string]bool {
	peerWhole, peerTicket := p.whole, p.ticket
	out := map[string]bool{}
	if s.appr >= 20 && s.creditShare() > 0.8 {
		out["credit_debit_mix"] = true
	}
	if (s.ge1000 >= 10 && float64(s.round1000)/float64(s.ge1000) > 0.3) ||
		(s.appr >= 30 && float64(s.whole)/float64(s.appr) > peerWhole[m.Cat.Key]+0.25) ||
		(s.ge1000 >= 10 && float64(s.whole1000)/float64(s.ge1000) > 0.9 && p.whole1000[m.Cat.Key] < 0.6) {
		out["round_amount"] = true
	}
	if s.ge5000 >= 10 && float64(s.near)/float64(s.ge5000) > 0.4 {
		out["near_round_amount"] = true
	}
	bandDays := 0
	over := false
	for _, v := range s.days {
		if v >= 270000 && v < 300000 {
			bandDays++
		}
		if v > 300000 {
			over = true
		}
	}
	if (s.ge1000 >= 10 && float64(s.struct_)/float64(s.ge1000) > 0.3) || bandDays >= 3 {
		out["structuring"] = true
	}
	if over {
		out["daily_volume"] = true
	}
	if s.maxSameDay > 2 || s.maxSameAmt >= 3 {
		out["repeated_card"] = true
	}
	if s.pairDays >= 3 {
		out["repeated_card(pairs)"] = true
	}
	if s.gapN >= 10 && float64(s.gapIn)/float64(s.gapN) > 0.5 {
		out["swipe_gap"] = true
	}
	for d := 0; d < NDays; d++ {
		if s.attempts[d] >= 20 && float64(s.declD[d])/float64(s.attempts[d]) > 0.3 {
			out["decline_ratio"] = true
		}
	}
	if s.appr >= 20 && s.night/s.amt > 0.3 {
		out["night_share"] = true
	}
	if s.reloc > 0 {
		out["relocation"] = true
	}
	if s.mism > 0 {
		out["mcc_mismatch"] = true
	}
	if len(s.cards) >= 10 {
		for _, v := range s.binVol {
			if v/s.amt > 0.5 {
				out["bin_concentration"] = true
			}
		}
	}
	if s.appr >= 20 && s.amt/float64(s.appr) > 5*peerTicket[m.Cat.Key] {
		out["high_ticket"] = true
	}
	if s.appr >= 20 {
		rec := 0.0
		for _, mv := range s.monthsVol {
			if mv[0] > 0 && mv[1] > 0 {
				rec += mv[0] + mv[1]
			}
		}
		if rec/s.amt > 0.5 {
			out["card_recurrence"] = true
		}
	}
	return out
}

var tacticRules = map[string][]string{
	"near_round": {"near_round_amount"}, "whole_units": {"round_amount"}, "credit_mix": {"credit_debit_mix"},
	"card_pairs": {"repeated_card", "swipe_gap"}, "card_cycle": {"card_recurrence"}, "ring": {"card_spread", "card_recurrence"},
	"naive": {"round_amount", "repeated_card", "daily_volume"}, "bust_out": {"new_merchant_ramp"}, "structuring": {"structuring"},
	"card_testing": {"decline_ratio"}, "mcc_mismatch": {"mcc_mismatch"}, "relocation": {"relocation"},
}

var checkable = map[string]bool{"credit_debit_mix": true, "round_amount": true, "near_round_amount": true, "structuring": true, "daily_volume": true,
	"repeated_card": true, "swipe_gap": true, "decline_ratio": true, "night_share": true, "relocation": true, "mcc_mismatch": true,
	"bin_concentration": true, "high_ticket": true, "card_recurrence": true, "repeated_card(pairs)": true}

var fraudRules = []string{"credit_debit_mix", "repeated_card", "swipe_gap", "card_recurrence", "card_spread", "round_amount", "near_round_amount",
	"structuring", "daily_volume", "high_ticket", "night_share", "new_merchant_ramp", "decline_ratio", "bin_concentration", "mcc_mismatch"}
var complianceRules = []string{"relocation", "mcc_mismatch", "settlement_churn", "terminal_sharing"}

type Peer struct{ whole, ticket, whole1000 map[string]float64 }

func (g *Gen) peers(st []*MStat) Peer {
	p := Peer{map[string]float64{}, map[string]float64{}, map[string]float64{}}
	w1 := map[string][2]float64{}
	for i, m := range g.Ms {
		if m.Label == "legit" || m.Label == "lookalike" {
			x := w1[m.Cat.Key]
			x[0] += float64(st[i].whole1000)
			x[1] += float64(st[i].ge1000)
			w1[m.Cat.Key] = x
		}
	}
	for k, x := range w1 {
		if x[1] >= 30 {
			p.whole1000[k] = x[0] / x[1]
		} else {
			p.whole1000[k] = 1
		}
	}
	wl := map[string][]float64{}
	tl := map[string][]float64{}
	for i, m := range g.Ms {
		s := st[i]
		if m.Label == "legit" && s.appr >= 20 {
			wl[m.Cat.Key] = append(wl[m.Cat.Key], float64(s.whole)/float64(s.appr))
			tl[m.Cat.Key] = append(tl[m.Cat.Key], s.amt/float64(s.appr))
		}
	}
	for k, v := range wl {
		p.whole[k] = median(v)
		p.ticket[k] = median(tl[k])
	}
	for _, c := range cats {
		if _, ok := p.whole[c.Key]; !ok {
			p.whole[c.Key] = c.WholeP
			p.ticket[c.Key] = c.MedAmt * 1.3
		}
	}
	return p
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64{}, v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func quant(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64{}, v...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}

func (g *Gen) setExpected(st []*MStat, p Peer) map[string]int {
	dropped := map[string]int{}
	for i, m := range g.Ms {
		if m.Label == "legit" || m.Label == "lookalike" {
			m.Expected = []string{}
			continue
		}
		design := map[string]bool{}
		for _, t := range m.Tactics {
			for _, r := range tacticRules[t] {
				design[r] = true
			}
		}
		for _, r := range m.Design {
			design[r] = true
		}
		rev := g.revealed(m, st[i], p)
		allowed := fraudRules
		if m.Label == "compliance" {
			allowed = complianceRules
		}
		var exp []string
		for _, r := range allowed {
			if r == "repeated_card" && rev["repeated_card(pairs)"] {
				rev[r] = true
			}
			if checkable[r] {
				if rev[r] && (design[r] || m.Label == "fraud") {
					exp = append(exp, r)
				} else if design[r] {
					dropped[m.Scenario+":"+r]++
				}
			} else if design[r] {
				exp = append(exp, r)
			}
		}
		if exp == nil {
			exp = []string{}
		}
		m.Expected = exp
	}
	return dropped
}

// ---------- verification of the written file ----------

var tokenRe = regexp.MustCompile(`^[0-9]{13,19}$`)
var mccRe = regexp.MustCompile(`^[0-9]{4}$`)
var acqRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (g *Gen) verify(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	txFields := []string{"txn_id", "event_time", "acquirer_id", "merchant_id", "terminal_id", "card_token", "card_bin", "card_type", "txn_type", "amount_minor", "currency", "mcc", "entry_mode", "response_code", "latitude", "longitude"}
	meFields := []string{"event_id", "event_time", "acquirer_id", "merchant_id", "terminal_id", "kind", "registered_mcc", "merchant_name", "latitude", "longitude", "settlement_account_token"}
	ids := map[string]bool{}
	var last int64 = math.MinInt64
	lines, ntx, nme := 0, 0, 0
	onboarded := map[string]bool{}
	bound := map[[2]string]bool{}
	unboundUse, earlyTx := 0, 0
	txMerch := map[string]bool{}
	evMerch := map[string]bool{}
	for sc.Scan() {
		lines++
		var env struct {
			Topic string                     `json:"topic"`
			Value map[string]json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			return "", fmt.Errorf("line %d: %v", lines, err)
		}
		v := env.Value
		var want []string
		switch env.Topic {
		case "transactions":
			want = txFields
			ntx++
		case "merchantEvents":
			want = meFields
			nme++
		default:
			return "", fmt.Errorf("line %d: topic %q", lines, env.Topic)
		}
		if len(v) != len(want) {
			return "", fmt.Errorf("line %d: %d fields", lines, len(v))
		}
		for _, k := range want {
			if _, ok := v[k]; !ok {
				return "", fmt.Errorf("line %d: missing %s", lines, k)
			}
		}
		var et int64
		json.Unmarshal(v["event_time"], &et)
		if et < last {
			return "", fmt.Errorf("line %d: not sorted", lines)
		}
		last = et
		var acq, mid string
		json.Unmarshal(v["acquirer_id"], &acq)
		json.Unmarshal(v["merchant_id"], &mid)
		if !acqRe.MatchString(acq) {
			return "", fmt.Errorf("line %d: acquirer", lines)
		}
		if env.Topic == "transactions" {
			var id, tok, cur, mcc, term, rc string
			var amt int64
			json.Unmarshal(v["txn_id"], &id)
			json.Unmarshal(v["card_token"], &tok)
			json.Unmarshal(v["currency"], &cur)
			json.Unmarshal(v["mcc"], &mcc)
			json.Unmarshal(v["amount_minor"], &amt)
			json.Unmarshal(v["terminal_id"], &term)
			json.Unmarshal(v["response_code"], &rc)
			if ids["t"+id] {
				return "", fmt.Errorf("dup txn id %s", id)
			}
			ids["t"+id] = true
			if tokenRe.MatchString(tok) || tok == "" {
				return "", fmt.Errorf("bad token")
			}
			if cur != "CNY" || !mccRe.MatchString(mcc) || amt <= 0 || rc == "" {
				return "", fmt.Errorf("line %d: bad txn values", lines)
			}
			if !onboarded[mid] {
				earlyTx++
			}
			if !bound[[2]string{mid, term}] {
				unboundUse++
			}
			txMerch[mid] = true
		} else {
			var id, kind, term string
			json.Unmarshal(v["event_id"], &id)
			json.Unmarshal(v["kind"], &kind)
			json.Unmarshal(v["terminal_id"], &term)
			if ids["e"+id] {
				return "", fmt.Errorf("dup event id %s", id)
			}
			ids["e"+id] = true
			switch kind {
			case "ONBOARDED":
				onboarded[mid] = true
				for _, k := range []string{"registered_mcc", "merchant_name", "latitude", "longitude", "settlement_account_token"} {
					if string(v[k]) == "null" {
						return "", fmt.Errorf("ONBOARDED missing %s", k)
					}
				}
			case "TERMINAL_BOUND":
				bound[[2]string{mid, term}] = true
				if !onboarded[mid] {
					return "", fmt.Errorf("bound before onboarded %s", mid)
				}
			}
			evMerch[mid] = true
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	missing := 0
	for _, m := range g.Ms {
		if !evMerch[m.ID] || !txMerch[m.ID] {
			missing++
		}
	}
	extra := 0
	lab := map[string]bool{}
	for _, m := range g.Ms {
		lab[m.ID] = true
	}
	for id := range evMerch {
		if !lab[id] {
			extra++
		}
	}
	for id := range txMerch {
		if !lab[id] {
			extra++
		}
	}
	rep := fmt.Sprintf("lines %d (transactions %d, merchant events %d); all parse; exact field sets; ids unique; event_time non-decreasing; "+
		"no card_token of 13-19 digits; merchants in labels without lifecycle+transaction events: %d; merchants with events but no label: %d; "+
		"transactions before ONBOARDED: %d; transactions on a terminal not bound to that merchant (expected only for the lent-terminal borrowers): %d",
		lines, ntx, nme, missing, extra, earlyTx, unboundUse)
	return rep, nil
}

// ---------- README statistics ----------

func (g *Gen) statsReport(st []*MStat) string {
	var b strings.Builder
	// per label/scenario
	type agg struct {
		m, tx, fict  int
		amt, fictAmt float64
	}
	ls := map[string]*agg{}
	var keys []string
	for i, m := range g.Ms {
		k := m.Label + " / " + m.Scenario
		if ls[k] == nil {
			ls[k] = &agg{}
			keys = append(keys, k)
		}
		ls[k].m++
		ls[k].tx += st[i].n
	}
	for _, t := range g.Txns {
		m := g.Ms[t.M]
		a := ls[m.Label+" / "+m.Scenario]
		ok := t.Resp == 0 && (t.Type == TT_PURCHASE || t.Type == TT_COMPLETION)
		if ok {
			a.amt += float64(t.Amt) / 100
		}
		if t.Fict {
			a.fict++
			if ok {
				a.fictAmt += float64(t.Amt) / 100
			}
		}
	}
	sort.Strings(keys)
	lab := map[string][2]int{}
	for _, k := range keys {
		l := strings.Split(k, " / ")[0]
		x := lab[l]
		x[0] += ls[k].m
		x[1] += ls[k].tx
		lab[l] = x
	}
	b.WriteString("### Counts per label\n\n| label | merchants | share | transactions |\n|---|---|---|---|\n")
	for _, l := range []string{"legit", "lookalike", "fraud", "compliance"} {
		b.WriteString(fmt.Sprintf("| %s | %d | %.1f%% | %d |\n", l, lab[l][0], 100*float64(lab[l][0])/float64(len(g.Ms)), lab[l][1]))
	}
	b.WriteString("\n### Counts per label / scenario\n\n| label / scenario | merchants | transactions | of which fictitious / attack | approved amount CNY | fictitious share of approved amount |\n|---|---|---|---|---|---|\n")
	for _, k := range keys {
		b.WriteString(fmt.Sprintf("| %s | %d | %d | %d | %.0f | %.1f%% |\n", k, ls[k].m, ls[k].tx, ls[k].fict, ls[k].amt, 100*ls[k].fictAmt/math.Max(ls[k].amt, 1)))
	}
	// per acquirer
	acqN := map[string][2]int{}
	for i, m := range g.Ms {
		x := acqN[m.Acq]
		x[0]++
		x[1] += st[i].n
		acqN[m.Acq] = x
	}
	b.WriteString("\n| acquirer | merchants | transactions |\n|---|---|---|\n")
	for _, a := range []string{"acq-west", "acq-east", "acq-south"} {
		b.WriteString(fmt.Sprintf("| %s | %d | %d |\n", a, acqN[a][0], acqN[a][1]))
	}
	// lifecycle kinds / txn types
	kinds := map[string]int{}
	for _, e := range g.Events {
		kinds[e.Kind]++
	}
	tt := map[string]int{}
	em := map[string]int{}
	declined := 0
	for _, t := range g.Txns {
		tt[txnTypeName[t.Type]]++
		em[entryName[t.Entry]]++
		if t.Resp != 0 {
			declined++
		}
	}
	b.WriteString("\nMerchant events by kind: ")
	for _, k := range []string{"ONBOARDED", "TERMINAL_BOUND", "TERMINAL_UNBOUND", "SETTLEMENT_ACCOUNT_CHANGED", "MCC_CHANGED", "ADDRESS_CHANGED", "CLOSED"} {
		b.WriteString(fmt.Sprintf("%s %d; ", k, kinds[k]))
	}
	b.WriteString("\n\nTransactions by type: ")
	for _, k := range txnTypeName {
		b.WriteString(fmt.Sprintf("%s %d; ", k, tt[k]))
	}
	b.WriteString(fmt.Sprintf("declined %d (%.2f%%). Entry modes: ", declined, 100*float64(declined)/float64(len(g.Txns))))
	for _, k := range entryName {
		b.WriteString(fmt.Sprintf("%s %d; ", k, em[k]))
	}
	// per category table (legit + lookalike)
	b.WriteString("\n\n### Sanity statistics by category (ordinary shops and look-alikes; honest traffic only)\n\n")
	b.WriteString("txns/day = transactions per merchant per active day (median / p90 / max over merchants); credit = credit share of approved amount (median over merchants, and pooled); whole = share of approved amounts in whole yuan (pooled); round≥1000 = share of approved amounts ≥ 1,000 CNY that are exact thousands; night = share of approved amount 00:00–05:00; decl = declined share of attempts.\n\n")
	b.WriteString("| category | MCC | label | merchants | txns/day med / p90 / max | median ticket CNY | credit med / pooled | whole | round≥1000 | night | decl |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cats {
		var tpd, cs, tick []float64
		var amt, cred float64
		var appr, whole, ge, rnd, n, dec int
		var night float64
		cnt := 0
		for i, m := range g.Ms {
			if m.Cat != c || (m.Label != "legit" && m.Label != "lookalike") {
				continue
			}
			s := st[i]
			cnt++
			if len(s.activeDays) > 0 {
				tpd = append(tpd, float64(s.n)/float64(len(s.activeDays)))
			}
			if s.appr >= 10 {
				cs = append(cs, s.creditShare())
				tick = append(tick, s.amt/float64(s.appr))
			}
			amt += s.amt
			cred += s.credit
			appr += s.appr
			whole += s.whole
			ge += s.ge1000
			rnd += s.round1000
			night += s.night
			n += s.n
			dec += s.decl
		}
		if cnt == 0 {
			continue
		}
		lbl := "legit"
		if c.Kind != "legit" {
			lbl = "lookalike"
		}
		r1000 := "–"
		if ge > 0 {
			r1000 = fmt.Sprintf("%.2f", float64(rnd)/float64(ge))
		}
		b.WriteString(fmt.Sprintf("| %s | %s | %s | %d | %.1f / %.1f / %.0f | %.0f | %.2f / %.2f | %.2f | %s | %.3f | %.3f |\n",
			c.Key, c.MCC, lbl, cnt, median(tpd), quant(tpd, 0.9), quant(tpd, 1), median(tick), median(cs), cred/math.Max(amt, 1),
			float64(whole)/math.Max(float64(appr), 1), r1000, night/math.Max(amt, 1), float64(dec)/math.Max(float64(n), 1)))
	}
	// card spread
	b.WriteString("\n### Card population\n\n")
	type cs3 struct {
		ms  [3]int32
		n   int
		cnt int
	}
	cardM := make([]cs3, len(allCards))
	for i := range cardM {
		cardM[i].ms = [3]int32{-1, -1, -1}
	}
	for _, t := range g.Txns {
		c := &cardM[t.Card]
		c.cnt++
		if c.n >= 3 {
			continue
		}
		dup := false
		for k := 0; k < c.n; k++ {
			if c.ms[k] == t.M {
				dup = true
			}
		}
		if !dup {
			c.ms[c.n] = t.M
			c.n++
		}
	}
	poolCards := 0
	for _, c := range g.Cities {
		for _, s := range c.pool.subs[0] {
			poolCards += len(s.idx)
		}
	}
	seen, seen3, seenPool, seen3Pool := 0, 0, 0, 0
	var perCard []float64
	for i, c := range cardM {
		if c.cnt == 0 {
			continue
		}
		seen++
		if c.n >= 3 {
			seen3++
		}
		if i < poolCards {
			seenPool++
			perCard = append(perCard, float64(c.cnt))
			if c.n >= 3 {
				seen3Pool++
			}
		}
	}
	b.WriteString(fmt.Sprintf("City card populations: %d cards in total; %d distinct cards transacted (%d including farm/tested cards). Cards from the city populations seen at 3+ distinct merchants in the month: %.1f%% (all cards incl. tested dumps: %.1f%%). Transactions per active population card: median %.0f, p90 %.0f.\n",
		poolCards, seenPool, seen, 100*float64(seen3Pool)/math.Max(float64(seenPool), 1), 100*float64(seen3)/math.Max(float64(seen), 1), median(perCard), quant(perCard, 0.9)))
	// BIN concentration
	binAmt := map[string]float64{}
	tot := 0.0
	for _, t := range g.Txns {
		if t.Resp == 0 && !t.Fict {
			binAmt[allCards[t.Card].BIN] += float64(t.Amt)
			tot += float64(t.Amt)
		}
	}
	type kv struct {
		k string
		v float64
	}
	var bl []kv
	for k, v := range binAmt {
		bl = append(bl, kv{k, v})
	}
	sort.Slice(bl, func(i, j int) bool { return bl[i].v > bl[j].v })
	b.WriteString(fmt.Sprintf("\n%d distinct BINs in honest approved traffic; top 8 by amount: ", len(bl)))
	for i := 0; i < 8 && i < len(bl); i++ {
		k := bl[i].k
		if k == "" {
			k = "null"
		}
		b.WriteString(fmt.Sprintf("%s %.1f%%; ", k, 100*bl[i].v/tot))
	}
	b.WriteString("\n")
	return b.String()
}

// how many honest merchants exceed the DOMAIN start thresholds (a check on realism, not on a detector)
func (g *Gen) falsePositiveReport(st []*MStat, p Peer) string {
	cnt := map[string][2]int{}
	for i, m := range g.Ms {
		if m.Label != "legit" && m.Label != "lookalike" {
			continue
		}
		rev := g.revealed(m, st[i], p)
		for r := range rev {
			x := cnt[r]
			if m.Label == "legit" {
				x[0]++
			} else {
				x[1]++
			}
			cnt[r] = x
		}
	}
	var b strings.Builder
	b.WriteString("| rule (start threshold, whole month, no peer calibration) | legit merchants over it | look-alikes over it |\n|---|---|---|\n")
	var ks []string
	for k := range checkable {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		b.WriteString(fmt.Sprintf("| %s | %d | %d |\n", k, cnt[k][0], cnt[k][1]))
	}
	return b.String()
}
