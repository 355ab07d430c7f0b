"""The `regiebot` command: run the bot, the console, migrations, checks and demo data."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings
    from commands.context import Services
    from commands.organisation import Member, Organisation

log = logging.getLogger("regiebot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regiebot", description="Regieteam-bot")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start de bot (console zonder Slack/Telegram-tokens)")
    console = sub.add_parser("console", help="chat in de terminal")
    console.add_argument("--as", dest="member", help="lid-id uit het organisatiebestand "
                         "(alleen op de demodatabase of met --beheerder)")
    console.add_argument("--beheerder", action="store_true",
                         help="mag als ieder lid werken (/als, --as); wordt vastgelegd")
    db = sub.add_parser("db", help="database")
    db.add_argument("action", choices=["upgrade"])
    config = sub.add_parser("config", help="organisatiebestand")
    config.add_argument("action", choices=["check"])
    config.add_argument("file", type=Path)
    sub.add_parser("demo", help="vul een lege database met verzonnen voorbeeldcasussen")
    reminders = sub.add_parser("reminders", help="herinneringen")
    reminders.add_argument("action", choices=["list"])
    reminders.add_argument("--due", action="store_true", help="alleen wat nu verstuurd moet worden")
    sub.add_parser("secret-key", help="maak een nieuwe sleutel voor REGIEBOT_SECRET_KEY")
    figures = sub.add_parser("cijfers", help="de cijfers van /rapport")
    figures.add_argument("action", choices=["herbereken"],
                         help="tel de cijfers opnieuw uit alle casussen")
    _audit_parser(sub)
    _privacy_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Start-up imports and builds long-lived objects (modules, models, the organisation) and
    # hardly any garbage: the garbage collector's walks over them are paused until `run`
    # serves (run_platforms freezes what was built, then resumes it) or another command
    # starts its work.
    gc.disable()
    try:
        return _main(args)
    finally:
        gc.enable()


def _main(args: argparse.Namespace) -> int:
    from bot import logging_setup
    from bot.settings import Settings, SettingsError
    from commands.organisation import OrganisationError

    try:
        logging_setup.configure(Settings(), console=_is_console(args))
        return _dispatch(args)
    except (OrganisationError, SettingsError) as exc:
        print(f"regiebot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _is_console(args: argparse.Namespace) -> bool:
    """The console chat, asked for or as the fallback of `run` without platform tokens."""
    from bot.settings import Settings

    return args.command == "console" or (
        args.command == "run" and not Settings().platform_enabled and sys.stdin.isatty())


def _text(template: str, **data: object) -> str:
    from messages.render import renderer

    return renderer("plain").text(template, **data)


def _dispatch(args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from commands.organisation import load_organisation

    settings = Settings()
    if not (args.command == "run" and settings.platform_enabled):
        gc.enable()  # only `run` with a platform keeps the collector paused until it serves
    if args.command == "config":
        org = load_organisation(args.file)
        print(_text("cli/config_in_orde", bestand=args.file, teams=len(org.regieteams),
                    partners=len(org.partners), leden=len(org.members)))
        return 0
    if args.command == "secret-key":
        from cryptography.fernet import Fernet

        print(Fernet.generate_key().decode())
        return 0
    if args.command == "db":
        from store.db import MigrationRefused, upgrade

        try:
            upgrade(settings.database_url, secret_key=settings.secret_key)
        except MigrationRefused as exc:
            print(f"regiebot: {exc}", file=sys.stderr)
            return 2
        return 0
    org = load_organisation(settings.config)  # fail early, with the line, before anything starts
    if args.command == "run" and not settings.platform_enabled and not sys.stdin.isatty():
        # A service without tokens would read end-of-input, stop, and restart for ever.
        print(_text("cli/geen_platform_geen_terminal"), file=sys.stderr)
        return 3
    if args.command == "console" or (args.command == "run" and not settings.platform_enabled):
        return asyncio.run(_console(settings, getattr(args, "member", None),
                                    _console_admin(args)))
    if args.command == "run":
        from bot.platforms import require_shared_webhook_secret, run_platforms
        from store.db import schema_is_current

        require_shared_webhook_secret(settings)
        if not schema_is_current(settings.database_url):  # migrations are a separate step
            print(_text("cli/database_niet_bijgewerkt"), file=sys.stderr)
            return 2

        asyncio.run(run_platforms(settings, org=org))
        return 0
    if args.command == "demo":
        return asyncio.run(_demo(settings))
    if args.command == "reminders":
        return asyncio.run(_reminders(settings, args.due))
    if args.command == "cijfers":
        return asyncio.run(_recount_figures(settings))
    if args.command == "audit":
        return asyncio.run(_audit_export(settings, args))
    if args.command in PRIVACY_COMMANDS:
        return asyncio.run(_privacy(settings, args))
    return 2


async def _console(settings: Settings, member_id: str | None, admin: bool = False) -> int:
    from bot.console.chat import run_console
    from bot.runtime import build_services, close_services

    services = await build_services(settings, runs_scheduler=True)
    member = services.org.member(member_id) if member_id else _default_member(services.org)
    if member is None:
        print(_text("cli/lid_onbekend", lid=member_id, bestand=settings.config), file=sys.stderr)
        return 2
    if member_id and not await _may_act_as(services, member, admin):
        await close_services(services)
        return 2
    from bot.console.courier import ConsoleCourier
    from bot.delivery import Deliveries
    from bot.scheduler import start_scheduler

    deliveries = Deliveries([ConsoleCourier(services, sys.stdout)])
    scheduler = await start_scheduler(services, deliveries, settings)
    try:
        await run_console(services, member, deliveries, admin=admin)
    finally:
        await scheduler.stop()
        await close_services(services)
    return 0


def _default_member(org: Organisation) -> Member:
    melders = org.with_role("melder")
    return melders[0] if melders else org.members[0]


async def _demo(settings: Settings) -> int:
    from bot.demo import run_demo

    return await run_demo(settings)


async def list_reminders(services: Services, due_only: bool, limit: int = 1000) -> list[str]:
    """Plain lines for `regiebot reminders list [--due]` (no personal data)."""
    from commands.reminders import reminder_list
    from messages.render import renderer

    plain = renderer("plain")
    return [plain.render(line) for line in await reminder_list(services, due_only, limit)]


async def _reminders(settings: Settings, due_only: bool) -> int:
    from bot.runtime import build_services, close_services

    services = await build_services(settings)
    try:
        for line in await list_reminders(services, due_only):
            print(line)
    finally:
        await close_services(services)
    return 0


async def _recount_figures(settings: Settings) -> int:
    """`regiebot cijfers herbereken`: rebuild the rollups of /rapport from the cases."""
    from bot.runtime import build_services, close_services
    from commands.rollups import rebuild_figures

    services = await build_services(settings)
    try:
        rebuilt = await rebuild_figures(services)
    finally:
        await close_services(services)
    print(_text("cli/cijfers_herberekend", casussen=rebuilt.cases, tellingen=rebuilt.count_rows,
                doorlooptijden=rebuilt.lead_time_rows))
    return 0


# --- the audit: acting as someone else on the console, and the export -------------------------


def _audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="de audit: wie zag of wijzigde welke gegevens")
    audit.add_argument("action", choices=["export"])
    audit.add_argument("--van", help="vanaf deze dag (dd-mm-jjjj)")
    audit.add_argument("--tot", help="tot en met deze dag (dd-mm-jjjj)")
    audit.add_argument("--casus", help="alleen deze casus (RT-…)")
    audit.add_argument("--uit", type=Path, help="schrijf de CSV naar dit bestand (anders: stdout)")


def _console_admin(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "beheerder", False)) or os.environ.get("REGIEBOT_CONSOLE_ADMIN") == "1"


async def _may_act_as(services: Services, member: Member, admin: bool) -> bool:
    """`console --as`: only on the demo database or as beheerder; recorded with the OS user."""
    from bot.console.chat import operating_system_user
    from commands import audit
    from commands.replies import CommandRefused

    asked = services.asked("console", "--as", operating_system_user())
    try:
        ground = await audit.switch_ground(asked, admin)
    except CommandRefused:
        print(_text("audit/als_geweigerd_start", lid=member.id), file=sys.stderr)
        return False
    await audit.record_role_switch(asked, None, member, ground)
    return True


async def _audit_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.chat import operating_system_user
    from bot.runtime import build_services, close_services
    from commands import audit
    from commands.replies import CommandRefused

    services = await build_services(settings)
    operator = operating_system_user()
    try:
        query = audit.audit_query(args.casus, args.van, args.tot)
        content = await audit.export_for_operator(services.asked("cli", "audit export", operator),
                                                  query)
    except CommandRefused as refused:
        print(_text(refused.message.template, **refused.message.data), file=sys.stderr)
        return 2
    finally:
        await close_services(services)
    if args.uit is None:
        sys.stdout.write(content.decode("utf-8"))
        return 0
    args.uit.parent.mkdir(parents=True, exist_ok=True)
    args.uit.touch(mode=0o600)  # member ids and times only, still not for everyone's eyes
    args.uit.write_bytes(content)
    print(_text("audit/geschreven", pad=args.uit, regels=content.count(b"\r\n") - 1,
                bediener=operator), file=sys.stderr)
    return 0


# --- the AVG duties: inzage, correction, erasure, retention, key rotation ---------------------

PRIVACY_COMMANDS = ("inzage", "corrigeer", "vergeet", "privacy", "key")


def _privacy_parsers(sub: Any) -> None:
    inzage = sub.add_parser("inzage", help="alles wat over een huishouden is opgeslagen (HTML en JSON)")
    inzage.add_argument("reference", metavar="RT-…")
    inzage.add_argument("--uit", type=Path, default=None,
                        help="map voor de bestanden (standaard var/inzage)")
    correct = sub.add_parser("corrigeer", help="corrigeer naam, adres of postcode van een huishouden")
    correct.add_argument("reference", metavar="RT-…")
    correct.add_argument("--naam")
    correct.add_argument("--adres")
    correct.add_argument("--postcode")
    correct.add_argument("--reden", help="waarom (verplicht, zonder namen)")
    forget = sub.add_parser("vergeet", help="wis persoonsgegevens en vrije tekst van een gesloten casus")
    forget.add_argument("reference", metavar="RT-…")
    forget.add_argument("--reden", help="waarom (verplicht, zonder namen)")
    privacy = sub.add_parser("privacy", help="bewaartermijn: wat gewist moet worden")
    privacy.add_argument("action", choices=["due", "apply"],
                         help="due: toon wat over de bewaartermijn is; apply: wis dat nu")
    key = sub.add_parser("key", help="sleutel")
    key.add_argument("action", choices=["rotate"],
                     help="versleutel alles opnieuw met de eerste sleutel van REGIEBOT_SECRET_KEY")


def _operator() -> Any:
    import getpass

    from commands.privacy import Operator

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "onbekend"
    return Operator(door="cli", user=user[:32])


async def _privacy(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import build_services, close_services
    from commands.privacy import refusal_text
    from commands.replies import CommandRefused, FormInvalid

    services = await build_services(settings)
    try:
        lines = await _privacy_command(services, args)
    except (CommandRefused, FormInvalid) as refused:
        from messages.render import renderer

        for message in refusal_text(refused):
            print(f"regiebot: {renderer('plain').render(message)}", file=sys.stderr)
        return 1
    finally:
        await close_services(services)
    for line in lines:
        print(line)
    return 0


async def _privacy_command(services: Any, args: argparse.Namespace) -> list[str]:
    from commands import privacy
    from commands.cases import normalise_reference

    if args.command == "inzage":
        return [await _write_inzage(services, args.reference, args.uit)]
    if args.command == "corrigeer":
        changes = {"naam": args.naam, "adres": args.adres, "postcode": args.postcode}
        fields = await privacy.correct_personal_data(services, args.reference, _operator(), changes,
                                                     args.reden)
        return [_text("privacy/gecorrigeerd", referentie=normalise_reference(args.reference),
                      velden=fields)]
    if args.command == "vergeet":
        reference = await privacy.forget_household(services, args.reference, _operator(), args.reden)
        return [_text("privacy/vergeten", referentie=reference)]
    if args.command == "key":
        report = await privacy.rotate_key(services, _operator())
        return [_text("privacy/sleutel_geroteerd", aantal=report.total, actueel=report.current,
                      sleutels=services.cipher.key_count)]
    months = services.org.rules.retention_months
    if args.action == "apply":
        erased = await privacy.apply_retention(services)
        return [_text("privacy/bewaartermijn_gewist", referenties=erased, maanden=months)]
    due = await privacy.due_for_erasure(services)
    if not due:
        return [_text("privacy/bewaartermijn_leeg", maanden=months)]
    return [_text("privacy/bewaartermijn_regel", referentie=item.reference, gesloten=item.closed_on,
                  nazorg=item.last_nazorg, wissen=item.erase_on) for item in due]


async def _write_inzage(services: Any, reference: str, folder: Path | None) -> str:
    import json
    import os

    from bot.settings import VAR_DIR
    from commands import privacy
    from messages.inzage import inzage_html
    from store.db import owner_only_dir

    found = await privacy.inzage(services, reference)
    folder = folder or VAR_DIR / "inzage"
    owner_only_dir(folder)
    stamp = services.local(found.made_at).strftime("%Y%m%d-%H%M%S")
    document = found.document()
    html = inzage_html(found)
    written = []
    for suffix, content in (("html", html + "\n"),
                            ("json", json.dumps(document, ensure_ascii=False, indent=2) + "\n")):
        path = folder / f"inzage-{found.reference}-{stamp}.{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        path.chmod(0o600)
        written.append(str(path))
    await privacy.record_inzage(services, found.reference, _operator(), [Path(p).name for p in written])
    return _text("privacy/inzage_geschreven", referentie=found.reference, bestanden=written)


if __name__ == "__main__":
    raise SystemExit(main())
