// The dashboard in the system's Chromium against a real `posture-console serve` on loopback, with a
// storage seeded by e2e_seed_console. Checks: no console errors, no request leaving 127.0.0.1, the
// overview's numbers equal /api/v1/summary's, the store and search filters narrow the device table to
// what the API returns for the same filter, the drill-down shows a failing check's evidence, and data
// that looks like markup stays text. Leaves a screenshot in $E2E_OUT/dashboard.png.
//
// Environment (set by ctest): POSTURE_CONSOLE, E2E_SEED, CHROMIUM, E2E_OUT.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('playwright-core is missing: run `npm ci` in tests/e2e (scripts/test does)');
  process.exit(1);
}

const consoleBin = process.env.POSTURE_CONSOLE || 'build/bin/posture-console';
const seedBin = process.env.E2E_SEED || 'build/bin/e2e_seed_console';
const chromiumBin = process.env.CHROMIUM || '/usr/bin/chromium';
const outDir = process.env.E2E_OUT || '.';
const STEP_TIMEOUT_MS = 15000;  // one page step (load, filter, drill-down); the API answers in milliseconds

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'postured-e2e-'));
const dataDir = join(work, 'data');
mkdirSync(dataDir);
const agentPort = await freePort();
const apiPort = await freePort();
const base = `http://127.0.0.1:${apiPort}`;
const configPath = join(work, 'console.toml');
writeFileSync(configPath, `[server]
listen = "127.0.0.1:${agentPort}"
names = ["localhost", "127.0.0.1"]
data_dir = "${dataDir}"
threads = 2

[storage]
url = ""

[api]
listen = "127.0.0.1:${apiPort}"
stale_after = "24h"
`);

let serve = null;
let context = null;
let failed = false;
const serveLog = [];

async function cleanup() {
  if (context) await context.close().catch(() => {});
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((resolve) => { serve.once('exit', resolve); setTimeout(resolve, 5000); });
  }
  rmSync(work, { recursive: true, force: true });
}

async function api(path, token) {
  const response = await fetch(base + path, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200, `${path}: HTTP ${response.status}`);
  return response.json();
}

try {
  // The console as an operator sets it up: CA, an operator token, then the fleet's reports.
  execFileSync(consoleBin, ['ca', 'init', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const token = JSON.parse(execFileSync(consoleBin, ['operator-token', 'create', '--json', '--config', configPath],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })).token;
  assert.ok(token && token.length >= 20, 'operator-token create printed a token');
  execFileSync(seedBin, [`sqlite:${join(dataDir, 'console.db')}`], { stdio: ['ignore', 'inherit', 'inherit'] });

  serve = spawn(consoleBin, ['serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  serve.stdout.on('data', (d) => serveLog.push(String(d)));
  serve.stderr.on('data', (d) => serveLog.push(String(d)));
  for (let i = 0; ; ++i) {
    if (serve.exitCode !== null) throw new Error(`posture-console serve exited with ${serve.exitCode}`);
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch (_) { /* not listening yet */ }
    if (i > 100) throw new Error('posture-console serve did not answer /healthz within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }

  // A fresh profile, no network beyond loopback: Chromium's own background traffic is switched off, and
  // every request the page makes is recorded.
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: chromiumBin,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 1000 },
    locale: 'en-US',
    acceptDownloads: true,
    timezoneId: 'UTC',
  });
  const requests = [];
  const problems = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

  // Sign in: the page asks for the token once.
  const first = await page.goto(`${base}/`);
  assert.match(first.headers()['content-security-policy'] || '', /^default-src 'self'/);
  await page.locator('#login-token').fill(token);
  await page.locator('#login-submit').click();
  await page.waitForSelector('body[data-ready="overview"]');

  // Overview numbers equal the API's.
  const summary = await api('/api/v1/summary', token);
  const kpi = async (key) => (await page.locator(`[data-kpi="${key}"] .value`).textContent()).trim();
  const fmt = (n) => Number(n).toLocaleString('en-US');
  assert.equal(await kpi('devices'), fmt(summary.devices));
  assert.equal(await kpi('failing'), fmt(summary.failing));
  assert.equal(await kpi('stale'), fmt(summary.stale));
  assert.equal(await kpi('caches_unencrypted'), fmt(summary.caches_unencrypted));
  assert.equal(await kpi('pan_findings'), fmt(summary.pan_findings));
  assert.equal(await kpi('devices_behind_on_patches'), fmt(summary.devices_behind_on_patches));
  assert.equal(await kpi('compliance_score'), summary.compliance_score === null ? '—' : `${summary.compliance_score}%`);
  assert.ok(summary.devices > 5 && summary.failing > 0, 'the fixture fleet was seeded');
  const firstCheck = await page.locator('[data-table="failing-checks"] tbody tr').first().locator('td').first().textContent();
  assert.equal(firstCheck.trim(), summary.failing_checks[0].id);
  const failingRows = await page.locator('[data-table="failing-devices"] tbody tr').count();
  assert.equal(failingRows, Math.min(summary.failing, 15));
  assert.match(await page.locator('#updated').textContent(), /^updated at /);
  await page.screenshot({ path: join(outDir, 'dashboard.png'), fullPage: true });

  // The device table under a store filter, then a search, equals the API's answer for the same filter.
  const tableIds = async () => (await page.locator('[data-table="devices"] tbody tr').evaluateAll(
    (rows) => rows.map((r) => r.dataset.id))).sort();
  const waitForIds = async (expected, what) => {
    const want = [...expected].sort();
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    let got = [];
    while (Date.now() < deadline) {
      got = await tableIds().catch(() => []);
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await page.waitForTimeout(100);
    }
    assert.deepEqual(got, want, what);
  };
  await page.locator('nav a[data-view="devices"]').click();
  await page.waitForSelector('body[data-ready="devices"]');
  const everyone = await api('/api/v1/devices?limit=1000', token);
  await waitForIds(everyone.devices.map((d) => d.device_id), 'unfiltered device table');

  const stores = (await api('/api/v1/stores', token)).stores;
  const store = stores.find((s) => s.devices > 1 && s.devices < summary.devices).store_id;
  await page.locator('#f-store').selectOption(store);
  const byStore = await api(`/api/v1/devices?store=${encodeURIComponent(store)}&limit=1000`, token);
  assert.ok(byStore.devices.length > 0 && byStore.devices.length < everyone.devices.length);
  await waitForIds(byStore.devices.map((d) => d.device_id), `device table for store ${store}`);

  // "Export CSV" downloads what the filter shows: a header and one row per device of the store.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#f-csv').click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.equal(download.suggestedFilename(), 'devices.csv');
  assert.equal(csv.split('\r\n').filter((l) => l).length, byStore.devices.length + 1, 'CSV rows for the store');

  await page.locator('#f-clear').click();
  await waitForIds(everyone.devices.map((d) => d.device_id), 'device table after clearing filters');
  await page.locator('#f-q').fill('hamburg');
  const bySearch = await api('/api/v1/devices?q=hamburg&limit=1000', token);
  assert.ok(bySearch.devices.length > 0 && bySearch.devices.length < everyone.devices.length);
  await waitForIds(bySearch.devices.map((d) => d.device_id), 'device table for search "hamburg"');
  assert.equal((await page.locator('#device-count').textContent()).trim(), String(bySearch.devices.length));

  // Sorting: a click on "Failed" orders rows by failed checks, most first.
  await page.locator('#f-clear').click();
  await waitForIds(everyone.devices.map((d) => d.device_id), 'device table after clearing the search');
  await page.screenshot({ path: join(outDir, 'dashboard-devices.png'), fullPage: true });
  await page.locator('[data-table="devices"] th button', { hasText: 'Failed' }).click();
  const failedColumn = await page.locator('[data-table="devices"] tbody td[data-col="checks_fail"]').allTextContents();
  const counts = failedColumn.map((t) => Number(t.replace(/,/g, '')));
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'sorted by failed checks, descending');

  // Markup in data is shown as text: the fixture's hostname carries <b>x</b>.
  const hostile = everyone.devices.find((d) => d.hostname.includes('<b>'));
  assert.ok(hostile, 'the fixture has a hostname with markup');
  const hostCell = page.locator(`[data-table="devices"] tbody tr[data-id="${hostile.device_id}"] td[data-col="hostname"]`);
  assert.equal((await hostCell.textContent()).trim(), hostile.hostname);
  assert.equal(await hostCell.locator('b').count(), 0, 'no <b> element was created from data');

  // Drill-down into a failing device: the failing check's evidence and remediation are shown.
  const failing = (await api('/api/v1/devices?status=fail&limit=1000', token)).devices[0].device_id;
  const detail = await api(`/api/v1/devices/${encodeURIComponent(failing)}`, token);
  const failedCheck = detail.checks.find((c) => c.status === 'fail');
  await page.locator(`[data-table="devices"] tbody tr[data-id="${failing}"]`).click();
  await page.waitForSelector('body[data-ready="device"]');
  await page.waitForFunction((id) => document.querySelector('#device-title')?.textContent.includes(id), failing);
  const row = page.locator(`[data-table="checks"] tbody tr[data-id="${failedCheck.id}"]`);
  assert.equal((await row.locator('td[data-col="evidence"]').textContent()).trim(), failedCheck.evidence);
  assert.equal((await row.locator('td[data-col="remediation"]').textContent()).trim(), failedCheck.remediation);
  assert.equal((await row.locator('td[data-col="status"]').textContent()).trim(), 'fail');
  await page.screenshot({ path: join(outDir, 'dashboard-device.png'), fullPage: true });

  // Stores view lists every store the API does.
  await page.locator('nav a[data-view="stores"]').click();
  await page.waitForSelector('body[data-ready="stores"]');
  const storeRows = await page.locator('[data-table="stores"] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  assert.deepEqual(storeRows.sort(), stores.map((s) => s.store_id).sort());

  // Responsive: on a phone-sized screen the page itself does not scroll sideways (wide tables scroll
  // inside their panels).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('nav a[data-view="overview"]').click();
  await page.waitForSelector('body[data-ready="overview"]');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the overview is ${overflow} px wider than a 390 px screen`);
  await page.screenshot({ path: join(outDir, 'dashboard-narrow.png'), fullPage: true });

  // Nothing left loopback, and the page logged no error.
  const foreign = requests.filter((u) => !u.startsWith(`${base}/`));
  assert.deepEqual(foreign, [], 'requests that left the console');
  assert.ok(requests.some((u) => u.startsWith(`${base}/api/v1/`)), 'the page called the API');
  assert.deepEqual(problems, [], 'console errors, page errors or failed requests');
  console.log(`e2e: dashboard ok (${requests.length} requests, all to ${base}); screenshot ${join(outDir, 'dashboard.png')}`);
} catch (e) {
  failed = true;
  console.error(e);
  if (serveLog.length) console.error('--- posture-console serve output ---\n' + serveLog.join(''));
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
