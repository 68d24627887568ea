// Browser tests of the estoria ui web pages: Debian's headless chromium driven
// by playwright-core against a real `estoria ui` over a SQLite store filled by
// estoria_ui_fixture (which also runs a projection with a parked dead letter).
// Run by ctest (tests/ui/browser/CMakeLists.txt), which sets:
//   ESTORIA_CLI, ESTORIA_UI_FIXTURE, ESTORIA_CHROMIUM, ESTORIA_UI_NODE_MODULES,
//   ESTORIA_UI_SCREENSHOTS (a screenshot per check lands there), ESTORIA_UI_WORK.
// Every check waits on a condition with a deadline; nothing sleeps and hopes.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (the test runs from ctest)`);
  return v;
};
const cli = env('ESTORIA_CLI');
const fixtureBin = env('ESTORIA_UI_FIXTURE');
const chromiumPath = env('ESTORIA_CHROMIUM');
const shots = env('ESTORIA_UI_SCREENSHOTS');
const work = env('ESTORIA_UI_WORK');
const require = createRequire(path.join(env('ESTORIA_UI_NODE_MODULES'), 'noop.js'));
const { chromium } = require('playwright-core');

const started = Date.now();
const children = [];
let failures = 0;
let passes = 0;

function log(msg) {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
}

function assert(cond, what) {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passes++;
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failures++;
    log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
  }
}

async function waitFor(what, fn, timeoutMs = 10000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Starts a child process and resolves with it and the first stdout line
// matching `re` (deadline 15 s).
function startChild(cmd, args, re, name) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${re} within 15 s; stderr: ${stderr}`)),
      15000);
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const m = line.match(re);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before printing ${re}; stderr: ${stderr}`));
    });
  });
}

function stopChildren() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', stopChildren);

function sql(db, query) {
  return execFileSync('sqlite3', [db, query], { encoding: 'utf8' }).trim();
}

// ---- set-up -------------------------------------------------------------------

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, 'control'), { recursive: true });
fs.mkdirSync(shots, { recursive: true });
const storeDb = path.join(work, 'store.db');
const modelDb = path.join(work, 'model.db');
const storeUri = `sqlite:${storeDb}`;

const fixture = await startChild(fixtureBin, [storeDb, modelDb, path.join(work, 'control')], /^ready (\d+) (\d+)$/,
  'estoria_ui_fixture');
const fixtureHead = Number(fixture.match[1]);
const poisoned = Number(fixture.match[2]);  // replayed by the test
const skipped = poisoned + 1;  // skipped by the test
log(`fixture ready: head ${fixtureHead}, poisoned events at ${poisoned} and ${skipped}`);

const listenRe = /^estoria ui listening on http:\/\/([^/]+)\/$/;
const ui = await startChild(cli, ['ui', '--store', storeUri, '--read-model', `sqlite:${modelDb}`, '--listen',
  '127.0.0.1:0', '--allow-writes'], listenRe, 'estoria ui');
const base = `http://${ui.match[1]}`;
log(`estoria ui at ${base}`);

const browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const page = await context.newPage();
const dialogs = [];
const pageErrors = [];
// Every dialog is recorded (an alert from an event payload fails the XSS
// check); the Skip button's confirmation is accepted.
page.on('dialog', async (d) => {
  dialogs.push(`${d.type()}: ${d.message()}`);
  if (d.type() === 'confirm') await d.accept();
  else await d.dismiss();
});
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('response', (r) => {
  if (r.status() >= 400) pageErrors.push(`HTTP ${r.status()} for ${r.url()}`);
});
page.on('console', (m) => {
  if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
});

const main = page.locator('main');
// A fresh load of the page at `hash` (never a same-document hash change, so
// that the previous page's content cannot satisfy the wait).
async function open(hash, heading) {
  await page.goto('about:blank');
  await page.goto(`${base}/${hash}`);
  await page.locator('main h1', { hasText: heading }).first().waitFor({ timeout: 5000 });
  assert(await main.getAttribute('aria-busy') === null, `${hash} finished rendering`);
}
// After a click from the streams list (a same-document hash change): wait for
// the stream page itself, whose heading is "Stream <id>", not the list's
// "Streams" heading, which is still there until the new page has rendered.
async function streamPage() {
  await page.locator('main:not([aria-busy]) h1', { hasText: /^Stream (?!s)/ }).waitFor({ timeout: 5000 });
}
const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
const text = () => main.innerText();

// ---- checks -------------------------------------------------------------------

await check('overview shows the head, backend, append-rate chart and the projection', async () => {
  await open('#/overview', 'Overview');
  const t = await text();
  assert(t.includes(String(fixtureHead)), `head ${fixtureHead} shown`);
  assert(/sqlite/.test(t) && t.includes(storeDb), 'backend and store shown');
  assert(/strict|relaxed/.test(t), 'durability shown');
  const streamsCard = page.locator('.card', { has: page.locator('h2', { hasText: 'Streams' }) });
  const streamCount = (await streamsCard.locator('.value').innerText()).trim();
  assert(streamCount === '6', `the fixture's 6 streams counted, got ${streamCount}`);
  const bars = await page.locator('svg.chart rect.bar').count();
  assert(bars === 15, `15 one-minute bars in the chart, got ${bars}`);
  // Every fixture event was appended within the last 15 minutes.
  const titles = await page.locator('svg.chart rect.bar title').allTextContents();
  const charted = titles.reduce((a, x) => a + Number(x.match(/: (\d+) events$/)[1]), 0);
  assert(charted === fixtureHead, `the bars add up to the ${fixtureHead} appended events, got ${charted}`);
  const row = page.locator('tr', { has: page.locator('a', { hasText: 'ui-fixture' }) });
  assert(await row.count() === 1, 'projection ui-fixture listed');
  const cells = await row.locator('td').allInnerTexts();
  assert(cells[0] === String(fixtureHead), `checkpoint ${fixtureHead}, got ${cells[0]}`);
  assert(cells[6] === '2', `two dead letters, got ${cells[6]}`);
  await shot('overview');
});

let orderHref = '';
await check('streams: list, type filter, a stream with pretty JSON and text data', async () => {
  await open('#/streams', 'Streams');
  let rows = await page.locator('main tbody tr').count();
  assert(rows === 6, `6 streams listed, got ${rows}`);
  await page.getByLabel('Stream type').fill('order');
  await page.getByRole('button', { name: 'Apply' }).click();
  await waitFor('filtered list', async () => (await page.locator('main tbody tr').count()) === 1 &&
    (await page.locator('main caption').innerText()).includes('order'), 5000);
  assert(page.url().includes('type=order'), 'filter is in the URL');
  const link = page.locator('main tbody a').first();
  orderHref = await link.getAttribute('href');
  await link.click();
  await streamPage();
  const t = await text();
  assert(t.includes('order_placed') && t.includes('order_note'), 'both event types');
  const json = await page.locator('pre.json').first().innerText();
  assert(json.includes('"sku": "BOOK-42"') && json.includes('\n'), `pretty-printed JSON, got ${json}`);
  assert(t.includes('Please deliver after 6 pm.'), 'text/plain data shown');
  assert(t.includes('text/plain') && t.includes('application/json'), 'content types shown');
  assert(/Version\s*1\b/i.test(t) && /Version\s*2\b/i.test(t), 'versions shown');
  await shot('stream');
  // The prefix filter: the first 8 characters of the order stream's id.
  const id = decodeURIComponent(orderHref.split('/').pop());
  await open(`#/streams?prefix=${id.slice(0, 8)}&type=order`, 'Streams');
  rows = await page.locator('main tbody tr').count();
  assert(rows === 1, `prefix filter keeps the order stream, got ${rows} rows`);
});

await check('binary data is shown as hex; metadata pretty-printed', async () => {
  await open('#/streams?type=blob', 'Streams');
  await page.locator('main tbody a').first().click();
  await page.locator('pre.hex').waitFor();
  const hex = await page.locator('pre.hex').innerText();
  assert(hex.includes('00 01 02 ff fe 3c 73 63'), `hex dump, got ${hex}`);
  await open('#/streams?type=account', 'Streams');
  await page.locator('main tbody a').first().click();
  await streamPage();
  const pres = await page.locator('pre.json').allInnerTexts();
  assert(pres.some((p) => p.includes('"user": "ada"')), 'metadata shown');
});

await check('an event with <script> in its data and metadata is shown as text, never run', async () => {
  await open('#/streams?type=note', 'Streams');
  await page.locator('main tbody a').first().click();
  await streamPage();
  const t = await text();
  assert(t.includes('<script>window.__pwned=1;alert(1)</script>'), 'script text in the JSON data shown');
  assert(t.includes('<img src=x onerror=\\"window.__pwned=2\\">'), 'img text shown');
  assert(t.includes('<script>window.__pwned=3</script>'), 'script text in metadata shown');
  assert(t.includes('<script>window.__pwned=4</script>'), 'text/html data shown as text');
  assert(await main.locator('script, img').count() === 0, 'no script or img element created');
  // The global log's previews carry the same payloads.
  await open('#/all?stream_type=note', 'Global log');
  assert((await text()).includes('<script>'), 'preview shown as text');
  const pwned = await page.evaluate(() => window.__pwned);
  assert(pwned === undefined, `window.__pwned is ${pwned}`);
  assert(dialogs.length === 0, `no alert, got ${dialogs.join('; ')}`);
  await open('#/streams?type=note', 'Streams');
  await page.locator('main tbody a').first().click();
  await streamPage();
  await shot('script-payload');
});

await check('event page links the event, its stream and the neighbouring positions', async () => {
  await open('#/events/6', 'Event 6');
  const t = await text();
  assert(t.includes('order_placed') && t.includes('BOOK-42'), 'event 6 is the order');
  await page.getByRole('link', { name: /Next position \(7\)/ }).click();
  await page.locator('main h1', { hasText: 'Event 7' }).waitFor();
  assert((await text()).includes('Please deliver after 6 pm.'), 'event 7 data');
  await page.locator('main .crumbs a').nth(1).click();
  await streamPage();
  assert(page.url().endsWith(orderHref), `stream link goes to ${orderHref}, at ${page.url()}`);
});

await check('global log: pages, filters, and a live tail showing an appended event within 1 s', async () => {
  await open('#/all', 'Global log');
  let rows = await page.locator('section[aria-labelledby="log-h"] tbody tr').count();
  assert(rows === fixtureHead, `${fixtureHead} events, got ${rows}`);
  await open('#/all?event_type=money_deposited', 'Global log');
  rows = await page.locator('section[aria-labelledby="log-h"] tbody tr').allInnerTexts();
  assert(rows.length === 2 && rows.every((r) => r.includes('money_deposited')), `2 deposits, got ${rows.length}`);
  await open('#/all?after=3&stream_type=order,blob', 'Global log');
  rows = await page.locator('section[aria-labelledby="log-h"] tbody tr th').allInnerTexts();
  assert(rows.join(',') === '6,7,8', `positions 6,7,8 for order,blob after 3, got ${rows.join(',')}`);

  await open('#/all', 'Global log');
  await page.getByRole('button', { name: 'Start live tail' }).click();
  await page.locator('#live-state', { hasText: 'waiting for events' }).waitFor();
  // Give the EventSource its connection before appending.
  await waitFor('tail connected', () => page.evaluate(() => true));
  const stream = `account_${'0190a5c2-0000-7000-8000-000000000001'}`;
  execFileSync(cli, ['--store', storeUri, 'append', stream, '--type', 'tail_checked', '--data', '{"via":"browser test"}']);
  const appendedAt = Date.now();
  await page.locator('#live-events tr', { hasText: 'tail_checked' }).waitFor({ timeout: 1000 });
  const took = Date.now() - appendedAt;
  log(`     live tail showed the appended event ${took} ms after the append returned`);
  const live = await page.locator('#live-events tr').first().innerText();
  assert(live.includes(String(fixtureHead + 1)) && live.includes('browser test'), `tail row ${live}`);
  await shot('global-log');
  await page.getByRole('button', { name: 'Stop live tail' }).click();
});

await check('with --listen 0.0.0.0:0 --token T: 401 without the token, pages work after /?token=T', async () => {
  const token = 'browser-test-token-7f3a';
  const guarded = await startChild(cli, ['ui', '--store', storeUri, '--read-model', `sqlite:${modelDb}`, '--listen',
    '0.0.0.0:0', '--token', token], listenRe, 'estoria ui --token');
  const port = guarded.match[1].split(':').pop();
  const url = `http://127.0.0.1:${port}`;
  for (const p of ['/', '/assets/app.js', '/api/overview']) {
    const r = await fetch(`${url}${p}`, { redirect: 'manual' });
    assert(r.status === 401, `${p} without the token answers ${r.status}`);
  }
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const p2 = await ctx.newPage();
  const resp = await p2.goto(`${url}/?token=${token}`);
  assert(resp.status() === 200 && new URL(p2.url()).search === '', `redirected to / (${p2.url()})`);
  await p2.locator('main h1', { hasText: 'Overview' }).waitFor();
  await p2.locator('.card').first().waitFor();
  assert((await p2.locator('main').innerText()).includes(String(fixtureHead + 1)), 'overview data after the token');
  await p2.goto(`${url}/#/projections/ui-fixture`);
  await p2.locator('main h1', { hasText: 'ui-fixture' }).waitFor();
  await p2.locator(`tr[data-position="${poisoned}"]`).waitFor();
  assert(await p2.getByRole('button', { name: /Replay|Skip/ }).count() === 0, 'no write buttons without --allow-writes');
  assert((await p2.locator('main').innerText()).includes('Read-only'), 'read-only note shown');
  await ctx.close();
  guarded.child.kill('SIGTERM');
});

await check('projections: Replay from the UI is applied by the running processor; Skip discards', async () => {
  const applied = (pos) => sql(modelDb, `SELECT COUNT(*) FROM applied WHERE position = ${pos}`);
  await open('#/projections', 'Projections');
  await page.getByRole('link', { name: 'ui-fixture' }).click();
  await page.locator('main h1', { hasText: 'ui-fixture' }).waitFor();
  const row = page.locator(`tr[data-position="${poisoned}"]`);
  await row.waitFor();
  assert((await row.innerText()).includes('refusing the poisoned event'), 'the handler error is shown');
  assert((await text()).includes('park after 1 attempts'), 'the failure policy the processor recorded is shown');
  assert(applied(poisoned) === '0' && applied(skipped) === '0', 'not applied yet');
  await shot('projection-dead-letter');
  fs.writeFileSync(path.join(work, 'control', 'heal'), '');
  await row.getByRole('button', { name: `Replay dead letter at position ${poisoned}` }).click();
  await page.locator('#status', { hasText: 'Replay requested' }).waitFor({ timeout: 3000 });
  await waitFor('the processor to apply the replayed event', () => applied(poisoned) === '1', 10000, 100);
  await waitFor('the replayed dead letter to leave the page', async () => {
    await page.reload();
    await page.locator('main h1', { hasText: 'ui-fixture' }).waitFor();
    return (await page.locator(`tr[data-position="${poisoned}"]`).count()) === 0;
  }, 10000, 200);
  const skipRow = page.locator(`tr[data-position="${skipped}"]`);
  await skipRow.getByRole('button', { name: `Skip dead letter at position ${skipped}` }).click();
  await page.locator('#no-dead-letters').waitFor({ timeout: 3000 });
  assert(dialogs.some((d) => d.startsWith('confirm:')), 'Skip asked for a confirmation');
  assert(applied(skipped) === '0', 'the skipped event was not applied');
  const left = await (await fetch(`${base}/api/projections/ui-fixture/dead-letters`)).json();
  assert(left.dead_letters.length === 0, `no dead letters left, got ${left.dead_letters.length}`);
  await shot('projection-replayed');
});

await check('keyboard: the skip link is the first stop and moves focus to the content', async () => {
  await open('#/overview', 'Overview');
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.textContent);
  assert(first === 'Skip to content', `first tab stop is ${first}`);
  await page.keyboard.press('Enter');
  const focused = await page.evaluate(() => document.activeElement.id);
  assert(focused === 'main', `focus on main, got ${focused}`);
  await page.keyboard.press('Tab');
  const next = await page.evaluate(() => document.activeElement.tagName);
  assert(next === 'A', `next stop is a link in the content, got ${next}`);
});

await check('375 px wide: pages fit without horizontal scrolling', async () => {
  const phone = await browser.newPage({ viewport: { width: 375, height: 740 } });
  for (const [hash, heading, name] of [['#/overview', 'Overview', 'overview-375'], [orderHref, 'Stream', 'stream-375'],
    ['#/all', 'Global log', 'global-log-375'], ['#/projections', 'Projections', null]]) {
    await phone.goto(`${base}/${hash}`);
    await phone.locator('main h1', { hasText: heading }).first().waitFor();
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 375, `${hash}: page is ${width} px wide`);
    if (name) await phone.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });
  }
  await phone.close();
});

await check('no script errors on any page', async () => {
  assert(pageErrors.length === 0, pageErrors.join('\n'));
});

await browser.close();
stopChildren();
log(`${passes} passed, ${failures} failed, ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${shots}`);
process.exit(failures ? 1 : 0);
