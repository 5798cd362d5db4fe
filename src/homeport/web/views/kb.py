"""The knowledge base's pages: agents maintain articles in the console (``/console/kb``), and
subscribers search and read the published ones in the portal (``/portal/help``).

Every staff role reads articles in the console; admins, supervisors and agents write them
(technicians and the NOC read only). Each write runs one function of
:mod:`homeport.selfservice.kb` in a transaction; a refused write (a taken slug, a too-short
title) comes back as the form with its problems, keeping what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.identity.api import Access
from homeport.identity.schemas import Principal
from homeport.selfservice import actions, kb, kb_search
from homeport.selfservice.api import EDIT_ROLES
from homeport.selfservice.models import Article
from homeport.web.templating import flash, render

router = APIRouter(include_in_schema=False)

READ = Access.staff(page=True)
EDIT = Access.staff(*EDIT_ROLES, page=True)
SUBSCRIBER = Access.subscriber(page=True)

Short = Annotated[str, Form(max_length=400)]
Body = Annotated[str, Form(max_length=kb.MAX_BODY * 2)]
Query = Annotated[str, Form(max_length=kb_search.MAX_QUERY)]
#: Articles listed per page (the knowledge base of a small ISP is a few hundred at most).
LIST_LIMIT = 500
SEARCH_LIMIT = 10


def _actor(principal: Principal) -> Actor:
    return Actor("staff", principal.id, principal.email)


def _html(article_body: str) -> Markup:
    """Sanitised HTML of an article's Markdown (:func:`kb.render_markdown`)."""
    return Markup(kb.render_markdown(article_body))  # noqa: S704 (sanitised by nh3)


def _query(request: Request) -> str:
    return (request.query_params.get("q") or "").strip()[: kb_search.MAX_QUERY]


def _can_edit(principal: Principal) -> bool:
    return principal.role in EDIT_ROLES


# --- Console ---------------------------------------------------------------------------------


@router.get("/console/kb", dependencies=[Depends(READ)])
def console_list(request: Request) -> Response:
    principal: Principal = request.state.principal
    q = _query(request)
    with request.app.state.db.session() as session:
        hits = kb.search(session, q, limit=SEARCH_LIMIT, published_only=False) if q else []
        articles = [] if q else kb.list_articles(session)[:LIST_LIMIT]
        return render(
            request,
            "console/kb_list.html",
            nav="kb",
            q=q,
            hits=hits,
            articles=articles,
            can_edit=_can_edit(principal),
        )


def _form(
    request: Request,
    *,
    article: Article | None,
    values: dict[str, str],
    errors: list[FieldError] | None = None,
    message: str = "",
    preview: str | None = None,
    status_code: int = 200,
) -> Response:
    principal: Principal = request.state.principal
    body = values.get("body", "")
    return render(
        request,
        "console/kb_edit.html",
        status_code=status_code,
        nav="kb",
        article=article,
        values=values,
        errors={e.field: e.message for e in errors or []},
        message=message,
        preview=_html(preview if preview is not None else body) if body.strip() else None,
        can_edit=_can_edit(principal),
        statuses=("draft", "published"),
    )


def _values(article: Article) -> dict[str, str]:
    return {
        "slug": article.slug,
        "title": article.title,
        "tags": ", ".join(t for t in article.tags.split(",") if t),
        "body": article.body,
        "status": article.status,
    }


@router.get("/console/kb/new", dependencies=[Depends(EDIT)])
def new_form(request: Request) -> Response:
    return _form(
        request,
        article=None,
        values={"slug": "", "title": "", "tags": "", "body": "", "status": "draft"},
    )


async def _save(
    request: Request,
    *,
    current: str | None,
    slug: str,
    title: str,
    tags: str,
    body: str,
    status: str,
    intent: str,
) -> Response:
    principal: Principal = request.state.principal
    values = {"slug": slug, "title": title, "tags": tags, "body": body, "status": status}

    def existing() -> Article | None:
        if current is None:
            return None
        with request.app.state.db.session() as session:
            return kb.get_article(session, current)

    if intent == "preview":
        article = await run_in_threadpool(existing)
        return _form(request, article=article, values=values, message="Preview: not saved yet.")

    def run() -> str:
        with request.app.state.db.transaction() as session:
            saved = kb.save_article(
                session,
                _actor(principal),
                slug=slug,
                title=title,
                body=body,
                tags=tags,
                status=status or None,
                current_slug=current,
                now=request.app.state.clock.now(),
            )
            return saved.slug

    try:
        saved_slug = await run_in_threadpool(run)
    except (ValidationFailed, Conflict) as exc:
        article = await run_in_threadpool(existing)
        errors = getattr(exc, "errors", None) or [FieldError("slug", exc.message)]
        return _form(
            request,
            article=article,
            values=values,
            errors=errors,
            message=f"Not saved: {exc.message}.",
            status_code=exc.status,
        )
    flash(request, "ok", "Article created." if current is None else "Article saved.")
    return RedirectResponse(f"/console/kb/{saved_slug}", status_code=303)


@router.post("/console/kb/new", dependencies=[Depends(EDIT)])
async def create(
    request: Request,
    slug: Short = "",
    title: Short = "",
    tags: Short = "",
    body: Body = "",
    status: Short = "draft",
    intent: Short = "save",
) -> Response:
    return await _save(
        request,
        current=None,
        slug=slug,
        title=title,
        tags=tags,
        body=body,
        status=status,
        intent=intent,
    )


@router.get("/console/kb/{slug}", dependencies=[Depends(READ)])
def edit_form(request: Request, slug: str) -> Response:
    with request.app.state.db.session() as session:
        article = kb.get_article(session, slug)
        return _form(request, article=article, values=_values(article))


@router.post("/console/kb/{slug}", dependencies=[Depends(EDIT)])
async def update(
    request: Request,
    slug: str,
    new_slug: Annotated[str, Form(alias="slug", max_length=400)] = "",
    title: Short = "",
    tags: Short = "",
    body: Body = "",
    status: Short = "",
    intent: Short = "save",
) -> Response:
    return await _save(
        request,
        current=slug,
        slug=new_slug,
        title=title,
        tags=tags,
        body=body,
        status=status,
        intent=intent,
    )


async def _status(request: Request, slug: str, work: Any, done: str) -> Response:
    principal: Principal = request.state.principal

    def run() -> None:
        with request.app.state.db.transaction() as session:
            work(session, _actor(principal), slug, now=request.app.state.clock.now())

    await run_in_threadpool(run)
    flash(request, "ok", done)
    return RedirectResponse(f"/console/kb/{slug}", status_code=303)


@router.post("/console/kb/{slug}/publish", dependencies=[Depends(EDIT)])
async def publish(request: Request, slug: str) -> Response:
    return await _status(request, slug, kb.publish, "Published: subscribers and the bot see it.")


@router.post("/console/kb/{slug}/unpublish", dependencies=[Depends(EDIT)])
async def unpublish(request: Request, slug: str) -> Response:
    return await _status(request, slug, kb.unpublish, "Back to draft: only staff see it.")


@router.get("/console/kb/{slug}/delete", dependencies=[Depends(EDIT)])
def delete_confirm(request: Request, slug: str) -> Response:
    with request.app.state.db.session() as session:
        article = kb.get_article(session, slug)
        return render(request, "console/kb_delete.html", nav="kb", article=article)


@router.post("/console/kb/{slug}/delete", dependencies=[Depends(EDIT)])
async def delete(request: Request, slug: str) -> Response:
    principal: Principal = request.state.principal

    def run() -> str:
        with request.app.state.db.transaction() as session:
            title = kb.get_article(session, slug).title
            kb.delete(session, _actor(principal), slug, now=request.app.state.clock.now())
            return title

    title = await run_in_threadpool(run)
    flash(request, "ok", f"Deleted “{title}”.")
    return RedirectResponse("/console/kb", status_code=303)


# --- Portal ----------------------------------------------------------------------------------


@router.get("/portal/help")
def help_page(request: Request, principal: Annotated[Principal, Depends(SUBSCRIBER)]) -> Response:
    q = _query(request)
    now = request.app.state.clock.now()
    with request.app.state.db.transaction() as session:
        hits = kb.search(session, q, limit=SEARCH_LIMIT) if q else []
        articles = [] if q else kb.list_articles(session, published_only=True)[:LIST_LIMIT]
        if q and principal.subscriber_id is not None:
            actions.record_engagement(
                session,
                principal.subscriber_id,
                "kb_search",
                at=now,
                detail={"q": q[:200], "hits": [h.article.slug for h in hits]},
            )
        return render(
            request,
            "portal/help.html",
            subscriber=principal,
            q=q,
            hits=hits,
            articles=articles,
        )


@router.get("/portal/help/{slug}")
def help_article(
    request: Request, slug: str, principal: Annotated[Principal, Depends(SUBSCRIBER)]
) -> Response:
    now = request.app.state.clock.now()
    with request.app.state.db.transaction() as session:
        try:
            article = kb.get_article(session, slug, published_only=True)
        except NotFound:
            raise NotFound("There is no such help article (it may have been removed).") from None
        kb.count_view(session, slug)
        if principal.subscriber_id is not None:
            actions.record_engagement(
                session, principal.subscriber_id, "kb_view", at=now, detail={"slug": slug}
            )
        return render(
            request,
            "portal/help_article.html",
            subscriber=principal,
            article=article,
            html=_html(article.body),
        )
