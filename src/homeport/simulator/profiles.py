"""What the simulated BSP sells and who buys it: plans, bundles, technologies and lifestyles.

Numbers are plausible UK defaults, not measurements: the technology mix of a BSP that has built
full fibre but still serves copper, cable and fixed-wireless customers; UK household sizes (ONS:
about 29 % one person, 35 % two); and device counts per home of 8-25 depending on lifestyle.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from homeport.network.models import DEVICE_KINDS


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name: str
    technology: str
    down_mbps: int
    up_mbps: int
    monthly_price: Decimal
    #: Relative popularity within the technology before lifestyle adjustment.
    weight: float


#: The plan ladder per technology. Copper and cable headline speeds are the "up to" rates of the
#: products the Ofcom panel measured against, so fitted speed fractions apply directly.
PLANS: tuple[PlanSpec, ...] = (
    PlanSpec("FTTP-150", "Full Fibre 150", "fttp", 150, 30, Decimal("27.99"), 0.30),
    PlanSpec("FTTP-500", "Full Fibre 500", "fttp", 500, 75, Decimal("34.99"), 0.40),
    PlanSpec("FTTP-900", "Full Fibre 900", "fttp", 900, 110, Decimal("44.99"), 0.22),
    PlanSpec("FTTP-1600", "Full Fibre 1.6 Gig", "fttp", 1600, 220, Decimal("59.99"), 0.08),
    PlanSpec("FTTC-40", "Fibre 40", "fttc", 40, 10, Decimal("26.99"), 0.45),
    PlanSpec("FTTC-80", "Fibre 80", "fttc", 80, 20, Decimal("29.99"), 0.55),
    PlanSpec("ADSL-20", "Broadband 20", "adsl", 20, 1, Decimal("22.99"), 1.0),
    PlanSpec("CABLE-125", "Cable 125", "cable", 125, 20, Decimal("28.99"), 0.35),
    PlanSpec("CABLE-350", "Cable 350", "cable", 350, 36, Decimal("36.99"), 0.45),
    PlanSpec("CABLE-1130", "Cable Gig 1", "cable", 1130, 104, Decimal("54.99"), 0.20),
    PlanSpec("FWA-75", "Home 4G 75", "fwa", 75, 15, Decimal("22.00"), 0.45),
    PlanSpec("FWA-200", "Home 5G 200", "fwa", 200, 30, Decimal("30.00"), 0.55),
)


@dataclass(frozen=True)
class BundleSpec:
    code: str
    name: str
    lifestyle: str
    description: str
    monthly_price: Decimal


BUNDLES: tuple[BundleSpec, ...] = (
    BundleSpec(
        "WFH-PRO",
        "Work From Home Pro",
        "work_from_home",
        "Upload priority for video calls, a static IP and next-day engineer visits.",
        Decimal("7.00"),
    ),
    BundleSpec(
        "BACKUP-4G",
        "Backup Connection",
        "work_from_home",
        "A 4G/5G backup that takes over automatically when the line is down.",
        Decimal("5.00"),
    ),
    BundleSpec(
        "GAMING-PRIORITY",
        "Gaming Priority",
        "gaming",
        "Low-latency routing and traffic priority for consoles and gaming PCs.",
        Decimal("5.00"),
    ),
    BundleSpec(
        "MESH-WIFI",
        "Whole Home Wi-Fi",
        "streaming",
        "Mesh Wi-Fi satellites so every room streams without buffering.",
        Decimal("8.00"),
    ),
    BundleSpec(
        "SMART-SECURE",
        "Smart Home Security",
        "smart_home",
        "A separate network for smart devices and cameras, with threat blocking.",
        Decimal("4.00"),
    ),
    BundleSpec(
        "FAMILY-CONTROLS",
        "Parental Controls",
        "family_safety",
        "Age-appropriate filters, bedtime schedules and pause per child's device.",
        Decimal("3.00"),
    ),
    BundleSpec(
        "CARE-PLUS",
        "Care Plus",
        "general",
        "Priority support and a free engineer visit each year.",
        Decimal("5.00"),
    ),
)

#: Share of homes per access technology.
TECHNOLOGY_MIX: dict[str, float] = {
    "fttp": 0.46,
    "fttc": 0.28,
    "adsl": 0.07,
    "cable": 0.13,
    "fwa": 0.06,
}

#: Share of homes per lifestyle (the dominant use of the connection).
LIFESTYLE_MIX: dict[str, float] = {
    "general": 0.30,
    "streaming": 0.20,
    "work_from_home": 0.18,
    "family_safety": 0.14,
    "smart_home": 0.10,
    "gaming": 0.08,
}

#: People in the home (1..6) per lifestyle.
PEOPLE: dict[str, tuple[float, ...]] = {
    "general": (0.32, 0.37, 0.14, 0.11, 0.04, 0.02),
    "streaming": (0.22, 0.38, 0.18, 0.14, 0.05, 0.03),
    "work_from_home": (0.28, 0.40, 0.15, 0.12, 0.04, 0.01),
    "family_safety": (0.0, 0.04, 0.30, 0.40, 0.18, 0.08),
    "smart_home": (0.15, 0.42, 0.18, 0.17, 0.06, 0.02),
    "gaming": (0.26, 0.30, 0.20, 0.16, 0.06, 0.02),
}

#: How strongly a lifestyle leans to the faster plans of its technology (0 = no preference).
PLAN_TILT: dict[str, float] = {
    "general": -0.6,
    "streaming": 0.5,
    "work_from_home": 0.7,
    "family_safety": 0.3,
    "smart_home": 0.4,
    "gaming": 1.1,
}

#: Probability of taking each bundle, per lifestyle (the bundle's own lifestyle takes most).
#: MESH-WIFI is not here: it follows home size (MESH_BY_SIZE) and brings the mesh satellites.
BUNDLE_TAKE_UP: dict[str, dict[str, float]] = {
    "general": {"CARE-PLUS": 0.06, "FAMILY-CONTROLS": 0.02},
    "streaming": {"CARE-PLUS": 0.04},
    "work_from_home": {"WFH-PRO": 0.30, "BACKUP-4G": 0.22},
    "family_safety": {"FAMILY-CONTROLS": 0.45, "CARE-PLUS": 0.05},
    "smart_home": {"SMART-SECURE": 0.35},
    "gaming": {"GAMING-PRIORITY": 0.40},
}
MESH_BUNDLE = "MESH-WIFI"

#: Preferred contact channel (email, phone, sms, app, chat) per lifestyle.
PREFERRED_CHANNEL: dict[str, tuple[float, float, float, float, float]] = {
    "general": (0.30, 0.38, 0.07, 0.15, 0.10),
    "streaming": (0.25, 0.22, 0.08, 0.28, 0.17),
    "work_from_home": (0.35, 0.20, 0.05, 0.22, 0.18),
    "family_safety": (0.25, 0.30, 0.10, 0.25, 0.10),
    "smart_home": (0.20, 0.15, 0.05, 0.40, 0.20),
    "gaming": (0.15, 0.12, 0.08, 0.35, 0.30),
}
#: Consent shares: e-mail (of those with an address), SMS (of those with a mobile), marketing.
CONSENT_EMAIL = 0.85
CONSENT_SMS = 0.45
CONSENT_MARKETING = 0.30
#: Share of subscribers who gave no e-mail address.
NO_EMAIL = 0.03
#: Share of flats by home size (small, medium, large).
FLAT_BY_SIZE: tuple[float, float, float] = (0.55, 0.15, 0.0)

#: Expected devices per person, by kind (before lifestyle extras).
PER_PERSON: dict[str, float] = {"phone": 0.95, "laptop": 0.40, "tablet": 0.28, "wearable": 0.15}
#: Expected devices per home, by kind.
PER_HOME: dict[str, float] = {
    "laptop": 0.15,
    "desktop": 0.12,
    "tablet": 0.15,
    "tv": 1.15,
    "streamer": 0.30,
    "console": 0.20,
    "camera": 0.12,
    "speaker": 0.55,
    "iot": 0.90,
    "printer": 0.30,
    "other": 0.35,
}
#: Extra expected devices per home for a lifestyle.
LIFESTYLE_EXTRA: dict[str, dict[str, float]] = {
    "general": {},
    "work_from_home": {"laptop": 1.2, "desktop": 0.45, "printer": 0.45, "phone": 0.3, "other": 0.3},
    "gaming": {"console": 1.6, "desktop": 0.8, "tv": 0.4, "laptop": 0.2},
    "streaming": {"tv": 1.2, "streamer": 1.4, "speaker": 0.6, "tablet": 0.3},
    "smart_home": {"iot": 9.0, "camera": 2.5, "speaker": 2.2, "other": 0.5, "streamer": 0.3},
    "family_safety": {"tablet": 1.4, "console": 0.6, "wearable": 0.3, "tv": 0.4, "laptop": 0.3},
}
MAX_DEVICES_PER_HOME = 60

#: Band capability shares (2.4 only, 2.4+5, 2.4+5+6) per device kind.
BAND_CAPABILITY: dict[str, tuple[float, float, float]] = {
    "phone": (0.03, 0.62, 0.35),
    "laptop": (0.04, 0.66, 0.30),
    "desktop": (0.05, 0.75, 0.20),
    "tablet": (0.06, 0.74, 0.20),
    "tv": (0.15, 0.80, 0.05),
    "streamer": (0.10, 0.85, 0.05),
    "console": (0.05, 0.80, 0.15),
    "camera": (0.75, 0.25, 0.0),
    "speaker": (0.45, 0.55, 0.0),
    "iot": (0.92, 0.08, 0.0),
    "wearable": (0.70, 0.30, 0.0),
    "printer": (0.60, 0.40, 0.0),
    "other": (0.50, 0.48, 0.02),
}
#: Share of each kind plugged in by Ethernet (no band, no RSSI).
WIRED: dict[str, float] = {
    "desktop": 0.55,
    "console": 0.25,
    "tv": 0.20,
    "streamer": 0.10,
    "printer": 0.15,
    "camera": 0.05,
    "other": 0.10,
}
#: Share of each kind that shows a randomised (private) MAC address.
PRIVATE_MAC: dict[str, float] = {"phone": 0.70, "tablet": 0.50, "wearable": 0.50, "laptop": 0.25}

#: Home size (small, medium, large) probabilities by people in the home (1..6).
HOME_SIZE: tuple[tuple[float, float, float], ...] = (
    (0.62, 0.33, 0.05),
    (0.38, 0.47, 0.15),
    (0.18, 0.54, 0.28),
    (0.10, 0.50, 0.40),
    (0.06, 0.44, 0.50),
    (0.04, 0.36, 0.60),
)
#: Probability of taking the mesh bundle by home size, times a lifestyle factor.
MESH_BY_SIZE: tuple[float, float, float] = (0.02, 0.10, 0.35)
MESH_LIFESTYLE: dict[str, float] = {
    "general": 0.5,
    "streaming": 1.4,
    "work_from_home": 1.3,
    "family_safety": 1.2,
    "smart_home": 1.3,
    "gaming": 1.3,
}


def plans_for(technology: str) -> list[PlanSpec]:
    return [p for p in PLANS if p.technology == technology]


def expected_devices(lifestyle: str, people: int) -> dict[str, float]:
    """Expected count of each device kind in a home of this lifestyle and size."""
    extra = LIFESTYLE_EXTRA[lifestyle]
    return {
        k: PER_PERSON.get(k, 0.0) * people + PER_HOME.get(k, 0.0) + extra.get(k, 0.0)
        for k in DEVICE_KINDS
    }
