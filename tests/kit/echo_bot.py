"""A minimal python-telegram-bot echo bot: the baseline supportbot is measured against.

Reads BOT_TOKEN and BOT_API_BASE_URL like supportbot, answers every text with the same text, and
answers callback queries. Run: `python -m tests.kit.echo_bot`.
"""

from __future__ import annotations

import logging
import os

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None and update.effective_message.text is not None:
        await update.effective_message.reply_text(update.effective_message.text)


async def tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()


def build(token: str, base_url: str) -> Application:  # type: ignore[type-arg]
    app = ApplicationBuilder().token(token).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(tap))
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = build(
        os.environ["BOT_TOKEN"], os.environ.get("BOT_API_BASE_URL", "https://api.telegram.org/bot")
    )
    logging.getLogger("echo_bot").info("echo bot polling")
    app.run_polling(poll_interval=0.0, timeout=10)


if __name__ == "__main__":
    main()
