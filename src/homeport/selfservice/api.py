"""JSON API of the knowledge base (``/api/v1/kb``), for the portal's scripts, the app and
integrations.

Signed-in subscribers and staff may read: a subscriber sees published articles only, staff
see drafts too. Writes are for the roles that edit articles (admin, supervisor, agent), by a
browser session with CSRF or a token with the ``cases:write`` scope. Thin: every write is a
function of :mod:`homeport.selfservice.kb`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import PermissionDenied
from homeport.identity.api import SAFE_METHODS, Access
from homeport.identity.schemas import Principal
from homeport.selfservice import kb, kb_search
from homeport.selfservice.models import Article

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])

#: Staff roles that write articles; technicians and the NOC read them.
EDIT_ROLES = ("admin", "supervisor", "agent")
WRITE = Access.staff(*EDIT_ROLES, scope="cases:write")


@dataclass(frozen=True)
class StaffOrSubscriber(Access):
    """Any signed-in staff user (session, or token with the ``read`` scope) or subscriber;
    only for reads."""

    def describe(self) -> str:
        return "signed-in staff or subscriber"

    def _authorise(self, principal: Principal, method: str) -> None:
        if method not in SAFE_METHODS:
            raise PermissionDenied("this is read-only")
        if principal.kind == "subscriber":
            return
        Access.staff()._authorise(principal, method)


READ = StaffOrSubscriber("staff")


class ArticleOut(BaseModel):
    slug: str
    title: str
    tags: list[str]
    status: str
    updated_at: datetime
    views: int
    url: str = Field(description="The article's page in the subscriber portal")


class ArticleDetailOut(ArticleOut):
    body: str = Field(description="Markdown")
    html: str = Field(description="The body rendered and sanitised")


class HitOut(BaseModel):
    article: ArticleOut
    score: float
    snippet: str


class ArticleIn(BaseModel):
    slug: str = Field(max_length=200)
    title: str = Field(max_length=400)
    body: str = Field(max_length=kb.MAX_BODY * 2)
    tags: list[str] = Field(default_factory=list, max_length=100)
    status: str | None = Field(default=None, description="draft (default) or published")


def _out(article: Article) -> dict[str, Any]:
    return {
        "slug": article.slug,
        "title": article.title,
        "tags": [t for t in article.tags.split(",") if t],
        "status": article.status,
        "updated_at": article.updated_at,
        "views": article.views,
        "url": f"/portal/help/{article.slug}",
    }


def _detail(article: Article) -> ArticleDetailOut:
    return ArticleDetailOut(
        **_out(article), body=article.body, html=kb.render_markdown(article.body)
    )


def _published_only(principal: Principal) -> bool:
    return principal.kind != "staff"


def actor_of(principal: Principal) -> Actor:
    if principal.token_id is not None:
        return Actor("token", principal.token_id, principal.email)
    return Actor("staff", principal.id, principal.email)


@router.get("/search")
def search(
    request: Request,
    principal: Annotated[Principal, Depends(READ)],
    q: Annotated[str, Query(max_length=kb_search.MAX_QUERY)],
    limit: Annotated[int, Query(ge=1, le=kb.MAX_LIMIT)] = kb.DEFAULT_LIMIT,
) -> list[HitOut]:
    """The articles that answer a question, best first (empty when none is close enough)."""
    with request.app.state.db.session() as session:
        hits = kb.search(session, q, limit=limit, published_only=_published_only(principal))
        return [
            HitOut(article=ArticleOut(**_out(h.article)), score=h.score, snippet=h.snippet)
            for h in hits
        ]


@router.get("/articles")
def list_articles(
    request: Request, principal: Annotated[Principal, Depends(READ)]
) -> list[ArticleOut]:
    with request.app.state.db.session() as session:
        rows = kb.list_articles(session, published_only=_published_only(principal))
        return [ArticleOut(**_out(a)) for a in rows]


@router.get("/articles/{slug}")
def get_article(
    request: Request, slug: str, principal: Annotated[Principal, Depends(READ)]
) -> ArticleDetailOut:
    with request.app.state.db.session() as session:
        return _detail(kb.get_article(session, slug, published_only=_published_only(principal)))


async def _write(request: Request, principal: Principal, work: Any) -> ArticleDetailOut:
    def run() -> ArticleDetailOut:
        with request.app.state.db.transaction() as session:
            now = request.app.state.clock.now()
            return _detail(work(session, actor_of(principal), now))

    result: ArticleDetailOut = await run_in_threadpool(run)
    return result


@router.post("/articles", status_code=201)
async def create_article(
    request: Request, item: ArticleIn, principal: Annotated[Principal, Depends(WRITE)]
) -> ArticleDetailOut:
    """A new article (a draft unless ``status`` is ``published``)."""
    return await _write(
        request,
        principal,
        lambda s, actor, now: kb.save_article(
            s, actor, now=now, slug=item.slug, title=item.title, body=item.body,
            tags=item.tags, status=item.status,
        ),
    )  # fmt: skip


@router.put("/articles/{slug}")
async def update_article(
    request: Request, slug: str, item: ArticleIn, principal: Annotated[Principal, Depends(WRITE)]
) -> ArticleDetailOut:
    """Replace an article's slug, title, body, tags (and status when given)."""
    return await _write(
        request,
        principal,
        lambda s, actor, now: kb.save_article(
            s, actor, now=now, slug=item.slug, title=item.title, body=item.body,
            tags=item.tags, status=item.status, current_slug=slug,
        ),
    )  # fmt: skip


@router.post("/articles/{slug}/publish")
async def publish_article(
    request: Request, slug: str, principal: Annotated[Principal, Depends(WRITE)]
) -> ArticleDetailOut:
    return await _write(
        request, principal, lambda s, actor, now: kb.publish(s, actor, slug, now=now)
    )


@router.post("/articles/{slug}/unpublish")
async def unpublish_article(
    request: Request, slug: str, principal: Annotated[Principal, Depends(WRITE)]
) -> ArticleDetailOut:
    return await _write(
        request, principal, lambda s, actor, now: kb.unpublish(s, actor, slug, now=now)
    )


@router.delete("/articles/{slug}", status_code=204)
async def delete_article(
    request: Request, slug: str, principal: Annotated[Principal, Depends(WRITE)]
) -> None:
    def run() -> None:
        with request.app.state.db.transaction() as session:
            kb.delete(session, actor_of(principal), slug, now=request.app.state.clock.now())

    await run_in_threadpool(run)
