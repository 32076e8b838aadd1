"""Made-up but valid Chinese borrowers: names, resident IDs, credit codes, phones, addresses.

No I/O and no clock: all randomness comes from the ``random.Random`` handed in. The
identifiers pass the real check-digit rules (GB 11643 resident IDs, GB 32100 unified social
credit codes, GB 11714 organisation codes) and the region codes are real divisions that
existed in the holder's birth year, so validators accept them.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import NamedTuple

# (surname, share of the population in ‱), the most common surnames of the 2020 census.
SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 712), ("李", 700), ("张", 666), ("刘", 538), ("陈", 453), ("杨", 308),
    ("黄", 223), ("赵", 205), ("吴", 199), ("周", 189), ("徐", 136), ("孙", 134),
    ("马", 129), ("朱", 124), ("胡", 116), ("郭", 115), ("何", 105), ("林", 101),
    ("高", 100), ("罗", 87), ("郑", 84), ("梁", 82), ("谢", 72), ("宋", 69),
    ("唐", 67), ("许", 64), ("韩", 62), ("邓", 61), ("冯", 60), ("曹", 58),
    ("彭", 56), ("曾", 55), ("肖", 53), ("田", 52), ("董", 51), ("潘", 49),
    ("袁", 48), ("蔡", 47), ("蒋", 47), ("余", 46), ("于", 45), ("杜", 44),
    ("叶", 43), ("程", 42), ("魏", 41), ("苏", 41), ("吕", 40), ("丁", 39),
    ("任", 38), ("卢", 37), ("姚", 36), ("沈", 36), ("钟", 35), ("姜", 35),
    ("崔", 34), ("谭", 33), ("陆", 32), ("范", 31), ("汪", 31), ("廖", 30),
    ("石", 30), ("金", 29), ("韦", 28), ("贾", 28), ("夏", 27), ("付", 27),
    ("方", 26), ("邹", 25), ("熊", 25), ("白", 25), ("孟", 24), ("秦", 24),
    ("邱", 24), ("侯", 23), ("江", 23), ("尹", 22), ("薛", 22), ("闫", 21),
    ("段", 21), ("雷", 21), ("龙", 20), ("黎", 20), ("史", 20), ("陶", 19),
    ("贺", 19), ("毛", 18), ("郝", 18), ("顾", 18), ("龚", 17), ("邵", 17),
    ("万", 16), ("覃", 16), ("武", 16), ("钱", 16), ("戴", 15), ("严", 15),
    ("莫", 14), ("孔", 14), ("向", 14), ("常", 14), ("汤", 13), ("康", 13),
    ("易", 13), ("乔", 12), ("赖", 12), ("文", 12), ("欧阳", 5), ("上官", 1),
    ("司马", 1), ("诸葛", 1),
)  # fmt: skip

MALE_GIVEN = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳建国志文博亮成峰海东晨"
    "睿轩泽宏毅鸿铭振晓立新永彬锋庆德家兴良云天嘉航"
)
FEMALE_GIVEN = (
    "芳娜敏静丽艳娟霞秀英玲洁婷雪慧琳颖倩燕欣悦佳怡梅萍红丹晶璐晨萱月琪雨梦思文瑶妍婉蕾"
    "薇莉岚楠蓉春晓诗涵嘉"
)


@dataclass(frozen=True, slots=True)
class Region:
    """A county-level division: its GB/T 2260 code and the year the code came into use."""

    code: str
    province: str
    city: str
    district: str
    since: int  # first birth year the code is valid for (0: always)
    weight: int  # relative share of borrowers living there
    city_short: str  # the city as it starts a company name ("深圳", "延吉")
    place: str  # how an address starts ("北京市朝阳区", "广东省深圳市南山区")


def _regions(province: str, city: str, rows: tuple[tuple[str, str, int, int], ...]) -> list[Region]:
    out = []
    for code, district, since, weight in rows:
        short = city.removesuffix("市") if city.endswith("市") else district.removesuffix("市")
        place = f"{province}{'' if city == province else city}{district}"
        out.append(Region(code, province, city, district, since, weight, short, place))
    return out


# Real codes, each checked against the code tables for the years it is used with.
REGIONS: tuple[Region, ...] = tuple(
    _regions("北京市", "北京市", (
        ("110101", "东城区", 0, 20), ("110102", "西城区", 0, 20), ("110105", "朝阳区", 0, 40),
        ("110106", "丰台区", 0, 30), ("110107", "石景山区", 0, 10), ("110108", "海淀区", 0, 40),
        ("110111", "房山区", 1986, 10), ("110112", "通州区", 1997, 20),
        ("110114", "昌平区", 1999, 20),
    ))
    + _regions("天津市", "天津市", (
        ("120101", "和平区", 0, 10), ("120102", "河东区", 0, 15), ("120103", "河西区", 0, 15),
        ("120104", "南开区", 0, 15), ("120105", "河北区", 0, 10), ("120106", "红桥区", 0, 10),
        ("120110", "东丽区", 0, 10), ("120111", "西青区", 0, 10),
    ))
    + _regions("上海市", "上海市", (
        ("310101", "黄浦区", 0, 20), ("310104", "徐汇区", 0, 25), ("310105", "长宁区", 0, 15),
        ("310106", "静安区", 0, 20), ("310107", "普陀区", 0, 20), ("310109", "虹口区", 0, 15),
        ("310110", "杨浦区", 0, 20), ("310112", "闵行区", 1981, 30),
        ("310113", "宝山区", 1988, 20), ("310115", "浦东新区", 1992, 50),
    ))
    + _regions("重庆市", "重庆市", (
        ("500103", "渝中区", 1997, 15), ("500106", "沙坪坝区", 1997, 15),
        ("500107", "九龙坡区", 1997, 15), ("500108", "南岸区", 1997, 15),
        ("500113", "巴南区", 1997, 10),
    ))
    + _regions("广东省", "广州市", (
        ("440103", "荔湾区", 1983, 15), ("440104", "越秀区", 1983, 15),
        ("440105", "海珠区", 1983, 20), ("440106", "天河区", 1985, 30),
        ("440111", "白云区", 1983, 25), ("440113", "番禺区", 2000, 20),
    ))
    + _regions("广东省", "深圳市", (
        ("440303", "罗湖区", 1983, 15), ("440304", "福田区", 1983, 25),
        ("440305", "南山区", 1983, 30), ("440306", "宝安区", 1992, 30),
        ("440307", "龙岗区", 1992, 30),
    ))
    + _regions("广东省", "东莞市", (("441900", "", 1988, 30),))
    + _regions("广东省", "佛山市", (("440604", "禅城区", 2002, 10), ("440606", "顺德区", 2002, 15)))
    + _regions("浙江省", "杭州市", (
        ("330102", "上城区", 1983, 15), ("330105", "拱墅区", 1983, 15),
        ("330106", "西湖区", 1983, 20), ("330108", "滨江区", 1996, 15),
        ("330109", "萧山区", 2001, 15), ("330110", "余杭区", 2001, 15),
        ("330122", "桐庐县", 0, 5), ("330127", "淳安县", 0, 5),
    ))
    + _regions("浙江省", "宁波市", (("330203", "海曙区", 1983, 10), ("330212", "鄞州区", 2002, 15)))
    + _regions("浙江省", "温州市", (("330302", "鹿城区", 1983, 10),))
    + _regions("浙江省", "金华市", (("330782", "义乌市", 1989, 10),))
    + _regions("江苏省", "南京市", (
        ("320102", "玄武区", 1983, 10), ("320104", "秦淮区", 1983, 10),
        ("320105", "建邺区", 1983, 10), ("320106", "鼓楼区", 1983, 15),
        ("320115", "江宁区", 2000, 15),
    ))
    + _regions("江苏省", "苏州市", (
        ("320505", "虎丘区", 2000, 10), ("320506", "吴中区", 2000, 15),
        ("320508", "姑苏区", 2012, 10), ("320583", "昆山市", 1989, 15),
    ))
    + _regions("江苏省", "无锡市", (("320211", "滨湖区", 1983, 10),))
    + _regions("湖北省", "武汉市", (
        ("420102", "江岸区", 1983, 15), ("420103", "江汉区", 1983, 10),
        ("420106", "武昌区", 1983, 15), ("420111", "洪山区", 1983, 20),
    ))
    + _regions("四川省", "成都市", (
        ("510104", "锦江区", 1990, 15), ("510105", "青羊区", 1990, 15),
        ("510107", "武侯区", 1990, 20), ("510108", "成华区", 1990, 15),
        ("510121", "金堂县", 0, 8),
    ))
    + _regions("陕西省", "西安市", (
        ("610103", "碑林区", 1983, 10), ("610112", "未央区", 1983, 15),
        ("610113", "雁塔区", 1983, 20),
    ))
    + _regions("陕西省", "宝鸡市", (("610323", "岐山县", 0, 5), ("610324", "扶风县", 0, 4)))
    + _regions("山东省", "济南市", (("370102", "历下区", 1983, 10), ("370103", "市中区", 1983, 10)))
    + _regions("山东省", "青岛市", (
        ("370202", "市南区", 1983, 10), ("370203", "市北区", 1983, 10),
        ("370212", "崂山区", 1988, 10),
    ))
    + _regions("福建省", "福州市", (("350102", "鼓楼区", 1983, 10), ("350121", "闽侯县", 0, 6)))
    + _regions("福建省", "厦门市", (("350203", "思明区", 1983, 15), ("350206", "湖里区", 1987, 10)))
    + _regions("福建省", "泉州市", (("350582", "晋江市", 1992, 10),))
    + _regions("湖南省", "长沙市", (
        ("430102", "芙蓉区", 1983, 10), ("430104", "岳麓区", 1983, 15),
        ("430121", "长沙县", 0, 8),
    ))
    + _regions("湖南省", "湘潭市", (("430321", "湘潭县", 0, 5),))
    + _regions("河南省", "郑州市", (("410102", "中原区", 1983, 10), ("410105", "金水区", 1983, 20)))
    + _regions("安徽省", "合肥市", (
        ("340104", "蜀山区", 1983, 10), ("340111", "包河区", 1983, 10),
        ("340121", "长丰县", 0, 6),
    ))
    + _regions("安徽省", "淮北市", (("340621", "濉溪县", 0, 5),))
    + _regions("江西省", "南昌市", (("360102", "东湖区", 1983, 10), ("360121", "南昌县", 0, 6)))
    + _regions("辽宁省", "沈阳市", (("210102", "和平区", 1983, 10), ("210103", "沈河区", 1983, 10)))
    + _regions("辽宁省", "大连市", (("210202", "中山区", 1983, 8), ("210204", "沙河口区", 1983, 8)))
    + _regions("辽宁省", "辽阳市", (("211021", "辽阳县", 0, 5),))
    + _regions("吉林省", "长春市", (("220102", "南关区", 1983, 8),))
    + _regions("吉林省", "延边朝鲜族自治州", (("222401", "延吉市", 0, 5),))
    + _regions("黑龙江省", "哈尔滨市", (
        ("230102", "道里区", 1983, 8), ("230103", "南岗区", 1983, 8),
    ))
    + _regions("云南省", "昆明市", (("530102", "五华区", 1983, 10), ("530124", "富民县", 0, 4)))
    + _regions("广西壮族自治区", "南宁市", (("450103", "青秀区", 1983, 10),))
    + _regions("贵州省", "贵阳市", (("520102", "南明区", 1983, 8),))
    + _regions("河北省", "石家庄市", (("130102", "长安区", 1983, 10),))
    + _regions("山西省", "太原市", (("140105", "小店区", 1997, 8), ("140121", "清徐县", 0, 5)))
    + _regions("海南省", "海口市", (("460106", "龙华区", 2002, 6),))
    + _regions("甘肃省", "兰州市", (("620102", "城关区", 1983, 8), ("620123", "榆中县", 0, 4)))
    + _regions("内蒙古自治区", "呼和浩特市", (("150105", "赛罕区", 1983, 6),))
    + _regions("新疆维吾尔自治区", "乌鲁木齐市", (
        ("650102", "天山区", 1983, 6), ("650121", "乌鲁木齐县", 0, 3),
    ))
    + _regions("宁夏回族自治区", "银川市", (("640121", "永宁县", 0, 4),))
)  # fmt: skip

# (prefix, relative share): long-standing mainland mobile ranges of the three carriers.
MOBILE_PREFIXES: tuple[tuple[str, int], ...] = (
    ("130", 4), ("131", 4), ("132", 3), ("133", 4), ("135", 6), ("136", 6), ("137", 6),
    ("138", 8), ("139", 8), ("150", 5), ("151", 5), ("152", 4), ("153", 3), ("155", 3),
    ("156", 3), ("157", 3), ("158", 5), ("159", 5), ("166", 2), ("173", 2), ("175", 2),
    ("176", 2), ("177", 3), ("178", 2), ("180", 3), ("181", 3), ("182", 4), ("183", 3),
    ("185", 3), ("186", 5), ("187", 4), ("188", 4), ("189", 4), ("191", 2), ("198", 2),
    ("199", 2),
)  # fmt: skip

STREETS = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "朝阳路", "长江路",
    "黄河路", "胜利路", "光明路", "幸福路", "青年路", "学府路", "滨江路", "东风路", "友谊路",
    "工业路", "科技路", "健康路", "花园路", "育才路", "世纪大道", "迎宾大道", "金融街",
)  # fmt: skip
TRADE_NAMES = (
    "恒信", "华泰", "鑫源", "金盛", "宏达", "永兴", "博远", "德润", "瑞丰", "中和", "汇通",
    "天成", "嘉禾", "明锐", "佳和", "盛世", "远航", "诚达", "百川", "东方", "立信", "正元",
    "华创", "荣昌", "新锐", "安泰", "广源", "同力", "海纳", "卓越", "锦程", "联众", "星辰",
    "睿智", "宝利", "启航", "通达", "富华", "长青", "凯旋",
)  # fmt: skip
TRADES = (
    "贸易", "科技", "建材", "物流", "餐饮管理", "电子", "机械设备", "服装", "食品",
    "文化传媒", "建筑工程", "农业发展", "信息技术", "医疗器械", "化工", "汽车服务",
    "家居", "五金", "印刷", "环保科技", "供应链管理", "教育咨询", "装饰工程",
)  # fmt: skip
COMPANY_FORMS = ("有限公司",) * 6 + ("有限责任公司",) * 3 + ("股份有限公司",)
INSTITUTIONS = (
    "人民医院",
    "中心医院",
    "中学",
    "实验小学",
    "职业技术学院",
    "供电公司",
    "自来水公司",
)

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_NUMERALS = (
    tuple("一二三四五六七八九十") + tuple(f"十{n}" for n in "一二三四五六七八九") + ("二十",)
)
_SEQUENCES_PER_SEX = 499  # order codes 001–998: odd for men, even for women
_SEQUENCE_STRIDE = 37  # coprime with 499, so the k-th code of a day is distinct and scattered


def ric_check_digit(first17: str) -> str:
    """The 18th character of a resident ID (GB 11643, ISO 7064 MOD 11-2)."""
    # Read in base 13, digit i weighs 13^(16-i) ≡ 2^(16-i) (mod 11): the MOD 11-2 weights / 2.
    check = (1 - 2 * int(first17, 13)) % 11
    return "X" if check == 10 else str(check)


def resident_id(region_code: str, birth: date, sequence: int) -> str:
    """An 18-digit resident ID; ``sequence`` 1–999 is odd for men, even for women."""
    first17 = f"{region_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + ric_check_digit(first17)


def organisation_code(body8: str) -> str:
    """A 9-character organisation code (GB 11714): eight digits and their check character."""
    total = sum(int(digit) * weight for digit, weight in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + ("0" if check == 11 else "X" if check == 10 else str(check))


def uscc(region_code: str, body8: str, *, authority: str = "9", entity: str = "1") -> str:
    """An 18-character unified social credit code (GB 32100) of a company (9 1 by default)."""
    first17 = f"{authority}{entity}{region_code}{organisation_code(body8)}"
    total = sum(
        _USCC_ALPHABET.index(char) * weight
        for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return first17 + _USCC_ALPHABET[(31 - total % 31) % 31]


class KeyedShuffle:
    """A keyed permutation of ``range(size)``: distinct inputs always give distinct outputs.

    A four-round Feistel network over the next even power of two, walked until it lands
    inside the range; it makes serial numbers look random while staying unique.
    """

    def __init__(self, size: int, key: str) -> None:
        if size < 2:
            raise ValueError("a shuffle needs at least two values")
        bits = max(2, (size - 1).bit_length())
        bits += bits & 1
        self.size = size
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        rng = random.Random(key)
        self._keys = tuple(rng.getrandbits(32) for _ in range(4))

    def __call__(self, value: int) -> int:
        if not 0 <= value < self.size:
            raise ValueError(f"{value} is outside 0–{self.size - 1}")
        half, mask, size = self._half, self._mask, self.size
        k1, k2, k3, k4 = self._keys
        while True:
            left, right = value >> half, value & mask
            left ^= (((right ^ k1) * 0x9E3779B1) >> 11) & mask
            right ^= (((left ^ k2) * 0x9E3779B1) >> 11) & mask
            left ^= (((right ^ k3) * 0x9E3779B1) >> 11) & mask
            right ^= (((left ^ k4) * 0x9E3779B1) >> 11) & mask
            value = (left << half) | right
            if value < size:
                return value


def _cumulative(weights: list[int]) -> list[int]:
    return list(accumulate(weights))


def years_before(anchor: date, years: int) -> date:
    """``anchor`` moved back whole years (29 February becomes 28 February)."""
    try:
        return anchor.replace(year=anchor.year - years)
    except ValueError:
        return anchor.replace(year=anchor.year - years, day=28)


# (youngest age, oldest age, share): borrowers are mostly in their late twenties to forties.
AGE_BANDS = ((20, 24, 10), (25, 29, 20), (30, 34, 22), (35, 39, 18), (40, 49, 20), (50, 65, 10))
YOUNGEST, OLDEST = 20, 65


class Person(NamedTuple):
    """An individual borrower."""

    name: str
    id_number: str  # resident ID
    birth: date
    male: bool
    phone: str
    region: Region
    address: str
    employer: str
    monthly_income: int  # minor units


class Company(NamedTuple):
    """A business borrower."""

    name: str
    id_number: str  # unified social credit code
    phone: str
    region: Region
    address: str
    monthly_income: int  # monthly turnover, minor units


class PeopleFactory:
    """Makes borrowers from one random stream; identifiers are unique across a portfolio.

    People are 20–65 years old on ``as_of``. Uniqueness is by construction, in constant
    memory: phone numbers and credit codes come from keyed permutations of the customer's
    serial number, and a resident ID's order code is the next unused one of its (region,
    birth date, sex) cell, counted in a fixed array.
    """

    def __init__(self, rng: random.Random, *, as_of: date, key: str) -> None:
        self.rng = rng
        self.as_of = as_of
        self._surnames = [s for s, _ in SURNAMES]
        self._surname_cum = _cumulative([w for _, w in SURNAMES])
        self._prefixes = [p for p, _ in MOBILE_PREFIXES]
        self._prefix_cum = _cumulative([w for _, w in MOBILE_PREFIXES])
        self._regions = list(REGIONS)
        self._region_cum = _cumulative([r.weight for r in REGIONS])
        self._region_index = {r.code: i for i, r in enumerate(REGIONS)}
        self._age_cum = _cumulative([w for _, _, w in AGE_BANDS])
        # Birth dates as day offsets from the oldest possible one (still 65 on as_of).
        oldest = years_before(as_of, OLDEST + 1) + timedelta(days=1)
        self._first_birth = oldest.toordinal()
        self._span = years_before(as_of, YOUNGEST).toordinal() - self._first_birth + 1
        days = [date.fromordinal(self._first_birth + k) for k in range(self._span)]
        self._ymd = [f"{d.year:04d}{d.month:02d}{d.day:02d}" for d in days]
        self._year = [d.year for d in days]
        # per age: the offsets of the first and last birth date giving that age on as_of
        self._age_days = {
            age: (
                years_before(as_of, age + 1).toordinal() + 1 - self._first_birth,
                years_before(as_of, age).toordinal() - self._first_birth,
            )
            for age in range(YOUNGEST, OLDEST + 1)
        }
        # per birth year: the regions whose code was in use that year
        self._by_year: dict[int, tuple[list[Region], list[int]]] = {}
        for year in range(days[0].year, days[-1].year + 1):
            eligible = [r for r in REGIONS if r.since <= year]
            self._by_year[year] = (eligible, _cumulative([r.weight for r in eligible]))
        self._used = array("H", bytes(2 * len(REGIONS) * self._span * 2))
        self._phone_shuffle = KeyedShuffle(10**8, f"{key}:phones")
        self._code_shuffle = KeyedShuffle(10**8, f"{key}:credit-codes")

    def _resident_id(self, offset: int, male: bool) -> tuple[str, Region]:
        """A unique ID for someone born on day ``offset``, in a region whose code existed then."""
        rng = self.rng
        regions, cum = self._by_year[self._year[offset]]
        total = cum[-1]
        for _ in range(1000):
            region = regions[bisect(cum, rng.random() * total)]
            cell = (self._region_index[region.code] * self._span + offset) * 2 + (not male)
            taken = self._used[cell]
            if taken < _SEQUENCES_PER_SEX:
                self._used[cell] = taken + 1
                slot = (taken * _SEQUENCE_STRIDE + cell) % _SEQUENCES_PER_SEX
                first17 = f"{region.code}{self._ymd[offset]}{2 * slot + 2 - male:03d}"
                return first17 + ric_check_digit(first17), region
        raise ValueError("no resident ID is left for that birth date")

    def mobile(self, serial: int) -> str:
        """A valid mainland mobile number, distinct for every serial below 10⁸."""
        cum = self._prefix_cum
        prefix = self._prefixes[bisect(cum, self.rng.random() * cum[-1])]
        return f"{prefix}{self._phone_shuffle(serial):08d}"

    def _address(self, region: Region) -> str:
        r = self.rng.random
        street = STREETS[int(r() * len(STREETS))]
        return (
            f"{region.place}{street}{1 + int(r() * 399)}号{1 + int(r() * 30)}栋"
            f"{1 + int(r() * 4)}单元{1 + int(r() * 32)}{1 + int(r() * 4):02d}室"
        )

    def _office_address(self, region: Region, trade_name: str) -> str:
        r = self.rng.random
        return (
            f"{region.place}{STREETS[int(r() * len(STREETS))]}{1 + int(r() * 399)}号"
            f"{trade_name}大厦{1 + int(r() * 28)}层{1 + int(r() * 20):02d}室"
        )

    def _company_name(self, region: Region) -> str:
        r = self.rng.random
        return (
            f"{region.city_short}{TRADE_NAMES[int(r() * len(TRADE_NAMES))]}"
            f"{TRADES[int(r() * len(TRADES))]}{COMPANY_FORMS[int(r() * len(COMPANY_FORMS))]}"
        )

    def _employer(self, region: Region, age: int) -> str:
        r = self.rng.random
        draw = r()
        if age >= 60 and draw < 0.5:
            return "退休"
        if draw < 0.62:
            return self._company_name(region)
        if draw < 0.78:
            institution = INSTITUTIONS[int(r() * len(INSTITUTIONS))]
            if institution.endswith("中学"):
                return f"{region.city_short}市第{_NUMERALS[int(r() * 20)]}{institution}"
            return f"{region.city_short}市{institution}"
        if draw < 0.92:
            return "个体经营"
        return "自由职业"

    def _income(self) -> int:
        """Monthly income in minor units, whole hundreds of yuan."""
        r = self.rng.random
        draw = r()
        if draw < 0.28:
            low, high = 3_000, 6_000
        elif draw < 0.63:
            low, high = 6_000, 10_000
        elif draw < 0.89:
            low, high = 10_000, 20_000
        else:
            low, high = 20_000, 60_000
        return (low + 100 * int(r() * ((high - low) // 100 + 1))) * 100

    def person(self, serial: int) -> Person:
        """An individual; ``serial`` (0-based, unique per customer) keeps the phone unique."""
        r = self.rng.random
        male = r() < 0.52
        surname = self._surnames[bisect(self._surname_cum, r() * self._surname_cum[-1])]
        chars = MALE_GIVEN if male else FEMALE_GIVEN
        given = chars[int(r() * len(chars))]
        if r() < 0.78:
            given += chars[int(r() * len(chars))]
        band = AGE_BANDS[bisect(self._age_cum, r() * self._age_cum[-1])]
        age = band[0] + int(r() * (band[1] - band[0] + 1))
        first, last = self._age_days[age]
        offset = first + int(r() * (last - first + 1))
        id_number, region = self._resident_id(offset, male)
        return Person(
            name=surname + given,
            id_number=id_number,
            birth=date.fromordinal(self._first_birth + offset),
            male=male,
            phone=self.mobile(serial),
            region=region,
            address=self._address(region),
            employer=self._employer(region, age),
            monthly_income=self._income(),
        )

    def company(self, serial: int) -> Company:
        """A business; ``serial`` (0-based, unique per customer) keeps phone and code unique."""
        r = self.rng.random
        region = self._regions[bisect(self._region_cum, r() * self._region_cum[-1])]
        draw = r()
        if draw < 0.4:
            low, high = 50_000, 200_000
        elif draw < 0.75:
            low, high = 200_000, 800_000
        elif draw < 0.95:
            low, high = 800_000, 3_000_000
        else:
            low, high = 3_000_000, 10_000_000
        turnover = (low + 1000 * int(r() * ((high - low) // 1000 + 1))) * 100
        return Company(
            name=self._company_name(region),
            id_number=uscc(region.code, f"{self._code_shuffle(serial):08d}"),
            phone=self.mobile(serial),
            region=region,
            address=self._office_address(region, TRADE_NAMES[int(r() * len(TRADE_NAMES))]),
            monthly_income=turnover,
        )
