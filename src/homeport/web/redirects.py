"""Where a form or a sign-in may send the browser next: only a path on this site.

Every ``next``/``back`` target a page accepts from the request goes through :func:`local_target`
before it becomes a ``Location``: a full URL, a scheme-relative ``//host``, a backslash (which
browsers read as a slash) or any whitespace or control character (which browsers strip from a
URL, so ``/\\t/host`` would become ``//host``) sends the browser to ``default`` instead.
"""

from __future__ import annotations


def local_target(target: str | None, prefix: str = "/", default: str | None = None) -> str:
    """``target`` when it is a path under ``prefix`` on this site, else ``default`` (``prefix``
    when not given)."""
    if (
        target
        and target.startswith(prefix)
        and target.startswith("/")
        and "//" not in target
        and "\\" not in target
        and all(ch > " " and ch != "\x7f" for ch in target)
    ):
        return target
    return prefix if default is None else default
