"""CWMP SOAP envelopes: parsing what a CPE sends and building what the ACS answers.

Parsing untrusted input goes through ``defusedxml`` with DTDs forbidden (SOAP 1.1 forbids them
in a message anyway), which shuts out entity-expansion and external-entity tricks; a body with
a document type declaration is refused with a readable reason before parsing. Element names
are matched on their local part: CPEs use any prefix and several CWMP namespace versions
(cwmp-1-0 … cwmp-1-4).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CWMP_NS = "urn:dslforum-org:cwmp-1-0"
MAX_BODY = 4 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

#: xsi:type per Python value kind for SetParameterValues (TR-069 A.2.3).
XSD_STRING = "xsd:string"
XSD_BOOLEAN = "xsd:boolean"
XSD_UINT = "xsd:unsignedInt"
XSD_INT = "xsd:int"


class SoapError(ValueError):
    """A body that is not a CWMP SOAP envelope."""


@dataclass(frozen=True)
class Fault:
    code: int
    string: str


@dataclass
class Message:
    """One CWMP message from a CPE: its ``cwmp:ID``, method name and parsed content."""

    id: str
    method: str
    #: ParameterValueStruct name → (value, xsi type) for Inform and GetParameterValuesResponse.
    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: ParameterInfoStruct name → writable, for GetParameterNamesResponse.
    names: dict[str, bool] = field(default_factory=dict)
    #: Inform: DeviceId fields and event codes with their command keys.
    device: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)
    fault: Fault | None = None
    #: Simple scalar children (Status, CommandKey, StartTime …) of the method element.
    fields: dict[str, str] = field(default_factory=dict)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _text(elem: ET.Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def _xsi_type(elem: ET.Element | None) -> str:
    if elem is None:
        return ""
    for key, value in elem.attrib.items():
        if _local(key) == "type":
            return value
    return ""


def parse(body: bytes) -> Message:
    """Parse one envelope; raise :class:`SoapError` with a readable reason."""
    if len(body) > MAX_BODY:
        raise SoapError(f"envelope larger than {MAX_BODY} bytes")
    if _DOCTYPE.search(body):
        raise SoapError("a SOAP message may not contain a document type declaration")
    try:
        root = safe_fromstring(body, forbid_dtd=True)
    except ET.ParseError as exc:
        raise SoapError(f"not well-formed XML: {exc}") from exc
    except DefusedXmlException as exc:
        raise SoapError(f"refused XML construct: {exc}") from exc
    if _local(root.tag) != "Envelope":
        raise SoapError("the root element is not a SOAP Envelope")
    header, soap_body = _child(root, "Header"), _child(root, "Body")
    if soap_body is None or len(soap_body) == 0:
        raise SoapError("the envelope has no Body")
    msg_id = _text(_child(header, "ID")) if header is not None else ""
    method_elem = soap_body[0]
    method = _local(method_elem.tag)
    msg = Message(id=msg_id, method=method)
    if method == "Fault":
        detail = _child(method_elem, "detail")
        cwmp_fault = _child(detail, "Fault") if detail is not None else None
        code_text = _text(_child(cwmp_fault, "FaultCode")) if cwmp_fault is not None else ""
        try:
            code = int(code_text)
        except ValueError:
            code = 0
        string = _text(_child(cwmp_fault, "FaultString")) if cwmp_fault is not None else ""
        msg.fault = Fault(code, string or _text(_child(method_elem, "faultstring")))
        return msg
    for c in method_elem:
        if len(c) == 0:
            msg.fields[_local(c.tag)] = _text(c)
    plist = _child(method_elem, "ParameterList")
    if plist is not None:
        for item in plist:
            name = _text(_child(item, "Name"))
            if not name:
                continue
            if _local(item.tag) == "ParameterInfoStruct":
                msg.names[name] = _text(_child(item, "Writable")).lower() in ("1", "true")
            else:
                value = _child(item, "Value")
                msg.values[name] = (_text(value), _xsi_type(value))
    device = _child(method_elem, "DeviceId")
    if device is not None:
        msg.device = {_local(c.tag): _text(c) for c in device}
    events = _child(method_elem, "Event")
    if events is not None:
        for ev in events:
            msg.events.append((_text(_child(ev, "EventCode")), _text(_child(ev, "CommandKey"))))
    fault_struct = _child(method_elem, "FaultStruct")
    if fault_struct is not None:
        try:
            code = int(_text(_child(fault_struct, "FaultCode")) or 0)
        except ValueError:
            code = 0
        msg.fault = Fault(code, _text(_child(fault_struct, "FaultString"))) if code else None
    return msg


def _envelope(msg_id: str, body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}" '
        'xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:cwmp="{CWMP_NS}">'
        f'<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">{escape(msg_id)}</cwmp:ID>'
        f"</soap-env:Header><soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"
    ).encode()


def inform_response(msg_id: str) -> bytes:
    return _envelope(
        msg_id, "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>"
    )


def simple_response(msg_id: str, method: str, inner: str = "") -> bytes:
    """``TransferCompleteResponse`` and the like (``inner`` is trusted, built here)."""
    return _envelope(msg_id, f"<cwmp:{method}>{inner}</cwmp:{method}>")


def get_rpc_methods_response(msg_id: str, methods: list[str]) -> bytes:
    items = "".join(f"<string>{escape(m)}</string>" for m in methods)
    return simple_response(
        msg_id,
        "GetRPCMethodsResponse",
        f'<MethodList soap-enc:arrayType="xsd:string[{len(methods)}]">{items}</MethodList>',
    )


def fault(msg_id: str, code: int, string: str) -> bytes:
    """A SOAP fault the ACS sends for a CPE request it cannot serve (status stays 200)."""
    return _envelope(
        msg_id,
        "<soap-env:Fault><faultcode>Server</faultcode><faultstring>CWMP fault</faultstring>"
        f"<detail><cwmp:Fault><FaultCode>{code}</FaultCode>"
        f"<FaultString>{escape(string)}</FaultString></cwmp:Fault></detail></soap-env:Fault>",
    )


def get_parameter_names(msg_id: str, path: str, *, next_level: bool) -> bytes:
    return _envelope(
        msg_id,
        f"<cwmp:GetParameterNames><ParameterPath>{escape(path)}</ParameterPath>"
        f"<NextLevel>{'true' if next_level else 'false'}</NextLevel></cwmp:GetParameterNames>",
    )


def get_parameter_values(msg_id: str, names: list[str]) -> bytes:
    items = "".join(f"<string>{escape(n)}</string>" for n in names)
    return _envelope(
        msg_id,
        "<cwmp:GetParameterValues>"
        f'<ParameterNames soap-enc:arrayType="xsd:string[{len(names)}]">{items}</ParameterNames>'
        "</cwmp:GetParameterValues>",
    )


def typed(value: bool | int | str) -> tuple[str, str]:
    """A value as CWMP text with its ``xsi:type`` (booleans before ints: bool is an int)."""
    if isinstance(value, bool):
        return ("true" if value else "false"), XSD_BOOLEAN
    if isinstance(value, int):
        return str(value), (XSD_UINT if value >= 0 else XSD_INT)
    return value, XSD_STRING


def set_parameter_values(msg_id: str, values: dict[str, bool | int | str], key: str) -> bytes:
    """SetParameterValues with every value typed (some CPEs refuse an untyped value)."""
    items = []
    for name, value in values.items():
        text, xsi = typed(value)
        items.append(
            f"<ParameterValueStruct><Name>{escape(name)}</Name>"
            f'<Value xsi:type="{xsi}">{escape(text)}</Value></ParameterValueStruct>'
        )
    return _envelope(
        msg_id,
        "<cwmp:SetParameterValues>"
        f'<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[{len(items)}]">'
        f"{''.join(items)}</ParameterList><ParameterKey>{escape(key)}</ParameterKey>"
        "</cwmp:SetParameterValues>",
    )


def reboot(msg_id: str, command_key: str) -> bytes:
    return _envelope(
        msg_id, f"<cwmp:Reboot><CommandKey>{escape(command_key)}</CommandKey></cwmp:Reboot>"
    )


def download(msg_id: str, command_key: str, url: str, file_size: int) -> bytes:
    """A firmware Download ("1 Firmware Upgrade Image", TR-069 A.3.2.8)."""
    return _envelope(
        msg_id,
        f"<cwmp:Download><CommandKey>{escape(command_key)}</CommandKey>"
        "<FileType>1 Firmware Upgrade Image</FileType>"
        f"<URL>{escape(url)}</URL><Username></Username><Password></Password>"
        f"<FileSize>{file_size}</FileSize><TargetFileName></TargetFileName>"
        "<DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL><FailureURL></FailureURL>"
        "</cwmp:Download>",
    )
