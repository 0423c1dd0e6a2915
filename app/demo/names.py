"""Word pools and small generators for the demo district: people's names, place names, addresses
and mobile numbers, all drawn from one ``random.Random`` so that a seed gives the same district.

The pools lean towards Anqing (汪, 程, 方, 储, 檀 are common surnames there; 畈, 冲, 圩 are common in
village names of the Yangtze plain)."""

from __future__ import annotations

import random
from collections.abc import Iterator

# Surnames with rough weights (most common first).
SURNAMES = (
    ("王", 70), ("李", 68), ("张", 64), ("刘", 50), ("陈", 48), ("杨", 32), ("汪", 30), ("吴", 28),
    ("黄", 26), ("赵", 22), ("周", 22), ("徐", 20), ("孙", 18), ("胡", 18), ("朱", 16), ("何", 14),
    ("方", 14), ("程", 14), ("章", 12), ("储", 12), ("江", 10), ("高", 10), ("郑", 10), ("罗", 9),
    ("叶", 9), ("余", 9), ("许", 8), ("潘", 8), ("檀", 8), ("查", 7), ("丁", 7), ("曹", 7),
    ("谢", 7), ("宋", 6), ("唐", 6), ("金", 6), ("夏", 6), ("鲍", 5), ("姚", 5), ("马", 5),
    ("石", 5), ("操", 5), ("童", 4), ("桂", 4), ("韩", 4), ("施", 4), ("严", 4), ("殷", 3),
)
GIVEN_MALE = "建国华明伟军强平德勇志文杰斌海涛辉刚林峰春永光宏庆福生国成兵东新祥荣俊亮卫忠贵才"
GIVEN_FEMALE = "秀英芳兰玉梅丽霞凤华敏燕红娟萍琴静桂珍云莲慧洁翠芬月娥美琳婷雪丹倩"

# Place-name syllables: first character, then a landscape word.
PLACE_HEAD = "龙凤菱杨罗白金青松桂柏石新长光太和丰春振东西南高黄双月百天马香玉茶栗泉锦安花山"
PLACE_TAIL = "山湖桥岭泽横塘河港畈冲圩岗湾林园庄集铺坝堰洲亭店"
ESTATE_SUFFIX = ("花园", "小区", "新村", "家园", "苑", "佳苑", "华庭", "公寓")
GROUP_SUFFIX = "庄湾冲岗畈圩屋营"

# Yixiu's real townships and sub-districts, in the order the demo uses them.
TOWNSHIPS = ("大桥街道", "大龙山镇", "杨桥镇", "白泽湖乡", "菱北街道", "罗岭镇", "五横乡", "菱湖街道")

# Mobile prefixes in use on the mainland (all match 1[3-9]).
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180",
    "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
)

CHINESE_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十, 135 → 一百三十五 (for 第N网格)."""
    if n < 10:
        return CHINESE_DIGITS[n]
    if n < 20:
        return "十" + (CHINESE_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return CHINESE_DIGITS[n // 10] + "十" + (CHINESE_DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + CHINESE_DIGITS[rest] if rest < 10 else (
        "一" + chinese_number(rest) if rest < 20 else chinese_number(rest)))
    return CHINESE_DIGITS[n // 100] + "百" + tail


class NameMaker:
    """Personal names: a weighted surname and one or two given-name characters."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._surnames = [s for s, _ in SURNAMES]
        self._cum_weights: list[int] = []
        total = 0
        for _, weight in SURNAMES:
            total += weight
            self._cum_weights.append(total)

    def surname(self) -> str:
        return self.rng.choices(self._surnames, cum_weights=self._cum_weights)[0]

    def person(self) -> str:
        pool = GIVEN_MALE if self.rng.random() < 0.55 else GIVEN_FEMALE
        given = self.rng.choice(pool)
        if self.rng.random() < 0.75:
            given += self.rng.choice(pool)
        return self.surname() + given


class PlaceNames:
    """Two-character place names, never the same twice in one district."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self.rng = rng
        self.taken = taken

    def place(self) -> str:
        for _ in range(1000):
            name = self.rng.choice(PLACE_HEAD) + self.rng.choice(PLACE_TAIL)
            if name not in self.taken:
                self.taken.add(name)
                return name
        raise RuntimeError("place-name pool exhausted")  # pragma: no cover - 1,200 combinations


class PhonePool:
    """Unique mainland mobile numbers, avoiding every number in ``used``."""

    def __init__(self, rng: random.Random, used: set[str]) -> None:
        self.rng = rng
        self.used = used

    def take(self) -> str:
        while True:
            phone = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.used:
                self.used.add(phone)
                return phone


Address = tuple[str, str, str, str]  # full address, building, unit, room


def estate_addresses(rng: random.Random, estate: str) -> Iterator[Address]:
    """Flats of one residential estate (小区), door after door: 3栋2单元502室.

    Consecutive flats are neighbours, so the members who cover consecutive runs live next door to
    their residents ("地缘相近、居住相邻")."""
    floors = rng.choice((6, 6, 7, 11, 18))
    building = 0
    while True:
        building += 1
        for unit in range(1, rng.choice((2, 2, 3)) + 1):
            for floor in range(1, floors + 1):
                for door in (1, 2):
                    room = f"{floor}{door:02d}"
                    yield f"{estate}{building}栋{unit}单元{room}室", str(building), str(unit), room


def village_addresses(
    rng: random.Random, village: str, names: NameMaker, groups: set[str]
) -> Iterator[Address]:
    """Houses of a village, 村民组 after 村民组: 五横村汪冲组18号. ``groups`` holds the village's
    groups already named (the village's grids share it)."""
    while True:
        group = names.surname() + rng.choice(GROUP_SUFFIX) + "组"
        if group in groups:
            continue
        groups.add(group)
        for number in range(1, rng.randint(40, 90) + 1):
            yield f"{village}{group}{number}号", group, "", str(number)
