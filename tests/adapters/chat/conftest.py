"""The live-chat tests talk to agents directly: the chatbot, which answers first by default,
is off here (tests/selfservice/test_bot_chat.py covers the bot over the same socket)."""

from __future__ import annotations

import pytest

from homeport.core.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"chatbot": False})
