// notifications.js: the user's in-app notifications (notifyd, issue 15):
// the header's "Notifications" button with the unread count and its
// panel, and the settings' "Notifications" section (the channels of each
// category).
//
// The panel lists GET /v1/notifications newest first, 20 at a time
// ("Show older"); activating one marks it read (and opens the
// conversation a finished answer names), "Mark all read" reads them all.
// A `notification` frame of the live feed adds one at the top on every
// open page of the user; after the socket came back, or a `reset`, the
// first page is fetched again and merged, so a notification made while
// the page was offline is never missed whatever the resume replayed.
// Titles and bodies are notifyd's fixed texts, but `data` holds what
// the event named (a user agent, a key's name) and is hostile input: it
// is shown as text only, its keys included.

import { el } from './dom.js';
import { Notice, busy, timeEl, query, section, rowsTable,
  mountStyled } from './screen-util.js';

const PAGE = 20;
const SYNC_DELAY_MS = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Names people read for the keys notifyd puts in `data`; another key is
// shown as it is (as text). A Map, so that a key like "constructor" is
// not looked up on Object's prototype.
const DATA_LABELS = new Map([
  ['user_agent', 'Device'], ['ip', 'Address'], ['session_id', 'Session'],
  ['name', 'Key name'], ['key_id', 'Key'], ['by', 'By'],
  ['conversation_id', 'Conversation'], ['message_id', 'Message'],
  ['title', 'Conversation title'], ['status', 'Status'],
]);

/* ------------------------------------------------------ header and panel */

// mount(root, ctx): the button and its panel, appended to root (the
// header's slot); returns the unmount.
export function mount(root, ctx) {
  // notifyd serves users and admins only (a guest is refused with 403),
  // and a guest gets no live feed either: no button at all.
  if (ctx.user.role === 'guest') return () => {};
  const { api, live, navigate } = ctx;
  const entries = new Map();  // notification id -> {n, li}
  let order = [];             // the ids shown, newest first
  let unread = null;          // the server's count, kept current; null: unknown
  let nextBefore = null;      // `before` of the next older page
  let olderLoaded = false;    // a "Show older" page is in: keep nextBefore
  let loaded = false;
  let alive = true;
  let gap = false;            // the socket dropped since the last load
  let loadSeq = 0;            // only the latest first-page answer counts
  let syncTimer = 0;

  // The name is "Notifications N unread": the visible text and then the
  // word "unread" for screen readers; a count of 0 is not shown, only said.
  const count = el('span', { class: 'notif-count', hidden: true });
  const unreadWord = el('span', { class: 'sr-only', hidden: true }, ' unread');
  const button = el('button', { type: 'button', class: 'notif-button',
    'aria-expanded': 'false', 'aria-controls': 'notif-panel' },
  'Notifications ', count, unreadWord);
  // Says a new notification, once, not every refresh of the count.
  const announce = el('p', { class: 'sr-only', 'aria-live': 'polite' });
  const markAll = el('button', { type: 'button' }, 'Mark all read');
  const list = el('ul', { class: 'notif-list' });
  const empty = el('p', { class: 'empty', hidden: true }, 'No notifications.');
  const older = el('button', { type: 'button', hidden: true }, 'Show older');
  const panel = el('section', { id: 'notif-panel', class: 'notif-panel',
    'aria-labelledby': 'notif-title', hidden: true },
  el('div', { class: 'notif-head' },
    el('h2', { id: 'notif-title' }, 'Notifications'), markAll),
  list, empty, older);
  const notice = new Notice(panel);
  const wrap = el('div', { class: 'notif' }, button, announce, panel);
  mountStyled(root, wrap, ['/notifications.css']);

  function setCount(n) {
    unread = Math.max(0, n);
    count.textContent = String(unread);
    count.hidden = false;
    count.classList.toggle('sr-only', unread === 0);
    unreadWord.hidden = false;
  }

  // The list item of a notification, made once and updated in place (a
  // rebuilt item would take the focus away from the person reading).
  function itemNode(n) {
    const mark = el('span', { class: 'sr-only' }, ' (unread)');
    const open = el('button', { type: 'button', class: 'notif-open' },
      n.title, mark);
    const li = el('li', { class: 'notif-item', 'data-id': n.id,
      'data-category': n.category }, open,
    el('p', { class: 'notif-body' }, n.body),
    el('p', { class: 'notif-time' }, timeEl(n.created_at)),
    dataList(n.data));
    open.addEventListener('click', () => activate(n.id));
    return { li, mark };
  }

  function paint(e) {
    e.li.classList.toggle('unread', !e.n.read);
    e.li.dataset.read = String(e.n.read);
    e.mark.hidden = e.n.read;
  }

  // Puts the items in `order` into the list, moving only what moved.
  function render() {
    order.forEach((id, i) => {
      const { li } = entries.get(id);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    while (list.children.length > order.length) list.lastChild.remove();
    empty.hidden = !loaded || order.length !== 0;
    older.hidden = !nextBefore;
    markAll.disabled = !unread;
  }

  // Adds a notification, or takes the server's read state of one known.
  function put(n) {
    const known = entries.get(n.id);
    if (known) {
      known.n.read = n.read;
      paint(known);
      return false;
    }
    const e = { n, ...itemNode(n) };
    entries.set(n.id, e);
    paint(e);
    order.push(n.id);
    return true;
  }

  function sort() {
    // UUIDv7: newest first is id descending
    order.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  }

  // The first page, merged into what is shown: the server's read states
  // win, and a notification that came live after the page was read (newer
  // than its newest, not on it) keeps counting as unread.
  async function loadFirst() {
    const mine = ++loadSeq;
    try {
      const page = await api.get('/v1/notifications' + query({ limit: PAGE }));
      if (!alive || mine !== loadSeq) return;
      notice.clear();
      const onPage = new Set(page.data.map((n) => n.id));
      const newest = page.data.length ? page.data[0].id : '';
      const extra = order.filter((id) => id > newest && !onPage.has(id) &&
        !entries.get(id).n.read).length;
      for (const n of page.data) put(n);
      sort();
      if (!olderLoaded) nextBefore = page.next_before;
      loaded = true;
      setCount(page.unread + extra);
      render();
    } catch (err) {
      if (alive && mine === loadSeq) notice.error(err);
    }
  }

  async function loadOlder() {
    if (!nextBefore) return;
    try {
      const page = await busy(older, () => api.get('/v1/notifications' +
        query({ limit: PAGE, before: nextBefore })));
      if (!alive) return;
      notice.clear();
      for (const n of page.data) put(n);
      sort();
      olderLoaded = true;
      nextBefore = page.next_before;
      render();
      const first = page.data.length && entries.get(page.data[0].id);
      if (first) first.li.querySelector('button').focus();
    } catch (err) {
      if (alive) notice.error(err);
    }
  }

  async function activate(id) {
    const e = entries.get(id);
    const conv = e.n.data && typeof e.n.data === 'object' &&
      typeof e.n.data.conversation_id === 'string' &&
      UUID.test(e.n.data.conversation_id) ? e.n.data.conversation_id : null;
    notice.clear();
    // The conversation opens at once; the read is recorded meanwhile, and
    // its failure is said in the panel.
    if (conv) {
      close(false);
      navigate(`/c/${conv}`);
    }
    if (e.n.read) return;
    try {
      await api.post(`/v1/notifications/${encodeURIComponent(id)}/read`);
      if (!alive || e.n.read) return;
      e.n.read = true;
      paint(e);
      setCount(unread - 1);
      render();
    } catch (err) {
      if (alive) notice.error(err);
    }
  }

  markAll.addEventListener('click', () => {
    notice.clear();
    busy(markAll, () => api.post('/v1/notifications/read-all')).then(() => {
      if (!alive) return;
      for (const e of entries.values()) {
        e.n.read = true;
        paint(e);
      }
      setCount(0);
      render();
      button.focus();
    }, (err) => {
      if (alive) notice.error(err);
    });
  });
  older.addEventListener('click', loadOlder);

  function open() {
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    loadFirst();
    const first = list.querySelector('button') || markAll;
    if (!first.disabled) first.focus();
  }

  function close(refocus) {
    if (panel.hidden) return;
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  }

  button.addEventListener('click', () => {
    if (panel.hidden) open();
    else close(true);
  });
  // Esc closes the panel, and only that: it does not reach the chat's
  // Esc, which stops an answer being written.
  wrap.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !panel.hidden) {
      ev.preventDefault();
      ev.stopPropagation();
      close(true);
    }
  });
  // A click elsewhere on the page closes the panel, as a menu would.
  function onDocClick(ev) {
    if (!panel.hidden && ev.target instanceof Node && !wrap.contains(ev.target)) {
      close(false);
    }
  }
  document.addEventListener('click', onDocClick);

  function onNotification(f) {
    const d = f.data;
    if (!d || typeof d.notification_id !== 'string' ||
        entries.has(d.notification_id)) return;
    put({ id: d.notification_id, category: d.category, kind: d.kind,
      title: String(d.title ?? ''), body: String(d.body ?? ''),
      data: d.data, created_at: d.created_at, read: false });
    sort();
    if (unread !== null) setCount(unread + 1);
    render();
    // emptied first, so the same title twice is said twice
    announce.textContent = '';
    requestAnimationFrame(() => {
      announce.textContent = `New notification: ${d.title}`;
    });
    // Reads on other pages send no frame: the count is taken from the
    // server again once a burst of frames is over.
    clearTimeout(syncTimer);
    syncTimer = setTimeout(loadFirst, SYNC_DELAY_MS);
  }

  function onStatus(f) {
    if (!f.data.connected) {
      gap = true;
    } else if (gap) {
      gap = false;
      loadFirst();
    }
  }

  const offs = [live.on('notification', onNotification),
    live.on('status', onStatus), live.on('reset', () => loadFirst())];
  loadFirst();
  return () => {
    alive = false;
    clearTimeout(syncTimer);
    for (const off of offs) off();
    document.removeEventListener('click', onDocClick);
    wrap.remove();
  };
}

// What a notification's data names, as a list of text: keys and values
// are never markup.
function dataList(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const rows = Object.entries(data).filter(([, v]) => v !== null &&
    v !== undefined && v !== '');
  if (rows.length === 0) return null;
  return el('dl', { class: 'notif-data' }, rows.map(([k, v]) => [
    el('dt', {}, DATA_LABELS.get(k) || k),
    el('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]));
}

/* ------------------------------------------------- the settings section */

const CATEGORY_LABELS = new Map([
  ['security', 'Security alerts'], ['account', 'Account'],
  ['broadcast', 'Announcements'], ['generation', 'Finished answers'],
]);
const CHANNELS = [['in_app', 'In-app'], ['email', 'Email'],
  ['webhook', 'Webhook']];

// preferencesPart(ctx, state): the "Notifications" section of the
// settings screen, {node, notice, load} as its other parts. Each category
// a row, each channel the API lists a checkbox; a locked category's
// in-app and email channels are checked, disabled and say why. Saving sends every
// channel that can change (PUT) and shows the server's answer.
export function preferencesPart(ctx, state) {
  const node = section('Notifications');
  if (ctx.user.role === 'guest') {
    node.append(el('p', { class: 'hint' }, 'Guest accounts get no ' +
      'notifications.'));
    return { node, notice: new Notice(node) };
  }
  const { table, body } = rowsTable('Notification channels per category',
    ['Category', ...CHANNELS.map(([, label]) => label)]);
  const lockHint = el('p', { id: 'notif-locked-hint', class: 'hint' },
    'Security alerts always appear in the app and, to a verified address, ' +
    'by email: those channels cannot be switched off.');
  const save = el('button', { type: 'submit', disabled: true },
    'Save notification preferences');
  const form = el('form', { class: 'stack' }, table, lockHint,
    el('div', { class: 'actions' }, save));
  const notice = new Notice(node);
  node.append(el('p', { class: 'hint' }, 'Where each kind of notification ' +
    'reaches you.'), form);

  function fill(prefs) {
    body.replaceChildren(...Object.entries(prefs || {}).map(([cat, chans]) => {
      const label = CATEGORY_LABELS.get(cat) || cat;
      return el('tr', { 'data-category': cat },
        el('th', { scope: 'row' }, label),
        CHANNELS.map(([ch, chLabel]) => {
          const v = chans && chans[ch];
          if (typeof v !== 'boolean') return el('td', {}, '—');
          const locked = (ch === 'in_app' || ch === 'email') &&
            chans.locked === true;
          return el('td', {}, el('input', { type: 'checkbox',
            'data-category': cat, 'data-channel': ch,
            'aria-label': `${label}: ${chLabel}`, checked: v,
            disabled: locked,
            'aria-describedby': locked ? lockHint.id : false }));
        }));
    }));
    save.disabled = false;
  }

  function load() {
    ctx.api.get('/v1/notifications/preferences').then((r) => {
      if (state.alive) fill(r.preferences);
    }, (err) => {
      if (state.alive) notice.error(err);
    });
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    notice.clear();
    const boxes = [...body.querySelectorAll('input[type="checkbox"]')]
      .filter((b) => !b.disabled);
    // no prototype: a category named __proto__ stays data
    const change = Object.create(null);
    for (const b of boxes) {
      const cat = b.dataset.category;
      if (!Object.hasOwn(change, cat)) change[cat] = {};
      change[cat][b.dataset.channel] = b.checked;
    }
    busy([save, ...boxes], () => ctx.api.put('/v1/notifications/preferences',
      change)).then((r) => {
      if (!state.alive) return;
      fill(r.preferences);
      notice.ok('Notification preferences saved.');
    }, (err) => {
      if (state.alive) notice.error(err);
    });
  });
  return { node, notice, load };
}
