package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

func jsonStr(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func appendFloat(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'f', -1, 64) }

func (g *Gen) sortAll() {
	slices.SortFunc(g.Txns, func(a, b Txn) int {
		if a.T != b.T {
			if a.T < b.T {
				return -1
			}
			return 1
		}
		if a.Seq < b.Seq {
			return -1
		}
		return 1
	})
	slices.SortFunc(g.Events, func(a, b MEvent) int {
		if a.T != b.T {
			if a.T < b.T {
				return -1
			}
			return 1
		}
		if a.Seq < b.Seq {
			return -1
		}
		return 1
	})
}

func (g *Gen) writeEvents(path string) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	w := bufio.NewWriterSize(zw, 1<<20)
	buf := make([]byte, 0, 1024)
	i, j, n := 0, 0, 0
	for i < len(g.Txns) || j < len(g.Events) {
		buf = buf[:0]
		if j < len(g.Events) && (i >= len(g.Txns) || g.Events[j].T <= g.Txns[i].T) {
			e := &g.Events[j]
			m := g.Ms[e.M]
			buf = append(buf, `{"topic":"merchantEvents","value":{"event_id":"`...)
			buf = append(buf, fmt.Sprintf("me-%016x", splitmix(g.Seed<<40^uint64(j)^0xE7E7))...)
			buf = append(buf, `","event_time":`...)
			buf = strconv.AppendInt(buf, e.T, 10)
			buf = append(buf, `,"acquirer_id":"`...)
			buf = append(buf, m.Acq...)
			buf = append(buf, `","merchant_id":"`...)
			buf = append(buf, m.ID...)
			buf = append(buf, `","terminal_id":`...)
			if e.Term != "" {
				buf = jsonStr(buf, e.Term)
			} else {
				buf = append(buf, "null"...)
			}
			buf = append(buf, `,"kind":"`...)
			buf = append(buf, e.Kind...)
			buf = append(buf, `","registered_mcc":`...)
			if e.MCC != "" {
				buf = jsonStr(buf, e.MCC)
			} else {
				buf = append(buf, "null"...)
			}
			buf = append(buf, `,"merchant_name":`...)
			if e.Name != "" {
				buf = jsonStr(buf, e.Name)
			} else {
				buf = append(buf, "null"...)
			}
			if e.HasLoc {
				buf = append(buf, `,"latitude":`...)
				buf = appendFloat(buf, e.Lat)
				buf = append(buf, `,"longitude":`...)
				buf = appendFloat(buf, e.Lon)
			} else {
				buf = append(buf, `,"latitude":null,"longitude":null`...)
			}
			buf = append(buf, `,"settlement_account_token":`...)
			if e.Account != "" {
				buf = jsonStr(buf, e.Account)
			} else {
				buf = append(buf, "null"...)
			}
			buf = append(buf, "}}\n"...)
			j++
		} else {
			t := &g.Txns[i]
			m := g.Ms[t.M]
			c := &allCards[t.Card]
			buf = append(buf, `{"topic":"transactions","value":{"txn_id":"`...)
			buf = append(buf, fmt.Sprintf("%016x", splitmix(g.Seed<<40+uint64(i)))...)
			buf = append(buf, `","event_time":`...)
			buf = strconv.AppendInt(buf, t.T, 10)
			buf = append(buf, `,"acquirer_id":"`...)
			buf = append(buf, m.Acq...)
			buf = append(buf, `","merchant_id":"`...)
			buf = append(buf, m.ID...)
			buf = append(buf, `","terminal_id":"`...)
			buf = append(buf, t.Term.ID...)
			buf = append(buf, `","card_token":"`...)
			buf = append(buf, c.Token...)
			buf = append(buf, `","card_bin":`...)
			if c.BIN != "" {
				buf = append(buf, '"')
				buf = append(buf, c.BIN...)
				buf = append(buf, '"')
			} else {
				buf = append(buf, "null"...)
			}
			buf = append(buf, `,"card_type":"`...)
			buf = append(buf, cardTypeName[c.Type]...)
			buf = append(buf, `","txn_type":"`...)
			buf = append(buf, txnTypeName[t.Type]...)
			buf = append(buf, `","amount_minor":`...)
			buf = strconv.AppendInt(buf, t.Amt, 10)
			buf = append(buf, `,"currency":"CNY","mcc":"`...)
			buf = append(buf, t.MCC...)
			buf = append(buf, `","entry_mode":"`...)
			buf = append(buf, entryName[t.Entry]...)
			buf = append(buf, `","response_code":"`...)
			buf = append(buf, respCodes[t.Resp]...)
			if t.HasLoc {
				buf = append(buf, `","latitude":`...)
				buf = appendFloat(buf, t.Lat)
				buf = append(buf, `,"longitude":`...)
				buf = appendFloat(buf, t.Lon)
			} else {
				buf = append(buf, `","latitude":null,"longitude":null`...)
			}
			buf = append(buf, "}}\n"...)
			i++
		}
		w.Write(buf)
		n++
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, zw.Close()
}

type LabelEntry struct {
	MerchantID    string   `json:"merchant_id"`
	AcquirerID    string   `json:"acquirer_id"`
	Label         string   `json:"label"`
	Scenario      string   `json:"scenario"`
	Tactics       []string `json:"tactics"`
	ExpectedRules []string `json:"expected_rules"`
}

type Labels struct {
	Population  string       `json:"population"`
	Seed        int64        `json:"seed"`
	Start       int64        `json:"start"`
	Days        int          `json:"days"`
	HistoryDays int          `json:"historyDays"`
	TimeZone    string       `json:"timeZone"`
	Merchants   []LabelEntry `json:"merchants"`
}

func (g *Gen) writeLabels(dir string) error {
	l := Labels{Population: "blind-go", Seed: int64(g.Seed), Start: startMs, Days: NDays, HistoryDays: 0, TimeZone: "+08:00"}
	for _, m := range g.Ms {
		e := m.Expected
		if e == nil {
			e = []string{}
		}
		l.Merchants = append(l.Merchants, LabelEntry{m.ID, m.Acq, m.Label, m.Scenario, m.Tactics, e})
	}
	b, err := json.MarshalIndent(l, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "labels.json"), b, 0o644)
}
