// An invitation to an end-to-end encrypted workspace in Debian's Chromium.
// The administrator run.sh creates (NIMBUS_ADMIN_USER) adds two users of
// this run; gail makes an encrypted workspace with the desktop client
// (NIMBUS_CLI, in a configuration directory of this test's own) and
// invites hugo. His sharing page shows the invitation with its lock and,
// instead of an accept form (the page cannot check a passphrase without
// sending it to the server), the desktop command that accepts it, with the
// invitation's id; he declines it there. Checked with axe-core, in light
// and dark mode and at phone width, with no Content-Security-Policy
// violation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addUser, launch, lookAt, newPage, password, signIn, url, violations,
} from './support.mjs';

const admin = process.env.NIMBUS_ADMIN_USER;
const cli = process.env.NIMBUS_CLI;
const tag = randomBytes(3).toString('hex');
const gail = `gail${tag}`;
const hugo = `hugo${tag}`;
const vault = `Vault ${tag}`;
const config = mkdtempSync(join(tmpdir(), 'nimbus-encrypted-invitation-'));

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;

/** Runs the desktop client as gail, with `input` on its standard input. */
function nimbus(args, input = '') {
  return execFileSync(cli, ['--config-dir', config, ...args], {
    cwd: config, input: `${input}\n`, encoding: 'utf8',
  });
}

before(async () => {
  assert.ok(cli, 'run.sh names the desktop client in NIMBUS_CLI');
  browser = await launch();
  const adminPage = await newPage(browser);
  await signIn(adminPage, admin);
  for (const user of [gail, hugo]) await addUser(adminPage, user);
  await adminPage.close();
  page = await newPage(browser);
  await signIn(page, hugo);
});

after(async () => {
  await browser?.close();
  await rm(config, { recursive: true, force: true });
  assert.deepEqual(violations, []);
});

test('an encrypted invitation shows its lock and the desktop command instead of an accept form', async () => {
  nimbus(['login', url, '--user', gail, '--password-stdin', '--device', 'encrypted-test'], password);
  nimbus(['workspace', 'create', vault, '--encrypted', '--passphrase-stdin'], `passphrase of ${tag}`);
  nimbus(['share', vault, '--with', hugo, '--role', 'editor', '--message', 'The passphrase is in the usual place']);

  await page.goto(`${url}/sharing`);
  const card = page.locator('.cards li', { hasText: vault });
  await card.waitFor();
  assert.equal(await card.locator('img[src*="lock.svg"]').count(), 1, 'a lock');
  await card.locator('.badge', { hasText: 'end-to-end encrypted' }).waitFor();
  await card.locator('blockquote', { hasText: 'The passphrase is in the usual place' }).waitFor();
  const command = (await card.locator('code').innerText()).trim();
  const [, id] = /^nimbus share accept ([0-9a-f-]{36})$/.exec(command) ?? [];
  assert.ok(id, command);
  // The id is the invitation's, as the desktop client lists it.
  assert.match(nimbus(['share', 'list']), new RegExp(id.slice(0, 8)));
  assert.equal(await card.locator('form[action$="/accept"]').count(), 0, 'no accept form');
  assert.equal(await card.getByRole('button', { name: /^Accept/ }).count(), 0);
  await lookAt(page, 'invitation-encrypted');

  // Declining needs no passphrase: it works from the page.
  await card.getByRole('button', { name: `Decline ${vault} from ${gail}` }).click();
  await page.getByRole('status').filter({ hasText: 'The invitation was declined.' }).waitFor();
  assert.equal(await page.locator('.cards li', { hasText: vault }).count(), 0);
});

test('the workspaces list follows a share accepted in another tab and ended by its owner', async () => {
  const team = `Team ${tag}`;
  await page.goto(`${url}/`);
  await page.locator('html[data-live-state="open"]').waitFor({ state: 'attached' });
  await page.evaluate(() => { globalThis.sameDocument = true; });
  nimbus(['workspace', 'create', team]);
  nimbus(['share', team, '--with', hugo, '--role', 'viewer']);

  // hugo accepts in another tab; the home page's list shows the workspace.
  const tab = await page.context().newPage();
  await tab.goto(`${url}/sharing`);
  await tab.locator('.cards li', { hasText: team }).getByRole('button', { name: /^Accept/ }).click();
  await tab.getByRole('heading', { name: team, exact: true }).waitFor();
  await tab.close();
  const row = page.locator('#listing a.workspace', { hasText: team });
  await row.locator('.badge', { hasText: 'shared · viewer' }).waitFor();
  await lookAt(page, 'workspaces-live');

  // gail makes him an editor, then removes him: the list follows each.
  nimbus(['share', 'role', team, hugo, 'editor']);
  await row.locator('.badge', { hasText: 'shared · editor' }).waitFor();
  nimbus(['share', 'remove', team, hugo]);
  await row.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => globalThis.sameDocument), true, 'the page was not reloaded');
});
