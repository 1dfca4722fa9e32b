// The chat page that `zeta serve` serves at / (tools/serve_page.html), driven in a headless
// chromium with playwright-core.
//
//   node page.mjs --url http://127.0.0.1:PORT [--auth-url URL --api-key KEY] [--chromium PATH]
//
// (or ZETA_URL, ZETA_AUTH_URL, ZETA_API_KEY, CHROMIUM; the browser defaults to /usr/bin/chromium).
// Saves a screenshot to artifacts/chat-page.png next to this script. Prints "ok - NAME",
// "FAIL - NAME: reason" or "skip - NAME reason" per case; exits 1 if any case failed.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { SCALE, arg, url, authUrl, apiKey } from './common.mjs';
const executablePath = arg('chromium', 'CHROMIUM') || '/usr/bin/chromium';
if (!url) {
  console.error('usage: node page.mjs --url http://HOST:PORT [--auth-url URL --api-key KEY] [--chromium PATH]');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, 'artifacts');

let failures = 0;
class Skip extends Error {}
async function test(name, fn, timeoutMs = 30000 * SCALE) {
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    })]);
    console.log(`ok - page ${name}`);
  } catch (e) {
    if (e instanceof Skip) console.log(`skip - page ${name} ${e.message}`);
    else { failures++; console.log(`FAIL - page ${name}: ${String(e?.message ?? e).replace(/\s+/g, ' ').slice(0, 400)}`); }
  } finally { clearTimeout(timer); }
}
function check(cond, msg) { if (!cond) throw new Error(msg); }
const show = (v) => JSON.stringify(v)?.slice(0, 160);
const info = (s) => console.log(`# ${s}`);

if (!fs.existsSync(executablePath)) {
  console.log(`skip - page chat page tests (no browser at ${executablePath})`);
  process.exit(0);
}
let browser;
try {
  browser = await chromium.launch({ executablePath, headless: true, timeout: 20000 * SCALE, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
} catch (e) {
  console.log(`FAIL - page launch chromium: ${String(e.message).split('\n')[0]}`);
  process.exit(1);
}

// A fresh page with its requests, console errors and uncaught exceptions recorded.
async function openPage(base) {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const page = await context.newPage();
  const log = { requests: [], errors: [] };
  page.on('request', (r) => log.requests.push(r));
  page.on('console', (m) => { if (m.type() === 'error') log.errors.push(`${m.text()} (${m.location()?.url})`); });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  const res = await page.goto(`${base}/`, { waitUntil: 'load', timeout: 15000 * SCALE });
  return { context, page, res, log };
}

// Starts recording, in the page, every length the last .assistant message's text has had.
async function recordLengths(page) {
  await page.evaluate(() => {
    window.__lengths = [];
    const note = () => {
      const all = document.querySelectorAll('#messages .assistant');
      const last = all[all.length - 1];
      const n = last ? last.textContent.length : -1;
      if (window.__lengths[window.__lengths.length - 1] !== n) window.__lengths.push(n);
    };
    new MutationObserver(note).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
}
const lastAssistant = (page) => page.locator('#messages .assistant').last();

async function send(page, text) {
  await page.fill('#prompt', text);
  await page.click('#send');
}
// Waits for the last assistant message to end streaming; returns its text and data-state.
async function finished(page, timeout = 20000 * SCALE) {
  await page.waitForFunction(() => {
    const all = document.querySelectorAll('#messages .assistant');
    const last = all[all.length - 1];
    return last && last.dataset.state && last.dataset.state !== 'streaming' && !document.getElementById('send').disabled;
  }, null, { timeout });
  const a = lastAssistant(page);
  return { text: await a.textContent(), state: await a.getAttribute('data-state') };
}

// A transparent HTTP proxy in front of the server that passes everything through unchanged, except
// that it hands a text/event-stream body on one event at a time, `gapMs` apart. stories260K writes
// its whole reply in a few milliseconds, which can reach the page as one network read (the page
// then rightly renders it once); Chromium's network emulation did not always split it (CI: one
// read at 32 KB/s), and 10 ms gaps alone did not either on a loaded CI machine (the renderer read
// the whole paced reply at once). So a test can also arm a hold (proxy.holdAfterFirstText()): the
// next stream stops after its first event with text until the test has seen that text in the page
// and calls the returned release(), which makes "rendered before the reply ended" deterministic.
// A client that goes away closes the upstream request, so Stop still reaches the server.
// True when one server-sent event carries a non-empty delta or text.
function eventHasText(ev) {
  const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
  if (!data || data === '[DONE]') return false;
  try {
    const c = JSON.parse(data).choices?.[0];
    return !!(c?.delta?.content || c?.text);
  } catch { return false; }
}
function pacedProxy(target, gapMs) {
  const t = new URL(target);
  let armed = null; // the hold for the next stream: a promise that release() resolves
  const holdAfterFirstText = () => {
    let release;
    armed = new Promise((ok) => { release = ok; });
    return release;
  };
  const server = http.createServer((req, res) => {
    const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      if (!/text\/event-stream/.test(ur.headers['content-type'] || '')) { ur.pipe(res); return; }
      res.socket?.setNoDelay(true);
      let buf = '';
      let chain = Promise.resolve();
      let hold = armed; // this stream takes the armed hold, if any
      armed = null;
      const later = (s) => {
        chain = chain.then(() => new Promise((ok) => setTimeout(() => { if (!res.destroyed) res.write(s); ok(); }, gapMs)));
        if (hold && eventHasText(s)) { const h = hold; hold = null; chain = chain.then(() => h); }
      };
      ur.setEncoding('utf8');
      ur.on('data', (d) => {
        buf += d;
        for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) later(buf.slice(0, i + 2));
      });
      ur.on('end', () => { if (buf) later(buf); chain.then(() => res.end()); });
    });
    up.on('error', (e) => { if (!res.headersSent) res.writeHead(502); res.end(String(e.message)); });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, holdAfterFirstText, url: `http://127.0.0.1:${server.address().port}` })));
}
const proxy = await pacedProxy(url, 10);

let main = null;
await test('loads from / with no external resources', async () => {
  main = await openPage(proxy.url);
  const { page, res, log } = main;
  check(res && res.status() === 200, `GET / status ${res?.status()}`);
  check(/^text\/html/.test(res.headers()['content-type'] || ''), `content-type ${show(res.headers()['content-type'])}`);
  for (const id of ['prompt', 'send', 'stop', 'messages'])
    check(await page.locator(`#${id}`).count() === 1, `no #${id}`);
  check(await page.locator('#stop').isDisabled(), '#stop is enabled while idle');
  // every form control has an accessible label
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, textarea, select')]
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map((el) => el.id || el.outerHTML));
  check(unlabelled.length === 0, `controls without a label: ${unlabelled.join(', ')}`);
  await page.waitForLoadState('networkidle', { timeout: 5000 * SCALE }).catch(() => {});
  const origin = new URL(proxy.url).origin;
  const foreign = log.requests.map((r) => r.url()).filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
  check(foreign.length === 0, `requests outside the server: ${foreign.join(', ')}`);
  check(log.errors.length === 0, `console errors: ${log.errors.join(' | ')}`);
});

await test('chat streams a reply', async () => {
  check(main, 'the page did not load');
  const { page, log } = main;
  await page.fill('#max-tokens', '120');
  await page.fill('#temperature', '0');
  await recordLengths(page);
  const reqs = log.requests.length;
  const release = proxy.holdAfterFirstText();
  await send(page, 'Once upon a time');
  try {
    await page.waitForFunction(() => {
      const a = document.querySelector('#messages .assistant');
      return a && a.textContent.length > 0;
    }, null, { timeout: 15000 * SCALE });
    check(await page.locator('#messages .assistant').getAttribute('data-state') === 'streaming',
      'the reply is not streaming while the rest of it is held back');
  } finally { release(); }
  const r = await finished(page);
  check(r.state === 'done', `data-state ${show(r.state)}`);
  check(r.text.trim().length > 0, 'empty reply');
  const lengths = await page.evaluate(() => window.__lengths.filter((n) => n > 0));
  info(`reply of ${r.text.length} characters seen at ${lengths.length} lengths`);
  check(new Set(lengths).size >= 2, `text seen at only ${new Set(lengths).size} length(s): not streamed`);
  const post = log.requests.slice(reqs).find((q) => q.url().endsWith('/v1/chat/completions'));
  check(post, 'no request to /v1/chat/completions');
  const body = post.postDataJSON();
  check(body.stream === true, `stream is ${show(body.stream)}`);
  check(body.max_tokens === 120 && body.temperature === 0, `settings not sent: ${show(body)}`);
  check(await page.locator('#messages .user').count() === 1, 'the user message is not shown');
  check(await page.locator('#stop').isDisabled(), '#stop is still enabled');
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'chat-page.png'), fullPage: true });
  check(log.errors.length === 0, `console errors: ${log.errors.join(' | ')}`);
});

await test('second turn sends the whole conversation', async () => {
  check(main, 'the page did not load');
  const { page, log } = main;
  const reqs = log.requests.length;
  await send(page, 'And then?');
  await finished(page);
  const post = log.requests.slice(reqs).find((q) => q.url().endsWith('/v1/chat/completions'));
  const msgs = post?.postDataJSON()?.messages || [];
  check(msgs.map((m) => m.role).join(',') === 'user,assistant,user', `roles sent: ${show(msgs.map((m) => m.role))}`);
  check(msgs[0].content === 'Once upon a time' && msgs[2].content === 'And then?', `messages ${show(msgs)}`);
  check(await page.locator('#messages .assistant').count() === 2, 'not 2 assistant messages');
});

await test('Stop aborts a long reply', async () => {
  check(main, 'the page did not load');
  const { page } = main;
  await page.fill('#max-tokens', '1500');
  await page.fill('#temperature', '1');
  let r;
  for (const prompt of ['Tell me a very long story', 'Once upon a time, in a big forest', 'Tom had a red ball']) {
    await page.click('#clear');
    // click Stop from inside the page as soon as the first text shows (no round trip to node)
    await page.evaluate(() => {
      const obs = new MutationObserver(() => {
        const a = document.querySelector('#messages .assistant');
        if (a && a.textContent.length > 0) { obs.disconnect(); document.getElementById('stop').click(); }
      });
      obs.observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
    });
    await send(page, prompt);
    r = await finished(page);
    if (r.state !== 'done') break;
  }
  if (r.state === 'done') throw new Skip('3 replies ended before Stop took effect');
  check(r.state === 'stopped', `data-state ${show(r.state)} after Stop`);
  check(r.text.length > 0, 'the partial reply was removed');
  check(await page.locator('#send').isEnabled(), '#send disabled after Stop');
  check(await page.locator('#stop').isDisabled(), '#stop enabled after Stop');
  await page.fill('#max-tokens', '256');
});

await test('the mode choice is sent, and a gated mode without --sparsity shows the server\'s error', async () => {
  check(main, 'the page did not load');
  const { page, log } = main;
  await page.fill('#max-tokens', '8');
  const reqs = log.requests.length;
  await page.selectOption('#mode', 'ultimate');
  await send(page, 'Hi');
  const err = page.locator('#messages .error');
  await err.first().waitFor({ timeout: 10000 * SCALE });
  const t = await err.last().textContent();
  check(/--sparsity/.test(t), `error text ${show(t)}`);
  const post = log.requests.slice(reqs).find((q) => q.url().endsWith('/v1/chat/completions'));
  check(post && post.postDataJSON().mode === 'ultimate', `mode sent: ${show(post?.postDataJSON())}`);
  await page.selectOption('#mode', '');
  const reqs2 = log.requests.length;
  await send(page, 'Hi');
  const r = await finished(page);
  check(r.state === 'done', `with the server's mode: data-state ${show(r.state)}`);
  const post2 = log.requests.slice(reqs2).find((q) => q.url().endsWith('/v1/chat/completions'));
  check(post2 && !('mode' in post2.postDataJSON()), `mode sent for the server's choice: ${show(post2?.postDataJSON())}`);
  await page.fill('#max-tokens', '256');
});

await test('a gated reply shows its counters (usage.zeta_gating), a standard one none', async () => {
  check(main, 'the page did not load');
  const { page, log } = main;
  const sse = (objs) => objs.map((o) => `data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`).join('');
  const chunk = (delta, finish) => ({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish ?? null }] });
  const usage = (g) => ({ object: 'chat.completion.chunk', choices: [],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, ...(g ? { zeta_gating: g } : {}) } });
  const g = { mode: 'ultimate', steps: 9, sparse_steps: 6, dense_steps: 3, fallbacks: 0, sparse_ratio: 0.667,
    fallback_rate: 0, avg_energy_ratio: 0.9, drafted: 6, accepted: 5, verifications: 2, acceptance_rate: 0.8333, mean_accepted: 2.5 };
  let reply = sse([chunk({ role: 'assistant' }), chunk({ content: 'Hello' }), chunk({}, 'stop'), usage(g), '[DONE]']);
  await page.route('**/v1/chat/completions', (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: reply }));
  try {
    const reqs = log.requests.length;
    await send(page, 'Hi');
    let r = await finished(page);
    check(r.state === 'done' && r.text === 'Hello', `reply ${show(r)}`);
    const stats = await lastAssistant(page).getAttribute('data-stats');
    check(stats === 'ultimate: 6 drafted, 83% accepted, 2.5 a verification', `data-stats ${show(stats)}`);
    const post = log.requests.slice(reqs).find((q) => q.url().endsWith('/v1/chat/completions'));
    check(post && post.postDataJSON().stream_options?.include_usage === true, `include_usage not asked: ${show(post?.postDataJSON())}`);
    reply = sse([chunk({ role: 'assistant' }), chunk({ content: 'Hey' }), chunk({}, 'stop'), usage(null), '[DONE]']);
    await send(page, 'Again');
    r = await finished(page);
    check(r.text === 'Hey', `second reply ${show(r)}`);
    check(await lastAssistant(page).getAttribute('data-stats') === null, 'a standard reply shows counters');
  } finally {
    await page.unroute('**/v1/chat/completions');
  }
});

await test('server errors are shown', async () => {
  check(main, 'the page did not load');
  const { page } = main;
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 400, contentType: 'application/json',
    body: JSON.stringify({ error: { message: 'injected failure', type: 'invalid_request_error', code: null } }),
  }));
  await send(page, 'Hello');
  const err = page.locator('#messages .error');
  await err.first().waitFor({ timeout: 5000 * SCALE });
  const t = await err.last().textContent();
  check(t.includes('injected failure'), `error text ${show(t)}`);
  check(await page.locator('#send').isEnabled(), '#send disabled after an error');
  await page.unroute('**/v1/chat/completions');
});
if (main) await main.context.close();

if (authUrl && apiKey) {
  await test('API key field (server with --api-key)', async () => {
    const { context, page, res } = await openPage(authUrl);
    try {
      check(res && res.status() === 200, `GET / status ${res?.status()}: a browser cannot send the key for the page itself`);
      await page.fill('#max-tokens', '16');
      await send(page, 'Hello');
      const err = page.locator('#messages .error');
      await err.first().waitFor({ timeout: 10000 * SCALE });
      check(/401/.test(await err.last().textContent()), `error without a key: ${show(await err.last().textContent())}`);
      await page.fill('#api-key', apiKey);
      await page.locator('#api-key').dispatchEvent('change');
      check(await page.evaluate(() => Object.values(localStorage).length === 1), 'the key is not in localStorage');
      await send(page, 'Hello');
      const r = await finished(page);
      check(r.state === 'done' && r.text.length > 0, `with the key: state ${show(r.state)}, text ${show(r.text)}`);
      await page.reload();
      check(await page.inputValue('#api-key') === apiKey, 'the key is not restored after a reload');
    } finally { await context.close(); }
  });
} else {
  console.log('skip - page API key field (no --auth-url/--api-key given)');
}

await browser.close();
proxy.server.closeAllConnections?.();
proxy.server.close();
console.log(failures ? `# ${failures} failed` : '# all passed');
process.exit(failures ? 1 : 0);
