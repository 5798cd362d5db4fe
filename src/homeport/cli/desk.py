"""``homeport desk init|agent|queues``: set up and tune the support desk."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import func, select

from homeport.cli.context import CLI_ACTOR, fail, get, out, report
from homeport.core.errors import HomeportError
from homeport.identity import service as identity_service
from homeport.identity.models import StaffUser, Team
from homeport.support import actions, defaults
from homeport.support.models import LIVE_STATUSES, AgentProfile, Case, SupportQueue

app = typer.Typer(
    help="The support desk: teams, queues, SLA policies, agents.", no_args_is_help=True
)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the default teams, queues, SLA policies and macros (keeps what already exists)."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            made = defaults.install(
                session, now=cli.clock.now(), actor=CLI_ACTOR, timezone=cli.settings.timezone
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(
        f"support desk ready: {made.teams} teams, {made.queues} queues, "
        f"{made.policies} SLA policies and {made.macros} macros created "
        f"(business hours read in {cli.settings.timezone})"
    )


@app.command("agent")
def agent(
    ctx: typer.Context,
    email: str = typer.Option(..., "--email", help="The staff user (see 'homeport users create')."),
    team: str | None = typer.Option(None, "--team", help="Put them in this team (by name)."),
    skills: str | None = typer.Option(None, "--skills", help="Comma-separated, e.g. fibre,welsh."),
    capacity: int | None = typer.Option(None, "--capacity", help="Live cases they can hold."),
    available: bool | None = typer.Option(
        None, "--available/--away", help="Whether routing gives them new cases now."
    ),
) -> None:
    """Set an agent's team, skills, capacity and availability."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            user = identity_service.staff_by_email(session, email)
            if user is None:
                raise fail(f"no staff user with e-mail {email}")
            if team is not None:
                found = session.scalars(select(Team).where(Team.name == team)).first()
                if found is None:
                    raise fail(f"no team called {team!r}: 'homeport desk queues' lists them")
                user.team_id = found.id
            profile = actions.set_agent_profile(
                session,
                user.id,
                now=cli.clock.now(),
                actor=CLI_ACTOR,
                skills=None if skills is None else skills.split(","),
                capacity=capacity,
                available=available,
            )
            summary = (
                f"{user.email}: skills {profile.skills or '-'}, capacity {profile.capacity}, "
                f"{'available' if profile.available else 'away'}"
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(summary)


@app.command("queues")
def queues(ctx: typer.Context) -> None:
    """List the queues with their team, what they take and their waiting cases."""
    cli = get(ctx)
    with cli.migrated_db().session() as session:
        teams = {t.id: t.name for t in session.scalars(select(Team))}
        waiting = dict(
            session.execute(
                select(Case.queue_id, func.count())
                .where(Case.status.in_(LIVE_STATUSES), Case.assignee_id.is_(None))
                .group_by(Case.queue_id)
            ).all()
        )
        table = Table("queue", "team", "takes", "strategy", "agents", "waiting")
        for q in session.scalars(select(SupportQueue).order_by(SupportQueue.rank)):
            members = session.scalar(
                select(func.count())
                .select_from(StaffUser)
                .join(AgentProfile, AgentProfile.staff_user_id == StaffUser.id)
                .where(StaffUser.team_id == q.team_id, StaffUser.is_active.is_(True))
            )
            takes = "everything else" if q.is_default else (q.categories or q.channels or "-")
            table.add_row(
                q.name,
                teams.get(q.team_id or -1, "-"),
                takes[:60],
                q.strategy,
                str(members or 0),
                str(waiting.get(q.id, 0)),
            )
    out.print(table)
