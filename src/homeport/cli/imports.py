import typer

app = typer.Typer(help="Import CSV files.")
