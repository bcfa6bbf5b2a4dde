#!/usr/bin/env bash
# Debian's Chromium for the real-browser tests (playwright drives it; it never downloads a browser).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "Chromium absent et pas de droits root : les tests navigateur seront sautés."; exit 0; fi
echo "==> Installation de Chromium (paquet Debian)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
