#!/usr/bin/env python3
"""Blind, independent POS-acquiring traffic generator ("blind-north").

November 2026 (Mon 2 Nov .. Tue 1 Dec, UTC+8) for three acquirers in Xi'an/Xianyang,
Zhengzhou/Luoyang and Taiyuan.  Standard library only; deterministic from --seed.
"""
import argparse, bisect, gzip, hashlib, json, math, os, random, sys, time

TZ_MS = 8 * 3600 * 1000
DAY = 86400000
HOUR = 3600000
MIN = 60000
DAYS = 30
import datetime as _dt
START = int(_dt.datetime(2026, 11, 2, tzinfo=_dt.timezone(_dt.timedelta(hours=8))).timestamp() * 1000)
DOUBLE11 = 9            # day index of 11 Nov (Wednesday)
HEATING_ON = 13         # 15 Nov, heating season starts in Xi'an / Zhengzhou / Taiyuan
SNOW_DAY = 18           # 20 Nov, first snow in the north

# ---------------------------------------------------------------- geography
CITIES = {
    # name: (lat, lon, spread_km, acquirer)
    "xian":      (34.3416, 108.9398, 7.0, "xa-qinpay"),
    "xianyang":  (34.3296, 108.7093, 3.5, "xa-qinpay"),
    "zhengzhou": (34.7466, 113.6254, 6.5, "zz-zhongyuan"),
    "luoyang":   (34.6197, 112.4540, 4.0, "zz-zhongyuan"),
    "taiyuan":   (37.8706, 112.5489, 5.5, "ty-jinshang"),
}
CITY_N = {"xian": 450, "xianyang": 100, "zhengzhou": 300, "luoyang": 90, "taiyuan": 260}
ACQ_CODE = {"xa-qinpay": "XQP", "zz-zhongyuan": "ZZY", "ty-jinshang": "TJS"}
FAR_CITY = {"xian": "xianyang", "xianyang": "xian", "zhengzhou": "luoyang", "luoyang": "zhengzhou",
            "taiyuan": "xian"}

def km_to_deg(lat, dn_km, de_km):
    return dn_km / 111.0, de_km / (111.0 * math.cos(math.radians(lat)))

def dist_km(a_lat, a_lon, b_lat, b_lon):
    r = 6371.0
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp = p2 - p1
    dl = math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))

# ---------------------------------------------------------------- categories
# key: (mcc, label, n_weight, base txns/day, hours, weekly, median CNY, sigma, lo, hi, price style,
#       credit propensity, refund rate, regular share)
CATS = {
    "grocery":     ("5411", "超市", 190, 55, "grocery", "retail", 42, 0.85, 2, 1500, "cents", 0.30, 0.004, 0.35),
    "convenience": ("5499", "便利店", 90, 60, "conv24", "flat", 22, 0.7, 1, 400, "cents", 0.25, 0.002, 0.30),
    "restaurant":  ("5812", "餐厅", 170, 32, "restaurant", "food", 110, 0.75, 12, 3000, "yuan", 0.40, 0.003, 0.15),
    "fastfood":    ("5814", "小吃", 70, 60, "fastfood", "food", 28, 0.6, 6, 300, "yuan", 0.25, 0.002, 0.25),
    "bakery":      ("5462", "烘焙", 25, 40, "grocery", "retail", 36, 0.6, 5, 600, "cents", 0.30, 0.002, 0.30),
    "pharmacy":    ("5912", "大药房", 80, 35, "grocery", "flat", 68, 0.9, 5, 3000, "cents", 0.30, 0.005, 0.30),
    "fuel":        ("5541", "加油站", 35, 80, "fuel", "flat", 280, 0.45, 50, 1200, "fuel", 0.35, 0.001, 0.30),
    "dept":        ("5311", "百货", 10, 220, "retail", "retail", 320, 1.0, 10, 20000, "psych", 0.50, 0.02, 0.05),
    "clothing":    ("5651", "服饰", 70, 16, "retail", "retail", 320, 0.7, 29, 5000, "psych", 0.50, 0.04, 0.08),
    "shoes":       ("5661", "鞋店", 25, 12, "retail", "retail", 380, 0.55, 59, 3000, "psych", 0.50, 0.04, 0.05),
    "electronics": ("5732", "数码", 25, 10, "retail", "retail", 1300, 0.9, 29, 15000, "psych", 0.60, 0.02, 0.03),
    "cosmetics":   ("5977", "化妆品", 18, 14, "retail", "retail", 260, 0.7, 19, 4000, "psych", 0.55, 0.03, 0.10),
    "hardware":    ("5251", "五金", 25, 12, "office", "retail", 120, 0.9, 3, 5000, "mixed", 0.35, 0.01, 0.20),
    "building":    ("5211", "建材", 15, 6, "office", "retail", 1800, 1.0, 50, 40000, "yuan", 0.45, 0.01, 0.10),
    "salon":       ("7230", "美发", 50, 14, "salon", "retail", 88, 0.6, 15, 800, "yuan", 0.35, 0.002, 0.35),
    "autorepair":  ("7538", "汽修", 22, 6, "office", "retail", 520, 0.9, 30, 12000, "mixed", 0.50, 0.005, 0.15),
    "carwash":     ("7542", "洗车", 12, 18, "office", "retail", 45, 0.4, 15, 300, "yuan", 0.35, 0.001, 0.35),
    "pets":        ("5995", "宠物", 14, 12, "retail", "retail", 150, 0.8, 10, 3000, "cents", 0.40, 0.01, 0.30),
    "books":       ("5942", "书店", 8, 12, "retail", "retail", 75, 0.6, 8, 800, "cents", 0.35, 0.01, 0.10),
    "sports":      ("5941", "体育用品", 12, 8, "retail", "retail", 420, 0.8, 20, 6000, "psych", 0.50, 0.03, 0.05),
    "toys":        ("5945", "玩具", 8, 8, "retail", "retail", 160, 0.7, 10, 2500, "psych", 0.45, 0.02, 0.05),
    "variety":     ("5331", "百货小店", 20, 25, "grocery", "retail", 30, 0.8, 2, 600, "cents", 0.25, 0.003, 0.20),
    "dentist":     ("8021", "口腔诊所", 8, 6, "office", "retail", 600, 1.0, 50, 20000, "yuan", 0.55, 0.005, 0.05),
    "cinema":      ("7832", "影城", 5, 45, "evening", "food", 70, 0.5, 30, 400, "yuan", 0.40, 0.005, 0.05),
    "florist":     ("5992", "花店", 8, 6, "retail", "retail", 150, 0.7, 19, 2000, "yuan", 0.45, 0.005, 0.10),
    "gym":         ("7997", "健身", 6, 4, "salon", "retail", 300, 1.0, 30, 6000, "yuan", 0.55, 0.01, 0.10),
    "optical":     ("8043", "眼镜", 8, 5, "retail", "retail", 680, 0.7, 30, 6000, "psych", 0.50, 0.01, 0.05),
    "travel":      ("4722", "旅行社", 4, 3, "office", "office", 2600, 0.8, 200, 30000, "yuan", 0.65, 0.05, 0.02),
    "agri":        ("5261", "农资", 5, 5, "office", "retail", 260, 0.9, 10, 8000, "yuan", 0.25, 0.002, 0.30),
    "photo":       ("7221", "影楼", 4, 2, "office", "retail", 3500, 0.9, 200, 30000, "yuan", 0.60, 0.01, 0.02),
    "tea":         ("5499", "茶叶", 8, 5, "retail", "retail", 420, 0.9, 20, 8000, "yuan", 0.55, 0.005, 0.15),
    # look-alike categories (used by look-alike scenarios)
    "cardealer":   ("5511", "汽车销售", 0, 5, "office", "retail", 20000, 1.0, 500, 300000, "round_big", 0.70, 0.01, 0.0),
    "jeweller":    ("5944", "珠宝金店", 0, 6, "retail", "retail", 4800, 0.9, 200, 80000, "gold", 0.65, 0.01, 0.05),
    "furniture":   ("5712", "家具城", 0, 5, "retail", "retail", 5500, 0.9, 200, 60000, "psych", 0.65, 0.02, 0.0),
    "appliance":   ("5722", "家电", 0, 8, "retail", "retail", 3800, 0.8, 99, 40000, "psych", 0.65, 0.02, 0.0),
    "hospital":    ("8062", "医院", 0, 160, "hospital", "flat", 95, 1.1, 3, 50000, "hospital", 0.35, 0.02, 0.05),
    "school":      ("8220", "学院", 0, 8, "office", "school", 3500, 0.8, 50, 30000, "round_mid", 0.45, 0.01, 0.0),
    "training":    ("8299", "培训", 0, 5, "salon", "retail", 5800, 0.6, 300, 30000, "course", 0.55, 0.03, 0.0),
    "wholesale":   ("5099", "批发", 0, 22, "office", "office", 4200, 1.0, 100, 90000, "yuan", 0.45, 0.005, 0.55),
    "bar":         ("5813", "酒吧", 0, 30, "night", "night", 380, 0.8, 30, 8000, "yuan", 0.55, 0.002, 0.10),
    "hotel":       ("7011", "酒店", 0, 22, "hotel", "night", 420, 0.5, 120, 3000, "yuan", 0.50, 0.01, 0.02),
    "stall":       ("5422", "菜市场摊位", 0, 70, "market", "flat", 26, 0.7, 2, 300, "yuan", 0.15, 0.0, 0.70),
    "liquor":      ("5921", "烟酒行", 0, 12, "retail", "retail", 900, 0.9, 25, 30000, "liquor", 0.60, 0.005, 0.20),
    "heating":     ("4900", "热力营业厅", 0, 110, "office", "office", 560, 0.35, 80, 6000, "heating", 0.35, 0.0, 0.0),
    "coal":        ("5983", "煤炭燃料", 0, 10, "office", "retail", 1900, 0.6, 150, 12000, "yuan", 0.30, 0.0, 0.10),
    "truckstop":   ("5541", "物流加油站", 0, 60, "conv24", "flat", 900, 0.6, 100, 4000, "fuel", 0.40, 0.0, 0.40),
}

HOURS = {  # list of (start hour, end hour, weight)
    "grocery": [(7, 9, 1.0), (9, 11, 1.4), (11, 13, 1.3), (13, 17, 1.0), (17, 20, 2.2), (20, 22, 0.9)],
    "conv24": [(0, 2, 0.25), (2, 6, 0.10), (6, 9, 0.9), (9, 12, 0.8), (12, 14, 1.0), (14, 17, 0.7),
               (17, 21, 1.2), (21, 24, 0.6)],
    "restaurant": [(10.5, 11.5, 0.5), (11.5, 13.5, 3.0), (13.5, 14.5, 0.6), (17, 18, 0.8), (18, 20.5, 3.0),
                   (20.5, 22, 0.8)],
    "fastfood": [(6.5, 9, 2.0), (9, 11, 0.6), (11, 13.5, 2.2), (13.5, 17, 0.5), (17, 20, 1.6), (20, 21.5, 0.4)],
    "retail": [(9.5, 11, 0.6), (11, 13, 1.1), (13, 17, 1.2), (17, 20, 1.5), (20, 21.5, 0.6)],
    "office": [(8.5, 12, 1.2), (12, 13.5, 0.5), (13.5, 17.5, 1.2), (17.5, 18.5, 0.2)],
    "salon": [(10, 12, 0.7), (12, 17, 1.0), (17, 21, 1.4)],
    "evening": [(10, 14, 0.5), (14, 18, 0.9), (18, 22, 1.6), (22, 24, 0.5)],
    "night": [(19, 21, 0.4), (21, 24, 1.6), (0, 2, 1.2), (2, 3.5, 0.4)],
    "hotel": [(0, 2, 0.35), (2, 6, 0.08), (7, 12, 0.9), (12, 18, 0.8), (18, 24, 1.2)],
    "hospital": [(0, 7, 0.12), (7, 8, 0.8), (8, 12, 2.5), (12, 14, 0.6), (14, 17.5, 1.6), (17.5, 24, 0.3)],
    "fuel": [(6, 8, 0.9), (8, 11, 1.0), (11, 17, 0.9), (17, 20, 1.2), (20, 23, 0.5)],
    "market": [(5.5, 8, 1.4), (8, 11, 1.8), (11, 16, 0.5), (16, 19, 1.4)],
}
WEEKLY = {
    "retail": [0.92, 0.9, 0.92, 0.95, 1.05, 1.35, 1.3],
    "food": [0.88, 0.88, 0.92, 0.97, 1.2, 1.35, 1.15],
    "office": [1.1, 1.05, 1.0, 1.0, 1.0, 0.35, 0.12],
    "school": [1.2, 1.1, 1.0, 1.0, 0.9, 0.3, 0.15],
    "night": [0.55, 0.6, 0.7, 0.85, 1.45, 1.8, 1.0],
    "flat": [1.0, 1.0, 1.0, 1.0, 1.03, 1.08, 1.0],
}
D11_BOOST = {"appliance": 3.2, "electronics": 2.4, "furniture": 2.5, "clothing": 1.8, "shoes": 1.6,
             "cosmetics": 2.2, "jeweller": 1.8, "dept": 1.7, "sports": 1.5, "toys": 1.4, "grocery": 1.2,
             "liquor": 1.4}

BINS_CREDIT = [("622575", 8), ("625802", 6), ("628262", 4), ("436742", 6), ("518905", 3), ("622155", 4),
               ("625907", 4), ("622689", 3), ("625965", 3), ("524090", 2), ("62258811", 2), ("356827", 1),
               ("625180", 2), ("622836", 2)]
BINS_DEBIT = [("622848", 10), ("621700", 10), ("622202", 9), ("621226", 6), ("621483", 4), ("622588", 4),
              ("621799", 3), ("622700", 4), ("621661", 3), ("623668", 2), ("62170012", 2), ("621462", 2),
              ("623059", 2), ("621785", 2)]
LOCAL_BANK_DEBIT = {"xian": "621467", "xianyang": "621467", "zhengzhou": "623196", "luoyang": "621557",
                    "taiyuan": "623193"}
BINS_PREPAID = [("623208", 3), ("622189", 1)]
FLEET_BIN = "622176"


def wpick(rng, items):
    tot = sum(w for _, w in items)
    x = rng.random() * tot
    for v, w in items:
        x -= w
        if x < 0:
            return v
    return items[-1][0]


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    l = math.exp(-lam)
    k, p = 0, 1.0
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1


def has_luhn_run(s):
    run = ""
    for ch in s + "x":
        if ch.isdigit():
            run += ch
        else:
            if len(run) >= 13:
                return True   # be strict: never emit any 13+ digit run at all
            run = ""
    return False


def token(prefix, *parts):
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    # map hex digits a-f and 0-9 to a letter-rich alphabet so no long digit runs appear
    alpha = "abcdefghjkmnpqrstuvwxyz23456789"
    n = int(h, 16)
    out = []
    for _ in range(24):
        n, r = divmod(n, len(alpha))
        out.append(alpha[r])
    t = prefix + "".join(out)
    assert not has_luhn_run(t)
    return t


# ---------------------------------------------------------------- world objects
class Card:
    __slots__ = ("tok", "bin", "ctype", "stmt", "city")

    def __init__(self, tok, b, ctype, stmt, city):
        self.tok, self.bin, self.ctype, self.stmt, self.city = tok, b, ctype, stmt, city


class Pool:
    """Card population of one city, split by funding type, with activity weights."""

    def __init__(self, seed, city, n, rng):
        self.city = city
        self.by = {"CREDIT": [], "DEBIT": [], "PREPAID": []}
        self.cum = {}
        for i in range(n):
            r = rng.random()
            if r < 0.40:
                ct, b = "CREDIT", wpick(rng, BINS_CREDIT)
            elif r < 0.975:
                ct = "DEBIT"
                b = LOCAL_BANK_DEBIT[city] if rng.random() < 0.12 else wpick(rng, BINS_DEBIT)
            else:
                ct, b = "PREPAID", wpick(rng, BINS_PREPAID)
            c = Card(token("ct_", seed, city, i), b, ct, rng.randint(1, 28), city)
            w = rng.lognormvariate(0, 0.75)
            self.by[ct].append((c, w))
        for ct, lst in self.by.items():
            acc, cum = 0.0, []
            for _, w in lst:
                acc += w
                cum.append(acc)
            self.cum[ct] = cum

    def pick(self, rng, ctype):
        lst, cum = self.by[ctype], self.cum[ctype]
        return lst[bisect.bisect_left(cum, rng.random() * cum[-1])][0]

    def all_cards(self, ctype):
        return [c for c, _ in self.by[ctype]]


class Merchant:
    def __init__(self, idx):
        self.idx = idx
        self.terms = []          # [tid, lat, lon, gps]
        self.tactics = []
        self.events = []


# ---------------------------------------------------------------- the generator
class Gen:
    def __init__(self, seed):
        self.seed = seed
        self.rng = random.Random(f"blind-north:{seed}")
        self.txns = []           # tuples, see emit()
        self.mevents = []        # tuples, see mev()
        self.merchants = []
        self.term_seq = 0
        self.acct_seq = 0

    # ---------------- helpers
    def sub(self, *parts):
        return random.Random("|".join(str(p) for p in [self.seed] + list(parts)))

    def new_tid(self, rng):
        self.term_seq += 1
        vendor = rng.choice(["PAXA920", "NL-N910", "LDI-A8", "SUNMI-P2", "CTN-V80"])
        return "%s-%s%05d" % (vendor, "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3)),
                               self.term_seq)

    def new_acct(self, tag):
        self.acct_seq += 1
        return token("sa_", self.seed, "acct", tag, self.acct_seq)

    def mev(self, t, m, kind, tid=None, mcc=None, name=None, lat=None, lon=None, acct=None):
        self.mevents.append((int(t), m.idx, kind, tid, mcc, name, lat, lon, acct))

    def emit(self, t, m, term, card, ttype, amt_fen, mcc, entry, rc="00", loc=None):
        """loc: None -> terminal fix near terminal registered place; 'none' -> no fix; (lat,lon)."""
        if amt_fen < 1:
            amt_fen = 1
        if t < m.ready or t >= START + DAYS * DAY or t < START or t >= m.closed:
            return
        if m.unbound and t >= m.unbound.get(term[0], t + 1):
            return
        if loc is None:
            if term[3]:
                lat, lon = term[1], term[2]
            else:
                lat = lon = None
        elif loc == "none":
            lat = lon = None
        else:
            lat, lon = loc
        self.txns.append((int(t), m.idx, term[0], card.tok, card.bin, card.ctype, ttype, int(amt_fen), mcc,
                          entry, rc, lat, lon))

    # ---------------- world
    def build(self):
        rng = self.rng
        # merchant plan: (label, scenario) list
        plan = []
        fraud = [("blatant_cashout", 6), ("structuring_cashout", 9), ("playbook_cashout", 12),
                 ("card_ring", 12), ("hidden_in_large_business", 7), ("part_time_cashout", 9),
                 ("night_cashout", 5), ("travelling_terminal_cashout", 6), ("mcc_jump_cashout", 5),
                 ("new_merchant_bustout", 7), ("subtle_evader", 8), ("account_hopping_cashout", 4)]
        for s, n in fraud:
            plan += [("fraud", s)] * n
        plan += [("fraud", "card_testing")] * 5
        comp = [("relocation", 8), ("mcc_mismatch", 8), ("mcc_jumping", 4), ("terminal_sharing", 8),
                ("settlement_churn", 4), ("shared_settlement_account", 4)]
        for s, n in comp:
            plan += [("compliance", s)] * n
        look = [("car_dealer", 12), ("jeweller", 15), ("furniture_store", 12), ("appliance_store", 14),
                ("hospital", 8), ("school", 10), ("training_center", 10), ("wholesaler", 12), ("bar", 12),
                ("hotel", 14), ("market_stall", 12), ("liquor_tobacco", 10), ("salon_membership", 8),
                ("heating_fee_hall", 4), ("coal_dealer", 4), ("truck_stop_fleet", 4),
                ("grand_opening", 4)]
        for s, n in look:
            plan += [("lookalike", s)] * n
        total = sum(CITY_N.values())
        ordinary = total - len(plan)
        plan += [("legit", "ordinary")] * ordinary
        rng.shuffle(plan)
        # group scenarios that need several merchants in one city: card_ring (3 rings of 4),
        # terminal_sharing (pairs), shared_settlement_account (one family of 4)
        cities = []
        for c, n in CITY_N.items():
            cities += [c] * n
        rng.shuffle(cities)
        # put multi-merchant groups in one city: reassign cities for them
        groups = {}
        for i, (lab, sc) in enumerate(plan):
            if sc in ("card_ring", "terminal_sharing", "shared_settlement_account"):
                groups.setdefault(sc, []).append(i)
        gid = {}
        for sc, idxs in groups.items():
            size = {"card_ring": 4, "terminal_sharing": 2, "shared_settlement_account": 4}[sc]
            for g in range(0, len(idxs), size):
                members = idxs[g:g + size]
                city = cities[members[0]]
                for k in members[1:]:
                    # swap city with someone in that city not in a group
                    if cities[k] != city:
                        for j in range(len(cities)):
                            if cities[j] == city and plan[j][1] not in groups:
                                cities[j], cities[k] = cities[k], cities[j]
                                break
                for k in members:
                    gid[k] = (sc, g // size, members)
        self.groups = gid
        # expected city volumes to size card pools
        self.city_cards = {}
        for c in CITIES:
            n = CITY_N[c] * 75
            self.city_cards[c] = n
        self.pools = {c: Pool(self.seed, c, self.city_cards[c], self.sub("pool", c)) for c in CITIES}
        for i, (lab, sc) in enumerate(plan):
            m = Merchant(i)
            m.label, m.scenario, m.city = lab, sc, cities[i]
            m.acq = CITIES[m.city][3]
            self.merchants.append(m)

    # ---------------- merchant setup (registration, terminals, onboarding)
    def setup(self, m, cat, rng, onboard=None, size=None, nterm=None, at=None):
        m.cat = cat
        c = CATS[cat]
        m.mcc = c[0]
        clat, clon, spread, _ = CITIES[m.city]
        dn, de = rng.gauss(0, spread), rng.gauss(0, spread)
        dlat, dlon = km_to_deg(clat, dn, de)
        m.lat, m.lon = round(clat + dlat, 6), round(clon + dlon, 6)
        if at is not None:
            m.lat, m.lon = at
        m.id = "%s-%s-%06d" % (ACQ_CODE[m.acq], m.mcc, 100000 + m.idx * 7 + rng.randint(0, 6))
        street = rng.choice(["长安", "雁塔", "未央", "建设", "人民", "解放", "迎泽", "中原", "金水", "文化", "和平",
                             "南大", "北关", "东风", "西湖", "青年", "光明", "兴华", "纬二", "经三"])
        m.name = "%s路%s%s" % (street, rng.choice(["鑫", "福", "顺", "华", "盛", "隆", "佳", "惠", "鼎", "安", "瑞", "德"]),
                               c[1])
        if size is None:
            size = min(8.0, rng.lognormvariate(-0.15, 0.7))
        m.size = size
        if onboard is None:
            onboard = START - int(rng.uniform(95, 2600) * DAY) - rng.randint(0, DAY)
        m.onboard = onboard
        m.ready = onboard + 4 * HOUR          # terminals are bound within 3 hours of onboarding
        m.closed = START + 10 * DAYS * DAY
        m.unbound = {}
        m.acct = self.new_acct(m.idx)
        self.mev(onboard, m, "ONBOARDED", mcc=m.mcc, name=m.name, lat=m.lat, lon=m.lon, acct=m.acct)
        if nterm is None:
            nterm = 1 + int(size > 1.6) + int(size > 3.0) + int(size > 5.0)
        for k in range(nterm):
            self.add_terminal(m, rng, onboard + rng.randint(60000, 3 * HOUR))
        m.reg = set()
        return m

    def add_terminal(self, m, rng, t, gps=None):
        tid = self.new_tid(rng)
        dlat, dlon = km_to_deg(m.lat, rng.gauss(0, 0.04), rng.gauss(0, 0.04))
        if gps is None:
            gps = rng.random() < 0.85
        term = [tid, round(m.lat + dlat, 6), round(m.lon + dlon, 6), gps]
        m.terms.append(term)
        self.mev(t, m, "TERMINAL_BOUND", tid=tid)
        return term

    # ---------------- amount models (return fen)
    def amount(self, rng, m, style=None):
        c = CATS[m.cat]
        med, sig, lo, hi = c[6], c[7], c[8], c[9]
        style = style or c[10]
        x = min(hi, max(lo, rng.lognormvariate(math.log(med), sig)))
        if style == "cents":
            return int(x * 100) // 10 * 10 + (rng.choice([0, 0, 5]) if rng.random() < 0.3 else rng.randint(0, 9))
        if style == "yuan":
            if rng.random() < 0.12:
                return int(x * 10) * 10           # x.x jiao (discounts)
            return int(x) * 100
        if style == "mixed":
            return int(x) * 100 if rng.random() < 0.55 else int(x * 100)
        if style == "psych":
            if x < 100:
                return (int(x / 10) * 10 + 9) * 100 - (100 if rng.random() < 0.2 else 0) or 900
            if rng.random() < 0.2:                 # discounted at till -> odd
                return int(x * 100)
            base = int(x / 100) * 100
            return (base + rng.choice([99, 98, 89, 69, 59, 49, 29])) * 100
        if style == "fuel":
            price = rng.choice([7.42, 7.89, 8.36, 7.05])    # 92/95/98/diesel per litre
            if rng.random() < 0.35:
                return int(round(x / 50)) * 5000 or 10000    # "fill 200 yuan"
            return int(x / price * 100) * int(price * 100) // 100
        if style == "gold":
            if rng.random() < 0.3:                 # jade / diamond ticket prices
                return rng.choice([2680, 3880, 5800, 6800, 8800, 12800, 16800, 26800]) * 100
            grams = rng.uniform(1.5, 40)
            return int(grams * 928 * 100 + rng.choice([0, 8000, 12000, 15000, 20000]))
        if style == "round_big":
            r = rng.random()
            if r < 0.35:
                return rng.choice([2000, 5000, 5000, 10000, 10000, 20000]) * 100   # deposits
            if r < 0.55:
                return int(rng.uniform(300, 6000) * 100)                         # service/parts
            return int(min(x, 49999) if rng.random() < 0.6 else x) * 100         # down payments
        if style == "round_mid":
            return rng.choice([800, 1200, 2400, 3600, 4500, 5000, 6800, 9000, 12000]) * 100 if rng.random() < 0.8 \
                else int(x) * 100
        if style == "course":
            return rng.choice([1980, 2980, 3980, 4980, 6800, 9800, 12800, 19800]) * 100
        if style == "hospital":
            r = rng.random()
            if r < 0.07:
                return rng.choice([1000, 2000, 3000, 5000, 5000, 10000, 20000]) * 100     # in-patient deposit
            if r < 0.35:
                return rng.choice([5, 8, 10, 15, 20, 50]) * 100                           # registration
            return int(x * 100)
        if style == "liquor":
            r = rng.random()
            if r < 0.25:
                return 1499 * 100 * rng.choice([1, 1, 2, 2, 3, 6])    # Moutai at the official price
            if r < 0.55:
                return rng.choice([230, 260, 450, 650, 900, 1100]) * 100 * rng.choice([1, 1, 2])  # cigarette cartons
            return int(x) * 100
        if style == "heating":
            area = rng.uniform(45, 150)
            return int(area * rng.choice([5.8, 6.0, 6.4, 5.2]) * 4 * 100)   # per m2 per month x 4 months
        return int(x * 100)

    def entry_mode(self, rng, amt_fen, card, cat):
        r = rng.random()
        if card.ctype == "PREPAID" and r < 0.5:
            return "MAGSTRIPE"
        if amt_fen <= 100000 and r < 0.32:
            return "CONTACTLESS"
        if r < 0.50:
            return "QR"
        if r < 0.985:
            return "CHIP"
        if r < 0.997:
            return "MAGSTRIPE"
        return "MANUAL" if cat in ("hotel", "travel") else "CHIP"

    def hour_sample(self, rng, hours_key):
        segs = HOURS[hours_key]
        s = wpick(rng, [((a, b), w * (b - a)) for a, b, w in segs])
        return rng.uniform(s[0], s[1])

    def day_factor(self, m, d):
        c = CATS[m.cat]
        wd = d % 7
        f = WEEKLY[c[5]][wd]
        if d == DOUBLE11:
            f *= D11_BOOST.get(m.cat, 1.0)
        elif d in (DOUBLE11 - 1, DOUBLE11 + 1, DOUBLE11 + 2):
            f *= 1 + (D11_BOOST.get(m.cat, 1.0) - 1) * 0.35
        if d >= 26:                    # payday / month end 28 Nov .. 1 Dec
            f *= 1.12
        if d == SNOW_DAY:
            f *= 1.15 if m.cat in ("restaurant", "fastfood", "convenience") else 0.8
        if m.cat == "heating":
            f *= 2.6 if d < HEATING_ON else (0.9 if d < 20 else 0.35)
        if m.cat == "coal":
            f *= 1.8 if d < HEATING_ON + 3 else 0.8
        return f

    # ---------------- legitimate traffic
    def legit(self, m, rng, start_day=0, end_day=DAYS, scale=1.0, ramp=None, mcc_fn=None, loc_fn=None,
              term_fn=None):
        c = CATS[m.cat]
        pool = self.pools[m.city]
        cp = c[11]
        base = c[3] * m.size * scale
        hours = c[4]
        refund_rate = c[12]
        reg_share = c[13]
        # regulars: cards that come back weekly
        nreg = int(base * reg_share * 7 / rng.uniform(1.5, 3.0)) + (2 if reg_share > 0 else 0)
        regs = []
        for _ in range(nreg):
            ct = "CREDIT" if rng.random() < cp * 0.8 else "DEBIT"
            regs.append(pool.pick(rng, ct))
        m.regulars = regs
        other = [p for p in self.pools.values() if p.city != m.city]
        for d in range(start_day, end_day):
            lam = base * self.day_factor(m, d)
            if ramp is not None:
                lam *= ramp(d)
            if lam <= 0:
                continue
            n = poisson(rng, lam)
            day0 = START + d * DAY
            today = {}
            for _ in range(n):
                h = self.hour_sample(rng, hours)
                t = day0 + int(h * HOUR) + rng.randint(0, 59999)
                if regs and rng.random() < reg_share:
                    card = regs[int(rng.random() * len(regs))]
                    if today.get(card.tok, 0) >= 1:
                        card = pool.pick(rng, "CREDIT" if rng.random() < cp else "DEBIT")
                else:
                    r = rng.random()
                    if r < 0.03:
                        card = rng.choice(other).pick(rng, "CREDIT" if rng.random() < 0.5 else "DEBIT")
                    else:
                        ct = "CREDIT" if r < cp else ("PREPAID" if r > 0.985 else "DEBIT")
                        card = pool.pick(rng, ct)
                if today.get(card.tok, 0) >= 2:
                    card = pool.pick(rng, card.ctype if card.ctype != "UNKNOWN" else "DEBIT")
                today[card.tok] = today.get(card.tok, 0) + 1
                amt = self.amount(rng, m)
                term = term_fn(rng, d) if term_fn else m.terms[int(rng.random() ** 1.5 * len(m.terms))]
                mcc = mcc_fn(rng, d) if mcc_fn else m.mcc
                loc = loc_fn(rng, d, term) if loc_fn else None
                em = self.entry_mode(rng, amt, card, m.cat)
                r = rng.random()
                if r < 0.028:   # decline then maybe retry
                    code = ("51" if card.ctype != "CREDIT" else "61") if rng.random() < 0.55 else \
                        rng.choice(["55", "55", "05", "91", "96", "54"])
                    self.emit(t, m, term, card, "PURCHASE", amt, mcc, em, code, loc)
                    if rng.random() < 0.65:
                        t += rng.randint(15000, 150000)
                        if code in ("51", "61") and rng.random() < 0.6:
                            # paid with another card from the wallet
                            card = pool.pick(rng, "DEBIT" if card.ctype == "CREDIT" else "CREDIT")
                        self.emit(t, m, term, card, "PURCHASE", amt, mcc, em, "00", loc)
                    else:
                        continue
                else:
                    self.emit(t, m, term, card, "PURCHASE", amt, mcc, em, "00", loc)
                r = rng.random()
                if r < 0.004:
                    self.emit(t + rng.randint(3000, 200000), m, term, card, "REVERSAL", amt, mcc, em, "00", loc)
                elif r < 0.004 + refund_rate:
                    dt = rng.randint(1, 9) * DAY + rng.randint(-3 * HOUR, 3 * HOUR)
                    ra = amt if rng.random() < 0.7 else max(100, int(amt * rng.uniform(0.2, 0.9)))
                    if t + dt < START + DAYS * DAY:
                        self.emit(t + dt, m, term, card, "REFUND", ra, mcc, em, "00", loc)

    # ---------------- cash-out engine
    def farm_cards(self, rng, n, tag, bins=None, credit_share=1.0, city=None):
        out = []
        for i in range(n):
            if rng.random() < credit_share:
                ct, b = "CREDIT", (rng.choice(bins) if bins else wpick(rng, BINS_CREDIT))
            else:
                ct, b = "DEBIT", wpick(rng, BINS_DEBIT)
            out.append(Card(token("ct_", self.seed, "farm", tag, i), b, ct, rng.randint(1, 28), city))
        return out

    def cashout(self, m, rng, days, daily, amount_mode, cards, per_card_day=2, gap="random", hours="biz",
                debit_ratio=0.0, debit_cards=None, mcc=None, loc=None, term=None, fixed_daily=None,
                stmt_window=None, decline=0.04):
        """Swipe fake purchases on `days` until a daily target is reached."""
        mcc = mcc or m.mcc
        for d in days:
            target = fixed_daily(d) if fixed_daily else rng.uniform(*daily) * 100
            if target <= 0:
                continue
            dom = (d + 2 - 1) % 30 + 1 if d < 29 else 1
            if stmt_window:
                elig = [c for c in cards if 0 <= (dom - c.stmt) % 30 <= stmt_window]
                if len(elig) < 3:
                    elig = cards
            else:
                elig = cards
            used = {}
            total = 0
            day0 = START + d * DAY
            tries = 0
            t_cursor = day0 + int((rng.uniform(0.3, 2.0) if hours == "night" else rng.uniform(9.5, 12)) * HOUR)
            while total < target and tries < 400:
                tries += 1
                amt = self.co_amount(rng, amount_mode)
                if total + amt > target * 1.02 and total > 0:
                    amt = int((target - total) / 100) * 100 if amount_mode != "odd" else int(target - total)
                    if amt < 50000:
                        break
                card = elig[int(rng.random() * len(elig))]
                k = used.get(card.tok, 0)
                if k >= per_card_day:
                    continue
                used[card.tok] = k + 1
                if hours == "night":
                    t = day0 + int(rng.uniform(0.2, 4.8) * HOUR)
                elif hours == "any":
                    t = day0 + int(rng.uniform(0, 24) * HOUR)
                else:
                    t = day0 + int(self.hour_sample(rng, "retail") * HOUR)
                tm = term or m.terms[0]
                if gap == "5min" and k == 1 and card.tok in m._last:
                    t = m._last[card.tok] + rng.randint(5 * MIN + 5000, 9 * MIN)
                elif gap == "tight":
                    t_cursor += rng.randint(40000, 5 * MIN)
                    t = t_cursor
                m._last[card.tok] = t
                em = "CHIP" if rng.random() < 0.85 else ("MAGSTRIPE" if rng.random() < 0.6 else "CONTACTLESS")
                ll = loc(rng, d) if callable(loc) else loc
                if rng.random() < decline:
                    self.emit(t, m, tm, card, "PURCHASE", amt, mcc, em, rng.choice(["51", "61", "61", "05"]), ll)
                    amt = int(amt * rng.uniform(0.4, 0.8)) // 100 * 100
                    t += rng.randint(30000, 240000)
                self.emit(t, m, tm, card, "PURCHASE", amt, mcc, em, "00", ll)
                total += amt
                # the 4:1 debit cover swipes
                if debit_ratio and debit_cards and rng.random() < debit_ratio:
                    dc = debit_cards[int(rng.random() * len(debit_cards))]
                    da = rng.randint(101, 300) * 100 if amount_mode != "odd" else rng.randint(10100, 30000)
                    self.emit(t + rng.randint(2 * MIN, 40 * MIN), m, tm, dc, "PURCHASE", da, mcc, "CHIP", "00", ll)

    def co_amount(self, rng, mode):
        if mode == "round":
            return rng.choice([3000, 5000, 5000, 8000, 10000, 10000, 10000, 20000, 20000, 30000]) * 100
        if mode == "near_round":
            base = rng.choice([5000, 6000, 8000, 10000, 10000, 12000, 15000, 20000])
            f = 1 + rng.choice([-1, 1]) * rng.uniform(0.004, 0.019)
            return int(base * f / 10) * 1000
        if mode == "sub_limit":
            return rng.randint(45000, 49990) * 100
        if mode == "mid":
            return rng.randint(28, 49) * 100000 + rng.choice([0, 0, 50000, -20000])
        if mode == "odd":
            return int(rng.lognormvariate(math.log(3600), 0.45) * 100) + rng.randint(0, 99)
        if mode == "odd_whole":
            return int(rng.lognormvariate(math.log(5200), 0.45)) * 100
        return rng.randint(1000, 20000) * 100

    # ---------------- scenario implementations
    def run(self):
        rng0 = self.rng
        ordinary_cats = [(k, v[2]) for k, v in CATS.items() if v[2] > 0]
        look_cat = {"car_dealer": "cardealer", "jeweller": "jeweller", "furniture_store": "furniture",
                    "appliance_store": "appliance", "hospital": "hospital", "school": "school",
                    "training_center": "training", "wholesaler": "wholesale", "bar": "bar", "hotel": "hotel",
                    "market_stall": "stall", "liquor_tobacco": "liquor", "salon_membership": "salon",
                    "heating_fee_hall": "heating", "coal_dealer": "coal", "truck_stop_fleet": "truckstop",
                    "grand_opening": "grocery"}
        ring_cards = {}
        shared_accts = {}
        for m in self.merchants:
            rng = self.sub("m", m.idx)
            m._last = {}
            sc = m.scenario
            if m.label == "legit":
                self.sc_ordinary(m, rng, wpick(rng, ordinary_cats))
            elif m.label == "lookalike":
                self.sc_lookalike(m, rng, look_cat[sc])
            elif m.label == "compliance":
                self.sc_compliance(m, rng, ordinary_cats, shared_accts)
            elif sc == "card_testing":
                self.sc_card_testing(m, rng, ordinary_cats)
            else:
                self.sc_fraud(m, rng, ordinary_cats, ring_cards)

    def sc_ordinary(self, m, rng, cat):
        r = rng.random()
        if r < 0.025:      # opened this month, legit ramp
            od = rng.randint(0, 24)
            self.setup(m, cat, rng, onboard=START + od * DAY + int(rng.uniform(8, 11) * HOUR))
            m.tactics = ["opened_this_month"]
            self.legit(m, rng, start_day=od, ramp=lambda d, od=od: min(1.0, 0.25 + 0.06 * (d - od)))
            return
        if r < 0.045:      # opened 1-2 months ago
            self.setup(m, cat, rng, onboard=START - rng.randint(20, 70) * DAY - rng.randint(0, DAY))
            m.tactics = ["opened_recently"]
            self.legit(m, rng)
            return
        self.setup(m, cat, rng)
        if r < 0.055:      # closes mid month
            cd = rng.randint(8, 25)
            self.legit(m, rng, end_day=cd)
            self.mev(START + cd * DAY + 10 * HOUR, m, "CLOSED")
            m.closed = START + cd * DAY + 10 * HOUR
            m.tactics = ["closed_mid_month"]
            return
        if r < 0.075:      # terminal replaced (swap device)
            d = rng.randint(3, 26)
            old = m.terms[0]
            t = START + (d + 1) * DAY - 12 * MIN      # device swapped by the field engineer at closing time
            self.mev(t, m, "TERMINAL_UNBOUND", tid=old[0])
            m.unbound[old[0]] = t
            new = self.add_terminal(m, rng, t + 6 * MIN)
            rest = m.terms[1:-1]
            self.legit(m, rng, term_fn=lambda rg, dd, d=d, old=old, new=new, rest=rest:
                       rest[int(rg.random() * len(rest))] if rest and rg.random() < 0.3 else
                       (new if dd > d else old))
            m.tactics = ["terminal_replaced"]
            return
        if r < 0.085:      # one legitimate settlement-bank switch
            self.mev(START + rng.randint(-80, 25) * DAY + 11 * HOUR, m, "SETTLEMENT_ACCOUNT_CHANGED",
                     acct=self.new_acct(("sw", m.idx)))
            m.tactics = ["one_settlement_switch"]
        elif r < 0.092:    # moved shop inside the city and told the acquirer first
            d = rng.randint(4, 24)
            dlat, dlon = km_to_deg(m.lat, rng.gauss(0, 3), rng.gauss(0, 3))
            nl, no = round(m.lat + dlat, 6), round(m.lon + dlon, 6)
            t = START + d * DAY + 7 * HOUR
            self.mev(t, m, "ADDRESS_CHANGED", lat=nl, lon=no)
            self.legit(m, rng, end_day=d)
            for term in m.terms:
                term[1], term[2] = round(nl + (term[1] - m.lat), 6), round(no + (term[2] - m.lon), 6)
            m.lat, m.lon = nl, no
            self.legit(m, rng, start_day=d + 1)
            m.tactics = ["reported_move"]
            return
        self.legit(m, rng)

    def sc_lookalike(self, m, rng, cat):
        sc = m.scenario
        tac = {"car_dealer": ["large_round_credit", "split_down_payment_under_50k"],
               "jeweller": ["large_tickets", "gold_weight_prices", "round_jade_prices"],
               "furniture_store": ["large_tickets", "double11_peak"], "appliance_store": ["large_tickets", "double11_peak"],
               "hospital": ["round_deposits", "24h", "high_volume"], "school": ["round_tuition"],
               "training_center": ["round_course_packages"], "wholesaler": ["large_tickets", "repeat_buyers"],
               "bar": ["night_trade"], "hotel": ["night_checkins", "preauth_deposits"],
               "market_stall": ["many_regulars", "repeat_same_day"], "liquor_tobacco": ["fixed_price_moutai", "gift_season"],
               "salon_membership": ["round_membership_topups_1k_to_5k"], "heating_fee_hall": ["seasonal_surge_over_300k"],
               "coal_dealer": ["seasonal_large_tickets"], "truck_stop_fleet": ["fleet_card_many_swipes_per_day", "24h"],
               "grand_opening": ["new_merchant_fast_legit_ramp"]}[sc]
        m.tactics = tac
        size = None
        if sc in ("hospital", "heating_fee_hall"):
            size = rng.uniform(1.0, 2.2)
        if sc == "grand_opening":
            od = rng.randint(0, 8)
            self.setup(m, "grocery", rng, onboard=START + od * DAY + 9 * HOUR, size=rng.uniform(3, 5.5), nterm=4)
            self.legit(m, rng, start_day=od, ramp=lambda d, od=od: 1.8 if d - od < 3 else 1.0)
            return
        self.setup(m, cat, rng, size=size)
        if sc == "hotel":
            self.legit(m, rng, scale=0.6)
            self.hotel_preauth(m, rng)
            return
        if sc == "truck_stop_fleet":
            self.legit(m, rng, scale=0.7)
            fleet = [Card(token("ct_", self.seed, "fleet", m.idx, i), FLEET_BIN, rng.choice(["PREPAID", "CREDIT"]),
                          1, m.city) for i in range(rng.randint(4, 9))]
            for d in range(DAYS):
                for fc in fleet:
                    for _ in range(poisson(rng, 2.5)):
                        t = START + d * DAY + int(rng.uniform(0, 24) * HOUR)
                        amt = int(rng.uniform(600, 3200) / 7.05) * 705
                        self.emit(t, m, m.terms[0], fc, "PURCHASE", amt, m.mcc, "CHIP")
            return
        if sc == "market_stall":
            self.legit(m, rng)
            # the morning-and-evening regulars
            for d in range(DAYS):
                for c in m.regulars[:6]:
                    if rng.random() < 0.25:
                        for h in (rng.uniform(6, 9), rng.uniform(16, 18.5)):
                            self.emit(START + d * DAY + int(h * HOUR), m, m.terms[0], c, "PURCHASE",
                                      rng.randint(5, 60) * 100, m.mcc, "QR")
            return
        if sc == "salon_membership":
            self.legit(m, rng)
            pool = self.pools[m.city]
            for d in range(DAYS):
                for _ in range(poisson(rng, 0.9 * WEEKLY["retail"][d % 7] * (2.5 if d == DOUBLE11 else 1))):
                    c = m.regulars[int(rng.random() * len(m.regulars))] if rng.random() < 0.6 else \
                        pool.pick(rng, "CREDIT" if rng.random() < 0.55 else "DEBIT")
                    t = START + d * DAY + int(self.hour_sample(rng, "salon") * HOUR)
                    self.emit(t, m, m.terms[0], c, "PURCHASE", rng.choice([500, 1000, 1000, 2000, 3000, 5000]) * 100,
                              m.mcc, "CHIP")
            return
        self.legit(m, rng)

    def hotel_preauth(self, m, rng):
        pool = self.pools[m.city]
        other = [p for p in self.pools.values() if p.city != m.city]
        for d in range(DAYS):
            for _ in range(poisson(rng, 6 * m.size * WEEKLY["night"][d % 7])):
                card = rng.choice(other).pick(rng, "CREDIT") if rng.random() < 0.6 else pool.pick(rng, "CREDIT")
                h = self.hour_sample(rng, "hotel")
                t = START + d * DAY + int(h * HOUR)
                dep = rng.choice([500, 800, 1000, 1000, 2000]) * 100
                em = "CHIP" if rng.random() < 0.8 else "MANUAL"
                self.emit(t, m, m.terms[0], card, "PREAUTH", dep, m.mcc, em)
                nights = rng.choice([1, 1, 1, 2, 2, 3])
                rate = rng.choice([268, 298, 328, 388, 458, 588])
                tc = START + (d + nights) * DAY + int(rng.uniform(8, 12.5) * HOUR)
                if tc < START + DAYS * DAY:
                    self.emit(tc, m, m.terms[0], card, "PREAUTH_COMPLETION", min(dep, rate * nights * 100) if
                              rng.random() < 0.7 else rate * nights * 100 + rng.randint(0, 200) * 100, m.mcc, em)

    def sc_compliance(self, m, rng, ordinary_cats, shared_accts):
        sc = m.scenario
        cat = wpick(rng, ordinary_cats)
        if sc == "relocation":
            self.setup(m, cat, rng)
            k = m.idx % 4
            if k == 0:          # whole shop trading in another city
                fc = FAR_CITY[m.city]
                flat, flon = CITIES[fc][0] + rng.gauss(0, 0.02), CITIES[fc][1] + rng.gauss(0, 0.02)
                m.tactics = ["terminal_in_other_city"]
                self.legit(m, rng, loc_fn=lambda rg, d, term: (round(flat + rg.gauss(0, 0.0005), 6),
                                                          round(flon + rg.gauss(0, 0.0005), 6)))
            elif k == 1:        # moved 12-25 km to a suburb, never reported
                ang = rng.uniform(0, 6.28)
                dk = rng.uniform(12, 25)
                dlat, dlon = km_to_deg(m.lat, dk * math.cos(ang), dk * math.sin(ang))
                nl, no = m.lat + dlat, m.lon + dlon
                d0 = rng.randint(3, 15)
                m.tactics = ["unreported_move_to_suburb"]
                self.legit(m, rng, loc_fn=lambda rg, d, term: None if d < d0 else
                           (round(nl + rg.gauss(0, 0.0004), 6), round(no + rg.gauss(0, 0.0004), 6)))
            elif k == 2:        # moved, reported the new address two weeks late
                ang = rng.uniform(0, 6.28)
                dk = rng.uniform(14, 30)
                dlat, dlon = km_to_deg(m.lat, dk * math.cos(ang), dk * math.sin(ang))
                nl, no = round(m.lat + dlat, 6), round(m.lon + dlon, 6)
                d0, d1 = rng.randint(2, 6), rng.randint(16, 22)
                self.mev(START + d1 * DAY + 9 * HOUR, m, "ADDRESS_CHANGED", lat=nl, lon=no)
                m.tactics = ["move_reported_late"]
                self.legit(m, rng, loc_fn=lambda rg, d, term: None if d < d0 else
                           (round(nl + rg.gauss(0, 0.0004), 6), round(no + rg.gauss(0, 0.0004), 6)))
            else:               # one of several terminals lent to a market stall far away (part of days)
                t2 = self.add_terminal(m, rng, m.onboard + DAY, gps=True)
                fc = FAR_CITY[m.city]
                flat, flon = CITIES[fc][0] + rng.gauss(0, 0.03), CITIES[fc][1] + rng.gauss(0, 0.03)
                m.tactics = ["second_terminal_used_elsewhere_weekends"]
                self.legit(m, rng, loc_fn=lambda rg, d, term: (round(flat, 6), round(flon, 6))
                           if term is t2 and d % 7 >= 5 else None)
            return
        if sc == "mcc_mismatch":
            pairs = [("restaurant", "5411"), ("bar", "5812"), ("salon", "5411"), ("clothing", "5311"),
                     ("jeweller", "5999"), ("training", "8220"), ("autorepair", "5541"), ("cosmetics", "5912")]
            cat, sub = pairs[m.idx % len(pairs)]
            self.setup(m, cat, rng)
            share = rng.choice([1.0, 0.6, 0.3])
            m.tactics = ["submits_%s_instead_of_%s" % (sub, m.mcc), "share_%.1f" % share]
            self.legit(m, rng, mcc_fn=lambda rg, d: sub if rg.random() < share else m.mcc)
            return
        if sc == "mcc_jumping":
            self.setup(m, cat, rng)
            seq = [m.mcc] + rng.sample(["5411", "5311", "5999", "7299", "5812", "5331"], 3)
            days = sorted(rng.sample(range(1, 28), 3))
            t0 = START - rng.randint(30, 60) * DAY
            self.mev(t0, m, "MCC_CHANGED", mcc=seq[1])
            self.mev(START + days[0] * DAY + 8 * HOUR, m, "MCC_CHANGED", mcc=seq[2])
            self.mev(START + days[1] * DAY + 8 * HOUR, m, "MCC_CHANGED", mcc=seq[3])
            cuts = [0, days[0], days[1]]
            seqs = [seq[1], seq[2], seq[3]]

            def mf(rg, d):
                k = 0
                for i, c in enumerate(cuts):
                    if d >= c:
                        k = i
                # first days after each change they still submit the old code sometimes
                if k > 0 and d - cuts[k] < 2 and rg.random() < 0.4:
                    return seqs[k - 1]
                return seqs[k]
            m.tactics = ["registered_mcc_changed_3x_in_90d"]
            self.legit(m, rng, mcc_fn=mf)
            return
        if sc == "terminal_sharing":
            g = self.groups[m.idx]
            members = g[2]
            if m.idx == members[0]:
                self.setup(m, cat, rng)
                m.tactics = ["terminal_lent_to_neighbour"]
                self.legit(m, rng)
                m.shared_term = m.terms[0]
            else:
                host = self.merchants[members[0]]
                # neighbour shop next door (host has the smaller index, so it is set up already)
                self.setup(m, cat, rng, at=(round(host.lat + 0.0003, 6), round(host.lon + 0.0002, 6)))
                st = host.terms[0]
                self.mev(START - rng.randint(5, 50) * DAY, m, "TERMINAL_BOUND", tid=st[0])
                m.tactics = ["uses_neighbours_terminal"]
                own = m.terms[0]
                self.legit(m, rng, term_fn=lambda rg, d: st if rg.random() < 0.7 else own, scale=0.7)
            return
        if sc == "settlement_churn":
            self.setup(m, cat, rng)
            n = rng.choice([2, 3, 4])
            for k in range(n):
                self.mev(START + rng.randint(-60, 27) * DAY + rng.randint(9 * HOUR, 17 * HOUR), m,
                         "SETTLEMENT_ACCOUNT_CHANGED", acct=self.new_acct(("churn", m.idx, k)))
            m.tactics = ["%d_account_changes_in_90d" % n]
            self.legit(m, rng)
            return
        if sc == "shared_settlement_account":
            g = self.groups[m.idx]
            key = ("fam", g[1])
            if key not in shared_accts:
                shared_accts[key] = self.new_acct(key)
            self.setup(m, cat, rng)
            self.mev(START + rng.randint(-40, 5) * DAY + 10 * HOUR, m, "SETTLEMENT_ACCOUNT_CHANGED",
                     acct=shared_accts[key])
            m.tactics = ["one_account_for_%d_merchants" % len(g[2])]
            self.legit(m, rng)
            return

    def sc_card_testing(self, m, rng, ordinary_cats):
        k = m.idx % 3
        self.setup(m, rng.choice(["convenience", "variety", "fastfood", "grocery"]), rng)
        if k != 0:
            self.legit(m, rng, scale=0.8 if k == 2 else 0.5)
        days = sorted(rng.sample(range(DAYS), 3 if k == 0 else (12 if k == 1 else 5)))
        bins = ["%s" % rng.choice(["622575", "436742", "625802", "518905"])] + ["62258811"]
        seq = 0
        for d in days:
            if k == 0:
                nb, per = rng.randint(1, 2), rng.randint(120, 300)
            elif k == 1:
                nb, per = 1, rng.randint(20, 45)
            else:
                nb, per = 1, rng.randint(60, 140)
            for b in range(nb):
                t = START + d * DAY + int(rng.uniform(0.5, 4.5) * HOUR)
                for i in range(per):
                    seq += 1
                    c = Card(token("ct_", self.seed, "stolen", m.idx, seq), rng.choice(bins),
                             "CREDIT" if rng.random() < 0.8 else "UNKNOWN", 1, None)
                    t += rng.randint(4000, 40000) if k != 1 else rng.randint(60000, 900000)
                    amt = rng.randint(1, 9) * 100 + rng.choice([0, 0, 50, 99]) if rng.random() < 0.8 \
                        else rng.randint(1, 20)
                    code = "00" if rng.random() < (0.12 if k == 0 else 0.35) else \
                        rng.choice(["14", "14", "54", "05", "51", "N7", "41", "43"])
                    em = "MANUAL" if rng.random() < 0.6 else "MAGSTRIPE"
                    self.emit(t, m, m.terms[0], c, "PURCHASE", amt, m.mcc, em, code)
                    if code == "00" and rng.random() < 0.3:
                        self.emit(t + rng.randint(2000, 20000), m, m.terms[0], c, "REVERSAL", amt, m.mcc, em, "00")
        m.tactics = [["night_burst_enumeration", "manual_entry", "tiny_amounts"],
                     ["slow_drip_testing", "manual_entry", "tiny_amounts"],
                     ["testing_hidden_in_shop", "night_burst", "tiny_amounts"]][k]

    def sc_fraud(self, m, rng, ordinary_cats, ring_cards):
        sc = m.scenario
        pool = self.pools[m.city]
        all_days = list(range(DAYS))
        city_credit = pool.all_cards("CREDIT")
        city_debit = pool.all_cards("DEBIT")

        def clients(n, share_city=0.6, tag="c"):
            out = []
            fn = int(n * (1 - share_city))
            out += self.farm_cards(rng, fn, (m.idx, tag))
            for _ in range(n - fn):
                out.append(city_credit[int(rng.random() * len(city_credit))])
            return out

        if sc == "blatant_cashout":
            self.setup(m, rng.choice(["grocery", "variety", "clothing", "hardware"]), rng, size=rng.uniform(0.3, 0.8))
            self.legit(m, rng, scale=0.5)
            cards = clients(rng.randint(40, 90), 0.3)
            days = [d for d in all_days if rng.random() < 0.85]
            self.cashout(m, rng, days, (180000, 520000), "round", cards, per_card_day=3, hours="any",
                         gap="tight")
            m.tactics = ["round_thousands", "whole_units", "credit_only", "daily_volume_over_300k",
                         "same_card_3x_per_day", "all_hours"]
        elif sc == "structuring_cashout":
            self.setup(m, rng.choice(["building", "hardware", "electronics", "furniture"]), rng)
            self.legit(m, rng, scale=0.7)
            cards = clients(rng.randint(60, 120), 0.5)
            days = [d for d in all_days if rng.random() < 0.7]
            self.cashout(m, rng, days, (270000, 299500), "sub_limit", cards, per_card_day=1,
                         fixed_daily=lambda d: rng.uniform(270000, 299000) * 100)
            m.tactics = ["single_swipes_45k_to_50k", "daily_total_270k_to_300k", "one_swipe_per_card_day"]
        elif sc == "playbook_cashout":
            self.setup(m, wpick(rng, ordinary_cats), rng)
            scale = rng.choice([0.3, 0.6, 1.0])
            self.legit(m, rng, scale=scale)
            cards = clients(rng.randint(30, 70), 0.4)
            dcs = self.farm_cards(rng, rng.randint(6, 15), (m.idx, "deb"), credit_share=0.0)
            days = [d for d in all_days if rng.random() < 0.8]
            self.cashout(m, rng, days, (60000, 200000), "near_round", cards, per_card_day=2, gap="5min",
                         debit_ratio=0.25, debit_cards=dcs)
            m.tactics = ["near_round_thousands", "no_cents", "debit_cover_4to1_above_100",
                         "two_swipes_per_card_day_5min_apart"]
        elif sc == "card_ring":
            g = self.groups[m.idx]
            key = g[1]
            if key not in ring_cards:
                rr = self.sub("ring", key)
                bins = rr.sample([b for b, _ in BINS_CREDIT], 2)
                ring_cards[key] = (self.farm_cards(rr, rr.randint(50, 90), ("ring", key), bins=bins),
                                   self.new_acct(("ring", key)), bins)
            cards, acct, bins = ring_cards[key]
            self.setup(m, rng.choice(["grocery", "variety", "restaurant", "clothing", "hardware"]), rng)
            self.mev(START - rng.randint(10, 50) * DAY + 10 * HOUR, m, "SETTLEMENT_ACCOUNT_CHANGED", acct=acct)
            self.legit(m, rng, scale=rng.uniform(0.4, 0.9))
            pos = g[2].index(m.idx)
            # each card visits 1-2 ring merchants per month around its statement date; rotate by position
            mine = [c for i, c in enumerate(cards) if (i + pos) % 2 == 0 or (i % 4) == pos]
            self.cashout(m, rng, all_days, (0, 0), "odd_whole", mine, per_card_day=2, gap="5min",
                         stmt_window=3, fixed_daily=lambda d: rng.uniform(20000, 70000) * 100)
            m.tactics = ["card_ring_4_merchants", "farmed_cards_2_bins", "statement_date_cycle",
                         "shared_settlement_account", "two_swipes_5min_apart"]
        elif sc == "hidden_in_large_business":
            self.setup(m, rng.choice(["dept", "grocery", "restaurant", "electronics"]), rng, size=rng.uniform(3.5, 7),
                       nterm=5)
            self.legit(m, rng)
            cards = clients(rng.randint(80, 150), 0.9)
            days = [d for d in all_days if rng.random() < 0.6]
            self.cashout(m, rng, days, (15000, 60000), "odd", cards, per_card_day=1,
                         term=m.terms[-1])
            m.tactics = ["cashout_inside_large_honest_volume", "odd_amounts_with_cents", "client_cards_from_city",
                         "single_back_office_terminal"]
        elif sc == "part_time_cashout":
            self.setup(m, wpick(rng, ordinary_cats), rng)
            self.legit(m, rng)
            cards = clients(rng.randint(20, 45), 0.7)
            start = rng.choice([14, 18, 22])
            days = list(range(start, start + rng.randint(4, 7)))
            self.cashout(m, rng, days, (50000, 150000), "near_round", cards, per_card_day=2, gap="5min")
            m.tactics = ["active_only_%d_days" % len(days), "near_round_thousands", "before_repayment_dates"]
        elif sc == "night_cashout":
            self.setup(m, rng.choice(["clothing", "hardware", "salon", "pets"]), rng)
            self.legit(m, rng)
            cards = clients(rng.randint(30, 60), 0.5)
            days = [d for d in all_days if rng.random() < 0.6]
            self.cashout(m, rng, days, (40000, 160000), rng.choice(["round", "near_round"]), cards,
                         per_card_day=2, hours="night", gap="tight")
            m.tactics = ["swipes_00_to_05_while_shop_closed", "round_or_near_round"]
        elif sc == "travelling_terminal_cashout":
            self.setup(m, wpick(rng, ordinary_cats), rng)
            k = m.idx % 2
            if k == 0:
                fc = rng.choice([c for c in CITIES if c != m.city])
                flat, flon = CITIES[fc][0] + rng.gauss(0, 0.02), CITIES[fc][1] + rng.gauss(0, 0.02)
                loc = lambda rg, d: (round(flat + rg.gauss(0, 0.003), 6), round(flon + rg.gauss(0, 0.003), 6))
                m.tactics = ["terminal_carried_to_%s" % fc, "near_round_thousands"]
                days = [d for d in all_days if rng.random() < 0.75]
                self.legit(m, rng, scale=0.3, end_day=5)
            else:
                loc = "none"
                m.tactics = ["gps_switched_off_for_cashout", "near_round_thousands", "normal_shop_traffic_by_day"]
                days = [d for d in all_days if rng.random() < 0.6]
                self.legit(m, rng)
            cards = clients(rng.randint(30, 70), 0.4)
            self.cashout(m, rng, days, (60000, 220000), "near_round", cards, per_card_day=2, loc=loc)
        elif sc == "mcc_jump_cashout":
            self.setup(m, rng.choice(["jeweller", "furniture", "building", "electronics", "restaurant"]), rng)
            self.legit(m, rng, scale=0.6)
            cards = clients(rng.randint(30, 60), 0.5)
            days = [d for d in all_days if rng.random() < 0.7]
            low = rng.choice(["5411", "5541", "5300"])
            self.cashout(m, rng, days, (50000, 180000), "near_round", cards, per_card_day=2, mcc=low)
            m.tactics = ["cashout_submitted_under_low_fee_mcc_%s" % low, "near_round_thousands"]
        elif sc == "new_merchant_bustout":
            od = rng.randint(-25, 10)
            self.setup(m, rng.choice(["variety", "clothing", "hardware", "grocery", "tea"]), rng,
                       onboard=START + od * DAY + 10 * HOUR, size=rng.uniform(0.3, 0.7))
            s = max(0, od)
            self.legit(m, rng, start_day=s, scale=0.6)
            cards = clients(rng.randint(50, 110), 0.5)
            days = list(range(s + 2, DAYS))
            peak = rng.uniform(150000, 450000)
            self.cashout(m, rng, days, (0, 0), rng.choice(["near_round", "odd_whole", "round"]), cards,
                         per_card_day=2, fixed_daily=lambda d: peak * 100 * min(1.0, 0.15 * (d - s)) *
                         rng.uniform(0.7, 1.1))
            m.tactics = ["onboarded_%s" % ("this_month" if od >= 0 else "weeks_before"), "fast_volume_ramp",
                         "credit_heavy"]
        elif sc == "subtle_evader":
            self.setup(m, rng.choice(["electronics", "clothing", "cosmetics", "sports", "optical"]), rng)
            self.legit(m, rng)
            cards = clients(rng.randint(120, 220), 0.85)
            dcs = [city_debit[int(rng.random() * len(city_debit))] for _ in range(rng.randint(80, 150))]
            days = [d for d in all_days if rng.random() < 0.8]
            self.cashout(m, rng, days, (25000, 90000), "odd", cards, per_card_day=1, debit_ratio=0.32,
                         debit_cards=dcs)
            m.tactics = ["fake_cents", "credit_share_kept_below_0.8", "one_swipe_per_card_day",
                         "irregular_gaps", "daily_volume_well_under_cap", "client_cards_with_normal_lives"]
        elif sc == "account_hopping_cashout":
            self.setup(m, wpick(rng, ordinary_cats), rng)
            for k in range(rng.randint(3, 5)):
                self.mev(START + rng.randint(-40, 26) * DAY + rng.randint(9 * HOUR, 20 * HOUR), m,
                         "SETTLEMENT_ACCOUNT_CHANGED", acct=self.new_acct(("hop", m.idx, k)))
            self.legit(m, rng, scale=0.6)
            cards = clients(rng.randint(30, 60), 0.5)
            days = [d for d in all_days if rng.random() < 0.7]
            self.cashout(m, rng, days, (60000, 250000), "near_round", cards, per_card_day=2)
            m.tactics = ["settlement_account_changed_often", "near_round_thousands"]

    # ---------------- output
    def write(self, out):
        os.makedirs(out, exist_ok=True)
        M = self.merchants
        rows = []
        for e in self.mevents:
            rows.append((e[0], 0, e[1], e))
        for x in self.txns:
            rows.append((x[0], 1, x[1], x))
        # stable deterministic order: time, lifecycle before txns, merchant, insertion order
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        path = os.path.join(out, "events.jsonl.gz")
        nt = 0
        ne = 0
        with open(path, "wb") as fh:
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=5) as gz:
                buf = []
                for t, kind, mi, e in rows:
                    m = M[mi]
                    if kind == 0:
                        ne += 1
                        v = {"event_id": "ME-%s-%07d" % (ACQ_CODE[m.acq], ne), "event_time": t,
                             "acquirer_id": m.acq, "merchant_id": m.id, "terminal_id": e[3], "kind": e[2],
                             "registered_mcc": e[4], "merchant_name": e[5], "latitude": e[6], "longitude": e[7],
                             "settlement_account_token": e[8]}
                        buf.append('{"topic":"merchantEvents","value":%s}\n' % json.dumps(v, ensure_ascii=False,
                                                                                        separators=(",", ":")))
                    else:
                        nt += 1
                        v = {"txn_id": "TX-%s-%08d" % (ACQ_CODE[m.acq], nt), "event_time": t,
                             "acquirer_id": m.acq, "merchant_id": m.id, "terminal_id": e[2], "card_token": e[3],
                             "card_bin": e[4], "card_type": e[5], "txn_type": e[6], "amount_minor": e[7],
                             "currency": "CNY", "mcc": e[8], "entry_mode": e[9], "response_code": e[10],
                             "latitude": e[11], "longitude": e[12]}
                        buf.append('{"topic":"transactions","value":%s}\n' % json.dumps(v, ensure_ascii=False,
                                                                                      separators=(",", ":")))
                    if len(buf) >= 20000:
                        gz.write("".join(buf).encode())
                        buf = []
                gz.write("".join(buf).encode())
        return nt, ne


# ---------------------------------------------------------------- expected_rules measurement
# Our own reading of DOMAIN.md's start thresholds, applied to each merchant's generated month.
# Amount thresholds in DOMAIN.md are read as CNY (major units): single limit 50,000 CNY, daily cap 300,000 CNY.
TH = {"single_limit": 50000 * 100, "daily_cap": 300000 * 100, "credit_share": 0.80, "floor_txn": 20,
      "round_min": 1000 * 100, "round_share": 0.3, "near_min": 5000 * 100, "near_share": 0.4,
      "struct_share": 0.3, "struct_days": 3, "ht_z": 3.0, "night_x": 3.0, "reloc_km": 10.0,
      "decl_ratio": 0.3, "decl_min": 20, "bin_share": 0.5, "bin_cards": 10, "spread_shared": 10,
      "spread_lift": 5.0, "ramp_pct": 0.90, "gap_share": 0.5, "gap_min": 10}


def local_day(t):
    return (t - START) // DAY


def measure(g, seed):
    M = g.merchants
    by = [[] for _ in M]
    for x in g.txns:
        by[x[1]].append(x)
    for l in by:
        l.sort(key=lambda x: x[0])
    # lifecycle state
    mev = sorted(g.mevents, key=lambda e: (e[0], e[1]))
    addr = [[] for _ in M]        # (t, lat, lon)
    regm = [[] for _ in M]        # (t, mcc)
    acct_changes = [[] for _ in M]
    acct_of = {}
    bound = {}                    # tid -> set of merchants currently bound
    sharing = set()
    onboard = {}
    for e in mev:
        t, mi, kind, tid, mcc, name, lat, lon, acct = e
        if kind == "ONBOARDED":
            onboard[mi] = t
            addr[mi].append((t, lat, lon))
            regm[mi].append((t, mcc))
            acct_of[mi] = acct
        elif kind == "ADDRESS_CHANGED":
            addr[mi].append((t, lat, lon))
        elif kind == "MCC_CHANGED":
            regm[mi].append((t, mcc))
        elif kind == "SETTLEMENT_ACCOUNT_CHANGED":
            acct_changes[mi].append(t)
            acct_of[mi] = acct
        elif kind == "TERMINAL_BOUND":
            s = bound.setdefault(tid, set())
            s.add(mi)
            if len(s) > 1:
                sharing.update(s)
        elif kind == "TERMINAL_UNBOUND":
            bound.get(tid, set()).discard(mi)
        elif kind == "CLOSED":
            pass
    acct_users = {}
    for mi, a in acct_of.items():
        acct_users.setdefault(a, []).append(mi)

    def at(hist, t):
        cur = hist[0]
        for h in hist:
            if h[0] <= t:
                cur = h
        return cur

    stats = []
    for m in M:
        L = by[m.idx]
        ok = [x for x in L if x[10] == "00" and x[6] in ("PURCHASE", "PREAUTH_COMPLETION")]
        vol = sum(x[7] for x in ok)
        n = len(ok)
        cred = sum(x[7] for x in ok if x[5] == "CREDIT")
        st = {"n": n, "vol": vol, "credit_share": cred / vol if vol else 0.0,
              "avg": vol / n if n else 0.0,
              "night": sum(x[7] for x in ok if (x[0] + TZ_MS) % DAY < 5 * HOUR),
              "night_n": sum(1 for x in ok if (x[0] + TZ_MS) % DAY < 5 * HOUR),
              "cards": set(x[3] for x in ok)}
        hits = set()
        if n >= TH["floor_txn"] and st["credit_share"] > TH["credit_share"]:
            hits.add("credit_debit_mix")
        per = {}
        same = {}
        for x in ok:
            if x[6] != "PURCHASE":
                continue
            d = local_day(x[0])
            k = (x[3], x[2], d)
            per[k] = per.get(k, 0) + 1
            k2 = (x[3], d, x[7])
            same[k2] = same.get(k2, 0) + 1
        if any(v > 2 for v in per.values()) or any(v >= 3 for v in same.values()):
            hits.add("repeated_card")
        last = {}
        gaps = []
        for x in ok:
            if x[6] != "PURCHASE":
                continue
            d = local_day(x[0])
            p = last.get(x[3])
            if p is not None and p[1] == d:
                gaps.append(x[0] - p[0])
            last[x[3]] = (x[0], d)
        if len(gaps) >= TH["gap_min"] and sum(1 for gp in gaps if 5 * MIN <= gp <= 10 * MIN) / len(gaps) > TH["gap_share"]:
            hits.add("swipe_gap")
        big = [x[7] for x in ok if x[7] >= TH["round_min"]]
        if len(big) >= 10 and sum(1 for a in big if a % 100000 == 0) / len(big) > TH["round_share"]:
            hits.add("round_amount")
        big5 = [x[7] for x in ok if x[7] >= TH["near_min"]]
        if len(big5) >= 10:
            nr = 0
            for a in big5:
                r = round(a / 100000) * 100000
                if a != r and abs(a - r) <= 0.02 * r:
                    nr += 1
            if nr / len(big5) > TH["near_share"]:
                hits.add("near_round_amount")
        sl = TH["single_limit"]
        ns = sum(1 for x in ok if 0.9 * sl <= x[7] < sl)
        daily = {}
        for x in ok:
            d = local_day(x[0])
            daily[d] = daily.get(d, 0) + x[7]
        cap = TH["daily_cap"]
        sdays = sum(1 for v in daily.values() if 0.9 * cap <= v < cap)
        if (n >= 10 and ns / n > TH["struct_share"]) or sdays >= TH["struct_days"]:
            hits.add("structuring")
        st["max_day"] = max(daily.values()) if daily else 0
        if st["max_day"] > cap:
            hits.add("daily_volume")
        # relocation / mcc mismatch on all attempts
        for x in L:
            if x[11] is not None:
                a = at(addr[m.idx], x[0])
                if dist_km(a[1], a[2], x[11], x[12]) > TH["reloc_km"]:
                    hits.add("relocation")
                    break
        for x in L:
            if x[8] != at(regm[m.idx], x[0])[1]:
                hits.add("mcc_mismatch")
                break
        ch = [t for t in acct_changes[m.idx] if t >= START - 60 * DAY]
        ch.sort()
        churn = any(ch[i + 1] - ch[i] <= 90 * DAY for i in range(len(ch) - 1))
        if churn or len(acct_users.get(acct_of.get(m.idx), [])) >= 3:
            hits.add("settlement_churn")
        if m.idx in sharing:
            hits.add("terminal_sharing")
        att = {}
        dec = {}
        for x in L:
            if x[6] not in ("PURCHASE", "PREAUTH"):
                continue
            d = local_day(x[0])
            att[d] = att.get(d, 0) + 1
            if x[10] != "00":
                dec[d] = dec.get(d, 0) + 1
        if any(a >= TH["decl_min"] and dec.get(d, 0) / a > TH["decl_ratio"] for d, a in att.items()):
            hits.add("decline_ratio")
        bv = {}
        for x in ok:
            if x[4]:
                bv[x[4]] = bv.get(x[4], 0) + x[7]
        if vol and len(st["cards"]) >= TH["bin_cards"] and max(bv.values()) / vol > TH["bin_share"]:
            hits.add("bin_concentration")
        st["hits"] = hits
        stats.append(st)
    # peer-based: high_ticket, night_share (peers = same registered MCC at month start)
    peers = {}
    for m in M:
        peers.setdefault(m.mcc, []).append(m.idx)
    for mcc, idxs in peers.items():
        elig = [i for i in idxs if stats[i]["n"] >= TH["floor_txn"]]
        logs = {i: math.log(stats[i]["avg"]) for i in elig}
        nsh = {i: stats[i]["night"] / stats[i]["vol"] for i in elig}
        for i in elig:
            others = [logs[j] for j in elig if j != i]
            if len(others) >= 5:
                mu = sum(others) / len(others)
                sd = math.sqrt(sum((v - mu) ** 2 for v in others) / len(others)) or 1e-9
                if (logs[i] - mu) / sd > TH["ht_z"]:
                    stats[i]["hits"].add("high_ticket")
            s = stats[i]
            others = sorted(nsh[j] for j in elig if j != i)
            if len(others) >= 5 and s["night_n"] >= 10:
                ps = max(others[len(others) // 2], 0.005)      # median peer night share
                if nsh[i] > TH["night_x"] * ps:
                    s["hits"].add("night_share")
    # new merchant ramp: onboarded within 90 days before the month ends; top decile of their volume
    end = START + DAYS * DAY
    new = [m.idx for m in M if onboard[m.idx] >= end - 90 * DAY]
    if len(new) >= 5:
        vols = sorted(stats[i]["vol"] for i in new)
        cut = vols[min(len(vols) - 1, int(TH["ramp_pct"] * len(vols)))]
        for i in new:
            if stats[i]["vol"] >= cut and stats[i]["vol"] > 0:
                stats[i]["hits"].add("new_merchant_ramp")
    # card_spread: pairs of merchants in one city sharing far more cards than chance
    bycity = {}
    for m in M:
        bycity.setdefault(m.city, []).append(m.idx)
    for c, idxs in bycity.items():
        active = set()
        card_m = {}
        for i in idxs:
            active |= stats[i]["cards"]
            for tok in stats[i]["cards"]:
                card_m.setdefault(tok, []).append(i)
        inc = sum(len(stats[i]["cards"]) for i in idxs) or 1
        pair = {}
        for tok, ms in card_m.items():
            k = len(ms)
            if 1 < k <= 40:
                w = 1.0 / (k - 1)
                for a in range(k):
                    for b in range(a + 1, k):
                        kk = (ms[a], ms[b])
                        p = pair.get(kk)
                        if p is None:
                            pair[kk] = [1, w]
                        else:
                            p[0] += 1
                            p[1] += w
        for (a, b), (s, w) in pair.items():
            if s >= TH["spread_shared"]:
                # each shared card weighted 1/(merchants it visited - 1); under a configuration model where cards
                # keep their number of merchants and merchants their number of cards, E[weight] = |A||B|/incidences
                e = len(stats[a]["cards"]) * len(stats[b]["cards"]) / inc
                if w >= TH["spread_lift"] * max(e, 1.0):
                    stats[a]["hits"].add("card_spread")
                    stats[b]["hits"].add("card_spread")
    g.stats = stats
    order = ["credit_debit_mix", "repeated_card", "swipe_gap", "card_recurrence", "card_spread", "round_amount",
             "near_round_amount", "structuring", "daily_volume", "high_ticket", "night_share", "new_merchant_ramp",
             "relocation", "mcc_mismatch", "settlement_churn", "terminal_sharing", "decline_ratio",
             "bin_concentration"]
    out = []
    for m in M:
        out.append({"merchant_id": m.id, "acquirer_id": m.acq, "label": m.label, "scenario": m.scenario,
                    "tactics": list(m.tactics), "expected_rules": [r for r in order if r in stats[m.idx]["hits"]]})
    return {"population": "blind-north", "seed": seed, "start": START, "days": DAYS, "historyDays": 0,
            "timeZone": "+08:00", "merchants": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    t0 = time.time()
    g = Gen(a.seed)
    g.build()
    g.run()
    nt, ne = g.write(a.out)
    labels = measure(g, a.seed)
    with open(os.path.join(a.out, "labels.json"), "w") as fh:
        json.dump(labels, fh, ensure_ascii=False, indent=1, sort_keys=False)
        fh.write("\n")
    print("transactions=%d merchantEvents=%d merchants=%d seconds=%.1f" % (nt, ne, len(g.merchants),
                                                                           time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
