"""The chatbot's intent classifier: the shipped data, the model's accuracy on messages it never
saw, misspellings, bad input, and the Bitext figures when that sample is at hand."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from homeport.selfservice import intents
from homeport.selfservice.intents import Example, IntentDataError, Prediction

BITEXT = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "intents"
    / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
)


def write_csv(
    path: Path, rows: list[tuple[str, str]], header: tuple[str, ...] = ("text", "intent")
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_the_ten_intents_and_their_meanings() -> None:
    assert intents.INTENTS == (
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
    assert set(intents.MEANINGS) == set(intents.INTENTS)


def test_shipped_data_covers_every_intent_and_never_contains_a_held_out_message() -> None:
    training = intents.load_examples(intents.TRAINING_PATH)
    heldout = intents.load_examples(intents.HELDOUT_PATH)
    assert len(training) >= 500
    assert 150 <= len(heldout) <= 250
    for rows in (training, heldout):
        counts = {name: sum(e.intent == name for e in rows) for name in intents.INTENTS}
        assert min(counts.values()) >= (50 if rows is training else 15), counts
    trained = {intents.normalize(e.text) for e in training}
    assert not [e.text for e in heldout if intents.normalize(e.text) in trained]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("my internet has been off since this morning", "no_connection"),
        ("the connection keeps dropping every hour", "no_connection"),
        ("speeds are really slow tonight, netflix keeps buffering", "slow_internet"),
        ("wifi is weak in the upstairs bedroom", "wifi_coverage"),
        ("my xbox cant connect to the wifi but my phone can", "device_cannot_connect"),
        ("are other people in my street having an outage?", "outage_status"),
        ("why was I charged twice this month", "billing"),
        ("we are moving to a new house in May", "moving"),
        ("I want to cancel my contract", "cancel_service"),
        ("can I speak to a real person", "human_agent"),
        ("thanks a lot, bye", "other"),
        ("what's your name", "other"),
    ],
)
def test_known_utterances(text: str, intent: str) -> None:
    assert intents.classify(text).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("my interent is compleatly donw", "no_connection"),
        ("intrenet sooooo slowww", "slow_internet"),
        ("wiifi dosent reech the bedrom", "wifi_coverage"),
        ("my ps5 wont connnect to the wfii", "device_cannot_connect"),
        ("is ther an outtage in my aera", "outage_status"),
        ("y is my bil so hihg", "billing"),
        ("im movign hosue next munth", "moving"),
        ("i wnat to cancle my contrct", "cancel_service"),
        ("lemme tlk to a humn", "human_agent"),
    ],
)
def test_misspellings(text: str, intent: str) -> None:
    assert intents.classify(text).intent == intent


def test_held_out_accuracy_stays_above_ninety_percent() -> None:
    result = intents.evaluate(intents.load_examples(intents.HELDOUT_PATH))
    assert result.accuracy >= 0.90, [(m.expected, m.predicted, m.text) for m in result.mistakes]
    assert all(s.recall is not None and s.recall >= 0.7 for s in result.per_intent.values())
    assert result.answered_accuracy is not None and result.answered_accuracy >= result.accuracy


def test_cross_validation_on_the_training_data() -> None:
    cv = intents.cross_validate(intents.load_examples(intents.TRAINING_PATH), folds=5)
    assert cv.folds == 5 and len(cv.fold_accuracies) == 5
    assert cv.evaluation.rows == len(intents.load_examples(intents.TRAINING_PATH))
    assert cv.accuracy >= 0.85


def test_prediction_confidence_alternatives_and_threshold() -> None:
    p = intents.classify("why is my bill so high")
    assert p.intent == "billing" and 0.5 < p.confidence <= 1.0
    assert len(p.alternatives) == intents.ALTERNATIVES
    assert all(q <= p.confidence for _, q in p.alternatives)
    assert {name for name, _ in p.alternatives} <= set(intents.INTENTS) - {"billing"}
    unsure = Prediction("billing", 0.3, ())
    assert unsure.intent_at(0.5) == "other" and unsure.intent_at(0.2) == "billing"


def test_training_is_fast_and_cached_per_process() -> None:
    started = time.perf_counter()
    model = intents.train(intents.load_examples(intents.TRAINING_PATH))
    assert time.perf_counter() - started < 5
    assert model.training_s < 5 and model.examples >= 500
    assert set(model.intents) == set(intents.INTENTS)
    assert intents.default_classifier() is intents.default_classifier()


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="empty message"):
        intents.classify(text)


def test_overlong_text_is_refused_and_a_batch_names_the_bad_one() -> None:
    with pytest.raises(ValueError, match="too long: 2001 characters"):
        intents.classify("a" * (intents.MAX_TEXT_CHARS + 1))
    with pytest.raises(ValueError, match="text 2: empty message"):
        intents.classify_many(["no internet", " ", "thanks"])
    assert intents.classify_many([]) == []
    both = intents.classify_many(["no internet", "thanks"])
    assert [p.intent for p in both] == ["no_connection", "other"]


def test_normalize() -> None:
    assert intents.normalize("  Don’t  SOOOO slow, PS5 500Mb ") == "dont soo slow, ps0 0mb"
    assert intents.normalize("Café") == "cafe"


def test_train_refuses_unknown_or_too_few_intents() -> None:
    with pytest.raises(IntentDataError, match="unknown intent 'pizza'"):
        intents.train([("no internet", "pizza")])
    with pytest.raises(IntentDataError, match="too few: billing"):
        intents.train(
            [("no internet", "no_connection"), ("down", "no_connection"), ("bill", "billing")]
        )
    small = intents.train(
        [
            ("no internet", "no_connection"),
            ("internet down", "no_connection"),
            ("my bill", "billing"),
            ("pay the bill", "billing"),
        ]
    )
    assert small.classify("the bill is high").intent == "billing"


def test_load_examples_names_the_bad_line(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [("no internet", "no_connection")])
    assert intents.load_examples(good) == [Example("no internet", "no_connection")]
    unknown = write_csv(tmp_path / "u.csv", [("no internet", "no_connection"), ("hi", "greeting")])
    with pytest.raises(IntentDataError, match=r"u\.csv:3: unknown intent 'greeting'"):
        intents.load_examples(unknown)
    blank = write_csv(tmp_path / "b.csv", [("  ", "other")])
    with pytest.raises(IntentDataError, match=r"b\.csv:2: empty message"):
        intents.load_examples(blank)
    header = write_csv(tmp_path / "h.csv", [("x", "other")], header=("message", "label"))
    with pytest.raises(IntentDataError, match="columns text,intent"):
        intents.load_examples(header)
    with pytest.raises(IntentDataError, match="cannot read"):
        intents.load_examples(tmp_path / "missing.csv")
    empty = write_csv(tmp_path / "e.csv", [])
    with pytest.raises(IntentDataError, match="no rows"):
        intents.load_examples(empty)


def test_score_counts_precision_recall_and_confusion() -> None:
    rows = [
        Example("a", "billing"),
        Example("b", "billing"),
        Example("c", "moving"),
        Example("d", "other"),
    ]
    predictions = [
        Prediction("billing", 0.9),
        Prediction("moving", 0.4),
        Prediction("moving", 0.8),
        Prediction("other", 0.6),
    ]
    result = intents.score(rows, predictions, threshold=0.5)
    assert result.accuracy == 0.75 and result.rows == 4
    assert result.per_intent["billing"].precision == 1.0
    assert result.per_intent["billing"].recall == 0.5
    assert result.per_intent["moving"].precision == 0.5
    assert result.per_intent["moving"].recall == 1.0
    assert result.per_intent["cancel_service"].precision is None
    assert result.per_intent["cancel_service"].recall is None
    assert result.confusion["billing"] == {"billing": 1, "moving": 1}
    assert result.answered == 0.75 and result.answered_accuracy == 1.0
    assert [(m.text, m.predicted) for m in result.mistakes] == [("b", "moving")]
    with pytest.raises(ValueError, match="one prediction per example"):
        intents.score(rows, predictions[:2])


def test_bitext_rows_are_mapped_and_bad_files_refused(tmp_path: Path) -> None:
    sample = write_csv(
        tmp_path / "bitext.csv",
        [
            ("I want to talk to a human agent", "contact_human_agent", "multi\nline"),
            ("where is my invoice", "get_invoice", ""),
            ("cancel order 123", "cancel_order", ""),
            ("track order 123", "track_order", ""),
        ],
        header=("instruction", "intent", "response"),
    )
    rows = intents.load_bitext(sample)
    assert [(ex.intent, source) for ex, source in rows] == [
        ("human_agent", "contact_human_agent"),
        ("billing", "get_invoice"),
        ("other", "track_order"),
    ]
    with pytest.raises(IntentDataError, match="not the Bitext sample"):
        intents.load_bitext(write_csv(tmp_path / "x.csv", [("a", "billing")]))


@pytest.mark.skipif(not BITEXT.is_file(), reason="the Bitext sample is not beside the repository")
def test_bitext_evaluation_runs_on_the_real_sample() -> None:
    rows = intents.load_bitext(BITEXT)
    sources = {source for _, source in rows}
    assert sources <= set(intents.BITEXT_MAPPING)
    assert len(rows) > 3000
    training = intents.load_examples(intents.TRAINING_PATH)
    heldout = intents.load_examples(intents.HELDOUT_PATH)
    report = intents.bitext_report(BITEXT, training, heldout, shipped=intents.default_classifier())
    assert report.mapped_rows == len(rows)
    assert set(report.by_intent) == {"billing", "cancel_service", "human_agent", "other"}
    # The shipped model never saw Bitext: it still recognises the intents that map onto ours.
    for name in ("billing", "human_agent"):
        recall = report.shipped.per_intent[name].recall
        assert recall is not None and recall >= 0.8
    assert report.augmented.accuracy >= 0.95
    assert report.augmented_heldout is not None and report.augmented_heldout.accuracy >= 0.90
