// The web dashboard in headless Chromium, against a real gateway and two mocks
// (started by run.sh): sign in with a read-only admin token, see the routes and
// the decisions, see a route go red when its mock fails, see an operator's drain
// (made with `signalbox admin drain`) appear with its reason, filter decisions,
// see the read-only token refused an action; then sign in as an operator, revert
// that drain and drain another route from the page (confirmed, with a reason) and
// find both in the audit trail; see the "what changed?" timeline name the breaker
// transition and the drain, and throttle a route from the page. Text from the data (a caller's request id, an
// action's reason) containing markup must render as text, the token must never
// go into a URL, and the page must log no console error.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run browser-tests/run.sh)`);
  return v;
}

const base = env('SIGNALBOX_URL');
const bin = env('SIGNALBOX_BIN');
const primaryMock = env('PRIMARY_MOCK_URL');
const viewerToken = env('VIEWER_TOKEN');
const oncallToken = env('ONCALL_TOKEN');
const chromiumPath = env('CHROMIUM');
const output = env('BROWSER_TEST_OUTPUT');

// Markup in the data: a caller's x-request-id (visible graphic ASCII, no spaces)
// and an operator's reason. Either would set window.__pwned if it ran.
const XSS_ID = '<img/src=x/onerror=window.__pwned=2><script>window.__pwned=1</script>';
const XSS_REASON = '<script>window.__pwned=3</script> provider incident';

async function chat(requestId) {
  const headers = { 'content-type': 'application/json' };
  if (requestId) headers['x-request-id'] = requestId;
  const resp = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] }),
  });
  await resp.text();
  assert.equal(resp.status, 200, 'a chat request was not served');
}

async function setFaults(faults) {
  const resp = await fetch(`${primaryMock}/_mock/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  assert.ok(resp.ok, `setting the mock's faults: ${resp.status}`);
}

async function drain(route, reason) {
  const { stdout } = await promisify(execFile)(
    bin,
    ['admin', 'drain', route, '--for', '30m', '--reason', reason, '--url', base],
    { env: { ...process.env, SIGNALBOX_ADMIN_TOKEN: oncallToken } },
  );
  return stdout;
}

async function step(name, f) {
  process.stdout.write(`browser-tests: ${name} … `);
  await f();
  process.stdout.write('ok\n');
}

const profile = await mkdtemp(path.join(os.tmpdir(), 'signalbox-chromium-'));
await mkdir(output, { recursive: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const problems = [];
const urls = [];
// The one step that provokes a refusal expects Chromium's console line for it.
let expected403 = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    if (expected403 > 0 && /status of 403/.test(msg.text())) {
      expected403 -= 1;
      return;
    }
    problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => urls.push(r.url()));

  const rows = (table) => page.locator(`#${table} tbody tr`);
  const routeRow = (route) => page.locator(`#routes tbody tr[data-route="${route}"]`);

  await step('traffic before the page opens', async () => {
    for (let i = 0; i < 3; i++) await chat();
    await chat(XSS_ID);
  });

  await step('the page loads with a strict policy and asks for a token', async () => {
    const resp = await page.goto(`${base}/admin/dashboard`);
    assert.equal(resp.status(), 200);
    const csp = resp.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe/);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#app').isHidden(), true);
  });

  await step('signing in with the read-only token shows the routes', async () => {
    await page.fill('#token', viewerToken);
    await page.click('#login-form button[type=submit]');
    await routeRow('us-large').waitFor();
    await routeRow('us-small').waitFor();
    assert.equal(await routeRow('us-large').getAttribute('data-state'), 'closed');
    assert.equal(await page.locator('#token').inputValue(), '', 'the input keeps the token');
    assert.match(await page.locator('#policy').textContent(), /^policy /);
  });

  await step('decisions and the summary are listed', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#decisions tbody tr').length >= 4);
    await page.locator('#summary tbody tr').first().waitFor();
    const totals = await page.locator('#totals').textContent();
    assert.match(totals, /requests/);
    assert.match(await page.locator('#summary tbody').textContent(), /us-large/);
  });

  await step('markup in a request id renders as text', async () => {
    const text = await page.locator('#decisions tbody').textContent();
    assert.ok(text.includes(XSS_ID), `the request id is not shown as text: ${text}`);
    assert.equal(await page.locator('#decisions tbody img, #decisions tbody script').count(), 0);
    await page.locator('#decisions tbody tr', { hasText: XSS_ID }).click();
    await page.locator('#detail').waitFor({ state: 'visible' });
    assert.ok((await page.locator('#detail-json').textContent()).includes(XSS_ID));
    // The gateway's explanation of the decision (signalbox explain's text).
    await page.waitForFunction(() => /^Why: /.test(document.getElementById('detail-explain').textContent));
    assert.ok((await page.locator('#detail-explain').textContent()).includes(XSS_ID));
    assert.equal(await page.locator('#detail script, #detail img').count(), 0);
    await page.locator('#detail').screenshot({ path: path.join(output, 'decision.png') });
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await page.click('#detail-close');
  });

  await step('a route goes red when its provider fails', async () => {
    await setFaults({ error_rate: 1.0, error_status: 503 });
    for (let i = 0; i < 3; i++) await chat();
    await setFaults({});
    await page.click('#refresh');
    await page.locator('#routes tbody tr[data-route="us-large"][data-state="open"]').waitFor();
    assert.match(await routeRow('us-large').getAttribute('class'), /route-open/);
    assert.equal(await routeRow('us-small').getAttribute('data-state'), 'closed');
  });

  await step('an operator drain (signalbox admin) appears with its reason as text', async () => {
    const out = await drain('us-large', XSS_REASON);
    const id = out.match(/act-[0-9a-f]+/)?.[0];
    assert.ok(id, `no action id in: ${out}`);
    await page.click('#refresh');
    const action = page.locator(`#actions tbody tr[data-action="${id}"]`);
    await action.waitFor();
    const text = await action.textContent();
    assert.ok(text.includes('drain'), text);
    assert.ok(text.includes('us-large'), text);
    assert.ok(text.includes(XSS_REASON), `the reason is not shown as text: ${text}`);
    assert.ok(text.includes('oncall (operator)'), text);
    assert.equal(await page.locator('#actions tbody script, #actions tbody img').count(), 0);
    await page.locator('#routes tbody tr.route-held[data-route="us-large"]').waitFor();
    assert.ok((await routeRow('us-large').textContent()).includes(id));
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  await step('the timeline names the breaker transition and the drain, causes first', async () => {
    // The breaker event is written by a background task: refresh until it is listed.
    for (let i = 0; i < 40; i++) {
      await page.click('#refresh');
      const text = await page.locator('#timeline').textContent();
      if (/breaker closed → open/.test(text) && /drain route us-large/.test(text)) break;
      await page.waitForTimeout(250);
    }
    const event = page.locator('#timeline li[data-kind="event"]', { hasText: 'breaker closed → open' });
    assert.match(await event.textContent(), /signalbox-breaker: route us-large breaker closed → open: 2 failures in a row/);
    const drained = page.locator('#timeline li[data-kind="operator"]', { hasText: 'drain route us-large' });
    assert.ok((await drained.textContent()).includes(XSS_REASON), 'the reason is shown as text');
    const kinds = await page.locator('#timeline li').evaluateAll((lis) => lis.map((li) => li.dataset.kind));
    assert.ok(kinds.indexOf('event') < kinds.indexOf('operator'), `ranked: ${kinds}`);
    // A fresh log has no baseline: said so, with what the window saw, not every version as new.
    assert.match(await page.locator('#timeline-note').textContent(),
      /^No traffic in the baseline window: versions and metrics are not compared\. Seen in the window: .*route us-large model version/);
    assert.ok(!kinds.includes('model') && !kinds.includes('policy'), `nothing ranked as new: ${kinds}`);
    assert.equal(await page.locator('#timeline script, #timeline img').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await page.locator('#timeline').locator('xpath=..').screenshot({ path: path.join(output, 'timeline.png') });
  });

  await step('decisions filter by route', async () => {
    await chat();
    await page.fill('#decision-filters input[name=route]', 'us-small');
    await page.click('#decision-filters button[type=submit]');
    await page.waitForFunction(() => {
      const trs = [...document.querySelectorAll('#decisions tbody tr')];
      return trs.length > 0 && trs.every((tr) => tr.dataset.route === 'us-small');
    });
    // The request served after the drain names the action.
    assert.match(await page.locator('#decisions tbody').textContent(), /act-[0-9a-f]+/);
  });

  await step('a read-only token may look but not act', async () => {
    const row = page.locator('#actions tbody tr').first();
    await row.locator('button', { hasText: 'Revert' }).click();
    await page.locator('#act-form').waitFor({ state: 'visible' });
    expected403 = 1;
    await page.click('#act-confirm');
    assert.match(await page.locator('#act-form').textContent(), /reason is required/);
    await page.fill('#act-reason', 'trying');
    await page.click('#act-confirm');
    await page.waitForFunction(() => /read-only/.test(document.getElementById('act-error').textContent));
    assert.equal(expected403, 0, 'the refusal was not seen');
    assert.equal(await page.locator('#login').isHidden(), true, 'a refused action signed the page out');
    await page.click('#act-cancel');
    assert.equal(await page.locator('#act-form').isHidden(), true);
  });

  let drainedHere = null;
  await step('an operator reverts the drain and drains another route from the page', async () => {
    await page.click('#logout');
    await page.fill('#token', oncallToken);
    await page.click('#login-form button[type=submit]');
    await routeRow('us-large').waitFor();
    const cliAction = await page.locator('#actions tbody tr').first().getAttribute('data-action');
    await page.locator(`#actions tbody tr[data-action="${cliAction}"] button`, { hasText: 'Revert' }).click();
    await page.fill('#act-reason', 'provider recovered');
    await page.click('#act-confirm');
    await page.locator(`#actions tbody tr[data-action="${cliAction}"]`).waitFor({ state: 'detached' });
    assert.match(await page.locator('#act-done').textContent(), /reverted/);
    assert.equal(await routeRow('us-large').locator('.hold').count(), 0);

    await routeRow('us-small').locator('button', { hasText: 'Drain' }).click();
    assert.match(await page.locator('#act-title').textContent(), /drain route us-small/);
    await page.fill('#act-reason', 'shifting load');
    await page.selectOption('#act-ttl', '1h');
    await page.click('#act-confirm');
    await page.locator('#routes tbody tr.route-held[data-route="us-small"]').waitFor();
    drainedHere = (await page.locator('#act-done').textContent()).match(/act-[0-9a-f]+/)?.[0];
    assert.ok(drainedHere, 'no action id after draining from the page');
    const text = await page.locator(`#actions tbody tr[data-action="${drainedHere}"]`).textContent();
    assert.ok(text.includes('shifting load') && text.includes('oncall (operator)'), text);
  });

  let throttled = null;
  await step('an operator throttles a route from the page (a limit and a reason required)', async () => {
    await routeRow('us-large').locator('button', { hasText: 'Throttle' }).click();
    assert.match(await page.locator('#act-title').textContent(), /throttle route us-large/);
    await page.locator('#act-extra').waitFor({ state: 'visible' });
    await page.fill('#act-reason', 'runaway load');
    await page.click('#act-confirm');
    await page.waitForFunction(() => /requests per minute/.test(document.getElementById('act-error').textContent));
    await page.fill('#act-extra', '60');
    await page.click('#act-confirm');
    await page.waitForFunction(() => /throttle act-[0-9a-f]+ created/.test(document.getElementById('act-done').textContent));
    throttled = (await page.locator('#act-done').textContent()).match(/act-[0-9a-f]+/)?.[0];
    const text = await page.locator(`#actions tbody tr[data-action="${throttled}"]`).textContent();
    assert.ok(text.includes('throttle') && text.includes('us-large') && text.includes('runaway load'), text);
  });

  await step('an operator switches a flow to fail-closed and throttles a tenant in tokens from the page', async () => {
    const flow = async (action, target, name, extra) => {
      await page.selectOption('#flow-kind', action);
      await page.selectOption('#tools-target', target);
      await page.fill('#tools-name', name);
      await page.click('#tools-form button[type=submit]');
      await page.locator('#act-form').waitFor({ state: 'visible' });
      await page.fill('#act-reason', 'incident ' + action);
      if (extra !== undefined) await page.fill('#act-extra', extra);
      await page.click('#act-confirm');
      const created = new RegExp(action + ' act-[0-9a-f]+ created');
      await page.waitForFunction((re) => new RegExp(re).test(document.getElementById('act-done').textContent), created.source);
      const id = (await page.locator('#act-done').textContent()).match(/act-[0-9a-f]+/)?.[0];
      return (await page.locator(`#actions tbody tr[data-action="${id}"]`).textContent());
    };
    const closed = await flow('fail-closed', 'alias', 'chat');
    assert.ok(closed.includes('fail-closed') && closed.includes('chat') && closed.includes('incident fail-closed'), closed);
    const tokens = await flow('throttle', 'tenant', 'default', '5000 tokens');
    assert.ok(tokens.includes('throttle') && tokens.includes('default'), tokens);
    const resp = await fetch(`${base}/admin/actions`, { headers: { authorization: `Bearer ${oncallToken}` } });
    const listed = await resp.json();
    const t = listed.actions.find((a) => a.action.kind === 'throttle' && a.action.target?.tenant === 'default');
    assert.equal(t?.action['tokens-per-minute'], 5000, JSON.stringify(listed));
  });

  await step('both actions are in the audit trail', async () => {
    const resp = await fetch(`${base}/admin/audit`, { headers: { authorization: `Bearer ${oncallToken}` } });
    const { audit } = await resp.json();
    const find = (reason) => audit.find((e) => e.reason === reason && e.who === 'oncall');
    assert.equal(find('shifting load')?.action, drainedHere, JSON.stringify(audit.slice(0, 5)));
    assert.equal(find('provider recovered')?.method, 'DELETE');
    assert.equal(find('runaway load')?.action, throttled);
    assert.ok(audit.some((e) => e.who === 'viewer' && e.status === 403), 'the refusal is not audited');
  });

  await page.screenshot({ path: path.join(output, 'dashboard.png'), fullPage: true });

  await step('the token stays in this tab and out of every URL', async () => {
    const stored = await page.evaluate(() => [sessionStorage.length, localStorage.length]);
    assert.deepEqual(stored, [1, 0]);
    const leaked = urls.filter((u) => [viewerToken, oncallToken].some((t) => u.includes(t)));
    assert.deepEqual(leaked, []);
    assert.ok(urls.some((u) => u.startsWith(`${base}/admin/decisions?`)), 'no decision query seen');
  });

  await step('signing out forgets the token', async () => {
    await page.click('#logout');
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  assert.deepEqual(problems, [], 'the page logged errors');
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
}
