"""rescore: business events in, only the touched entities rescored, every score explained."""

from __future__ import annotations

__version__ = "0.1.0"
