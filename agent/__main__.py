"""`python -m agent` is the `dialwise` command."""
from agent.cli import main

main()
