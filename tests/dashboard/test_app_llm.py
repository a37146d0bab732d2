"""The assistant box in LLM mode under AppTest: a real chat-completions server on 127.0.0.1 with scripted replies.

LLM_BASE_URL and LLM_MODEL point the page's Settings at the server; nothing else is faked. The streamed text,
the tool-call expander and the offline fallback notice are read from the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.adapters.test_llm_client import BASE_PATH, ChatServer, llm_reply
from tests.dashboard.test_app import APP


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatServer]:
    with ChatServer() as running:
        monkeypatch.setenv("RISKDASH_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("LLM_BASE_URL", running.url + BASE_PATH)
        monkeypatch.setenv("LLM_MODEL", "gpt-4o-mini")
        monkeypatch.setenv("LLM_TIMEOUT_S", "10")
        monkeypatch.delenv("LLM_API_KEY", raising=False)
        st.cache_resource.clear()  # the page's Settings are cached per process
        yield running
    st.cache_resource.clear()


def _ask(question: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.chat_input(key="chat").set_value(question).run()
    assert not at.exception
    return at


def _answer(at: AppTest) -> str:
    return "".join(m.value for m in at.chat_message[1].markdown)


def test_streamed_answer_is_shown_and_no_tool_was_called(server: ChatServer) -> None:
    server.reply(llm_reply("stream_answer.sse"))
    at = _ask("What is my theta?")
    assert [message.name for message in at.chat_message] == ["user", "assistant"]
    assert _answer(at) == "Theta is in the book_totals result."
    assert [e.label for e in at.expander if e.label.startswith("Tool calls")] == ["Tool calls (0)"]
    assert not any("Offline analyst" in w.value for w in at.warning)
    # The request carried the page's tools and the question.
    body = server.bodies[0]
    assert body["messages"][-1] == {"role": "user", "content": "What is my theta?"}
    assert {"run_stress_test", "what_if_trade"} <= {tool["function"]["name"] for tool in body["tools"]}


def test_tool_calls_are_listed_in_the_expander(server: ChatServer) -> None:
    # The fixture streams calls to `book_totals` and `positions_of`, tools of the loop's own tests that the page's
    # catalog does not have: each is answered with an error the model sees, then the model answers.
    server.reply(llm_reply("stream_tool_calls.sse"), llm_reply("stream_answer.sse"))
    at = _ask("What is the book's theta?")
    assert _answer(at) == "Theta is in the book_totals result."
    assert [e.label for e in at.expander if e.label.startswith("Tool calls")] == ["Tool calls (2)"]
    calls = next(frame.value for frame in at.dataframe if "tool" in frame.value.columns)
    assert calls["tool"].tolist() == ["book_totals", "positions_of"]
    assert calls["outcome"].tolist() == ["error", "error"]
    assert all("unknown tool" in text for text in calls["result or error"])


def test_failing_model_falls_back_to_the_offline_analyst_with_a_notice(server: ChatServer) -> None:
    server.reply(llm_reply("error_500.json", status=500))
    at = _ask("What is my vega?")
    notice = next(w.value for w in at.warning if "Offline analyst answer" in w.value)
    assert "500" in notice
    answer = _answer(at)
    assert "Offline analyst answer" in answer
    vega_card = next(m.value for m in at.metric if m.label.startswith("Vega"))
    assert vega_card in answer  # the offline analyst answers from the book's numbers
