// app.js: the page's shell and router.
//
// Boot: the access token is kept in memory only, so a reload starts
// without one and asks /v1/auth/refresh (the HttpOnly cookie) for a new
// one; no session means the login screen. Logged in, the shell is the
// header, the conversation sidebar and <main>, into which the route's
// screen is mounted. Screens are modules exporting mount(root, ctx) that
// return their unmount function; ctx = {api, user, navigate, live,
// params}. Settings and admin are loaded on first use to keep the first
// load small.

import { api, refresh, session, logout, onSessionEnd } from './api.js';
import { live } from './ws.js';
import { el } from './dom.js';

// Client-side routes: the path pattern, the screen module, and whether
// the route needs the admin role. The gateway answers index.html for all.
const ROUTES = [
  { re: /^\/$/, screen: './chat.js' },
  { re: /^\/c\/([A-Za-z0-9-]+)$/, screen: './chat.js', param: 'id' },
  { re: /^\/settings$/, screen: './settings.js' },
  { re: /^\/admin$/, screen: './admin.js', admin: true },
];

const THEME_KEY = 'theme';   // 'light' | 'dark'; absent: follow the system

const SHORTCUTS = [
  ['Enter', 'Send the message'],
  ['Shift+Enter', 'New line'],
  ['Esc', 'Stop the answer being written'],
  ['?', 'Show this list'],
];

const root = document.getElementById('app');
let unmountScreen = null;   // the mounted screen's unmount function
let unmountSidebar = null;
let unmountNotes = null;    // the header's notifications button and panel
let offStatus = null;       // removes the live-feed status listener
let shell = null;           // {main, header, sidebar} while logged in
let routeSeq = 0;           // drops a slow import overtaken by a newer route
let afterLogin = '/';       // where to go once logged in

/* ---------------------------------------------------------------- theme */

function storedTheme() {
  try {
    return localStorage.getItem(THEME_KEY);
  } catch {
    return null;
  }
}

function applyTheme(theme) {
  if (theme === 'light' || theme === 'dark') {
    document.documentElement.dataset.theme = theme;
  } else {
    delete document.documentElement.dataset.theme;
  }
}

function effectiveTheme() {
  const t = document.documentElement.dataset.theme;
  if (t) return t;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function toggleTheme() {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  applyTheme(next);
  try {
    localStorage.setItem(THEME_KEY, next);
  } catch {
    // storage refused (private mode): the choice lasts for this page only
  }
}

/* ------------------------------------------------------------- dialogs */

function shortcutsDialog() {
  const dlg = el('dialog', { class: 'dialog', 'aria-labelledby': 'kbd-title' },
    el('h2', { id: 'kbd-title' }, 'Keyboard shortcuts'),
    el('dl', { class: 'shortcuts' },
      SHORTCUTS.map(([k, what]) => [el('dt', {}, el('kbd', {}, k)),
        el('dd', {}, what)])),
    el('form', { method: 'dialog' },
      el('button', { type: 'submit', class: 'primary' }, 'Close')));
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

function typingIn(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable ||
     ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function onKey(ev) {
  if (ev.key === '?' && !ev.ctrlKey && !ev.metaKey && !typingIn(ev.target) &&
      !document.querySelector('dialog[open]')) {
    ev.preventDefault();
    shortcutsDialog();
  }
}

/* -------------------------------------------------------------- router */

export function navigate(path, replace = false) {
  if (path !== location.pathname) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  }
  route();
}

function match(path) {
  for (const r of ROUTES) {
    const m = r.re.exec(path);
    if (m) return { r, params: r.param ? { [r.param]: m[1] } : {} };
  }
  return null;
}

function clearScreen() {
  if (unmountScreen) unmountScreen();
  unmountScreen = null;
}

async function route() {
  const seq = ++routeSeq;
  const s = session();
  if (!s) {
    showLogin();
    return;
  }
  if (!shell) buildShell(s.user);
  let found = match(location.pathname);
  if (!found || (found.r.admin && s.user.role !== 'admin')) {
    history.replaceState(null, '', '/');
    found = match('/');
  }
  window.dispatchEvent(new CustomEvent('chat:route',
    { detail: { path: location.pathname, params: found.params } }));
  let mod;
  try {
    mod = await import(found.r.screen);
  } catch (e) {
    if (seq !== routeSeq) return;
    clearScreen();
    shell.main.replaceChildren(el('p', { role: 'alert' },
      `This screen could not be loaded: ${e.message}`));
    return;
  }
  if (seq !== routeSeq || !shell) return;
  clearScreen();
  shell.main.replaceChildren();
  const ctx = { api, user: session().user, navigate, live,
    params: found.params };
  unmountScreen = mod.mount(shell.main, ctx) || null;
}

// Same-origin links inside the page change the route without a reload;
// modified clicks and target=_blank links keep the browser's behaviour.
function onClick(ev) {
  const a = ev.target instanceof Element ? ev.target.closest('a[href]') : null;
  if (!a || a.target || ev.defaultPrevented || ev.button !== 0 ||
      ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/v1/')) return;
  ev.preventDefault();
  navigate(url.pathname);
}

/* --------------------------------------------------------------- shell */

function buildShell(user) {
  const main = el('main', { id: 'main', class: 'main', tabindex: '-1' });
  const sidebar = el('div', { class: 'sidebar-wrap' });
  // Says so while the live feed is down (after a second, so a quick
  // reconnection shows nothing).
  const conn = el('p', { class: 'conn', role: 'status' });
  let connTimer = 0;
  offStatus = live.on('status', (f) => {
    clearTimeout(connTimer);
    if (f.data.connected) conn.textContent = '';
    else connTimer = setTimeout(() => { conn.textContent = 'Reconnecting…'; }, 1000);
  });
  const notes = el('div', { class: 'notif-slot' });
  const header = el('header', { class: 'topbar' },
    el('a', { href: '/', class: 'brand' }, 'Chat'), conn,
    el('div', { class: 'topbar-actions' }, notes,
      el('button', { type: 'button', onclick: () => {
        navigate('/');
        window.dispatchEvent(new CustomEvent('chat:new'));
      } }, 'New chat'),
      el('button', { type: 'button', onclick: () => navigate('/settings') },
        'Settings'),
      user.role === 'admin'
        ? el('button', { type: 'button', onclick: () => navigate('/admin') },
          'Admin')
        : null,
      el('button', { type: 'button', onclick: toggleTheme }, 'Theme'),
      el('button', { type: 'button', onclick: shortcutsDialog },
        'Keyboard shortcuts'),
      el('button', { type: 'button', onclick: doLogout }, 'Log out')));
  root.replaceChildren(
    el('a', { href: '#main', class: 'skip' }, 'Skip to the conversation'),
    header, el('div', { class: 'layout' }, sidebar, main));
  shell = { main, header, sidebar };
  live.start();
  import('./sidebar.js').then((mod) => {
    if (shell && shell.sidebar === sidebar) {
      unmountSidebar = mod.mount(sidebar, { api, user, navigate, live,
        params: {} }) || null;
    }
  }).catch(() => {
    sidebar.replaceChildren(el('p', { role: 'alert' },
      'The conversation list could not be loaded.'));
  });
  import('./notifications.js').then((mod) => {
    if (shell && shell.header === header) {
      unmountNotes = mod.mount(notes, { api, user, navigate, live,
        params: {} }) || null;
    }
  }).catch(() => {
    notes.replaceChildren(el('p', { role: 'alert' },
      'Notifications could not be loaded.'));
  });
}

function tearDownShell() {
  routeSeq++;
  clearScreen();
  if (unmountSidebar) unmountSidebar();
  unmountSidebar = null;
  if (unmountNotes) unmountNotes();
  unmountNotes = null;
  if (offStatus) offStatus();
  offStatus = null;
  shell = null;
  live.stop();
}

// logout() ends the session, and onSessionEnd shows the login screen.
async function doLogout() {
  await logout();
}

async function showLogin() {
  tearDownShell();
  if (location.pathname !== '/login') {
    afterLogin = location.pathname === '/' ? '/' : location.pathname;
    history.replaceState(null, '', '/login');
  }
  const mod = await import('./login.js');
  if (session()) return;
  clearScreen();
  root.replaceChildren();
  unmountScreen = mod.mount(root, {
    api,
    onLogin: () => {
      clearScreen();
      const to = afterLogin;
      afterLogin = '/';
      navigate(to, true);
    },
  });
}

async function boot() {
  applyTheme(storedTheme());
  document.addEventListener('keydown', onKey);
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', route);
  onSessionEnd(() => showLogin());
  if (location.pathname === '/login') {
    await refresh();
    if (session()) history.replaceState(null, '', '/');
  } else {
    await refresh();
  }
  route();
}

boot();
