"""Word lists for the cross-script company set: regions, trade-name characters, industry
words and legal forms with their usual English renderings, and foreign company parts.

Industry words keep spaces at word boundaries so that their pinyin is written the way
Chinese firms write it ("Yuanyang Hangyun"); the spaces are dropped in Han names.
"""

from __future__ import annotations

# (Han, English, weight): provinces and municipalities, then the main cities. Weights
# follow the rough number of registered firms. 陕西 (Shaanxi) is left out because its
# pinyin without tones is that of 山西.
REGIONS: tuple[tuple[str, str, int], ...] = (
    ("北京", "Beijing", 9), ("上海", "Shanghai", 9), ("天津", "Tianjin", 4),
    ("重庆", "Chongqing", 4), ("广东", "Guangdong", 8), ("江苏", "Jiangsu", 7),
    ("浙江", "Zhejiang", 7), ("山东", "Shandong", 6), ("福建", "Fujian", 4),
    ("河北", "Hebei", 3), ("河南", "Henan", 3), ("湖北", "Hubei", 3),
    ("湖南", "Hunan", 3), ("安徽", "Anhui", 3), ("江西", "Jiangxi", 2),
    ("四川", "Sichuan", 3), ("辽宁", "Liaoning", 2), ("吉林", "Jilin", 1),
    ("黑龙江", "Heilongjiang", 1), ("山西", "Shanxi", 1), ("内蒙古", "Inner Mongolia", 1),
    ("广西", "Guangxi", 2), ("海南", "Hainan", 1), ("贵州", "Guizhou", 1),
    ("云南", "Yunnan", 2), ("甘肃", "Gansu", 1), ("青海", "Qinghai", 1),
    ("宁夏", "Ningxia", 1), ("新疆", "Xinjiang", 1), ("西藏", "Tibet", 1),
    ("深圳", "Shenzhen", 8), ("广州", "Guangzhou", 6), ("杭州", "Hangzhou", 5),
    ("南京", "Nanjing", 4), ("苏州", "Suzhou", 5), ("武汉", "Wuhan", 4),
    ("成都", "Chengdu", 4), ("西安", "Xi'an", 3), ("青岛", "Qingdao", 3),
    ("大连", "Dalian", 2), ("宁波", "Ningbo", 3), ("厦门", "Xiamen", 3),
    ("无锡", "Wuxi", 2), ("长沙", "Changsha", 2), ("郑州", "Zhengzhou", 2),
    ("济南", "Jinan", 2), ("沈阳", "Shenyang", 2), ("哈尔滨", "Harbin", 1),
    ("长春", "Changchun", 1), ("合肥", "Hefei", 2), ("福州", "Fuzhou", 2),
    ("南昌", "Nanchang", 1), ("昆明", "Kunming", 1), ("贵阳", "Guiyang", 1),
    ("南宁", "Nanning", 1), ("石家庄", "Shijiazhuang", 1), ("太原", "Taiyuan", 1),
    ("兰州", "Lanzhou", 1), ("乌鲁木齐", "Urumqi", 1), ("东莞", "Dongguan", 3),
    ("佛山", "Foshan", 3), ("温州", "Wenzhou", 2), ("绍兴", "Shaoxing", 1),
    ("常州", "Changzhou", 1), ("烟台", "Yantai", 1), ("珠海", "Zhuhai", 1),
    ("泉州", "Quanzhou", 2), ("嘉兴", "Jiaxing", 1), ("义乌", "Yiwu", 1),
    ("中山", "Zhongshan", 1), ("惠州", "Huizhou", 1), ("唐山", "Tangshan", 1),
    ("徐州", "Xuzhou", 1), ("南通", "Nantong", 1), ("台州", "Taizhou", 1),
)  # fmt: skip

# Characters Chinese firms choose for trade names (字号): luck, wealth, virtue, nature,
# light, size, places. Clear polyphones (长 重 行 乐) are left out so one pinyin holds.
TRADE_CHARS = (
    "华信达金鑫源泰丰盛恒隆兴昌宏宇博瑞祥康安和嘉润德利通远海天中新创科正方元鼎汇聚诚"
    "立明辉光永东南西北星月阳晨云龙凤鹏飞腾骏威胜泽浩凯旭峰嵘辰锦绣美佳优精英豪杰力夏"
    "国民众合联协同启航程志卓越超群强鸿福禄寿喜庆吉顺发财富贵荣耀宝玉翠珠银铭晶亮彩虹"
    "霞雨露霖森林松柏竹梅兰莲芳春江河湖川山岳峻石岩坤乾宁静雅致义仁智晟昱昊旻曦晖炜烨"
    "煜焕灿烁亿万千百世纪时代环球寰久益盈田园穗粮登跃奔驰骐骥麒麟鲲雁鸥鹤鹭燕凰虎蓝青"
    "红紫绿黄图伟业基邦健实善密锐捷盟睿哲慧聪灵秀俊逸雄奇壮广深厚大高尚拓展开维承传绵"
    "沧澜洋凌霄津沪粤闽浙湘鲁"
)

# Trade names that recur across the country; they head the Zipf-like pool.
CLASSIC_TRADE_NAMES = (
    "华信", "金达", "恒信", "鑫源", "宏达", "恒泰", "华兴", "永盛", "金鑫", "隆昌", "瑞丰",
    "天海", "沧澜", "金诚", "华泰", "宏图", "博远", "汇丰源", "嘉禾", "中兴达", "新宇", "鼎盛",
    "恒通", "海润", "金源", "天润", "福瑞", "创新", "盛世", "东方红",
)  # fmt: skip

# (Han with word spaces, one to three English renderings: the first is the usual one).
INDUSTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("科技", ("Technology", "Tech", "Science and Technology")),
    ("贸易", ("Trading", "Trade")),
    ("实业", ("Industrial", "Industry", "Enterprise")),
    ("投资", ("Investment",)),
    ("国际 贸易", ("International Trading", "International Trade")),
    ("进出口", ("Import and Export", "Import & Export", "Imp. & Exp.")),
    ("信息 技术", ("Information Technology", "IT")),
    ("网络 科技", ("Network Technology", "Network Tech")),
    ("软件", ("Software",)),
    ("电子", ("Electronics", "Electronic")),
    ("电子 商务", ("E-Commerce", "Electronic Commerce")),
    ("机械", ("Machinery", "Mechanical")),
    ("机电", ("Mechanical and Electrical", "Electromechanical")),
    ("化工", ("Chemical", "Chemical Industry", "Chemicals")),
    ("新材料", ("New Material", "New Materials")),
    ("医药", ("Pharmaceutical", "Pharmaceuticals", "Medicine")),
    ("生物 科技", ("Biotechnology", "Biological Technology", "Bio-Tech")),
    ("医疗 器械", ("Medical Equipment", "Medical Devices", "Medical Instruments")),
    ("食品", ("Food", "Foods")),
    ("农业", ("Agriculture", "Agricultural")),
    ("物流", ("Logistics",)),
    ("航运", ("Shipping",)),
    ("远洋 航运", ("Ocean Shipping", "Ocean Shipping and Transport")),
    ("国际 货运 代理", ("International Freight Forwarding", "International Freight Forwarder")),
    ("供应链 管理", ("Supply Chain Management", "Supply Chain")),
    ("纺织", ("Textile", "Textiles")),
    ("服装", ("Garment", "Apparel", "Clothing")),
    ("鞋业", ("Shoes", "Footwear")),
    ("家具", ("Furniture",)),
    ("建材", ("Building Materials", "Building Material")),
    ("建筑 工程", ("Construction Engineering", "Construction")),
    ("房地产 开发", ("Real Estate Development", "Property Development")),
    ("物业 管理", ("Property Management",)),
    ("装饰 工程", ("Decoration Engineering", "Decoration")),
    ("环保 科技", ("Environmental Protection Technology", "Environmental Technology")),
    ("新能源", ("New Energy",)),
    ("能源", ("Energy",)),
    ("电力", ("Electric Power", "Power")),
    ("光伏", ("Photovoltaic", "PV")),
    ("钢铁", ("Iron and Steel", "Steel")),
    ("有色 金属", ("Nonferrous Metals", "Non-Ferrous Metal")),
    ("矿业", ("Mining",)),
    ("汽车 零部件", ("Auto Parts", "Automobile Parts", "Auto Components")),
    ("汽车 销售", ("Automobile Sales", "Auto Sales")),
    ("塑料 制品", ("Plastic Products", "Plastics")),
    ("包装", ("Packaging", "Package")),
    ("印刷", ("Printing",)),
    ("文化 传媒", ("Culture Media", "Cultural Media")),
    ("广告", ("Advertising",)),
    ("餐饮 管理", ("Catering Management", "Food and Beverage Management")),
    ("酒店 管理", ("Hotel Management",)),
    ("旅游", ("Tourism", "Travel")),
    ("教育 科技", ("Education Technology", "Educational Technology")),
    ("咨询", ("Consulting", "Consultancy")),
    ("资产 管理", ("Asset Management",)),
    ("融资 租赁", ("Financial Leasing", "Finance Lease")),
    ("通信", ("Communication", "Communications", "Telecommunications")),
    ("光电", ("Optoelectronics", "Photoelectric", "Optoelectronic")),
    ("电器", ("Electrical Appliances", "Electric Appliance")),
    ("五金", ("Hardware",)),
    ("陶瓷", ("Ceramics", "Ceramic")),
    ("玻璃", ("Glass",)),
    ("造纸", ("Paper", "Papermaking")),
    ("橡胶", ("Rubber",)),
    ("水产", ("Aquatic Products", "Seafood")),
    ("茶业", ("Tea",)),
    ("船舶", ("Shipbuilding", "Marine")),
    ("重工", ("Heavy Industry", "Heavy Industries")),
    ("精密 机械", ("Precision Machinery",)),
    ("仪器 仪表", ("Instruments", "Instrument and Meter")),
    ("照明", ("Lighting",)),
    ("玩具", ("Toys",)),
    ("工艺品", ("Handicrafts", "Arts and Crafts")),
    ("粮油", ("Grain and Oil", "Cereals and Oils")),
    ("智能 科技", ("Intelligent Technology", "Smart Technology")),
    ("人力 资源", ("Human Resources",)),
    ("化纤", ("Chemical Fiber", "Chemical Fibre")),
    ("皮革", ("Leather",)),
    ("冷链 物流", ("Cold Chain Logistics",)),
)  # fmt: skip

# Words some firms put between the industry and the legal form.
SECONDARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("发展", ("Development",)),
    ("集团", ("Group",)),
    ("控股", ("Holding", "Holdings")),
)

# (Han, English renderings): the first is the usual one.
LEGAL_FORMS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("有限 公司", ("Co., Ltd.", "Company Limited", "Limited", "Co Ltd", "Co., Limited"), 80),
    ("股份 有限 公司", ("Co., Ltd.", "Company Limited", "Joint Stock Co., Ltd.",
                        "Stock Co., Ltd."), 12),
    ("有限 责任 公司", ("Co., Ltd.", "Limited Liability Company", "LLC"), 8),
)  # fmt: skip

# Industries of the old numbered state firms (上海第三建筑工程有限公司).
NUMBERED_INDUSTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("建筑 工程", ("Construction Engineering", "Construction")),
    ("市政 工程", ("Municipal Engineering",)),
    ("建筑 安装 工程", ("Construction and Installation Engineering",)),
    ("公路 工程", ("Highway Engineering",)),
    ("纺织", ("Textile",)),
    ("机床", ("Machine Tool",)),
    ("制药", ("Pharmaceutical",)),
    ("印染", ("Printing and Dyeing",)),
    ("汽车 运输", ("Automobile Transport", "Motor Transport")),
)

# (Han numeral, number, English ordinal).
NUMERALS: tuple[tuple[str, int, str], ...] = (
    ("一", 1, "First"), ("二", 2, "Second"), ("三", 3, "Third"), ("四", 4, "Fourth"),
    ("五", 5, "Fifth"), ("六", 6, "Sixth"), ("七", 7, "Seventh"), ("八", 8, "Eighth"),
    ("九", 9, "Ninth"), ("十", 10, "Tenth"), ("十一", 11, "Eleventh"),
    ("十二", 12, "Twelfth"),
)  # fmt: skip

# Roles a name carries on trade documents and sanctions hits.
PARTY_LABELS = (
    "SHIPPER:", "CONSIGNEE:", "NOTIFY PARTY:", "Buyer:", "Seller:", "Beneficiary:",
    "Applicant:", "Supplier:", "Manufacturer:",
)  # fmt: skip

# Foreign firms: country, cities, industry words in the country's language, legal forms
# with the ways they get written.
FOREIGN: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "DE": (
        ("Hamburg", "Bremen", "München", "Berlin", "Frankfurt", "Stuttgart", "Köln",
         "Düsseldorf", "Hannover", "Leipzig"),
        ("Logistik", "Maschinenbau", "Handel", "Elektronik", "Chemie", "Stahlhandel",
         "Anlagenbau", "Verpackung", "Schifffahrt", "Spedition", "Textil", "Antriebstechnik"),
        (("GmbH", "G.m.b.H.", "Gmbh"), ("AG", "A.G."), ("GmbH & Co. KG", "GmbH & Co KG"),
         ("KG",)),
    ),
    "GB": (
        ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Liverpool"),
        ("Logistics", "Engineering", "Trading", "Freight Services", "Shipping", "Holdings",
         "Components", "Textiles", "Chemicals", "Foods", "Packaging", "Metals"),
        (("Ltd", "Limited", "Ltd."), ("PLC", "Plc", "Public Limited Company"), ("LLP",)),
    ),
    "US": (
        ("New York", "Chicago", "Houston", "Seattle", "Boston", "Atlanta", "Dallas"),
        ("Logistics", "Industries", "Trading", "Precision Tools", "Energy", "Pharmaceuticals",
         "Electronics", "Capital", "Materials", "Systems", "Foods", "Marine"),
        (("Inc.", "Incorporated", "Inc"), ("LLC", "L.L.C."), ("Corp.", "Corporation", "Corp")),
    ),
    "FR": (
        ("Paris", "Lyon", "Marseille", "Bordeaux", "Lille", "Nantes"),
        ("Logistique", "Transports", "Négoce", "Industrie", "Électronique", "Emballage",
         "Textile", "Chimie", "Équipements"),
        (("SAS", "S.A.S."), ("SA", "S.A."), ("SARL", "S.A.R.L.")),
    ),
    "NL": (
        ("Rotterdam", "Amsterdam", "Eindhoven", "Utrecht"),
        ("Logistics", "Trading", "Shipping", "Handelmaatschappij", "Techniek", "Holding"),
        (("B.V.", "BV"), ("N.V.", "NV")),
    ),
    "SG": (
        ("Singapore",),
        ("Trading", "Shipping", "Marine", "Resources", "Logistics", "Commodities"),
        (("Pte. Ltd.", "Pte Ltd", "Private Limited"),),
    ),
    "JP": (
        ("Tokyo", "Osaka", "Nagoya", "Yokohama", "Kobe"),
        ("Trading", "Electric", "Chemical", "Steel", "Machinery", "Shipping"),
        (("Co., Ltd.", "Co. Ltd", "Company Limited"), ("Corporation", "Corp."),
         ("K.K.", "Kabushiki Kaisha")),
    ),
    "IT": (
        ("Milano", "Torino", "Genova", "Napoli"),
        ("Logistica", "Meccanica", "Tessile", "Trasporti", "Commercio", "Alimentari"),
        (("S.p.A.", "SpA", "S.P.A."), ("S.r.l.", "Srl", "S.R.L.")),
    ),
}  # fmt: skip

# Brand words of foreign firms.
BRANDS = (
    "Nordsee", "Alpen", "Atlas", "Phoenix", "Meridian", "Orion", "Baltic", "Pacific", "Apex",
    "Summit", "Vertex", "Zenith", "Horizon", "Polaris", "Aurora", "Titan", "Falcon", "Condor",
    "Harbor", "Anchor", "Beacon", "Crest", "Delta", "Evergreen", "Greenfield", "Highland",
    "Ironwood", "Keystone", "Lakeside", "Northstar", "Oakridge", "Pinnacle", "Redwood",
    "Silverline", "Starlight", "Trident", "Vanguard", "Westfield", "Bluewater", "Rheinland",
    "Elbe", "Weser", "Hansa", "Donau", "Bavaria", "Sonnen", "Edelstein", "Kristall",
    "Lumière", "Azur", "Provence", "Riviera", "Loire", "Lotus", "Sakura", "Fuji", "Mirai",
    "Asahi", "Daiwa", "Kaito", "Orchid", "Merlion", "Tiber", "Vesuvio", "Aurelia", "Stella",
    "Oranje", "Zeeland", "Amstel", "Maas", "Cobalt", "Granite", "Quartz", "Cedar", "Maple",
    "Willow", "Sterling", "Crown", "Premier", "Prime", "Nautilus", "Kestrel", "Osprey",
    "Sirius", "Vega", "Helios", "Boreal", "Fjord", "Tundra", "Sierra", "Cascade", "Caspian",
    "Adriatic", "Aegean", "Corsair", "Mistral", "Solaris", "Argent", "Marlin", "Pegasus",
)  # fmt: skip

# Spellings of city names that lose their diacritics or use the English exonym.
CITY_VARIANTS = {
    "München": ("Muenchen", "Munich"),
    "Köln": ("Koeln", "Cologne"),
    "Düsseldorf": ("Duesseldorf", "Dusseldorf"),
    "Milano": ("Milan",),
    "Torino": ("Turin",),
    "Genova": ("Genoa",),
    "Napoli": ("Naples",),
}
