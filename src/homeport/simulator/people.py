"""Plausible but harmless contact details: names, addresses, e-mails, phones, account numbers.

E-mail domains are reserved for examples (RFC 2606: ``example.com``, ``.example``) and phone
numbers come from Ofcom's ranges reserved for drama, so nothing the simulator writes can reach
a real person. The drama ranges hold about 16,000 numbers, so phone numbers repeat in larger
fleets; e-mail addresses and account numbers are unique.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    weight: float
    #: (city, postcode area, first district, last district)
    cities: tuple[tuple[str, str, int, int], ...]


REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec(
        "MID",
        "Midlands",
        0.16,
        (
            ("Birmingham", "B", 1, 38),
            ("Nottingham", "NG", 1, 11),
            ("Leicester", "LE", 1, 5),
            ("Coventry", "CV", 1, 6),
        ),
    ),
    RegionSpec(
        "LDN",
        "London",
        0.15,
        (
            ("London", "E", 1, 18),
            ("London", "N", 1, 22),
            ("London", "SE", 1, 28),
            ("London", "SW", 1, 20),
            ("London", "NW", 1, 11),
        ),
    ),
    RegionSpec(
        "SEA",
        "South East",
        0.14,
        (
            ("Brighton", "BN", 1, 3),
            ("Reading", "RG", 1, 6),
            ("Oxford", "OX", 1, 4),
            ("Guildford", "GU", 1, 5),
        ),
    ),
    RegionSpec(
        "NWE",
        "North West",
        0.11,
        (("Manchester", "M", 1, 40), ("Liverpool", "L", 1, 25), ("Preston", "PR", 1, 5)),
    ),
    RegionSpec(
        "SWE",
        "South West",
        0.09,
        (("Bristol", "BS", 1, 16), ("Exeter", "EX", 1, 4), ("Plymouth", "PL", 1, 9)),
    ),
    RegionSpec(
        "EOE",
        "East of England",
        0.09,
        (("Cambridge", "CB", 1, 5), ("Norwich", "NR", 1, 7), ("Ipswich", "IP", 1, 5)),
    ),
    RegionSpec(
        "YRK",
        "Yorkshire",
        0.08,
        (
            ("Leeds", "LS", 1, 29),
            ("Sheffield", "S", 1, 14),
            ("York", "YO", 1, 32),
            ("Hull", "HU", 1, 10),
        ),
    ),
    RegionSpec(
        "SCO",
        "Scotland",
        0.07,
        (
            ("Glasgow", "G", 1, 53),
            ("Edinburgh", "EH", 1, 17),
            ("Aberdeen", "AB", 10, 25),
            ("Dundee", "DD", 1, 5),
        ),
    ),
    RegionSpec(
        "WAL",
        "Wales",
        0.05,
        (("Cardiff", "CF", 3, 24), ("Swansea", "SA", 1, 9), ("Newport", "NP", 10, 20)),
    ),
    RegionSpec(
        "NEA",
        "North East",
        0.04,
        (("Newcastle upon Tyne", "NE", 1, 15), ("Sunderland", "SR", 1, 6), ("Durham", "DH", 1, 9)),
    ),
    RegionSpec(
        "NIR", "Northern Ireland", 0.02, (("Belfast", "BT", 1, 17), ("Lisburn", "BT", 27, 28))
    ),
)

FIRST_NAMES = (
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Sophia",
    "Grace",
    "Freya",
    "Emily",
    "Poppy",
    "Ella",
    "Evie",
    "Charlotte",
    "Aisha",
    "Zara",
    "Maryam",
    "Priya",
    "Sarah",
    "Emma",
    "Claire",
    "Rachel",
    "Helen",
    "Laura",
    "Nicola",
    "Joanne",
    "Susan",
    "Karen",
    "Niamh",
    "Siobhan",
    "Fatima",
    "Chloe",
    "Hannah",
    "Megan",
    "Jessica",
    "Lucy",
    "Ruth",
    "Anna",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Leo",
    "Muhammad",
    "Harry",
    "Oscar",
    "Jack",
    "Charlie",
    "Jacob",
    "Thomas",
    "James",
    "William",
    "Henry",
    "Alfie",
    "Joshua",
    "Daniel",
    "Samuel",
    "David",
    "Paul",
    "Mark",
    "Andrew",
    "Richard",
    "Stephen",
    "Michael",
    "Christopher",
    "Peter",
    "Ian",
    "Gareth",
    "Rhys",
    "Callum",
    "Euan",
    "Ciaran",
    "Ravi",
    "Arjun",
    "Omar",
    "Tomasz",
    "Kwame",
    "Chen",
)
LAST_NAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Lewis",
    "James",
    "Phillips",
    "Mason",
    "Mitchell",
    "Rose",
    "Davis",
    "Rodriguez",
    "Cox",
    "Alexander",
    "Morgan",
    "Moore",
    "Mills",
    "King",
    "Allen",
    "Hughes",
    "Edwards",
    "Turner",
    "Hill",
    "Cooper",
    "Ward",
    "Morris",
    "Baker",
    "Harris",
    "Martin",
    "Campbell",
    "Stewart",
    "Murray",
    "MacDonald",
    "Reid",
    "O'Brien",
    "Kelly",
    "Murphy",
    "Singh",
    "Ahmed",
    "Ali",
    "Hussain",
    "Begum",
    "Nowak",
    "Kowalski",
    "Okafor",
    "Mensah",
    "Nguyen",
    "Wong",
    "Chen",
    "Shah",
    "Kaur",
    "Price",
    "Griffiths",
    "Owen",
    "Lloyd",
    "Fraser",
    "Graham",
    "Burns",
    "Hamilton",
    "Bell",
    "Ross",
    "Young",
)
STREETS = (
    "High Street",
    "Station Road",
    "Church Lane",
    "Victoria Road",
    "Park Avenue",
    "Mill Lane",
    "Queens Road",
    "King Street",
    "Manor Road",
    "The Green",
    "Chapel Street",
    "Albert Road",
    "Springfield Road",
    "Grange Road",
    "Windsor Close",
    "Orchard Way",
    "Elm Grove",
    "Highfield Road",
    "Kingsway",
    "Meadow View",
    "Oak Tree Drive",
    "Willow Crescent",
    "Beech Avenue",
    "York Road",
    "North Street",
    "New Road",
    "West End",
    "Cromwell Road",
    "Clarence Street",
    "Stanley Road",
    "Hillside",
    "Riverside Walk",
    "Canal Street",
    "Bridge Street",
    "School Lane",
    "Mount Pleasant",
    "Cedar Close",
    "Priory Road",
    "Gladstone Street",
    "Nelson Street",
    "Brook Lane",
    "Heath Road",
    "Green Lane",
    "St John's Road",
    "Market Street",
    "London Road",
    "Main Street",
    "Forest Road",
    "Lime Tree Avenue",
    "Westfield Road",
)
BUILDINGS = (
    "Albion Court",
    "Regent House",
    "Beaumont Mansions",
    "Ashdown Lodge",
    "Marlborough Point",
    "Wellington Heights",
    "Carlton House",
    "Lansdowne Court",
)
#: Letters used in the inward part of UK postcodes (never C, I, K, M, O or V).
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.example")
EMAIL_DOMAIN_P = (0.30, 0.25, 0.15, 0.15, 0.15)
#: Ofcom's drama numbers: (E.164 prefix, count). 07700 900000-900999 and the 1,000-number
#: geographic blocks such as 0113 496 0000-0999.
MOBILE_DRAMA = ("+447700900", 1000)
LANDLINE_DRAMA = (
    ("+441134960", 1000),
    ("+441144960", 1000),
    ("+441154960", 1000),
    ("+441164960", 1000),
    ("+441174960", 1000),
    ("+441184960", 1000),
    ("+441214960", 1000),
    ("+441314960", 1000),
    ("+441414960", 1000),
    ("+441514960", 1000),
    ("+441614960", 1000),
    ("+442079460", 1000),
    ("+441914980", 1000),
    ("+441632960", 1000),
)


def regions_for(subscribers: int) -> tuple[RegionSpec, ...]:
    """The largest regions, more of them for a bigger fleet (2 up to all 11)."""
    count = min(len(REGIONS), max(2, -(-subscribers // 4000)))
    return REGIONS[:count]


def pick(
    rng: np.random.Generator,
    options: tuple[str, ...] | list[str],
    n: int,
    p: tuple[float, ...] | list[float] | np.ndarray | None = None,
) -> np.ndarray:
    """``n`` indices into ``options`` (weights ``p`` normalised)."""
    if p is None:
        return rng.integers(0, len(options), size=n)
    weights = np.asarray(p, dtype=float)
    return rng.choice(len(options), size=n, p=weights / weights.sum())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def emails(rng: np.random.Generator, first: list[str], last: list[str]) -> list[str]:
    """Unique lower-case addresses in reserved domains; collisions get a number appended."""
    n = len(first)
    form = rng.integers(0, 6, size=n).tolist()
    number = rng.integers(1, 100, size=n).tolist()
    domain = pick(rng, EMAIL_DOMAINS, n, EMAIL_DOMAIN_P).tolist()
    seen: set[str] = set()
    out: list[str] = []
    for i in range(n):
        f, la = _slug(first[i]), _slug(last[i])
        local = (
            f"{f}.{la}",
            f"{f}{la}",
            f"{f[0]}.{la}",
            f"{f}.{la}{number[i]}",
            f"{f}{number[i]}",
            f"{la}.{f}",
        )[form[i]]
        address = f"{local}@{EMAIL_DOMAINS[domain[i]]}"
        k = 2
        while address in seen:
            address = f"{local}{k}@{EMAIL_DOMAINS[domain[i]]}"
            k += 1
        seen.add(address)
        out.append(address)
    return out


def phones(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    """E.164 drama numbers (80 % mobile, 15 % landline, 5 % none) and a mobile flag."""
    kind = rng.choice(3, size=n, p=(0.80, 0.15, 0.05))
    line = rng.integers(0, len(LANDLINE_DRAMA), size=n).tolist()
    digits = rng.integers(0, 1000, size=n).tolist()
    out: list[str] = []
    for k, ln, d in zip(kind.tolist(), line, digits, strict=True):
        if k == 0:
            out.append(f"{MOBILE_DRAMA[0]}{d:03d}")
        elif k == 1:
            out.append(f"{LANDLINE_DRAMA[ln][0]}{d:03d}")
        else:
            out.append("")
    return out, kind == 0


def postcodes(rng: np.random.Generator, area: list[str], district: np.ndarray) -> list[str]:
    n = len(area)
    sector = rng.integers(1, 10, size=n).tolist()
    letters = rng.integers(0, len(POSTCODE_LETTERS), size=(n, 2)).tolist()
    return [
        f"{a}{d} {s}{POSTCODE_LETTERS[u[0]]}{POSTCODE_LETTERS[u[1]]}"
        for a, d, s, u in zip(area, district.tolist(), sector, letters, strict=True)
    ]


def street_addresses(rng: np.random.Generator, flat: np.ndarray) -> list[str]:
    """``"27 Station Road"``, or ``"Flat 4, Albion Court, 27 Station Road"`` where ``flat``."""
    n = len(flat)
    number = (rng.pareto(1.2, size=n) * 12 + 1).clip(1, 240).astype(int).tolist()
    street = rng.integers(0, len(STREETS), size=n).tolist()
    flat_no = rng.integers(1, 40, size=n).tolist()
    building = rng.integers(0, len(BUILDINGS), size=n).tolist()
    out: list[str] = []
    for i, is_flat in enumerate(flat.tolist()):
        road = f"{number[i]} {STREETS[street[i]]}"
        if is_flat:
            road = f"Flat {flat_no[i]}, {BUILDINGS[building[i]]}, {road}"
        out.append(road)
    return out


def account_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """Unique ``HP`` + 8 digits + a Luhn check digit (an affine permutation of 0..10^8-1)."""
    if n > 10**8:
        raise ValueError("at most 100,000,000 account numbers")
    a = int(rng.integers(1, 10**7)) * 20 + 1  # odd, not a multiple of 5: coprime to 10^8
    b = int(rng.integers(0, 10**8))
    cores = (np.arange(n, dtype=np.int64) * a + b) % 10**8
    return [f"HP{c:08d}{luhn_digit(f'{c:08d}')}" for c in cores.tolist()]


def luhn_digit(digits: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10
