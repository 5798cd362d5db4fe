"""Equipment catalogue: access nodes and ports per technology, gateways, mesh, client devices.

Vendor and model names are those of widely deployed products, used only to make the fleet
look familiar; MAC prefixes are the vendors' registered OUIs (a sample of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AccessSpec:
    """How homes of one technology hang off the network."""

    node_kind: str
    #: Port name pattern; ``{slot}`` and ``{port}`` count from 1.
    port_name: str
    ports_per_slot: int
    ports_per_node: int
    #: Possible port capacities (split ratio, line card size, service group, sector) and shares.
    capacities: tuple[int, ...]
    capacity_p: tuple[float, ...]
    #: Share of a port's capacity that this BSP's subscribers fill (drawn per port).
    fill: tuple[float, float]
    node_name: str
    node_models: tuple[tuple[str, str], ...]
    #: Days from order to installation (low, high).
    install_days: tuple[float, float]


ACCESS: dict[str, AccessSpec] = {
    "fttp": AccessSpec(
        "olt",
        "PON {slot}/{port}",
        8,
        16,
        (32, 64),
        (0.4, 0.6),
        (0.45, 0.92),
        "OLT",
        (
            ("Nokia", "Lightspan FX-8"),
            ("Huawei", "MA5800-X7"),
            ("Adtran", "SDX 6320"),
            ("Calix", "E7-2"),
        ),
        (7.0, 16.0),
    ),
    "fttc": AccessSpec(
        "dslam",
        "LT{slot}/{port}",
        4,
        8,
        (48,),
        (1.0,),
        (0.50, 0.95),
        "Cabinet DSLAM",
        (("Huawei", "MA5616"), ("Nokia", "7367 ISAM SX-48"), ("Adtran", "hiX 5625")),
        (5.0, 12.0),
    ),
    "adsl": AccessSpec(
        "dslam",
        "LT{slot}/{port}",
        4,
        8,
        (48,),
        (1.0,),
        (0.40, 0.90),
        "Exchange DSLAM",
        (("Nokia", "7302 ISAM"), ("Huawei", "MA5600T")),
        (5.0, 10.0),
    ),
    "cable": AccessSpec(
        "cmts",
        "SG {slot}/{port}",
        4,
        8,
        (256, 512),
        (0.5, 0.5),
        (0.30, 0.80),
        "CMTS",
        (("Cisco", "cBR-8"), ("CommScope", "E6000"), ("Harmonic", "CableOS")),
        (4.0, 10.0),
    ),
    "fwa": AccessSpec(
        "tower",
        "Sector {port}",
        3,
        3,
        (64, 128),
        (0.5, 0.5),
        (0.35, 0.85),
        "Mast",
        (("Ericsson", "AIR 6449"), ("Nokia", "AirScale"), ("Huawei", "AAU5613")),
        (2.0, 6.0),
    ),
}


@dataclass(frozen=True)
class GatewayModel:
    vendor: str
    model: str
    kind: str
    wifi_6ghz: bool
    firmware: tuple[str, ...]
    #: Shares of the firmware versions, newest first.
    firmware_p: tuple[float, ...]
    oui: str
    mesh_model: str
    weight: float


GATEWAYS: dict[str, tuple[GatewayModel, ...]] = {
    "fttp": (
        GatewayModel(
            "Nokia",
            "XS-2426G-B",
            "ont_router",
            False,
            ("3TN00702H", "3TN00560J", "3TN00411K"),
            (0.70, 0.22, 0.08),
            "6C:4B:B4",
            "Nokia Beacon 6",
            0.34,
        ),
        GatewayModel(
            "Huawei",
            "EG8145X6",
            "ont_router",
            False,
            ("V5R021C00S230", "V5R020C10S185"),
            (0.76, 0.24),
            "00:E0:FC",
            "Huawei WA8021V5",
            0.22,
        ),
        GatewayModel(
            "AVM",
            "FRITZ!Box 5690 Pro",
            "ont_router",
            True,
            ("8.02", "7.90"),
            (0.81, 0.19),
            "3C:A6:2F",
            "FRITZ!Repeater 3000 AX",
            0.14,
        ),
        GatewayModel(
            "Zyxel",
            "EX5601-T0",
            "router",
            False,
            ("V5.70(ACDZ.1)C0", "V5.50(ACDZ.4)C0"),
            (0.65, 0.35),
            "E4:18:6B",
            "Zyxel Multy M1",
            0.18,
        ),
        GatewayModel(
            "Sagemcom",
            "F@st 5866T",
            "router",
            True,
            ("SG4K100140", "SG4K100112"),
            (0.80, 0.20),
            "30:93:BC",
            "Sagemcom F@st 5380",
            0.12,
        ),
    ),
    "fttc": (
        GatewayModel(
            "Zyxel",
            "VMG8825-T50",
            "router",
            False,
            ("V5.50(ABPY.1)b9", "V5.50(ABPY.1)b6"),
            (0.72, 0.28),
            "E4:18:6B",
            "Zyxel Multy M1",
            0.40,
        ),
        GatewayModel(
            "AVM",
            "FRITZ!Box 7530 AX",
            "router",
            False,
            ("7.57", "7.31"),
            (0.78, 0.22),
            "3C:A6:2F",
            "FRITZ!Repeater 1200 AX",
            0.35,
        ),
        GatewayModel(
            "Sagemcom",
            "F@st 5364",
            "router",
            False,
            ("SG4A100150", "SG4A100137", "SG4A100120"),
            (0.55, 0.30, 0.15),
            "30:93:BC",
            "Sagemcom F@st 5380",
            0.25,
        ),
    ),
    "adsl": (
        GatewayModel(
            "Zyxel",
            "VMG3625-T50B",
            "router",
            False,
            ("V5.50(ABPM.9)C0", "V5.50(ABPM.6)C0"),
            (0.6, 0.4),
            "E4:18:6B",
            "Zyxel Multy M1",
            0.55,
        ),
        GatewayModel(
            "AVM",
            "FRITZ!Box 7530",
            "router",
            False,
            ("7.57", "7.29"),
            (0.7, 0.3),
            "3C:A6:2F",
            "FRITZ!Repeater 1200 AX",
            0.45,
        ),
    ),
    "cable": (
        GatewayModel(
            "Sagemcom",
            "F3896",
            "cable_modem",
            False,
            ("9.1.2311.100", "9.1.2306.200"),
            (0.75, 0.25),
            "30:93:BC",
            "Plume SuperPod",
            0.55,
        ),
        GatewayModel(
            "Technicolor",
            "CGM4981",
            "cable_modem",
            True,
            ("7.3p2s1", "7.1p4s2"),
            (0.8, 0.2),
            "A0:B5:49",
            "Plume SuperPod",
            0.25,
        ),
        GatewayModel(
            "Arris",
            "TG3492",
            "cable_modem",
            False,
            ("9.1.103FB", "9.1.93Q"),
            (0.6, 0.4),
            "38:43:7D",
            "Plume SuperPod",
            0.20,
        ),
    ),
    "fwa": (
        GatewayModel(
            "Nokia",
            "FastMile 5G Gateway 3",
            "fwa_cpe",
            False,
            ("R3.1.5", "R3.0.2"),
            (0.7, 0.3),
            "6C:4B:B4",
            "Nokia Beacon 1.1",
            0.45,
        ),
        GatewayModel(
            "Huawei",
            "5G CPE Pro 2 H122-373",
            "fwa_cpe",
            False,
            ("11.0.2.1", "10.0.5.3"),
            (0.65, 0.35),
            "00:E0:FC",
            "Huawei WA8021V5",
            0.30,
        ),
        GatewayModel(
            "ZTE",
            "MC801A",
            "fwa_cpe",
            False,
            ("BD_UKH3GMC801AV1.0.0B14", "BD_UKH3GMC801AV1.0.0B09"),
            (0.6, 0.4),
            "34:DA:B7",
            "ZTE ZXHN H196A",
            0.25,
        ),
    ),
}

MESH_LOCATIONS = (
    "Landing",
    "Living room",
    "Kitchen",
    "Office",
    "Bedroom 2",
    "Loft",
    "Garden office",
    "Hallway",
)


@dataclass(frozen=True)
class ClientVendor:
    vendor: str
    ouis: tuple[str, ...]
    models: tuple[str, ...]
    weight: float


def _v(vendor: str, ouis: str, models: str, weight: float) -> ClientVendor:
    return ClientVendor(
        vendor, tuple(ouis.split()), tuple(m.strip() for m in models.split("|")), weight
    )


#: Per device kind, who makes it and what it is called.
CLIENTS: dict[str, tuple[ClientVendor, ...]] = {
    "phone": (
        _v("Apple", "A4:5E:60 F0:18:98 3C:22:FB", "iPhone 15|iPhone 14|iPhone 13|iPhone SE", 0.50),
        _v("Samsung", "8C:77:12 F8:04:2E", "Galaxy S24|Galaxy A54|Galaxy A15", 0.32),
        _v("Google", "F4:F5:D8 3C:5A:B4", "Pixel 8|Pixel 7a", 0.10),
        _v("Motorola", "E0:98:06", "moto g84", 0.08),
    ),
    "laptop": (
        _v("Apple", "A4:5E:60 F0:18:98", "MacBook Air|MacBook Pro", 0.28),
        _v("Dell", "F8:B4:6A 18:DB:F2", "XPS 13|Latitude 5440|Inspiron 15", 0.22),
        _v("HP", "3C:D9:2B FC:15:B4", "Pavilion 15|EliteBook 840", 0.22),
        _v("Lenovo", "8C:16:45", "ThinkPad T14|IdeaPad 5", 0.20),
        _v("Microsoft", "28:18:78", "Surface Laptop 5", 0.08),
    ),
    "desktop": (
        _v("Dell", "F8:B4:6A", "OptiPlex 7010", 0.30),
        _v("Apple", "F0:18:98", "iMac|Mac mini", 0.25),
        _v("HP", "3C:D9:2B", "Pavilion Desktop", 0.20),
        _v("Intel", "F8:63:3F", "Gaming PC", 0.25),
    ),
    "tablet": (
        _v("Apple", "A4:5E:60 3C:22:FB", "iPad|iPad Air", 0.55),
        _v("Samsung", "8C:77:12", "Galaxy Tab A9", 0.25),
        _v("Amazon", "44:65:0D F0:D2:F1", "Fire HD 10", 0.20),
    ),
    "tv": (
        _v("Samsung", "8C:77:12 F8:04:2E", "QLED TV|Crystal UHD TV", 0.38),
        _v("LG", "A8:23:FE 64:95:6C", "OLED TV|UHD TV", 0.27),
        _v("Sony", "FC:0F:E6", "Bravia", 0.15),
        _v("Hisense", "B8:8A:EC", "Smart TV", 0.12),
        _v("TCL", "C8:28:32", "Smart TV", 0.08),
    ),
    "streamer": (
        _v("Amazon", "44:65:0D F0:D2:F1", "Fire TV Stick 4K", 0.40),
        _v("Roku", "B0:A7:37 DC:3A:5E", "Roku Express 4K", 0.25),
        _v("Google", "F4:F5:D8", "Chromecast with Google TV", 0.20),
        _v("Apple", "F0:18:98", "Apple TV 4K", 0.15),
    ),
    "console": (
        _v("Sony", "00:D9:D1 70:9E:29", "PlayStation 5|PlayStation 4", 0.45),
        _v("Microsoft", "7C:1E:52 98:5F:D3", "Xbox Series X|Xbox Series S", 0.30),
        _v("Nintendo", "98:B6:E9 04:03:D6", "Switch", 0.25),
    ),
    "camera": (
        _v("Ring", "44:65:0D", "Video Doorbell|Stick Up Cam", 0.40),
        _v("Google", "F4:F5:D8", "Nest Cam", 0.20),
        _v("TP-Link", "50:C7:BF 98:DA:C4", "Tapo C200", 0.25),
        _v("Arlo", "A4:11:62", "Arlo Essential", 0.15),
    ),
    "speaker": (
        _v("Amazon", "44:65:0D F0:D2:F1", "Echo Dot|Echo", 0.50),
        _v("Google", "F4:F5:D8 54:60:09", "Nest Mini|Nest Audio", 0.25),
        _v("Sonos", "48:A6:B8 5C:AA:FD", "Sonos One|Sonos Era 100", 0.15),
        _v("Apple", "F0:18:98", "HomePod mini", 0.10),
    ),
    "iot": (
        _v(
            "Espressif",
            "24:0A:C4 30:AE:A4 A4:CF:12 84:F3:EB",
            "Smart plug|Smart bulb|Air sensor|Smart switch",
            0.50,
        ),
        _v("TP-Link", "50:C7:BF 98:DA:C4", "Tapo P100 plug|Kasa bulb", 0.20),
        _v("Signify", "00:17:88", "Hue Bridge", 0.10),
        _v("Google", "F4:F5:D8", "Nest Thermostat|Nest Protect", 0.10),
        _v("Amazon", "44:65:0D", "Echo Flex", 0.10),
    ),
    "wearable": (
        _v("Apple", "A4:5E:60", "Apple Watch", 0.50),
        _v("Samsung", "8C:77:12", "Galaxy Watch", 0.25),
        _v("Garmin", "C4:AC:59", "Venu", 0.25),
    ),
    "printer": (
        _v("HP", "3C:D9:2B FC:15:B4", "DeskJet|ENVY", 0.45),
        _v("Canon", "00:1E:8F", "PIXMA", 0.20),
        _v("Epson", "64:EB:8C", "EcoTank", 0.20),
        _v("Brother", "00:80:77", "HL-L2350DW", 0.15),
    ),
    "other": (
        _v("Raspberry Pi", "B8:27:EB DC:A6:32", "Raspberry Pi", 0.30),
        _v("Amazon", "44:65:0D", "Kindle", 0.30),
        _v("Unknown", "02:00:00", "Unknown device", 0.40),
    ),
}

#: Kinds named after a person ("Olivia's iPhone 15") and those named after a room.
PERSONAL_KINDS = frozenset({"phone", "laptop", "tablet", "wearable"})
ROOMS = (
    "Living room",
    "Kitchen",
    "Bedroom",
    "Front door",
    "Garden",
    "Hallway",
    "Office",
    "Kids' room",
)
ROOM_KINDS = frozenset({"tv", "camera", "speaker"})


def oui_value(oui: str) -> int:
    return int(oui.replace(":", ""), 16)


_HEX = np.array([f"{i:02x}" for i in range(256)])


def mac_strings(prefix: np.ndarray, nic: np.ndarray) -> list[str]:
    """``aa:bb:cc:dd:ee:ff`` from 24-bit prefixes and 24-bit NIC parts (vectorised)."""
    value = (prefix.astype(np.int64) << 24) | (nic.astype(np.int64) & 0xFFFFFF)
    out = _HEX[(value >> 40) & 0xFF]
    for shift in (32, 24, 16, 8, 0):
        out = np.char.add(np.char.add(out, ":"), _HEX[(value >> shift) & 0xFF])
    return [str(m) for m in out.tolist()]


def unique_nics(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 24-bit values (an affine permutation of 0..2^24-1), for unique MACs."""
    if n > 1 << 24:
        raise ValueError("at most 16,777,216 MAC addresses per prefix space")
    a = int(rng.integers(0, 1 << 22)) * 2 + 1  # odd: a permutation modulo 2^24
    b = int(rng.integers(0, 1 << 24))
    return (np.arange(n, dtype=np.int64) * a + b) & 0xFFFFFF
