"""``python -m rescore`` is the ``rescore`` command."""

from rescore.cli import main

if __name__ == "__main__":  # not when a spawned companion process imports it
    main()
