// bench/web.mjs - the web page's numbers (issue 14), measured in Debian's
// headless chromium through playwright-core (tests/web/node_modules) and
// the DevTools protocol, against a running stack (bench/web.sh starts
// one). Prints one JSON object on stdout.
//
//   CHAT_TEST_WEB_URL   the gateway (serving web/ and the cookie login)
//   BENCH_RUNS     how many times each first-load is measured (default 5)
//   BENCH_MODEL    the model of the streaming part (bench/web.sh: the fake
//                  upstream at 200 tokens/s)
//
// 1. First load, no session: every transfer of the page (compressed, as
//    on the wire: encodedDataLength of Network.loadingFinished, headers
//    included) and the time to interactive: from navigation start to the
//    login form's username field enabled and focusable (checked on every
//    animation frame).
// 2. A conversation of 10,000 messages (imported through the API) and one
//    of 10 opened: navigation start → the newest message on screen.
// 3. Frame times while an answer streams at 200 tokens/s: every
//    requestAnimationFrame delta (a delta past 25 ms, 1.5 frames at
//    60 Hz, counts as a missed frame) and the long-animation-frame
//    entries of the Performance API (frames whose work took 50 ms or
//    more), from the first token to the end.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/web/package.json'));
const { chromium } = require('playwright-core');

const BASE = process.env.CHAT_TEST_WEB_URL;
const RUNS = Number(process.env.BENCH_RUNS || 5);
const MODEL = process.env.BENCH_MODEL || 'echo';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

async function call(method, p, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(BASE + p, { method, headers,
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  return { n: s.length, min: s[0], p50: q(0.5), p95: q(0.95), p99: q(0.99),
    max: s.at(-1) };
}

const round = (x) => Math.round(x * 10) / 10;

// Navigation start → the login form usable, in ms of the page's clock.
async function firstLoad(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const bytes = new Map();
  cdp.on('Network.loadingFinished', (e) => bytes.set(e.requestId, e.encodedDataLength));
  const urls = new Map();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  await page.goto(`${BASE}/`, { waitUntil: 'commit' });
  const tti = await page.waitForFunction(() => {
    const u = document.querySelector('input[name="username"]');
    if (!u || u.disabled || u.closest('[inert], [hidden]')) return false;
    u.focus();
    return document.activeElement === u ? performance.now() : false;
  }, undefined, { polling: 'raf', timeout: 10000 }).then((h) => h.jsonValue());
  // what loads after the form is usable counts too (lazy modules)
  await page.waitForLoadState('networkidle');
  let total = 0;
  const files = [];
  for (const [id, n] of bytes) {
    total += n;
    files.push([new URL(urls.get(id)).pathname, n]);
  }
  await context.close();
  return { tti, bytes: total, requests: bytes.size, files };
}

// A conversation of n messages, a chain user/assistant, through import.
async function bigConversation(token, n) {
  const messages = [];
  for (let i = 0; i < n; i++) {
    messages.push({ id: `m${i}`, parent_id: i ? `m${i - 1}` : null,
      role: i % 2 ? 'assistant' : 'user',
      content: i % 2 ? `A${i} *b* \`c\`` : `Q${i}?` });
  }
  const c = await call('POST', '/v1/conversations/import',
    { title: `${n} messages`, messages }, token);
  const full = await call('GET', `/v1/conversations/${c.id}?messages=1`, undefined, token);
  return { id: c.id, leaf: full.messages.at(-1).id };
}

async function login(browser, user) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${BASE}/`);
  await page.locator('input[name="username"]').fill(user.username);
  await page.locator('input[name="password"]').fill(user.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
  return { context, page };
}

// Navigation start → the leaf's <article> in the document.
async function openConversation(page, conv) {
  await page.goto(`${BASE}/c/${conv.id}`, { waitUntil: 'commit' });
  const ms = await page.waitForFunction((leaf) => {
    const a = document.querySelector(`article[data-id="${leaf}"]`);
    return a && a.getBoundingClientRect().height > 0 ? performance.now() : false;
  }, conv.leaf, { polling: 'raf', timeout: 60000 }).then((h) => h.jsonValue());
  const articles = await page.locator('article').count();
  return { ms, articles };
}

// Frame deltas while the answer streams.
async function streaming(page, conv, words) {
  await page.goto(`${BASE}/c/${conv}`);
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.waitFor();
  await page.evaluate(() => {
    window.__frames = [];
    window.__loaf = [];
    window.__on = false;
    let last = 0;
    const tick = (t) => {
      if (window.__on && last) window.__frames.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    try {
      new PerformanceObserver((l) => {
        if (window.__on) for (const e of l.getEntries()) window.__loaf.push(e.duration);
      }).observe({ type: 'long-animation-frame', buffered: false });
    } catch {
      // no long-animation-frame entries in this browser
    }
  });
  await box.fill('go');
  await page.getByRole('button', { name: 'Send', exact: true }).last().click();
  const a = page.locator('article[data-role="assistant"]').last();
  await a.and(page.locator('[data-state="streaming"]')).waitFor({ timeout: 10000 });
  await page.evaluate(() => { window.__on = true; });
  const t0 = Date.now();
  await a.and(page.locator('[data-state="done"]')).waitFor({ timeout: 120000 });
  const secs = (Date.now() - t0) / 1000;
  const r = await page.evaluate(() => {
    window.__on = false;
    return { frames: window.__frames, loaf: window.__loaf };
  });
  const text = await a.innerText();
  return { secs, words, tokensPerSec: words / secs, frames: stats(r.frames),
    // a delta past 1.5 frames is a frame the page did not make in time
    missed: r.frames.filter((d) => d > 25).length, loaf: r.loaf.length ?
      stats(r.loaf) : null, textLength: text.length };
}

async function main() {
  if (!BASE) throw new Error('CHAT_TEST_WEB_URL is not set');
  const browser = await chromium.launch({ executablePath: process.env.CHAT_TEST_CHROMIUM ||
    '/usr/bin/chromium', headless: true, args: ARGS });
  // the machine's load, before and after: these numbers mean little on
  // a busy machine
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ')
    .slice(0, 3).join(' ');
  const out = { chromium: browser.version(), loadBefore: load() };
  try {
    const loads = [];
    for (let i = 0; i < RUNS; i++) loads.push(await firstLoad(browser));
    out.firstLoad = { bytes: loads[0].bytes, requests: loads[0].requests,
      files: loads[0].files, tti: stats(loads.map((l) => round(l.tti))) };

    const user = { username: `bench${process.pid}`, password: 'bench-password-1' };
    await call('POST', '/v1/auth/register', user);
    const { access_token: token } = await call('POST', '/v1/auth/login', user);
    const big = await bigConversation(token, 10000);
    const small = await bigConversation(token, 10);
    const { context, page } = await login(browser, user);
    const opens = { 10: [], 10000: [] };
    let shown = {};
    for (let i = 0; i < 3; i++) {
      for (const [n, conv] of [[10, small], [10000, big]]) {
        const r = await openConversation(page, conv);
        opens[n].push(round(r.ms));
        shown[n] = r.articles;
      }
    }
    out.open = { ms10: stats(opens[10]), ms10000: stats(opens[10000]),
      articlesShown: shown };

    const words = Number(process.env.BENCH_WORDS || 1000);
    const conv = await call('POST', '/v1/conversations',
      { title: 'stream', model: MODEL }, token);
    out.streaming = { model: MODEL, ...(await streaming(page, conv.id, words)) };
    await context.close();
  } finally {
    await browser.close();
  }
  out.loadAfter = load();
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench/web.mjs: ${e.stack || e}\n`);
  process.exit(1);
});
