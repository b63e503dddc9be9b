"""The ``rescore`` subcommands, by theme; importing a module registers its commands."""
