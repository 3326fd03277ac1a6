"""The one place that wires concrete parts together.

Two send lanes: `application.bot` (interactive replies, crisis first) has its own connection pool;
scheduled check-ins go through a second Bot with its own pool and a rate budget. A reply therefore
never waits behind queued check-ins (PTB's shared AIORateLimiter made one wait 4 s behind 150).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from supportbot import handlers
from supportbot.clock import Clock, SystemClock
from supportbot.config import Settings
from supportbot.content.library import Library
from supportbot.content.strings import Strings
from supportbot.deps import Deps
from supportbot.handlers.core import registered_commands
from supportbot.safety.reply import CrisisReplies
from supportbot.safety.resources import Resources
from supportbot.safety.screening import Screener
from supportbot.services.exercises import ExerciseService
from supportbot.services.profile import Defaults, ProfileService
from supportbot.storage.base import StorageError
from supportbot.storage.crypto import TextCipher, load_or_create_key
from supportbot.storage.sqlite import SqliteStorage

log = logging.getLogger(__name__)
StartHook = Callable[[Application], Awaitable[None]]  # type: ignore[type-arg]
STORAGE_RETRY_SECONDS = 30.0
#: Updates handled at once, and the interactive lane's pool to match. More is slower: httpcore scans
#: every pooled connection per request (benchmarks/README.md, Load: 64/32 -> 16/16 took 155 -> 233
#: updates/s). A slow handler (a chart) still cannot hold back a crisis reply: 15 others run.
CONCURRENT_UPDATES = 16


def load_content(settings: Settings) -> tuple[Strings, Library, Screener, CrisisReplies]:
    """Everything user-facing, loaded into memory once (the crisis path never reads the disk)."""
    strings = Strings.load(settings.messages_dir, settings.default_language)
    languages = strings.languages
    library = Library.load(settings.messages_dir, languages, settings.default_language)
    screener = Screener.load(settings.messages_dir, languages)
    resources = Resources.load(settings.messages_dir)
    crisis = CrisisReplies.load(settings.messages_dir, languages, resources)
    return strings, library, screener, crisis


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    scheduled_request: BaseRequest | None = None,
    clock: Clock | None = None,
) -> Application:  # type: ignore[type-arg]
    clock = clock or SystemClock()
    strings, library, screener, crisis = load_content(settings)
    key, created = load_or_create_key(settings.data_key, settings.key_file)
    storage = SqliteStorage(settings.database_path, TextCipher.from_keys(key))
    profile = ProfileService(
        storage,
        strings.languages,
        Defaults(settings.default_language, settings.default_country, settings.default_timezone),
        clock,
    )

    builder = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.bot_api_base_url)
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        builder = builder.request(
            HTTPXRequest(connection_pool_size=CONCURRENT_UPDATES, read_timeout=10, write_timeout=10)
        ).get_updates_request(HTTPXRequest(read_timeout=40))
    app = builder.build()

    scheduled_bot: ExtBot[Any] = ExtBot(
        settings.bot_token,
        base_url=settings.bot_api_base_url,
        request=scheduled_request
        or request
        or HTTPXRequest(connection_pool_size=8, read_timeout=10, write_timeout=10),
    )
    deps = Deps(
        settings=settings,
        clock=clock,
        strings=strings,
        library=library,
        screener=screener,
        crisis=crisis,
        storage=storage,
        profile=profile,
    )
    deps.services["scheduled_bot"] = scheduled_bot
    deps.services["key_created"] = created
    deps.services["start_hooks"] = []
    # -- exercises, reflection prompts, self-care (issue 5) ------------------------------------
    # Prompt rotation per client (memory) and the crying / moment phrases from exercises_ui.toml.
    # "pace_scale" multiplies a paced breathing run's step seconds (tests set it to 0).
    deps.services["exercises"] = ExerciseService.load(settings.messages_dir, library)
    deps.services["pace_scale"] = 1.0

    # -- the client's own data: journal, mood chart, export, forget, retention (issue 6) ---------
    from supportbot.handlers import journal as journal_handlers
    from supportbot.services.journal import JournalService

    deps.services["journal"] = JournalService(
        storage, profile, clock, strings, retention_days=settings.retention_days, library=library
    )
    deps.services.setdefault("forget_hooks", [])  # async (user_id) -> None, run after /forget
    deps.services["start_hooks"].append(journal_handlers.on_start)

    # -- post-session check-ins (issue 4) -------------------------------------------------------
    # The service (use cases), its /settings lines and time zone hook, and the dispatcher: one
    # repeating JobQueue job sending on the SCHEDULED lane under the send budget. Its start hook
    # runs after storage opens: rows a crash left in flight go back to the queue, rows past the
    # grace period are skipped, every weekly client gets their next row, then the job ticks.
    from datetime import timedelta

    from supportbot.handlers.checkins import CheckinComposer
    from supportbot.scheduling.dispatcher import DispatchConfig, Dispatcher
    from supportbot.scheduling.telegram_lane import TelegramSender
    from supportbot.scheduling.telegram_lane import start_hook as dispatcher_start_hook
    from supportbot.services.checkins import CheckinService

    checkins = CheckinService(storage, strings, clock)
    dispatcher = Dispatcher(
        storage,
        clock,
        TelegramSender(scheduled_bot),
        CheckinComposer(checkins, strings),
        DispatchConfig(
            interval_seconds=settings.dispatch_interval_seconds,
            grace=timedelta(hours=settings.checkin_grace_hours),
            budget_per_second=settings.send_budget_per_second,
        ),
    )
    deps.services["checkins"] = checkins
    deps.services["dispatcher"] = dispatcher
    deps.services["settings_lines"] = checkins.settings_lines
    deps.services["on_timezone_changed"] = checkins.on_timezone_changed
    deps.services["start_hooks"].append(dispatcher_start_hook(dispatcher))

    app.bot_data["deps"] = deps
    handlers.register(app)
    return app


async def open_storage(app: Application) -> bool:  # type: ignore[type-arg]
    """Open and migrate; on failure log one clear line and keep serving crisis help."""
    deps: Deps = app.bot_data["deps"]
    try:
        await deps.storage.open()
    except StorageError as exc:
        _storage_down(deps, exc)
        return False
    deps.storage_ready = True
    try:
        warmed = await deps.profile.warm_cache()
        log.info("storage ready at %s (%d clients)", deps.settings.database_path, warmed)
    except StorageError as exc:
        log.error("could not read clients at start: %s", exc)
    return True


def _storage_down(deps: Deps, exc: Exception) -> None:
    """One clear ERROR line per distinct problem; retries that meet the same problem stay quiet."""
    deps.storage_ready = False
    message = str(exc)
    if deps.services.get("storage_error") != message:
        log.error(
            "database unavailable: %s; crisis replies still work; retrying every %.0f s",
            message,
            STORAGE_RETRY_SECONDS,
        )
        deps.services["storage_error"] = message
    else:
        log.debug("database still unavailable")


async def _retry_storage(context: Any) -> None:
    app = context.application
    if await open_storage(app) and await _run_start_hooks(app):
        context.job.schedule_removal()
        app.bot_data["deps"].services.pop("storage_error", None)
        log.info("database available again")


async def _run_start_hooks(app: Application) -> bool:  # type: ignore[type-arg]
    """Start the features that need storage; a storage fault here degrades, never crashes."""
    deps: Deps = app.bot_data["deps"]
    try:
        for hook in deps.services.get("start_hooks", []):
            await hook(app)
    except StorageError as exc:
        _storage_down(deps, exc)
        await deps.storage.close()
        return False
    return True


def _schedule_storage_retry(app: Application) -> None:  # type: ignore[type-arg]
    if app.job_queue is not None and not app.job_queue.get_jobs_by_name("storage-retry"):
        app.job_queue.run_repeating(
            _retry_storage,
            interval=STORAGE_RETRY_SECONDS,
            first=STORAGE_RETRY_SECONDS,
            name="storage-retry",
        )


async def set_commands(app: Application) -> None:  # type: ignore[type-arg]
    """Telegram's command menu in each client's language."""
    deps: Deps = app.bot_data["deps"]
    commands = registered_commands(app)
    for lang in deps.strings.languages:
        menu = [BotCommand(c, deps.strings.t(lang, f"commands.{c}")[:256]) for c in commands]
        code = None if lang == deps.strings.default else lang
        try:
            await app.bot.set_my_commands(menu, language_code=code)
        except TelegramError as exc:
            log.warning("could not set the command menu for %s: %s", lang, exc.__class__.__name__)


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    deps: Deps = app.bot_data["deps"]
    if deps.services.get("key_created"):
        log.warning(
            "created a new data key at %s: back it up; without it stored journals cannot be read",
            deps.settings.key_file,
        )
    await deps.services["scheduled_bot"].initialize()
    await set_commands(app)
    # Content, lexicons and handlers are loaded for good: keep them out of every later GC pass
    # (halved generation-2 pauses under load in the benchmark).
    gc.freeze()
    if not (await open_storage(app) and await _run_start_hooks(app)):
        _schedule_storage_retry(app)


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    deps: Deps = app.bot_data["deps"]
    try:
        await deps.services["scheduled_bot"].shutdown()
    finally:
        await deps.storage.close()
        log.info("stopped; database closed")
