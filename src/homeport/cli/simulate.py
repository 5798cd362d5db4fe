import typer


def simulate(ctx: typer.Context) -> None:
    """Simulate a BSP."""
