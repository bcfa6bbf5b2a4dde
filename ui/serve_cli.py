"""`aimf serve [--host 127.0.0.1] [--port 8000]`: the HTTP API (OpenAI-compatible chat, search, documents).

Binds the loopback address by default. Any other address needs API keys (``AIMF_API_KEYS``, and
``AIMF_API_ADMIN_KEYS`` for the documents' operations): the command refuses to start without them. The model and the
index are loaded before the port opens. The process keeps no conversation: run several behind a load balancer.
"""

from __future__ import annotations

import argparse
import os
import sys

KEYS_HELP = (
    "Définissez des clés avant de lancer l'API, par exemple :\n"
    '  export AIMF_API_KEYS="une-longue-cle-secrete"              (clés des utilisateurs, séparées par des virgules)\n'
    '  export AIMF_API_ADMIN_KEYS="une-autre-cle-secrete"         (clés qui peuvent aussi ajouter ou retirer des documents)\n'
    "Une clé se génère par exemple avec : python -c \"import secrets; print(secrets.token_urlsafe(32))\""
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="adresse d'écoute (127.0.0.1 par défaut : seulement cette machine)")
    p.add_argument("--port", type=int, default=8000, help="port d'écoute (8000 par défaut)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rag.observability import configure_logging
    from rag.settings import get_settings
    from ui.api import parse_keys
    from ui.cli import is_loopback

    settings = get_settings()
    configure_logging(settings)
    if not 1 <= args.port <= 65535:
        print("Erreur : --port doit être compris entre 1 et 65535.", file=sys.stderr)
        return 2
    keys = parse_keys(settings.api_keys) + parse_keys(settings.api_admin_keys)
    if not is_loopback(args.host) and not keys:
        print(f"Refus d'écouter sur {args.host} sans clé d'API : l'assistant serait ouvert à tout le réseau.\n{KEYS_HELP}",
              file=sys.stderr)
        return 2

    import uvicorn

    from ui.api import create_app
    from ui.cli import warm_assistant

    assistant = warm_assistant(settings)  # /healthz reports a missing index
    app = create_app(assistant, settings)
    where = f"http://{'127.0.0.1' if is_loopback(args.host) else args.host}:{args.port}"
    print(f"API prête : {where}/v1  (documentation : {where}/docs ; Ctrl+C pour arrêter)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
