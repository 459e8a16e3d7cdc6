// account.test.mjs - the settings and admin screens where they meet bad
// input: a wrong current password is said plainly, sent once and leaves
// the page signed in (a 401 about a password is not an expired token);
// a hostile display name, key name and user agent show as text in the
// settings, the admin table and the event tail, running and injecting
// nothing; after a secret shown once, focus goes back where it was; a
// guest meets no error for the API keys it may not have; the account's
// data downloads as one file; an admin sets a user's password, and the
// user's open page is signed out; a search overtaken by the next leaves
// the paging button usable. Run by tests/integration/web-account.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { launch, loggedIn, newUser, shot, api, apiOk, admin, loginApi, uniq,
  until }
  from './lib.mjs';

// Each payload sets window.__pwned if it ever runs.
const IMG = '<img src=x onerror="window.__pwned=1">';
const SVG = '<svg onload="window.__pwned=1"><script>window.__pwned=1</script></svg>';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function openSettings(page) {
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await page.getByRole('heading', { name: 'Sessions', exact: true }).waitFor();
}

// The elements the payloads would have made inside <main>, and whether
// any of their script ran.
async function injected(page) {
  return page.evaluate(() => ({
    elements: document.querySelectorAll('main img, main svg, main script').length,
    ran: window.__pwned === 1,
  }));
}

test('a wrong current password: one request, an alert, still signed in', async () => {
  const acct = await newUser('pwd');
  const o = await loggedIn(browser, acct);
  try {
    const { page } = o;
    await openSettings(page);
    const sent = { password: 0, refresh: 0 };
    page.on('request', (r) => {
      const p = new URL(r.url()).pathname;
      if (p === '/v1/users/me/password') sent.password += 1;
      if (p === '/v1/auth/refresh') sent.refresh += 1;
    });
    const part = page.getByRole('region', { name: 'Password', exact: true });
    await part.locator('input[name="current-password"]').fill('not-the-password');
    await part.locator('input[name="new-password"]').fill('a-new-password-1');
    await part.getByRole('button', { name: 'Change password', exact: true }).click();
    const alert = part.getByRole('alert');
    await alert.waitFor();
    assert.equal((await alert.innerText()).trim(), 'The current password is wrong.');
    await shot(page, 'account-wrong-password');
    assert.deepEqual(sent, { password: 1, refresh: 0 });
    // still signed in, on the same screen, the button usable again
    await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
    assert.ok(/\/settings$/.test(page.url()));
    assert.equal(await part.getByRole('button', { name: 'Change password',
      exact: true }).isDisabled(), false);
    // nothing changed
    assert.ok((await loginApi(acct.username, acct.password)).access_token);
  } finally {
    await o.context.close();
  }
});

test('hostile names and user agents are text in settings, admin and events', async () => {
  const acct = await newUser('xss');
  await apiOk('PATCH', '/v1/users/me', { display_name: IMG }, acct.token);
  await apiOk('POST', '/v1/apikeys', { name: SVG }, acct.token);
  const o = await loggedIn(browser, acct, { userAgent: IMG });
  const root = admin();
  const boss = await loggedIn(browser, root);
  try {
    const { page } = o;
    await openSettings(page);
    await page.getByRole('row').filter({ hasText: SVG }).waitFor();
    await page.getByRole('row').filter({ hasText: 'This device' })
      .filter({ hasText: IMG }).waitFor();
    assert.equal(await page.getByRole('textbox', { name: 'Display name',
      exact: true }).inputValue(), IMG);
    await shot(page, 'account-hostile-settings');
    assert.deepEqual(await injected(page), { elements: 0, ran: false });

    const b = boss.page;
    await b.getByRole('button', { name: 'Admin', exact: true }).click();
    await b.getByRole('heading', { name: 'Events', exact: true }).waitFor();
    await b.getByText('Live', { exact: true }).waitFor();
    await apiOk('PATCH', '/v1/users/me', { display_name: `${SVG}!` }, acct.token);
    await b.getByRole('searchbox', { name: 'Search users', exact: true })
      .fill(acct.username);
    await b.getByRole('row').filter({ hasText: acct.username })
      .filter({ hasText: `${SVG}!` }).waitFor();
    // an event with the hostile key name in its data, while the tail is open
    await apiOk('POST', '/v1/apikeys', { name: `${IMG}?` }, acct.token);
    await b.getByRole('list', { name: 'Event tail', exact: true })
      .getByRole('listitem').filter({ hasText: 'chat.apikey.created' })
      .filter({ hasText: `${IMG}?`.replace(/"/g, '\\"') })
      .waitFor({ timeout: 10000 });
    await shot(b, 'account-hostile-admin');
    assert.deepEqual(await injected(b), { elements: 0, ran: false });
    assert.deepEqual(o.seen.errors, []);
    assert.deepEqual(boss.seen.errors, []);
    assert.deepEqual([...o.seen.dialogs, ...boss.seen.dialogs], []);
  } finally {
    await o.context.close();
    await boss.context.close();
  }
});

// The name of the focused element's label or its text, for a person.
async function focused(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return 'nothing';
    return (a.labels && a.labels[0] ? a.labels[0].textContent : a.textContent).trim();
  });
}

test('after a secret shown once, focus goes back to where it was', async () => {
  const acct = await newUser('focus');
  const o = await loggedIn(browser, acct);
  const boss = await loggedIn(browser, admin());
  try {
    const { page } = o;
    await openSettings(page);
    await page.getByRole('textbox', { name: 'Key name', exact: true }).fill('focus key');
    await page.getByRole('combobox', { name: 'Expires', exact: true })
      .selectOption({ label: 'In 30 days' });
    await page.getByRole('button', { name: 'Create key', exact: true }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByRole('button', { name: 'Done', exact: true }).click();
    await dlg.waitFor({ state: 'detached' });
    // the dialog's close and the focus's return are two steps of the
    // page: under the sanitizers the check could come between them
    await until(async () => (await focused(page)) === 'Key name', 10000,
      'focus back on "Key name"');
    // made with the lifetime chosen
    const keys = (await apiOk('GET', '/v1/apikeys', undefined, acct.token)).data;
    const days = (Date.parse(keys[0].expires_at) - Date.now()) / 86400000;
    assert.ok(days > 29 && days <= 30, `expires in ${days} days`);

    // a generated password, closed with Esc this time
    const b = boss.page;
    await b.getByRole('button', { name: 'Admin', exact: true }).click();
    await b.getByRole('button', { name: 'Create user', exact: true }).click();
    await b.getByRole('dialog').getByLabel('Username', { exact: true })
      .fill(`${acct.username}x`);
    await b.getByRole('dialog').getByRole('button', { name: 'Create', exact: true }).click();
    await b.getByRole('dialog').locator('[data-secret]').waitFor();
    await b.keyboard.press('Escape');
    await b.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal(await focused(b), 'Create user');
  } finally {
    await o.context.close();
    await boss.context.close();
  }
});

test('a guest is told that keys are not for guests, with no error', async () => {
  const root = admin();
  const boss = await loginApi(root.username, root.password);
  const acct = { username: uniq('guest'), password: 'guest-password-1' };
  await apiOk('POST', '/v1/admin/users', { ...acct, role: 'guest' },
    boss.access_token);
  const o = await loggedIn(browser, acct);
  try {
    const { page } = o;
    await openSettings(page);
    const keys = page.getByRole('region', { name: 'API keys', exact: true });
    await keys.getByText('Guest accounts cannot have API keys.').waitFor();
    assert.equal(await keys.getByRole('button', { name: 'Create key',
      exact: true }).count(), 0);
    // the other sections loaded: no error anywhere on the screen
    await page.getByText('This device', { exact: true }).waitFor();
    await page.getByRole('combobox', { name: 'Default model', exact: true })
      .locator('option').first().waitFor({ state: 'attached' });
    assert.equal(await page.getByRole('main').getByRole('alert').count(), 0);
    await shot(page, 'account-guest');
  } finally {
    await o.context.close();
  }
});

test('my data downloaded; an admin sets a password, signing the user out', async () => {
  const acct = await newUser('data');
  const o = await loggedIn(browser, acct);
  const boss = await loggedIn(browser, admin());
  try {
    const { page } = o;
    await openSettings(page);
    const [file] = await Promise.all([page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download my data', exact: true }).click()]);
    assert.equal(file.suggestedFilename(), 'chat-export.json');
    const doc = JSON.parse(await fs.readFile(await file.path(), 'utf8'));
    assert.equal(doc.format, 'chat-account-export/1');
    assert.equal(doc.user.username, acct.username);
    assert.ok(/\/settings$/.test(page.url()), 'the download left the screen');

    const b = boss.page;
    await b.getByRole('button', { name: 'Admin', exact: true }).click();
    await b.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    // The search's answer is held until the password is set: a list
    // reloading under the admin must not erase what they just did.
    let release;
    const held = new Promise((r) => { release = r; });
    await b.route(/\/v1\/admin\/users\?.*search=/, async (route) => {
      await held;
      await route.continue();
    });
    const searched = b.waitForResponse((r) => r.url().includes('search='));
    await b.getByRole('searchbox', { name: 'Search users', exact: true })
      .fill(acct.username);
    const row = b.getByRole('row').filter({ hasText: acct.username });
    await row.getByRole('button', { name: 'Set password', exact: true }).click();
    const dlg = b.getByRole('dialog');
    await dlg.getByLabel('New password', { exact: true }).fill(`${acct.password}-set`);
    await shot(b, 'account-set-password');
    await dlg.getByRole('button', { name: 'Set password', exact: true }).click();
    await dlg.waitFor({ state: 'detached' });
    // argon2 and the sessions' revocation take long under the sanitizers
    await b.getByText(`${acct.username}: password set`).waitFor({ timeout: 30000 });
    release();
    await searched;
    const accounts = b.getByRole('table', { name: 'Accounts', exact: true });
    await until(async () => (await accounts.getByRole('row').count()) === 2,
      10000, 'the search answer shown');
    assert.ok(await b.getByText(`${acct.username}: password set`).isVisible(),
      'the search answer erased the outcome');
    assert.ok((await loginApi(acct.username, `${acct.password}-set`)).access_token);
    assert.equal((await api('POST', '/v1/auth/login',
      { username: acct.username, password: acct.password })).status, 401);
    // the user's open page ends up on the login screen by itself
    await page.getByRole('button', { name: 'Log in', exact: true })
      .waitFor({ timeout: 15000 });
  } finally {
    await o.context.close();
    await boss.context.close();
  }
});

test('a search overtaken by the next one leaves "Show more users" usable', async () => {
  const root = admin();
  const boss = await loginApi(root.username, root.password);
  const prefix = uniq('many');
  // one more than a page of the admin table (50)
  for (let i = 0; i < 51; i++) {
    await apiOk('POST', '/v1/admin/users',
      { username: `${prefix}x${i}`, password: 'many-password-1' },
      boss.access_token);
  }
  const o = await loggedIn(browser, root);
  try {
    const b = o.page;
    await b.getByRole('button', { name: 'Admin', exact: true }).click();
    await b.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    // the first search answers while the second is still under way
    await b.route(/\/v1\/admin\/users\?/, async (route) => {
      const q = new URL(route.request().url()).searchParams.get('search');
      const wait = q === `${prefix}x1` ? 800 : q === prefix ? 1600 : 0;
      await new Promise((r) => setTimeout(r, wait));
      await route.continue();
    });
    const search = b.getByRole('searchbox', { name: 'Search users', exact: true });
    const sent = b.waitForRequest((r) => r.url().includes(`search=${prefix}x1`));
    await search.fill(`${prefix}x1`);
    await sent;
    const answered = b.waitForResponse((r) => r.url().includes(`search=${prefix}&`) ||
      r.url().endsWith(`search=${prefix}`));
    await search.fill(prefix);
    await answered;
    const more = b.getByRole('button', { name: 'Show more users', exact: true });
    await more.waitFor();
    await until(() => more.isEnabled(), 2000, '"Show more users" to be enabled');
    await more.click();
    await until(async () => (await b.getByRole('row')
      .filter({ hasText: `${prefix}x` }).count()) === 51, 5000, 'the 51 users');
  } finally {
    await o.context.close();
  }
});
