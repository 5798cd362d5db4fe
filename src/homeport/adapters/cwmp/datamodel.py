"""Which parameters Homeport reads from a CPE, and how they map to the report contract.

Both data-model roots are supported: ``InternetGatewayDevice.`` (TR-098) and ``Device.``
(TR-181). The ACS first asks the CPE which names exist under a few subtrees
(GetParameterNames), keeps the *leaf* names matching :data:`WANTED`, and asks values only for
those (some CPEs crash on partial or unknown paths). ``docs/cwmp.md`` has the mapping table.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from homeport.telemetry.schemas import CHANNELS, Client, Radio, Report, Resources, Wan

log = logging.getLogger(__name__)

TR098 = "InternetGatewayDevice."
TR181 = "Device."

#: Subtrees the ACS discovers (GetParameterNames, NextLevel=false), per root.
SUBTREES: dict[str, tuple[str, ...]] = {
    TR098: ("DeviceInfo.", "ManagementServer.", "WANDevice.", "LANDevice."),
    TR181: (
        "DeviceInfo.",
        "ManagementServer.",
        "PPP.Interface.",
        "IP.Interface.",
        "Optical.Interface.",
        "DSL.Line.",
        "WiFi.",
        "Hosts.",
    ),
}

_N = r"\d+"
_VENDOR_SIGNAL = r"X_\w*?(RSSI|SignalStrength)"
WANTED: dict[str, re.Pattern[str]] = {
    TR098: re.compile(
        r"^InternetGatewayDevice\.("
        r"DeviceInfo\.UpTime"
        r"|ManagementServer\.(PeriodicInformInterval|PeriodicInformEnable|ConnectionRequestURL"
        r"|ConnectionRequestUsername)"
        rf"|WANDevice\.{_N}\.WANConnectionDevice\.{_N}\.WAN(IP|PPP)Connection\.{_N}\."
        r"ConnectionStatus"
        rf"|WANDevice\.{_N}\.WANCommonInterfaceConfig\.PhysicalLinkStatus"
        rf"|WANDevice\.{_N}\.WANDSLInterfaceConfig\.DownstreamNoiseMargin"
        rf"|LANDevice\.{_N}\.WLANConfiguration\.{_N}\."
        r"(Enable|Channel|AutoChannelEnable|OperatingFrequencyBand|Standard)"
        rf"|LANDevice\.{_N}\.WLANConfiguration\.{_N}\.AssociatedDevice\.{_N}\."
        rf"(AssociatedDeviceMACAddress|{_VENDOR_SIGNAL})"
        rf"|LANDevice\.{_N}\.Hosts\.Host\.{_N}\."
        rf"(MACAddress|Active|InterfaceType|Layer2Interface|{_VENDOR_SIGNAL})"
        r")$"
    ),
    TR181: re.compile(
        r"^Device\.("
        r"DeviceInfo\.(UpTime|ProcessStatus\.CPUUsage|MemoryStatus\.(Total|Free))"
        r"|ManagementServer\.(PeriodicInformInterval|PeriodicInformEnable|ConnectionRequestURL"
        r"|ConnectionRequestUsername)"
        rf"|PPP\.Interface\.{_N}\.ConnectionStatus"
        rf"|IP\.Interface\.{_N}\.(Status|Name|Alias)"
        rf"|Optical\.Interface\.{_N}\.(Status|OpticalSignalLevel|TransmitOpticalLevel)"
        rf"|DSL\.Line\.{_N}\.(Status|DownstreamNoiseMargin)"
        rf"|WiFi\.Radio\.{_N}\.(Enable|Channel|AutoChannelEnable|OperatingFrequencyBand"
        r"|CurrentOperatingChannelBandwidth|Stats\.Noise)"
        rf"|WiFi\.SSID\.{_N}\.LowerLayers"
        rf"|WiFi\.AccessPoint\.{_N}\.SSIDReference"
        rf"|WiFi\.AccessPoint\.{_N}\.AssociatedDevice\.{_N}\."
        r"(MACAddress|SignalStrength|LastDataDownlinkRate|Retransmissions)"
        rf"|Hosts\.Host\.{_N}\.(PhysAddress|Active|Layer1Interface)"
        r")$"
    ),
}


def root_of(names: list[str]) -> str | None:
    """The data-model root a CPE uses, from the names in its Inform."""
    for name in names:
        for root in (TR098, TR181):
            if name.startswith(root):
                return root
    return None


def wanted_leaves(root: str, declared: set[str]) -> list[str]:
    """The declared leaf names Homeport reads (objects end with '.', and are never asked)."""
    pattern = WANTED[root]
    return sorted(n for n in declared if not n.endswith(".") and pattern.match(n))


def _num(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _band(text: str | None, channel: int | None) -> str | None:
    """'2.4GHz' / '5GHz' / '6GHz' from OperatingFrequencyBand, else from the channel number."""
    if text:
        t = text.replace(" ", "").upper()
        for band in CHANNELS:
            if t.startswith(band.upper()):
                return band
    if channel is not None:
        return "2.4GHz" if 1 <= channel <= 14 else "5GHz" if 32 <= channel <= 177 else None
    return None


def _instances(values: dict[str, str], pattern: str) -> dict[str, dict[str, str]]:
    """Group ``values`` under the object paths matching ``pattern`` (regex of the object path,
    ending with '.'), as {object path: {leaf: value}}."""
    rx = re.compile(f"^({pattern})([A-Za-z0-9_.]+)$")
    out: dict[str, dict[str, str]] = {}
    for name, value in values.items():
        m = rx.match(name)
        if m:
            out.setdefault(m.group(1), {})[m.group(2)] = value
    return out


def _vendor_signal(leaves: dict[str, str]) -> float | None:
    for key, value in leaves.items():
        if re.fullmatch(_VENDOR_SIGNAL, key):
            return _num(value)
    return None


def _model(cls: type[Any], what: str, notes: list[str], **kwargs: Any) -> Any:
    """Build one part of the report; a part the contract refuses is left out with a note."""
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        notes.append(f"{what} left out: {exc.errors()[0]['msg']}")
        return None


def _wan_status(values: dict[str, str], root: str) -> str:
    if root == TR098:
        conns = [v for k, v in values.items() if k.endswith(".ConnectionStatus")]
        phys = [v for k, v in values.items() if k.endswith(".PhysicalLinkStatus")]
    else:
        conns = [
            v
            for k, v in values.items()
            if k.startswith("Device.PPP.") and k.endswith(".ConnectionStatus")
        ]
        named = _instances(values, r"Device\.IP\.Interface\.\d+\.")
        for leaves in named.values():
            label = f"{leaves.get('Name', '')} {leaves.get('Alias', '')}".lower()
            if "wan" in label and "Status" in leaves:
                conns.append("Connected" if leaves["Status"] == "Up" else leaves["Status"])
        phys = [
            v
            for k, v in values.items()
            if k.startswith(("Device.Optical.", "Device.DSL.")) and k.endswith(".Status")
        ]
    if phys and all(p.lower() in ("down", "lowerlayerdown", "notpresent", "error") for p in phys):
        return "down"
    if conns:
        return "up" if any(c == "Connected" for c in conns) else "down"
    if phys:
        return "up" if any(p.lower() == "up" for p in phys) else "unknown"
    return "unknown"


def to_report(
    device_id: str, root: str, values: dict[str, str], now: datetime
) -> tuple[Report, list[str]]:
    """Map a CPE's values to one :class:`Report` (stamped with the ACS clock, not the CPE's,
    which may be wrong) and notes about what was left out. Raises ``ValueError`` when even the
    WAN part is invalid."""
    notes: list[str] = []
    p = root
    uptime = _num(values.get(f"{p}DeviceInfo.UpTime"))
    wan: dict[str, Any] = {"status": _wan_status(values, root)}
    radios: list[Radio] = []
    clients: list[Client] = []
    bands: dict[str, str] = {}  # radio / WLAN object path → band
    resources: Resources | None = None
    if root == TR098:
        snr = [_num(v) for k, v in values.items() if k.endswith("DownstreamNoiseMargin")]
        if snr and snr[0] is not None:
            wan["dsl_snr_margin_db"] = snr[0] / 10
        wlans = _instances(
            values, r"InternetGatewayDevice\.LANDevice\.\d+\.WLANConfiguration\.\d+\."
        )
        for path, leaves in sorted(wlans.items()):
            channel = _num(leaves.get("Channel"))
            ch = int(channel) if channel is not None else None
            band = _band(leaves.get("OperatingFrequencyBand"), ch)
            if band is None:
                continue
            bands[path] = band
            if leaves.get("Enable", "true").lower() in ("0", "false") or ch is None:
                continue
            radio = _model(Radio, f"radio {path}", notes, band=band, channel=ch)
            if radio is not None and all(r.band != band for r in radios):
                radios.append(radio)
        assoc = _instances(
            values,
            r"InternetGatewayDevice\.LANDevice\.\d+\.WLANConfiguration\.\d+\.AssociatedDevice\.\d+\.",
        )
        for path, leaves in sorted(assoc.items()):
            wlan = path.split("AssociatedDevice.")[0]
            rssi = _vendor_signal(leaves)
            mac = leaves.get("AssociatedDeviceMACAddress", "")
            if rssi is not None and mac and wlan in bands:
                c = _model(Client, f"client {mac}", notes, mac=mac, band=bands[wlan], rssi_dbm=rssi)
                if c is not None:
                    clients.append(c)
        hosts = _instances(values, r"InternetGatewayDevice\.LANDevice\.\d+\.Hosts\.Host\.\d+\.")
        for _path, leaves in sorted(hosts.items()):
            rssi = _vendor_signal(leaves)
            layer2 = leaves.get("Layer2Interface", "").rstrip(".") + "."
            if rssi is None or leaves.get("Active", "true").lower() in ("0", "false"):
                continue
            if layer2 in bands and leaves.get("MACAddress"):
                c = _model(
                    Client,
                    "host",
                    notes,
                    mac=leaves["MACAddress"],
                    band=bands[layer2],
                    rssi_dbm=rssi,
                )
                if c is not None and all(x.mac != c.mac for x in clients):
                    clients.append(c)
    else:
        optical = [_num(v) for k, v in values.items() if k.endswith(".OpticalSignalLevel")]
        if optical and optical[0] is not None:
            wan["optical_rx_dbm"] = optical[0] / 1000  # Dbm1000: 0.001 dBm
        tx = [_num(v) for k, v in values.items() if k.endswith(".TransmitOpticalLevel")]
        if tx and tx[0] is not None:
            wan["optical_tx_dbm"] = tx[0] / 1000
        snr = [_num(v) for k, v in values.items() if k.endswith(".DownstreamNoiseMargin")]
        if snr and snr[0] is not None:
            wan["dsl_snr_margin_db"] = snr[0] / 10
        for path, leaves in sorted(_instances(values, r"Device\.WiFi\.Radio\.\d+\.").items()):
            channel = _num(leaves.get("Channel"))
            ch = int(channel) if channel is not None else None
            band = _band(leaves.get("OperatingFrequencyBand"), ch)
            if band is None:
                continue
            bands[path] = band
            if leaves.get("Enable", "true").lower() in ("0", "false") or ch is None:
                continue
            width = re.match(r"(\d+)MHz", leaves.get("CurrentOperatingChannelBandwidth", ""))
            radio = _model(
                Radio,
                f"radio {path}",
                notes,
                band=band,
                channel=ch,
                width_mhz=int(width.group(1)) if width else 20,
                noise_dbm=_num(leaves.get("Stats.Noise")),
            )
            if radio is not None and all(r.band != band for r in radios):
                radios.append(radio)
        ssid_radio = {
            path: leaves.get("LowerLayers", "").split(",")[0].strip().rstrip(".") + "."
            for path, leaves in _instances(values, r"Device\.WiFi\.SSID\.\d+\.").items()
        }
        ap_band: dict[str, str] = {}
        for path, leaves in _instances(values, r"Device\.WiFi\.AccessPoint\.\d+\.").items():
            ssid = leaves.get("SSIDReference", "").rstrip(".") + "."
            radio_path = ssid_radio.get(ssid, "")
            if radio_path in bands:
                ap_band[path] = bands[radio_path]
        assoc = _instances(values, r"Device\.WiFi\.AccessPoint\.\d+\.AssociatedDevice\.\d+\.")
        for path, leaves in sorted(assoc.items()):
            ap = path.split("AssociatedDevice.")[0]
            rssi, mac = _num(leaves.get("SignalStrength")), leaves.get("MACAddress", "")
            if rssi is None or not mac or ap not in ap_band:
                continue
            rate = _num(leaves.get("LastDataDownlinkRate"))
            c = _model(
                Client,
                f"client {mac}",
                notes,
                mac=mac,
                band=ap_band[ap],
                rssi_dbm=rssi,
                phy_rate_mbps=rate / 1000 if rate is not None else None,
                retrans_pct=_num(leaves.get("Retransmissions")),  # of the last 100 packets
            )
            if c is not None and all(x.mac != c.mac for x in clients):
                clients.append(c)
        cpu = _num(values.get("Device.DeviceInfo.ProcessStatus.CPUUsage"))
        total = _num(values.get("Device.DeviceInfo.MemoryStatus.Total"))
        free = _num(values.get("Device.DeviceInfo.MemoryStatus.Free"))
        mem = 100 * (total - free) / total if total and free is not None else None
        if cpu is not None or mem is not None:
            resources = _model(Resources, "resources", notes, cpu_pct=cpu, mem_pct=mem)
    try:
        wan_model = Wan(**wan)
    except ValidationError as exc:
        notes.append(f"WAN measurements left out: {exc.errors()[0]['msg']}")
        wan_model = Wan(status=wan["status"])
    try:
        report = Report(
            device_id=device_id,
            ts=now,
            uptime_s=int(uptime) if uptime is not None and uptime >= 0 else None,
            wan=wan_model,
            radios=radios,
            clients=clients[:256],
            resources=resources,
        )
    except ValidationError as exc:
        raise ValueError(f"report refused by the contract: {exc.errors()[0]['msg']}") from exc
    return report, notes


def channel_targets(root: str, values: dict[str, str], band: str) -> list[str]:
    """The Channel parameters of the radios (TR-181) or WLANs (TR-098) on ``band``."""
    pattern = (
        r"InternetGatewayDevice\.LANDevice\.\d+\.WLANConfiguration\.\d+\."
        if root == TR098
        else r"Device\.WiFi\.Radio\.\d+\."
    )
    out = []
    for path, leaves in sorted(_instances(values, pattern).items()):
        channel = _num(leaves.get("Channel"))
        found = _band(leaves.get("OperatingFrequencyBand"), int(channel) if channel else None)
        if found == band and "Channel" in leaves:
            out.append(path)
    return out
