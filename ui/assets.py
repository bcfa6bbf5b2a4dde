"""Theme, style sheet and the one script of the page. Kept in Python so that they ship with the package; the
theme uses the fonts bundled with Gradio (no font or asset is fetched from another host)."""

from __future__ import annotations

CSS = """
.gradio-container { max-width: 1380px !important; margin: 0 auto !important; }
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
