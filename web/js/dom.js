// dom.js: small DOM helpers shared by the screens.
//
// el() builds elements from attributes and children; strings always
// become text nodes, so a server string passed here is never parsed as
// HTML (the page's rule: server strings as text or sanitised).

// el('button', {class: 'x', type: 'button', onclick: fn}, 'text', child...)
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      node.addEventListener(k.slice(2), v);
    } else {
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// A modal <dialog> appended to the body and removed when closed; build
// fills it and returns the element to focus first (or nothing).
export function modal(label, build) {
  const dlg = el('dialog', { class: 'dialog', 'aria-label': label });
  const first = build(dlg);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  if (first) first.focus();
  return dlg;
}

// Asks to confirm in a dialog; resolves true for the confirm button.
export function confirmDialog(text, confirmLabel) {
  return new Promise((resolve) => {
    let yes = false;
    const dlg = modal(confirmLabel, (d) => {
      const cancel = el('button', { type: 'button', onclick: () => d.close() },
        'Cancel');
      d.append(el('p', {}, text), el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'danger', onclick: () => {
          yes = true;
          d.close();
        } }, confirmLabel), cancel));
      return cancel;
    });
    dlg.addEventListener('close', () => resolve(yes));
  });
}

// Asks for one line of text; resolves the text, or null when cancelled.
export function promptDialog(title, label, value, saveLabel = 'Save') {
  return new Promise((resolve) => {
    let result = null;
    const dlg = modal(title, (d) => {
      const input = el('input', { type: 'text', name: 'value', value: value || '',
        'aria-label': label });
      const form = el('form', { method: 'dialog', class: 'stack' },
        el('h2', {}, title),
        el('label', {}, label, input),
        el('div', { class: 'actions' },
          el('button', { type: 'submit', class: 'primary' }, saveLabel),
          el('button', { type: 'button', onclick: () => d.close() }, 'Cancel')));
      form.addEventListener('submit', () => { result = input.value; });
      d.append(form);
      return input;
    });
    dlg.addEventListener('close', () => resolve(result));
  });
}

// Writes text to the clipboard; true when it worked.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
