"""Search of the knowledge base for messy subscriber questions ("how do i chnage my wifi
pasword", "wat is the name of my wifi").

TF-IDF (scikit-learn), fitted per process on the articles themselves, no model to download:

1. **Normalise** the text of articles and questions alike: lower case, "wi-fi"/"wi fi" as
   "wifi", then every word through :data:`SYNONYMS` (a small domain map: "wireless" is
   "wifi", "passcode" and "key" are "password", "modem", "gateway", "hub" and "box" are
   "router"…), so that an article and a question that name one thing in two ways meet.
2. **Spelling**: a question's word that no article uses is replaced by the closest word that
   articles do use (:func:`difflib.get_close_matches`, similarity ≥ :data:`SPELLING_CUTOFF`,
   the same first letter, one slip — two in a word of seven letters or more — where swapping
   two letters is one slip), so "chnage" reads "change" and "pasword" reads "password".
3. **Light stemming** (:func:`stem`): "changed", "changing" and "change" are one word.
4. **Two views of each article**, each vectorised twice (words and word pairs with sublinear
   TF; character 3–5 grams within word boundaries, which still match a misspelling step 2
   missed): its headline (title and tags) and its whole text (headline counted
   :data:`TITLE_WEIGHT` times, then the body). A question's score is the cosine similarity
   with each, words weighted :data:`WORD_WEIGHT` and characters :data:`CHAR_WEIGHT`, the
   headline :data:`HEADLINE_WEIGHT` and the whole text the rest.
5. Articles scoring below :data:`MIN_SCORE` are not answers: a question about nothing the
   knowledge base covers gets no article (and the bot says so) rather than the least bad one.

The fitted index is cached per process and database, keyed on the articles' count, latest
``updated_at`` and highest id, so an agent's edit is searched at once: the next search refits
the index (timings in docs/knowledge-base.md).
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.selfservice.models import Article

TITLE_WEIGHT = 2
HEADLINE_WEIGHT = 0.4
WORD_WEIGHT = 0.65
CHAR_WEIGHT = 0.35
#: Below this combined score an article is not an answer (tuned on the starter articles: the
#: messy questions of tests/selfservice/test_kb.py score 0.145 and more, unrelated questions
#: such as "what is the meaning of life" 0.13 at most). Measured figures: docs/knowledge-base.md.
MIN_SCORE = 0.14
SPELLING_CUTOFF = 0.8
#: Shorter words are never corrected ("sick" is not a slip of "stick").
MIN_CORRECTED = 5
#: Longest question searched (characters); the rest is ignored.
MAX_QUERY = 500
SNIPPET_CHARS = 220

#: One spelling for each thing subscribers and articles name in several ways. Keys are single
#: words as they appear after lower-casing; a value may be several words.
SYNONYMS: dict[str, str] = {
    # Wi-Fi ("wi-fi" and "wi fi" are joined before this map applies)
    "wireless": "wifi",
    "wlan": "wifi",
    "ssid": "wifi name",
    "netwrok": "network",
    # passwords
    "passcode": "password",
    "passphrase": "password",
    "passwd": "password",
    "pwd": "password",
    "pw": "password",
    "key": "password",
    "pin": "password",
    # the box at home
    "gateway": "router",
    "modem": "router",
    "hub": "router",
    "box": "router",
    "routers": "router",
    "gateways": "router",
    "modems": "router",
    "cpe": "router",
    "update": "change",
    "modify": "change",
    "edit": "change",
    "stronger": "change password",
    "pass": "password",
    "rename": "change name",
    "renaming": "change name",
    # restarting
    "reboot": "restart",
    "rebooting": "restart",
    "reset": "restart",
    "restarting": "restart",
    "reboots": "restart",
    # mesh
    "extender": "mesh",
    "extenders": "mesh",
    "repeater": "mesh",
    "booster": "mesh",
    "satellite": "mesh",
    "satellites": "mesh",
    "pod": "mesh",
    "pods": "mesh",
    # speed
    "sluggish": "slow",
    "laggy": "slow",
    "lag": "slow",
    "lagging": "slow",
    "buffering": "slow",
    "bandwidth": "speed",
    "mbps": "speed",
    "speedtest": "speed test",
    # outages
    "down": "outage",
    "outages": "outage",
    "offline": "outage",
    "disconnected": "outage",
    # fibre box
    "ont": "fibre terminal",
    "onu": "fibre terminal",
    "fiber": "fibre",
    "light": "lights",
    "led": "lights",
    "leds": "lights",
    "blinking": "flashing",
    "flashes": "flashing",
    "blink": "flashing",
    # family
    "kids": "children",
    "kid": "children",
    "child": "children",
    "parental": "parental controls",
    # money
    "invoice": "bill",
    "invoices": "bill",
    "charge": "bill",
    "charges": "bill",
    "charged": "bill",
    "billing": "bill",
    "payment": "bill",
    "statement": "bill",
    "debit": "bill",
    "price": "bill",
    # moving
    "house": "home",
    "move": "moving",
    "moved": "moving",
    "relocate": "moving",
    "relocating": "moving",
    "relocation": "moving",
    # devices
    "tv": "television",
    "telly": "television",
    "tvs": "television",
    "printers": "printer",
    "ghz": "ghz band",
    "2.4ghz": "2.4 ghz band",
    "5ghz": "5 ghz band",
    "2.4g": "2.4 ghz band",
    "5g": "5 ghz band",
}

#: Words that carry no meaning for a how-to search (kept short on purpose: "no", "not" and
#: "why" stay, as "no internet" is not "internet").
_STOP = """a an and are as at be been but by can could do does doing for from have has how i i'm
    im if in into is it its me my of on or our please so that the their them then there these
    this to us was we were what wat whats what's when where which who will with would you your
    yours u ur pls plz hi hello hey thanks thank get gets getting got need want wanna help
    using used just also very really still"""
STOP_WORDS = frozenset(_STOP.split())

#: Phrases read as one word before the word map applies.
PHRASES: dict[str, str] = {
    r"\bwi[\s-]?fi\b": " wifi ",
    (
        r"\b(?:turn|switch)(?:ing)?\s+(?:it\s+)?"
        r"(?:off\s+and\s+(?:back\s+)?on|on\s+and\s+off)(?:\s+again)?\b"
    ): " restart ",
    r"\boff\s+and\s+on(?:\s+again)?\b": " restart ",
    r"\bpower[\s-]?cycl\w*\b": " restart ",
    r"\bunplug\w*\b": " restart ",
    r"\bscreen\s*time\b": " parental controls ",
    r"\bnear\s+me\b|\bin\s+my\s+(?:area|street|town|postcode)\b": " area ",
    r"\bnew\s+(?:house|home|flat|address|place)\b": " moving ",
}
#: Words for the vectoriser: "2.4" stays one word.
WORD_TOKEN = r"(?u)\b[\w.]+\b"  # noqa: S105 (a pattern, not a password)
_PHRASES = [(re.compile(k), v) for k, v in PHRASES.items()]
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def _raw(text: str) -> list[str]:
    text = text.lower().replace("\u2019", "'").replace("'", "")
    for pattern, repl in _PHRASES:
        text = pattern.sub(repl, text)
    return _TOKEN.findall(text)


def stem(word: str) -> str:
    """A light English suffix stripper, the same for articles and questions: "changed",
    "changes", "changing" and "change" all read "chang"."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]
    elif word.endswith("ed") and not word.endswith("eed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of
    two neighbouring letters ("chnage" is one from "change", two from "charge")."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _meaning(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        out.extend(SYNONYMS.get(word, word).split())
    return [stem(w) for w in out if w not in STOP_WORDS]


def normalise(text: str) -> str:
    """The words of ``text`` as the index reads them: phrases and synonyms mapped, stop words
    dropped, suffixes stripped."""
    return " ".join(_meaning(_raw(text)))


def plain_text(markdown: str) -> str:
    """Markdown without its markup, for snippets: links keep their text, code its content."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^\s{0,3}(#{1,6}\s*|>\s?|[-*+]\s+|\d+[.)]\s+)", "", text, flags=re.M)
    text = re.sub(r"[*_`|]+", "", text)
    return text


@dataclass(frozen=True)
class Document:
    id: int
    published: bool
    body: str


def _vectorisers() -> tuple[Any, Any]:
    # Imported here, as in intents.py: scikit-learn takes about 1.5 s to import, and every
    # `homeport` command and web process imports this module.
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

    words = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_TOKEN
    )
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    return words, chars


class Field:
    """One view of the articles (their headline, or all of their text), vectorised twice."""

    def __init__(self, texts: list[str]) -> None:
        self.words, self.chars = _vectorisers()
        self.word_matrix = self.words.fit_transform(texts)
        self.char_matrix = self.chars.fit_transform(texts)

    def similarity(self, text: str) -> Any:
        # TF-IDF rows are L2-normalised: the dot product is the cosine similarity.
        w = (self.word_matrix @ self.words.transform([text]).T).toarray().ravel()
        c = (self.char_matrix @ self.chars.transform([text]).T).toarray().ravel()
        return WORD_WEIGHT * w + CHAR_WEIGHT * c


class Index:
    """Fitted vectorisers and the articles' vectors. Immutable once built."""

    def __init__(self, documents: list[Document], fields: list[tuple[str, str, str]]) -> None:
        self.documents = documents
        raw = {w for title, tags, body in fields for w in _raw(f"{title} {tags} {body}")}
        raw |= set(SYNONYMS)
        self.vocabulary: list[str] = sorted(w for w in raw if w.isalpha() and len(w) > 2)
        self._known = frozenset(raw)
        self.headline: Field | None = None
        self.full: Field | None = None
        if not documents:
            return
        heads = [normalise(f"{title} {tags}") for title, tags, _ in fields]
        self.headline = Field(heads)
        self.full = Field(
            [
                " ".join([h] * TITLE_WEIGHT + [normalise(body)])
                for h, (_, _, body) in zip(heads, fields, strict=True)
            ]
        )

    def correct(self, words: list[str]) -> list[str]:
        """Each word that neither the articles nor the synonym map use, replaced by the
        closest one they do use (when one is close enough)."""
        out = []
        for word in words:
            if word in self._known or len(word) < MIN_CORRECTED or not word.isalpha():
                out.append(word)
                continue
            close = difflib.get_close_matches(word, self.vocabulary, n=5, cutoff=SPELLING_CUTOFF)
            # The fewest typing slips (a swap of two letters is one), then difflib's order;
            # more than one slip in a short word, or two in a long one, or another first
            # letter, is another word ("night" is not "light").
            slips = [(edits(word, c), c) for c in close if c[0] == word[0]]
            allowed = 1 if len(word) <= 6 else 2
            fits = [pair for pair in slips if pair[0] <= allowed]
            out.append(min(fits)[1] if fits else word)
        return out

    def scores(self, query: str) -> tuple[list[str], Any]:
        """The question's words (corrected, normalised) and its score against every article,
        in :attr:`documents` order."""
        words = _meaning(self.correct(_raw(query[:MAX_QUERY])))
        if self.headline is None or self.full is None or not words:
            return words, np.zeros(len(self.documents))
        text = " ".join(words)
        return words, (
            HEADLINE_WEIGHT * self.headline.similarity(text)
            + (1 - HEADLINE_WEIGHT) * self.full.similarity(text)
        )


_cache: dict[str, tuple[tuple[Any, ...], Index]] = {}
_lock = threading.Lock()


def _stamp(session: Session) -> tuple[int, datetime | None, int | None]:
    count, latest, top = session.execute(
        select(func.count(Article.id), func.max(Article.updated_at), func.max(Article.id))
    ).one()
    return int(count), latest, top


def index_for(session: Session) -> Index:
    """The fitted index of every article (drafts too: callers filter), refitted when an
    article was added, changed or deleted since the last one was built."""
    where = session.get_bind().engine.url.render_as_string(hide_password=True)
    stamp = _stamp(session)
    with _lock:
        found = _cache.get(where)
        if found is not None and found[0] == stamp:
            return found[1]
    rows = session.execute(
        select(Article.id, Article.status, Article.title, Article.tags, Article.body).order_by(
            Article.id
        )
    ).all()
    index = Index(
        [Document(r.id, r.status == "published", r.body) for r in rows],
        [(r.title, r.tags, r.body) for r in rows],
    )
    with _lock:
        _cache[where] = (stamp, index)
    return index


def snippet(body: str, words: list[str]) -> str:
    """The paragraph or list item of ``body`` that shares most words with the question,
    shortened to about :data:`SNIPPET_CHARS` characters."""
    wanted = set(words) - STOP_WORDS
    best, best_score = "", -1.0
    for n, chunk in enumerate(re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)", body)):
        text = " ".join(plain_text(chunk).split())
        if not text or chunk.lstrip().startswith("#"):
            continue
        shared = len(wanted & set(normalise(text).split()))
        score = shared - n * 0.01  # the earlier of two equal paragraphs
        if score > best_score:
            best, best_score = text, score
    if len(best) <= SNIPPET_CHARS:
        return best
    cut = best[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
