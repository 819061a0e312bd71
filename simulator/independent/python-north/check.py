#!/usr/bin/env python3
"""Check a blind-north output directory: schema, ordering, ids, labels, sanity statistics."""
import gzip, json, os, re, sys
from collections import Counter, defaultdict

TXN = {"txn_id": str, "event_time": int, "acquirer_id": str, "merchant_id": str, "terminal_id": str,
       "card_token": str, "card_bin": (str, type(None)), "card_type": str, "txn_type": str, "amount_minor": int,
       "currency": str, "mcc": str, "entry_mode": str, "response_code": str, "latitude": (float, type(None)),
       "longitude": (float, type(None))}
ME = {"event_id": str, "event_time": int, "acquirer_id": str, "merchant_id": str, "terminal_id": (str, type(None)),
      "kind": str, "registered_mcc": (str, type(None)), "merchant_name": (str, type(None)),
      "latitude": (float, type(None)), "longitude": (float, type(None)),
      "settlement_account_token": (str, type(None))}
ENUM = {"card_type": {"CREDIT", "DEBIT", "PREPAID", "UNKNOWN"},
        "txn_type": {"PURCHASE", "REFUND", "REVERSAL", "PREAUTH", "PREAUTH_COMPLETION"},
        "entry_mode": {"CHIP", "CONTACTLESS", "MAGSTRIPE", "MANUAL", "QR", "UNKNOWN"},
        "kind": {"ONBOARDED", "TERMINAL_BOUND", "TERMINAL_UNBOUND", "SETTLEMENT_ACCOUNT_CHANGED", "MCC_CHANGED",
                 "ADDRESS_CHANGED", "CLOSED"}}
DIG = re.compile(r"\d{13,19}")
ACQ = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def luhn(s):
    tot, alt = 0, False
    for ch in reversed(s):
        d = int(ch)
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        tot += d
        alt = not alt
    return tot % 10 == 0


def bad_digits(v):
    for m in re.finditer(r"\d{13,}", v):
        run = m.group()
        for L in range(13, 20):
            for i in range(0, len(run) - L + 1):
                if luhn(run[i:i + L]):
                    return True
    return False


def main(d):
    lab = json.load(open(os.path.join(d, "labels.json")))
    start, days = lab["start"], lab["days"]
    end = start + days * 86400000
    errs = Counter()
    last_t = -1
    onboarded = {}
    seen_ids = set()
    n = Counter()
    card_tx = Counter()
    card_m = defaultdict(set)
    card_week_m = defaultdict(set)
    credit_by_mcc = defaultdict(lambda: [0, 0])
    ttype = Counter()
    decl = Counter()
    mcc_merch = defaultdict(set)
    whole = Counter()
    labof = {m["merchant_id"]: m["label"] for m in lab["merchants"]}
    legit_credit = defaultdict(lambda: [0, 0])
    for line in gzip.open(os.path.join(d, "events.jsonl.gz"), "rt", encoding="utf-8"):
        o = json.loads(line)
        v = o["value"]
        spec = TXN if o["topic"] == "transactions" else ME if o["topic"] == "merchantEvents" else None
        if spec is None:
            errs["topic"] += 1
            continue
        if set(v) != set(spec):
            errs["fields"] += 1
        for k, ty in spec.items():
            if not isinstance(v.get(k), ty) or (ty is int and isinstance(v.get(k), bool)):
                errs["type:" + k] += 1
        for k, allowed in ENUM.items():
            if k in v and v[k] not in allowed:
                errs["enum:" + k] += 1
        for k, x in v.items():
            if isinstance(x, str) and DIG.search(x) and bad_digits(x):
                errs["luhn:" + k] += 1
        if not ACQ.match(v["acquirer_id"]):
            errs["acquirer_id"] += 1
        t = v["event_time"]
        if t < last_t:
            errs["order"] += 1
        last_t = t
        idk = v.get("txn_id") or v.get("event_id")
        if idk in seen_ids:
            errs["dup_id"] += 1
        seen_ids.add(idk)
        if o["topic"] == "merchantEvents":
            n["me:" + v["kind"]] += 1
            if v["kind"] == "ONBOARDED":
                onboarded[v["merchant_id"]] = t
            continue
        n["txn"] += 1
        if v["merchant_id"] not in onboarded:
            errs["txn_before_onboarding"] += 1
        if not (start <= t < end):
            errs["txn_outside_month"] += 1
        if v["amount_minor"] <= 0:
            errs["amount"] += 1
        if not re.match(r"^\d{4}$", v["mcc"]) or v["currency"] != "CNY":
            errs["mcc/currency"] += 1
        ttype[v["txn_type"]] += 1
        decl[v["response_code"] != "00"] += 1
        if v["response_code"] == "00" and v["txn_type"] == "PURCHASE":
            c = v["card_token"]
            card_tx[c] += 1
            card_m[c].add(v["merchant_id"])
            card_week_m[(c, (t - start) // (7 * 86400000))].add(v["merchant_id"])
            cm = credit_by_mcc[v["mcc"]]
            cm[1] += v["amount_minor"]
            if v["card_type"] == "CREDIT":
                cm[0] += v["amount_minor"]
            mcc_merch[v["mcc"]].add(v["merchant_id"])
            if labof.get(v["merchant_id"]) == "legit":
                lc = legit_credit[v["mcc"]]
                lc[1] += v["amount_minor"]
                if v["card_type"] == "CREDIT":
                    lc[0] += v["amount_minor"]
            whole[v["amount_minor"] % 100 == 0] += 1
    print("errors:", dict(errs) or "none")
    print("counts:", dict(n))
    print("txn types:", dict(ttype), " declined share: %.3f" % (decl[True] / max(1, sum(decl.values()))))
    print("whole-yuan share of approved purchases: %.3f" % (whole[True] / max(1, sum(whole.values()))))
    vals = sorted(card_tx.values())
    q = lambda a, p: a[min(len(a) - 1, int(p * len(a)))]
    print("cards with approved purchases: %d; txns/card/month median %d p10 %d p90 %d mean %.1f" % (
        len(vals), q(vals, .5), q(vals, .1), q(vals, .9), sum(vals) / len(vals)))
    mv = sorted(len(s) for s in card_m.values())
    print("merchants/card/month median %d p90 %d; share of cards at >=3 merchants %.2f" % (
        q(mv, .5), q(mv, .9), sum(1 for x in mv if x >= 3) / len(mv)))
    wk = [len(s) for (c, w), s in card_week_m.items() if card_tx[c] >= 8]
    print("active cards (>=8 txns): distinct merchants per card-week mean %.2f" % (sum(wk) / max(1, len(wk))))
    print("credit share of approved amount by submitted MCC (merchants):")
    for mcc, (c, t) in sorted(credit_by_mcc.items(), key=lambda kv: -len(mcc_merch[kv[0]])):
        lc = legit_credit[mcc]
        print("   %s %4d merchants  credit %.2f (legit-only %.2f)  volume %.0f CNY" % (
            mcc, len(mcc_merch[mcc]), c / t if t else 0, lc[0] / lc[1] if lc[1] else float("nan"), t / 100))
    print("labels:", dict(Counter(m["label"] for m in lab["merchants"])))
    by = defaultdict(list)
    for m in lab["merchants"]:
        by[(m["label"], m["scenario"])].append(m)
    for (l, s), ms in sorted(by.items()):
        rc = Counter(r for m in ms for r in m["expected_rules"])
        none = sum(1 for m in ms if not m["expected_rules"])
        print("  %-10s %-28s %4d  no-rule %3d  %s" % (l, s, len(ms), none,
                                                     ", ".join("%s:%d" % kv for kv in rc.most_common())))
    ids = [m["merchant_id"] for m in lab["merchants"]]
    assert len(ids) == len(set(ids)), "duplicate merchant ids"
    missing = set(ids) - set(onboarded)
    print("merchants without ONBOARDED:", len(missing))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
