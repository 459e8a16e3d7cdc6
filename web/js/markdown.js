// markdown.js: model output rendered as Markdown, safely.
//
// marked turns the text into HTML and does not sanitise it, so the HTML
// always goes through DOMPurify before it reaches the page, as a DOM
// fragment (never innerHTML of a raw string). Links open in a new tab
// with rel="noopener noreferrer"; images other than data: URLs are
// dropped (the CSP would block them, and a remote image could carry data
// out after a prompt injection). Code blocks get a language label and a
// "Copy code" button, and are highlighted by highlight.js, whose core
// and grammars load on first use.

import { DOMPurify, marked, loadHighlight, languages, aliases }
  from '../vendor/index.js';
import { el, copyText } from './dom.js';

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  // Forms and controls in an answer could pose as the page's own UI;
  // style is blocked by the CSP anyway.
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select',
    'option', 'dialog'],
  FORBID_ATTR: ['style', 'id', 'name'],
};

let hljs = null;             // highlight.js once loaded
let hljsLoading = null;
const loadingLangs = new Map();   // language -> promise of its grammar

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
  "'": '&#39;' };

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Raw HTML in an answer is shown as the text it is, not parsed: a model
// has no business writing markup into the page, and an event-handler
// attribute is then never even parsed (Chromium reports a CSP violation
// on parsing one, even in DOMPurify's inert document). DOMPurify still
// checks what Markdown itself makes (a javascript: link, say).
marked.use({
  gfm: true,
  breaks: false,
  renderer: {
    html(token) {
      return escapeHtml(token.text);
    },
  },
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  } else if (node.tagName === 'IMG') {
    const src = node.getAttribute('src') || '';
    if (!/^data:image\/(png|gif|jpeg|webp);/i.test(src)) {
      node.removeAttribute('src');
      node.removeAttribute('srcset');
    }
  }
});

function langOf(code) {
  const m = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
  if (!m) return null;
  const name = m[1].toLowerCase();
  return aliases[name] || name;
}

// Loads highlight.js and a grammar; resolves true when it can be used.
function ensureLanguage(lang) {
  if (!languages[lang]) return Promise.resolve(false);
  if (!hljsLoading) {
    hljsLoading = loadHighlight().then((h) => { hljs = h; return h; });
  }
  if (!loadingLangs.has(lang)) {
    loadingLangs.set(lang, Promise.all([hljsLoading, languages[lang]()])
      .then(([h, mod]) => {
        h.registerLanguage(lang, mod.default);
        return true;
      }).catch(() => false));
  }
  return loadingLangs.get(lang);
}

function highlightNow(code, lang) {
  if (!hljs || !hljs.getLanguage(lang)) return false;
  const res = hljs.highlight(code.textContent, { language: lang,
    ignoreIllegals: true });
  // highlight.js escapes the text it wraps; its output is sanitised
  // anyway, as everything put into the page from an answer is.
  code.replaceChildren(DOMPurify.sanitize(res.value, PURIFY));
  code.classList.add('hljs');
  return true;
}

function decorate(pre) {
  const code = pre.querySelector('code');
  if (!code) return;
  const lang = langOf(code);
  const copy = el('button', { type: 'button', class: 'copy-code' }, 'Copy code');
  copy.addEventListener('click', async () => {
    const ok = await copyText(code.textContent);
    copy.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => { copy.textContent = 'Copy code'; }, 1500);
  });
  pre.prepend(el('div', { class: 'code-head' },
    el('span', {}, lang || 'text'), copy));
  if (lang && !highlightNow(code, lang)) {
    ensureLanguage(lang).then((ok) => {
      if (ok && code.isConnected) highlightNow(code, lang);
    });
  }
}

// Replaces target's children with md rendered; returns nothing.
export function renderMarkdown(target, md) {
  const frag = DOMPurify.sanitize(marked.parse(md || ''), PURIFY);
  for (const pre of frag.querySelectorAll('pre')) decorate(pre);
  target.replaceChildren(frag);
}
