// screen-util.js: helpers shared by the settings and admin screens, on
// top of dom.js: labelled fields and sections, a per-section line for
// errors (role=alert) and successes (role=status), a control disabled
// while its request runs, a secret shown once, and the formatting of
// dates, numbers, money and API errors.

import { el, modal, copyText } from './dom.js';

// A field: its label tied to the control by for/id (the control's
// accessible name is exactly `label`), and an optional hint tied by
// aria-describedby, outside the label so that it is not part of the name.
let fieldSeq = 0;
export function field(label, control, hint) {
  const n = ++fieldSeq;
  if (!control.id) control.id = `field-${n}`;
  let hintNode = null;
  if (hint) {
    hintNode = el('span', { id: `hint-${n}`, class: 'field-hint' }, hint);
    control.setAttribute('aria-describedby', hintNode.id);
  }
  return el('div', { class: 'field' },
    el('label', { for: control.id }, label), control, hintNode);
}

// A <section> labelled by its <h2>.
export function section(title, cls) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return el('section', { class: cls ? `panel ${cls}` : 'panel',
    'aria-labelledby': id }, el('h2', { id }, title));
}

// The last outcome of a section's requests, in one line at its end: an
// error as role=alert, created only when there is one (a screen without
// errors has no alert element), a success as role=status.
export class Notice {
  constructor(parent) {
    this.parent = parent;
    this.node = null;
  }

  show(message, kind = 'error') {
    const role = kind === 'error' ? 'alert' : 'status';
    if (!this.node || this.node.getAttribute('role') !== role) {
      this.clear();
      this.node = el('p', { class: `notice notice-${kind}`, role });
      this.parent.append(this.node);
    }
    this.node.textContent = message;
  }

  ok(message) {
    this.show(message, 'ok');
  }

  error(err) {
    this.show(errorText(err), 'error');
  }

  clear() {
    if (this.node) this.node.remove();
    this.node = null;
  }

  // Drops an error but keeps the outcome of something the person did, so
  // a list reloading under them does not erase "password set".
  clearError() {
    if (this.node && this.node.getAttribute('role') === 'alert') this.clear();
  }
}

// Why a request failed, for a person: the server's message (its code in
// brackets, for a bug report), or why it never reached the server.
export function errorText(err) {
  if (err && typeof err.status === 'number') {
    if (err.code === 'too_many_attempts') {
      return 'Too many attempts: wait a little and try again.';
    }
    if (err.message && err.message !== err.code) {
      return `${capital(err.message)} (${err.code}).`;
    }
    return `The server answered ${err.status} (${err.code}).`;
  }
  return `The server cannot be reached: ${err && err.message ? err.message : err}.`;
}

function capital(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// Runs fn() with the controls disabled and the first marked aria-busy,
// restoring them when it settles whatever the outcome; returns fn()'s
// promise. Keeps a second click from sending the request twice. Calls
// may overlap on a control (a search typed while the last one runs):
// each holds it, and the last to settle gives back the state it had
// before the first.
const holds = new WeakMap();   // control -> {n: holders, was: disabled}
export async function busy(controls, fn) {
  const list = Array.isArray(controls) ? controls : [controls];
  for (const c of list) {
    const h = holds.get(c);
    if (h) {
      h.n += 1;
    } else {
      holds.set(c, { n: 1, was: c.disabled });
      c.disabled = true;
    }
  }
  list[0].setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    for (const c of list) {
      const h = holds.get(c);
      h.n -= 1;
      if (h.n === 0) {
        holds.delete(c);
        c.disabled = h.was;
        if (c === list[0]) c.removeAttribute('aria-busy');
      }
    }
  }
}

// A secret (an API key, a generated password) in a dialog with "Copy"
// and "Done", this once: closing the dialog (Done or Esc) empties the
// element and removes the dialog, so it cannot be read again from the
// page either. Focus then goes to returnTo: the button that asked was
// disabled while its request ran, so the browser has no focus to restore.
export function showSecretOnce(title, text, secret, returnTo) {
  const value = el('code', { class: 'secret', 'data-secret': true }, secret);
  const dlg = modal(title, (d) => {
    const copy = el('button', { type: 'button' }, 'Copy');
    copy.addEventListener('click', async () => {
      copy.textContent = await copyText(secret) ? 'Copied' : 'Copy failed';
      setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
    });
    d.append(el('h2', {}, title), el('p', {}, text),
      el('p', { class: 'secret-box' }, value),
      el('div', { class: 'actions' }, copy,
        el('button', { type: 'button', class: 'primary',
          onclick: () => d.close() }, 'Done')));
    return copy;
  });
  dlg.addEventListener('close', () => {
    value.textContent = '';
    if (returnTo && returnTo.isConnected) returnTo.focus();
  });
  return dlg;
}

// Links a screen's stylesheet once, on first use, so that the first load
// of the page carries only app.css; resolves when it has loaded (or
// failed: the screen is usable unstyled).
const sheets = new Map();
export function useStyles(href) {
  if (!sheets.has(href)) {
    sheets.set(href, new Promise((resolve) => {
      const link = el('link', { rel: 'stylesheet', href });
      link.addEventListener('load', resolve);
      link.addEventListener('error', resolve);
      document.head.append(link);
    }));
  }
  return sheets.get(href);
}

// mountStyled(root, node, hrefs): node appended to root, hidden until
// its stylesheets are in, so it never shows unstyled for a moment.
export function mountStyled(root, node, hrefs) {
  node.hidden = true;
  root.append(node);
  Promise.all(hrefs.map(useStyles)).then(() => { node.hidden = false; });
}

// A date-time for people, in their locale, in a <time> element.
// dateOnly: the day alone (where the hour says nothing, as an account's
// creation in a long table), the whole date-time in the title.
export function timeEl(iso, dateOnly = false) {
  if (!iso) return el('span', {}, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return el('span', {}, String(iso));
  const text = dateOnly ? d.toLocaleDateString(undefined, { dateStyle: 'medium' })
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return el('time', { datetime: iso, title: dateOnly ? d.toLocaleString()
    : false }, text);
}

// The time of day to the second (an event tail's rows are seconds
// apart), the whole date-time in the title.
export function clockEl(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return el('span', {}, String(iso || '—'));
  return el('time', { datetime: iso, title: d.toLocaleString() },
    d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit',
      second: '2-digit' }));
}

const integer = new Intl.NumberFormat(undefined);

export function count(n) {
  return n === null || n === undefined ? '—' : integer.format(n);
}

// US dollars from the price table; null (a model without a price) is
// "unknown", never a made-up 0.
export function dollars(v) {
  if (v === null || v === undefined) return 'unknown';
  const n = Number(v);
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)}`;
}

export function percent(v) {
  return v === null || v === undefined ? '—' : `${(Number(v) * 100).toFixed(1)} %`;
}

export function millis(v) {
  return v === null || v === undefined ? '—' : `${Math.round(Number(v))} ms`;
}

// A query string of the params that are set ('' when none is).
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// A table with a caption for screen readers and a header row; returns
// {table, body}.
export function rowsTable(caption, headers) {
  const body = el('tbody');
  const table = el('table', { class: 'rows' },
    el('caption', { class: 'sr-only' }, caption),
    el('thead', {}, el('tr', {}, headers.map((h) =>
      el('th', { scope: 'col' }, h)))),
    body);
  return { table, body };
}
