"""Word tables for :mod:`trustreg.core.names`: glossary, places, synonyms, legal forms.

Pure data, written for this project. Each table is a block of whitespace-separated
``left=right`` items so that hundreds of entries stay readable and short; the parsers at
the bottom turn them into the dicts that ``names`` uses.

- Glossary (``han=english``): an English word of several parts is written with ``+``
  (``房地产=real+estate``); ``names`` turns it into ONE token by joining the parts
  (``realestate``), and an English name that spells the parts out meets the same token.
- Latin synonyms (``variant=canonical``) map English spellings and abbreviations of a
  word to one canonical word; Latin phrases (``a+b=token``) map word sequences.
- Legal forms (``words=code,code``): the words of the form joined with ``+`` (for Han
  forms the characters), then the canonical codes it stands for.
"""

from __future__ import annotations

import itertools
import unicodedata

# --- Chinese words with their English token ------------------------------------------

# Provinces, municipalities, special regions and the main cities: the token is the usual
# English spelling written as one word, which for most is the toneless pinyin.
PLACES = """
北京=beijing 上海=shanghai 天津=tianjin 重庆=chongqing 河北=hebei 山西=shanxi
辽宁=liaoning 吉林=jilin 黑龙江=heilongjiang 江苏=jiangsu 浙江=zhejiang 安徽=anhui
福建=fujian 江西=jiangxi 山东=shandong 河南=henan 湖北=hubei 湖南=hunan 广东=guangdong
海南=hainan 四川=sichuan 贵州=guizhou 云南=yunnan 陕西=shaanxi 甘肃=gansu 青海=qinghai
台湾=taiwan 内蒙古=inner+mongolia 广西=guangxi 西藏=tibet 宁夏=ningxia 新疆=xinjiang
香港=hong+kong 澳门=macau 中国=china
广州=guangzhou 深圳=shenzhen 杭州=hangzhou 南京=nanjing 苏州=suzhou 宁波=ningbo
温州=wenzhou 厦门=xiamen 青岛=qingdao 大连=dalian 沈阳=shenyang 长春=changchun
哈尔滨=harbin 武汉=wuhan 长沙=changsha 成都=chengdu 西安=xian 郑州=zhengzhou
济南=jinan 合肥=hefei 福州=fuzhou 南昌=nanchang 昆明=kunming 贵阳=guiyang 南宁=nanning
兰州=lanzhou 太原=taiyuan 石家庄=shijiazhuang 呼和浩特=hohhot 乌鲁木齐=urumqi
拉萨=lhasa 银川=yinchuan 西宁=xining 海口=haikou 三亚=sanya 珠海=zhuhai 东莞=dongguan
佛山=foshan 汕头=shantou 无锡=wuxi 常州=changzhou 南通=nantong
徐州=xuzhou 扬州=yangzhou 绍兴=shaoxing 嘉兴=jiaxing 义乌=yiwu
台州=taizhou 泉州=quanzhou 烟台=yantai 潍坊=weifang 威海=weihai 唐山=tangshan
洛阳=luoyang 惠州=huizhou 江门=jiangmen 湛江=zhanjiang 连云港=lianyungang
舟山=zhoushan 日照=rizhao 营口=yingkou 秦皇岛=qinhuangdao
"""

# Full official forms of the autonomous regions (the short forms are in PLACES).
PLACE_LONG_FORMS = """
内蒙古自治区=内蒙古 广西壮族自治区=广西 西藏自治区=西藏 宁夏回族自治区=宁夏
新疆维吾尔自治区=新疆 香港特别行政区=香港 澳门特别行政区=澳门
"""

# Words that qualify a name without saying what the firm does.
GENERIC = """
国际=international 全球=global 环球=global 亚太=asia+pacific 联合=united
发展=development 开发=development 经济=economic 合作=cooperation 交流=exchange
创新=innovation 国有=state+owned 合资=joint+venture 控股=holdings 管理=management
企业=enterprise 制品=products 产品=products 工程=engineering
销售=sales 经销=sales 中心=center 总部=headquarters 实业=industrial 产业=industrial
工业=industrial 商务=business 商业=commercial 服务=services 集成=integration
"""

# What the firm does. Grouped by trade; one English token per word.
INDUSTRY = """
科技=technology 技术=technology 高科技=high+technology 高新技术=high+technology
信息=information 信息技术=information+technology 网络=network 互联网=internet
物联网=iot 软件=software 硬件=hardware 数据=data 大数据=big+data 云=cloud
云计算=cloud+computing 计算机=computer 电脑=computer 智能=intelligent 智慧=intelligent
人工智能=artificial+intelligence 数字=digital 数码=digital 通信=communication
通讯=communication 电信=telecom 移动=mobile 区块链=blockchain 电子=electronics
微电子=microelectronics 光电=optoelectronics 半导体=semiconductor 芯片=chip
集成电路=integrated+circuit 光学=optical 激光=laser 光纤=optical+fiber 显示=display
传感=sensor 传感器=sensor 控制=control 自动化=automation 机器人=robotics 系统=systems
导航=navigation 卫星=satellite 航天=aerospace 无人机=drone 音响=audio

能源=energy 新能源=new+energy 电力=power 动力=power 发电=power+generation
电站=power+station 电网=power+grid 核电=nuclear+power 风电=wind+power 太阳能=solar
光伏=photovoltaic 水电=hydropower 热电=thermal+power 电气=electrical
电器=electrical+appliances 电机=motor 电池=battery 电缆=cable 线缆=cable 电线=wire
照明=lighting 灯饰=lighting 石油=petroleum 石化=petrochemical 石油化工=petrochemical
天然气=natural+gas 燃气=gas 煤炭=coal 煤业=coal 燃料=fuel 油田=oilfield 炼油=refining
矿业=mining 矿山=mining 矿产=mineral 资源=resources 再生资源=renewable+resources
回收=recycling 有色金属=nonferrous+metal 金属=metal 钢铁=steel 钢材=steel
不锈钢=stainless+steel 钢管=steel+pipe 钢结构=steel+structure 铝业=aluminium
铜业=copper 黄金=gold 稀土=rare+earth 冶金=metallurgy 材料=materials
新材料=new+materials 建材=building+materials 建筑材料=building+materials
化工=chemical 化学=chemical 精细化工=fine+chemical 日化=daily+chemical 塑料=plastics
塑胶=plastics 橡胶=rubber 玻璃=glass 陶瓷=ceramics 水泥=cement 石材=stone 木业=wood
木材=timber 竹业=bamboo 纸业=paper 造纸=paper 涂料=coatings 油漆=paint 纤维=fiber
化纤=chemical+fiber 染料=dyes

制造=manufacturing 机械=machinery 机电=electromechanical 机床=machine+tool
精密=precision 重工=heavy+industry 轻工=light+industry 设备=equipment 装备=equipment
仪器=instruments 仪表=instruments 五金=hardware 工具=tools 刀具=cutting+tools 模具=mold
铸造=casting 锻造=forging 紧固件=fasteners 焊接=welding 阀门=valve 泵业=pump
轴承=bearing 液压=hydraulic 气动=pneumatic 传动=transmission 电梯=elevator
起重=lifting 管道=pipeline 管业=pipe 制冷=refrigeration 空调=air+conditioning
暖通=hvac 汽车=automotive 汽配=auto+parts 汽车配件=auto+parts 零部件=parts
配件=parts 摩托车=motorcycle 车辆=vehicle 船舶=ship 造船=shipbuilding 游艇=yacht
  用品=supplies 包装=packaging 印刷=printing

纺织=textile 服装=garment 制衣=garment 服饰=apparel 鞋业=footwear 皮革=leather
家纺=home+textile 针织=knitting 印染=printing+dyeing 丝绸=silk 棉业=cotton
家具=furniture 家居=home+furnishing 家电=home+appliances 玩具=toys 工艺品=crafts
礼品=gifts 文具=stationery 体育=sports 运动=sports 日用品=daily+necessities
化妆品=cosmetics 珠宝=jewelry 首饰=jewelry 钟表=watches 眼镜=eyewear 箱包=luggage
卫浴=sanitary+ware 厨具=kitchenware 门窗=doors+windows 地板=flooring

食品=food 饮料=beverage 饮品=beverage 酒业=wine 啤酒=beer 茶叶=tea 茶业=tea
乳业=dairy 肉类=meat 调味品=condiment 粮油=grain+oil 粮食=grain 烟草=tobacco
水果=fruit 蔬菜=vegetables 花卉=flowers 农业=agriculture 农产品=agricultural+products
林业=forestry 牧业=animal+husbandry 畜牧=animal+husbandry 渔业=fishery
水产=aquatic+products 种业=seed 饲料=feed 肥料=fertilizer 化肥=fertilizer
农药=pesticide 养殖=breeding 宠物=pet 生态=ecological 绿色=green

生物=biological 生物科技=biotech 生物技术=biotech 生物工程=bioengineering
医药=pharmaceutical 制药=pharmaceutical 药业=pharmaceutical 药品=pharmaceutical
中药=chinese+medicine 医疗=medical 医学=medical 医疗器械=medical+devices 器械=devices
医院=hospital 诊所=clinic 健康=health 卫生=health 保健=healthcare 养老=elderly+care
康复=rehabilitation 营养=nutrition 美容=beauty 健身=fitness 生命科学=life+science
基因=genetic 疫苗=vaccine 试剂=reagent 诊断=diagnostics 口腔=dental 药房=pharmacy
大药房=pharmacy

建设=construction 建筑=construction 建工=construction
路桥=road+bridge 市政=municipal 装饰=decoration 装修=decoration 设计=design
规划=planning 勘察=survey 测绘=survey 监理=supervision 房地产=real+estate
地产=real+estate 不动产=real+estate 置业=property 物业=property 置地=land
基础设施=infrastructure 园林=landscape 绿化=landscape 城建=urban+construction
水利=water+conservancy 幕墙=curtain+wall 住宅=residential 房屋=housing
安装=installation 维修=repair 开发区=development+zone 园区=park 停车=parking

投资=investment 资产=asset 资本=capital 金融=financial 财务=financial 财富=wealth
保险=insurance 证券=securities 银行=bank 基金=fund 信托=trust 担保=guarantee
租赁=leasing 融资=financing 融资租赁=financial+leasing 小额贷款=microcredit
贷款=loan 期货=futures 典当=pawn 支付=payment 会计=accounting 审计=audit 税务=tax
咨询=consulting 顾问=consulting 股权=equity 创业=venture 风险投资=venture+capital
创投=venture+capital 孵化=incubation 拍卖=auction 彩票=lottery

贸易=trading 商贸=trading 经贸=economic+trade 外贸=foreign+trade
进出口=import+export 进口=import 出口=export 跨境=cross+border
电子商务=e+commerce 电商=e+commerce 供应链=supply+chain 物流=logistics
运输=transport 交通=transport 货运=freight 货运代理=freight+forwarding
货代=freight+forwarding 代理=agency 快递=express 速递=express 仓储=warehousing
仓库=warehousing 航运=shipping 船务=shipping 海运=marine 远洋=ocean 海洋=marine
海事=maritime 航空=aviation 港口=port 港务=port 码头=terminal 集装箱=container
铁路=railway 公路=highway 高速=expressway 客运=passenger+transport 租车=car+rental
机场=airport 轮船=steamship 船运=shipping 海运服务=shipping+services
商品=commodities 批发=wholesale 零售=retail 连锁=chain 超市=supermarket
百货=department+store 商场=mall 商城=mall 购物=shopping 便利店=convenience+store
商店=store 市场=market 营销=marketing 广告=advertising 会展=exhibition
展览=exhibition

文化=culture 艺术=art 传媒=media 媒体=media 影视=film+television 电影=film
电视=television 出版=publishing 新闻=news 娱乐=entertainment 游戏=games
动漫=animation 音乐=music 教育=education 培训=training 学校=school 大学=university
学院=college 科学=science 研究=research 研究院=research+institute
研究所=research+institute 实验室=laboratory 检测=testing 认证=certification
人力资源=human+resources 劳务=labor 人才=talent 中介=agency 外包=outsourcing
保安=security 安防=security 安全=safety 消防=fire+protection 清洁=cleaning
家政=housekeeping 园艺=horticulture 旅游=tourism 旅行=travel 旅行社=travel+agency
酒店=hotel 宾馆=hotel 饭店=hotel 餐饮=catering 餐厅=restaurant 公寓=apartment
俱乐部=club 工作室=studio 事务所=firm 律师事务所=law+firm
会计师事务所=accounting+firm 协会=association 商会=chamber+of+commerce
基金会=foundation 环保=environmental 环境保护=environmental 环境=environmental
节能=energy+saving 水务=water 供水=water+supply 水处理=water+treatment
净化=purification
冷链=cold+chain
"""

# --- English words: spellings and abbreviations that mean one canonical word ---------

LATIN_SYNONYMS = """
tech=technology techn=technology technologies=technology technological=technology
hitech=high+technology hightech=high+technology hi=high sci=science
trade=trading trades=trading trader=trading traders=trading intl=international
mfg=manufacturing mfr=manufacturing manufacture=manufacturing
manufacturer=manufacturing manufacturers=manufacturing manufactory=manufacturing
manufactures=manufacturing eng=engineering engg=engineering engr=engineering
engineers=engineering engineer=engineering dev=development devt=development
developments=development svc=services svcs=services service=services mgmt=management
mgt=management hldg=holdings hldgs=holdings holding=holdings invest=investment
investments=investment chem=chemical chemistry=chemical pharma=pharmaceutical
pharm=pharmaceutical mach=machinery machineries=machinery ind=industrial
inds=industrial indus=industrial industries=industrial industry=industrial
industrials=industrial constr=construction constructions=construction bldg=building
transportation=transport transports=transport telecommunications=telecom
telecommunication=telecom telecoms=telecom sys=systems info=information
auto=automotive automobile=automotive automobiles=automotive autos=automotive
finance=financial finances=financial assurance=insurance banking=bank
consult=consulting consultants=consulting consultancy=consulting consultant=consulting
consultation=consulting mktg=marketing advertisement=advertising edu=education
educational=education med=medical bio=biological biology=biological
biotechnology=biotech biotechnologies=biotech environment=environmental
env=environmental enviro=environmental petro=petroleum mines=mining clothing=garment
clothes=garment foodstuff=food foodstuffs=food agri=agriculture agro=agriculture
agricultural=agriculture farming=agriculture realty=real+estate properties=property
imp=import imports=import exp=export exports=export impex=import+export
electric=electrical photoelectric=optoelectronics smart=intelligent
intelligence=intelligent rental=leasing rentals=leasing lease=leasing leases=leasing
packing=packaging package=packaging packages=packaging print=printing
printers=printing instrumentation=instruments equipments=equipment cultural=culture
tourist=tourism centre=center centres=center aluminum=aluminium jewellery=jewelry
labour=labor mould=mold moulds=mold fibre=fiber fibres=fiber batteries=battery
univ=university lab=laboratory labs=laboratory laboratories=laboratory
guaranty=guarantee toy=toys gift=gifts craft=crafts supply=supplies dye=dyes
travel=tourism travels=tourism tours=tourism motor=automotive motors=automotive
papermaking=paper papers=paper apparel=garment apparels=garment garments=garment
sale=sales selling=sales dyeing=dyes property=real+estate marine=ship
shipbuilding=ship ships=ship communication=telecom communications=telecom
handicraft=crafts handicrafts=crafts it=information+technology
koln=cologne munchen=munich wien=vienna praha=prague roma=rome milano=milan
lisboa=lisbon firenze=florence venezia=venice napoli=naples torino=turin
bruxelles=brussels brussel=brussels antwerpen=antwerp geneve=geneva den+haag=thehague
hague=thehague beijing=beijing peking=beijing canton=guangzhou
vehicle=automotive vehicles=automotive
"""

# Foreign places that name firms ("Hamburg ...", "..., Osaka"): compared as a firm's
# region, never as its own name. Cities and countries, in their English spelling.
_FOREIGN_PLACES = """
    london manchester birmingham glasgow edinburgh liverpool leeds bristol dublin paris
    lyon marseille berlin hamburg munich frankfurt cologne stuttgart dusseldorf vienna
    zurich geneva basel amsterdam rotterdam brussels antwerp luxembourg madrid barcelona
    valencia lisbon porto rome milan turin naples genoa stockholm gothenburg oslo
    copenhagen helsinki warsaw prague budapest bucharest athens istanbul ankara moscow
    kyiv tokyo osaka yokohama nagoya kobe kyoto fukuoka sapporo seoul busan incheon
    singapore bangkok jakarta manila hanoi saigon kualalumpur mumbai delhi bangalore
    chennai kolkata karachi lahore dhaka colombo dubai abudhabi doha riyadh jeddah
    tehran cairo lagos nairobi johannesburg capetown casablanca sydney melbourne
    brisbane perth auckland toronto montreal vancouver calgary newyork chicago houston
    dallas boston seattle miami atlanta detroit denver phoenix philadelphia
    sanfrancisco losangeles washington mexico saopaulo rio buenosaires santiago lima
    bogota caracas
    england scotland wales ireland britain france germany austria switzerland
    netherlands holland belgium spain portugal italy sweden norway denmark finland
    poland czech hungary romania greece turkey russia ukraine japan korea thailand
    indonesia philippines vietnam malaysia india pakistan bangladesh australia canada
    america usa brazil argentina chile peru colombia egypt nigeria kenya
    bordeaux toulouse nice nantes strasbourg lille rennes montpellier grenoble seville
    bilbao malaga zaragoza florence venice bologna verona palermo bremen hanover
    leipzig dresden nuremberg essen dortmund duisburg bonn mannheim karlsruhe
    thehague eindhoven utrecht groningen ghent liege bern lausanne lucerne salzburg
    graz innsbruck krakow gdansk wroclaw poznan brno bratislava ljubljana zagreb
    belgrade sofia riga vilnius tallinn reykjavik aberdeen cardiff belfast cork galway
    sheffield nottingham leicester southampton portsmouth newcastle
    osaka kawasaki hiroshima sendai chiba daegu gwangju daejeon ulsan taipei kaohsiung
    taichung penang cebu surabaya bandung medan ahmedabad hyderabad pune surat
    jaipur lucknow kanpur nagpur islamabad faisalabad chittagong kathmandu
    almaty tashkent baku tbilisi yerevan beirut amman kuwait muscat manama telaviv
    jerusalem haifa tunis algiers accra abuja addisababa daressalaam kampala kinshasa
    luanda durban pretoria adelaide canberra hobart darwin wellington christchurch
    ottawa quebec winnipeg edmonton halifax sandiego austin sanantonio portland
    lasvegas minneapolis stlouis pittsburgh baltimore cleveland cincinnati nashville
    neworleans charlotte orlando tampa honolulu anchorage monterrey guadalajara
    havana panama quito lapaz asuncion montevideo medellin recife brasilia curitiba
    portoalegre salvador fortaleza
"""
FOREIGN_PLACES = frozenset(_FOREIGN_PLACES.split())

# Word sequences that stand for one token (besides the multi-part glossary words, which
# are added automatically). Written in raw words; the synonyms apply before matching.
LATIN_PHRASES = """
import+and+export=importexport export+import=importexport
export+and+import=importexport iron+and+steel=steel internet+of+things=iot
bio+tech=biotech economic+and+trade=economictrade road+and+bridge=roadbridge
non+ferrous+metal=nonferrousmetal environmental+protection=environmental
science+and+technology=technology sci+tech=technology scitech=technology
printing+and+dyeing=printingdyeing printing+dyeing=printingdyeing
medical+equipment=medicaldevices medical+instruments=medicaldevices
medical+device=medicaldevices arts+and+crafts=crafts art+crafts=crafts
food+and+beverage=catering food+beverage=catering
new+york=newyork san+francisco=sanfrancisco los+angeles=losangeles
kuala+lumpur=kualalumpur abu+dhabi=abudhabi cape+town=capetown sao+paulo=saopaulo
buenos+aires=buenosaires
"""

# Stop words left out of the translated tokens (after phrases are formed, so
# "chamber of commerce" still meets 商会).
STOPWORDS = frozenset({"the", "of", "and", "for"})

# --- legal forms -------------------------------------------------------------------

# Han legal forms, matched as a suffix of the last word, longest first.
HAN_LEGAL_FORMS = """
有限公司=limited 有限责任公司=limited_liability,limited 股份有限公司=joint_stock,limited
股份公司=joint_stock 集团=group 总公司=corporation 分公司=branch 公司=company
合伙企业=partnership 有限合伙=lp 普通合伙=partnership 特殊普通合伙=llp
个人独资企业=sole_proprietorship 个体工商户=sole_proprietorship
专业合作社=cooperative 合作社=cooperative 工厂=factory 厂=factory 商行=firm
株式会社=kk 有限会社=yk
"""

# Han legal forms that stand before the name.
HAN_PREFIX_FORMS = "株式会社=kk"

# Latin legal forms, matched on whole words at the end of the name, longest first.
LATIN_LEGAL_FORMS = """
co+ltd=limited company+limited=limited co+limited=limited company+ltd=limited
limited+company=limited ltd+co=limited ltd=limited limited=limited ltda=limited
llc=llc,limited_liability limited+liability+company=llc,limited_liability
limited+liability+co=llc,limited_liability inc=inc incorporated=inc
corp=corporation corporation=corporation corpn=corporation co=company
company=company and+co=company cia=company gmbh=gmbh mbh=gmbh ag=ag
aktiengesellschaft=ag kg=kg kgaa=kgaa sa=sa societe+anonyme=sa sociedad+anonima=sa
sa+de+cv=sa sarl=sarl sas=sas srl=srl spa=spa sl=sl bv=bv nv=nv bvba=bvba plc=plc
public+limited+company=plc llp=llp limited+liability+partnership=llp lp=lp
limited+partnership=lp partnership=partnership pvt+ltd=pvt_ltd
private+limited=pvt_ltd pvt+limited=pvt_ltd private+ltd=pvt_ltd
private+limited+company=pvt_ltd pte+ltd=pte_ltd pte+limited=pte_ltd pty+ltd=pty_ltd
pty+limited=pty_ltd proprietary+limited=pty_ltd sdn+bhd=sdn_bhd
sendirian+berhad=sdn_bhd bhd=bhd berhad=bhd kk=kk kabushiki+kaisha=kk yk=yk
ooo=ooo jsc=joint_stock ojsc=joint_stock pjsc=joint_stock cjsc=joint_stock
joint+stock+company=joint_stock joint+stock=joint_stock ab=ab as=as a+s=as asa=asa
aps=aps oy=oy oyj=oyj se=se sp+z+oo=sp_zoo doo=doo kft=kft zrt=zrt tbk=tbk
group=group cooperative=cooperative coop=cooperative factory=factory
stock+co+ltd=joint_stock,limited stock+company+limited=joint_stock,limited
stock+co+limited=joint_stock,limited stock+company=joint_stock
share+co+ltd=joint_stock,limited shares+co+ltd=joint_stock,limited
gongsi=company youxian+gongsi=limited youxiangongsi=limited
youxian+zeren+gongsi=limited_liability,limited
gufen+youxian+gongsi=joint_stock,limited jituan=group
"""

# Latin legal forms that stand before the name (Indonesian PT, Russian OOO, ...).
LATIN_PREFIX_FORMS = """
pt=pt cv=cv ooo=ooo zao=joint_stock oao=joint_stock pao=joint_stock jsc=joint_stock
ojsc=joint_stock pjsc=joint_stock cjsc=joint_stock tov=tov ооо=ooo зао=joint_stock
оао=joint_stock пао=joint_stock ао=joint_stock
"""

# Which codes are alike, for a matcher that wants "Ltd" to meet "GmbH".
LEGAL_FORM_FAMILIES = """
limited=limited limited_liability=limited llc=limited gmbh=limited pvt_ltd=limited
pte_ltd=limited pty_ltd=limited sdn_bhd=limited bhd=limited sarl=limited srl=limited
sl=limited bv=limited bvba=limited ooo=limited yk=limited sp_zoo=limited doo=limited
kft=limited aps=limited oy=limited pt=limited
joint_stock=stock sa=stock ag=stock plc=stock inc=stock corporation=stock nv=stock
spa=stock kk=stock as=stock asa=stock ab=stock oyj=stock se=stock tbk=stock sas=stock
kgaa=stock zrt=stock
partnership=partnership lp=partnership llp=partnership kg=partnership cv=partnership
branch=branch representative_office=branch
sole_proprietorship=sole tov=limited company=company group=group cooperative=cooperative
factory=factory firm=firm
"""

# --- labels and other residue ------------------------------------------------------

PARTY_LABELS = (
    "shipper consignee notify+party notify buyer seller applicant beneficiary exporter "
    "importer manufacturer supplier consignor 收货人 发货人 通知人 托运人 收货方 发货方 "
    "通知方 买方 卖方 申请人 受益人 出口商 进口商 供应商 制造商"
)
HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "mlle", "herr", "frau"}
)
HAN_HONORIFICS = ("先生", "女士", "小姐")

# Branch words: Han suffixes, Latin tail phrases (words joined with +), each with a code.
HAN_BRANCHES = """
分公司=branch 分行=branch 支行=branch 分店=branch 分厂=branch 分部=branch
营业部=branch 办事处=representative_office 代表处=representative_office
"""
LATIN_BRANCHES = """
branch=branch branch+office=branch sub+branch=branch
representative+office=representative_office rep+office=representative_office
liaison+office=representative_office
"""

ORDINALS = """
diyi=1 dier=2 disan=3 disi=4 diwu=5 diliu=6 diqi=7 diba=8 dijiu=9 dishi=10
first=1 second=2 third=3 fourth=4 fifth=5 sixth=6 seventh=7 eighth=8 ninth=9 tenth=10
eleventh=11 twelfth=12 thirteenth=13 fourteenth=14 fifteenth=15 sixteenth=16
seventeenth=17 eighteenth=18 nineteenth=19 twentieth=20
"""
NUMBER_WORDS = frozenset({"no", "nr", "num", "number"})

# Common surnames whose everyday reading differs from pypinyin's default for the
# character; used only for a Han person name's first character.
SURNAME_READINGS = """
曾=zeng 单=shan 解=xie 仇=qiu 朴=piao 区=ou 查=zha 盖=ge 乐=yue 缪=miao 覃=qin
翟=zhai 种=chong 秘=bi 召=shao 员=yun 隗=wei 繁=po 句=gou
"""


def pairs(table: str) -> list[tuple[str, str]]:
    """The ``left=right`` items of a table, in order (duplicates kept, for tests)."""
    return [(left, right) for left, _, right in (i.partition("=") for i in table.split())]


def table(text: str) -> dict[str, str]:
    """A table as a dict (a later duplicate wins)."""
    return dict(pairs(text))


def codes(text: str) -> dict[str, frozenset[str]]:
    """A legal-form table: each left side with the set of its codes."""
    return {left: frozenset(right.split(",")) for left, right in pairs(text)}


def _build_words() -> tuple[dict[str, str], dict[str, str], dict[tuple[str, ...], str]]:
    """Glossary (Han → token), synonyms (Latin word → token), phrases (words → token).

    Glossary tokens of one English word pass through the synonyms, so both sides
    always give the same canonical word; the parts of a phrase pass through them too,
    so "Heavy Industries" meets 重工 (``heavyindustry``).
    """
    synonyms = {k: v.replace("+", "") for k, v in pairs(LATIN_SYNONYMS)}
    phrases: dict[tuple[str, ...], str] = {}

    def token(english: str) -> str:
        parts = english.split("+")
        if len(parts) == 1:
            return synonyms.get(english, english)
        phrases[tuple(synonyms.get(p, p) for p in parts)] = "".join(parts)
        return "".join(parts)

    glossary: dict[str, str] = {}
    for han, english in pairs(PLACES):
        glossary[han] = glossary[han + "省"] = glossary[han + "市"] = token(english)
    for long, short in pairs(PLACE_LONG_FORMS):
        glossary[long] = glossary[short]
    for han, english in pairs(GENERIC + INDUSTRY):
        glossary[han] = token(english)
    for words, target in pairs(LATIN_PHRASES):
        parts = tuple(synonyms.get(p, p) for p in words.split("+"))
        if len(parts) == 1:
            synonyms[words] = target
        else:
            phrases[parts] = target
    canonical = {*glossary.values(), *synonyms.values(), *(w for k in phrases for w in k)}
    _add_number_variants(synonyms, canonical)
    return glossary, synonyms, phrases


def _add_number_variants(synonyms: dict[str, str], canonical: set[str]) -> None:
    """Let the plural meet a singular canonical word and the singular a plural one."""
    for word in sorted(canonical):
        if len(word) < 3 or word in STOPWORDS:
            continue
        if not word.endswith("s"):
            variant = word + "s"
        elif len(word) >= 5 and word[-2] not in "su" and word not in {"futures", "news"}:
            variant = word[:-1]
        else:
            continue
        if variant not in canonical:
            synonyms.setdefault(variant, word)


GLOSSARY, SYNONYMS, PHRASES = _build_words()
# First character of a glossary word → the lengths of the words it starts, longest first.
GLOSS_LENGTHS: dict[str, tuple[int, ...]] = {}
for _han in GLOSSARY:
    GLOSS_LENGTHS[_han[0]] = tuple(sorted({*GLOSS_LENGTHS.get(_han[0], ()), len(_han)})[::-1])

REGION_WORDS = frozenset(GLOSSARY[h] for h, _ in pairs(PLACES)) | FOREIGN_PLACES
GENERIC_WORDS = frozenset(GLOSSARY[h] for h, _ in pairs(GENERIC))
INDUSTRY_WORDS = frozenset(GLOSSARY[h] for h, _ in pairs(INDUSTRY))
PLACE_TOKENS = {h: t for h, t in GLOSSARY.items() if t in REGION_WORDS}
MULTI_WORD_PLACES = frozenset(e.replace("+", "") for _, e in pairs(PLACES) if "+" in e)

HAN_FORMS = codes(HAN_LEGAL_FORMS)
HAN_PREFIXES = codes(HAN_PREFIX_FORMS)
LATIN_FORMS = {tuple(k.split("+")): v for k, v in codes(LATIN_LEGAL_FORMS).items()}
LATIN_PREFIXES = codes(LATIN_PREFIX_FORMS)
HAN_BRANCH_CODES = table(HAN_BRANCHES)
LATIN_BRANCH_CODES = {tuple(k.split("+")): v for k, v in pairs(LATIN_BRANCHES)}
ORDINAL_NUMBERS = table(ORDINALS)
SURNAMES = table(SURNAME_READINGS)
FAMILIES = table(LEGAL_FORM_FAMILIES)


def _fold_table() -> dict[int, str | None]:
    """Latin letters to ASCII, combining marks dropped, apostrophes dropped, & → and."""
    fold: dict[int, str | None] = {}
    for point in itertools.chain(range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        char = chr(point)
        decomposed = unicodedata.normalize("NFD", char)
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if base != char and base.isascii():
            fold[point] = base
    special = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th"}
    special |= {"ł": "l", "ı": "i", "ħ": "h", "ŧ": "t", "ŋ": "n", "ĸ": "k", "&": " and "}
    special |= {"[": "(", "]": ")", "【": "(", "】": ")", "〔": "(", "〕": ")"}
    fold.update({ord(k): v for k, v in special.items()})
    fold.update(dict.fromkeys(range(0x300, 0x370)))
    fold.update(dict.fromkeys(map(ord, "'’‘ʼ`′")))
    return fold


FOLD = _fold_table()
