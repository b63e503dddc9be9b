"""``python -m rescore`` is the ``rescore`` command."""

from rescore.cli import main

main()
