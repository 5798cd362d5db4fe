"""Twilio's webhook signature (``X-Twilio-Signature``), which Twilio-compatible providers copy.

- Form posts (``application/x-www-form-urlencoded``): Base64 of HMAC-SHA1, keyed with the
  account's auth token, over the full URL the provider called followed by every POST
  parameter's name and value, sorted by name.
- JSON posts: the provider adds ``bodySHA256=<hex SHA-256 of the body>`` to the URL's query and
  signs the URL alone; the body must match that digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit


def compute(token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    data = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.new(token.encode(), data.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def valid_form(token: str, urls: Iterable[str], params: list[tuple[str, str]], sent: str) -> bool:
    """Whether ``sent`` signs the form post at one of ``urls`` (the public URL and the URL as
    received, which differ behind a proxy)."""
    return bool(token and sent) and any(
        hmac.compare_digest(compute(token, url, params), sent) for url in urls
    )


def valid_json(token: str, urls: Iterable[str], body: bytes, sent: str) -> bool:
    if not (token and sent):
        return False
    digest = hashlib.sha256(body).hexdigest()
    for url in urls:
        claimed = parse_qs(urlsplit(url).query).get("bodySHA256", [""])[0]
        if not hmac.compare_digest(claimed, digest):
            continue
        if hmac.compare_digest(compute(token, url), sent):
            return True
    return False
