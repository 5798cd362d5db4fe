"""The knowledge base: how-to articles that agents maintain in the console, that subscribers
read in the portal (``/portal/help``) and that the chatbot answers how-to questions from.

Reads (:func:`list_articles`, :func:`get_article`, :func:`search`) and writes
(:func:`save_article`, :func:`publish`, :func:`unpublish`, :func:`delete`, :func:`count_view`,
:func:`seed_articles`) in the caller's transaction; every change by a person is audited.
Article bodies are Markdown, rendered by :func:`render_markdown` with raw HTML escaped and the
result sanitised: an article's text never reaches a page as markup of its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nh3
import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.audit.models import AuditEntry
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.selfservice import kb_search
from homeport.selfservice.models import ARTICLE_STATUSES, Article

#: The starter articles shipped with Homeport (``*.md`` with YAML front matter).
ARTICLES_DIR = Path(__file__).parent / "articles"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
#: Paths of the console that a slug must not shadow.
RESERVED_SLUGS = frozenset({"new", "search"})
MIN_SLUG, MAX_SLUG = 3, 120
MIN_TITLE, MAX_TITLE = 5, 200
MAX_BODY = 50_000
MAX_TAGS = 15
MAX_TAGS_CHARS = 400
DEFAULT_LIMIT = 5
MAX_LIMIT = 50
ENTITY = "kb_article"


@dataclass(frozen=True)
class Hit:
    """One search result: the article, its score (0–1, higher is closer) and the passage of
    its body that matches the question best (plain text)."""

    article: Article
    score: float
    snippet: str


# --- Reads -----------------------------------------------------------------------------------


def list_articles(session: Session, *, published_only: bool = False) -> list[Article]:
    """Every article (or every published one), by title."""
    query = select(Article).order_by(Article.title, Article.id)
    if published_only:
        query = query.where(Article.status == "published")
    return list(session.scalars(query))


def get_article(session: Session, slug: str, *, published_only: bool = False) -> Article:
    """The article with that slug; a draft is "not found" when ``published_only``."""
    article = session.scalars(select(Article).where(Article.slug == slug)).first()
    if article is None or (published_only and article.status != "published"):
        raise NotFound(f"no article {slug!r}")
    return article


def search(
    session: Session, query: str, *, limit: int = DEFAULT_LIMIT, published_only: bool = True
) -> list[Hit]:
    """The articles that answer ``query`` best, best first; nothing when none scores at least
    :data:`kb_search.MIN_SCORE` (see :mod:`homeport.selfservice.kb_search`)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("invalid search", [FieldError("limit", f"1 to {MAX_LIMIT}")])
    if not query.strip():
        return []
    index = kb_search.index_for(session)
    words, scores = index.scores(query)
    ranked = sorted(
        (
            (float(score), doc)
            for doc, score in zip(index.documents, scores, strict=True)
            if score >= kb_search.MIN_SCORE and (doc.published or not published_only)
        ),
        key=lambda pair: (-pair[0], pair[1].id),
    )[:limit]
    if not ranked:
        return []
    found = {
        a.id: a
        for a in session.scalars(select(Article).where(Article.id.in_([d.id for _, d in ranked])))
    }
    return [
        Hit(found[doc.id], round(score, 4), kb_search.snippet(found[doc.id].body, words))
        for score, doc in ranked
        if doc.id in found  # deleted since the index was read
    ]


# --- Validation ------------------------------------------------------------------------------


def parse_tags(tags: str | Iterable[str]) -> list[str]:
    """Tags from a comma- or space-separated string (or a list): lower case, unique, sorted."""
    items = re.split(r"[,\s]+", tags) if isinstance(tags, str) else list(tags)
    return sorted({t.strip().lower() for t in items if t.strip()})


def _check(slug: str, title: str, body: str, tags: list[str], status: str) -> list[FieldError]:
    problems = []
    if not MIN_SLUG <= len(slug) <= MAX_SLUG or not SLUG.match(slug):
        problems.append(
            FieldError(
                "slug",
                f"{MIN_SLUG}-{MAX_SLUG} lower-case letters, digits and single hyphens "
                "(like change-wifi-password)",
            )
        )
    elif slug in RESERVED_SLUGS:
        problems.append(FieldError("slug", f"{slug!r} is reserved"))
    if not MIN_TITLE <= len(title) <= MAX_TITLE:
        problems.append(FieldError("title", f"{MIN_TITLE} to {MAX_TITLE} characters"))
    if not body.strip():
        problems.append(FieldError("body", "required"))
    elif len(body) > MAX_BODY:
        problems.append(FieldError("body", f"at most {MAX_BODY:,} characters"))
    bad = [t for t in tags if not TAG.match(t)]
    if bad:
        problems.append(
            FieldError("tags", f"{', '.join(bad)}: letters, digits, . _ - up to 40 characters")
        )
    elif len(tags) > MAX_TAGS or len(",".join(tags)) > MAX_TAGS_CHARS:
        problems.append(FieldError("tags", f"at most {MAX_TAGS} tags"))
    if status not in ARTICLE_STATUSES:
        problems.append(FieldError("status", f"one of {', '.join(ARTICLE_STATUSES)}"))
    return problems


def _editor(actor: Actor) -> int | None:
    return actor.id if actor.kind == "staff" else None


def _find(session: Session, slug: str) -> Article | None:
    return session.scalars(select(Article).where(Article.slug == slug)).first()


# --- Writes ----------------------------------------------------------------------------------


def save_article(
    session: Session,
    actor: Actor,
    *,
    slug: str,
    title: str,
    body: str,
    tags: str | Iterable[str] = "",
    now: datetime,
    status: str | None = None,
    current_slug: str | None = None,
) -> Article:
    """Create an article (``current_slug`` None; a draft unless ``status`` says otherwise) or
    update the one at ``current_slug`` (which may change its slug). Raises
    :class:`ValidationFailed` with every problem, :class:`Conflict` when the slug is taken and
    :class:`NotFound` when the article to update is gone. An update that changes nothing
    writes nothing."""
    slug, title = slug.strip().lower(), " ".join(title.split())
    body = body.replace("\r\n", "\n").strip() + "\n"
    clean_tags = parse_tags(tags)
    article = None
    if current_slug is not None:
        article = _find(session, current_slug)
        if article is None:
            raise NotFound(f"no article {current_slug!r}")
    new_status = status or (article.status if article else "draft")
    problems = _check(slug, title, body, clean_tags, new_status)
    if problems:
        raise ValidationFailed("invalid article", problems)
    if slug != current_slug and _find(session, slug) is not None:
        raise Conflict(f"an article with the slug {slug!r} already exists")
    values: dict[str, Any] = {
        "slug": slug,
        "title": title,
        "body": body,
        "tags": ",".join(clean_tags),
        "status": new_status,
    }
    if article is None:
        article = Article(
            **values, created_at=now, updated_at=now, updated_by_id=_editor(actor), views=0
        )
        session.add(article)
        session.flush()
        record(
            session,
            at=now,
            actor=actor,
            action="kb_article.created",
            entity_type=ENTITY,
            entity_id=article.id,
            slug=slug,
            title=title,
            status=new_status,
        )
        return article
    changed = sorted(k for k, v in values.items() if getattr(article, k) != v)
    if not changed:
        return article
    before = {k: getattr(article, k) for k in changed if k != "body"}
    for key in changed:
        setattr(article, key, values[key])
    article.updated_at = now
    article.updated_by_id = _editor(actor)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="kb_article.updated",
        entity_type=ENTITY,
        entity_id=article.id,
        slug=slug,
        changed=changed,
        before=before,
    )
    return article


def _set_status(session: Session, actor: Actor, slug: str, status: str, now: datetime) -> Article:
    article = _find(session, slug)
    if article is None:
        raise NotFound(f"no article {slug!r}")
    if article.status == status:
        return article
    article.status = status
    article.updated_at = now
    article.updated_by_id = _editor(actor)
    record(
        session,
        at=now,
        actor=actor,
        action=f"kb_article.{'published' if status == 'published' else 'unpublished'}",
        entity_type=ENTITY,
        entity_id=article.id,
        slug=slug,
    )
    return article


def publish(session: Session, actor: Actor, slug: str, *, now: datetime) -> Article:
    """Show the article to subscribers and the bot."""
    return _set_status(session, actor, slug, "published", now)


def unpublish(session: Session, actor: Actor, slug: str, *, now: datetime) -> Article:
    """Back to draft: only staff see it."""
    return _set_status(session, actor, slug, "draft", now)


def delete(session: Session, actor: Actor, slug: str, *, now: datetime) -> None:
    """Delete the article. A starter article deleted here is not seeded again."""
    article = _find(session, slug)
    if article is None:
        raise NotFound(f"no article {slug!r}")
    record(
        session,
        at=now,
        actor=actor,
        action="kb_article.deleted",
        entity_type=ENTITY,
        entity_id=article.id,
        slug=slug,
        title=article.title,
    )
    session.delete(article)
    session.flush()


def count_view(session: Session, slug: str) -> None:
    """One more reader (an atomic increment; the article's ``updated_at`` stays, so the search
    index is not refitted for a view)."""
    done = session.execute(
        update(Article).where(Article.slug == slug).values(views=Article.views + 1)
    )
    if getattr(done, "rowcount", 0) == 0:
        raise NotFound(f"no article {slug!r}")


# --- Starter articles ------------------------------------------------------------------------


@dataclass(frozen=True)
class StarterArticle:
    slug: str
    title: str
    tags: list[str]
    body: str


def load_starter(path: Path) -> StarterArticle:
    """One ``*.md`` file: YAML front matter (slug, title, tags) between ``---`` lines, then the
    Markdown body. The slug must be the file's stem."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, flags=re.S)
    if match is None:
        raise ValidationFailed(f"{path.name}: no front matter", [FieldError("file", path.name)])
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise ValidationFailed(
            f"{path.name}: front matter is not valid YAML", [FieldError("file", str(exc))]
        ) from exc
    if not isinstance(meta, dict):
        raise ValidationFailed(f"{path.name}: front matter must be a mapping", [])
    slug, title, tags = meta.get("slug"), meta.get("title"), meta.get("tags") or []
    if not isinstance(slug, str) or not isinstance(title, str) or not isinstance(tags, list):
        raise ValidationFailed(
            f"{path.name}: front matter needs slug and title (text) and tags (a list)", []
        )
    clean = parse_tags(str(t) for t in tags)
    body = match.group(2).strip() + "\n"
    problems = _check(slug, title, body, clean, "published")
    if slug != path.stem:
        problems.append(FieldError("slug", f"must be the file's name ({path.stem})"))
    if problems:
        raise ValidationFailed(f"{path.name}: invalid article", problems)
    return StarterArticle(slug=slug, title=title, tags=clean, body=body)


def starter_articles(directory: Path = ARTICLES_DIR) -> list[StarterArticle]:
    return [load_starter(p) for p in sorted(directory.glob("*.md"))]


def seed_articles(
    session: Session, actor: Actor, *, now: datetime, directory: Path = ARTICLES_DIR
) -> int:
    """Add the starter articles (published) that are missing; returns how many. An article
    whose slug exists is left as it is (an agent's edit is never overwritten), and a starter
    article that someone deleted stays deleted."""
    starters = starter_articles(directory)
    existing = set(session.scalars(select(Article.slug)))
    deleted = {
        str((entry.detail or {}).get("slug"))
        for entry in session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_type == ENTITY, AuditEntry.action == "kb_article.deleted"
            )
        )
    }
    added = 0
    for item in starters:
        if item.slug in existing or item.slug in deleted:
            continue
        save_article(
            session,
            actor,
            slug=item.slug,
            title=item.title,
            body=item.body,
            tags=item.tags,
            status="published",
            now=now,
        )
        added += 1
    return added


# --- Rendering -------------------------------------------------------------------------------

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def render_markdown(body: str) -> str:
    """Article Markdown as safe HTML: raw HTML in the text is escaped (markdown-it with
    ``html`` off), then the result is sanitised with nh3 (an allow-list of tags, ``http``,
    ``https`` and ``mailto`` links only, opened without a referrer). Headings start at ``h2``
    (the page's title is the ``h1``)."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # markdown-it-py comes with rich; without it, paragraphs of text
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        rendered = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    else:
        md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
        rendered = md.render(body)
        rendered = re.sub(r"<(/?)h1>", r"<\1h2>", rendered)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()
