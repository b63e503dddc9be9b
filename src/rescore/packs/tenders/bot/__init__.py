"""The tenders pack's Telegram bot (python-telegram-bot, extra ``tenders``): see :mod:`.app`."""

from __future__ import annotations

from rescore.packs.tenders.bot.app import COMMANDS, TendersBot

__all__ = ["COMMANDS", "TendersBot"]
