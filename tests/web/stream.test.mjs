// stream.test.mjs - the chat pane's streaming and paging, in chromium:
// a conversation opened (or the page reloaded) in the middle of its
// answer shows only prefixes of that answer, never a piece twice; a
// long answer is rendered piecewise (its finished blocks are kept, not
// rebuilt on every frame), its code highlighted once the grammar has
// loaded, its last words shown with its end, a regenerated answer
// replacing the old one without a blank; the view follows the
// answer unless the reader scrolled up; a long conversation opens at its
// newest messages and pages back with no gap and no duplicate. Run by
// tests/integration/web-stream.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loggedIn, newUser, shot, apiOk, api, messages, log, fold,
  words, until } from './lib.mjs';

let browser;
let acct;
let o;
before(async () => {
  browser = await launch();
  acct = await newUser('stream');
  o = await loggedIn(browser, acct);
});
after(async () => { await browser?.close(); });

const assistant = (page) => log(page).locator('article[data-role="assistant"]');

async function storedLast(conv) {
  const c = await apiOk('GET', `/v1/conversations/${conv}`, undefined, acct.token);
  return c.messages.at(-1);
}

// openNew PAGE TITLE: a new conversation, shown with its message box
// ready; { conv, box }.
async function openNew(page, title) {
  const conv = await apiOk('POST', '/v1/conversations', { title }, acct.token);
  await page.goto(`/c/${conv.id}`);
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.waitFor();
  return { conv, box };
}

// shownUntilDone PAGE: every text the last answer showed, read as fast
// as the page answers, until it is done.
async function shownUntilDone(page) {
  const shown = [];
  let state = null;
  while (state !== 'done') {
    const m = (await messages(page)).at(-1);
    if (m?.role === 'assistant') {
      shown.push(m.text);
      state = m.state;
    }
    assert.ok(shown.length < 2000, 'the answer never ended');
  }
  return shown;
}

// assertPrefixes SHOWN Q: the answer ended as Q and showed nothing that
// is no prefix of it.
function assertPrefixes(shown, q) {
  assert.equal(shown.at(-1), q);
  const bad = shown.filter((t) => !q.startsWith(t));
  assert.deepEqual(bad.map((t) => t.slice(-60)), [],
    'the page showed a text that is no prefix of the answer');
}

test('a conversation opened mid-answer shows only prefixes of the answer', async () => {
  const { page, seen } = o;
  const other = await apiOk('POST', '/v1/conversations', { title: 'elsewhere' }, acct.token);
  const conv = await apiOk('POST', '/v1/conversations', { title: 'opened mid-answer' }, acct.token);
  await page.goto(`/c/${other.id}`);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  const q = words(300, 'mid');
  const done = api('POST', `/v1/conversations/${conv.id}/messages`, { content: q },
    acct.token);
  // let the answer get going while another conversation is shown, then
  // open it: the stored text is behind the socket's by up to 250 ms
  await until(async () => {
    const c = await apiOk('GET', `/v1/conversations/${conv.id}`, undefined, acct.token);
    return c.messages.at(-1)?.content.includes('mid20');
  }, 10000, 'the answer under way');
  await page.getByRole('navigation', { name: 'Conversations' })
    .getByRole('link', { name: 'opened mid-answer' }).click();
  const shown = await shownUntilDone(page);
  assert.equal((await done).status, 201);
  const last = await storedLast(conv.id);
  assert.equal(last.content, q);
  assertPrefixes(shown, q);
  await shot(page, 'stream-opened-mid-answer');
  assert.deepEqual(seen.errors, []);
});

test('a page reloaded mid-answer shows only prefixes of the answer', async () => {
  const { page, seen } = o;
  const { conv } = await openNew(page, 'reloaded');
  const q = words(300, 'rl');
  const done = api('POST', `/v1/conversations/${conv.id}/messages`, { content: q },
    acct.token);
  await until(async () => (await messages(page)).at(-1)?.text.includes('rl20'),
    10000, 'the answer under way');
  // a fresh page: the socket saw none of the answer, the stored text is
  // behind what the socket brings while the conversation is read
  await page.reload();
  const shown = await shownUntilDone(page);
  assert.equal((await done).status, 201);
  assertPrefixes(shown, q);
  assert.deepEqual(seen.errors, []);
});

test('a long answer is rendered piecewise: finished blocks stay', async () => {
  const { page, seen } = o;
  const { conv } = await openNew(page, 'piecewise');
  // paragraphs of 10 words: blank lines the renderer may cut at
  const paras = Array.from({ length: 30 }, (_, i) => words(10, `p${i}w`));
  const q = paras.join('\n\n');
  const done = api('POST', `/v1/conversations/${conv.id}/messages`, { content: q },
    acct.token);
  const a = assistant(page).last();
  await until(async () => (await a.count()) > 0 &&
    (await a.innerText()).includes('p3w1'), 10000, 'a few paragraphs');
  // tag the first paragraph's element: re-rendering it would drop the tag
  await a.locator('.body p').first().evaluate((p) => { p.dataset.kept = 'yes'; });
  await until(async () => (await a.innerText()).includes('p20w1'), 20000,
    'many more paragraphs');
  assert.equal(await a.getAttribute('data-state'), 'streaming');
  assert.equal(await a.locator('.body p[data-kept="yes"]').count(), 1,
    'the first paragraph was rendered again');
  assert.equal((await done).status, 201);
  await a.and(page.locator('[data-state="done"]')).waitFor();
  // the end renders the growing tail only, so the tag survives it too
  assert.equal(await a.locator('.body p[data-kept="yes"]').count(), 1);
  assert.equal((await messages(page)).at(-1).text, fold(q));
  assert.equal(await a.locator('.body p').count(), 30);
  // each frame's re-render is measured for the benchmark
  const renders = await page.evaluate(() =>
    performance.getEntriesByName('chat:render').length);
  assert.ok(renders > 0, 'no chat:render measure');
  assert.deepEqual(seen.errors, []);
});

test('an answer shows its last words when it shows it is done', async () => {
  const { page, seen } = o;
  const { conv } = await openNew(page, 'the end');
  // the text of the answer at the moment data-state turns "done"
  await log(page).evaluate((l) => {
    window.__atDone = [];
    new MutationObserver((ms) => {
      for (const m of ms) {
        if (m.oldValue !== 'streaming' || m.target.dataset.state !== 'done') continue;
        window.__atDone.push(m.target.querySelector(':scope > .body')
          .textContent.replace(/\s+/g, ' ').trim());
      }
    }).observe(l, { subtree: true, attributes: true,
      attributeFilter: ['data-state'], attributeOldValue: true });
  });
  for (let i = 0; i < 3; i++) {
    const q = words(30, `end${i}w`);
    const r = await api('POST', `/v1/conversations/${conv.id}/messages`,
      { content: q }, acct.token);
    assert.equal(r.status, 201);
    await until(async () => (await page.evaluate(() => window.__atDone.length)) > i,
      10000, `answer ${i} done`);
    assert.equal(await page.evaluate((n) => window.__atDone[n], i), q);
  }
  assert.deepEqual(seen.errors, []);
});

test('a regenerated answer takes the old one\'s place, no blank between', async () => {
  const { page, seen } = o;
  const { box } = await openNew(page, 'again');
  await box.fill(words(20, 'ag'));
  await page.keyboard.press('Enter');
  const a = assistant(page).last();
  await a.and(page.locator('[data-state="done"]')).waitFor({ timeout: 10000 });
  const old = await a.getAttribute('data-id');
  // the fewest answers the log held at any moment from here on
  await log(page).evaluate((l) => {
    const count = () => l.querySelectorAll('article[data-role="assistant"]').length;
    window.__fewest = count();
    new MutationObserver(() => { window.__fewest = Math.min(window.__fewest, count()); })
      .observe(l, { childList: true, subtree: true });
  });
  await a.getByRole('button', { name: 'Regenerate', exact: true }).click();
  await until(async () => (await assistant(page).last().getAttribute('data-id')) !== old &&
    (await assistant(page).last().getAttribute('data-state')) === 'done', 10000,
  'the new answer');
  assert.equal(await page.evaluate(() => window.__fewest), 1,
    'the old answer went before the new one came');
  await assistant(page).last().getByText(/2\s*\/\s*2/).waitFor();
  assert.deepEqual(seen.errors, []);
});

test('a code block streamed before its grammar loaded is highlighted', async () => {
  const { page, seen } = o;
  const { box } = await openNew(page, 'code');
  // a fresh page: highlight.js and the Go grammar are loaded only now,
  // after the block has been rendered plain and kept (the blank line
  // after it closes it while the grammar is on its way)
  await box.fill('Go:\n\n```go\nfunc main() { return }\n```\n\nafter the block');
  await page.keyboard.press('Enter');
  const a = assistant(page).last();
  await a.and(page.locator('[data-state="done"]')).waitFor({ timeout: 10000 });
  const code = a.locator('pre code');
  await until(async () => (await code.locator('.hljs-keyword').count()) > 0,
    5000, 'the Go keywords highlighted');
  assert.equal(fold(await code.innerText()), 'func main() { return }');
  await a.getByRole('button', { name: 'Copy code', exact: true }).waitFor();
  assert.deepEqual(seen.errors, []);
});

test('the view follows the answer, unless the reader scrolls up', async () => {
  const { page, seen } = o;
  const { box } = await openNew(page, 'follow');
  // a question taller than the view, so its answer starts below it
  const q = Array.from({ length: 16 }, (_, i) => words(8, `f${i}w`)).join('\n\n');
  const gap = () => log(page).evaluate((l) =>
    l.scrollHeight - l.scrollTop - l.clientHeight);
  await box.fill(q);
  await page.keyboard.press('Enter');
  const a = assistant(page).last();
  await a.and(page.locator('[data-state="done"]')).waitFor({ timeout: 20000 });
  assert.ok(await gap() < 8, `the answer's end is ${await gap()} px below the view`);
  await shot(page, 'stream-followed');
  // scrolled up while the next answer streams: the view stays put
  await box.fill(q);
  await page.keyboard.press('Enter');
  await until(async () => (await assistant(page).count()) === 2 &&
    (await assistant(page).last().getAttribute('data-state')) === 'streaming',
  10000, 'the second answer streaming');
  await log(page).evaluate((l) => { l.scrollTop = 10; });
  await assistant(page).last().and(page.locator('[data-state="done"]'))
    .waitFor({ timeout: 20000 });
  assert.ok(await log(page).evaluate((l) => l.scrollTop) < 50,
    'the view was pulled down while the reader was reading above');
  assert.deepEqual(seen.errors, []);
});

test('a long conversation opens at its newest messages, pages back whole', async () => {
  const { page, seen } = o;
  const n = 1200;
  const msgs = Array.from({ length: n }, (_, i) => ({
    id: `m${i}`, parent_id: i ? `m${i - 1}` : null,
    role: i % 2 ? 'assistant' : 'user', content: `message ${i}`,
  }));
  const conv = await apiOk('POST', '/v1/conversations/import',
    { title: 'long', messages: msgs, current_leaf_id: `m${n - 1}` }, acct.token);
  await page.goto(`/c/${conv.id}`);
  await log(page).locator('article').last().waitFor();
  let shown = await messages(page);
  assert.ok(shown.length <= 100, `opened with ${shown.length} messages`);
  assert.equal(shown.at(-1).text, `message ${n - 1}`);
  // scrolling to the top loads the page before, and keeps the place
  for (let i = 0; i < 4; i++) {
    const before = shown.length;
    await log(page).evaluate((l) => { l.scrollTop = 0; });
    await until(async () => (shown = await messages(page)).length > before,
      5000, 'an earlier page');
  }
  const nums = shown.map((m) => Number(m.text.split(' ')[1]));
  assert.equal(nums.at(-1), n - 1);
  nums.forEach((v, i) => assert.equal(v, nums[0] + i, `gap or duplicate at ${i}`));
  assert.ok(await log(page).evaluate((l) => l.scrollTop > 0),
    'the view jumped to the top');
  await shot(page, 'stream-long-paged');
  assert.deepEqual(seen.errors, []);
});
