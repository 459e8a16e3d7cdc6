// sidebar.js: the list of the user's conversations.
//
// Newest first (the API's order, by updated_at), a page at a time as the
// list scrolls, filtered by title on the server (?q=). Each entry is a
// link to /c/<id> with a menu to rename, archive or delete (after a
// confirmation). It follows the WebSocket: a conversation created,
// renamed or talked in elsewhere moves to the top, one archived or
// deleted leaves.

import { el, confirmDialog, promptDialog } from './dom.js';

const PAGE = 30;
const FILTER_DELAY_MS = 250;
const NEAR_END_PX = 200;

export function untitled(conv) {
  return conv.title || 'New conversation';
}

export function mount(root, ctx) {
  const { api, live, navigate } = ctx;
  const items = new Map();    // conversation id -> {conv, li, link}
  let cursor = null;          // next page's cursor; null: no more
  let loading = false;
  let done = false;
  let query = '';
  let current = null;         // the id of the conversation shown
  let filterTimer = 0;
  let gen = 0;                // bumps on each reset to drop stale pages
  let openMenu = null;

  const filter = el('input', { type: 'search', id: 'conv-filter',
    class: 'filter', autocomplete: 'off', 'aria-label': 'Filter conversations',
    placeholder: 'Filter conversations' });
  const list = el('ul', { class: 'conv-list' });
  const note = el('p', { class: 'list-note', role: 'status' });
  const nav = el('nav', { class: 'sidebar', 'aria-label': 'Conversations' },
    filter, list, note);
  root.replaceChildren(nav);

  function closeMenu() {
    if (!openMenu) return;
    openMenu.menu.remove();
    openMenu.button.setAttribute('aria-expanded', 'false');
    openMenu = null;
  }

  async function rename(conv) {
    closeMenu();
    const title = await promptDialog('Rename conversation', 'Title',
      conv.title || '', 'Save');
    if (title === null) return;
    try {
      const c = await api.patch(`/v1/conversations/${conv.id}`,
        { title: title.trim() || null });
      upsert(c, false);
    } catch (e) {
      note.textContent = `Could not rename: ${e.message}`;
    }
  }

  async function archive(conv) {
    closeMenu();
    try {
      await api.patch(`/v1/conversations/${conv.id}`, { archived: true });
      remove(conv.id, true);
    } catch (e) {
      note.textContent = `Could not archive: ${e.message}`;
    }
  }

  async function del(conv) {
    closeMenu();
    const yes = await confirmDialog(
      `Delete "${untitled(conv)}" and all its messages? This cannot be undone.`,
      'Delete');
    if (!yes) return;
    try {
      await api.del(`/v1/conversations/${conv.id}`);
      remove(conv.id, true);
    } catch (e) {
      note.textContent = `Could not delete: ${e.message}`;
    }
  }

  const ACTIONS = [['Rename', rename], ['Archive', archive], ['Delete', del]];

  function toggleMenu(item, button) {
    const mine = openMenu && openMenu.button === button;
    closeMenu();
    if (mine) return;
    const menu = el('div', { class: 'conv-menu', role: 'menu' },
      ACTIONS.map(([label, fn]) => el('button', { type: 'button',
        role: 'menuitem', onclick: () => fn(item.conv) }, label)));
    menu.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        closeMenu();
        button.focus();
      }
    });
    item.li.append(menu);
    button.setAttribute('aria-expanded', 'true');
    openMenu = { menu, button };
    menu.querySelector('button').focus();
  }

  function build(conv) {
    const link = el('a', { href: `/c/${conv.id}` }, untitled(conv));
    const button = el('button', { type: 'button', class: 'icon',
      'aria-label': 'Conversation actions', 'aria-haspopup': 'menu',
      'aria-expanded': 'false' }, '⋯');
    const li = el('li', {}, link, button);
    const item = { conv, li, link };
    button.addEventListener('click', () => toggleMenu(item, button));
    return item;
  }

  function mark(item) {
    const here = item.conv.id === current;
    item.li.classList.toggle('current', here);
    if (here) item.link.setAttribute('aria-current', 'page');
    else item.link.removeAttribute('aria-current');
  }

  function matches(conv) {
    return !query || untitled(conv).toLowerCase().includes(query.toLowerCase());
  }

  // Inserts or updates a conversation; toTop moves it first (it changed).
  function upsert(conv, toTop) {
    if (conv.archived || !matches(conv)) {
      remove(conv.id, conv.archived);
      return;
    }
    let item = items.get(conv.id);
    if (item) {
      item.conv = conv;
      item.link.textContent = untitled(conv);
    } else {
      item = build(conv);
      items.set(conv.id, item);
      toTop = true;
    }
    mark(item);
    if (toTop) list.prepend(item.li);
    emptyNote();
  }

  // gone: archived or deleted, so the chat showing it goes too.
  function remove(id, gone) {
    const item = items.get(id);
    if (!item) return;
    item.li.remove();
    items.delete(id);
    emptyNote();
    if (gone && id === current) navigate('/');
  }

  function emptyNote() {
    if (items.size === 0 && done) {
      note.textContent = query ? 'No conversation matches.' :
        'No conversations yet.';
    } else if (!loading) {
      note.textContent = '';
    }
  }

  async function more() {
    if (loading || done) return;
    loading = true;
    const g = gen;
    const qs = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) qs.set('cursor', cursor);
    if (query) qs.set('q', query);
    try {
      const page = await api.get(`/v1/conversations?${qs}`);
      if (g !== gen) return;
      for (const conv of page.data) {
        if (items.has(conv.id)) continue;
        const item = build(conv);
        items.set(conv.id, item);
        mark(item);
        list.append(item.li);
      }
      cursor = page.next_cursor;
      done = !cursor;
    } catch (e) {
      if (g === gen) note.textContent = `Could not load: ${e.message}`;
      return;
    } finally {
      if (g === gen) loading = false;
    }
    emptyNote();
    // A page that does not fill the list cannot be scrolled to the next.
    if (!done && list.scrollHeight <= list.clientHeight) more();
  }

  function reset() {
    gen++;
    closeMenu();
    items.clear();
    list.replaceChildren();
    cursor = null;
    done = false;
    loading = false;
    more();
  }

  filter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      query = filter.value.trim();
      reset();
    }, FILTER_DELAY_MS);
  });
  list.addEventListener('scroll', () => {
    if (list.scrollTop + list.clientHeight >= list.scrollHeight - NEAR_END_PX) {
      more();
    }
  });
  function onDocClick(ev) {
    if (openMenu && !openMenu.menu.contains(ev.target) &&
        ev.target !== openMenu.button) closeMenu();
  }
  function onRoute(ev) {
    current = ev.detail.params.id || null;
    for (const item of items.values()) mark(item);
  }
  // the chat screen tells of conversations it created or changed, so the
  // list is right even while the WebSocket is down
  function onConv(ev) {
    upsert(ev.detail, true);
  }
  document.addEventListener('click', onDocClick);
  window.addEventListener('chat:route', onRoute);
  window.addEventListener('chat:conversation', onConv);
  const m = /^\/c\/([A-Za-z0-9-]+)$/.exec(location.pathname);
  current = m ? m[1] : null;

  const offs = [
    live.on('conversation', (f) => {
      const prev = items.get(f.data.id);
      // a change of title, model or prompt keeps the place in the list
      // unless the server moved updated_at past the one above it
      upsert(f.data, !prev || prev.conv.updated_at !== f.data.updated_at);
    }),
    live.on('conversation_deleted', (f) => remove(f.data.id, true)),
    live.on('message', (f) => {
      const item = items.get(f.conversation_id);
      if (item) list.prepend(item.li);
    }),
    live.on('reset', reset),
  ];
  more();

  return () => {
    gen++;
    clearTimeout(filterTimer);
    document.removeEventListener('click', onDocClick);
    window.removeEventListener('chat:route', onRoute);
    window.removeEventListener('chat:conversation', onConv);
    for (const off of offs) off();
    nav.remove();
  };
}
