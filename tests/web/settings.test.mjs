// settings.test.mjs - the settings screen: its headings, the profile and
// the preferences (default model and system prompt) saved, an API key
// created (shown once, in a dialog) and revoked, a session of another
// device revoked (that device's tokens stop working), the password
// changed (the old one refused, the new one accepted); axe-core over the
// screen and the key dialog. Run by tests/integration/web-browser.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loggedIn, newUser, shot, axe, api, loginApi, until,
  storageText } from './lib.mjs';

let browser;
let acct;
let o;
before(async () => {
  browser = await launch();
  acct = await newUser('set');
  o = await loggedIn(browser, acct);
});
after(async () => { await browser?.close(); });

// The sid claim of a JWT (not verified).
function sid(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url')).sid;
}

test('settings: the sections are there, axe finds nothing serious', async () => {
  const { page } = o;
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await page.waitForURL(/\/settings$/);
  for (const h of ['Profile', 'Password', 'Preferences', 'API keys', 'Sessions']) {
    await page.getByRole('heading', { name: h, exact: true }).waitFor();
  }
  const cur = page.locator('input[name="current-password"]');
  const nw = page.locator('input[name="new-password"]');
  assert.equal(await cur.getAttribute('autocomplete'), 'current-password');
  assert.equal(await nw.getAttribute('autocomplete'), 'new-password');
  await page.getByRole('combobox', { name: 'Default model', exact: true }).waitFor();
  await page.getByRole('textbox', { name: 'Default system prompt', exact: true }).waitFor();
  await shot(page, 'settings');
  await axe(page, 'settings');
});

test('the profile and the preferences are saved through the API', async () => {
  const { page } = o;
  const name = page.getByRole('textbox', { name: 'Display name', exact: true });
  await name.fill('Web Tester');
  await page.getByRole('button', { name: 'Save profile', exact: true }).click();
  const model = page.getByRole('combobox', { name: 'Default model', exact: true });
  await until(async () => (await model.locator('option')
    .evaluateAll((os) => os.map((x) => x.value))).includes('echo'), 5000,
    'the model "echo" among the defaults');
  await model.selectOption('echo');
  await page.getByRole('textbox', { name: 'Default system prompt', exact: true })
    .fill('Answer in French.');
  await page.getByRole('button', { name: 'Save preferences', exact: true }).click();
  await until(async () => {
    const me = (await api('GET', '/v1/users/me', undefined, acct.token)).body;
    return me.display_name === 'Web Tester' &&
      me.preferences?.default_model === 'echo' &&
      me.preferences?.system_prompt === 'Answer in French.';
  }, 5000, 'the profile and preferences stored');
  // a reload shows what is stored
  await page.reload();
  await page.getByRole('textbox', { name: 'Default system prompt', exact: true })
    .and(page.locator('textarea')).waitFor();
  await until(async () => (await page.getByRole('textbox',
    { name: 'Default system prompt', exact: true }).inputValue()) === 'Answer in French.',
  5000, 'the stored prompt shown');
  assert.equal(await page.getByRole('textbox', { name: 'Display name', exact: true })
    .inputValue(), 'Web Tester');
  await shot(page, 'settings-preferences');
});

test('an API key: created, shown once, works, revoked', async () => {
  const { page } = o;
  await page.getByRole('textbox', { name: 'Key name', exact: true }).fill('browser key');
  await page.getByRole('button', { name: 'Create key', exact: true }).click();
  const dlg = page.getByRole('dialog');
  const secret = dlg.locator('[data-secret]');
  await secret.waitFor();
  const key = (await secret.innerText()).trim();
  assert.ok(key.length >= 20, `key: ${key}`);
  await dlg.getByRole('button', { name: 'Copy', exact: true }).waitFor();
  await shot(page, 'settings-key-once');
  await axe(page, 'the new key dialog');
  assert.equal((await api('GET', '/v1/users/me', undefined, key)).status, 200);
  await dlg.getByRole('button', { name: 'Done', exact: true }).click();
  await dlg.waitFor({ state: 'detached' }).catch(() => dlg.waitFor({ state: 'hidden' }));
  // shown once: nowhere on the page any more, nor in storage
  assert.ok(!(await page.content()).includes(key), 'the key is still on the page');
  assert.ok(!(await storageText(page)).includes(key), 'the key is in storage');
  const row = page.getByRole('row').filter({ hasText: 'browser key' });
  await row.getByRole('button', { name: 'Revoke', exact: true }).click();
  await row.waitFor({ state: 'detached' });
  await until(async () => (await api('GET', '/v1/users/me', undefined, key)).status === 401,
    3000, 'the revoked key to be refused');
  await shot(page, 'settings-key-revoked');
});

test('a session of another device revoked from the list', async () => {
  const { page } = o;
  const other = await loginApi(acct.username, acct.password);
  const otherSid = sid(other.access_token);
  await page.reload();
  const rows = page.getByRole('row').filter({
    has: page.getByRole('button', { name: 'Revoke', exact: true }) });
  await page.getByText('This device', { exact: true }).waitFor();
  await until(async () => (await rows.count()) >= 2, 5000, 'two sessions');
  const mine = rows.filter({ hasText: 'This device' });
  assert.equal(await mine.count(), 1);
  const target = rows.filter({ hasNotText: 'This device' }).first();
  const id = await target.getAttribute('data-id');
  if (id) assert.equal(id, otherSid);
  await shot(page, 'settings-sessions');
  await target.getByRole('button', { name: 'Revoke', exact: true }).click();
  await until(async () => (await api('GET', '/v1/users/me', undefined,
    other.access_token)).status === 401, 3000, 'the other session to end');
  const r = await api('POST', '/v1/auth/refresh',
    { refresh_token: other.refresh_token });
  assert.equal(r.status, 401);
  // this device is still signed in
  await page.reload();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
});

test('the password changed: the old one refused, the new one works', async () => {
  const { page } = o;
  await page.goto('/settings');
  const next = `${acct.password}-2`;
  await page.locator('input[name="current-password"]').fill(acct.password);
  await page.locator('input[name="new-password"]').fill(next);
  await shot(page, 'settings-password');
  await page.getByRole('button', { name: 'Change password', exact: true }).click();
  await until(async () => (await api('POST', '/v1/auth/login',
    { username: acct.username, password: next })).status === 200, 5000,
    'the new password to work');
  const old = await api('POST', '/v1/auth/login',
    { username: acct.username, password: acct.password });
  assert.equal(old.status, 401);
  acct.password = next;
  await shot(page, 'settings-password-changed');
  assert.deepEqual(o.seen.errors, []);
});
