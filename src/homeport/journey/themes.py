"""Themes of survey comments: why subscribers scored what they scored, not only how much.

A documented keyword rule set, deterministic and explainable (docs/journey.md, "Themes"):

1. The comment is normalised: lower case, accents dropped, "wi-fi"/"wi fi"/"wiffi" → "wifi",
   anything but letters and digits → a space.
2. Each theme has **stems** (a word starting with the stem matches: ``instal`` matches
   "installation", "installer", "instalation"), **words** (whole words) and **phrases** (two or
   more words in a row, worth two points). Misspellings are forgiven: a word of 6 letters or
   more matches a keyword one edit away (a letter added, missing, changed or two swapped; two
   edits from 9 letters), and a stem of 7 letters or more matches a word whose beginning is one
   edit away from it ("techician", "tecnician", "instilation").
3. The theme with the most points wins; a tie goes to the theme listed first in
   :data:`THEMES`. A comment that matches nothing is ``other``; an empty comment has no theme.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    name: str
    label: str
    stems: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()


#: The themes, most specific first (the order breaks ties).
THEMES: tuple[Theme, ...] = (
    Theme(
        "outages",
        "Outages and drop-outs",
        stems=("outage", "disconnect", "interrupt", "unreliab", "unstabl"),
        words=(
            "down",
            "drops",
            "dropped",
            "dropping",
            "dropouts",
            "offline",
            "cuts",
            "blackout",
            "instability",
        ),
        phrases=(
            "no internet",
            "no connection",
            "keeps dropping",
            "drops out",
            "went down",
            "goes down",
            "cut out",
            "cuts out",
            "not working",
            "stopped working",
            "no service",
        ),
    ),
    Theme(
        "installation",
        "Installation",
        stems=("instal", "setup", "activat", "onboard"),
        words=(
            "install",
            "installed",
            "installation",
            "router",
            "delivery",
            "delivered",
            "connected",
        ),
        phrases=("set up", "switch on", "go live", "first day", "self install"),
    ),
    Theme(
        "technician",
        "The technician",
        stems=("technic", "engineer", "installer", "fitter"),
        words=("tech", "techs", "guy", "visit", "appointment", "van"),
        phrases=("turned up", "no show", "did not show", "didnt show", "came round"),
    ),
    Theme(
        "wifi_coverage",
        "Wi-Fi coverage",
        stems=("coverag", "signal", "mesh", "extender", "booster", "repeater"),
        words=(
            "wifi",
            "wireless",
            "upstairs",
            "downstairs",
            "bedroom",
            "garden",
            "reach",
            "range",
            "deadspot",
            "deadzone",
            "bars",
        ),
        phrases=("dead spot", "dead zone", "other room", "back room", "far room"),
    ),
    Theme(
        "speed",
        "Speed",
        stems=("speed", "slow", "buffer", "bandwidth", "latenc", "laggy", "fast"),
        words=("mbps", "lag", "lags", "lagging", "ping", "quick", "quicker", "sluggish"),
        phrases=("speed test", "takes ages to load", "gigabit"),
    ),
    Theme(
        "support_wait",
        "Support: waiting and handling",
        stems=("waiting", "queue", "respon", "callback", "helpdesk", "customerservice"),
        words=(
            "wait",
            "waited",
            "hold",
            "support",
            "agent",
            "advisor",
            "adviser",
            "helpline",
            "chat",
            "answer",
            "answered",
            "ticket",
            "complaint",
        ),
        phrases=(
            "on hold",
            "call back",
            "called back",
            "customer service",
            "no reply",
            "took ages",
            "nobody answered",
            "spoke to",
        ),
    ),
    Theme(
        "billing_price",
        "Billing and price",
        stems=("bill", "pric", "expensiv", "charg", "payment", "refund", "overcharg", "invoic"),
        words=("cost", "costs", "money", "fee", "fees", "cheap", "cheaper", "contract", "value"),
        phrases=("direct debit", "price rise", "went up"),
    ),
    Theme(
        "app_portal",
        "App and portal",
        stems=("portal", "website", "login", "password"),
        words=("app", "apps", "site", "online", "account", "crash", "crashes", "crashing"),
        phrases=("log in", "sign in", "my account"),
    ),
)
OTHER = "other"
NAMES: tuple[str, ...] = (*(t.name for t in THEMES), OTHER)
LABELS: dict[str, str] = {**{t.name: t.label for t in THEMES}, OTHER: "Other"}

_WIFI = re.compile(r"\bwi[\s\-]?f+i+\b|\bwiffi\b|\bwify\b|\bwi-?fi\b")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> list[str]:
    """The comment's words, normalised as the module describes."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = plain.replace("'", "").replace("’", "")
    plain = _WIFI.sub(" wifi ", plain)
    return [w for w in _NOT_WORD.split(plain) if w]


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (insert, delete, change, swap two neighbours), or
    ``limit + 1`` as soon as it is certainly above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _word_matches(token: str, word: str) -> bool:
    if token == word:
        return True
    if len(word) < 6 or len(token) < 5:
        return False
    allowed = 2 if len(word) >= 9 else 1
    return edit_distance(token, word, allowed) <= allowed


def _stem_matches(token: str, stem: str) -> bool:
    if token.startswith(stem):
        return True
    if len(stem) < 7 or len(token) < len(stem) - 1:
        return False
    return any(edit_distance(token[:n], stem, 1) <= 1 for n in range(len(stem) - 1, len(stem) + 2))


def scores(text: str) -> dict[str, int]:
    """Points per theme (only themes with points)."""
    tokens = normalise(text)
    joined = " " + " ".join(tokens) + " "
    found: dict[str, int] = {}
    for theme in THEMES:
        points = 0
        for token in tokens:
            if any(_stem_matches(token, s) for s in theme.stems) or any(
                _word_matches(token, w) for w in theme.words
            ):
                points += 1
        for phrase in theme.phrases:
            if f" {phrase} " in joined:
                points += 2
        if points:
            found[theme.name] = points
    return found


def classify(text: str) -> str | None:
    """The comment's theme (one of :data:`NAMES`), or None for an empty comment."""
    if not normalise(text):
        return None
    found = scores(text)
    if not found:
        return OTHER
    best = max(found.values())
    return next(t.name for t in THEMES if found.get(t.name) == best)
