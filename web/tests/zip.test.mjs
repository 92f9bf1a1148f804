// A folder downloaded as a zip in Debian's Chromium: "Download as zip" on
// the folder a desktop client synced saves "<folder>.zip", which the real
// `unzip` unpacks byte for byte. run.sh sets NIMBUS_URL, NIMBUS_USER,
// NIMBUS_PASSWORD, NIMBUS_FOLDER (the synced folder, with hello.txt and
// data.bin) and NIMBUS_FIXTURE (a local copy of its data.bin).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  launch, newPage, reloadUntil, signIn,
} from './support.mjs';

const user = process.env.NIMBUS_USER;
const folder = process.env.NIMBUS_FOLDER;
const fixture = process.env.NIMBUS_FIXTURE;

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
let work;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'nimbus-zip-'));
  browser = await launch();
  page = await newPage(browser, { acceptDownloads: true });
  await signIn(page, user);
});

after(async () => {
  await browser?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('"Download as zip" saves the synced folder, which unzips byte for byte', async () => {
  await page.locator('a.workspace').first().click();
  const link = page.getByRole('link', { name: folder, exact: true });
  await reloadUntil(page, link);
  await link.click();
  await page.getByRole('heading', { name: folder }).waitFor();
  await reloadUntil(page, page.getByRole('link', { name: 'data.bin', exact: true }));

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download as zip' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `${folder}.zip`);
  assert.equal(await download.failure(), null);
  const archive = join(work, 'folder.zip');
  await download.saveAs(archive);
  const out = join(work, 'out');
  // -t checks every CRC; a warning fails the command, and so the test.
  execFileSync('unzip', ['-tq', archive]);
  execFileSync('unzip', ['-q', archive, '-d', out]);
  const names = (await readdir(out)).sort();
  assert.ok(names.includes('data.bin') && names.includes('hello.txt'), names.join(', '));
  const expected = await readFile(fixture);
  const got = await readFile(join(out, 'data.bin'));
  assert.equal(got.length, expected.length);
  assert.ok(got.equals(expected), 'the bytes of data.bin differ');
  assert.equal(await readFile(join(out, 'hello.txt'), 'utf8'), 'hello from the desktop\n');
});
