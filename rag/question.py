"""What a question asks about: the names, years and amounts it is constrained by, and its parts.

One mechanism for every question, no list of cases: a sentence answers only when its own words, its passage's title
and heading, or the sentence before it hold every constraint the question names. "Quel montant a été mobilisé pour
les villes du Cameroun ?" is not answered by the parallel sentence about Senegal, whatever its score.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass, field

from rag.text import NUMBER_WORDS, ORDINAL_WORDS, fold, tokens

# Capitalised words that are not names (sentence starts, titles of address, question words).
NOT_NAMES = {"m", "mme", "mr", "mrs", "the", "le", "la", "les", "l", "what", "who", "which", "how", "quel", "quelle",
             "quels", "quelles", "qui", "que", "quoi", "quand", "comment", "combien", "pourquoi", "where", "when",
             "why", "whose", "whom", "est", "is", "are", "was", "were", "did", "does", "do", "en", "dans", "in", "a",
             "au", "aux", "de", "des", "du", "et", "and", "or", "ou", "pour", "for", "selon", "according"}
# "Napoléon Ier", "le XVIIIe siècle": an ordinal, not a name. Upper-case numerals only: "Lille" and "Ville" are names.
ROMAN_ORDINAL = re.compile(r"[IVXLC]+(?:er|re|e|ème|ieme|ième)")
_CONNECTORS = {"of", "the", "and", "for", "de", "du", "des", "la", "le", "les", "et", "d", "l"}
_WORD = re.compile(r"[\w'’-]+")
_YEAR = re.compile(r"(1[89]|20)\d\d")
# "la 99e réunion", "the 42nd congress": which one of a series is asked about.
_ORDINAL = re.compile(r"\d+(?:e|ème|eme|er|re|è|th|st|nd|rd)", re.I)
# Nouns that number the parts of a series: "la phase 2" is not "la phase 3".
_SERIES = re.compile(r"phase|lot|tranche|etape|step|stage|round|volet|axe|article|chapitre|chapter|niveau|level|zone|"
                     r"edition|session|cycle|saison|season|numero|number|no|programme|program")
# Months are a date's part the question may be constrained by ("en juin 2022"), written in each language's words.
MONTHS = ("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre".split(),
          "january february march april may june july august september october november december".split())
_MONTH_NUMBER = {m: i for names in MONTHS for i, m in enumerate(names)}
_CALENDAR = set(_MONTH_NUMBER) | set("lundi mardi mercredi jeudi vendredi samedi dimanche monday tuesday wednesday "
                                     "thursday friday saturday sunday".split())


def normalize_typography(text: str) -> str:
    """Typography folded once, where text enters: curly apostrophes and quotes, non-breaking and thin spaces,
    ligatures (NFKC), so that "l’AIMF" and "l'AIMF" are one word for every later step."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("ʼ", "'")
    return re.sub(r"[ \t\u00a0\u202f\u2009]+", " ", text)


@dataclass(frozen=True)
class Constraint:
    """A name or a year the question relies on, as written in it."""

    text: str
    kind: str  # "name" | "year" | "ordinal" | "month" | "label" | "title" | "count"
    # The word that introduces it ("à" Dakar, "du" Cameroun, "en" 2024), preposition forms merged: a sentence that
    # introduces another name the same way ("du Sénégal") is the parallel sentence about another subject. For a
    # count, what it counts ("projet" in "les 14 projets"): another number of projects is the parallel one.
    lead: str = field(default="", compare=False)

    @property
    def folded(self) -> str:
        return fold(self.text).replace("-", " ")


@dataclass
class Frame:
    constraints: list[Constraint] = field(default_factory=list)
    # Constraints given as alternatives ("à Dakar et à Abidjan"): each is asked about in turn, one part each.
    alternatives: list[Constraint] = field(default_factory=list)


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", re.sub(r"^(?:[ldjmnst]|qu)['’]", "", word, flags=re.I))


def _capitalised_neighbour(words: list[str], i: int, step: int) -> bool:
    """Whether the word next to words[i] (over connectors like "of the") is capitalised: part of a name."""
    j = i + step
    while 0 <= j < len(words) and words[j].lower() in _CONNECTORS:
        j += step
    return 0 < j < len(words) and _bare(words[j])[:1].isupper() and abs(j - i) <= 3


_LEADS = {"d": "de", "du": "de", "des": "de", "de": "de", "of": "de", "a": "a", "au": "a", "aux": "a", "at": "a",
          "in": "a", "en": "en", "dans": "a", "pour": "pour", "for": "pour", "l": "le", "la": "le", "le": "le",
          "les": "le", "the": "le", "par": "par", "by": "par", "avec": "avec", "with": "avec"}


def _lead(words: list[str], i: int) -> str:
    """The preposition or article before words[i] (an elided "d'"/"l'" counts), merged to one form; inside a run of
    capitalised words, the word before it ("Nord" in "la Ville Nord" is led by "Ville", as "Sud" in "la Ville Sud")."""
    elided = re.match(r"^([dl])['’]", words[i], re.I)
    before = elided.group(1) if elided else (words[i - 1] if i > 0 else "")
    if not elided and before[:1].isupper() and words[i][:1].isupper() and fold(before) not in NOT_NAMES:
        return "name:" + fold(before)
    return _LEADS.get(fold(before), "")


# A number counting something the question is about: "les 14 projets votés à Tunis", "the 12 projects": digit groups
# ("457 300"), a decimal ("3,8 millions"), followed by the word it counts; not a year, a day ("le 24 mai") nor an
# ordinal written apart ("au 20 ème siècle").
_COUNT = re.compile(r"(?<![\w.,/-])(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)((?:[.,]\d+)?)(?![\w.,/-]*\d)\s+"
                    r"(?!(?:" + "|".join(m for names in MONTHS for m in names) + r"|e|ème|eme|er|ere|re|è|th|st|nd|rd)\b)"
                    r"([^\W\d_][\w'’-]*)", re.I)


def _counts(question: str) -> list[Constraint]:
    out = []
    for m in _COUNT.finditer(question):
        number = re.sub(r"\s", "", m.group(1))
        before = _WORD.findall(question[: m.start()])
        if (len(number) == 4 and _YEAR.fullmatch(number)) or (before and _SERIES.fullmatch(fold(before[-1]))):
            continue  # a year, or "phase 3" (a label)
        counted = tokens(_bare(m.group(3)), keep_stop_words=True)
        out.append(Constraint(number + m.group(2).replace(",", "."), "count", counted[0] if counted else ""))
    return out


# A title quoted in a question: « … », “ … ” or "…".
QUOTED_TITLE = re.compile(r"[«“\"]\s*([^«»“”\"]{3,120}?)\s*[»”\"]")


def constraints(question: str, names: bool = True, skip_first: bool = True) -> list[Constraint]:
    """Proper names and years the question relies on. ``names=False`` (a question in another language than the
    documents) keeps only years, acronyms and lone capitalised words: runs of them are institutions whose names get
    translated ("European Union" is "Union européenne" in the text), a lone one is a place or a person. A question's
    first word is capitalised as any sentence start is: ``skip_first`` leaves it out."""
    # asked again for the same question and sentences while each sentence is weighed (``parallel``)
    return list(_constraints(question, names, skip_first))


@functools.lru_cache(maxsize=8192)
def _constraints(question: str, names: bool, skip_first: bool) -> tuple[Constraint, ...]:
    words = _WORD.findall(question)
    out: list[Constraint] = []
    for i, w in enumerate(words):
        bare = _bare(w).strip("-")
        span = re.fullmatch(r"((?:1[89]|20)\d\d)[-–/]((?:1[89]|20)?\d\d)", bare)  # "2015-2021", "2019/20"
        if span:
            out += [Constraint(span.group(1), "year", _lead(words, i)),
                    Constraint(span.group(1)[: 4 - len(span.group(2))] + span.group(2), "year", "")]
            continue
        if i > 0 and _SERIES.fullmatch(fold(words[i - 1])) and re.fullmatch(r"\d{1,3}", bare):
            out.append(Constraint(f"{words[i - 1]} {bare}", "label", ""))  # "phase 2", "lot 3": which of a series
            continue
        if _YEAR.fullmatch(bare):
            out.append(Constraint(bare, "year", _lead(words, i)))
            continue
        if fold(bare) in _MONTH_NUMBER and fold(bare) != "may" and (fold(bare) != "mars" or i > 0):
            out.append(Constraint(bare, "month", _lead(words, i)))  # "May" is also a verb, "Mars" a planet
            continue
        if _ORDINAL.fullmatch(bare):
            out.append(Constraint(re.match(r"\d+", bare).group(0), "ordinal", _lead(words, i)))
            continue
        is_acronym = bare.isupper() and len(bare) > 1
        lone = not (_capitalised_neighbour(words, i, -1) or _capitalised_neighbour(words, i, 1))
        if (names or is_acronym or lone) and (i > 0 or not skip_first) and bare[:1].isupper() and fold(bare) not in NOT_NAMES \
                and len(bare) > 2 and not ROMAN_ORDINAL.fullmatch(bare) and fold(bare) not in _CALENDAR:
            out.append(Constraint(bare, "name", _lead(words, i)))
    out += _counts(question)
    # A quoted title ("la commission « Villes innovantes, intelligentes et responsables »") names one thing with all
    # its words, lower-case ones too: a commission whose title shares its first word is another commission.
    for m in QUOTED_TITLE.finditer(question if names else ""):  # across languages a title is translated
        if len(tokens(m.group(1))) > 1:
            out.append(Constraint(m.group(1).strip(), "title"))
    return tuple(dict.fromkeys(out))


# "à Dakar et à Abidjan", "Dakar and Abidjan", "en 2022 et en 2023": one ask about two subjects.
_JOINED = re.compile(r"([\w'’-]+)\s*,?\s+(?:et|and|ou|or)\s+(?:(?:à|a|en|au|aux|de|du|des|in|at|for|pour|the|la|le|les|l')\s+)*"
                     r"([\w'’-]+)")


def frame(question: str, names: bool = True) -> Frame:
    """The question's constraints, with those it joins by "et"/"and" set apart as alternatives."""
    found = constraints(question, names)
    by_text = {c.text: c for c in found}
    alternatives: list[Constraint] = []
    for m in _JOINED.finditer(question):
        a, b = by_text.get(_bare(m.group(1))), by_text.get(_bare(m.group(2)))
        if a and b and a.kind == b.kind and a != b:
            alternatives += [c for c in (a, b) if c not in alternatives]
    return Frame([c for c in found if c not in alternatives], alternatives)


# A clause starting with its own question word: "Qui a signé l'accord et en quelle année ?" asks two things.
_SECOND_ASK = re.compile(r"\s(?:et|and|,)\s+(?=(?:qui|quand|où|combien|quel|quelle|quels|quelles|à quelle|en quelle|"
                         r"(?:dans|de|par|pour|avec|sur) (?:quel|quelle|quels|quelles|qui)|"
                         r"depuis quand|who|when|where|how many|how much|what year|which year|in which|in what)\b)",
                         re.I)
# Kinds of constraint that set two subjects against each other even when not joined by "et": "les ressources de 2008
# dépassaient le budget de 2019", "la 97e réunion … la 101e".
_COMPARED = {"year", "ordinal", "label"}
_RANGE = re.compile(r"\b((?:1[89]|20)\d\d)\s*(?:[-–/]|\s(?:à|au|to|until)\s)\s*((?:1[89]|20)?\d\d)\b")


def periods_of(question: str) -> list[tuple[str, str]]:
    """The periods the question names, as (first year, last year): "2019-2023", "de 2014 à 2018"."""
    return [(m.group(1), m.group(1)[: 4 - len(m.group(2))] + m.group(2)) for m in _RANGE.finditer(question)]


def clauses(question: str) -> list[str]:
    """The question cut where a second question word starts a clause; one clause for most questions."""
    return _SECOND_ASK.split(question)


# One thing that two statements describe, each possibly in its own document: "Parmi les villes attendues à Yaoundé,
# laquelle a coorganisé le séminaire ?" (the set, then what one of its members did), "Which city both pays a grant and
# started the partnership?", "Quel élu a participé à la fois à la signature et à la réunion ?".
_AMONG = re.compile(r"^\s*(?:parmi|among|of)\s+(?P<set>.+),\s*(?P<ask>(?:lequel|laquelle|lesquels|lesquelles|quels?|"
                    r"quelles?|qui|which|who|what)\b.+)$", re.I)
# "Quelle ville, parmi les membres du Bureau, a accueilli …" (the set set apart inside the question)
_AMONG_INSIDE = re.compile(r"^\s*(?P<head>(?:quel|quelle|quels|quelles|which|what|who|qui)\b[^,]{0,40}),\s*"
                           r"(?:parmi|among)\s+(?P<set>[^,]+),\s*(?P<ask>.+)$", re.I)
_BOTH = re.compile(r"^(?P<head>.+?)\s+(?:both|à la fois)\s+(?P<a>.+?)\s+(?:and|et)\s+(?P<b>.+?)\s*[?.!]*$", re.I)
_PLURAL_ASK = re.compile(r"\b(?:lesquels|lesquelles|quels|quelles|which \w+s|what \w+s)\b", re.I)


def _conjunct_form(question: str) -> re.Match | None:
    return _AMONG.match(question) or _AMONG_INSIDE.match(question) or _BOTH.match(question)


def conjuncts(question: str) -> list[str]:
    """The two statements of a question asking for what both describe, each a query of its own ("les villes
    attendues à Yaoundé" / "laquelle a coorganisé le séminaire"; "Which city pays a grant" / "Which city started the
    partnership"); empty for any other question."""
    m = _conjunct_form(question)
    if m is None:
        return []
    found = m.groupdict()
    if "a" in found:  # both … and …
        head = found["head"].strip()
        return [f"{head} {found['a'].strip()}", f"{head} {found['b'].strip()}"]
    ask = found["ask"].strip()
    return [found["set"].strip(), f"{found['head'].strip()} {ask}" if "head" in found else ask]


def conjunct_kind(question: str) -> str:
    """The words saying what kind of thing a question about two statements asks for: "les Agences de l'eau",
    "Which city"; empty for any other question."""
    m = _conjunct_form(question)
    if m is None:
        return ""
    return " ".join((m.group("set") if "set" in m.groupdict() else m.group("head")).split()[:4])


# A total or a difference of two figures: "… au total", "De combien … dépasse …", "Quel écart …", "How many more …".
_SUM = re.compile(r"\b(?:au total|en tout|in total|altogether|combined|together|cumul\w*|additionn\w*)\b", re.I)
_DIFFERENCE = re.compile(r"\b(?:de combien|écart|différence|difference|gap|how (?:many|much) more|by how (?:many|much)|"
                         r"dépass\w*|exceed\w*|progress\w*|augment\w*|grew|grow\w*|increas\w*|diminu\w*|baiss\w*|"
                         r"decreas\w*|fell|séparent|separate)\b", re.I)


def operation(question: str) -> str | None:
    """"+" for a total asked over two figures, "-" for a difference, None otherwise."""
    if _DIFFERENCE.search(question):
        return "-"
    return "+" if _SUM.search(question) else None


# Two figures each known by what it is, not by two dates or names of one kind: "De combien <la subvention
# européenne> dépasse-t-elle <l'apport du FFEM> ?", "Quel écart entre <A> et <B> ?", "Combien d'années séparent <A>
# et <B> ?", "How many projects in total at <its Tunis meeting> and <its Hué meeting> ?".
_EXCEEDS = re.compile(r"^\s*(?:de combien|by how (?:much|many))\s+(?P<a>.+?)\s+(?:dépass|exceed|surpass)\w*"
                      r"(?:(?:-t)?-(?:il|elle|ils|elles|on))?\s+(?P<b>.+?)[\s?.!]*$", re.I)
_BETWEEN = re.compile(r"^(?P<head>.*?)\b(?:entre|between)\s+(?P<a>.+?)\s+(?:et|and)\s+(?P<b>.+?)[\s?.!]*$", re.I)
_SEPARATE = re.compile(r"^(?P<head>.*?)\b(?:séparent|separate)\s+(?P<a>.+?)\s+(?:et|and|from)\s+(?P<b>.+?)[\s?.!]*$", re.I)
_PREPOSITIONS = r"at|in|during|for|à|au|aux|en|lors d[eu']|pendant|pour"
_TWO_PLACES = re.compile(rf"^(?P<head>.+?\b(?:{_PREPOSITIONS}))\s+(?P<a>.+?)\s+(?:and|et)\s+(?:(?:{_PREPOSITIONS})\s+)?"
                         r"(?P<b>.+?)[\s?.!]*$", re.I)


def compared(question: str) -> list[str]:
    """The two figures a total or a difference is asked over, each as a query of its own ("la subvention européenne
    2022-2025" / "l'apport du FFEM à la phase 3 de FEDACAM"), when each is told apart by words of its own; empty
    otherwise, and when the two differ only by a date ("entre 2016 et 2021", "la phase 2014-2018 … la phase
    2019-2023": one subject at two dates, read by the question's dates)."""
    op = operation(question)
    if op is None:
        return []
    m = (_EXCEEDS.match(question) or _SEPARATE.match(question) or _BETWEEN.match(question)) if op == "-" \
        else _TWO_PLACES.match(question)
    if m is None:
        return []
    found = m.groupdict()
    head = found.get("head", "") or ""
    descriptions = [found["a"].strip(" ,"), found["b"].strip(" ,")]
    dated = {t for d in descriptions for c in constraints(d, skip_first=False) if c.kind in ("year", "month")
             for t in tokens(c.text)}
    own = [set(tokens(d)) - dated for d in descriptions]
    if not (own[0] - own[1]) or not (own[1] - own[0]):
        return []
    return [re.sub(r"\s+", " ", f"{head} {d}").strip() for d in descriptions]


def asks_for_several(question: str) -> bool:
    """Whether the question asks for several things ("lesquelles", "which cities"), not one."""
    return bool(_PLURAL_ASK.search(question))


def parts(question: str) -> list[str]:
    """One query for each part of a question whose parts may live in different documents, each part keeping only
    its own subject: the two asks of "Quel montant à Hué en 2025, et combien à Tunis en 2015 ?", the two subjects of
    "les congrès de 2021 et de 2024", the two figures of a total or a difference ("les ressources de 2008 … le
    budget de 2019": see ``compared``). Empty for a one-part question. Two parts at most. A question about what two statements both describe has the two statements."""
    joined = conjuncts(question)
    if joined:
        return joined
    figures = compared(question)
    if figures:
        return figures
    asks = clauses(question)
    if len(asks) > 1:
        own = [constraints(a, skip_first=i == 0) for i, a in enumerate(asks)]
        return asks[:2] if all(own) and set(own[0]) != set(own[1]) else []
    found = frame(question)
    subjects = found.alternatives
    if len(subjects) < 2:
        # "2019-2023" is one period, not two subjects
        ranged = {y for period in periods_of(question) for y in period}
        set_against = [c for c in found.constraints if c.kind in _COMPARED and c.text not in ranged]
        kinds = [c.kind for c in set_against]
        subjects = [c for c in set_against if kinds.count(c.kind) == 2]
    if len(subjects) < 2:
        return []
    out = []
    for kept in subjects[:2]:
        query = question
        for other in subjects:
            if other != kept:
                query = re.sub(rf"(?<!\w){re.escape(other.text)}(?!\w)", " ", query)
        out.append(re.sub(r"\s+", " ", query).strip())
    return out


def holds(constraint: Constraint, folded_context: str) -> bool:
    """Whether the (folded, hyphens as spaces) context names the constraint: the word itself at a word start, or,
    for a name of six letters or more, a spelling one or two letters away: people misspell the names they ask
    about ("Guesaldo" for "Gesualdo"), and English spells some places differently ("Cameroon", "Cameroun")."""
    name = constraint.folded
    if constraint.kind == "month":  # "juin" or "June"
        n = _MONTH_NUMBER[name]
        return any(re.search(rf"(?<!\w){names[n]}(?!\w)", folded_context) for names in MONTHS)
    if constraint.kind == "label":  # "phase 2": the noun and its number, side by side
        noun, number = name.rsplit(" ", 1)
        return re.search(rf"(?<!\w){re.escape(noun)}\w{{0,2}}\s+{number}(?!\d)", folded_context) is not None
    if constraint.kind == "count":  # "14" or "quatorze"/"fourteen"; "457 300" however its digit groups are spaced
        return _count_held(name, folded_context)
    if constraint.kind == "title":  # every word of the title, in any order and form (stems)
        return set(tokens(constraint.text)) <= _stems(folded_context)
    if constraint.kind == "ordinal":  # "99e", "99ème", "99th": the number followed by an ordinal ending, or in words
        if re.search(rf"(?<!\d){name}\s?(?:e|eme|er|re|th|st|nd|rd)\b", folded_context):
            return True
        words = ORDINAL_WORDS.get(int(name), ())
        return any(re.search(rf"(?<!\w){w}(?!\w)", folded_context) for w in words)
    if re.search(rf"(?<!\w){re.escape(name)}", folded_context):
        return True
    if constraint.kind != "name":
        return False
    if " " in name:  # a hyphenated name, misspelt ("Siri-Ferruch" for "Sidi-Ferruch"): as many words, close enough
        n = name.count(" ") + 1
        words = folded_context.split()
        return any(difflib.SequenceMatcher(None, name, " ".join(words[i:i + n])).ratio() >= 0.8
                   for i in range(len(words) - n + 1))
    # the same name in the singular or the plural ("États" asked, "État" written)
    number = name[:-1] if name.endswith(("s", "x")) else name + "s"
    if re.search(rf"(?<!\w){re.escape(number)}(?!\w)", folded_context):
        return True
    if len(name) < 6:
        return False
    words = set(re.findall(rf"\b\w{{{len(name) - 2},{len(name) + 2}}}\b", folded_context))
    return bool(difflib.get_close_matches(name, words, n=1, cutoff=0.8))


# "14" -> ["quatorze", "fourteen"]
_NUMBER_NAMES = {str(v): [w for w, x in NUMBER_WORDS.items() if x == v] for v in set(NUMBER_WORDS.values())}


def _count_held(number: str, folded_context: str) -> bool:
    digits = re.sub(r"(?<=\d)[ .](?=\d{3}(?!\d))", "", folded_context).replace(",", ".")
    if re.search(rf"(?<![\d.]){re.escape(number)}(?!\.?\d)", digits):
        return True
    return any(re.search(rf"(?<!\w){w}(?!\w)", folded_context) for w in _NUMBER_NAMES.get(number, ()))


@functools.lru_cache(maxsize=4096)
def _stems(folded_context: str) -> frozenset[str]:
    return frozenset(tokens(folded_context))


def context_text(*parts: str) -> str:
    """The folded form ``holds`` reads."""
    return re.sub(r"\s+", " ", fold(" ".join(p for p in parts if p)).replace("-", " "))


def untranslated_names(question: str, folded_context: str) -> list[str]:
    """Across languages a run of capitalised words may be translated word by word ("European Union" is "Union
    européenne"), so ``constraints(names=False)`` leaves runs out; but a run none of whose words appears in any
    form, the word or its first five letters at a word start ("James Wolfe", "Coupe Stanley"), is named nowhere."""
    lenient = {c.text for c in constraints(question, names=False)}
    runs: list[list[str]] = []
    last = -2
    positions = {_bare(w).strip("-"): i for i, w in enumerate(_WORD.findall(question))}
    for c in constraints(question):
        if c.kind != "name" or c.text in lenient:
            continue
        i = positions.get(c.text, -2)
        if runs and 0 < i - last <= 3:
            runs[-1].append(c.text)
        else:
            runs.append([c.text])
        last = i
    # five letters are under holds' misspelling length: the prefix itself, at a word start
    return [" ".join(run) for run in runs
            if not any(holds(Constraint(fold(w)[:5], "name"), folded_context) for w in run)]


def missing(found: list[Constraint], folded_context: str) -> list[Constraint]:
    return [c for c in found if not holds(c, folded_context)]


def parallel(c: Constraint, sentence: str, question: str) -> list[Constraint]:
    """Names or years of the sentence introduced as the constraint is in the question but not in the question:
    "pour les villes du Sénégal" against "pour les villes du Cameroun", "en 2022" against "en 2024"."""
    asked = {x.folded for x in constraints(question)}
    return [x for x in constraints(sentence, skip_first=False)
            if x.kind == c.kind and c.lead and x.lead == c.lead and x.folded not in asked]
