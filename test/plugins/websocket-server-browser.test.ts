/**
 * The live page in a real browser: the Chromium that @sparticuz/chromium ships (or WSBIT_CHROMIUM),
 * driven by playwright-core. Screenshots are saved for a person to look at when WSBIT_TEST_ARTIFACTS
 * names a directory (test/helpers/paths.ts).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Page, WebSocketRoute } from 'playwright-core';
import { launchChromium, type LaunchedBrowser } from '../helpers/browser.js';
import { artifactPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { writeTestPki } from '../websocket/tls-ca-fixture.js';
import { metric, startServer, stopAllServers, type ServerHarness, type TestRecord } from './websocket-server-support.js';

let launched: LaunchedBrowser | undefined;
let launchError: unknown;
const pages: Page[] = [];

before(async () => {
  // A failed launch fails the first test with its reason, and every other test for want of a browser.
  try {
    launched = await launchChromium();
  } catch (error) {
    launchError = error;
  }
});

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.close()));
  await stopAllServers();
});

after(async () => {
  await launched?.close();
});

/** Opens the page and fails the test on any script error or CSP violation it reports. */
async function openPage(server: ServerHarness, query = '', colorScheme: 'light' | 'dark' = 'light'): Promise<{ page: Page; problems: string[] }> {
  assert.ok(launched !== undefined, `no browser: ${String(launchError)}`);
  const page = await launched.browser.newPage({ viewport: { width: 1280, height: 760 }, colorScheme });
  pages.push(page);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  await page.goto(server.httpUrl(`/${query}`));
  await waitFor(() => server.output.clientCount() === 1, 'the page to connect');
  return { page, problems };
}

const now = Math.floor(Date.now() / 1000);
const sample: Array<[string, TestRecord[]]> = [
  ['web.access', [
    { sec: now - 4, body: '{"method":"GET","path":"/","status":200,"bytes":5120,"ms":3.2}' },
    { sec: now - 4, body: '{"method":"POST","path":"/api/login","status":302,"bytes":0,"ms":41.7}' },
  ]],
  ['app.login', [{ sec: now - 3, body: '{"action":"login","user":6,"ok":true}' }]],
  ['sys.cpu', [{ sec: now - 2, body: '{"cpu_p":12.5,"user_p":9.25,"system_p":3.25,"cpu0.p_cpu":14,"cpu1.p_cpu":11}' }]],
  ['app.payment', [{
    sec: now - 1,
    body: '{"level":"error","message":"card declined","order":{"id":"A-1042","total":59.9,"currency":"EUR","items":[{"sku":"TEE-M","qty":2},{"sku":"CAP","qty":1}]},"retry":null}',
  }]],
  ['web.access', [{ sec: now, body: '{"method":"GET","path":"/assets/app.css","status":304,"bytes":0,"ms":0.8}' }]],
  ['app.login', [{ sec: now, body: '{"action":"logout","user":6,"ok":true}' }]],
];

async function produce(server: ServerHarness): Promise<number> {
  let records = 0;
  for (const [tag, batch] of sample) {
    await server.flush(tag, batch);
    records += batch.length;
  }
  return records;
}

/** Tags of the rows the filter leaves visible, top to bottom. */
async function visibleTags(page: Page): Promise<string[]> {
  const rows = await page.locator('#list .row:not([hidden])').all();
  return Promise.all(rows.map(async (row) => (await row.getAttribute('data-tag')) ?? ''));
}

/**
 * Polls the page through locators until `check` holds. (waitForFunction would need a string under this
 * project's DOM-less TypeScript, and the page's CSP rightly forbids evaluating strings.)
 */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const rowsAre = (page: Page, count: number): Promise<void> =>
  until(`${count} rows`, async () => (await page.locator('#list .row').count()) === count);
const textIs = (page: Page, selector: string, text: string): Promise<void> =>
  until(`${selector} to read '${text}'`, async () => (await page.locator(selector).innerText()).trim() === text);

describe('websocket_server live page in Chromium', () => {
  it('has Chromium to drive', (t) => {
    assert.equal(launchError, undefined, `the browser did not start: ${String(launchError)}`);
    assert.ok(launched !== undefined);
    t.diagnostic(`Chromium ${launched.browser.version()} at ${launched.executable}`);
  });

  it('shows JSON records as they arrive, newest at the bottom, and the filter hides the others', async () => {
    const server = await startServer({ add_time: true });
    const { page, problems } = await openPage(server);
    await page.waitForSelector('#status:has-text("live")');
    const records = await produce(server);
    await rowsAre(page, records);

    assert.deepEqual(await visibleTags(page), ['web.access', 'web.access', 'app.login', 'sys.cpu', 'app.payment', 'web.access', 'app.login']);
    const last = page.locator('#list .row').last();
    assert.match(await last.locator('.rec').innerText(), /"action": "logout"/);
    assert.match(await page.locator('#list .row').nth(4).locator('.rec').innerText(), /"currency": "EUR"/);
    // Record time (add_time on) is shown as local HH:MM:SS.
    assert.match(await last.locator('time').innerText(), /^\d\d:\d\d:\d\d$/);
    await textIs(page, '#clients', '1');
    await until('a records-per-second figure', async () => (await page.locator('#rate').innerText()) !== '0');
    assert.match((await page.locator('#status').innerText()).trim(), /^live · json$/);
    await page.screenshot({ path: artifactPath('websocket-server-live.png'), animations: 'disabled' });

    await page.fill('#filter', 'app.*');
    assert.deepEqual(await visibleTags(page), ['app.login', 'app.payment', 'app.login']);
    assert.equal(await page.locator('#shown').innerText(), '3');
    await page.screenshot({ path: artifactPath('websocket-server-live-filtered.png'), animations: 'disabled' });
    await page.fill('#filter', 'declined');
    assert.deepEqual(await visibleTags(page), ['app.payment']);
    await page.fill('#filter', 'nothing matches this');
    assert.deepEqual(await visibleTags(page), []);
    assert.equal(await page.locator('#empty').isVisible(), true);
    await page.fill('#filter', '');
    assert.equal((await visibleTags(page)).length, records);

    // Pause holds new records back; resume shows them.
    await page.click('#pause');
    await server.flush('app.login', [{ sec: now, body: '{"action":"login","user":7}' }]);
    await textIs(page, '#pause', 'Resume (1 new)');
    assert.equal(await page.locator('#list .row').count(), records);
    await page.click('#pause');
    await rowsAre(page, records + 1);
    assert.deepEqual(problems, []);
  });

  it('decodes msgpack frames with the bundled decoder (dark scheme)', async () => {
    const server = await startServer({ use_msgpack: true, add_time: true });
    const { page, problems } = await openPage(server, '', 'dark');
    await page.waitForSelector('#status:has-text("live")');
    const records = await produce(server);
    await rowsAre(page, records);
    assert.match((await page.locator('#status').innerText()).trim(), /^live · msgpack$/);
    assert.match(await page.locator('#list .row').nth(3).locator('.rec').innerText(), /"cpu_p": 12\.5/);
    await page.fill('#filter', 'web.*');
    assert.deepEqual(await visibleTags(page), ['web.access', 'web.access', 'web.access']);
    await page.fill('#filter', '');
    await textIs(page, '#clients', '1');
    await page.locator('#filter').blur();
    await page.screenshot({ path: artifactPath('websocket-server-live-dark.png'), animations: 'disabled' });
    assert.deepEqual(problems, []);
  });

  it('with compress on, Chromium negotiates permessage-deflate and the page shows every record, deflated', async () => {
    const server = await startServer({ compress: true, 'compress.threshold': 0 });
    const { page, problems } = await openPage(server);
    await page.waitForSelector('#status:has-text("live")');
    assert.equal(metric(server, 'wsbit_output_broadcast_compressed_connected'), 1, 'the browser took the extension');
    const records = await produce(server);
    await rowsAre(page, records);
    assert.deepEqual(await visibleTags(page), ['web.access', 'web.access', 'app.login', 'sys.cpu', 'app.payment', 'web.access', 'app.login']);
    assert.match(await page.locator('#list .row').nth(4).locator('.rec').innerText(), /"currency": "EUR"/);
    // Deflated with context takeover, the later records mostly repeat the earlier ones.
    assert.ok(metric(server, 'wsbit_output_broadcast_wire_bytes_total') < metric(server, 'wsbit_output_broadcast_message_bytes_total'));
    assert.deepEqual(problems, []);
  });

  it('over https with tls on: the page loads and streams over wss (the test CA is not trusted, so certificate errors are ignored)', async (t) => {
    assert.ok(launched !== undefined, `no browser: ${String(launchError)}`);
    const pki = writeTestPki(tempDir('wsbit-live-tls-'));
    const server = await startServer({ tls: true, 'tls.crt_file': pki.serverCert, 'tls.key_file': pki.serverKey });
    const context = await launched.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 760 } });
    t.after(() => context.close());
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    assert.match(server.httpUrl('/'), /^https:/);
    await page.goto(server.httpUrl('/'));
    await waitFor(() => server.output.clientCount() === 1, 'the page to connect over wss');
    await page.waitForSelector('#status:has-text("live")');
    const records = await produce(server);
    await rowsAre(page, records);
    assert.deepEqual(sockets.map((url) => url.replace(/:\d+/, ':PORT')), ['wss://127.0.0.1:PORT/']);
    assert.deepEqual(problems, []);
  });

  it('passes a record filter (?user=6) from the page address to the server and shows it', async () => {
    const server = await startServer({ add_tag: true });
    const { page, problems } = await openPage(server, '?user=6&filter=app');
    await page.waitForSelector('#status:has-text("live · where user=6")');
    await produce(server);
    await rowsAre(page, 2);
    assert.deepEqual(await visibleTags(page), ['app.login', 'app.login']);
    assert.equal(await page.locator('#filter').inputValue(), 'app');
    assert.deepEqual(problems, []);
  });

  it('resumes after a reconnect with last_received (message_id_key): what passed meanwhile shows once, nothing twice', async () => {
    assert.ok(launched !== undefined, `no browser: ${String(launchError)}`);
    const server = await startServer({ message_id_key: 'id', buffered_messages: 50 });
    const page = await launched.browser.newPage();
    pages.push(page);
    // Playwright stands between the page and the server, so the test can cut the connection.
    const routes: Array<{ page: WebSocketRoute; server: WebSocketRoute }> = [];
    await page.routeWebSocket(/.*/, (route) => {
      routes.push({ page: route, server: route.connectToServer() });
    });
    await page.goto(server.httpUrl('/'));
    await waitFor(() => server.output.clientCount() === 1, 'the page to connect');
    await page.waitForSelector('#status:has-text("live")');
    await server.flush('app', [{ body: '{"n":1}' }, { body: '{"n":2}' }]);
    await rowsAre(page, 2);
    // The page learns message_id_key from /status, which it reads every 2 s while connected.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const first = routes[0]!;
    await first.page.close({ code: 4000, reason: 'cut by the test' });
    await first.server.close();
    await waitFor(() => server.output.clientCount() === 0, 'the connection to go');
    await server.flush('app', [{ body: '{"n":3}' }, { body: '{"n":4}' }]);
    await waitFor(() => server.output.clientCount() === 1, 'the page to reconnect', 10_000);
    assert.match(routes[1]!.page.url(), /[?&]last_received=2(&|$)/);
    await server.flush('app', [{ body: '{"n":5}' }]);
    await rowsAre(page, 5);
    const texts = await page.locator('#list .row .rec').allInnerTexts();
    const ns = texts.map((text) => Number(/"n": ?(\d+)/.exec(text)?.[1])).sort();
    assert.deepEqual(ns, [1, 2, 3, 4, 5]);
  });

  it('passes ?token= and ?match= from the page address to the server, then hides the token', async () => {
    const token = 'page-token-123';
    const server = await startServer({ token, add_tag: true });
    const { page, problems } = await openPage(server, `?token=${token}&match=app.*`);
    await page.waitForSelector('#status:has-text("live · match app.*")');
    assert.equal(new URL(page.url()).searchParams.get('token'), null);
    assert.equal(new URL(page.url()).searchParams.get('match'), 'app.*');
    await produce(server);
    await rowsAre(page, 3);
    assert.deepEqual(await visibleTags(page), ['app.login', 'app.payment', 'app.login']);
    // The arrival time stands in for the record time when add_time is off.
    assert.match(await page.locator('#list .row time').first().innerText(), /^\d\d:\d\d:\d\d\.\d\d\d$/);
    await textIs(page, '#clients', '1');
    assert.deepEqual(problems, []);
  });
});
