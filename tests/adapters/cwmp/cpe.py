"""Test helpers: the captured CWMP session, and a CPE that answers an ACS from a parameter tree.

The CPE answers exactly like a strict device: GetParameterNames lists what exists under a path
(objects end with '.'), GetParameterValues faults 9005 on any name that is not a declared leaf
(so the test fails if the ACS asks a partial or unknown path), SetParameterValues checks every
value carries an ``xsi:type``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.testclient import TestClient

#: A real session of genieacs-sim (the requests as the CPE sent them; the NNN-resp.txt files are
#: the answers of a throwaway stub, for reference only). Third-party data is read from the shared
#: folder beside the repository, never copied into it (see ../shared/data/README.md).
SESSION_DIR = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "cwmp" / "genieacs-sim-session"
)
XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"
ENV_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<soap-env:Envelope '
    'xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:cwmp="urn:dslforum-org:cwmp-1-0">'
)


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes


def captured(n: int) -> Captured:
    """Request ``n`` of the captured session, as the CPE sent it."""
    if not SESSION_DIR.is_dir():
        pytest.skip(f"the captured CWMP session is not at {SESSION_DIR}")
    raw = (SESSION_DIR / f"{n:03d}-req.txt").read_bytes()
    head, _, body = raw.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode().splitlines()[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Captured(headers, body.strip())


def with_id(body: bytes, msg_id: str) -> bytes:
    """A captured CPE message re-addressed to the ACS's request ID."""
    return re.sub(rb"(<cwmp:ID[^>]*>)[^<]*(</cwmp:ID>)", rb"\g<1>" + msg_id.encode() + rb"\2", body)


def envelope(msg_id: str, body: str) -> bytes:
    return (
        f'{ENV_OPEN}<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">{msg_id}</cwmp:ID>'
        f"</soap-env:Header><soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"
    ).encode()


def fault_body(msg_id: str, code: int, text: str) -> bytes:
    return envelope(
        msg_id,
        "<soap-env:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring>"
        f"<detail><cwmp:Fault><FaultCode>{code}</FaultCode><FaultString>{text}</FaultString>"
        "</cwmp:Fault></detail></soap-env:Fault>",
    )


def inform(root: str, params: dict[str, str], events: tuple[str, ...] = ("2 PERIODIC",)) -> bytes:
    evs = "".join(
        f"<EventStruct><EventCode>{e}</EventCode><CommandKey/></EventStruct>" for e in events
    )
    items = "".join(
        f'<ParameterValueStruct><Name>{root}{k}</Name><Value xsi:type="xsd:string">{v}</Value>'
        "</ParameterValueStruct>"
        for k, v in params.items()
    )
    return envelope(
        "inform1",
        "<cwmp:Inform><DeviceId><Manufacturer>Test</Manufacturer><OUI>001122</OUI>"
        "<ProductClass>HG</ProductClass><SerialNumber>S1</SerialNumber></DeviceId>"
        f"<Event>{evs}</Event><MaxEnvelopes>1</MaxEnvelopes>"
        "<CurrentTime>2026-11-23T10:00:00Z</CurrentTime><RetryCount>0</RetryCount>"
        f"<ParameterList>{items}</ParameterList></cwmp:Inform>",
    )


def parse_acs(body: bytes) -> tuple[str, str, ET.Element]:
    """(ID, method, method element) of an ACS message."""
    root = ET.fromstring(body)  # noqa: S314 (the ACS's own output, in a test)
    msg_id = root.find("{*}Header/{*}ID")
    method = root.find("{*}Body")[0]  # type: ignore[index]
    return (msg_id.text or "") if msg_id is not None else "", method.tag.split("}")[-1], method


@dataclass
class FakeCpe:
    """A CPE's parameters: name → (value, writable). Objects are implied by the leaf names."""

    params: dict[str, tuple[str, bool]]
    #: Method name → a canned answer (bytes with any ID, re-addressed) instead of the default.
    canned: dict[str, bytes] = field(default_factory=dict)
    #: GetParameterValues faults 9002 when it includes one of these names (a buggy CPE).
    poison: set[str] = field(default_factory=set)
    log: list[tuple[str, ET.Element]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    def objects(self) -> set[str]:
        out: set[str] = set()
        for name in self.params:
            parts = name.split(".")
            for i in range(1, len(parts)):
                out.add(".".join(parts[:i]) + ".")
        return out

    def answer(self, body: bytes) -> bytes:
        msg_id, method, elem = parse_acs(body)
        self.log.append((method, elem))
        if method in self.canned:
            return with_id(self.canned[method], msg_id)
        if method == "GetParameterNames":
            path = elem.findtext("ParameterPath") or ""
            next_level = (elem.findtext("NextLevel") or "").lower() in ("1", "true")
            found = {n: w for n, (_v, w) in self.params.items() if n.startswith(path)}
            found.update({o: False for o in self.objects() if o.startswith(path) and o != path})
            if path not in self.objects() and path not in self.params:
                self.faults.append(f"GPN {path}")
                return fault_body(msg_id, 9005, "Invalid parameter name")
            if next_level:
                depth = path.count(".")
                found = {n: w for n, w in found.items() if n.rstrip(".").count(".") == depth}
            items = "".join(
                f"<ParameterInfoStruct><Name>{n}</Name><Writable>{str(w).lower()}</Writable>"
                "</ParameterInfoStruct>"
                for n, w in sorted(found.items())
            )
            return envelope(
                msg_id,
                f"<cwmp:GetParameterNamesResponse><ParameterList>{items}</ParameterList>"
                "</cwmp:GetParameterNamesResponse>",
            )
        if method == "GetParameterValues":
            names = [s.text or "" for s in elem.iter() if s.tag.split("}")[-1] == "string"]
            bad = [n for n in names if n not in self.params]
            if bad:
                self.faults.append(f"GPV {bad}")
                return fault_body(msg_id, 9005, "Invalid parameter name")
            if self.poison & set(names):
                return fault_body(msg_id, 9002, "Internal error")
            items = "".join(
                f'<ParameterValueStruct><Name>{n}</Name><Value xsi:type="xsd:string">'
                f"{self.params[n][0]}</Value></ParameterValueStruct>"
                for n in names
            )
            return envelope(
                msg_id,
                f"<cwmp:GetParameterValuesResponse><ParameterList>{items}</ParameterList>"
                "</cwmp:GetParameterValuesResponse>",
            )
        if method == "SetParameterValues":
            for pvs in elem.iter("ParameterValueStruct"):
                name, value = pvs.findtext("Name") or "", pvs.find("Value")
                if value is None or XSI not in value.attrib:
                    self.faults.append(f"untyped {name}")
                    return fault_body(msg_id, 9006, "Invalid parameter type")
                if name not in self.params or not self.params[name][1]:
                    self.faults.append(f"SPV {name}")
                    return fault_body(msg_id, 9008, "Attempt to set a non-writable parameter")
                self.params[name] = (value.text or "", True)
            return envelope(
                msg_id,
                "<cwmp:SetParameterValuesResponse><Status>0</Status></cwmp:SetParameterValuesResponse>",
            )
        if method == "Reboot":
            return envelope(msg_id, "<cwmp:RebootResponse/>")
        if method == "Download":
            return envelope(
                msg_id,
                "<cwmp:DownloadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z</StartTime>"
                "<CompleteTime>0001-01-01T00:00:00Z</CompleteTime></cwmp:DownloadResponse>",
            )
        return fault_body(msg_id, 9000, "Method not supported")


def run_session(
    client: TestClient, cpe: FakeCpe, first: bytes, headers: dict[str, str], limit: int = 50
) -> list[int]:
    """Inform, empty POST, then answer every ACS request until the 204; the HTTP statuses."""
    statuses = []
    resp = client.post("/cwmp", content=first, headers=headers)
    statuses.append(resp.status_code)
    assert resp.status_code == 200, resp.text
    resp = client.post("/cwmp", content=b"", headers=headers)
    statuses.append(resp.status_code)
    for _ in range(limit):
        if resp.status_code == 204:
            return statuses
        assert resp.status_code == 200, resp.text
        resp = client.post("/cwmp", content=cpe.answer(resp.content), headers=headers)
        statuses.append(resp.status_code)
    raise AssertionError("the ACS never ended the session")
