"""Redirect targets taken from a request stay on this site (``web.redirects.local_target``)."""

from __future__ import annotations

import pytest

from homeport.web.redirects import local_target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines from a URL: //evil.example
        "/\n/evil.example",
        "/ /evil.example",
        "/cases//evil.example",
        "/\x7f",
        "cases",
        "javascript:alert(1)",
    ],
)
def test_anything_but_a_plain_local_path_falls_back(target: str | None) -> None:
    assert local_target(target) == "/"
    assert local_target(target, "/portal/", "/portal/home") == "/portal/home"


@pytest.mark.parametrize("target", ["/", "/cases?status=open&q=wifi", "/subscribers/12#experience"])
def test_a_local_path_is_kept(target: str) -> None:
    assert local_target(target) == target


def test_the_prefix_limits_where_it_may_go() -> None:
    assert local_target("/kpis?period=week", "/kpis") == "/kpis?period=week"
    assert local_target("/cases", "/kpis") == "/kpis"
    assert local_target("/portal/bills", "/portal/", "/portal/home") == "/portal/bills"
    assert local_target("/cases", "/portal/", "/portal/home") == "/portal/home"
