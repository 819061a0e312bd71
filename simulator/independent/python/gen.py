#!/usr/bin/env python3
"""blind-py: an independent generator of one month of POS card traffic for a
UTC+8 acquirer portfolio (CNY).  Standard library only.

    python3 gen.py --seed 1 --out <dir>
"""
import argparse
import bisect
import gzip
import hashlib
import io
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate

# ----------------------------------------------------------------------------- calendar
TZ = timezone(timedelta(hours=8))
START_DATE = date(2026, 9, 14)          # Monday; window covers Mid-Autumn + National Day
DAYS = 30
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
START_MS = int(datetime(START_DATE.year, START_DATE.month, START_DATE.day, tzinfo=TZ).timestamp() * 1000)
END_MS = START_MS + DAYS * DAY_MS
HOLIDAYS = {date(2026, 9, 25)} | {date(2026, 10, i) for i in range(1, 8)}   # Mid-Autumn, National Day week
MAKEUP_WORKDAYS = {date(2026, 9, 27), date(2026, 10, 10)}                     # assumed make-up working days


def ddate(d):
    return START_DATE + timedelta(days=d)


def day_kind(d):
    dt = ddate(d)
    if dt in HOLIDAYS:
        return 'holiday'
    if dt in MAKEUP_WORKDAYS:
        return 'makeup'
    return 'weekend' if dt.weekday() >= 5 else 'workday'


# ----------------------------------------------------------------------------- geography
CITY = {
    'SH': dict(name='上海', acq='acq-east', credit=1.10, share=0.40,
               districts=[('黄浦', 31.2317, 121.4846, 1.0), ('徐汇', 31.1885, 121.4365, 1.2), ('静安', 31.2290, 121.4480, 1.1),
                          ('浦东', 31.2215, 121.5440, 2.2), ('闵行', 31.1128, 121.3817, 1.4), ('杨浦', 31.2595, 121.5260, 1.0),
                          ('普陀', 31.2495, 121.3970, 0.9), ('长宁', 31.2204, 121.4246, 0.8)],
               away=[('苏州', 31.2990, 120.5853), ('昆山', 31.3856, 120.9808), ('嘉兴', 30.7469, 120.7555), ('南通', 31.9802, 120.8943)]),
    'HZ': dict(name='杭州', acq='acq-east', credit=1.0, share=0.25,
               districts=[('上城', 30.2425, 120.1693, 1.2), ('拱墅', 30.3192, 120.1419, 1.1), ('西湖', 30.2594, 120.1301, 1.2),
                          ('滨江', 30.2083, 120.2117, 0.9), ('余杭', 30.4188, 120.2998, 1.3), ('萧山', 30.1838, 120.2645, 1.2)],
               away=[('绍兴', 30.0023, 120.5810), ('湖州', 30.8930, 120.0868), ('宁波', 29.8683, 121.5440)]),
    'SZ': dict(name='深圳', acq='acq-south', credit=1.08, share=0.22,
               districts=[('福田', 22.5410, 114.0550, 1.3), ('罗湖', 22.5484, 114.1315, 1.0), ('南山', 22.5333, 113.9305, 1.3),
                          ('宝安', 22.5553, 113.8830, 1.4), ('龙岗', 22.7200, 114.2470, 1.3), ('龙华', 22.6561, 114.0440, 1.0)],
               away=[('东莞', 23.0207, 113.7518), ('惠州', 23.1115, 114.4161), ('中山', 22.5170, 113.3928)]),
    'GZ': dict(name='广州', acq='acq-south', credit=0.95, share=0.13,
               districts=[('天河', 23.1247, 113.3612, 1.4), ('越秀', 23.1290, 113.2668, 1.1), ('海珠', 23.0838, 113.3172, 1.1),
                          ('白云', 23.1575, 113.2730, 1.2), ('番禺', 22.9376, 113.3840, 1.1)],
               away=[('佛山', 23.0218, 113.1214), ('东莞', 23.0207, 113.7518), ('清远', 23.6820, 113.0560)]),
}
SISTER = {'SH': 'HZ', 'HZ': 'SH', 'SZ': 'GZ', 'GZ': 'SZ'}


def km(lat1, lon1, lat2, lon2):
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def jitter(rng, lat, lon, metres):
    return (lat + rng.gauss(0, metres) / 111320.0,
            lon + rng.gauss(0, metres) / (111320.0 * math.cos(math.radians(lat))))


# ----------------------------------------------------------------------------- time-of-day profiles
def profile(spans, peaks=()):
    w = [0.0] * 30
    for a, b, fl in spans:
        for h in range(a, b):
            w[h] = fl
    for c, wd, amp in peaks:
        for h in range(30):
            if w[h] > 0:
                w[h] += amp * math.exp(-0.5 * ((h + 0.5 - c) / wd) ** 2)
    return list(accumulate(w))


PROFILES = {
    'conv': profile([(6, 24, .4)], [(8, 1, 1.0), (12.5, 1, .8), (19, 2, 1.2)]),
    'conv24': profile([(0, 6, .06), (6, 24, .4)], [(8, 1, 1.0), (12.5, 1, .8), (19.5, 2, 1.2)]),
    'day': profile([(8, 22, .5)], [(10.5, 1.5, .8), (18.5, 2, 1.5)]),
    'meal': profile([(10, 22, .1)], [(12, .9, 2.0), (18.6, 1.2, 2.2)]),
    'fastfood': profile([(7, 22, .2)], [(8, .8, 1.0), (12, .8, 2.0), (18, 1, 1.2)]),
    'cafe': profile([(7, 22, .4)], [(8.5, 1, 1.2), (15, 2, .8), (19, 1.5, .8)]),
    'fuel': profile([(0, 6, .08), (6, 24, .5)], [(8, 1.2, 1.0), (17.5, 1.5, 1.0)]),
    'shop': profile([(10, 22, .3)], [(15, 2, .9), (20, 1.3, 1.2)]),
    'service': profile([(9, 21, .3)], [(11, 1.5, .7), (16, 2.5, 1.0), (19.5, 1, .6)]),
    'office': profile([(8, 18, .5)], [(10, 1.5, 1.0), (15, 1.5, 1.0)]),
    'hospital': profile([(0, 7, .05), (7, 18, .6), (18, 24, .12)], [(9, 1.2, 2.0), (14.5, 1.2, 1.0)]),
    'night': profile([(19, 27, .3)], [(23, 1.6, 2.0)]),
    'ktv': profile([(18, 28, .3)], [(22, 2, 1.8)]),
    'hotel': profile([(0, 24, .15)], [(9.5, 1.2, 1.0), (16, 2, 1.0), (21.5, 2, 1.1)]),
    'market': profile([(5, 13, .4), (16, 19, .2)], [(7.5, 1.2, 1.8)]),
    'showroom': profile([(9, 20, .4)], [(11, 1.5, .8), (15.5, 2, 1.2)]),
    'pharmacy': profile([(8, 22, .5)], [(10, 1.5, .8), (19, 2, 1.0)]),
    'cinema': profile([(10, 24, .2)], [(15, 2, .8), (20, 1.5, 1.5)]),
}

DOW = {   # Mon..Sun
    'retail': [0.90, 0.88, 0.90, 0.93, 1.05, 1.25, 1.18],
    'meal': [0.88, 0.88, 0.92, 0.98, 1.20, 1.25, 1.05],
    'fuel': [1.0, 1.0, 1.0, 1.0, 1.08, 1.05, 0.95],
    'office': [1.15, 1.10, 1.10, 1.08, 1.05, 0.35, 0.20],
    'hospital': [1.30, 1.15, 1.10, 1.05, 1.00, 0.55, 0.45],
    'school': [1.20, 1.10, 1.10, 1.05, 1.00, 0.10, 0.05],
    'showroom': [0.75, 0.70, 0.75, 0.80, 0.90, 1.60, 1.55],
    'bar': [0.55, 0.60, 0.70, 0.90, 1.50, 1.75, 1.00],
    'hotel': [0.90, 0.90, 0.95, 1.00, 1.15, 1.20, 0.95],
    'market': [1.00, 0.95, 0.95, 1.00, 1.05, 1.15, 1.15],
}

# ----------------------------------------------------------------------------- categories
# key: mcc list, share (ordinary) / count (look-alike), median txns per day, median ticket CNY, sigma,
# price style, whole-unit prob (cents style), credit share, regulars share, hours, dow, holiday factor, refund rate
def C(mcc, n, med, amt, sig, style, pw, cr, reg, hours, dow, hol, refund=0.002, name='', **kw):
    d = dict(mcc=mcc, n=n, med=med, amt=amt, sig=sig, style=style, pw=pw, cr=cr, reg=reg, hours=hours, dow=dow,
             hol=hol, refund=refund, noun=name)
    d.update(kw)
    return d


ORDINARY = {
    'convenience': C(['5499', '5411'], .12, 30, 26, .7, 'cents', .25, .15, .35, 'conv', 'retail', 1.05, name='便利店'),
    'supermarket': C(['5411'], .08, 80, 88, .85, 'cents', .06, .28, .30, 'day', 'retail', 1.35, .004, name='超市'),
    'fruit_veg': C(['5499'], .04, 25, 42, .6, 'cents', .30, .14, .40, 'conv', 'retail', 1.25, name='水果店'),
    'restaurant': C(['5812'], .16, 25, 180, .75, 'menu', .60, .38, .15, 'meal', 'meal', 1.3, .001, name='餐厅'),
    'fast_food': C(['5814'], .07, 45, 32, .5, 'menu', .72, .20, .30, 'fastfood', 'meal', 1.1, .0005, name='快餐'),
    'bakery_cafe': C(['5462', '5814'], .04, 30, 42, .6, 'menu', .45, .25, .35, 'cafe', 'retail', 1.2, name='烘焙坊'),
    'fuel': C(['5541', '5542'], .035, 110, 260, .55, 'fuel', 0, .42, .25, 'fuel', 'fuel', 1.25, .0005, name='加油站'),
    'pharmacy': C(['5912'], .06, 25, 72, .85, 'cents', .15, .25, .30, 'pharmacy', 'retail', 1.0, .002, name='大药房'),
    'clothing': C(['5651', '5621', '5611'], .07, 12, 320, .7, 'list', 0, .40, .08, 'shop', 'retail', 1.45, .03, name='服饰'),
    'shoes': C(['5661'], .025, 8, 380, .6, 'list', 0, .42, .05, 'shop', 'retail', 1.4, .03, name='鞋业'),
    'electronics': C(['5732'], .03, 8, 1100, 1.1, 'list', 0, .46, .03, 'shop', 'retail', 1.5, .02, name='数码'),
    'mobile_phone': C(['4812'], .025, 7, 2300, .9, 'list', 0, .46, .03, 'shop', 'retail', 1.5, .015, name='通讯'),
    'hairdresser': C(['7230'], .05, 14, 110, .7, 'service', 0, .30, .50, 'service', 'retail', 1.2, .001, name='美发',
                     points=[38, 48, 58, 68, 88, 128, 168, 198, 288, 388, 588], topups=[500, 1000, 2000, 3000]),
    'beauty_spa': C(['7298'], .025, 8, 380, .9, 'service', 0, .45, .50, 'service', 'retail', 1.2, .002, name='美容会所',
                    points=[98, 168, 268, 398, 598, 880, 1280], topups=[1000, 2000, 3000, 5000, 10000]),
    'department': C(['5311'], .015, 150, 520, 1.0, 'list', 0, .46, .10, 'shop', 'retail', 1.5, .02, name='百货'),
    'cosmetics': C(['5977'], .02, 12, 310, .7, 'list', 0, .45, .15, 'shop', 'retail', 1.4, .015, name='化妆品'),
    'bookstore': C(['5942'], .015, 15, 85, .7, 'cents', .35, .30, .15, 'shop', 'retail', 1.2, .005, name='书店'),
    'optical': C(['8043'], .015, 5, 850, .8, 'list', 0, .42, .05, 'shop', 'retail', 1.3, .005, name='眼镜'),
    'pet': C(['5995'], .02, 10, 160, .9, 'cents', .40, .35, .35, 'shop', 'retail', 1.1, .003, name='宠物'),
    'hardware': C(['5251', '5200'], .025, 10, 180, 1.1, 'cents', .45, .30, .30, 'office', 'retail', 0.9, .004, name='五金建材'),
    'tobacco_liquor': C(['5993', '5921'], .04, 15, 260, .9, 'tobacco', 0, .42, .40, 'conv', 'retail', 1.35, .002, name='烟酒商行'),
    'auto_repair': C(['7538'], .02, 6, 650, 1.0, 'cents', .55, .45, .20, 'office', 'retail', 0.8, .002, name='汽车维修'),
    'sporting': C(['5941'], .015, 8, 420, .7, 'list', 0, .42, .05, 'shop', 'retail', 1.3, .02, name='体育用品'),
    'kids': C(['5641', '5945'], .015, 10, 230, .7, 'list', 0, .38, .10, 'shop', 'retail', 1.4, .02, name='童装玩具'),
    'laundry': C(['7216'], .01, 12, 55, .6, 'menu', .80, .20, .50, 'service', 'retail', 0.9, .001, name='洗衣'),
    'dental': C(['8021'], .01, 5, 600, 1.1, 'cents', .50, .45, .10, 'office', 'hospital', 0.7, .003, name='口腔诊所'),
    'gym': C(['7997'], .01, 4, 300, 1.0, 'service', 0, .45, .40, 'service', 'retail', 0.9, .005, name='健身',
             points=[30, 50, 80, 150, 200, 300], topups=[1999, 2999, 3600, 5000, 6800]),
    'cinema': C(['7832'], .005, 60, 95, .5, 'menu', .60, .30, .10, 'cinema', 'retail', 1.8, .002, name='影城'),
}

LOOKALIKE = {
    'car_dealer': C(['5511'], 12, 3, 0, 0, 'car', 0, .66, .0, 'showroom', 'showroom', 1.6, .01, name='汽车销售服务有限公司', terms=(1, 3)),
    'jeweller': C(['5944'], 18, 6, 0, 0, 'jewel', 0, .55, .05, 'shop', 'retail', 1.7, .01, name='珠宝金行'),
    'furniture': C(['5712'], 14, 3, 0, 0, 'furniture', 0, .52, .0, 'showroom', 'showroom', 1.4, .01, name='家居'),
    'appliance': C(['5722'], 14, 6, 0, 0, 'appliance', 0, .52, .02, 'shop', 'retail', 1.5, .01, name='电器'),
    'hospital': C(['8062'], 8, 250, 0, 0, 'hospital', 0, .33, .10, 'hospital', 'hospital', 0.65, .01, name='医院', terms=(4, 12)),
    'school': C(['8220', '8211', '8299'], 10, 8, 0, 0, 'school', 0, .35, .05, 'office', 'school', 0.0, .01, name='学校'),
    'wholesaler': C(['5199', '5065', '5131', '5141'], 22, 10, 0, 0, 'wholesale', 0, .45, .50, 'office', 'office', 0.4, .004, name='贸易商行'),
    'bar': C(['5813'], 16, 18, 0, 0, 'bar', 0, .55, .15, 'night', 'bar', 1.3, .001, name='酒吧'),
    'ktv': C(['7911'], 6, 15, 0, 0, 'ktv', 0, .50, .10, 'ktv', 'bar', 1.3, .001, name='KTV'),
    'hotel': C(['7011'], 16, 20, 0, 0, 'hotel', 0, .60, .02, 'hotel', 'hotel', 1.5, .002, name='酒店', terms=(1, 3)),
    'market_stall': C(['5422', '5499', '5411'], 20, 40, 35, .6, 'stall', .55, .10, .70, 'market', 'market', 1.1, .0, name='摊位'),
}
ALLCATS = dict(ORDINARY)
ALLCATS.update(LOOKALIKE)

# ----------------------------------------------------------------------------- issuers
# name, debit weight, credit weight, debit BINs, credit BINs, regional boost
ISSUERS = [
    ('ICBC', 20, 16, ['622202', '621226', '621558', '622208', '621225'], ['625330', '622230', '427020', '524374', '625926'], {}),
    ('CCB', 16, 13, ['621700', '622700', '436742', '621284', '623668'], ['625955', '622280', '532458', '436728', '625964'], {}),
    ('ABC', 15, 7, ['622848', '622845', '621282', '622823'], ['622836', '625996', '520083', '622837'], {}),
    ('BOC', 10, 10, ['621661', '621785', '456351', '621790'], ['625907', '622760', '409666', '518378'], {}),
    ('BOCOM', 5, 7, ['622260', '622262'], ['622252', '521899', '622253', '458123'], {'SH': 1.5}),
    ('CMB', 7, 14, ['621483', '622588', '622609'], ['622575', '439225', '622576', '410062', '552534'], {'SZ': 1.5}),
    ('PSBC', 9, 2, ['621799', '622188', '621098'], ['622812', '628310'], {}),
    ('SPDB', 2.5, 5, ['622521', '621793'], ['622516', '625957', '404738'], {'SH': 1.6}),
    ('CITIC', 2, 5.5, ['622690', '621768'], ['622918', '433670', '556617', '625919'], {}),
    ('CEB', 2, 4, ['622660', '621489'], ['622661', '625978'], {}),
    ('CIB', 3, 5, ['622909', '622908'], ['625087', '451289', '622901'], {'HZ': 1.3}),
    ('CMBC', 2, 4, ['622622', '621691'], ['622617', '545392', '415599'], {}),
    ('PINGAN', 2, 6, ['622155', '623058'], ['622156', '625360', '622157'], {'SZ': 1.8}),
    ('CGB', 1.5, 5, ['621462', '622568'], ['628260', '625809', '406365'], {'GZ': 2.0}),
    ('HXB', 1, 2, ['622632'], ['622638', '628318'], {}),
    ('BOSH', 0.5, 0.5, ['622892', '621050'], ['622985', '625099'], {'SH': 8}),
    ('HZBANK', 0.5, 0.4, ['621652', '603367'], ['625800'], {'HZ': 9}),
    ('RCB', 1.5, 0.3, ['621067', '622478', '621088'], ['625136'], {}),
]
PREPAID_BINS = ['623526', '620058', '623171']
FOREIGN_BINS = ['414720', '426684', '542418', '552433', '490606', '356895']
DECLINE_CODES = ['51', '55', '05', '61', '54', '14', '91', '96', '57', '65']
DECLINE_W = [35, 20, 14, 9, 5, 3, 5, 2, 5, 2]


# ----------------------------------------------------------------------------- small helpers
def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam < 30:
        L, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= rng.random()
            if p <= L:
                return k
            k += 1
    return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))


def wchoice(rng, items, weights):
    return rng.choices(items, weights)[0]


def snap_price(rng, v):
    """Retail list prices: 59, 299, 1299, 4999, 398 ..."""
    if v < 15:
        return max(1, round(v))
    end = rng.random()
    if v < 100:
        step = 10
    elif v < 2000:
        step = 10 if (v < 500 and rng.random() < .6) else 100
    else:
        step = 100 if rng.random() < .65 else 1000
    base = int(round(v / step)) * step
    base = max(base, 10)
    if end < .55:
        return base - 1
    if end < .85:
        return base - 2
    return base


def yuan_jiao_fen(rng, v, pw, pj=.45):
    """v in CNY; whole yuan with prob pw, else to the jiao or the fen."""
    if rng.random() < pw:
        return max(1, int(round(v))) * 100
    f = max(1, int(round(v * 100)))
    if rng.random() < pj:
        f = max(10, f // 10 * 10)
    if f % 100 == 0:
        f += rng.choice([10, 50, 80, 30, 60])
    return f


# ----------------------------------------------------------------------------- generator
class World:
    def __init__(self, seed, n_merchants=1200, target_txn=1_500_000):
        self.seed = seed
        self.rng = random.Random(seed)
        self.n = n_merchants
        self.target = target_txn
        self.cards_tok, self.cards_type, self.cards_bin = [], [], []
        self.idctr = 0
        self.merchants = []
        self.out = []          # (t, line)
        self.used_ids = set()
        self.term_ids = set()

    # ids ------------------------------------------------------------------
    def uid(self, prefix):
        self.idctr += 1
        h = hashlib.blake2b(f'{self.seed}:{self.idctr}'.encode(), digest_size=10).hexdigest()
        return prefix + h

    def new_card(self, ctype, bin_, salt=''):
        i = len(self.cards_tok)
        tok = 'c_' + hashlib.sha256(f'{self.seed}/card/{i}/{salt}'.encode()).hexdigest()[:24]
        self.cards_tok.append(tok)
        self.cards_type.append(ctype)
        self.cards_bin.append(bin_)
        return i

    def new_terminal_id(self, rng):
        while True:
            v = rng.choice(['PAX', 'NLD', 'LDI', 'CTM', 'SZX'])
            tid = f'{v}{rng.randint(10, 99)}{rng.choice("ABCDEFGHJKMNPQRSTUVWXYZ")}{rng.randint(100000, 999999)}'
            if tid not in self.term_ids:
                self.term_ids.add(tid)
                return tid

    # ------------------------------------------------------------------ portfolio
    def build(self):
        rng = self.rng
        plan = []   # (label, scenario, cat or None, extra)
        for kind, c in LOOKALIKE.items():
            plan += [('lookalike', kind, kind, {})] * c['n']
        fraud_plan = [('naive_cashout', 10), ('structuring_cashout', 12), ('near_round_cashout', 20),
                      ('cents_cashout', 4), ('part_time_cashout', 10), ('bust_out', 8), ('card_testing', 6)]
        for sc, k in fraud_plan:
            plan += [('fraud', sc, None, {})] * k
        ring_sizes = [5, 6, 4]
        for r, k in enumerate(ring_sizes):
            plan += [('fraud', 'ring_cashout', None, {'ring': r})] * k
        comp = [('relocation', 8), ('mcc_jumping', 7), ('settlement_churn', 5)]
        for sc, k in comp:
            plan += [('compliance', sc, None, {})] * k
        for g, k in enumerate([3, 4]):
            plan += [('compliance', 'shared_account', None, {'group': g})] * k
        for g, k in enumerate([2, 3]):
            plan.append(('compliance', 'terminal_lender', None, {'tgroup': g}))
            plan += [('compliance', 'terminal_borrower', None, {'tgroup': g})] * (k - 1)
        n_legit = self.n - len(plan)
        okeys = list(ORDINARY)
        ow = [ORDINARY[k]['n'] for k in okeys]
        for _ in range(n_legit):
            plan.append(('legit', 'legit', None, {}))
        rng.shuffle(plan)

        front_keys = ['tobacco_liquor', 'clothing', 'convenience', 'restaurant', 'mobile_phone', 'electronics',
                      'cosmetics', 'supermarket', 'beauty_spa', 'hardware', 'jeweller', 'furniture', 'wholesaler', 'appliance']
        front_w = [3, 2, 2, 2, 2, 1.5, 1, 1, 1, 1, 1.5, 1, 1.5, 1]
        cities = list(CITY)
        # groups must share a city
        group_city = {}
        ids = rng.sample(range(100000, 999999), self.n)
        for idx, (label, scen, cat, extra) in enumerate(plan):
            gkey = None
            if 'ring' in extra:
                gkey = ('ring', extra['ring'])
            elif 'group' in extra:
                gkey = ('acct', extra['group'])
            elif 'tgroup' in extra:
                gkey = ('term', extra['tgroup'])
            if gkey and gkey in group_city:
                city = group_city[gkey]
            else:
                city = wchoice(rng, cities, [CITY[c]['share'] for c in cities])
                if gkey:
                    group_city[gkey] = city
            if cat is None:
                if label == 'legit' or label == 'compliance':
                    cat = wchoice(rng, okeys, ow)
                elif scen == 'card_testing':
                    cat = wchoice(rng, ['convenience', 'fruit_veg', 'fast_food', 'bakery_cafe', 'pharmacy'], [3, 1, 2, 1, 1])
                else:
                    cat = wchoice(rng, front_keys, front_w)
            m = dict(idx=idx, label=label, scenario=scen, cat=cat, extra=extra, city=city, acq=CITY[city]['acq'],
                     id=f'M{city}{ids[idx]:06d}{rng.randint(10, 99)}')
            self.make_merchant(m, rng)
            self.merchants.append(m)
        self.scale_volume()

    def make_merchant(self, m, rng):
        c = ALLCATS[m['cat']]
        m['catd'] = c
        cityd = CITY[m['city']]
        di = wchoice(rng, range(len(cityd['districts'])), [x[3] for x in cityd['districts']])
        dn, dlat, dlon, _ = cityd['districts'][di]
        m['district'] = di
        m['lat'], m['lon'] = jitter(rng, dlat, dlon, 2500)
        m['mcc'] = rng.choice(c['mcc'])
        frag = '鑫盛福华联佳美鸿顺兴隆乐康安金源和泰丰恒嘉百万宏新博悦锦众旺'
        m['name'] = f"{cityd['name']}{dn}{rng.choice(frag)}{rng.choice(frag)}{c['noun']}"
        m['acct'] = 'acct_' + hashlib.sha256(f'{self.seed}/acct/{m["id"]}'.encode()).hexdigest()[:20]
        # size: heavy-tailed
        size = rng.lognormvariate(0, 0.9)
        if rng.random() < 0.03:
            size *= rng.uniform(3, 8)          # flagship / busy outlet
        base = c['med'] * size
        if m['label'] == 'fraud' and m['scenario'] != 'card_testing':
            base *= rng.choice([0.3, 0.6, 1.0, 1.0, 2.0]) * rng.uniform(0.7, 1.3)   # shop fronts of varying size
        m['base'] = base
        m['amed'] = c['amt'] * rng.lognormvariate(0, 0.25) if c['amt'] else 0
        m['cr'] = min(.95, max(.03, c['cr'] * cityd['credit'] + rng.gauss(0, .06)))
        m['decl'] = 0.022 * rng.lognormvariate(0, .4)
        m['shift_ms'] = int(rng.gauss(0, 35) * 60000)
        m['disp'] = rng.uniform(6, 20)
        m['hours'] = c['hours']
        if c['hours'] == 'conv' and rng.random() < .25:
            m['hours'] = 'conv24'
        if m['cat'] == 'pharmacy' and rng.random() < .15:
            m['hours'] = 'conv24'
        # lifecycle
        if m['scenario'] == 'bust_out':
            m['onboard_day'] = rng.randint(-6, 12)
        elif m['label'] == 'legit' and rng.random() < .035:
            m['onboard_day'] = rng.randint(0, 24)
        elif rng.random() < .06:
            m['onboard_day'] = -rng.randint(20, 90)
        else:
            m['onboard_day'] = -rng.randint(100, 2200)
        ob_ms = START_MS + m['onboard_day'] * DAY_MS + rng.randint(9 * HOUR_MS, 17 * HOUR_MS)
        m['onboard_ms'] = ob_ms
        m['active_from'] = ob_ms + rng.randint(2, 30) * HOUR_MS
        m['active_to'] = END_MS
        m['close_ms'] = None
        if m['label'] == 'legit' and m['onboard_day'] < -30 and rng.random() < .008:
            m['close_ms'] = START_MS + rng.randint(8, 27) * DAY_MS + 20 * HOUR_MS
            m['active_to'] = m['close_ms'] - HOUR_MS
        # closed days (small owner-run shops rest now and then, some go home for National Day)
        m['closed'] = set()
        if base < 25 and c['dow'] not in ('office', 'school', 'hospital'):
            for d in range(DAYS):
                if rng.random() < .05:
                    m['closed'].add(d)
            if rng.random() < .3:
                s = rng.randint(17, 19)
                m['closed'].update(range(s, s + rng.randint(2, 4)))
        m['terms'] = []
        lo, hi = c.get('terms', (1, 1))
        nt = 1
        if base > 60:
            nt = min(12, 1 + int(base / rng.uniform(40, 90)))
        elif rng.random() < .12:
            nt = 2
        nt = max(lo, min(max(nt, lo), hi if 'terms' in c else 12))
        for k in range(nt):
            self.add_terminal(m, rng, m['active_from'] - rng.randint(1, 60) * 60000, w=1.0 if k == 0 else rng.uniform(.3, 1))
        m['mcc_seg'] = [(0, m['mcc'])]
        m['mismatch'] = None
        m['events'] = []   # (t, kind, fields)
        m['txns'] = []
        m['tactics'] = []
        m['intent'] = []

    def add_terminal(self, m, rng, bound_ms, w=1.0, tid=None, lat=None, lon=None):
        r = rng.random()
        mode = 'none' if r < .22 else ('cell' if r < .37 else 'gps')
        lat0, lon0 = (m['lat'], m['lon']) if lat is None else (lat, lon)
        tl = jitter(rng, lat0, lon0, 20)
        t = dict(id=tid or self.new_terminal_id(rng), mode=mode, w=w, bound=bound_ms, until=END_MS + DAY_MS,
                 pos=[(0, tl[0], tl[1])], old=rng.random() < .15)
        m['terms'].append(t)
        return t

    def scale_volume(self):
        honest = 0.0
        for m in self.merchants:
            act = (m['active_to'] - max(m['active_from'], START_MS)) / DAY_MS
            honest += m['base'] * max(0, min(DAYS, act)) * (1.08 if m['cat'] == 'hotel' else 1.0)
        fraud_est = 70_000
        self.vscale = (self.target - fraud_est) / honest
        for m in self.merchants:
            m['base'] *= self.vscale

    # ------------------------------------------------------------------ cards
    def build_cards(self):
        rng = self.rng
        vol = defaultdict(float)
        for m in self.merchants:
            vol[m['city']] += m['base'] * DAYS
        self.pool = {}     # (city, district, type) -> (idx list, cum weights)
        self.cbins = {}
        for city, cd in CITY.items():
            # issuer weights by city
            dw, cw, dbins, cbins = [], [], [], []
            for name, wd, wc, db, cb, boost in ISSUERS:
                b = boost.get(city, 1.0)
                for x in db:
                    dbins.append(x); dw.append(wd * b / len(db) * rng.uniform(.5, 1.5))
                for x in cb:
                    cbins.append(x); cw.append(wc * b / len(cb) * rng.uniform(.5, 1.5))
            self.cbins[city] = (cbins, cw, dbins, dw)
            ncards = int(vol[city] / 11.0)
            nd = len(cd['districts'])
            dwts = [x[3] for x in cd['districts']]
            tmp = defaultdict(list)
            for _ in range(ncards):
                r = rng.random()
                if r < .42:
                    ct, bn = 'CREDIT', wchoice(rng, cbins, cw)
                elif r < .97:
                    ct, bn = 'DEBIT', wchoice(rng, dbins, dw)
                elif r < .985:
                    ct, bn = 'PREPAID', rng.choice(PREPAID_BINS)
                else:
                    ct, bn = 'UNKNOWN', (rng.choice(FOREIGN_BINS) if rng.random() < .6 else None)
                i = self.new_card(ct, bn)
                di = wchoice(rng, range(nd), dwts)
                tmp[(city, di, ct)].append((i, min(8.0, rng.lognormvariate(0, 0.85))))
            for key, lst in tmp.items():
                self.pool[key] = ([x[0] for x in lst], list(accumulate(x[1] for x in lst)))
        # a small pool of visitors' foreign cards per acquirer
        self.foreign = {}
        for acq in ('acq-east', 'acq-south'):
            lst = []
            for _ in range(1500):
                ct = 'CREDIT' if rng.random() < .8 else 'DEBIT'
                lst.append(self.new_card(ct, rng.choice(FOREIGN_BINS)))
            self.foreign[acq] = lst

    def draw_pool(self, rng, city, di, ct):
        key = (city, di, ct)
        if key not in self.pool:
            key = (city, 0, ct) if (city, 0, ct) in self.pool else (city, di, 'DEBIT')
        idx, cum = self.pool[key]
        return idx[bisect.bisect_left(cum, rng.random() * cum[-1])]

    def pick_type(self, rng, p_credit):
        r = rng.random()
        if r < p_credit:
            return 'CREDIT'
        r = rng.random()
        return 'DEBIT' if r < .965 else ('PREPAID' if r < .985 else 'UNKNOWN')

    def random_card(self, rng, m, p_credit):
        city = m['city']
        r = rng.random()
        ct = self.pick_type(rng, p_credit)
        if r < .012:
            return rng.choice(self.foreign[m['acq']])
        if r < .05:
            city = SISTER[city]
            di = rng.randrange(len(CITY[city]['districts']))
        elif r < .60:
            di = m['district']
        else:
            di = rng.randrange(len(CITY[city]['districts']))
        return self.draw_pool(rng, city, di, ct)

    def build_regulars(self):
        for m in self.merchants:
            rng = random.Random(f'{self.seed}/reg/{m["id"]}')
            reg = m['catd']['reg']
            m['reg_share'] = reg
            if reg <= 0:
                m['regs'] = None
                continue
            n = int(max(3, min(900, m['base'] * DAYS * reg / rng.uniform(3, 5))))
            cards = []
            for _ in range(n):
                ct = self.pick_type(rng, m['cr'])
                di = m['district'] if rng.random() < .85 else rng.randrange(len(CITY[m['city']]['districts']))
                cards.append(self.draw_pool(rng, m['city'], di, ct))
            m['regs'] = (cards, list(accumulate(rng.lognormvariate(0, .8) for _ in cards)))

    def pick_card(self, rng, m, amt_fen):
        if m['regs'] and rng.random() < m['reg_share']:
            cards, cum = m['regs']
            return cards[bisect.bisect_left(cum, rng.random() * cum[-1])]
        p = m['cr']
        if m['amed']:
            p += 0.05 * math.log(max(amt_fen / 100.0, 1) / m['amed'])
        elif amt_fen >= 500_000:
            p += .05
        return self.random_card(rng, m, min(.96, max(.02, p)))

    # ------------------------------------------------------------------ amounts (honest)
    def amount(self, rng, m):
        c = m['catd']
        st = c['style']
        med = m['amed']
        if st == 'cents':
            return yuan_jiao_fen(rng, max(1.0, med * rng.lognormvariate(0, c['sig'])), c['pw'])
        if st == 'menu':
            v = max(3.0, med * rng.lognormvariate(0, c['sig']))
            return yuan_jiao_fen(rng, v, c['pw'], pj=.6)
        if st == 'list':
            n = 1 + (rng.random() < .3) + (rng.random() < .1)
            tot = sum(snap_price(rng, med * rng.lognormvariate(0, c['sig'])) for _ in range(n))
            if rng.random() < m.setdefault('disc', rng.uniform(.05, .45)):
                return max(100, int(tot * rng.choice([.95, .9, .88, .85, .8, .7]) * 10) * 10)
            return tot * 100
        if st == 'fuel':
            if rng.random() < .35:
                return rng.choice([100, 150, 200, 200, 300, 300, 400, 500]) * 100
            price = m.setdefault('fuel_price', rng.uniform(7.62, 8.15))
            litres = rng.uniform(12, 60) if rng.random() < .9 else rng.uniform(80, 300)
            return int(round(litres * price * 100))
        if st == 'service':
            if rng.random() < .07:
                return rng.choice(c['topups']) * 100
            pts = c['points']
            k = 1 + (rng.random() < .25)
            return sum(rng.choice(pts) for _ in range(k)) * 100
        if st == 'tobacco':
            r = rng.random()
            if r < .45:
                return rng.choice([15, 20, 26, 35, 45, 60, 100]) * rng.randint(1, 3) * 100
            if r < .8:
                return rng.choice([230, 260, 300, 450, 650, 1000]) * rng.choice([1, 1, 1, 2, 2, 3, 5]) * 100
            return rng.choice([128, 168, 268, 399, 499, 899, 1099, 1499]) * rng.choice([1, 2, 2, 4, 6]) * 100
        if st == 'stall':
            v = max(2.0, med * rng.lognormvariate(0, c['sig']))
            return yuan_jiao_fen(rng, v, c['pw'], pj=.85)
        if st == 'car':
            r = rng.random()
            if r < .35:
                return rng.choice([2000, 3000, 5000, 5000, 10000, 10000, 20000, 50000]) * 100
            if r < .70:
                price = 160000 * rng.lognormvariate(0, .5)
                if rng.random() < .6:
                    return int(max(10000, min(price, rng.choice([30000, 50000, 50000, 80000, 100000, 150000, 200000]))) // 1000 * 1000) * 100
                return int(price // 100 * 100) * 100
            return yuan_jiao_fen(rng, 900 * rng.lognormvariate(0, .9), .5)
        if st == 'jewel':
            if rng.random() < .65:
                g = max(1.0, 7 * rng.lognormvariate(0, .7))
                v = g * rng.uniform(990, 1080) + rng.choice([0, 80, 120, 200, 300, 500])
                return yuan_jiao_fen(rng, v, .88)
            return snap_price(rng, 4000 * rng.lognormvariate(0, .9)) * 100
        if st == 'furniture':
            r = rng.random()
            if r < .2:
                return rng.choice([1000, 2000, 2000, 3000, 5000]) * 100
            v = 6000 * rng.lognormvariate(0, .8)
            if r < .6:
                return max(1000, int(round(v / 1000)) * 1000) * 100
            if r < .9:
                return max(100, int(round(v / 100)) * 100) * 100
            return int(v) * 100
        if st == 'appliance':
            r = rng.random()
            if r < .12:
                return rng.choice([500, 1000, 1000, 2000]) * 100
            v = 3800 * rng.lognormvariate(0, .75)
            if r < .35:
                return max(100, int(round(v / 100)) * 100) * 100
            return snap_price(rng, v) * 100
        if st == 'hospital':
            r = rng.random()
            if r < .86:
                return yuan_jiao_fen(rng, max(5.0, 160 * rng.lognormvariate(0, 1.0)), .04, pj=.2)
            if r < .95:
                return rng.choice([2000, 3000, 5000, 5000, 10000, 10000, 20000, 30000]) * 100
            return yuan_jiao_fen(rng, 8000 * rng.lognormvariate(0, .9), .02, pj=.2)
        if st == 'school':
            r = rng.random()
            if r < .25:
                return rng.choice([100, 200, 300, 500, 500, 1000]) * 100
            v = 8000 * rng.lognormvariate(0, .7)
            if r < .6:
                return max(500, int(round(v / 100)) * 100) * 100
            if r < .9:
                return max(1000, int(round(v / 1000)) * 1000) * 100
            return yuan_jiao_fen(rng, v, .7)
        if st == 'wholesale':
            v = 4500 * rng.lognormvariate(0, 1.1)
            r = rng.random()
            if r < .15:
                return max(100, int(round(v / 100)) * 100) * 100
            return yuan_jiao_fen(rng, v, .4)
        if st == 'bar':
            return yuan_jiao_fen(rng, max(38.0, 480 * rng.lognormvariate(0, .8)), .9)
        if st == 'ktv':
            return yuan_jiao_fen(rng, max(88.0, 800 * rng.lognormvariate(0, .7)), .93)
        if st == 'hotel':
            return yuan_jiao_fen(rng, max(150.0, 480 * rng.lognormvariate(0, .5)), .8)
        raise ValueError(st)

    # ------------------------------------------------------------------ per-txn helpers
    def day_factor(self, m, d):
        c = m['catd']
        dt = ddate(d)
        k = day_kind(d)
        dow = DOW[c['dow']]
        if k == 'holiday':
            f = max(dow[5], dow[6]) * c['hol'] if c['hol'] > 0 else 0.0
            if c['dow'] == 'hospital':
                f = 0.55 * c['hol'] + 0.2
        elif k == 'makeup':
            f = dow[3]
        else:
            f = dow[dt.weekday()]
        if dt.day in (10, 15) or dt.day <= 1:
            f *= 1.06
        if c['dow'] == 'office' and (dt.day >= 28 or dt.day <= 2):
            f *= 1.35
        if m['cat'] == 'school':
            f *= 1 + 2.5 * math.exp(-d / 4.0)
        if m['cat'] == 'cinema' and k == 'holiday':
            f *= 1.3
        if d in m['closed']:
            f = 0.0
        age = (START_MS + d * DAY_MS - m['onboard_ms']) / DAY_MS
        if age < 60 and m['label'] != 'fraud':
            f *= 0.25 + 0.75 * (1 - math.exp(-max(age, 0) / 12.0))
            if 0 <= age < 2 and m.get('grand_opening'):
                f *= 2.0
        return f

    def offset_ms(self, rng, m):
        cum = PROFILES[m['hours']]
        h = bisect.bisect_left(cum, rng.random() * cum[-1])
        return max(0, h * HOUR_MS + int(rng.random() * HOUR_MS) + m['shift_ms'])

    def term_at(self, rng, m, t):
        act = [x for x in m['terms'] if x['bound'] < t < x['until']]
        if not act:
            return None
        if len(act) == 1:
            return act[0]
        return rng.choices(act, [x['w'] for x in act])[0]

    def fix(self, rng, term, t):
        if term['mode'] == 'none' or rng.random() < .05:
            return None, None
        pos = term['pos'][0]
        for p in term['pos']:
            if p[0] <= t:
                pos = p
        sd = 18 if term['mode'] == 'gps' else rng.uniform(250, 1200)
        la, lo = jitter(rng, pos[1], pos[2], sd)
        return round(la, 6), round(lo, 6)

    def mcc_at(self, rng, m, t):
        mcc = m['mcc_seg'][0][1]
        for s, v in m['mcc_seg']:
            if s <= t:
                mcc = v
        mm = m['mismatch']
        if mm and t >= mm[0] and rng.random() < mm[1]:
            return mm[2]
        return mcc

    def entry(self, rng, term, amt_fen, ct):
        if ct == 'UNKNOWN' and rng.random() < .5:
            return 'UNKNOWN'
        r = rng.random()
        if term['old']:
            return 'CHIP' if r < .88 else ('MAGSTRIPE' if r < .99 else 'MANUAL')
        if amt_fen <= 100_000:
            return 'CONTACTLESS' if r < .36 else 'CHIP' if r < .80 else 'QR' if r < .94 else 'MAGSTRIPE' if r < .985 else 'UNKNOWN'
        return 'CHIP' if r < .82 else 'QR' if r < .90 else 'MAGSTRIPE' if r < .95 else 'CONTACTLESS' if r < .975 else 'MANUAL' if r < .985 else 'UNKNOWN'

    def emit(self, rng, m, t, card, amt, ttype='PURCHASE', resp='00', fict=0, term=None, entry=None, mcc=None, pos=None):
        if t < START_MS or t >= END_MS or t < m['active_from'] or t > m['active_to']:
            return None
        if term is None:
            term = self.term_at(rng, m, t)
            if term is None:
                return None
        if entry is None:
            entry = self.entry(rng, term, amt, self.cards_type[card])
        if mcc is None:
            mcc = self.mcc_at(rng, m, t)
        la, lo = self.fix(rng, term, t) if pos is None else pos
        tx = [t, term['id'], card, ttype, int(amt), mcc, entry, resp, la, lo, fict, term]
        m['txns'].append(tx)
        return tx

    # ------------------------------------------------------------------ honest trade
    def honest(self, m):
        rng = random.Random(f'{self.seed}/honest/{m["id"]}')
        night = m['hours'] in ('night', 'ktv')
        first = -1 if night else 0
        purchases = []
        for d in range(first, DAYS):
            f = self.day_factor(m, max(d, 0))
            lam = m['base'] * f
            if lam <= 0:
                continue
            n = poisson(rng, lam * rng.gammavariate(m['disp'], 1.0 / m['disp']))
            day0 = START_MS + d * DAY_MS
            today = Counter()
            for _ in range(n):
                t = day0 + self.offset_ms(rng, m)
                if m['cat'] == 'hotel' and rng.random() < .55:
                    self.hotel_stay(rng, m, t)
                    continue
                amt = self.amount(rng, m)
                card = self.pick_card(rng, m, amt)
                for _ in range(3):          # people seldom pay twice a day at the same shop
                    if today[card] == 0 or rng.random() < .12:
                        break
                    card = self.pick_card(rng, m, amt)
                today[card] += 1
                if rng.random() < m['decl'] * (1.8 if (t - START_MS) % DAY_MS < 5 * HOUR_MS else 1.0):
                    code = wchoice(rng, DECLINE_CODES, DECLINE_W)
                    if self.cards_type[card] != 'CREDIT' and code == '61':
                        code = '51'
                    self.emit(rng, m, t, card, amt, resp=code)
                    if rng.random() < .4:
                        continue                       # customer pays another way
                    t += rng.randint(25, 200) * 1000
                    if code in ('51', '61', '54', '14', '57', '65'):
                        card = self.pick_card(rng, m, amt)
                tx = self.emit(rng, m, t, card, amt)
                if tx:
                    purchases.append(tx)
        # reversals and refunds
        for tx in purchases:
            r = rng.random()
            if r < .0025:
                self.emit(rng, m, tx[0] + rng.randint(8, 120) * 1000, tx[2], tx[4], 'REVERSAL', term=tx[11], entry=tx[6], mcc=tx[5])
            elif r < .0025 + m['catd']['refund']:
                amt = tx[4] if rng.random() < .7 else max(100, int(tx[4] * rng.uniform(.2, .9)))
                d2 = (tx[0] - START_MS) // DAY_MS + rng.randint(0, 10)
                t2 = START_MS + d2 * DAY_MS + self.offset_ms(rng, m)
                self.emit(rng, m, t2, tx[2], amt, 'REFUND', term=None, entry=tx[6])

    def hotel_stay(self, rng, m, t):
        rate = yuan_jiao_fen(rng, max(180.0, 460 * rng.lognormvariate(0, .45)), 1.0)
        nights = 1 if rng.random() < .6 else rng.randint(2, 5)
        card = self.pick_card(rng, m, rate * nights)
        pre = int(math.ceil((rate * nights / 100 + rng.choice([300, 500, 500, 1000])) / 100.0)) * 100 * 100
        tx = self.emit(rng, m, t, card, pre, 'PREAUTH')
        if not tx:
            return
        out_day = (t - START_MS) // DAY_MS + nights
        t2 = START_MS + out_day * DAY_MS + rng.randint(7 * 60, 13 * 60) * 60000
        amt = rate * nights + (rng.choice([0, 0, 0, 3800, 12650, 6800, 2950]) if rng.random() < .3 else 0)
        self.emit(rng, m, t2, card, min(amt, pre), 'PREAUTH_COMPLETION', term=tx[11])

    # ------------------------------------------------------------------ lifecycle events
    def lifecycle(self, m, rng):
        ev = m['events']
        ev.append((m['onboard_ms'], 'ONBOARDED', dict(registered_mcc=m['mcc'], merchant_name=m['name'], latitude=round(m['lat'], 6),
                                                      longitude=round(m['lon'], 6), settlement_account_token=m['acct'])))
        for t in m['terms']:
            if not t.get('no_bind_event'):
                ev.append((t['bound'], 'TERMINAL_BOUND', dict(terminal_id=t['id'])))
            if t['until'] <= END_MS and not t.get('no_unbind_event'):
                ev.append((t['until'], 'TERMINAL_UNBOUND', dict(terminal_id=t['id'])))
        if m['close_ms']:
            ev.append((m['close_ms'], 'CLOSED', {}))

    def legit_lifecycle_noise(self, m, rng):
        """Ordinary lifecycle changes of honest merchants."""
        if m['onboard_day'] >= 0:
            m['grand_opening'] = rng.random() < .4
            return
        r = rng.random()
        if r < .015:       # one settlement account change
            t = START_MS + rng.randint(1, 28) * DAY_MS + rng.randint(9, 17) * HOUR_MS
            m['acct_changes'] = [(t, 'acct_' + hashlib.sha256(f'{self.seed}/acct2/{m["id"]}'.encode()).hexdigest()[:20])]
        elif r < .025:     # terminal swap (broken device)
            old = m['terms'][0]
            t = START_MS + rng.randint(2, 27) * DAY_MS + rng.randint(9, 12) * HOUR_MS
            old['until'] = t
            nt = self.add_terminal(m, rng, t + rng.randint(5, 90) * 60000, w=old['w'])
            nt['pos'] = [(0, old['pos'][0][1], old['pos'][0][2])]
        elif r < .031:     # the shop moves and tells the acquirer
            t = START_MS + rng.randint(5, 25) * DAY_MS + 8 * HOUR_MS
            cd = CITY[m['city']]
            di = rng.randrange(len(cd['districts']))
            nl = jitter(rng, cd['districts'][di][1], cd['districts'][di][2], 2500)
            m['moves'] = [(t, nl[0], nl[1])]
            for term in m['terms']:
                term['pos'].append((t, nl[0] + rng.gauss(0, 1e-4), nl[1] + rng.gauss(0, 1e-4)))
            m['closed'].update({(t - START_MS) // DAY_MS - 1, (t - START_MS) // DAY_MS})
        elif r < .034:     # registered MCC corrected
            t = START_MS + rng.randint(3, 25) * DAY_MS + 10 * HOUR_MS
            alt = {'5499': '5411', '5411': '5499', '5812': '5814', '5814': '5812', '5651': '5621', '5732': '5722'}.get(m['mcc'])
            if alt:
                m['mcc_seg'].append((t, alt))

    def write_events(self, m):
        ev = m['events']
        for t, acct in m.get('acct_changes', []):
            ev.append((t, 'SETTLEMENT_ACCOUNT_CHANGED', dict(settlement_account_token=acct)))
        for t, la, lo in m.get('moves', []):
            ev.append((t, 'ADDRESS_CHANGED', dict(latitude=round(la, 6), longitude=round(lo, 6))))
        for t, mcc in m['mcc_seg'][1:]:
            ev.append((t, 'MCC_CHANGED', dict(registered_mcc=mcc)))
        for t, kind, f in ev:
            v = dict(event_id=self.uid('me_'), event_time=int(t), acquirer_id=m['acq'], merchant_id=m['id'],
                     terminal_id=f.get('terminal_id'), kind=kind, registered_mcc=f.get('registered_mcc'),
                     merchant_name=f.get('merchant_name'), latitude=f.get('latitude'), longitude=f.get('longitude'),
                     settlement_account_token=f.get('settlement_account_token'))
            self.out.append((int(t), json.dumps({'topic': 'merchantEvents', 'value': v}, ensure_ascii=False, separators=(',', ':'))))

    # ------------------------------------------------------------------ fraud: cash-out
    def farmed_cards(self, rng, m, n_credit, n_debit, fresh_share=.5):
        cr, db = [], []
        cbins, cw, dbins, dw = self.cbins[m['city']]
        # farmers favour a few aggressive credit issuers
        fav = rng.sample(cbins, 3)
        for _ in range(n_credit):
            if rng.random() < fresh_share:
                b = rng.choice(fav) if rng.random() < .4 else wchoice(rng, cbins, cw)
                cr.append(self.new_card('CREDIT', b, salt='farm'))
            else:
                cr.append(self.draw_pool(rng, m['city'], rng.randrange(len(CITY[m['city']]['districts'])), 'CREDIT'))
        for _ in range(n_debit):
            if rng.random() < fresh_share:
                db.append(self.new_card('DEBIT', wchoice(rng, dbins, dw), salt='farm'))
            else:
                db.append(self.draw_pool(rng, m['city'], rng.randrange(len(CITY[m['city']]['districts'])), 'DEBIT'))
        return cr, db

    def fict_amount(self, rng, mode, kr, whole):
        if mode == 'round':
            return rng.choice([1000, 2000, 2000, 3000, 5000, 5000, 8000, 10000, 10000, 20000, 30000]) * 100
        if mode == 'struct':
            k = rng.choice([46, 47, 48, 49, 49, 50, 50])
            v = k * 1000 * (1 - rng.uniform(.004, .02)) if k == 50 else k * 1000 * (1 + rng.uniform(-.02, .02))
            v = min(v, 49_990)
        elif mode == 'near':
            k = rng.randint(*kr)
            v = k * 1000 * (1 + rng.choice([-1, 1]) * rng.uniform(.004, .02))
        else:  # 'odd': no round structure at all
            v = rng.uniform(kr[0] * 1000, kr[1] * 1000)
        if whole:
            step = rng.choice([10, 10, 50, 1])
            return max(100, int(round(v / step)) * step) * 100
        return int(v * 100) + rng.randint(1, 99)

    def cashout_day(self, rng, m, d, cfg):
        """One day of fictitious swipes. cfg keys: target (lo,hi) CNY, mode, kr, whole, mix, pairs, naive, night, cards."""
        target = rng.uniform(*cfg['target'])
        day0 = START_MS + d * DAY_MS
        honest_today = sum(x[4] for x in m['txns'] if day0 <= x[0] < day0 + DAY_MS and x[7] == '00'
                           and x[3] in ('PURCHASE', 'PREAUTH_COMPLETION')) / 100
        cap = rng.uniform(285_000, 299_500) - honest_today if cfg.get('cap') else 10 ** 9
        target = min(target, cap)
        total, ncred = 0, 0
        cr, db = cfg['cards']
        used = m.setdefault('_used', Counter())
        guard = 0
        while total < target and guard < 200:
            guard += 1
            if cfg.get('naive'):
                card = rng.choice(cr[:max(3, len(cr) // 2)]) if rng.random() < .7 else rng.choice(cr)
                nsw = rng.randint(2, 4)
            else:
                card = min(rng.sample(cr, min(4, len(cr))), key=lambda c: used[c])
                nsw = 2 if cfg.get('pairs') and rng.random() < .75 else 1
            used[card] += 1
            if cfg.get('night') and rng.random() < cfg['night']:
                t = day0 + rng.randint(0, 5 * 3600 - 1) * 1000
            else:
                t = day0 + self.offset_ms(rng, m) if m['hours'] not in ('night', 'ktv') else day0 + rng.randint(11 * 3600, 22 * 3600) * 1000
            for k in range(nsw):
                amt = self.fict_amount(rng, cfg['mode'], cfg.get('kr', (2, 20)), cfg.get('whole', True))
                if total + amt / 100 > cap:
                    guard = 999
                    break
                if rng.random() < .045:   # card near its limit
                    self.emit(rng, m, t, card, amt, resp=rng.choice(['51', '61', '61', '05']), fict=1)
                    t += rng.randint(40, 150) * 1000
                    amt = self.fict_amount(rng, cfg['mode'], cfg.get('kr', (2, 20)), cfg.get('whole', True)) // 2 // 100 * 100
                    if amt <= 0:
                        break
                tx = self.emit(rng, m, t, card, amt, fict=1)
                if tx:
                    total += amt / 100
                    ncred += 1
                if cfg.get('naive'):
                    t += rng.randint(30, 400) * 1000
                else:
                    t += (300 + rng.randint(10, 290)) * 1000
            if cfg.get('mix') and ncred >= 4 and db:
                ncred -= 4
                dcard = rng.choice(db)
                tt = t + rng.randint(60, 3600) * 1000
                self.emit(rng, m, tt, dcard, rng.randint(101, 300) * 100 if rng.random() < .8 else rng.randint(10100, 30000), fict=1)
        return total

    def fraud_setup(self, m, rng):
        sc = m['scenario']
        tac = m['tactics']
        if sc == 'naive_cashout':
            tac += ['naive', 'whole_units']
            cards = self.farmed_cards(rng, m, rng.randint(8, 30), 0, fresh_share=.3)
            m['cfg'] = dict(target=(rng.uniform(5e3, 20e3), rng.uniform(25e3, 70e3)), mode='round', whole=True, naive=True,
                            night=rng.choice([0, .1, .3]), cards=cards)
            m['fdays'] = {d for d in range(DAYS) if rng.random() < rng.uniform(.5, .9)}
            m['intent'] = ['repeated_card', 'round_amount', 'credit_debit_mix']
        elif sc == 'structuring_cashout':
            tac += ['structuring', 'near_round', 'whole_units', 'credit_mix', 'card_pairs']
            cards = self.farmed_cards(rng, m, rng.randint(60, 120), rng.randint(10, 25))
            m['cfg'] = dict(target=(240e3, 296e3), mode='struct', whole=True, mix=True, pairs=True, cap=True, cards=cards)
            m['fdays'] = {d for d in range(DAYS) if rng.random() < rng.uniform(.6, .85)}
            m['intent'] = ['structuring', 'near_round_amount', 'round_amount', 'credit_debit_mix', 'swipe_gap']
        elif sc in ('near_round_cashout', 'cents_cashout'):
            whole = sc == 'near_round_cashout'
            kr = (rng.randint(2, 5), rng.randint(10, 25))
            tgt = rng.uniform(15e3, 120e3)
            mix = rng.random() < .8
            pairs = rng.random() < .8
            tac += (['near_round', 'whole_units'] if whole else []) + (['credit_mix'] if mix else []) + (['card_pairs'] if pairs else [])
            per_month = tgt * DAYS * .85 / (sum(kr) / 2 * 1000)
            cards = self.farmed_cards(rng, m, int(max(12, per_month / rng.uniform(4, 8))), int(max(3, per_month / 25)))
            m['cfg'] = dict(target=(tgt * .6, tgt * 1.3), mode='near' if whole else 'odd', kr=kr, whole=whole, mix=mix, pairs=pairs,
                            cap=True, cards=cards)
            m['fdays'] = {d for d in range(DAYS) if rng.random() < rng.uniform(.7, .95)}
            m['intent'] = (['near_round_amount', 'round_amount'] if whole else []) + (['credit_debit_mix'] if mix else []) + \
                          (['swipe_gap'] if pairs else [])
        elif sc == 'part_time_cashout':
            whole = rng.random() < .7
            mix = rng.random() < .5
            tac += (['near_round', 'whole_units'] if whole else []) + (['credit_mix'] if mix else [])
            cards = self.farmed_cards(rng, m, rng.randint(15, 40), rng.randint(3, 8))
            m['cfg'] = dict(target=(20e3, 150e3), mode='near' if whole else 'odd', kr=(2, 15), whole=whole, mix=mix,
                            pairs=rng.random() < .5, cap=True, cards=cards)
            fd = set()
            for _ in range(rng.randint(1, 3)):
                s = rng.randint(0, DAYS - 3)
                fd.update(range(s, s + rng.randint(2, 3)))
            m['fdays'] = fd
            m['intent'] = (['near_round_amount', 'round_amount'] if whole else []) + (['credit_debit_mix'] if mix else [])
        elif sc == 'bust_out':
            tac += ['bust_out', 'whole_units']
            mode = rng.choice(['round', 'near', 'struct'])
            if mode == 'near':
                tac.append('near_round')
            if mode == 'struct':
                tac.append('structuring')
            cards = self.farmed_cards(rng, m, rng.randint(50, 120), 0, fresh_share=.8)
            start = max(0, m['onboard_day'] + 1)
            life = rng.randint(8, 20)
            m['fdays'] = set(range(start, min(DAYS, start + life)))
            m['cfg'] = dict(target=(100e3, 290e3), mode=mode, kr=(5, 40), whole=True, cap=True, cards=cards,
                            night=.05)
            m['ramp_start'] = start
            if start + life < DAYS - 1:
                m['close_ms'] = START_MS + (start + life + rng.randint(1, 4)) * DAY_MS + 10 * HOUR_MS
                if m['close_ms'] >= END_MS:
                    m['close_ms'] = None
                else:
                    m['active_to'] = m['close_ms'] - HOUR_MS
                    for t in m['terms']:
                        t['until'] = m['close_ms'] - 30 * 60000
            m['base'] *= .3
            m['intent'] = ['new_merchant_ramp', 'daily_volume', 'round_amount', 'near_round_amount', 'structuring']
        elif sc == 'card_testing':
            tac += ['card_testing']
            m['intent'] = ['decline_ratio', 'bin_concentration']
        elif sc == 'ring_cashout':
            tac += ['ring', 'card_cycle', 'near_round', 'whole_units', 'credit_mix', 'card_pairs']
            m['intent'] = ['card_spread', 'card_recurrence', 'near_round_amount', 'round_amount', 'credit_debit_mix', 'swipe_gap']

    def fraud_run(self, m):
        rng = random.Random(f'{self.seed}/fraud/{m["id"]}')
        sc = m['scenario']
        if sc in ('naive_cashout', 'structuring_cashout', 'near_round_cashout', 'cents_cashout', 'part_time_cashout', 'bust_out'):
            for d in sorted(m['fdays']):
                cfg = m['cfg']
                if sc == 'bust_out':
                    age = d - m['ramp_start']
                    cfg = dict(cfg, target=(cfg['target'][0] * min(1, .25 + .4 * age), cfg['target'][1] * min(1, .3 + .4 * age)))
                self.cashout_day(rng, m, d, cfg)
        elif sc == 'card_testing':
            self.card_testing(rng, m)

    def card_testing(self, rng, m):
        cbins, cw, dbins, dw = self.cbins[m['city']]
        bins = [rng.choice(cbins) for _ in range(rng.randint(1, 2))] + [rng.choice(dbins)]
        days = rng.sample(range(DAYS), rng.randint(2, 6))
        for d in days:
            n = rng.randint(40, 260)
            night = rng.random() < .45
            t = START_MS + d * DAY_MS + (rng.randint(1 * 3600, 4 * 3600) if night else rng.randint(12 * 3600, 16 * 3600)) * 1000
            term = m['terms'][0]
            ok = []
            for _ in range(n):
                b = bins[0] if rng.random() < .75 else rng.choice(bins)
                card = self.new_card('CREDIT' if b in cbins else 'DEBIT', b, salt='test')
                amt = rng.choice([100, 100, 200, 500, 800, 1000, 1200]) + rng.randint(0, 99) * (rng.random() < .5)
                r = rng.random()
                code = '00' if r < .11 else wchoice(rng, ['14', '54', '05', '51', '55', '57', '41', '43'], [30, 15, 25, 8, 10, 5, 4, 3])
                mode = 'MANUAL' if rng.random() < .6 else 'MAGSTRIPE'
                self.emit(rng, m, t, card, amt, resp=code, fict=1, term=term, entry=mode)
                if code == '00':
                    ok.append(card)
                t += rng.randint(4, 45) * 1000
            for card in ok[: rng.randint(0, 3)]:   # a few live cards used at once for goods
                t += rng.randint(60, 900) * 1000
                self.emit(rng, m, t, card, rng.randint(800, 3000) * 100, fict=1, term=term, entry='MAGSTRIPE')

    def setup_rings(self, rng):
        rings = defaultdict(list)
        for m in self.merchants:
            if m['scenario'] == 'ring_cashout':
                rings[m['extra']['ring']].append(m)
        self.ring_info = {}
        for r, members in rings.items():
            lead = members[0]
            n_cr = rng.randint(70, 150)
            cr, db = self.farmed_cards(rng, lead, n_cr, rng.randint(15, 30), fresh_share=.5)
            uses = defaultdict(list)  # merchant idx -> list of (day, card, nswipes)
            for c in cr:
                s = rng.randint(1, 28)
                home = rng.randrange(len(members))
                moves = rng.random() < .5
                for month in (9, 10):
                    mi = home if (month == 9 or not moves) else (home + 1) % len(members)
                    for k in range(rng.randint(2, 4)):
                        dd = s + rng.randint(1, 6) + 9 * k
                        try:
                            dt = date(2026, month, 1) + timedelta(days=dd - 1)
                        except ValueError:
                            continue
                        d = (dt - START_DATE).days
                        if 0 <= d < DAYS:
                            uses[mi].append((d, c, 2 if rng.random() < .7 else 1))
            for i, m in enumerate(members):
                m['ring_uses'] = uses[i]
                m['ring_debit'] = db
            self.ring_info[r] = dict(members=[m['id'] for m in members], cards=len(cr))

    def ring_run(self, m):
        rng = random.Random(f'{self.seed}/ring/{m["id"]}')
        kr = (3, 30)
        ncred = 0
        daytot = Counter()
        for x in m['txns']:
            if x[7] == '00' and x[3] in ('PURCHASE', 'PREAUTH_COMPLETION'):
                daytot[(x[0] - START_MS) // DAY_MS] += x[4] / 100
        for d, c, nsw in sorted(m['ring_uses']):
            t = START_MS + d * DAY_MS + self.offset_ms(rng, m)
            for k in range(nsw):
                amt = self.fict_amount(rng, 'near', kr, True)
                if daytot[d] + amt / 100 > 295_000:
                    break
                if self.emit(rng, m, t, c, amt, fict=1):
                    daytot[d] += amt / 100
                    ncred += 1
                t += (300 + rng.randint(10, 280)) * 1000
            if ncred >= 4:
                ncred -= 4
                self.emit(rng, m, t + rng.randint(60, 3000) * 1000, rng.choice(m['ring_debit']), rng.randint(101, 300) * 100, fict=1)

    # ------------------------------------------------------------------ compliance
    def compliance_setup(self, rng):
        by = defaultdict(list)
        for m in self.merchants:
            if m['label'] == 'compliance':
                by[m['scenario']].append(m)
        for m in by['relocation']:
            m['tactics'] = ['relocation']
            m['intent'] = ['relocation']
            term = m['terms'][0]
            term['mode'] = 'gps' if rng.random() < .7 else 'cell'
            cd = CITY[m['city']]
            if rng.random() < .55:
                _, la, lo = rng.choice(cd['away'])
                la, lo = jitter(rng, la, lo, 3000)
            else:
                while True:
                    la, lo = jitter(rng, m['lat'], m['lon'], 18000)
                    if km(la, lo, m['lat'], m['lon']) > 14:
                        break
            t = START_MS + rng.randint(0, 20) * DAY_MS + rng.randint(0, 23) * HOUR_MS
            term['pos'].append((t, la, lo))
            if len(m['terms']) > 1 and rng.random() < .5:
                m['terms'][1]['pos'].append((t, la + .001, lo + .001))
        cheap = ['5411', '5411', '5499', '5331', '8062', '8211']
        for m in by['mcc_jumping']:
            m['tactics'] = ['mcc_mismatch']
            m['intent'] = ['mcc_mismatch']
            alt = rng.choice([x for x in cheap if x != m['mcc']])
            m['mismatch'] = (START_MS + rng.randint(0, 15) * DAY_MS, rng.uniform(.4, 1.0), alt)
        for m in by['settlement_churn']:
            m['tactics'] = ['settlement_churn']
            m['intent'] = ['settlement_churn']
            k = rng.randint(2, 4)
            days = sorted(rng.sample(range(1, DAYS), k))
            m['acct_changes'] = [(START_MS + d * DAY_MS + rng.randint(9, 18) * HOUR_MS,
                                  'acct_' + hashlib.sha256(f'{self.seed}/churn/{m["id"]}/{i}'.encode()).hexdigest()[:20])
                                 for i, d in enumerate(days)]
        groups = defaultdict(list)
        for m in by['shared_account']:
            groups[m['extra']['group']].append(m)
        for g, ms in groups.items():
            acct = 'acct_' + hashlib.sha256(f'{self.seed}/shared/{g}'.encode()).hexdigest()[:20]
            for i, m in enumerate(ms):
                m['tactics'] = ['shared_account']
                m['intent'] = ['settlement_churn']
                if i == 0 or rng.random() < .6:
                    m['acct'] = acct
                else:
                    m['acct_changes'] = [(START_MS + rng.randint(1, 20) * DAY_MS + 11 * HOUR_MS, acct)]
        tg = defaultdict(list)
        for m in by['terminal_lender'] + by['terminal_borrower']:
            tg[m['extra']['tgroup']].append(m)
        for g, ms in tg.items():
            lender = [m for m in ms if m['scenario'] == 'terminal_lender'][0]
            borrowers = [m for m in ms if m['scenario'] == 'terminal_borrower']
            lender['tactics'] = ['terminal_lent']
            lender['intent'] = []
            if len(lender['terms']) < 2:
                self.add_terminal(lender, rng, lender['terms'][0]['bound'] + rng.randint(30, 300) * DAY_MS // 10)
                lender['terms'][-1]['bound'] = min(lender['terms'][-1]['bound'], START_MS - DAY_MS)
            lent = lender['terms'][-1]
            dl = START_MS + rng.randint(3, 15) * DAY_MS + rng.randint(9, 18) * HOUR_MS
            shared_site = len(borrowers) >= 2     # food-court: all use the device at once
            if not shared_site:
                lent['until'] = dl - HOUR_MS
                lent['no_unbind_event'] = True
            for b in borrowers:
                if not shared_site:      # the borrower's own device was retrieved; it now swipes on the lender's
                    b['terms'][0]['until'] = dl - 2 * HOUR_MS
                b['tactics'] = ['terminal_double_bound']
                b['intent'] = ['terminal_sharing']
                if shared_site:
                    b['lat'], b['lon'] = jitter(rng, lender['lat'], lender['lon'], 40)
                    b['district'] = lender['district']
                    for bt0 in b['terms']:
                        bt0['pos'] = [(0, b['lat'] + rng.gauss(0, 1e-4), b['lon'] + rng.gauss(0, 1e-4))]
                bt = dict(id=lent['id'], mode=lent['mode'], w=rng.uniform(.6, 1.5), bound=dl, until=END_MS + DAY_MS,
                          pos=[(0, b['lat'] + rng.gauss(0, 1e-4), b['lon'] + rng.gauss(0, 1e-4))], old=lent['old'])
                b['terms'].append(bt)

    # ------------------------------------------------------------------ main
    def run(self):
        t0 = time.time()
        self.build()
        self.build_cards()
        self.build_regulars()
        rng = self.rng
        for m in self.merchants:
            mr = random.Random(f'{self.seed}/setup/{m["id"]}')
            if m['label'] == 'legit':
                self.legit_lifecycle_noise(m, mr)
            elif m['label'] == 'fraud':
                self.fraud_setup(m, mr)
        self.compliance_setup(rng)
        self.setup_rings(rng)
        print(f'setup {time.time() - t0:.1f}s, cards {len(self.cards_tok)}', file=sys.stderr)
        self.card_merchants = defaultdict(set)
        self.stats = []
        for i, m in enumerate(self.merchants):
            mr = random.Random(f'{self.seed}/life/{m["id"]}')
            self.honest(m)
            if m['label'] == 'fraud':
                if m['scenario'] == 'ring_cashout':
                    self.ring_run(m)
                else:
                    self.fraud_run(m)
            self.lifecycle(m, mr)
            self.write_events(m)
            self.finish_merchant(m)
        print(f'generated {len(self.out)} events in {time.time() - t0:.1f}s', file=sys.stderr)

    def finish_merchant(self, m):
        m['txns'].sort(key=lambda x: x[0])
        self.metrics(m)
        ctok, ctyp, cbin = self.cards_tok, self.cards_type, self.cards_bin
        for tx in m['txns']:
            t, tid, card, ttype, amt, mcc, entry, resp, la, lo, fict, _ = tx
            v = dict(txn_id=self.uid('tx_'), event_time=t, acquirer_id=m['acq'], merchant_id=m['id'], terminal_id=tid,
                     card_token=ctok[card], card_bin=cbin[card], card_type=ctyp[card], txn_type=ttype, amount_minor=amt,
                     currency='CNY', mcc=mcc, entry_mode=entry, response_code=resp, latitude=la, longitude=lo)
            self.out.append((t, json.dumps({'topic': 'transactions', 'value': v}, ensure_ascii=False, separators=(',', ':'))))
            self.card_merchants[(m['acq'], card)].add(m['idx'])
        m['ntx'] = len(m['txns'])
        m['txns'] = None

    # ------------------------------------------------------------------ metrics (own-event checks)
    def metrics(self, m):
        tx = m['txns']
        ap = [x for x in tx if x[7] == '00' and x[3] in ('PURCHASE', 'PREAUTH_COMPLETION')]
        s = dict(n=len(tx), n_ap=len(ap))
        amt = sum(x[4] for x in ap)
        s['amt'] = amt
        s['fict_amt'] = sum(x[4] for x in ap if x[10])
        s['fict_n'] = sum(1 for x in tx if x[10])
        cred = sum(x[4] for x in ap if self.cards_type[x[2]] == 'CREDIT')
        s['credit_share'] = cred / amt if amt else 0
        s['credit_share_n'] = sum(1 for x in ap if self.cards_type[x[2]] == 'CREDIT') / len(ap) if ap else 0
        s['whole_share'] = sum(1 for x in ap if x[4] % 100 == 0) / len(ap) if ap else 0
        big = [x[4] for x in ap if x[4] >= 100_000]
        s['n_big'] = len(big)
        s['round_share'] = sum(1 for a in big if a % 100_000 == 0) / len(big) if big else 0
        b5 = [x[4] for x in ap if x[4] >= 500_000]
        nr = 0
        for a in b5:
            k = round(a / 100_000) * 100_000
            if a != k and abs(a - k) <= .02 * k:
                nr += 1
        s['n_5k'] = len(b5)
        s['near_share'] = nr / len(b5) if b5 else 0
        s['struct_n'] = sum(1 for x in ap if 4_500_000 <= x[4] < 5_000_000)
        s['struct_share_big'] = s['struct_n'] / len(big) if big else 0
        daytot = Counter()
        dayatt, daydec = Counter(), Counter()
        night = 0
        for x in tx:
            d = (x[0] - START_MS) // DAY_MS
            if x[3] == 'PURCHASE':
                dayatt[d] += 1
                if x[7] != '00':
                    daydec[d] += 1
        for x in ap:
            d = (x[0] - START_MS) // DAY_MS
            daytot[d] += x[4]
            if (x[0] - START_MS) % DAY_MS < 5 * HOUR_MS:
                night += x[4]
        s['night_share'] = night / amt if amt else 0
        s['max_day'] = max(daytot.values()) / 100 if daytot else 0
        s['struct_days'] = sum(1 for v in daytot.values() if 27_000_000 <= v < 30_000_000)
        s['decl_days'] = sum(1 for d in dayatt if dayatt[d] >= 20 and daydec[d] / dayatt[d] > .3)
        # same card on same terminal per day
        per = Counter((x[2], x[1], (x[0] - START_MS) // DAY_MS) for x in ap)
        s['rep_days'] = sum(1 for v in per.values() if v > 2)
        # gaps of the same card within a day at this merchant
        last = {}
        gaps = []
        for x in ap:
            key = x[2]
            d = (x[0] - START_MS) // DAY_MS
            if key in last and last[key][1] == d:
                gaps.append((x[0] - last[key][0]) / 1000)
            last[key] = (x[0], d)
        s['n_gaps'] = len(gaps)
        s['gap_5_10'] = sum(1 for g in gaps if 300 <= g <= 600) / len(gaps) if gaps else 0
        # card recurrence: share of volume from cards seen here in both September and October
        months = defaultdict(set)
        for x in ap:
            months[x[2]].add(datetime.fromtimestamp(x[0] / 1000, TZ).month)
        rec = sum(x[4] for x in ap if len(months[x[2]]) >= 2)
        s['recur_share'] = rec / amt if amt else 0
        # BIN concentration over attempts (cards >= 10)
        binc = Counter(self.cards_bin[x[2]] for x in tx if x[3] == 'PURCHASE')
        bcards = defaultdict(set)
        for x in tx:
            bcards[self.cards_bin[x[2]]].add(x[2])
        tot = sum(binc.values())
        top = binc.most_common(1)
        s['bin_share'] = top[0][1] / tot if top and len(bcards[top[0][0]]) >= 10 else 0
        s['mcc_mis'] = sum(1 for x in tx if x[5] != self.registered_mcc(m, x[0]))
        dmax = 0.0
        for x in tx:
            if x[8] is not None:
                reg = self.registered_pos(m, x[0])
                dmax = max(dmax, km(x[8], x[9], reg[0], reg[1]))
        s['max_km'] = dmax
        s['avg_ticket'] = amt / len(ap) / 100 if ap else 0
        s['days_active'] = len({(x[0] - START_MS) // DAY_MS for x in tx})
        m['stats'] = s

    def registered_mcc(self, m, t):
        mcc = m['mcc_seg'][0][1]
        for s, v in m['mcc_seg']:
            if s <= t:
                mcc = v
        return mcc

    def registered_pos(self, m, t):
        pos = (m['lat'], m['lon'])
        for s, la, lo in m.get('moves', []):
            if s <= t:
                pos = (la, lo)
        return pos

    def expected(self):
        # peers by registered MCC for high_ticket / night_share
        peers = defaultdict(list)
        for m in self.merchants:
            s = m['stats']
            if s['n_ap'] >= 20:
                peers[m['mcc']].append(m)
        for m in self.merchants:
            s = m['stats']
            exp = []
            if m['label'] in ('fraud', 'compliance'):
                checks = {
                    'credit_debit_mix': s['n_ap'] >= 20 and s['credit_share'] > .8,
                    'repeated_card': s['rep_days'] >= 2,
                    'swipe_gap': s['n_gaps'] >= 5 and s['gap_5_10'] > .5,
                    'round_amount': s['n_big'] >= 10 and s['round_share'] > .3,
                    'near_round_amount': s['n_5k'] >= 10 and s['near_share'] > .4,
                    'structuring': s['struct_days'] >= 3 or (s['n_big'] >= 10 and s['struct_share_big'] > .3),
                    'daily_volume': s['max_day'] > 300_000,
                    'decline_ratio': s['decl_days'] >= 1,
                    'bin_concentration': s['bin_share'] > .5,
                    'card_recurrence': s['recur_share'] > .5,
                    'mcc_mismatch': s['mcc_mis'] > 0,
                    'relocation': s['max_km'] > 10,
                }
                for r in m['intent']:
                    if r in checks and not checks[r]:
                        continue
                    exp.append(r)
                if m['label'] == 'fraud':
                    for r in ('daily_volume', 'structuring'):
                        if checks[r] and r not in exp:
                            exp.append(r)
                    ps = [p for p in peers[m['mcc']] if p is not m and p['label'] in ('legit', 'lookalike')]
                    if len(ps) >= 5 and s['n_ap'] >= 20:
                        la = [math.log(max(p['stats']['avg_ticket'], 1)) for p in ps]
                        mu, sd = statistics.mean(la), statistics.pstdev(la) or 1
                        if (math.log(max(s['avg_ticket'], 1)) - mu) / sd > 3:
                            exp.append('high_ticket')
                        pn = statistics.median(p['stats']['night_share'] for p in ps)
                        if s['night_share'] > max(3 * pn, .05):
                            exp.append('night_share')
            m['expected'] = sorted(set(exp))

    # ------------------------------------------------------------------ output
    def write(self, outdir):
        os.makedirs(outdir, exist_ok=True)
        self.out.sort(key=lambda x: x[0])
        path = os.path.join(outdir, 'events.jsonl.gz')
        with io.TextIOWrapper(gzip.GzipFile(path, 'wb', compresslevel=6, mtime=0), encoding='utf-8') as f:
            for _, line in self.out:
                f.write(line)
                f.write('\n')
        labels = dict(population='blind-py', seed=self.seed, start=START_MS, days=DAYS, historyDays=0, timeZone='+08:00',
                      merchants=[dict(merchant_id=m['id'], acquirer_id=m['acq'], label=m['label'],
                                      scenario=('legit' if m['label'] == 'legit' else m['scenario']),
                                      tactics=m['tactics'], expected_rules=m['expected'])
                                 for m in sorted(self.merchants, key=lambda m: m['id'])])
        with open(os.path.join(outdir, 'labels.json'), 'w') as f:
            json.dump(labels, f, ensure_ascii=False, indent=1)
        # private side file with per-merchant stats (for the README / checks)
        with open(os.path.join(outdir, 'merchant_stats.json'), 'w') as f:
            json.dump([dict(merchant_id=m['id'], label=m['label'], scenario=m['scenario'], cat=m['cat'], mcc=m['mcc'],
                            city=m['city'], onboard_day=m['onboard_day'], terminals=len(m['terms']), ntx=m['ntx'], **m['stats'])
                       for m in self.merchants], f, ensure_ascii=False)
        cm = Counter(len(v) for v in self.card_merchants.values())
        with open(os.path.join(outdir, 'card_spread.json'), 'w') as f:
            json.dump({str(k): v for k, v in sorted(cm.items())}, f)
        with open(os.path.join(outdir, 'rings.json'), 'w') as f:
            json.dump(self.ring_info, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', default='.')
    ap.add_argument('--merchants', type=int, default=1200)
    ap.add_argument('--target', type=int, default=1_500_000)
    a = ap.parse_args()
    w = World(a.seed, a.merchants, a.target)
    w.run()
    w.expected()
    w.write(a.out)
    print(f'wrote {len(w.out)} events to {a.out}', file=sys.stderr)


if __name__ == '__main__':
    main()
