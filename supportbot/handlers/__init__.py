"""Handler registration, in an order that is part of the design.

PTB runs, for each update, the first matching handler of every group, groups in ascending order:
  -2  groups and channels: one note that the bot is private-only, then leave (stops the update)
  -1  crisis: /crisis and /sos, and risk screening of every text, caption and edited message;
      the crisis reply goes out before any feature sees the message
   0  features, then the catch-alls (registered last, so they only run when nothing else matched)
"""

from __future__ import annotations

from telegram.ext import Application

from supportbot.handlers import checkins, core, crisis, exercises
from supportbot.handlers import journal as journal_feature


def register(app: Application) -> None:  # type: ignore[type-arg]
    core.register_groups(app)
    crisis.register(app)
    core.register(app)
    for feature in _features():
        feature(app)
    core.register_fallbacks(app)


def _features() -> list:  # type: ignore[type-arg]
    """Feature modules' register functions (each adds group-0 handlers and text routes)."""
    return [
        journal_feature.register,
        exercises.register,
        checkins.register,
    ]
