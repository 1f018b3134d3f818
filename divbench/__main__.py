"""``python -m divbench`` is the ``divbench`` command."""

from divbench.cli import main

main()
