"""Built-in packs, each loaded through the rescore.packs entry point like any plugin."""
