"""``python -m compare.cli``: the ``compare`` command."""

from compare.cli.main import main

main()
