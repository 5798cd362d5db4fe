"""``homeport kb seed|list|search``: the knowledge base from the command line."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from homeport.cli.context import CLI_ACTOR, get, out, report
from homeport.core.errors import HomeportError
from homeport.selfservice import kb

app = typer.Typer(
    help="The knowledge base: how-to articles for subscribers, agents and the chatbot.",
    no_args_is_help=True,
)


@app.command("seed")
def seed(ctx: typer.Context) -> None:
    """Add the starter articles that are missing (never overwrites an agent's edit, and does
    not bring back a starter article someone deleted)."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            added = kb.seed_articles(session, CLI_ACTOR, now=cli.clock.now())
            total = len(kb.list_articles(session))
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"{added} starter articles added; {total} articles in the knowledge base")


@app.command("list")
def list_(
    ctx: typer.Context,
    published: bool = typer.Option(False, "--published", help="Only the published ones."),
) -> None:
    """Every article: slug, status, views and title."""
    cli = get(ctx)
    with cli.migrated_db().session() as session:
        rows = kb.list_articles(session, published_only=published)
        table = Table("slug", "status", "views", "title")
        for a in rows:
            table.add_row(escape(a.slug), a.status, str(a.views), escape(a.title))
    if not rows:
        out.print("no articles: 'homeport kb seed' adds the starter articles")
        return
    out.print(table)


@app.command("search")
def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="A question, as a subscriber would ask it."),
    limit: int = typer.Option(kb.DEFAULT_LIMIT, "--limit", min=1, max=kb.MAX_LIMIT),
    drafts: bool = typer.Option(False, "--drafts", help="Search drafts too."),
) -> None:
    """The articles that answer a question, best first, with their scores."""
    cli = get(ctx)
    try:
        with cli.migrated_db().session() as session:
            hits = kb.search(session, text, limit=limit, published_only=not drafts)
            lines = [
                f"{h.score:.3f}  {escape(h.article.slug)}  {escape(h.article.title)}\n"
                f"       {escape(h.snippet)}"
                for h in hits
            ]
    except HomeportError as exc:
        raise report(exc) from exc
    if not lines:
        out.print("no article is close enough to that question")
        raise typer.Exit(1)
    for line in lines:
        out.print(line, highlight=False)
