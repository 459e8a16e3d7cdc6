// admin.js: the /admin screen, for role admin only (the router hides it
// from others and the server refuses them anyway).
//
// Users: a page of /v1/admin/users at a time, filtered on the server
// (search, role, state), each row with disable/enable, a role select and
// delete (confirmed); a dialog creates accounts. Usage: the analytics
// summary (today, 7 and 30 days) and the top users and models of the 30
// days. Events: a live tail of /v1/admin/events, newest first and capped,
// read with fetch because EventSource cannot send the Bearer header.
// Every server string (usernames, event fields) is inserted as text.

import { ApiError, refresh, token } from './api.js';
import { el, modal, confirmDialog } from './dom.js';
import { field, section, Notice, busy, showSecretOnce, timeEl, clockEl, count,
  dollars, percent, millis, query, rowsTable, mountStyled } from './screen-util.js';

const USERS_PAGE = 50;
const SEARCH_DELAY_MS = 300;     // typing pauses this long before a search
const TOP_N = 10;
const EVENTS_MAX_ROWS = 300;     // the tail keeps the newest this many
const EVENT_DATA_MAX = 400;      // characters of an event's data shown
const RETRY_MIN_MS = 1000;       // reconnect delay, doubled up to the max
const RETRY_MAX_MS = 30000;
const ROLES = ['admin', 'user', 'guest'];

// The user list's "Show" filter: its options and their query parameters.
const SHOW = [
  { label: 'All accounts', params: {} },
  { label: 'Enabled', params: { disabled: 'false' } },
  { label: 'Disabled', params: { disabled: 'true' } },
  { label: 'Admins', params: { role: 'admin' } },
  { label: 'Users', params: { role: 'user' } },
  { label: 'Guests', params: { role: 'guest' } },
];

// The event tail's type filter (prefixes the server understands).
const EVENT_TYPES = [
  ['', 'All events'],
  ['chat.user.*', 'Users'],
  ['chat.session.*', 'Sessions'],
  ['chat.apikey.*', 'API keys'],
  ['chat.conversation.*', 'Conversations'],
  ['chat.message.*', 'Messages'],
  ['chat.generation.*', 'Generations'],
  ['chat.system.*', 'System'],
];

// The summary's rows: label and how to show a window's figure.
const SUMMARY_ROWS = [
  ['Active users', (w) => count(w.active_users)],
  ['Requests', (w) => count(w.requests)],
  ['Tokens', (w) => count(sum(w.prompt_tokens, w.completion_tokens))],
  ['Cost', (w) => dollars(w.cost)],
  ['Error rate', (w) => percent(w.error_rate)],
  ['Time to first token, p50', (w) => millis(w.ttft_ms_p50)],
  ['Time to first token, p95', (w) => millis(w.ttft_ms_p95)],
  ['Latency, p50', (w) => millis(w.latency_ms_p50)],
  ['Latency, p95', (w) => millis(w.latency_ms_p95)],
  ['Registrations', (w) => count(w.registrations)],
  ['Logins', (w) => count(w.logins)],
  ['Failed logins', (w) => count(w.failed_logins)],
];

const WINDOWS = [['today', 'Today'], ['last_7_days', 'Last 7 days'],
  ['last_30_days', 'Last 30 days']];

function sum(a, b) {
  return a === undefined || b === undefined ? null : a + b;
}

export function mount(root, ctx) {
  const state = { alive: true, names: new Map(), stops: [] };
  if (ctx.user.role !== 'admin') {
    const p = el('p', { role: 'alert' }, 'This page is for administrators.');
    root.append(p);
    return () => p.remove();
  }
  const parts = [usersPart, usagePart, eventsPart].map((make) =>
    make(ctx, state));
  const page = el('div', { class: 'screen admin' },
    el('h1', {}, 'Administration'), parts.map((p) => p.node));
  mountStyled(root, page, ['/settings.css', '/admin.css']);
  for (const p of parts) p.load();
  return () => {
    state.alive = false;
    for (const stop of state.stops) stop();
    page.remove();
  };
}

/* --------------------------------------------------------------- users */

function usersPart(ctx, state) {
  const node = section('Users');
  const search = el('input', { type: 'search', name: 'user-search',
    maxlength: 64, autocomplete: 'off' });
  const show = el('select', { name: 'user-filter' },
    SHOW.map((s, i) => el('option', { value: String(i) }, s.label)));
  const create = el('button', { type: 'button', class: 'primary' },
    'Create user');
  const { table, body } = rowsTable('Accounts', ['Username', 'Display name',
    'Created', 'State', 'Role', '']);
  const empty = el('p', { class: 'empty', hidden: true }, 'No such account.');
  const more = el('button', { type: 'button', hidden: true },
    'Show more users');
  const notice = new Notice(node);
  node.append(el('div', { class: 'toolbar' }, field('Search users', search),
    field('Show', show), create), table, empty, more);
  let cursor = null;
  let seq = 0;          // drops the answer of a search overtaken by another
  let timer = 0;

  function filters() {
    const text = search.value.trim();
    return { search: text || null, ...SHOW[Number(show.value)].params };
  }

  function load(reset = true) {
    const mine = ++seq;
    const path = '/v1/admin/users' + query({ limit: USERS_PAGE, ...filters(),
      cursor: reset ? null : cursor });
    return busy(more, () => ctx.api.get(path)).then((list) => {
      if (!state.alive || mine !== seq) return;
      if (reset) {
        notice.clearError();
        body.replaceChildren();
      }
      for (const u of list.data) {
        state.names.set(u.id, u.username);
        body.append(row(u));
      }
      cursor = list.next_cursor;
      more.hidden = !cursor;
      shown();
    }, (err) => {
      if (state.alive && mine === seq) notice.error(err);
    });
  }

  // The table, or the line saying that no account matches.
  function shown() {
    empty.hidden = body.children.length !== 0;
    table.hidden = body.children.length === 0;
  }

  // A row, replaced whole when the server answers with the changed user.
  function row(u) {
    const self = u.id === ctx.user.id;
    const role = el('select', { 'aria-label': 'Role' },
      ROLES.map((r) => el('option', { value: r }, r)));
    role.value = u.role;
    const toggle = el('button', { type: 'button' },
      u.disabled ? 'Enable' : 'Disable');
    const setPassword = el('button', { type: 'button' }, 'Set password');
    const del = el('button', { type: 'button', class: 'danger' }, 'Delete');
    const tr = el('tr', { 'data-id': u.id,
      class: u.disabled ? 'disabled' : false },
      el('td', {}, u.username, self ? el('span', { class: 'badge' }, 'you')
        : null),
      el('td', { class: 'display-name' }, u.display_name || ''),
      el('td', { class: 'nowrap' }, timeEl(u.created_at, true)),
      el('td', {}, u.disabled ? 'Disabled' : 'Enabled'),
      el('td', {}, role),
      el('td', { class: 'row-actions' }, toggle, setPassword, del));
    const controls = [toggle, role, setPassword, del];

    function patch(body, focusOf) {
      notice.clear();
      busy(controls, () => ctx.api.patch(
        `/v1/admin/users/${encodeURIComponent(u.id)}`, body))
        .then((changed) => {
          const fresh = row(changed);
          tr.replaceWith(fresh);
          focusOf(fresh).focus();
          notice.ok(`${changed.username}: ${describe(body)}.`);
        }, (err) => {
          role.value = u.role;
          notice.error(err);
        });
    }

    toggle.addEventListener('click', () => patch({ disabled: !u.disabled },
      (r) => r.querySelector('.row-actions button')));
    role.addEventListener('change', () => patch({ role: role.value },
      (r) => r.querySelector('select')));
    setPassword.addEventListener('click', () => passwordDialog(ctx, u,
      setPassword, () => notice.ok(`${u.username}: password set; every ` +
        'session of theirs is signed out (their API keys keep working).')));
    del.addEventListener('click', async () => {
      const yes = await confirmDialog(`Delete the account “${u.username}” ` +
        'and every piece of its data? This cannot be undone.', 'Delete');
      if (!yes || !state.alive) {
        del.focus();
        return;
      }
      notice.clear();
      busy(controls, () => ctx.api.del(
        `/v1/admin/users/${encodeURIComponent(u.id)}`))
        .then(() => {
          const nextRow = tr.nextElementSibling || tr.previousElementSibling;
          tr.remove();
          shown();
          notice.ok(`The account “${u.username}” is deleted.`);
          (nextRow ? nextRow.querySelector('button') : search).focus();
        }, (err) => {
          notice.error(err);
          del.focus();
        });
    });
    return tr;
  }

  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(true), SEARCH_DELAY_MS);
  });
  show.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  create.addEventListener('click', () => createDialog(ctx, create, (made) => {
    state.names.set(made.user.id, made.user.username);
    body.prepend(row(made.user));
    shown();
    notice.ok(`The account “${made.user.username}” is created.`);
  }));
  state.stops.push(() => clearTimeout(timer));
  return { node, load: () => load(true) };
}

function describe(body) {
  if ('disabled' in body) return body.disabled ? 'disabled' : 'enabled';
  return `role set to ${body.role}`;
}

// The form of a user dialog d: heading, fields, then submit and Cancel;
// a submit clears the form's notice and calls onSubmit(notice).
function dialogForm(d, heading, fields, submit, onSubmit) {
  const form = el('form', { class: 'stack' }, el('h2', {}, heading),
    ...fields,
    el('div', { class: 'actions' }, submit,
      el('button', { type: 'button', onclick: () => d.close() }, 'Cancel')));
  const notice = new Notice(form);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    notice.clear();
    onSubmit(notice);
  });
  d.append(form);
}

// The "Create user" dialog; done(answer) after a 201. A generated
// password is shown once, as an API key is; focus goes back to opener.
function createDialog(ctx, opener, done) {
  const username = el('input', { type: 'text', name: 'new-username',
    required: true, minlength: 3, maxlength: 64, autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { type: 'password', name: 'new-user-password',
    autocomplete: 'new-password', maxlength: 1024 });
  const role = el('select', { name: 'new-user-role' },
    ROLES.map((r) => el('option', { value: r }, r)));
  role.value = 'user';
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Create');
  modal('Create user', (d) => {
    dialogForm(d, 'Create user', [
      field('Username', username),
      field('Password', password, 'Leave empty for a generated one, ' +
        'shown once.'),
      field('Role', role)], submit, (notice) => {
      const body = { username: username.value.trim(), role: role.value };
      if (password.value) body.password = password.value;
      busy([submit, username, password, role], () =>
        ctx.api.post('/v1/admin/users', body))
        .then((made) => {
          d.close();
          done(made);
          if (made.password) {
            showSecretOnce('New password', `The password of “${
              made.user.username}”: pass it on now, it will not be shown ` +
              'again.', made.password, opener);
          } else {
            opener.focus();
          }
        }, (err) => {
          notice.error(err);
          username.focus();
        });
    });
    return username;
  });
}

// The "Set password" dialog of a user's row: PUT the new password (the
// server signs the user out everywhere); done() after a 204.
function passwordDialog(ctx, u, opener, done) {
  const password = el('input', { type: 'password', name: 'set-password',
    autocomplete: 'new-password', required: true, minlength: 8,
    maxlength: 1024 });
  const submit = el('button', { type: 'submit', class: 'primary' },
    'Set password');
  modal('Set password', (d) => {
    dialogForm(d, `Set the password of “${u.username}”`, [
      field('New password', password, 'At least 8 characters. Signs ' +
        'them out everywhere; their API keys keep working.')],
    submit, (notice) => {
      busy([submit, password], () => ctx.api.put(
        `/v1/admin/users/${encodeURIComponent(u.id)}/password`,
        { password: password.value }))
        .then(() => {
          d.close();
          opener.focus();
          done();
        }, (err) => {
          notice.error(err);
          password.focus();
        });
    });
    return password;
  });
}

/* --------------------------------------------------------------- usage */

function usagePart(ctx, state) {
  const node = section('Usage');
  const reload = el('button', { type: 'button' }, 'Refresh usage');
  const summary = rowsTable('Usage summary', ['', ...WINDOWS.map((w) => w[1])]);
  const topUsers = rowsTable('Top users of the last 30 days',
    ['User', 'Requests', 'Tokens', 'Cost']);
  const topModels = rowsTable('Top models of the last 30 days',
    ['Model', 'Requests', 'Tokens', 'Cost']);
  const notice = new Notice(node);
  node.append(el('div', { class: 'toolbar' }, reload), summary.table,
    el('div', { class: 'columns' },
      el('div', {}, el('h3', {}, 'Top users (30 days)'), topUsers.table),
      el('div', {}, el('h3', {}, 'Top models (30 days)'), topModels.table)));

  function fillSummary(s) {
    summary.body.replaceChildren(...SUMMARY_ROWS.map(([label, fmt]) =>
      el('tr', {}, el('th', { scope: 'row' }, label),
        WINDOWS.map(([key]) => el('td', {}, s[key] ? fmt(s[key]) : '—')))));
  }

  // Biggest users of tokens first; a user's name comes from the list
  // already shown, else from GET /v1/admin/users/{id}, else the id.
  async function fillTop(t, report, keyOf) {
    const top = [...report.data].sort((a, b) =>
      (b.total_tokens - a.total_tokens) || (b.requests - a.requests))
      .slice(0, TOP_N);
    const names = await Promise.all(top.map((r) => keyOf(r)));
    if (!state.alive) return;
    t.body.replaceChildren(...(top.length ? top.map((r, i) =>
      el('tr', {}, el('td', {}, names[i]), el('td', {}, count(r.requests)),
        el('td', {}, count(r.total_tokens)), el('td', {}, dollars(r.cost))))
      : [el('tr', {}, el('td', { colspan: 4 }, 'Nothing yet.'))]));
  }

  async function userName(r) {
    if (!r.user) return '—';
    if (state.names.has(r.user)) return state.names.get(r.user);
    try {
      const u = await ctx.api.get(`/v1/admin/users/${encodeURIComponent(r.user)}`);
      state.names.set(r.user, u.username);
      return u.username;
    } catch {
      return r.user;   // deleted since, or not readable: the id will do
    }
  }

  function load() {
    notice.clear();
    return busy(reload, () => Promise.all([
      ctx.api.get('/v1/admin/analytics/summary').then(fillSummary),
      ctx.api.get('/v1/admin/analytics/usage?group_by=user')
        .then((r) => fillTop(topUsers, r, userName)),
      ctx.api.get('/v1/admin/analytics/usage?group_by=model')
        .then((r) => fillTop(topModels, r, async (m) => m.model || '—')),
    ])).catch((err) => {
      if (state.alive) notice.error(err);
    });
  }

  reload.addEventListener('click', load);
  return { node, load };
}

/* -------------------------------------------------------------- events */

function eventsPart(ctx, state) {
  const node = section('Events');
  const type = el('select', { name: 'event-type' },
    EVENT_TYPES.map(([v, label]) => el('option', { value: v }, label)));
  const status = el('span', { class: 'tail-status', 'aria-live': 'polite' },
    'Connecting…');
  const list = el('ol', { class: 'events', 'aria-label': 'Event tail',
    reversed: true });
  const empty = el('p', { class: 'empty' },
    'Events appear here as they happen.');
  const notice = new Notice(node);
  node.append(el('div', { class: 'toolbar' }, field('Event type', type),
    status), empty, list);
  let controller = null;
  let retryTimer = 0;

  function add(ev) {
    const who = ev.userid ? (state.names.get(ev.userid) || ev.userid) : '';
    let data = '';
    if (ev.data !== undefined) {
      data = JSON.stringify(ev.data);
      if (data.length > EVENT_DATA_MAX) data = data.slice(0, EVENT_DATA_MAX) + '…';
    }
    list.prepend(el('li', { class: 'event' },
      clockEl(ev.time),
      el('code', { class: 'event-type' }, String(ev.type || '')),
      who ? el('span', { class: 'event-user' }, who) : null,
      ev.subject ? el('span', { class: 'event-subject' }, String(ev.subject))
        : null,
      data ? el('span', { class: 'event-data' }, data) : null));
    while (list.children.length > EVENTS_MAX_ROWS) list.lastElementChild.remove();
    empty.hidden = true;
  }

  function stop() {
    clearTimeout(retryTimer);
    if (controller) controller.abort();
    controller = null;
  }

  // One connection after another until unmounted or refused: a dropped
  // stream is opened again after a growing delay (the tail starts at the
  // moment of the call, so events of the gap are not replayed).
  async function run() {
    stop();
    const mine = new AbortController();
    controller = mine;
    let delay = RETRY_MIN_MS;
    const path = '/v1/admin/events' + query({ type: type.value });
    while (state.alive && controller === mine) {
      try {
        await tail(path, mine.signal, () => {
          status.textContent = 'Live';
          notice.clear();
          delay = RETRY_MIN_MS;
        }, add);
        status.textContent = 'Disconnected: reconnecting…';
      } catch (err) {
        if (mine.signal.aborted) return;
        // a refusal (403, a 401 the refresh did not cure) will not
        // change by itself; a 5xx or a broken connection may
        if (err instanceof ApiError && err.status < 500) {
          status.textContent = 'Stopped';
          notice.error(err);
          return;
        }
        status.textContent = 'Disconnected: reconnecting…';
      }
      await new Promise((resolve) => {
        retryTimer = setTimeout(resolve, delay);
      });
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  type.addEventListener('change', () => {
    list.replaceChildren();
    empty.hidden = false;
    status.textContent = 'Connecting…';
    run();
  });
  state.stops.push(stop);
  return { node, load: run };
}

// Reads one SSE response to its end: opened() once the head is 200,
// each event's CloudEvent to onEvent. A 401 refreshes the token once;
// any other refusal throws its ApiError.
async function tail(path, signal, opened, onEvent) {
  let res = await openTail(path, signal);
  if (res.status === 401 && await refresh()) res = await openTail(path, signal);
  if (!res.ok) throw await apiError(res);
  opened();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
      const ev = parseBlock(block);
      if (ev) onEvent(ev);
    }
  }
}

function openTail(path, signal) {
  const headers = { Accept: 'text/event-stream' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  return fetch(path, { headers, signal, credentials: 'same-origin',
    cache: 'no-store' });
}

async function apiError(res) {
  let e = {};
  try {
    const body = await res.json();
    if (body && body.error) e = body.error;
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(res.status, e.code, e.message);
}

// One SSE block: its data lines joined and parsed as the CloudEvent;
// null for a comment (the keep-alives) or data that is not JSON.
function parseBlock(block) {
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (!data.length) return null;
  try {
    const ev = JSON.parse(data.join('\n'));
    return ev && typeof ev === 'object' ? ev : null;
  } catch {
    return null;
  }
}
