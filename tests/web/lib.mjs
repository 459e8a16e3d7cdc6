// lib.mjs - the harness of the web page's real-browser tests (issue 14):
// Debian's chromium driven by playwright-core, against a running stack.
//
// The bats wrapper (tests/integration/web-browser.bats) starts the stack
// and runs each *.test.mjs file here with node's own test runner. Input
// through the environment:
//   CHAT_TEST_WEB_URL     the gateway's base URL (http://127.0.0.1:PORT)
//   CHAT_TEST_WEB_SHOTS   where the screenshots go (a directory, made if
//                    missing); default a fresh directory under $TMPDIR
//   CHAT_TEST_WEB_ADMIN   "username:password" of an admin account (admin tests)
//   CHAT_TEST_CHROMIUM    the browser binary (default /usr/bin/chromium)
// Every step saves a light and a dark screenshot, <shots>/<step>-light.png
// and <step>-dark.png, for a person to look at.
//
// Nothing here may download a browser: playwright-core never does, and
// the browser is launched with the flags that keep Chromium off the
// (closed) network.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Fails with a message saying what to install, rather than a stack trace
// from deep inside an import: CI installs both (scripts/deps.sh).
function need() {
  const exe = process.env.CHAT_TEST_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) {
    throw new Error(`no browser at '${exe}': install Debian's chromium ` +
      '(scripts/deps.sh does)');
  }
  let pw;
  try {
    pw = require('playwright-core');
  } catch {
    throw new Error('tests/web/node_modules is missing: run npm ci in ' +
      'tests/web (scripts/deps.sh does)');
  }
  return { exe, chromium: pw.chromium };
}

export const BASE = (process.env.CHAT_TEST_WEB_URL || '').replace(/\/$/, '');
if (!BASE) throw new Error('CHAT_TEST_WEB_URL is not set (the gateway\'s URL)');

export const SHOTS = process.env.CHAT_TEST_WEB_SHOTS ||
  fs.mkdtempSync(path.join(os.tmpdir(), 'chat-web-shots-'));
fs.mkdirSync(SHOTS, { recursive: true });

// Without these Chromium phones home (updates, safe browsing, sync,
// QUIC probes) on a network where nothing answers.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

// A browser with a fresh profile (playwright makes a temporary user-data
// dir per launch and deletes it at close).
export async function launch() {
  const { exe, chromium } = need();
  return chromium.launch({ executablePath: exe, headless: true,
    args: CHROMIUM_ARGS, timeout: 30000 });
}

// A new isolated context (its own cookies and storage: a second device)
// and a page in it. Records what the page says on its console, its
// uncaught errors and every dialog (dismissed), so a test can assert that
// nothing of the kind happened.
export async function openPage(browser, opts = {}) {
  const context = await browser.newContext({ baseURL: BASE,
    viewport: { width: 1100, height: 720 }, colorScheme: 'light', ...opts });
  const page = await context.newPage();
  // generous: a passing step never waits for it, and CI also runs the
  // stack under the sanitizers, several times slower
  page.setDefaultTimeout(10000);
  const seen = { console: [], errors: [], dialogs: [] };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location()?.url;
    seen.console.push(at ? `${m.text()} (${at})` : m.text());
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('dialog', (d) => {
    seen.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return { context, page, seen };
}

// Screenshots of the page as it is, light then dark, named after the step.
export async function shot(page, step) {
  const name = step.replace(/[^a-z0-9-]+/gi, '-');
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: path.join(SHOTS, `${name}-${colorScheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

// A name no other test (nor the other store's run) has taken.
let seq = 0;
export function uniq(prefix) {
  seq += 1;
  return `${prefix}${process.pid % 10000}${seq}${Math.floor(Math.random() * 1000)}`;
}

/* ------------------------------------------------------ the API, from node */

// api(method, path, body, token) → {status, body, headers}; body parsed
// when JSON.
export async function api(method, p, body, token, headers = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const init = { method, headers: h };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(BASE + p, init);
  const text = await res.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the text as it is
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function apiOk(method, p, body, token) {
  const r = await api(method, p, body, token);
  if (r.status < 200 || r.status > 299) {
    throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return r.body;
}

// A registered account and a JSON-mode login: {username, password, token,
// user}.
export async function newUser(prefix = 'u') {
  const username = uniq(prefix);
  const password = `pw-${username}-secret`;
  await apiOk('POST', '/v1/auth/register', { username, password });
  const r = await apiOk('POST', '/v1/auth/login', { username, password });
  return { username, password, token: r.access_token, user: r.user };
}

export async function loginApi(username, password) {
  return apiOk('POST', '/v1/auth/login', { username, password });
}

export function admin() {
  const v = process.env.CHAT_TEST_WEB_ADMIN || '';
  const i = v.indexOf(':');
  if (i < 1) throw new Error('CHAT_TEST_WEB_ADMIN is not set (username:password)');
  return { username: v.slice(0, i), password: v.slice(i + 1) };
}

// Polls fn until it returns a truthy value (returned) or ms pass.
export async function until(fn, ms = 5000, what = 'condition') {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/* ------------------------------------------------------- the page's forms */

// The login form, filled and sent; resolves once the app header shows.
export async function loginUi(page, username, password) {
  await page.goto('/');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Log in', exact: true }) });
  await form.getByLabel('Username', { exact: true }).fill(username);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
}

export async function registerUi(page, username, password) {
  await page.goto('/');
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Register', exact: true }) });
  await form.getByLabel('Username', { exact: true }).fill(username);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Register', exact: true }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
}

// A page already logged in as the account (through the login form).
export async function loggedIn(browser, acct, opts) {
  const o = await openPage(browser, opts);
  await loginUi(o.page, acct.username, acct.password);
  return o;
}

/* ------------------------------------------------------------ the checks */

const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// axe-core over the page as it is; throws listing every serious or
// critical violation. Evaluated through the DevTools protocol, which the
// page's CSP does not apply to (a <script> tag would be refused).
export async function axe(page, screen) {
  await page.evaluate(AXE);
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme });
    const res = await page.evaluate(() => window.axe.run(document,
      { resultTypes: ['violations'] }));
    const bad = res.violations.filter((v) => v.impact === 'serious' ||
      v.impact === 'critical');
    if (bad.length) {
      const text = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ` +
        v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n    '))
        .join('\n  ');
      await page.emulateMedia({ colorScheme: 'light' });
      throw new Error(`axe on ${screen} (${colorScheme}):\n  ${text}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

// Every value of localStorage and sessionStorage, and document.cookie:
// none may hold a token (JWT-shaped, or one of the given secrets).
export async function storageText(page) {
  return page.evaluate(() => {
    const out = [];
    for (const s of [localStorage, sessionStorage]) {
      for (let i = 0; i < s.length; i++) {
        const k = s.key(i);
        out.push(`${k}=${s.getItem(k)}`);
      }
    }
    out.push(`cookie=${document.cookie}`);
    return out.join('\n');
  });
}

// The page's messages (the <article>s of the Messages log), as
// {role, id, state, text}: text is what the message says, white space
// folded: the article's .body element (the page's message text), else the
// article without its controls (buttons, the branch counter, an editor).
export async function messages(page) {
  return page.locator('section[role="log"][aria-label="Messages"] article')
    .evaluateAll((els) => els.map((a) => {
      const c = (a.querySelector(':scope > .body') || a).cloneNode(true);
      for (const x of c.querySelectorAll('button, select, textarea, ' +
        'nav, [role="toolbar"], [role="group"], [aria-hidden="true"]')) {
        x.remove();
      }
      for (const x of c.querySelectorAll('*')) {
        if (x.children.length === 0 && /^\s*\d+\s*\/\s*\d+\s*$/.test(x.textContent)) x.remove();
      }
      return { role: a.dataset.role, id: a.dataset.id, state: a.dataset.state,
        text: c.textContent.replace(/\s+/g, ' ').trim() };
    }));
}

// The Messages log, its articles, one of a role.
export function log(page) {
  return page.locator('section[role="log"][aria-label="Messages"]');
}

export function fold(s) {
  return String(s).replace(/\s+/g, ' ').trim();
}

// The words "<tag>1 <tag>2 ... <tag>N": an echo answer of N tokens.
export function words(n, tag = 'w') {
  return Array.from({ length: n }, (_, i) => `${tag}${i + 1}`).join(' ');
}

// Types a message into the composer and sends it with the Send button.
export async function send(page, text) {
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill(text);
  await page.locator('main').getByRole('button', { name: 'Send', exact: true })
    .last().click();
}

// The id of the conversation the page shows (/c/ID).
export async function convId(page) {
  await page.waitForURL(/\/c\/[0-9a-fA-F-]+$/);
  return new URL(page.url()).pathname.split('/')[2];
}

// Records, from now on, every data-state each assistant message of the
// page goes through, and whether a Stop button was on the page then: a
// state that lasts less than a poll is still seen. Call again after a
// navigation (a reload starts a new document).
export async function watchStates(page) {
  await page.evaluate(() => {
    window.__states = [];   // [message id, data-state, Stop shown]
    const last = new Map();
    const check = () => {
      const stop = [...document.querySelectorAll('button')]
        .some((b) => b.textContent.trim() === 'Stop' ||
          b.getAttribute('aria-label') === 'Stop');
      for (const a of document.querySelectorAll(
        'section[role="log"] article[data-role="assistant"]')) {
        const key = `${a.dataset.state}|${stop}`;
        if (last.get(a.dataset.id) !== key) {
          last.set(a.dataset.id, key);
          window.__states.push([a.dataset.id, a.dataset.state, stop]);
        }
      }
    };
    new MutationObserver(check).observe(document.body, { subtree: true,
      childList: true, attributes: true, attributeFilter: ['data-state', 'data-id'] });
    check();
  });
}

// What watchStates saw of message id: [[state, Stop shown], ...], in
// order, repeats folded.
export async function statesOf(page, id) {
  const all = await page.evaluate(() => window.__states || []);
  const out = [];
  for (const [mid, state, stop] of all) {
    if (mid !== id) continue;
    const prev = out.at(-1);
    if (!prev || prev[0] !== state || prev[1] !== stop) out.push([state, stop]);
  }
  return out;
}
