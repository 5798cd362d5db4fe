"""The chatbot's intent classifier: what a subscriber's chat message is about.

Ten intents (:data:`INTENTS`, meanings in :data:`MEANINGS`). The model is a scikit-learn
pipeline that runs offline on the CPU: TF-IDF over word 1–2-grams and over ``char_wb``
2–5-grams (so misspelt words still share most of their character n-grams with the right ones)
feeding a multinomial logistic regression, whose probability for the top intent is the
confidence.

- It is trained on first use from ``data/intents.csv`` (columns ``text,intent``, shipped in the
  package) and cached for the process (:func:`default_classifier`); training takes well under
  a second. Nothing is downloaded.
- :func:`classify` returns the top intent, its confidence and the runners-up. It does **not**
  turn a low confidence into ``other``: the caller decides, e.g. with
  :meth:`Prediction.intent_at` and :data:`SUGGESTED_THRESHOLD` (ask the subscriber to
  rephrase, or offer the menu, instead of acting on a guess).
- Empty or whitespace-only text and text longer than :data:`MAX_TEXT_CHARS` raise
  :class:`ValueError`; the CLI prints ``other`` with confidence 0 and the reason instead.
- :func:`evaluate` scores a classifier on labelled rows (accuracy, precision and recall per
  intent, confusion); :func:`cross_validate` gives the stratified k-fold figure on the training
  rows; :func:`bitext_report` scores against the Bitext customer-support sample through
  :data:`BITEXT_MAPPING` when that file is at hand (it is never shipped).

``data/intents_heldout.csv`` is a separate, deliberately different set (long, rambling,
misspelt messages) that the model is never trained on: it gives the honest accuracy figure.
"""

from __future__ import annotations

import csv
import random
import re
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INTENTS: tuple[str, ...] = (
    "no_connection",
    "slow_internet",
    "wifi_coverage",
    "device_cannot_connect",
    "outage_status",
    "billing",
    "moving",
    "cancel_service",
    "human_agent",
    "other",
)

MEANINGS: Mapping[str, str] = {
    "no_connection": "no internet at all at home, or the connection keeps dropping out",
    "slow_internet": "connected but slow: low speed, buffering, lag, high ping, poor calls",
    "wifi_coverage": "Wi-Fi weak or missing in parts of the home; extenders, mesh",
    "device_cannot_connect": "one device (console, TV, printer, phone…) cannot join or get"
    " online while the rest can; Wi-Fi password and network-name trouble",
    "outage_status": "is there an outage or works in my area, when will service be back",
    "billing": "bills, charges, payments, direct debit, invoices, refunds, price rises",
    "moving": "moving home: take the service to a new address",
    "cancel_service": "cancel, end or not renew the contract, switch provider, exit fees",
    "human_agent": "wants a person: an agent, a call back, the phone number",
    "other": "everything else: greetings, thanks, small talk, sales, accounts and sign-in",
}

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAINING_PATH = DATA_DIR / "intents.csv"
HELDOUT_PATH = DATA_DIR / "intents_heldout.csv"

MAX_TEXT_CHARS = 2000
"""Longer input is refused: a chat message, not a document."""

SUGGESTED_THRESHOLD = 0.5
"""Below this confidence a caller should not act on the intent (docs/chatbot.md gives the
share of held-out messages above it and the accuracy there)."""

ALTERNATIVES = 2
"""Runners-up returned with each prediction."""

# Bitext customer-support sample (generic e-commerce, ../shared/data/intents): its intents
# mapped onto ours; None leaves the rows out because they do not map cleanly onto an ISP
# intent (an order cancellation is not a service cancellation, a shipping address is not a
# home move, a purchase refund may or may not be a billing matter, a complaint is about
# anything).
BITEXT_MAPPING: Mapping[str, str | None] = {
    "contact_human_agent": "human_agent",
    "contact_customer_service": "human_agent",
    "check_invoice": "billing",
    "get_invoice": "billing",
    "payment_issue": "billing",
    "check_payment_methods": "billing",
    "delete_account": "cancel_service",
    "check_cancellation_fee": "cancel_service",
    "create_account": "other",
    "edit_account": "other",
    "switch_account": "other",
    "recover_password": "other",
    "registration_problems": "other",
    "newsletter_subscription": "other",
    "review": "other",
    "place_order": "other",
    "change_order": "other",
    "track_order": "other",
    "delivery_options": "other",
    "delivery_period": "other",
    "cancel_order": None,
    "change_shipping_address": None,
    "set_up_shipping_address": None,
    "get_refund": None,
    "track_refund": None,
    "check_refund_policy": None,
    "complaint": None,
}


class IntentDataError(ValueError):
    """A training or evaluation file that cannot be used, with the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


@dataclass(frozen=True)
class Prediction:
    intent: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...] = ()

    def intent_at(self, threshold: float = SUGGESTED_THRESHOLD) -> str:
        """The intent, or ``other`` when the confidence is below ``threshold``."""
        return self.intent if self.confidence >= threshold else "other"


_APOSTROPHES = re.compile(r"['’`´]")
_REPEATS = re.compile(r"(\w)\1{2,}")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_WORD = r"(?u)\b\w+\b"  # one-letter words count too: "u", "r", "y"


def check_text(text: str) -> str:
    """``text`` stripped, or ValueError when it is empty or longer than MAX_TEXT_CHARS."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty message: nothing to classify")
    if len(stripped) > MAX_TEXT_CHARS:
        raise ValueError(f"message too long: {len(stripped)} characters, at most {MAX_TEXT_CHARS}")
    return stripped


def normalize(text: str) -> str:
    """What the model sees: lower case, accents and apostrophes dropped ("don't" = "dont"),
    letters repeated for emphasis cut to two ("sooooo" = "soo"), every number written 0
    ("ps5" = "ps4", "500mb" = "50mb"), whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = _APOSTROPHES.sub("", plain)
    plain = _REPEATS.sub(r"\1\1", plain)
    plain = _DIGITS.sub("0", plain)
    return _SPACES.sub(" ", plain).strip()


def _pipeline() -> Any:
    # Imported here so that importing this module (the CLI, the web app) stays fast.
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.pipeline import FeatureUnion, Pipeline  # type: ignore[import-untyped]

    words = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), token_pattern=_WORD, sublinear_tf=True
    )
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    return Pipeline(
        [
            ("features", FeatureUnion([("words", words), ("chars", chars)])),
            (
                "model",
                LogisticRegression(
                    C=20.0, solver="newton-cg", max_iter=1000, class_weight="balanced"
                ),
            ),
        ]
    )


class Classifier:
    """A trained model. Build with :func:`train`; thread-safe for predictions."""

    def __init__(self, pipeline: Any, examples: int, training_s: float) -> None:
        self._pipeline = pipeline
        self._labels: tuple[str, ...] = tuple(str(c) for c in pipeline.classes_)
        self.examples = examples
        self.training_s = training_s

    @property
    def intents(self) -> tuple[str, ...]:
        return self._labels

    def classify(self, text: str) -> Prediction:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text; ValueError (naming the position) for a bad one."""
        cleaned = []
        for i, text in enumerate(texts):
            try:
                cleaned.append(normalize(check_text(text)))
            except ValueError as exc:
                if len(texts) == 1:
                    raise
                raise ValueError(f"text {i + 1}: {exc}") from None
        if not cleaned:
            return []
        out = []
        for row in self._pipeline.predict_proba(cleaned):
            ranked = sorted(zip(self._labels, row, strict=True), key=lambda p: -p[1])
            (intent, p), rest = ranked[0], ranked[1 : 1 + ALTERNATIVES]
            out.append(
                Prediction(str(intent), float(p), tuple((str(i), float(q)) for i, q in rest))
            )
        return out


def _as_examples(rows: Iterable[Example | tuple[str, str]]) -> list[Example]:
    out = []
    for row in rows:
        ex = row if isinstance(row, Example) else Example(*row)
        if ex.intent not in INTENTS:
            raise IntentDataError(f"unknown intent {ex.intent!r} (known: {', '.join(INTENTS)})")
        out.append(Example(normalize(check_text(ex.text)), ex.intent))
    return out


def train(rows: Iterable[Example | tuple[str, str]]) -> Classifier:
    """A classifier trained on ``rows`` (every intent needs at least two examples)."""
    examples = _as_examples(rows)
    counts = Counter(e.intent for e in examples)
    thin = sorted(i for i, n in counts.items() if n < 2)
    if len(counts) < 2 or thin:
        raise IntentDataError(
            "training needs at least two intents with two examples each"
            + (f" (too few: {', '.join(thin)})" if thin else "")
        )
    started = time.perf_counter()
    pipeline = _pipeline()
    pipeline.fit([e.text for e in examples], [e.intent for e in examples])
    return Classifier(pipeline, len(examples), time.perf_counter() - started)


def _csv_rows(
    path: Path, columns: tuple[str, ...], missing: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """``(file:line, row)`` of a UTF-8 CSV with a header naming ``columns``; an unreadable file
    or a missing column is :class:`IntentDataError` (``missing`` says what was expected)."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise IntentDataError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not set(columns) <= set(reader.fieldnames):
            raise IntentDataError(f"{path}: {missing}")
        for row in reader:
            yield f"{path}:{reader.line_num}", row


def load_examples(path: Path) -> list[Example]:
    """Rows of a ``text,intent`` CSV (UTF-8, header line); errors name the file and line."""
    out = []
    for where, row in _csv_rows(
        path, ("text", "intent"), "needs a header line with columns text,intent"
    ):
        text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
        if intent not in INTENTS:
            raise IntentDataError(f"{where}: unknown intent {intent!r}")
        try:
            check_text(text)
        except ValueError as exc:
            raise IntentDataError(f"{where}: {exc}") from None
        out.append(Example(text, intent))
    if not out:
        raise IntentDataError(f"{path}: no rows")
    return out


_lock = threading.Lock()
_default: Classifier | None = None


def default_classifier() -> Classifier:
    """The model trained on the shipped ``data/intents.csv``, trained once per process."""
    global _default
    with _lock:
        if _default is None:
            _default = train(load_examples(TRAINING_PATH))
        return _default


def classify(text: str) -> Prediction:
    return default_classifier().classify(text)


def classify_many(texts: Sequence[str]) -> list[Prediction]:
    return default_classifier().classify_many(texts)


@dataclass(frozen=True)
class IntentScore:
    support: int
    predicted: int
    precision: float | None  # None when the intent was never predicted
    recall: float | None  # None when no row has the intent


@dataclass(frozen=True)
class Mistake:
    text: str
    expected: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class Evaluation:
    rows: int
    accuracy: float
    per_intent: dict[str, IntentScore]
    confusion: dict[str, dict[str, int]]  # expected -> predicted -> rows (non-zero only)
    threshold: float
    answered: float  # share of rows whose confidence reaches the threshold
    answered_accuracy: float | None  # accuracy among those rows
    mistakes: list[Mistake] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accuracy": round(self.accuracy, 4),
            "threshold": self.threshold,
            "answered": round(self.answered, 4),
            "answered_accuracy": _round(self.answered_accuracy),
            "per_intent": {
                name: {
                    "support": s.support,
                    "predicted": s.predicted,
                    "precision": _round(s.precision),
                    "recall": _round(s.recall),
                }
                for name, s in self.per_intent.items()
            },
            "confusion": self.confusion,
            "mistakes": [
                {
                    "text": m.text,
                    "expected": m.expected,
                    "predicted": m.predicted,
                    "confidence": round(m.confidence, 3),
                }
                for m in self.mistakes
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def evaluate(
    rows: Iterable[Example | tuple[str, str]],
    classifier: Classifier | None = None,
    *,
    threshold: float = SUGGESTED_THRESHOLD,
) -> Evaluation:
    """Score ``classifier`` (default: the shipped model) on labelled rows."""
    examples = [row if isinstance(row, Example) else Example(*row) for row in rows]
    if not examples:
        raise IntentDataError("nothing to evaluate: no rows")
    model = classifier or default_classifier()
    return score(examples, model.classify_many([e.text for e in examples]), threshold)


def score(
    examples: Sequence[Example],
    predictions: Sequence[Prediction],
    threshold: float = SUGGESTED_THRESHOLD,
) -> Evaluation:
    """Accuracy, precision and recall per intent and confusion of predictions against the
    labelled examples, in the same order."""
    if len(examples) != len(predictions) or not examples:
        raise ValueError("score needs one prediction per example, and at least one")
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    mistakes = []
    confident = confident_right = 0
    for ex, p in zip(examples, predictions, strict=True):
        confusion[ex.intent][p.intent] += 1
        if p.intent != ex.intent:
            mistakes.append(Mistake(ex.text, ex.intent, p.intent, p.confidence))
        if p.confidence >= threshold:
            confident += 1
            confident_right += p.intent == ex.intent
    predicted = Counter(p.intent for p in predictions)
    per_intent = {}
    for name in INTENTS:
        row = confusion.get(name, {})
        support, hits = sum(row.values()), row.get(name, 0)
        per_intent[name] = IntentScore(
            support,
            predicted[name],
            hits / predicted[name] if predicted[name] else None,
            hits / support if support else None,
        )
    n = len(examples)
    return Evaluation(
        rows=n,
        accuracy=(n - len(mistakes)) / n,
        per_intent=per_intent,
        confusion={e: dict(sorted(p.items())) for e, p in sorted(confusion.items())},
        threshold=threshold,
        answered=confident / n,
        answered_accuracy=confident_right / confident if confident else None,
        mistakes=mistakes,
    )


@dataclass(frozen=True)
class CrossValidation:
    folds: int
    fold_accuracies: tuple[float, ...]
    evaluation: Evaluation  # every row, predicted by the model trained without its fold

    @property
    def accuracy(self) -> float:
        return self.evaluation.accuracy


def cross_validate(
    rows: Iterable[Example | tuple[str, str]],
    folds: int = 5,
    *,
    seed: int = 0,
    threshold: float = SUGGESTED_THRESHOLD,
) -> CrossValidation:
    """Stratified ``folds``-fold cross-validation (each fold keeps the intents' proportions;
    the assignment is shuffled with ``seed``)."""
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    examples = [row if isinstance(row, Example) else Example(*row) for row in rows]
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_intent[ex.intent].append(ex)
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    assigned: list[list[Example]] = [[] for _ in range(folds)]
    offset = 0
    for name in sorted(by_intent):
        group = by_intent[name][:]
        rng.shuffle(group)
        for i, ex in enumerate(group):
            assigned[(offset + i) % folds].append(ex)
        offset += len(group)
    seen: list[Example] = []
    predicted: list[Prediction] = []
    accuracies = []
    for k in range(folds):
        model = train(ex for j in range(folds) if j != k for ex in assigned[j])
        fold = model.classify_many([ex.text for ex in assigned[k]])
        accuracies.append(score(assigned[k], fold, threshold).accuracy)
        seen += assigned[k]
        predicted += fold
    return CrossValidation(folds, tuple(accuracies), score(seen, predicted, threshold))


def load_bitext(path: Path) -> list[tuple[Example, str]]:
    """The Bitext sample's rows that :data:`BITEXT_MAPPING` maps, as (example, Bitext intent).
    Its CSV has multi-line quoted fields; only ``instruction`` and ``intent`` are read."""
    out = []
    needs = ("instruction", "intent")
    for _where, row in _csv_rows(
        path, needs, "not the Bitext sample (no instruction,intent header)"
    ):
        source, text = row["intent"], (row["instruction"] or "").strip()
        target = BITEXT_MAPPING.get(source)
        if target is not None and text and len(text) <= MAX_TEXT_CHARS:
            out.append((Example(text, target), source))
    if not out:
        raise IntentDataError(f"{path}: no rows with a mapped intent")
    return out


@dataclass(frozen=True)
class BitextReport:
    mapped_rows: int
    by_intent: dict[str, int]
    shipped: Evaluation  # the shipped model on every mapped row (it never saw Bitext)
    augmented: Evaluation  # shipped data + half the mapped rows, scored on the other half
    augmented_heldout: Evaluation | None  # that augmented model on the ISP held-out rows


def bitext_report(
    path: Path,
    training: Sequence[Example],
    heldout: Sequence[Example] | None = None,
    *,
    shipped: Classifier | None = None,
    seed: int = 0,
    threshold: float = SUGGESTED_THRESHOLD,
) -> BitextReport:
    """How the model trained on ``training`` (or ``shipped``, already trained on it) does on
    Bitext's mapped rows, and whether adding half of them to ``training`` helps (scored on the
    other half, split per Bitext intent, and on ``heldout``)."""
    rows = load_bitext(path)
    by_source: dict[str, list[Example]] = defaultdict(list)
    for ex, source in rows:
        by_source[source].append(ex)
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    train_half: list[Example] = []
    test_half: list[Example] = []
    for source in sorted(by_source):
        group = by_source[source][:]
        rng.shuffle(group)
        cut = len(group) // 2
        train_half += group[:cut]
        test_half += group[cut:]
    augmented = train([*training, *train_half])
    return BitextReport(
        mapped_rows=len(rows),
        by_intent=dict(sorted(Counter(ex.intent for ex, _ in rows).items())),
        shipped=evaluate([ex for ex, _ in rows], shipped or train(training), threshold=threshold),
        augmented=evaluate(test_half, augmented, threshold=threshold),
        augmented_heldout=(
            evaluate(heldout, augmented, threshold=threshold) if heldout is not None else None
        ),
    )
