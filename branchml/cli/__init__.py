"""The command-line front: `main` (entry and the one error handler), `fastpath` (the hot
commands without typer), `commands` (the typer app, one module per area), `render` (every
printed line). Nothing here is imported by a lower layer."""
