package main

// Static description of the world: acquirers, cities, issuers, categories.

type City struct {
	Name      string
	CN        string
	Code      string // area code used in merchant ids
	Acq       string
	Lat, Lon  float64
	R         float64 // urban radius km
	N         int     // merchants in portfolio
	CreditAdj float64 // city-level shift of credit share
	Tourist   float64 // hotel/dining holiday boost
	Districts []string
	Local     []Issuer
	// runtime
	pool *CardPool
}

type Issuer struct {
	Name       string
	W          float64
	CreditFrac float64
	Debit      []string
	Credit     []string
}

var national = []Issuer{
	{"ICBC", 0.19, 0.28, []string{"622202", "621226", "621558", "62122611", "621723"}, []string{"625330", "622230", "438125", "62533180"}},
	{"CCB", 0.16, 0.30, []string{"621700", "622700", "436742", "62170022"}, []string{"622280", "552801", "625362", "62536601"}},
	{"ABC", 0.15, 0.20, []string{"622848", "622845", "621282", "62284801"}, []string{"622836", "520083", "625996"}},
	{"BOC", 0.10, 0.30, []string{"621661", "621785", "456351", "62166133"}, []string{"625905", "622760", "518378"}},
	{"PSBC", 0.08, 0.12, []string{"621799", "622188", "62179911"}, []string{"625919", "622812"}},
	{"CMB", 0.08, 0.55, []string{"621483", "622588", "62148399"}, []string{"622575", "439225", "552534", "62257588"}},
	{"BOCOM", 0.05, 0.40, []string{"622260", "622262"}, []string{"622252", "521899", "62225801"}},
	{"CIB", 0.03, 0.45, []string{"622909"}, []string{"622908", "486493"}},
	{"CITIC", 0.025, 0.55, []string{"621771"}, []string{"622690", "556617"}},
	{"SPDB", 0.02, 0.50, []string{"622521"}, []string{"622516", "456418"}},
	{"PAB", 0.025, 0.55, []string{"622155", "623058"}, []string{"622156", "528020"}},
	{"CEB", 0.015, 0.50, []string{"622660"}, []string{"622663", "406254"}},
	{"CMBC", 0.02, 0.45, []string{"622622", "621691"}, []string{"622615", "545392"}},
	{"GDB", 0.01, 0.55, []string{"621462"}, []string{"622568", "528931"}},
}

func cities() []*City {
	return []*City{
		{Name: "Chengdu", CN: "成都", Code: "6510", Acq: "acq-west", Lat: 30.6586, Lon: 104.0648, R: 18, N: 270, CreditAdj: 0.03, Tourist: 1.2,
			Districts: []string{"锦江", "青羊", "金牛", "武侯", "成华", "高新", "双流", "郫都"},
			Local:     []Issuer{{"BankOfChengdu", 0.05, 0.25, []string{"622147", "621423"}, []string{"625398"}}, {"SichuanRCU", 0.04, 0.05, []string{"621458", "623190"}, []string{"628298"}}}},
		{Name: "Mianyang", CN: "绵阳", Code: "6590", Acq: "acq-west", Lat: 31.4675, Lon: 104.6796, R: 8, N: 110, CreditAdj: -0.05, Tourist: 1.0,
			Districts: []string{"涪城", "游仙", "安州", "高新", "经开"},
			Local:     []Issuer{{"MianyangCCB", 0.06, 0.15, []string{"622413"}, []string{"625147"}}, {"SichuanRCU", 0.09, 0.05, []string{"621458", "623190"}, []string{"628298"}}}},
		{Name: "Leshan", CN: "乐山", Code: "6650", Acq: "acq-west", Lat: 29.5521, Lon: 103.7656, R: 6, N: 70, CreditAdj: -0.07, Tourist: 2.0,
			Districts: []string{"市中", "五通桥", "沙湾", "峨眉山"},
			Local:     []Issuer{{"LeshanCCB", 0.06, 0.12, []string{"622418"}, []string{"625158"}}, {"SichuanRCU", 0.11, 0.05, []string{"621458", "623190"}, []string{"628298"}}}},
		{Name: "Hangzhou", CN: "杭州", Code: "3310", Acq: "acq-east", Lat: 30.2741, Lon: 120.1551, R: 18, N: 240, CreditAdj: 0.06, Tourist: 1.3,
			Districts: []string{"上城", "拱墅", "西湖", "滨江", "萧山", "余杭", "临平", "钱塘"},
			Local:     []Issuer{{"HangzhouBank", 0.06, 0.30, []string{"621977", "622286"}, []string{"625199"}}, {"ZJTLCB", 0.02, 0.25, []string{"623136"}, []string{"625376"}}}},
		{Name: "Shaoxing", CN: "绍兴", Code: "3370", Acq: "acq-east", Lat: 29.9958, Lon: 120.5861, R: 9, N: 110, CreditAdj: 0.0, Tourist: 1.2,
			Districts: []string{"越城", "柯桥", "上虞", "诸暨"},
			Local:     []Issuer{{"ShaoxingBank", 0.05, 0.20, []string{"621327"}, []string{"625118"}}, {"ZhejiangRCU", 0.08, 0.08, []string{"621058", "623091"}, []string{"628245"}}}},
		{Name: "Yiwu", CN: "义乌", Code: "3387", Acq: "acq-east", Lat: 29.3069, Lon: 120.0751, R: 7, N: 100, CreditAdj: -0.02, Tourist: 1.0,
			Districts: []string{"稠城", "北苑", "稠江", "江东", "福田"},
			Local:     []Issuer{{"ZJCTCB", 0.06, 0.20, []string{"623151"}, []string{"625381"}}, {"ZhejiangRCU", 0.09, 0.08, []string{"621058", "623091"}, []string{"628245"}}}},
		{Name: "Foshan", CN: "佛山", Code: "5880", Acq: "acq-south", Lat: 23.0215, Lon: 113.1214, R: 14, N: 180, CreditAdj: 0.04, Tourist: 1.1,
			Districts: []string{"禅城", "南海", "顺德", "三水", "高明"},
			Local:     []Issuer{{"ShundeRCB", 0.06, 0.10, []string{"621322"}, []string{"625186"}}, {"NanhaiRCB", 0.04, 0.10, []string{"623009"}, []string{"625371"}}}},
		{Name: "Zhanjiang", CN: "湛江", Code: "5910", Acq: "acq-south", Lat: 21.2707, Lon: 110.3594, R: 8, N: 75, CreditAdj: -0.06, Tourist: 1.3,
			Districts: []string{"赤坎", "霞山", "麻章", "坡头"},
			Local:     []Issuer{{"GuangdongRCU", 0.10, 0.06, []string{"621728", "623595"}, []string{"628322"}}}},
		{Name: "Shaoguan", CN: "韶关", Code: "5820", Acq: "acq-south", Lat: 24.8104, Lon: 113.5972, R: 6, N: 45, CreditAdj: -0.08, Tourist: 1.5,
			Districts: []string{"浈江", "武江", "曲江"},
			Local:     []Issuer{{"GuangdongRCU", 0.12, 0.06, []string{"621728", "623595"}, []string{"628322"}}}},
	}
}

// Hour profile segments: [from,to) local hours with a weight; to may exceed 24 (wraps).
type seg struct {
	from, to int
	w        float64
}

var profiles = map[string][]seg{
	"grocery":  {{7, 9, 0.6}, {9, 12, 1.2}, {12, 17, 0.8}, {17, 20, 1.5}, {20, 22, 0.7}},
	"conv":     {{7, 9, 1.2}, {9, 12, 0.8}, {12, 14, 1.1}, {14, 17, 0.7}, {17, 22, 1.3}, {22, 23, 0.6}},
	"conv24":   {{0, 2, 0.35}, {2, 6, 0.12}, {6, 9, 1.1}, {9, 12, 0.8}, {12, 14, 1.1}, {14, 17, 0.7}, {17, 22, 1.3}, {22, 24, 0.7}},
	"meals":    {{10, 11, 0.3}, {11, 14, 1.6}, {14, 17, 0.25}, {17, 21, 1.5}, {21, 23, 0.45}},
	"fastfood": {{6, 9, 1.0}, {9, 11, 0.4}, {11, 14, 1.5}, {14, 17, 0.4}, {17, 20, 1.1}, {20, 22, 0.4}},
	"fuel":     {{6, 7, 0.5}, {7, 9, 1.3}, {9, 17, 0.9}, {17, 19, 1.3}, {19, 22, 0.7}},
	"fuel24":   {{0, 5, 0.12}, {5, 7, 0.5}, {7, 9, 1.3}, {9, 17, 0.9}, {17, 19, 1.3}, {19, 24, 0.6}},
	"pharm":    {{8, 12, 1.1}, {12, 17, 0.9}, {17, 21, 1.1}, {21, 22, 0.4}},
	"pharm24":  {{0, 7, 0.1}, {7, 8, 0.5}, {8, 12, 1.1}, {12, 17, 0.9}, {17, 22, 1.1}, {22, 24, 0.4}},
	"retail":   {{10, 12, 0.6}, {12, 14, 0.9}, {14, 17, 1.1}, {17, 19, 1.0}, {19, 22, 1.3}},
	"services": {{9, 11, 0.6}, {11, 14, 1.0}, {14, 18, 1.2}, {18, 21, 1.1}, {21, 22, 0.3}},
	"tutoring": {{9, 12, 1.0}, {12, 14, 0.5}, {14, 18, 1.0}, {18, 21, 1.2}},
	"bar":      {{19, 21, 0.4}, {21, 24, 1.3}, {24, 27, 1.2}, {27, 28, 0.3}},
	"ktv":      {{17, 19, 0.2}, {19, 21, 0.6}, {21, 24, 1.4}, {24, 28, 1.2}},
	"hotel":    {{0, 2, 0.5}, {7, 12, 1.3}, {12, 14, 0.6}, {14, 20, 1.0}, {20, 24, 0.9}},
	"hospital": {{0, 7, 0.05}, {7, 8, 0.6}, {8, 12, 1.6}, {12, 14, 0.5}, {14, 17, 1.1}, {17, 24, 0.15}},
	"market":   {{5, 6, 0.6}, {6, 10, 1.6}, {10, 13, 0.8}, {13, 16, 0.3}, {16, 19, 1.0}},
	"b2b":      {{7, 9, 0.6}, {9, 12, 1.4}, {12, 14, 0.5}, {14, 17, 1.2}, {17, 19, 0.4}},
	"spa":      {{11, 14, 0.4}, {14, 18, 0.8}, {18, 24, 1.3}, {24, 26, 0.6}},
	"cinema":   {{10, 14, 0.5}, {14, 18, 0.9}, {18, 22, 1.5}, {22, 24, 0.6}},
	"school":   {{8, 12, 1.3}, {12, 14, 0.5}, {14, 17, 1.0}},
	"auto":     {{8, 12, 1.1}, {12, 14, 0.7}, {14, 18, 1.2}, {18, 20, 0.5}},
	"bakery":   {{7, 10, 1.3}, {10, 16, 0.8}, {16, 21, 1.2}, {21, 22, 0.4}},
}

// Category of merchant (honest trade pattern).
type Cat struct {
	Key, CN string
	MCC     string
	Kind    string  // "legit" or the look-alike scenario name
	W       float64 // share among ordinary shops (legit) or count (look-alikes)
	MedTx   float64 // median honest card txns/day
	SigTx   float64
	MedAmt  float64 // median ticket CNY
	SigAmt  float64
	MinAmt  float64
	MaxAmt  float64
	WholeP  float64 // share of whole-yuan prices
	NiceP   float64 // share of whole prices that are 'nice' (round unit / 8-9 endings)
	Unit    float64 // rounding unit for nice prices (0 = by magnitude)
	JiaoP   float64 // share of non-whole prices in 0.10 units
	Credit  float64
	Regular float64
	Visits  float64 // regular visits per week
	Prof    string
	P24     float64
	Wkend   float64
	Hol     string // holiday behaviour
	Refund  float64
	Decline float64
	Terms   float64 // mean extra terminals
	Mobile  float64
	Names   []string
}

var cats = []*Cat{
	// ordinary shops
	{Key: "supermarket", CN: "超市", MCC: "5411", Kind: "legit", W: 0.09, MedTx: 45, SigTx: 1.1, MedAmt: 78, SigAmt: 0.85, MinAmt: 2, MaxAmt: 4000, WholeP: 0.07, NiceP: 0.3, JiaoP: 0.3, Credit: 0.26, Regular: 0.45, Visits: 1.4, Prof: "grocery", P24: 0.04, Wkend: 1.15, Hol: "retail", Refund: 0.003, Decline: 0.022, Terms: 1.5, Names: []string{"惠民", "家家乐", "华联", "百佳", "新一佳", "永辉", "好又多", "联华"}},
	{Key: "convenience", CN: "便利店", MCC: "5499", Kind: "legit", W: 0.10, MedTx: 30, SigTx: 0.75, MedAmt: 21, SigAmt: 0.65, MinAmt: 1, MaxAmt: 600, WholeP: 0.13, NiceP: 0.5, JiaoP: 0.55, Credit: 0.2, Regular: 0.42, Visits: 2.2, Prof: "conv", P24: 0.45, Wkend: 1.0, Hol: "retail", Refund: 0.001, Decline: 0.02, Terms: 0.1, Names: []string{"红旗", "美宜佳", "全家福", "24小时", "邻里", "快客", "易捷"}},
	{Key: "restaurant", CN: "餐厅", MCC: "5812", Kind: "legit", W: 0.13, MedTx: 16, SigTx: 0.9, MedAmt: 145, SigAmt: 0.75, MinAmt: 8, MaxAmt: 8000, WholeP: 0.74, NiceP: 0.35, Unit: 1, JiaoP: 0.6, Credit: 0.38, Regular: 0.18, Visits: 0.5, Prof: "meals", Wkend: 1.3, Hol: "dining", Refund: 0.001, Decline: 0.018, Terms: 0.4, Names: []string{"老码头火锅", "小龙坎", "川味轩", "江南小馆", "粤香楼", "渔家乐", "老王家常菜", "湘味馆"}},
	{Key: "fastfood", CN: "小吃店", MCC: "5814", Kind: "legit", W: 0.07, MedTx: 24, SigTx: 0.8, MedAmt: 32, SigAmt: 0.5, MinAmt: 5, MaxAmt: 600, WholeP: 0.8, NiceP: 0.3, Unit: 1, JiaoP: 0.7, Credit: 0.22, Regular: 0.35, Visits: 1.5, Prof: "fastfood", Wkend: 1.1, Hol: "dining", Refund: 0.0005, Decline: 0.015, Terms: 0.1, Names: []string{"兰州拉面", "沙县小吃", "包子铺", "米粉店", "面馆", "饺子馆", "黄焖鸡"}},
	{Key: "fuel", CN: "加油站", MCC: "5541", Kind: "legit", W: 0.035, MedTx: 80, SigTx: 0.6, MedAmt: 250, SigAmt: 0.45, MinAmt: 20, MaxAmt: 1500, WholeP: 0.42, NiceP: 0.9, Unit: 100, JiaoP: 0.0, Credit: 0.42, Regular: 0.3, Visits: 0.8, Prof: "fuel", P24: 0.5, Wkend: 1.05, Hol: "travel", Refund: 0.0005, Decline: 0.025, Terms: 3, Names: []string{"中石化", "中石油", "中海油", "延长壳牌", "民营"}},
	{Key: "pharmacy", CN: "大药房", MCC: "5912", Kind: "legit", W: 0.06, MedTx: 22, SigTx: 0.7, MedAmt: 62, SigAmt: 0.85, MinAmt: 3, MaxAmt: 3000, WholeP: 0.14, NiceP: 0.4, JiaoP: 0.5, Credit: 0.24, Regular: 0.38, Visits: 0.7, Prof: "pharm", P24: 0.15, Wkend: 0.95, Hol: "medical", Refund: 0.002, Decline: 0.02, Terms: 0.3, Names: []string{"老百姓", "益丰", "一心堂", "大参林", "海王星辰", "仁和", "康乐"}},
	{Key: "clothing", CN: "服饰", MCC: "5651", Kind: "legit", W: 0.07, MedTx: 8, SigTx: 0.9, MedAmt: 310, SigAmt: 0.7, MinAmt: 20, MaxAmt: 12000, WholeP: 0.62, NiceP: 0.75, JiaoP: 0.6, Credit: 0.46, Regular: 0.1, Visits: 0.25, Prof: "retail", Wkend: 1.5, Hol: "retail", Refund: 0.02, Decline: 0.025, Terms: 0.3, Names: []string{"衣佳人", "时尚坊", "男装", "女装", "童装", "森马", "优品"}},
	{Key: "shoes", CN: "鞋店", MCC: "5661", Kind: "legit", W: 0.02, MedTx: 6, SigTx: 0.8, MedAmt: 360, SigAmt: 0.6, MinAmt: 30, MaxAmt: 6000, WholeP: 0.65, NiceP: 0.8, JiaoP: 0.6, Credit: 0.44, Regular: 0.08, Visits: 0.2, Prof: "retail", Wkend: 1.5, Hol: "retail", Refund: 0.02, Decline: 0.025, Terms: 0.1, Names: []string{"百丽", "足下", "鞋城", "运动鞋"}},
	{Key: "electronics", CN: "数码通讯", MCC: "5732", Kind: "legit", W: 0.03, MedTx: 5, SigTx: 1.0, MedAmt: 1500, SigAmt: 1.0, MinAmt: 20, MaxAmt: 25000, WholeP: 0.9, NiceP: 0.75, JiaoP: 0.5, Credit: 0.56, Regular: 0.05, Visits: 0.2, Prof: "retail", Wkend: 1.4, Hol: "retail", Refund: 0.01, Decline: 0.05, Terms: 0.3, Names: []string{"华为授权", "小米之家", "OPPO专卖", "数码港", "手机城"}},
	{Key: "cosmetics", CN: "化妆品", MCC: "5977", Kind: "legit", W: 0.025, MedTx: 7, SigTx: 0.8, MedAmt: 240, SigAmt: 0.7, MinAmt: 10, MaxAmt: 6000, WholeP: 0.55, NiceP: 0.7, JiaoP: 0.5, Credit: 0.5, Regular: 0.2, Visits: 0.3, Prof: "retail", Wkend: 1.4, Hol: "retail", Refund: 0.01, Decline: 0.025, Terms: 0.1, Names: []string{"屈臣氏", "丝芙兰", "美妆", "娇兰佳人"}},
	{Key: "department", CN: "百货", MCC: "5311", Kind: "legit", W: 0.01, MedTx: 140, SigTx: 0.8, MedAmt: 380, SigAmt: 0.95, MinAmt: 10, MaxAmt: 30000, WholeP: 0.5, NiceP: 0.7, JiaoP: 0.5, Credit: 0.5, Regular: 0.1, Visits: 0.3, Prof: "retail", Wkend: 1.45, Hol: "retail", Refund: 0.012, Decline: 0.03, Terms: 10, Names: []string{"百货大楼", "王府井", "银泰", "太平洋百货", "万达广场"}},
	{Key: "beauty", CN: "美容美发", MCC: "7230", Kind: "legit", W: 0.05, MedTx: 7, SigTx: 0.7, MedAmt: 110, SigAmt: 0.8, MinAmt: 15, MaxAmt: 6000, WholeP: 0.97, NiceP: 0.8, Unit: 10, JiaoP: 0.5, Credit: 0.32, Regular: 0.45, Visits: 0.4, Prof: "services", Wkend: 1.3, Hol: "retail", Refund: 0.001, Decline: 0.02, Terms: 0.05, Names: []string{"造型", "美发沙龙", "发艺", "美容院", "美甲"}},
	{Key: "spa", CN: "足浴养生", MCC: "7298", Kind: "legit", W: 0.02, MedTx: 6, SigTx: 0.7, MedAmt: 220, SigAmt: 0.6, MinAmt: 40, MaxAmt: 5000, WholeP: 0.98, NiceP: 0.85, Unit: 10, JiaoP: 0.5, Credit: 0.4, Regular: 0.35, Visits: 0.4, Prof: "spa", Wkend: 1.3, Hol: "dining", Refund: 0.0005, Decline: 0.02, Terms: 0.05, Names: []string{"足道", "养生馆", "按摩", "SPA会所"}},
	{Key: "tutoring", CN: "培训中心", MCC: "8299", Kind: "legit", W: 0.03, MedTx: 2.2, SigTx: 0.8, MedAmt: 2600, SigAmt: 0.6, MinAmt: 100, MaxAmt: 30000, WholeP: 1.0, NiceP: 0.95, Unit: 100, Credit: 0.36, Regular: 0.1, Visits: 0.1, Prof: "tutoring", Wkend: 1.8, Hol: "education", Refund: 0.01, Decline: 0.04, Terms: 0.05, Names: []string{"英语培训", "少儿美术", "钢琴艺术", "学而思", "舞蹈培训", "驾校"}},
	{Key: "dental", CN: "口腔诊所", MCC: "8021", Kind: "legit", W: 0.015, MedTx: 4, SigTx: 0.7, MedAmt: 600, SigAmt: 1.0, MinAmt: 30, MaxAmt: 30000, WholeP: 0.8, NiceP: 0.7, Unit: 10, JiaoP: 0.5, Credit: 0.42, Regular: 0.2, Visits: 0.2, Prof: "services", Wkend: 1.2, Hol: "medical", Refund: 0.003, Decline: 0.03, Terms: 0.1, Names: []string{"口腔", "牙科诊所", "齿科"}},
	{Key: "bakery", CN: "烘焙", MCC: "5462", Kind: "legit", W: 0.03, MedTx: 22, SigTx: 0.7, MedAmt: 36, SigAmt: 0.6, MinAmt: 3, MaxAmt: 2500, WholeP: 0.45, NiceP: 0.5, JiaoP: 0.8, Credit: 0.28, Regular: 0.35, Visits: 1.0, Prof: "bakery", Wkend: 1.2, Hol: "mooncake", Refund: 0.001, Decline: 0.015, Terms: 0.2, Names: []string{"面包坊", "好利来", "元祖", "烘焙屋", "蛋糕店"}},
	{Key: "liquor", CN: "烟酒行", MCC: "5921", Kind: "legit", W: 0.03, MedTx: 5, SigTx: 0.9, MedAmt: 420, SigAmt: 1.1, MinAmt: 10, MaxAmt: 40000, WholeP: 0.93, NiceP: 0.6, JiaoP: 0.5, Credit: 0.46, Regular: 0.3, Visits: 0.4, Prof: "retail", Wkend: 1.1, Hol: "gift", Refund: 0.002, Decline: 0.03, Terms: 0.05, Names: []string{"名烟名酒", "烟酒商行", "茅台专卖", "酒业"}},
	{Key: "hardware", CN: "建材五金", MCC: "5251", Kind: "legit", W: 0.03, MedTx: 4, SigTx: 1.0, MedAmt: 520, SigAmt: 1.2, MinAmt: 5, MaxAmt: 40000, WholeP: 0.66, NiceP: 0.4, JiaoP: 0.5, Credit: 0.3, Regular: 0.3, Visits: 0.3, Prof: "auto", Wkend: 0.8, Hol: "b2b", Refund: 0.004, Decline: 0.03, Terms: 0.05, Names: []string{"五金店", "建材", "水电材料", "灯饰", "瓷砖"}},
	{Key: "autorepair", CN: "汽修", MCC: "7538", Kind: "legit", W: 0.02, MedTx: 4, SigTx: 0.8, MedAmt: 560, SigAmt: 0.9, MinAmt: 30, MaxAmt: 30000, WholeP: 0.85, NiceP: 0.6, Unit: 10, JiaoP: 0.5, Credit: 0.38, Regular: 0.2, Visits: 0.1, Prof: "auto", Wkend: 1.1, Hol: "retail", Refund: 0.002, Decline: 0.03, Terms: 0.05, Names: []string{"汽车维修", "汽车美容", "轮胎店", "快修"}},
	{Key: "petshop", CN: "宠物店", MCC: "5995", Kind: "legit", W: 0.015, MedTx: 6, SigTx: 0.7, MedAmt: 140, SigAmt: 0.8, MinAmt: 10, MaxAmt: 8000, WholeP: 0.6, NiceP: 0.6, JiaoP: 0.5, Credit: 0.33, Regular: 0.45, Visits: 0.4, Prof: "services", Wkend: 1.3, Hol: "retail", Refund: 0.002, Decline: 0.02, Terms: 0.05, Names: []string{"宠物医院", "宠物用品", "萌宠"}},
	{Key: "florist", CN: "鲜花", MCC: "5992", Kind: "legit", W: 0.01, MedTx: 4, SigTx: 0.7, MedAmt: 160, SigAmt: 0.6, MinAmt: 10, MaxAmt: 3000, WholeP: 0.92, NiceP: 0.85, Unit: 10, JiaoP: 0.5, Credit: 0.35, Regular: 0.1, Visits: 0.1, Prof: "retail", Wkend: 1.3, Hol: "gift", Refund: 0.001, Decline: 0.02, Terms: 0, Names: []string{"花艺", "花店"}},
	{Key: "sports", CN: "运动户外", MCC: "5941", Kind: "legit", W: 0.015, MedTx: 5, SigTx: 0.8, MedAmt: 400, SigAmt: 0.8, MinAmt: 10, MaxAmt: 20000, WholeP: 0.7, NiceP: 0.75, JiaoP: 0.5, Credit: 0.45, Regular: 0.08, Visits: 0.1, Prof: "retail", Wkend: 1.5, Hol: "retail", Refund: 0.01, Decline: 0.025, Terms: 0.1, Names: []string{"安踏", "李宁", "户外用品", "迪卡侬"}},
	{Key: "books", CN: "书店文具", MCC: "5942", Kind: "legit", W: 0.015, MedTx: 7, SigTx: 0.7, MedAmt: 55, SigAmt: 0.7, MinAmt: 2, MaxAmt: 2000, WholeP: 0.35, NiceP: 0.5, JiaoP: 0.7, Credit: 0.28, Regular: 0.15, Visits: 0.2, Prof: "retail", Wkend: 1.4, Hol: "retail", Refund: 0.004, Decline: 0.015, Terms: 0.1, Names: []string{"新华书店", "文具店", "书城"}},
	{Key: "optical", CN: "眼镜", MCC: "8043", Kind: "legit", W: 0.01, MedTx: 3, SigTx: 0.6, MedAmt: 780, SigAmt: 0.7, MinAmt: 30, MaxAmt: 12000, WholeP: 0.88, NiceP: 0.7, Unit: 10, JiaoP: 0.5, Credit: 0.45, Regular: 0.05, Visits: 0.1, Prof: "retail", Wkend: 1.4, Hol: "retail", Refund: 0.005, Decline: 0.03, Terms: 0, Names: []string{"眼镜店", "视光中心"}},
	{Key: "cinema", CN: "影城", MCC: "7832", Kind: "legit", W: 0.007, MedTx: 25, SigTx: 0.6, MedAmt: 85, SigAmt: 0.5, MinAmt: 20, MaxAmt: 1500, WholeP: 0.9, NiceP: 0.6, Unit: 1, JiaoP: 0.5, Credit: 0.4, Regular: 0.05, Visits: 0.1, Prof: "cinema", Wkend: 1.8, Hol: "dining", Refund: 0.003, Decline: 0.015, Terms: 2, Names: []string{"万达影城", "CGV影城", "金逸影城"}},
	{Key: "clinic", CN: "诊所", MCC: "8011", Kind: "legit", W: 0.01, MedTx: 10, SigTx: 0.7, MedAmt: 160, SigAmt: 0.9, MinAmt: 5, MaxAmt: 8000, WholeP: 0.25, NiceP: 0.5, JiaoP: 0.4, Credit: 0.27, Regular: 0.2, Visits: 0.2, Prof: "pharm", Wkend: 0.8, Hol: "medical", Refund: 0.002, Decline: 0.02, Terms: 0.2, Names: []string{"社区诊所", "中医馆", "门诊部"}},
	{Key: "laundry", CN: "洗衣", MCC: "7210", Kind: "legit", W: 0.008, MedTx: 4, SigTx: 0.6, MedAmt: 55, SigAmt: 0.6, MinAmt: 8, MaxAmt: 1500, WholeP: 0.95, NiceP: 0.5, Unit: 1, JiaoP: 0.5, Credit: 0.25, Regular: 0.5, Visits: 0.3, Prof: "services", Wkend: 1.3, Hol: "retail", Refund: 0.001, Decline: 0.015, Terms: 0, Names: []string{"干洗店", "洗衣坊"}},
	{Key: "gym", CN: "健身", MCC: "7997", Kind: "legit", W: 0.008, MedTx: 2, SigTx: 0.6, MedAmt: 1800, SigAmt: 0.6, MinAmt: 50, MaxAmt: 15000, WholeP: 1.0, NiceP: 0.9, Unit: 100, Credit: 0.45, Regular: 0.05, Visits: 0.1, Prof: "services", Wkend: 1.2, Hol: "education", Refund: 0.004, Decline: 0.04, Terms: 0, Names: []string{"健身中心", "瑜伽馆", "游泳馆"}},
	{Key: "telecom", CN: "营业厅", MCC: "4814", Kind: "legit", W: 0.01, MedTx: 12, SigTx: 0.6, MedAmt: 100, SigAmt: 0.7, MinAmt: 10, MaxAmt: 8000, WholeP: 1.0, NiceP: 0.95, Unit: 50, Credit: 0.3, Regular: 0.1, Visits: 0.1, Prof: "retail", Wkend: 1.1, Hol: "retail", Refund: 0.001, Decline: 0.02, Terms: 0.5, Names: []string{"移动营业厅", "联通营业厅", "电信营业厅"}},

	// look-alikes (W = count)
	{Key: "car_dealer", CN: "汽车4S店", MCC: "5511", Kind: "car_dealer", W: 12, MedTx: 3, SigTx: 0.7, MedAmt: 15000, SigAmt: 0.9, MinAmt: 200, MaxAmt: 49999, WholeP: 0.97, NiceP: 0.7, Unit: 1000, JiaoP: 0.5, Credit: 0.68, Regular: 0.02, Visits: 0.05, Prof: "auto", Wkend: 1.6, Hol: "auto", Refund: 0.01, Decline: 0.08, Terms: 1, Names: []string{"丰田4S店", "大众4S店", "比亚迪", "吉利汽车", "长安汽车", "特斯拉体验中心"}},
	{Key: "jeweller", CN: "珠宝金行", MCC: "5944", Kind: "jeweller", W: 18, MedTx: 7, SigTx: 0.8, MedAmt: 4500, SigAmt: 0.9, MinAmt: 100, MaxAmt: 49999, WholeP: 0.55, NiceP: 0.6, Unit: 100, JiaoP: 0.3, Credit: 0.66, Regular: 0.05, Visits: 0.05, Prof: "retail", Wkend: 1.4, Hol: "gift", Refund: 0.006, Decline: 0.06, Terms: 0.8, Names: []string{"周大福", "老凤祥", "周生生", "金店", "六福珠宝", "中国黄金"}},
	{Key: "furniture", CN: "家具城", MCC: "5712", Kind: "furniture", W: 15, MedTx: 3, SigTx: 0.8, MedAmt: 6200, SigAmt: 0.9, MinAmt: 100, MaxAmt: 49999, WholeP: 0.95, NiceP: 0.65, Unit: 100, JiaoP: 0.5, Credit: 0.6, Regular: 0.03, Visits: 0.05, Prof: "retail", Wkend: 1.7, Hol: "auto", Refund: 0.01, Decline: 0.06, Terms: 0.5, Mobile: 0.3, Names: []string{"红星美凯龙", "全友家居", "顾家家居", "林氏木业", "家具城"}},
	{Key: "appliance", CN: "家电", MCC: "5722", Kind: "appliance", W: 15, MedTx: 5, SigTx: 0.8, MedAmt: 3500, SigAmt: 0.85, MinAmt: 50, MaxAmt: 49999, WholeP: 0.92, NiceP: 0.75, JiaoP: 0.5, Credit: 0.6, Regular: 0.03, Visits: 0.05, Prof: "retail", Wkend: 1.5, Hol: "auto", Refund: 0.01, Decline: 0.06, Terms: 0.8, Mobile: 0.2, Names: []string{"苏宁易购", "国美电器", "格力专卖", "海尔专卖", "美的专卖"}},
	{Key: "hospital", CN: "医院", MCC: "8062", Kind: "hospital", W: 12, MedTx: 110, SigTx: 0.8, MedAmt: 280, SigAmt: 1.2, MinAmt: 5, MaxAmt: 49999, WholeP: 0.12, NiceP: 0.5, JiaoP: 0.2, Credit: 0.3, Regular: 0.1, Visits: 0.1, Prof: "hospital", Wkend: 0.55, Hol: "medical", Refund: 0.01, Decline: 0.03, Terms: 8, Names: []string{"人民医院", "中医院", "妇幼保健院", "第一医院", "骨科医院"}},
	{Key: "school", CN: "学校", MCC: "8211", Kind: "school", W: 8, MedTx: 8, SigTx: 0.7, MedAmt: 5500, SigAmt: 0.6, MinAmt: 100, MaxAmt: 49999, WholeP: 1.0, NiceP: 0.95, Unit: 100, Credit: 0.35, Regular: 0.0, Visits: 0.05, Prof: "school", Wkend: 0.2, Hol: "education", Refund: 0.005, Decline: 0.04, Terms: 1, Names: []string{"实验学校", "外国语学校", "国际学校", "职业技术学校", "双语幼儿园"}},
	{Key: "wholesaler", CN: "批发商行", MCC: "5137", Kind: "wholesaler", W: 18, MedTx: 8, SigTx: 0.9, MedAmt: 8000, SigAmt: 1.1, MinAmt: 100, MaxAmt: 49999, WholeP: 0.65, NiceP: 0.5, JiaoP: 0.5, Credit: 0.24, Regular: 0.65, Visits: 1.0, Prof: "b2b", Wkend: 0.65, Hol: "b2b", Refund: 0.004, Decline: 0.04, Terms: 0.3, Names: []string{"小商品批发", "服装批发", "五金批发", "日用品批发", "饰品批发"}},
	{Key: "bar", CN: "酒吧", MCC: "5813", Kind: "bar", W: 12, MedTx: 14, SigTx: 0.8, MedAmt: 380, SigAmt: 0.8, MinAmt: 20, MaxAmt: 20000, WholeP: 0.92, NiceP: 0.7, Unit: 10, JiaoP: 0.5, Credit: 0.55, Regular: 0.2, Visits: 0.3, Prof: "bar", Wkend: 1.8, Hol: "dining", Refund: 0.001, Decline: 0.03, Terms: 0.3, Names: []string{"酒吧", "清吧", "LiveHouse", "小酒馆"}},
	{Key: "ktv", CN: "KTV", MCC: "7911", Kind: "ktv", W: 12, MedTx: 10, SigTx: 0.8, MedAmt: 880, SigAmt: 0.8, MinAmt: 50, MaxAmt: 30000, WholeP: 0.96, NiceP: 0.8, Unit: 10, JiaoP: 0.5, Credit: 0.58, Regular: 0.15, Visits: 0.2, Prof: "ktv", Wkend: 1.7, Hol: "dining", Refund: 0.001, Decline: 0.03, Terms: 0.5, Names: []string{"量贩KTV", "纯K", "钱柜", "魅力KTV"}},
	{Key: "hotel", CN: "酒店", MCC: "7011", Kind: "hotel", W: 20, MedTx: 16, SigTx: 1.0, MedAmt: 340, SigAmt: 0.55, MinAmt: 80, MaxAmt: 20000, WholeP: 0.8, NiceP: 0.7, Unit: 1, JiaoP: 0.5, Credit: 0.56, Regular: 0.02, Visits: 0.05, Prof: "hotel", Wkend: 1.3, Hol: "hotel", Refund: 0.003, Decline: 0.03, Terms: 1, Names: []string{"大酒店", "商务酒店", "如家", "汉庭", "全季酒店", "度假酒店"}},
	{Key: "market_stall", CN: "农贸摊位", MCC: "5422", Kind: "market_stall", W: 18, MedTx: 28, SigTx: 0.6, MedAmt: 38, SigAmt: 0.7, MinAmt: 2, MaxAmt: 1500, WholeP: 0.38, NiceP: 0.5, JiaoP: 0.8, Credit: 0.09, Regular: 0.75, Visits: 2.5, Prof: "market", Wkend: 1.2, Hol: "retail", Refund: 0.0, Decline: 0.015, Terms: 0, Mobile: 0.35, Names: []string{"鲜肉摊", "水产摊", "蔬菜摊", "水果摊", "禽蛋摊"}},
}

func catByKey(k string) *Cat {
	for _, c := range cats {
		if c.Key == k {
			return c
		}
	}
	panic("no cat " + k)
}
