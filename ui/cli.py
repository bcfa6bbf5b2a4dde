"""`aimf ui [--host 127.0.0.1] [--port 7860] [--no-auth]`: the chat in the browser.

Binds the loopback address by default. Any other address needs accounts (``AIMF_UI_AUTH="user:password"``, several
pairs separated by commas) or an explicit ``--no-auth``. The model and the index are loaded once, before the page
opens, and shared by every visitor; the queue lets at most ``AIMF_UI_CONCURRENCY`` answers run at once.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

AUTH_HELP = (
    'Définissez des comptes avant de lancer l\'interface, par exemple :\n'
    '  export AIMF_UI_AUTH="marie:mot-de-passe"            (un compte)\n'
    '  export AIMF_UI_AUTH="marie:secret1,paul:secret2"    (plusieurs comptes, séparés par des virgules)\n'
    "ou, en connaissance de cause, passez --no-auth."
)


class AuthError(ValueError):
    pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="adresse d'écoute (127.0.0.1 par défaut : seulement cette machine)")
    p.add_argument("--port", type=int, default=7860, help="port d'écoute (7860 par défaut)")
    p.add_argument("--no-auth", action="store_true",
                   help="autoriser une adresse publique sans comptes (déconseillé)")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None) -> list[tuple[str, str]]:
    """``"user:password,user2:password2"`` -> [(user, password), …]; a malformed pair is an error."""
    pairs = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise AuthError(f"AIMF_UI_AUTH mal formé près de « {user.strip() or item[:20]} » : attendu utilisateur:mot-de-passe")
        pairs.append((user.strip(), password))
    return pairs


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rag.settings import get_settings

    settings = get_settings()
    from rag.observability import configure_logging

    configure_logging(settings)  # one line per question (JSON lines with AIMF_LOG_JSON)
    try:
        auth = parse_auth(settings.ui_auth)
    except AuthError as exc:
        print(f"Erreur : {exc}\n{AUTH_HELP}", file=sys.stderr)
        return 2
    if not is_loopback(args.host) and not auth and not args.no_auth:
        print(
            f"Refus d'écouter sur {args.host} sans authentification : l'interface serait ouverte à tout le réseau.\n"
            f"{AUTH_HELP}",
            file=sys.stderr,
        )
        return 2
    if not 1 <= args.port <= 65535:
        print("Erreur : --port doit être compris entre 1 et 65535.", file=sys.stderr)
        return 2

    assistant = warm_assistant(settings)

    from ui.app import build_app

    app = build_app(assistant, settings)
    app.launch(server_name=args.host, server_port=args.port, auth=auth or None, share=False, quiet=True,
               prevent_thread_lock=True,
               auth_message="Assistant documentaire de l'AIMF : identifiez-vous." if auth else None)
    where = f"http://{'127.0.0.1' if is_loopback(args.host) else args.host}:{args.port}"
    print(f"Interface prête : {where}  (Ctrl+C pour arrêter)", file=sys.stderr, flush=True)
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


def warm_assistant(settings):
    """The assistant with its model and index loaded, for a skin that serves many users (the chat, the API). A
    missing or unreachable index is said, not fatal: the skin still starts (uploads, or a Chroma server that comes
    back) and each question repeats the message."""
    from rag.assistant import Assistant
    from rag.store import IndexMismatchError, IndexMissingError, IndexUnavailableError

    print("Chargement du modèle et de l'index…", file=sys.stderr, flush=True)
    assistant = Assistant(settings)
    try:
        assistant.warm_up()
    except (IndexMissingError, IndexMismatchError, IndexUnavailableError) as exc:
        print(f"Attention : {exc}", file=sys.stderr, flush=True)
    return assistant
