// settings.js: the /settings screen.
//
// The caller's profile, password change, preferences (default model and
// system prompt), notification channels (notifications.js), API keys
// (made, shown once, revoked) and device sessions (revoked one by one).
// Each section loads and fails on its own, so sessiond being down leaves
// the profile and keys usable. Every server string (usernames, key
// names, user agents) is inserted as text.

import { logout } from './api.js';
import { el } from './dom.js';
import { preferencesPart as notificationsPart } from './notifications.js';
import { field, section, Notice, busy, showSecretOnce, timeEl, query,
  rowsTable, mountStyled } from './screen-util.js';

const SESSIONS_PAGE = 20;
const EXPORT_NAME = 'chat-export.json';   // as the API's Content-Disposition

// The "Expires" choices of a new API key: expires_in_days ('' never).
const KEY_LIFETIMES = [['', 'Never'], ['30', 'In 30 days'],
  ['90', 'In 90 days'], ['365', 'In a year']];

export function mount(root, ctx) {
  const state = { alive: true, reloadSessions: null };
  const parts = [profilePart, passwordPart, preferencesPart,
    notificationsPart, apiKeysPart, sessionsPart].map((make) => make(ctx, state));
  const page = el('div', { class: 'screen settings' },
    el('h1', {}, 'Settings'), parts.map((p) => p.node));
  mountStyled(root, page, ['/settings.css']);

  // The profile, the password form and the preferences all start from
  // GET /v1/users/me.
  ctx.api.get('/v1/users/me').then((me) => {
    if (!state.alive) return;
    for (const p of parts) if (p.user) p.user(me);
  }, (err) => {
    if (state.alive) parts[0].notice.error(err);
  });
  for (const p of parts) if (p.load) p.load();
  return () => {
    state.alive = false;
    page.remove();
  };
}

/* ------------------------------------------------------------- profile */

function profilePart(ctx) {
  const node = section('Profile');
  const facts = el('dl', { class: 'facts' });
  const name = el('input', { type: 'text', name: 'display-name',
    maxlength: 128, autocomplete: 'nickname' });
  const save = el('button', { type: 'submit' }, 'Save profile');
  const form = el('form', { class: 'stack' },
    field('Display name', name), el('div', { class: 'actions' }, save));
  const download = el('button', { type: 'button' }, 'Download my data');
  const notice = new Notice(node);
  node.append(facts, form, el('p', { class: 'hint' }, 'Everything the ' +
    'server holds about you (account, conversations, sessions, key ' +
    'names), as one JSON file.'), download);

  function user(me) {
    facts.replaceChildren(
      el('dt', {}, 'Username'), el('dd', {}, me.username),
      el('dt', {}, 'Role'), el('dd', {}, me.role),
      el('dt', {}, 'Account created'), el('dd', {}, timeEl(me.created_at)));
    name.value = me.display_name || '';
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    notice.clear();
    const value = name.value.trim();
    busy([save, name], () => ctx.api.patch('/v1/users/me',
      { display_name: value === '' ? null : value }))
      .then((me) => {
        user(me);
        notice.ok('Profile saved.');
      }, (err) => notice.error(err));
  });

  // The export through the API (it needs the Bearer header, so no plain
  // link), saved from a blob URL. The anchor stays out of the document:
  // the router would take a click on it for a route.
  download.addEventListener('click', () => {
    notice.clear();
    busy(download, () => ctx.api.get('/v1/users/me/export')).then((doc) => {
      const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)],
        { type: 'application/json' }));
      el('a', { href: url, download: EXPORT_NAME }).click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      notice.ok(`Saved as ${EXPORT_NAME}.`);
    }, (err) => notice.error(err));
  });
  return { node, notice, user };
}

/* ------------------------------------------------------------ password */

// Error codes of POST /v1/users/me/password, said plainly.
const PASSWORD_MESSAGES = {
  invalid_credentials: 'The current password is wrong.',
  invalid_password: 'The new password needs 8 to 1024 characters.',
  sessions_not_revoked: 'The new password is in force, but your other ' +
    'sessions could not be signed out: revoke them under Sessions.',
};

function passwordPart(ctx, state) {
  const node = section('Password');
  // A username field, not shown, tells password managers whose password
  // the form changes.
  const username = el('input', { type: 'text', name: 'username',
    autocomplete: 'username', hidden: true, readonly: true });
  const current = el('input', { type: 'password', name: 'current-password',
    autocomplete: 'current-password', required: true });
  const next = el('input', { type: 'password', name: 'new-password',
    autocomplete: 'new-password', required: true, minlength: 8,
    maxlength: 1024 });
  const submit = el('button', { type: 'submit' }, 'Change password');
  const form = el('form', { class: 'stack' }, username,
    field('Current password', current),
    field('New password', next, 'At least 8 characters. Your other ' +
      'devices are signed out; this one stays signed in.'),
    el('div', { class: 'actions' }, submit));
  const notice = new Notice(node);
  node.append(form);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    notice.clear();
    busy([submit, current, next], () => ctx.api.post('/v1/users/me/password',
      { current_password: current.value, new_password: next.value }))
      .then(() => {
        current.value = '';
        next.value = '';
        notice.ok('Password changed. Your other sessions have been ' +
          'signed out; this one stays signed in. API keys keep working.');
        if (state.reloadSessions) state.reloadSessions();
      }, (err) => {
        const text = err && PASSWORD_MESSAGES[err.code];
        if (text) notice.show(text);
        else notice.error(err);
        current.focus();
      });
  });
  return { node, notice, user: (me) => { username.value = me.username; } };
}

/* --------------------------------------------------------- preferences */

function preferencesPart(ctx, state) {
  const node = section('Preferences');
  const model = el('select', { name: 'default-model' });
  const prompt = el('textarea', { name: 'default-system-prompt', rows: 4,
    maxlength: 16384 });
  const save = el('button', { type: 'submit', disabled: true },
    'Save preferences');
  const form = el('form', { class: 'stack' },
    field('Default model', model, 'For conversations that name no model.'),
    field('Default system prompt', prompt, 'For conversations without a ' +
      'system prompt of their own.'),
    el('div', { class: 'actions' }, save));
  const notice = new Notice(node);
  node.append(form);
  let models = null;   // GET /v1/models
  let prefs = null;    // the caller's preferences

  // Filled once both the model list and the preference are known; a
  // preferred model the server no longer lists stays an option, so that
  // saving the prompt does not drop it silently.
  function fill() {
    if (!models || !prefs) return;
    const chosen = prefs.default_model || '';
    const names = models.data.map((m) => m.id);
    if (chosen && !names.includes(chosen)) names.push(chosen);
    model.replaceChildren(
      el('option', { value: '' }, `Server default (${models.default_model})`),
      ...names.map((id) => el('option', { value: id }, id)));
    model.value = chosen;
    prompt.value = prefs.system_prompt || '';
    save.disabled = false;
  }

  function user(me) {
    prefs = me.preferences || {};
    fill();
  }

  function load() {
    ctx.api.get('/v1/models').then((list) => {
      models = list;
      fill();
    }, (err) => {
      if (state.alive) notice.error(err);
    });
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    notice.clear();
    const body = { preferences: {
      default_model: model.value === '' ? null : model.value,
      system_prompt: prompt.value.trim() === '' ? null : prompt.value,
    } };
    busy([save, model, prompt], () => ctx.api.patch('/v1/users/me', body))
      .then((me) => {
        user(me);
        notice.ok('Preferences saved.');
      }, (err) => notice.error(err));
  });
  return { node, notice, user, load };
}

/* ------------------------------------------------------------ API keys */

function apiKeysPart(ctx, state) {
  const node = section('API keys');
  // The server refuses keys to guests (403): say so rather than fail.
  if (ctx.user.role === 'guest') {
    node.append(el('p', { class: 'hint' }, 'Guest accounts cannot have ' +
      'API keys.'));
    return { node, notice: new Notice(node) };
  }
  const name = el('input', { type: 'text', name: 'key-name', required: true,
    maxlength: 128, autocomplete: 'off' });
  const expires = el('select', { name: 'key-expires' },
    KEY_LIFETIMES.map(([days, label]) => el('option', { value: days }, label)));
  const create = el('button', { type: 'submit' }, 'Create key');
  const form = el('form', { class: 'inline-form' },
    field('Key name', name), field('Expires', expires), create);
  const { table, body } = rowsTable('Your API keys',
    ['Name', 'Key', 'Scopes', 'Created', 'Last used', 'Expires', '']);
  const empty = el('p', { class: 'empty' }, 'No API keys yet.');
  const notice = new Notice(node);
  node.append(el('p', { class: 'hint' }, 'A key acts as you from chatctl ' +
    'or any OpenAI client. It is shown once, when it is made.'),
    form, table, empty);
  let keys = [];

  function render(list) {
    keys = list;
    body.replaceChildren(...keys.map(row));
    table.hidden = keys.length === 0;
    empty.hidden = keys.length !== 0;
  }

  function row(key) {
    const revoke = el('button', { type: 'button', class: 'danger' }, 'Revoke');
    revoke.addEventListener('click', () => {
      notice.clear();
      busy(revoke, () => ctx.api.del(`/v1/apikeys/${encodeURIComponent(key.id)}`))
        .then(() => {
          const at = keys.indexOf(key);
          render(keys.filter((k) => k !== key));
          notice.ok(`The key “${key.name}” is revoked.`);
          const nextRow = body.children[Math.min(at, keys.length - 1)];
          (nextRow ? nextRow.querySelector('button') : name).focus();
        }, (err) => notice.error(err));
    });
    return el('tr', { 'data-id': key.id },
      el('td', {}, key.name),
      el('td', {}, el('code', {}, `${key.prefix}…`)),
      el('td', {}, (key.scopes || []).join(', ')),
      el('td', {}, timeEl(key.created_at)),
      el('td', {}, key.last_used_at ? timeEl(key.last_used_at) : 'never'),
      el('td', {}, key.expires_at ? timeEl(key.expires_at) : 'never'),
      el('td', {}, revoke));
  }

  function load() {
    ctx.api.get('/v1/apikeys').then((list) => {
      if (state.alive) render(list.data);
    }, (err) => {
      if (state.alive) notice.error(err);
    });
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    notice.clear();
    if (!name.value.trim()) {
      notice.show('Give the key a name.');
      name.focus();
      return;
    }
    const body = { name: name.value.trim() };
    if (expires.value) body.expires_in_days = Number(expires.value);
    busy([create, name, expires], () => ctx.api.post('/v1/apikeys', body))
      .then((made) => {
        name.value = '';
        expires.value = '';
        const { key, ...shown } = made;
        render([{ ...shown, last_used_at: null }, ...keys]);
        showSecretOnce('New API key', `Copy the key “${made.name}” now: ` +
          'it will not be shown again.', key, name);
      }, (err) => {
        notice.error(err);
        name.focus();
      });
  });
  return { node, notice, load };
}

/* ------------------------------------------------------------ sessions */

function sessionsPart(ctx, state) {
  const node = section('Sessions');
  const { table, body } = rowsTable('Your signed-in devices',
    ['Device', 'Address', 'Signed in', 'Last active', '']);
  const more = el('button', { type: 'button', hidden: true },
    'Show more sessions');
  const notice = new Notice(node);
  node.append(el('p', { class: 'hint' }, 'Where you are signed in. ' +
    'Revoking a session signs that device out.'), table, more);
  let cursor = null;
  let seq = 0;

  function row(s) {
    const revoke = el('button', { type: 'button', class: 'danger' }, 'Revoke');
    const tr = el('tr', { 'data-id': s.id, class: s.current ? 'current' : false },
      el('td', {}, s.user_agent || 'Unknown device',
        s.current ? [' ', el('strong', { class: 'badge' }, 'This device')]
          : null),
      el('td', {}, s.ip || '—'),
      el('td', {}, timeEl(s.created_at)),
      el('td', {}, timeEl(s.last_used_at)),
      el('td', {}, revoke));
    revoke.addEventListener('click', () => {
      notice.clear();
      busy(revoke, () => ctx.api.del(`/v1/sessions/${encodeURIComponent(s.id)}`))
        .then(() => {
          // Revoking this device's own session is a logout: what is left
          // here is an access token about to be refused.
          if (s.current) {
            logout();
            return;
          }
          const nextRow = tr.nextElementSibling || tr.previousElementSibling;
          tr.remove();
          notice.ok('The session is revoked: that device is signed out.');
          if (nextRow) nextRow.querySelector('button').focus();
        }, (err) => notice.error(err));
    });
    return tr;
  }

  // A reload (after a password change) overtakes a page being loaded:
  // only the latest answer is shown.
  function load(reset) {
    const mine = ++seq;
    const path = '/v1/sessions' + query({ limit: SESSIONS_PAGE,
      cursor: reset ? null : cursor });
    return busy(more, () => ctx.api.get(path)).then((list) => {
      if (!state.alive || mine !== seq) return;
      if (reset) body.replaceChildren();
      body.append(...list.data.map(row));
      cursor = list.next_cursor;
      more.hidden = !cursor;
    }, (err) => {
      if (state.alive && mine === seq) notice.error(err);
    });
  }

  more.addEventListener('click', () => load(false));
  state.reloadSessions = () => load(true);
  return { node, notice, load: () => load(true) };
}
