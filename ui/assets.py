"""Theme, style sheet and the one script of the page. Kept in Python so that they ship with the package; the
theme uses the fonts bundled with Gradio (no font or asset is fetched from another host)."""

from __future__ import annotations

CSS = """
.gradio-container { max-width: 1380px !important; width: 100% !important; margin: 0 auto !important; min-width: 0 !important; }
#aimf-header { align-items: center; gap: 12px; border-bottom: 1px solid var(--border-color-primary);
  padding-bottom: 10px; margin-bottom: 4px; }
#aimf-header h1 { margin: 0; font-size: 1.55rem; font-weight: 700; color: var(--color-accent); letter-spacing: -0.01em; }
#aimf-header p { margin: 4px 0 0; color: var(--body-text-color-subdued); font-size: 0.95rem; }
#aimf-lang { max-width: 260px; }
#aimf-chat .message { font-size: 0.98rem; line-height: 1.55; }
.aimf-marker { display: inline-block; cursor: pointer; color: var(--color-accent); font-weight: 600; font-size: 0.78em;
  padding: 0 3px; margin-left: 1px; border-radius: 4px; background: var(--color-accent-soft); vertical-align: super;
  line-height: 1.2; }
.aimf-marker:hover { background: var(--color-accent); color: white; }
#aimf-sources-col h3 { margin: 0 0 6px; }
.aimf-sources { display: flex; flex-direction: column; gap: 10px; }
.aimf-empty p { color: var(--body-text-color-subdued); font-size: 0.92rem; margin: 6px 2px; }
.aimf-card { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent);
  border-radius: 8px; padding: 10px 12px; background: var(--background-fill-primary); cursor: pointer;
  transition: box-shadow .15s, border-color .15s; }
.aimf-card:hover, .aimf-card:focus { box-shadow: 0 2px 10px rgba(0,0,0,.08); outline: none; }
.aimf-card.aimf-selected { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.aimf-card-head { display: flex; gap: 8px; align-items: baseline; }
.aimf-num { flex: none; min-width: 1.6em; text-align: center; font-weight: 700; font-size: 0.85rem; color: white;
  background: var(--color-accent); border-radius: 5px; padding: 1px 5px; }
.aimf-card-title { font-weight: 600; font-size: 0.93rem; line-height: 1.3; }
.aimf-card-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 4px 0 6px; }
.aimf-score { white-space: nowrap; }
.aimf-meter { display: inline-block; width: 46px; height: 6px; border-radius: 3px; background: var(--border-color-primary);
  margin-left: 6px; vertical-align: middle; overflow: hidden; }
.aimf-meter span { display: block; height: 100%; background: var(--color-accent); }
.aimf-excerpt { margin: 0; padding: 0 0 0 8px; border-left: 2px solid var(--border-color-primary); font-size: 0.88rem;
  line-height: 1.5; white-space: pre-line; color: var(--body-text-color); }
.aimf-sources mark, .aimf-context mark { background: #ffe69c; color: inherit; padding: 0 1px; border-radius: 2px; }
.aimf-card-more { font-size: 0.78rem; color: var(--color-accent); margin-top: 6px; }
.aimf-abstain { border: 1px solid #f0c36d; background: #fff8e6; border-radius: 8px; padding: 10px 12px; color: #5c4400; }
.aimf-abstain p { margin: 4px 0 0; font-size: 0.88rem; }
.aimf-notice { border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  border-radius: 8px; padding: 8px 10px; font-size: 0.85rem; }
h4.aimf-further { margin: 6px 0 0; font-size: 0.95rem; }
details.aimf-further summary { cursor: pointer; font-size: 0.88rem; color: var(--body-text-color-subdued); margin: 4px 0; }
details.aimf-further .aimf-card { margin-top: 8px; border-left-color: var(--border-color-accent); }
.aimf-writer { font-size: 0.75rem; color: var(--body-text-color-subdued); text-align: right; }
.aimf-context-head { font-size: 0.78rem; text-transform: uppercase; letter-spacing: .05em;
  color: var(--body-text-color-subdued); }
.aimf-context-title { font-weight: 700; margin: 2px 0; }
.aimf-context-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); margin-bottom: 8px; }
.aimf-context-text { white-space: pre-wrap; font-size: 0.92rem; line-height: 1.6; max-height: 420px; overflow-y: auto;
  background: var(--background-fill-secondary); border-radius: 6px; padding: 10px 12px; }
#aimf-context-box { border: 1px solid var(--color-accent); border-radius: 10px; }
.aimf-pulse { animation: aimf-pulse 1.2s ease-in-out infinite; }
@keyframes aimf-pulse { 50% { opacity: .45; } }
#aimf-feedback { border: 1px dashed var(--border-color-primary); border-radius: 8px; padding: 6px 10px; }
#aimf-examples .gallery-item, #aimf-examples button { font-size: 0.88rem !important; }
footer { display: none !important; }
#aimf-docs, #aimf-docs * { font-family: var(--font) !important; }
#aimf-docs th .header { white-space: nowrap; word-break: normal; }
#aimf-docs { min-width: 0 !important; max-width: 100%; }
#aimf-docs .table-wrap { max-width: 100%; overflow-x: auto; }
/* Flex items grow to their widest child by default: the page's frame must not, or a wide table widens the page. */
.gradio-container > .main, .gradio-container > .main > .wrap, .gradio-container > .main > .wrap > main.contain {
  min-width: 0 !important; }
.aimf-lang-note { display: block; font-size: 0.85rem; color: var(--body-text-color-subdued); }
.aimf-around { color: var(--body-text-color-subdued); }
.aimf-fine-print, .aimf-fine-print p { font-size: 0.78rem !important; color: var(--body-text-color-subdued); }
.aimf-unsupported { font-size: 0.72em; font-weight: 600; color: #8a4b00; background: #fff0d6; border: 1px solid #f0c36d;
  border-radius: 4px; padding: 0 4px; margin-left: 3px; white-space: nowrap; vertical-align: 1px; }
.aimf-length { font-size: 0.82rem; color: #a3361a; margin: 4px 2px 0; }
/* Phones: the header stacks, and the passage view opens as a sheet over the bottom of the screen, where the tap was,
   instead of below the whole chat (about 900 px lower, off screen). */
@media (max-width: 768px) {
  #aimf-header { flex-direction: column; align-items: stretch; }
  #aimf-header > * { width: 100% !important; max-width: none !important; min-width: 0 !important; }
  #aimf-header h1 { font-size: 1.3rem; }
  #aimf-context-box { position: fixed !important; left: 6px; right: 6px; bottom: 6px; z-index: 1000; max-height: 72vh;
    overflow-y: auto; background: var(--background-fill-primary); box-shadow: 0 -6px 28px rgba(0, 0, 0, .25);
    padding: 8px; width: auto !important; }
  .aimf-context-text { max-height: 42vh; }
  #aimf-docs table { width: max-content !important; }
  #aimf-docs th:nth-child(1), #aimf-docs td:nth-child(1), #aimf-docs .virtual-row > .body-cell:nth-child(1) {
    width: 200px !important; min-width: 200px !important; max-width: 200px !important; flex: 0 0 200px !important; }
  #aimf-docs th:nth-child(2), #aimf-docs td:nth-child(2), #aimf-docs .virtual-row > .body-cell:nth-child(2) {
    width: 70px !important; min-width: 70px !important; max-width: 70px !important; flex: 0 0 70px !important; }
  #aimf-docs th:nth-child(3), #aimf-docs td:nth-child(3), #aimf-docs .virtual-row > .body-cell:nth-child(3) {
    width: 70px !important; min-width: 70px !important; max-width: 70px !important; flex: 0 0 70px !important; }
  #aimf-docs th:nth-child(4), #aimf-docs td:nth-child(4), #aimf-docs .virtual-row > .body-cell:nth-child(4) {
    width: 90px !important; min-width: 90px !important; max-width: 90px !important; flex: 0 0 90px !important; }
  #aimf-docs th:nth-child(5), #aimf-docs td:nth-child(5), #aimf-docs .virtual-row > .body-cell:nth-child(5) {
    width: 140px !important; min-width: 140px !important; max-width: 140px !important; flex: 0 0 140px !important; }
  #aimf-docs th:nth-child(6), #aimf-docs td:nth-child(6), #aimf-docs .virtual-row > .body-cell:nth-child(6) {
    width: 200px !important; min-width: 200px !important; max-width: 200px !important; flex: 0 0 200px !important; }
}
"""

# The sources panel's script: a click on a card, or on a [n] marker in the chat, asks the server for that passage.
# The Chatbot's sanitiser drops data- attributes, so markers carry turn and number in a class name.
SOURCES_JS = """
element.addEventListener('click', (e) => {
  const card = e.target.closest('.aimf-card');
  if (card) trigger('click', {turn: Number(card.dataset.turn), kind: card.dataset.kind, idx: Number(card.dataset.idx)});
});
element.addEventListener('keydown', (e) => {
  if ((e.key === 'Enter' || e.key === ' ') && e.target.classList && e.target.classList.contains('aimf-card')) {
    e.preventDefault(); e.target.click();
  }
});
window.__aimfShowSource = (data) => trigger('click', data);
if (!window.__aimfMarkerListener) {
  window.__aimfMarkerListener = true;
  document.addEventListener('click', (e) => {
    const m = e.target.closest ? e.target.closest('.aimf-marker') : null;
    if (!m) return;
    const found = /aimf-m-(\\d+)-(\\d+)/.exec(m.className);
    if (found && window.__aimfShowSource) window.__aimfShowSource({turn: Number(found[1]), kind: 'n', idx: Number(found[2])});
  });
}
"""


# Gradio's own words (the drop zone, the thumbs and the bin above the chat) come from the browser's language; this
# script gives them the interface's, again whenever Gradio redraws them. It also counts the question's characters
# once it passes the limit, rather than the box cutting a pasted question silently.
_HEAD_JS = """
(() => {
  const WORDS = {
    fr: {like: "J'aime", dislike: "Je n'aime pas", clear: "Effacer la conversation", drop: "Déposez le fichier ici",
         or: "- ou -", click: "Cliquez pour choisir un fichier",
         long: (n, max) => `Question trop longue : ${n.toLocaleString('fr-FR')} caractères (maximum ${max.toLocaleString('fr-FR')}).`},
    en: {like: "Like", dislike: "Dislike", clear: "Clear conversation", drop: "Drop the file here", or: "- or -",
         click: "Click to choose a file",
         long: (n, max) => `Question too long: ${n.toLocaleString('en')} characters (at most ${max.toLocaleString('en')}).`},
  };
  let lang = 'fr';
  const label = (el, text) => {
    if (el.getAttribute('aria-label') !== text) el.setAttribute('aria-label', text);
    if (el.title !== text) el.title = text;
  };
  const apply = () => {
    const w = WORDS[lang] || WORDS.fr;
    document.querySelectorAll('#aimf-chat .message-buttons').forEach((box) => {
      const b = box.querySelectorAll('button');  // feedback options (Like, Dislike) render as [dislike, like]
      if (b.length >= 2) { label(b[b.length - 2], w.dislike); label(b[b.length - 1], w.like); }
    });
    document.querySelectorAll('#aimf-chat .top-panel button').forEach((b) => label(b, w.clear));
    const or = document.querySelector('#aimf-upload span.or');
    if (or) {
      const set = (node, text) => { if (node && node.nodeType === 3 && node.nodeValue.trim() && node.nodeValue.trim() !== text) node.nodeValue = ` ${text} `; };
      let before = or.previousSibling; while (before && before.nodeType === 3 && !before.nodeValue.trim()) before = before.previousSibling;
      let after = or.nextSibling; while (after && after.nodeType === 3 && !after.nodeValue.trim()) after = after.nextSibling;
      set(before, w.drop); set(after, w.click);
      if (or.textContent !== w.or) or.textContent = w.or;
    }
    const box = document.querySelector('#aimf-question');
    const area = box && box.querySelector('textarea');
    if (area) {
      let note = box.querySelector('.aimf-length');
      const n = area.value.trim().length;
      const text = n > MAX_QUESTION ? w.long(n, MAX_QUESTION) : '';
      if (!note && text) { note = document.createElement('div'); note.className = 'aimf-length'; box.appendChild(note); }
      if (note && note.textContent !== text) note.textContent = text;
      if (!area.__aimfCounted) { area.__aimfCounted = true; area.addEventListener('input', apply); }
    }
  };
  let queued = false;
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; apply(); }); } };
  window.__aimfSetLang = (lg) => { lang = WORDS[lg] ? lg : 'fr'; document.documentElement.dataset.aimfLang = lang; apply(); };
  const start = () => {
    new MutationObserver(later).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                         attributeFilter: ['aria-label'], characterData: true});
    apply();
  };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
"""


def head_script(max_question_chars: int) -> str:
    return f"<script>const MAX_QUESTION = {int(max_question_chars)};{_HEAD_JS}</script>"


def theme():
    import gradio as gr

    # Fonts served by Gradio itself (LocalFont: files bundled in the gradio package), system fonts as fallbacks.
    # IBM Plex Sans ships regular, semibold and bold, so headings and titles need no synthetic bold.
    sans = [gr.themes.LocalFont("IBM Plex Sans", weights=(400, 600, 700)), "ui-sans-serif", "system-ui", "sans-serif"]
    mono = [gr.themes.LocalFont("IBM Plex Mono", weights=(400, 600)), "ui-monospace", "monospace"]
    return gr.themes.Default(
        font=sans,
        font_mono=mono,
        primary_hue=gr.themes.colors.blue,
        secondary_hue=gr.themes.colors.amber,
        neutral_hue=gr.themes.colors.slate,
        radius_size=gr.themes.sizes.radius_md,
    ).set(
        color_accent="#1f4e9c",
        color_accent_soft="#e3ecfa",
        button_primary_background_fill="#1f4e9c",
        button_primary_background_fill_hover="#173d7a",
        button_primary_text_color="white",
    )
