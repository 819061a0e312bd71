#!/usr/bin/env python3
"""Independent checks and sanity statistics of a blind-py output directory.
    python3 check.py <dir>  > check_report.md
"""
import gzip
import json
import re
import statistics
import sys
from collections import Counter, defaultdict

out = sys.argv[1] if len(sys.argv) > 1 else '.'
TX_FIELDS = ['txn_id', 'event_time', 'acquirer_id', 'merchant_id', 'terminal_id', 'card_token', 'card_bin', 'card_type', 'txn_type',
             'amount_minor', 'currency', 'mcc', 'entry_mode', 'response_code', 'latitude', 'longitude']
ME_FIELDS = ['event_id', 'event_time', 'acquirer_id', 'merchant_id', 'terminal_id', 'kind', 'registered_mcc', 'merchant_name',
             'latitude', 'longitude', 'settlement_account_token']
ENUMS = dict(card_type={'CREDIT', 'DEBIT', 'PREPAID', 'UNKNOWN'},
             txn_type={'PURCHASE', 'REFUND', 'REVERSAL', 'PREAUTH', 'PREAUTH_COMPLETION'},
             entry_mode={'CHIP', 'CONTACTLESS', 'MAGSTRIPE', 'MANUAL', 'QR', 'UNKNOWN'},
             kind={'ONBOARDED', 'TERMINAL_BOUND', 'TERMINAL_UNBOUND', 'SETTLEMENT_ACCOUNT_CHANGED', 'MCC_CHANGED',
                   'ADDRESS_CHANGED', 'CLOSED'})
ACQ = re.compile(r'^[A-Za-z0-9._-]{1,64}$')
CARDNUM = re.compile(r'^\d{13,19}$')

labels = json.load(open(f'{out}/labels.json'))
mstats = {m['merchant_id']: m for m in json.load(open(f'{out}/merchant_stats.json'))}
lab = {m['merchant_id']: m for m in labels['merchants']}
START, DAYS = labels['start'], labels['days']
DAY = 86_400_000

errors = Counter()
ids = set()
last_t = -1
n_tx = n_me = 0
kinds = Counter()
first_tx = {}
bound = defaultdict(lambda: None)          # (merchant, terminal) -> first bound time
onboarded = {}
has_tx = set()
per_m = defaultdict(lambda: dict(n=0, ap=0, amt=0, cr=0, whole=0, big=0, rnd=0, night=0, days=set()))
card_m = defaultdict(set)
ttypes = Counter()
resp = Counter()
entry = Counter()
gps_null = 0
for line in gzip.open(f'{out}/events.jsonl.gz', 'rt', encoding='utf-8'):
    e = json.loads(line)
    v = e['value']
    t = v['event_time']
    if t < last_t:
        errors['unsorted'] += 1
    last_t = t
    if e['topic'] == 'transactions':
        n_tx += 1
        if list(v) != TX_FIELDS:
            errors['tx_fields'] += 1
        k = v['txn_id']
        for f in ('card_type', 'txn_type', 'entry_mode'):
            if v[f] not in ENUMS[f]:
                errors['enum_' + f] += 1
        if v['amount_minor'] <= 0 or not isinstance(v['amount_minor'], int):
            errors['amount'] += 1
        if v['currency'] != 'CNY':
            errors['currency'] += 1
        if not re.fullmatch(r'\d{4}', v['mcc']):
            errors['mcc'] += 1
        if CARDNUM.match(v['card_token']) or not v['card_token'].startswith('c_'):
            errors['card_token'] += 1
        if not (START <= t < START + DAYS * DAY):
            errors['tx_outside_window'] += 1
        mid = v['merchant_id']
        has_tx.add(mid)
        key = (mid, v['terminal_id'])
        if bound[key] is None or bound[key] > t:
            errors['tx_before_bound'] += 1
        if mid not in onboarded:
            errors['tx_before_onboard'] += 1
        ttypes[v['txn_type']] += 1
        resp[v['response_code']] += 1
        entry[v['entry_mode']] += 1
        if v['latitude'] is None:
            gps_null += 1
        s = per_m[mid]
        s['n'] += 1
        s['days'].add((t - START) // DAY)
        if v['response_code'] == '00' and v['txn_type'] in ('PURCHASE', 'PREAUTH_COMPLETION'):
            a = v['amount_minor']
            s['ap'] += 1
            s['amt'] += a
            if v['card_type'] == 'CREDIT':
                s['cr'] += a
            if a % 100 == 0:
                s['whole'] += 1
            if a >= 100_000:
                s['big'] += 1
                if a % 100_000 == 0:
                    s['rnd'] += 1
            if (t - START) % DAY < 5 * 3_600_000:
                s['night'] += a
            card_m[(v['acquirer_id'], v['card_token'])].add(mid)
    else:
        n_me += 1
        if list(v) != ME_FIELDS:
            errors['me_fields'] += 1
        k = v['event_id']
        if v['kind'] not in ENUMS['kind']:
            errors['enum_kind'] += 1
        kinds[v['kind']] += 1
        mid = v['merchant_id']
        if v['kind'] == 'ONBOARDED':
            onboarded[mid] = t
            for f in ('registered_mcc', 'merchant_name', 'latitude', 'longitude', 'settlement_account_token'):
                if v[f] is None:
                    errors['onboard_missing_' + f] += 1
        elif v['kind'] == 'TERMINAL_BOUND':
            if mid not in onboarded:
                errors['bound_before_onboard'] += 1
            if bound[(mid, v['terminal_id'])] is None:
                bound[(mid, v['terminal_id'])] = t
    if not ACQ.match(v['acquirer_id']):
        errors['acquirer_id'] += 1
    if k in ids:
        errors['dup_id'] += 1
    ids.add(k)

for mid in lab:
    if mid not in onboarded:
        errors['labelled_without_onboard'] += 1
    if mid not in has_tx:
        errors['labelled_without_txn'] += 1
for mid in set(onboarded) | has_tx:
    if mid not in lab:
        errors['merchant_not_labelled'] += 1

P = print
P(f'## Self-check of `{out}`\n')
P(f'- events: {n_tx + n_me:,} ({n_tx:,} transactions, {n_me:,} merchant events); merchants labelled: {len(lab)}')
P(f'- errors: {dict(errors) if errors else "none"} (checked: field lists, enums, unique ids, sorted times, card tokens, '
  f'amount>0, CNY, mcc 4 digits, acquirer ids, ONBOARDED before and TERMINAL_BOUND before every txn, labels <-> events)')
P(f'- merchant events by kind: {dict(kinds)}')
P(f'- txn types: {dict(ttypes)}')
P(f'- response codes: {dict(resp.most_common())}; declined share {1 - resp["00"] / n_tx:.3%}')
P(f'- entry modes: {dict(entry.most_common())}; transactions without GPS fix: {gps_null / n_tx:.1%}')

P('\n### Counts per label and scenario\n')
P('| label | scenario | merchants | transactions | fictitious share of approved amount (mean) |')
P('|---|---|---|---|---|')
grp = defaultdict(list)
for mid, m in lab.items():
    grp[(m['label'], m['scenario'])].append(mid)
for (l, sc), ms in sorted(grp.items()):
    ntx = sum(per_m[x]['n'] for x in ms)
    fs = [mstats[x]['fict_amt'] / mstats[x]['amt'] for x in ms if mstats[x]['amt']]
    P(f'| {l} | {sc} | {len(ms)} | {ntx:,} | {statistics.mean(fs):.2f} |' if l == 'fraud' else f'| {l} | {sc} | {len(ms)} | {ntx:,} | - |')
lc = Counter(m['label'] for m in lab.values())
P(f'\nTotals per label: {dict(lc)} (shares: ' + ', '.join(f'{k} {v / len(lab):.1%}' for k, v in lc.items()) + ')')
P(f'\nBy acquirer: {dict(Counter(m["acquirer_id"] for m in lab.values()))}')

P('\n### Honest traffic per category (legit and look-alike merchants)\n')
P('Per merchant-day = transactions / days with at least one transaction. Credit share = credit part of approved amount. '
  'Whole = approved amounts in whole yuan (count share). Round1k = share of approved amounts >= 1,000 CNY that are exact thousands. '
  'Night = share of approved amount 00:00-05:00 local.\n')
P('| category | merchants | txn/merchant-day median (p90) | credit share (median merchant) | whole-unit share | round1k share | night share |')
P('|---|---|---|---|---|---|---|')
cats = defaultdict(list)
for mid, ms in mstats.items():
    if ms['label'] in ('legit', 'lookalike'):
        cats[ms['cat']].append(mid)
for cat, ms in sorted(cats.items(), key=lambda x: -len(x[1])):
    rate = sorted(per_m[x]['n'] / max(1, len(per_m[x]['days'])) for x in ms)
    crs = [per_m[x]['cr'] / per_m[x]['amt'] for x in ms if per_m[x]['amt']]
    ap = sum(per_m[x]['ap'] for x in ms)
    wh = sum(per_m[x]['whole'] for x in ms) / ap if ap else 0
    big = sum(per_m[x]['big'] for x in ms)
    rnd = sum(per_m[x]['rnd'] for x in ms) / big if big else 0
    amt = sum(per_m[x]['amt'] for x in ms)
    ni = sum(per_m[x]['night'] for x in ms) / amt if amt else 0
    lk = '*' if lab[ms[0]]['label'] == 'lookalike' else ''
    P(f'| {cat}{lk} | {len(ms)} | {statistics.median(rate):.1f} ({rate[int(.9 * (len(rate) - 1))]:.1f}) | '
      f'{statistics.median(crs):.2f} | {wh:.2f} | {rnd:.2f} ({big}) | {ni:.3f} |')
P('\n(* = look-alike kind)')

P('\n### Card population\n')
for acq in sorted({k[0] for k in card_m}):
    cm = [len(v) for k, v in card_m.items() if k[0] == acq]
    c3 = sum(1 for x in cm if x >= 3)
    P(f'- {acq}: {len(cm):,} cards with an approved purchase; seen at 3+ merchants: {c3 / len(cm):.1%}; '
      f'at 5+: {sum(1 for x in cm if x >= 5) / len(cm):.1%}; median merchants per card {statistics.median(cm)}')

P('\n### What start thresholds (DOMAIN.md) would say on honest merchants (own-event metrics of gen.py)\n')
rows = [('credit share > 0.80 (>=20 approved)', lambda s: s['n_ap'] >= 20 and s['credit_share'] > .8),
        ('round share > 0.3 of amounts >= 1,000 (>=10)', lambda s: s['n_big'] >= 10 and s['round_share'] > .3),
        ('near-round share > 0.4 of amounts >= 5,000 (>=10)', lambda s: s['n_5k'] >= 10 and s['near_share'] > .4),
        ('a day > 300,000 CNY', lambda s: s['max_day'] > 300_000),
        ('>= 2 card-days with > 2 swipes on one terminal', lambda s: s['rep_days'] >= 2),
        ('a day with decline ratio > 0.3 on >= 20 attempts', lambda s: s['decl_days'] >= 1),
        ('fix > 10 km from registered address', lambda s: s['max_km'] > 10)]
P('| check | legit | look-alike | fraud | compliance |')
P('|---|---|---|---|---|')
for name, f in rows:
    cells = []
    for l in ('legit', 'lookalike', 'fraud', 'compliance'):
        ms = [s for s in mstats.values() if s['label'] == l]
        cells.append(f'{sum(1 for s in ms if f(s))}/{len(ms)}')
    P(f'| {name} | ' + ' | '.join(cells) + ' |')
