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

// A code fence's language as highlight.js names it, or null.
function langName(raw) {
  const name = (raw || '').trim().split(/\s/)[0].toLowerCase();
  if (!/^[\w+#.-]{1,32}$/.test(name)) return null;
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

// Code blocks are highlighted while marked writes the HTML, so that the
// whole answer goes through DOMPurify once (highlight.js escapes the
// code; DOMPurify checks the result anyway). A language not loaded yet
// is noted in `wanted` and the block left plain.
const wanted = new Set();
marked.use({
  renderer: {
    code(token) {
      const lang = langName(token.lang);
      if (!lang || !languages[lang]) return false;
      if (!hljs || !hljs.getLanguage(lang)) {
        wanted.add(lang);
        return false;
      }
      const html = hljs.highlight(token.text,
        { language: lang, ignoreIllegals: true }).value;
      return `<pre><code class="hljs language-${lang}">${html}</code></pre>\n`;
    },
  },
});

function decorate(pre) {
  const code = pre.querySelector('code');
  if (!code) return;
  const m = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
  const copy = el('button', { type: 'button', class: 'copy-code' }, 'Copy code');
  copy.addEventListener('click', async () => {
    const ok = await copyText(code.textContent);
    copy.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => { copy.textContent = 'Copy code'; }, 1500);
  });
  pre.prepend(el('div', { class: 'code-head' },
    el('span', {}, m ? m[1] : 'text'), copy));
}

// md rendered and sanitised, as a fragment; onLoaded() is called once
// the grammars its code blocks asked for are loaded (to render again).
function fragmentOf(md, onLoaded) {
  wanted.clear();
  const frag = DOMPurify.sanitize(marked.parse(md || ''), PURIFY);
  for (const pre of frag.querySelectorAll('pre')) decorate(pre);
  if (wanted.size) {
    const loads = [...wanted].map(ensureLanguage);
    if (onLoaded) Promise.all(loads).then(onLoaded);
  }
  return frag;
}

const shown = new WeakMap();   // target -> the text it shows

// Highlights, in place, the code blocks of target left plain because
// their grammar was not loaded yet (the kept blocks of a streamed
// answer are not rendered again). highlight.js escapes the code; its
// output is sanitised all the same.
function highlightPlain(target) {
  for (const code of target.querySelectorAll(
    'pre > code[class*="language-"]:not(.hljs)')) {
    const m = /(?:^|\s)language-(\S+)/.exec(code.className);
    const lang = m && langName(m[1]);
    if (!lang || !hljs || !hljs.getLanguage(lang)) continue;
    const html = hljs.highlight(code.textContent,
      { language: lang, ignoreIllegals: true }).value;
    code.replaceChildren(DOMPurify.sanitize(html, PURIFY));
    code.classList.add('hljs');
  }
}

// Replaces target's children with md rendered; returns nothing.
export function renderMarkdown(target, md) {
  shown.set(target, md);
  target.replaceChildren(fragmentOf(md, () => {
    if (target.isConnected && shown.get(target) === md) {
      renderMarkdown(target, md);
    }
  }));
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

// Renders a text that grows at its end (an answer being written) in time
// proportional to what changed, not to its whole length: the text up to
// its last blank line outside a code fence is made of finished blocks,
// rendered once and kept; only the rest (the tail) is rendered again on
// each call. st is the caller's per-message state ({} at first). A block
// split by a blank line (a loose list) may show as two until the answer
// ends and is rendered whole with renderMarkdown.
export function renderStreaming(target, md, st) {
  if (!st.tail || !st.tail.isConnected || !md.startsWith(st.kept)) {
    st.tail = document.createElement('div');
    st.tail.className = 'md-tail';
    st.done = 0;          // the length of the text in kept blocks
    st.kept = '';         // that text
    st.scan = 0;          // where the next unscanned line starts
    st.inFence = false;   // the scan is inside a code fence
    st.fence = '';
    st.boundary = 0;      // the last safe place to cut
    target.replaceChildren(st.tail);
  }
  for (;;) {
    const nl = md.indexOf('\n', st.scan);
    if (nl < 0) break;
    const line = md.slice(st.scan, nl);
    const f = FENCE.exec(line);
    if (f && !st.inFence) {
      st.inFence = true;
      st.fence = f[1];
    } else if (f && st.inFence && f[1][0] === st.fence[0] &&
               f[1].length >= st.fence.length && !line.trim().slice(f[1].length)) {
      st.inFence = false;
    } else if (!st.inFence && line.trim() === '') {
      st.boundary = nl + 1;
    }
    st.scan = nl + 1;
  }
  if (st.boundary > st.done) {
    target.insertBefore(fragmentOf(md.slice(st.done, st.boundary),
      () => highlightPlain(target)), st.tail);
    st.done = st.boundary;
    st.kept = md.slice(0, st.done);
  }
  st.tail.replaceChildren(fragmentOf(md.slice(st.done),
    () => highlightPlain(target)));
  shown.delete(target);
}
