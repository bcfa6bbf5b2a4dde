"""Interface labels in French (the default) and English. Only the interface is translated: answers follow the
language of the question, and documents keep theirs."""

from __future__ import annotations

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"

LABELS: dict[str, dict[str, str]] = {
    "title": {"fr": "Assistant documentaire de l'AIMF", "en": "AIMF document assistant"},
    "subtitle": {
        "fr": "Posez vos questions sur les documents de l'association : chaque réponse cite les passages exacts "
              "sur lesquels elle s'appuie, et l'assistant dit quand les documents ne répondent pas.",
        "en": "Ask questions about the association's documents: every answer cites the exact passages it rests on, "
              "and the assistant says when the documents do not answer.",
    },
    "lang_switch": {"fr": "Langue de l'interface", "en": "Interface language"},
    "tab_chat": {"fr": "Discussion", "en": "Chat"},
    "tab_docs": {"fr": "Documents", "en": "Documents"},
    "chat_label": {"fr": "Conversation", "en": "Conversation"},
    "chat_placeholder": {
        "fr": "**Bienvenue !** Posez une question sur les documents indexés, ou choisissez un exemple ci-dessous.",
        "en": "**Welcome!** Ask a question about the indexed documents, or pick an example below.",
    },
    "question_label": {"fr": "Votre question", "en": "Your question"},
    "question_placeholder": {
        "fr": "Écrivez votre question puis appuyez sur Entrée…",
        "en": "Type your question and press Enter…",
    },
    "send": {"fr": "Envoyer", "en": "Send"},
    "new_chat": {"fr": "Nouvelle conversation", "en": "New conversation"},
    "examples": {"fr": "Exemples de questions", "en": "Example questions"},
    "settings": {"fr": "Réglages", "en": "Settings"},
    "writer": {"fr": "Rédaction de la réponse", "en": "Answer writer"},
    "writer_info": {
        "fr": "Les rédacteurs indisponibles sont grisés, avec la raison.",
        "en": "Unavailable writers are greyed out, with the reason.",
    },
    "writer_extractive": {"fr": "Extractive (phrases tirées des documents, sans modèle de langue)",
                          "en": "Extractive (sentences taken from the documents, no language model)"},
    "writer_llamacpp": {"fr": "Modèle local (llama.cpp)", "en": "Local model (llama.cpp)"},
    "writer_openai": {"fr": "Serveur compatible OpenAI", "en": "OpenAI-compatible server"},
    "unavailable": {"fr": "indisponible", "en": "unavailable"},
    "writer_refused": {
        "fr": "Ce rédacteur est indisponible ({reason}) : la réponse extractive reste sélectionnée.",
        "en": "This writer is unavailable ({reason}): the extractive answer stays selected.",
    },
    "k": {"fr": "Nombre de passages consultés", "en": "Number of passages retrieved"},
    "doc_filter": {"fr": "Chercher seulement dans…", "en": "Search only in…"},
    "doc_filter_info": {"fr": "Vide : tous les documents.", "en": "Empty: all documents."},
    "sources": {"fr": "Sources", "en": "Sources"},
    "sources_empty": {
        "fr": "Les passages cités apparaîtront ici, numérotés comme dans la réponse. Cliquez sur un numéro ou une "
              "carte pour lire le passage dans son contexte.",
        "en": "The cited passages will appear here, numbered as in the answer. Click a number or a card to read the "
              "passage in context.",
    },
    "searching": {"fr": "Recherche dans les documents…", "en": "Searching the documents…"},
    "page": {"fr": "page", "en": "page"},
    "relevance": {"fr": "pertinence estimée", "en": "estimated relevance"},
    "relevance_help": {"fr": "Probabilité estimée que ce passage réponde à la question",
                       "en": "Estimated probability that this passage answers the question"},
    "similarity": {"fr": "similarité", "en": "similarity"},
    "show_context": {"fr": "Voir le passage dans son contexte", "en": "Show the passage in context"},
    "abstained_title": {"fr": "Pas de réponse dans les documents", "en": "No answer in the documents"},
    "abstained_body": {
        "fr": "L'assistant ne répond pas quand les documents ne contiennent pas l'information, plutôt que d'inventer.",
        "en": "The assistant does not answer when the documents do not hold the information, rather than invent it.",
    },
    "further": {"fr": "Pour aller plus loin", "en": "Further reading"},
    "also_retrieved": {"fr": "Également retrouvé", "en": "Also retrieved"},
    "context_title": {"fr": "Passage en contexte", "en": "Passage in context"},
    "section": {"fr": "Section", "en": "Section"},
    "file": {"fr": "Fichier", "en": "File"},
    "chars": {"fr": "caractères", "en": "characters"},
    "close": {"fr": "Fermer", "en": "Close"},
    "written_extractive": {"fr": "Réponse citée mot pour mot depuis les documents (sans modèle de langue).",
                           "en": "Answer quoted word for word from the documents (no language model)."},
    "written_llamacpp": {"fr": "Réponse rédigée par le modèle de langue local, à partir des passages cités.",
                         "en": "Answer written by the local language model from the cited passages."},
    "written_openai": {"fr": "Réponse rédigée par le modèle de langue du serveur, à partir des passages cités.",
                       "en": "Answer written by the server's language model from the cited passages."},
    "written_other": {"fr": "Réponse rédigée par : {name}.", "en": "Answer written by: {name}."},
    "lang_note_quoted": {"fr": "Réponse citée depuis des documents en {doc_lang}.",
                         "en": "Answer quoted from {doc_lang} documents."},
    "lang_note_based": {"fr": "Réponse fondée sur des documents en {doc_lang}.", "en": "Answer based on {doc_lang} documents."},
    "lang_name_fr": {"fr": "français", "en": "French"},
    "lang_name_en": {"fr": "anglais", "en": "English"},
    "unsupported": {"fr": "non étayé", "en": "unsupported"},
    "unsupported_help": {"fr": "Les passages cités ne confirment pas cette phrase : vérifiez-la avant de la reprendre.",
                         "en": "The cited passages do not confirm this sentence: check it before using it."},
    "feedback_thanks": {
        "fr": "Merci pour votre avis ! Un commentaire pour les évaluateurs ? (facultatif)",
        "en": "Thank you for your feedback! A comment for the evaluators? (optional)",
    },
    "comment_label": {"fr": "Commentaire", "en": "Comment"},
    "comment_placeholder": {
        "fr": "Ce qui manque, ce qui est faux, la réponse attendue…",
        "en": "What is missing, what is wrong, the expected answer…",
    },
    "send_comment": {"fr": "Envoyer le commentaire", "en": "Send the comment"},
    "feedback_saved": {"fr": "Merci, votre avis est enregistré.", "en": "Thank you, your feedback is saved."},
    "comment_saved": {"fr": "Merci, votre commentaire est enregistré.", "en": "Thank you, your comment is saved."},
    "comment_too_long": {
        "fr": "Commentaire trop long ({n} caractères, maximum {max}) : raccourcissez-le puis renvoyez-le.",
        "en": "Comment too long ({n} characters, at most {max}): shorten it and send it again.",
    },
    "feedback_stored": {
        "fr": "Un avis enregistre la question, la réponse, ses citations et votre commentaire ; il est conservé "
              "{days} jours au plus.",
        "en": "Feedback stores the question, the answer, its citations and your comment; it is kept at most {days} "
              "days.",
    },
    "feedback_stored_forever": {
        "fr": "Un avis enregistre la question, la réponse, ses citations et votre commentaire.",
        "en": "Feedback stores the question, the answer, its citations and your comment.",
    },
    "feedback_nothing": {"fr": "Aucune réponse à évaluer pour l'instant.", "en": "No answer to rate yet."},
    "feedback_removed": {"fr": "Avis retiré.", "en": "Feedback withdrawn."},
    "error_unexpected": {
        "fr": "Une erreur inattendue est survenue. Réessayez ; si elle persiste, prévenez l'administrateur "
              "(détails dans le journal du serveur).",
        "en": "An unexpected error occurred. Try again; if it persists, tell the administrator (details in the "
              "server log).",
    },
    "error_index": {
        "fr": "L'index des documents est momentanément indisponible. Réessayez dans un instant : la connexion sera "
              "rétablie automatiquement.",
        "en": "The document index is unavailable right now. Try again in a moment: the connection will be restored "
              "automatically.",
    },
    "docs_intro": {
        "fr": "Les documents indexés, dans lesquels l'assistant cherche ses réponses.",
        "en": "The indexed documents, where the assistant looks for its answers.",
    },
    "docs_refresh": {"fr": "Actualiser", "en": "Refresh"},
    "col_title": {"fr": "Titre", "en": "Title"},
    "col_kind": {"fr": "Type", "en": "Type"},
    "col_pages": {"fr": "Pages", "en": "Pages"},
    "col_chunks": {"fr": "Passages", "en": "Passages"},
    "col_date": {"fr": "Indexé le", "en": "Indexed on"},
    "col_source": {"fr": "Fichier", "en": "File"},
    "docs_count": {"fr": "{n} document(s), {c} passage(s).", "en": "{n} document(s), {c} passage(s)."},
    "upload_label": {"fr": "Ajouter un document", "en": "Add a document"},
    "upload_help": {
        "fr": "Formats acceptés : {types}. Taille maximale : {mb:g} Mo. Le fichier est copié dans le corpus puis indexé.",
        "en": "Accepted formats: {types}. Maximum size: {mb:g} MB. The file is copied into the corpus, then indexed.",
    },
    "upload_button": {"fr": "Indexer le document", "en": "Index the document"},
    "upload_disabled": {
        "fr": "L'ajout de documents depuis l'interface est désactivé par l'administrateur.",
        "en": "Adding documents from the interface is turned off by the administrator.",
    },
    "upload_none": {"fr": "Choisissez d'abord un fichier.", "en": "Choose a file first."},
    "upload_type": {
        "fr": "Format non pris en charge ({ext}) : formats acceptés : {types}.",
        "en": "Unsupported format ({ext}): accepted formats: {types}.",
    },
    "upload_size": {
        "fr": "Fichier trop volumineux ({size:.1f} Mo) : la limite est de {mb:g} Mo.",
        "en": "File too large ({size:.1f} MB): the limit is {mb:g} MB.",
    },
    "upload_ok": {"fr": "« {name} » est indexé : {chunks} passage(s).", "en": "“{name}” is indexed: {chunks} passage(s)."},
    "upload_same": {
        "fr": "« {name} » était déjà indexé (contenu identique) : rien à faire.",
        "en": "“{name}” was already indexed (same content): nothing to do.",
    },
    "upload_failed": {"fr": "« {name} » n'a pas pu être indexé : {reason}", "en": "“{name}” could not be indexed: {reason}"},
}


# Settings a writer's unavailability may name, in words a user reads (the reasons come from rag/ in French).
SETTING_NAMES: dict[str, dict[str, str]] = {
    "AIMF_LLM_MODEL_PATH": {"fr": "le fichier du modèle local", "en": "the local model file"},
    "AIMF_LLM_BASE_URL": {"fr": "l'adresse du serveur de modèle", "en": "the model server's address"},
    "AIMF_LLM_MODEL": {"fr": "le nom du modèle", "en": "the model name"},
    "AIMF_LLM_API_KEY": {"fr": "la clé d'accès au serveur", "en": "the server's access key"},
}
_REASONS: list[tuple[str, dict[str, str]]] = [
    (r"^(AIMF_[A-Z_]+) non défini$", {"fr": "{setting} n'est pas configuré", "en": "{setting} is not configured"}),
    (r"^serveur injoignable à (.+)$", {"fr": "serveur injoignable ({0})", "en": "server unreachable ({0})"}),
    (r"^llama-cpp-python n'est pas installé.*$",
     {"fr": "le moteur local (llama-cpp-python) n'est pas installé", "en": "the local engine (llama-cpp-python) is not installed"}),
]


def human_reason(reason: str, lang: str) -> str:
    """A writer's unavailability in plain words: setting names replaced by what they are."""
    import re

    for pattern, texts in _REASONS:
        m = re.match(pattern, reason.strip())
        if m:
            groups = m.groups()
            named = groups[0] if groups and groups[0].startswith("AIMF_") else ""
            setting = SETTING_NAMES.get(named, {}).get(lang, named)
            return (texts.get(lang) or texts[DEFAULT_LANG]).format(*groups, setting=setting)
    return re.sub(r"AIMF_[A-Z_]+", lambda m: SETTING_NAMES.get(m.group(0), {}).get(lang, m.group(0)), reason)


def t(key: str, lang: str = DEFAULT_LANG, **values) -> str:
    entry = LABELS[key]
    text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**values) if values else text


def norm_lang(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT_LANG
