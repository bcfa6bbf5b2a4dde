"""Cheap language guess (French or English) from function words: enough to pick the answer's language."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zà-öø-ÿœæ']+", re.IGNORECASE)

_FR = frozenset(
    "le la les un une des du de d l au aux et ou est sont été être a ont avec pour par dans sur qui que quoi "
    "quel quelle quels quelles comment pourquoi combien où ce cette ces son sa ses leur leurs nous vous ils elles "
    "il elle ne pas plus en y se qu c s j n m t lors depuis quand".split()
)
_EN = frozenset(
    "the a an and or is are was were be been has have had with for by in on of to what which who whom whose how "
    "why when where this that these those his her its their we you they he she it not do does did from at as "
    "into about than".split()
)

_FR_ASKING = frozenset("qui que qu quel quelle quels quelles comment pourquoi combien où quand lequel laquelle "
                       "lesquels lesquelles".split())
_EN_ASKING = frozenset("who whom whose what which how why when where is are was were do does did can could".split())


def detect_lang(text: str, default: str = "fr") -> str:
    """Return "fr" or "en" (French wins ties: the assistant is French-first)."""
    words = [w.lower().strip("'") for w in _WORD.findall(text)]
    # Elided forms (l', d', qu') are a strong French signal.
    fr = sum(w in _FR for w in words) + 2 * len(re.findall(r"\b(?:l|d|qu|c|j|n|s)'\w", text, re.IGNORECASE))
    en = sum(w in _EN for w in words)
    # The question word is the question's own language; a title or a name quoted in it may be another one
    # ("Qui a écrit The Spirit and the Flesh ?").
    if words and words[0] in _FR_ASKING:
        fr += 2
    elif words and words[0] in _EN_ASKING:
        en += 2
    if fr == en:
        return default
    return "fr" if fr > en else "en"
