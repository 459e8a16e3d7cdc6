// xss.test.mjs - hostile content is inert: a question (echoed back by the
// echo model, so it is also the answer, rendered as Markdown) holding an
// <img onerror>, a javascript: link in Markdown and in HTML, an SVG with a
// script and an SVG onload; a conversation title made of HTML. Nothing
// runs (no dialog, no console error, the window flag stays unset) and no
// live element is injected (no handler attribute, no script, no
// javascript: URL, no image that loads). Run by
// tests/integration/web-browser.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loggedIn, newUser, shot, apiOk, log, send, convId } from './lib.mjs';

let browser;
let acct;
let o;
before(async () => {
  browser = await launch();
  acct = await newUser('xss');
  o = await loggedIn(browser, acct);
});
after(async () => { await browser?.close(); });

const PAYLOAD = [
  '<img src=x onerror="window.__xss=1;alert(1)">',
  '[click me](javascript:window.__xss=2;alert(2))',
  '<svg><script>window.__xss=3;alert(3)</script></svg>',
  '<svg onload="window.__xss=4;alert(4)"><circle r="1"/></svg>',
  '<a href="javascript:window.__xss=5;alert(5)">html link</a>',
  '<iframe src="javascript:alert(6)"></iframe><object data="x"></object>',
].join('\n\n');

// Everything of the kind that could run or load, inside a locator.
const LIVE = '[onerror], [onload], [onclick], script, iframe, object, embed, ' +
  'a[href^="javascript:" i], [src^="javascript:" i], ' +
  'img[src]:not([src^="data:"]), image, foreignObject';

test('a message of hostile HTML and Markdown runs nothing', async () => {
  const { page, seen } = o;
  await page.getByRole('button', { name: 'New chat', exact: true }).click();
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  // from here on, whatever the console says comes from the payload
  seen.console.length = 0;
  await send(page, PAYLOAD);
  const a = log(page).locator('article[data-role="assistant"]').last();
  await a.and(page.locator('[data-state="done"]')).waitFor({ timeout: 10000 });
  const conv = await convId(page);
  const c = await apiOk('GET', `/v1/conversations/${conv}`, undefined, acct.token);
  assert.equal(c.messages.at(-1).content, PAYLOAD, 'the echo changed the payload');
  // the Markdown link, if it is still a link, goes nowhere harmful
  const link = log(page).getByText('click me').first();
  if (await link.count()) await link.click({ timeout: 2000 }).catch(() => {});
  await page.waitForTimeout(300);
  await shot(page, 'xss-message');
  assert.equal(await log(page).locator(LIVE).count(), 0,
    await log(page).evaluate((n) => n.innerHTML.slice(0, 2000)));
  for (const l of await log(page).locator('a[href]').all()) {
    assert.equal(await l.getAttribute('target'), '_blank');
    assert.match(await l.getAttribute('rel'), /noopener/);
    assert.match(await l.getAttribute('rel'), /noreferrer/);
  }
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(seen.dialogs, []);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.console, []);
  for (const p of o.context.pages()) {
    if (p !== page) assert.doesNotMatch(p.url(), /^javascript:/);
  }
});

test('a conversation title of HTML shows as text', async () => {
  const { page, seen } = o;
  const title = '<img src=x onerror="window.__xss=7;alert(7)"><b>bold</b>';
  const conv = await apiOk('POST', '/v1/conversations', { title }, acct.token);
  seen.console.length = 0;
  await page.goto(`/c/${conv.id}`);
  const nav = page.getByRole('navigation', { name: 'Conversations' });
  const link = nav.locator(`a[href="/c/${conv.id}"]`);
  await link.waitFor();
  assert.equal((await link.innerText()).trim(), title);
  assert.equal(await nav.locator('b, img').count(), 0);
  assert.equal(await nav.locator(LIVE).count(), 0);
  assert.equal(await page.locator('main').locator(LIVE).count(), 0);
  await shot(page, 'xss-title');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(seen.dialogs, []);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.console, []);
});
