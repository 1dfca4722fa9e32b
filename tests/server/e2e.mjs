// End-to-end tests of a running `zeta serve` with the official `openai` npm client.
//
//   node e2e.mjs --url http://127.0.0.1:PORT [--model ID] [--slots N]
//                [--auth-url http://127.0.0.1:PORT2 --api-key KEY]
//
// (or the environment: ZETA_URL, ZETA_MODEL, ZETA_SLOTS, ZETA_AUTH_URL, ZETA_API_KEY).
// --url is a server without an API key (the concurrency test wants --parallel 4 or so, and
// --ctx-size 2048 keeps the disconnect test's generation long); --auth-url, if given, is a second
// server started with --api-key KEY. --model is the expected model id (the model file's basename);
// without it the id /v1/models reports is used and only its shape is checked.
// Prints one line per case, "ok - NAME", "FAIL - NAME: reason" or "skip - NAME reason", and exits 1
// if any case failed. Lines starting with "# " are information only.
import OpenAI from 'openai';
import { SCALE, arg, url, authUrl, apiKey } from './common.mjs';
const slots = arg('slots', 'ZETA_SLOTS') ? Number(arg('slots', 'ZETA_SLOTS')) : null;
let model = arg('model', 'ZETA_MODEL');
const expectModel = model;
if (!url) {
  console.error('usage: node e2e.mjs --url http://HOST:PORT [--model ID] [--slots N] [--auth-url URL --api-key KEY]');
  process.exit(2);
}

const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30000 * SCALE });
let failures = 0;
class Skip extends Error {}

function oneLine(e) {
  const s = e instanceof Error ? (e.status ? `${e.constructor.name} ${e.message}` : e.message) : String(e);
  return s.replace(/\s+/g, ' ').slice(0, 400);
}
async function test(name, fn, timeoutMs = 30000 * SCALE) {
  let timer;
  const t0 = Date.now();
  try {
    await Promise.race([
      fn(),
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    console.log(`ok - server ${name}`);
  } catch (e) {
    if (e instanceof Skip) console.log(`skip - server ${name} ${e.message}`);
    else { failures++; console.log(`FAIL - server ${name}: ${oneLine(e)}`); }
  } finally {
    clearTimeout(timer);
    if (process.env.ZETA_E2E_VERBOSE) console.log(`# ${name}: ${Date.now() - t0} ms`);
  }
}
function check(cond, msg) { if (!cond) throw new Error(msg); }
const show = (v) => JSON.stringify(v)?.slice(0, 160);
function eq(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: got ${show(got)}, expected ${show(want)}`);
}
const info = (s) => console.log(`# ${s}`);
// the three counts (servers may add details, e.g. prompt_tokens_details.cached_tokens of a reused prefix)
const counts = (u) => u && { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function checkUsage(u, maxTokens, what) {
  check(u && typeof u === 'object', `${what}: no usage`);
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens'])
    check(Number.isInteger(u[k]) && u[k] >= 0, `${what}: usage.${k} is ${show(u[k])}`);
  check(u.prompt_tokens > 0, `${what}: usage.prompt_tokens is 0`);
  check(u.total_tokens === u.prompt_tokens + u.completion_tokens,
    `${what}: total_tokens ${u.total_tokens} != ${u.prompt_tokens} + ${u.completion_tokens}`);
  if (maxTokens != null) check(u.completion_tokens <= maxTokens, `${what}: completion_tokens ${u.completion_tokens} > max_tokens ${maxTokens}`);
}

// Consumes a streamed chat or text completion; checks the chunks' shapes; returns the text etc.
async function collect(stream, kind, { onChunk } = {}) {
  let text = '', finish = null, usage = null, role = null, id = null, n = 0, afterUsage = false;
  const want = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  for await (const c of stream) {
    n++;
    check(!afterUsage, 'a chunk came after the usage chunk');
    check(c.object === want, `chunk object is ${show(c.object)}, expected ${want}`);
    check(Array.isArray(c.choices), 'chunk without a choices array');
    if (id === null) id = c.id; else check(c.id === id, `chunk ids differ: ${show(id)} then ${show(c.id)}`);
    if (c.usage) {
      check(c.choices.length === 0, 'the usage chunk has choices');
      usage = c.usage; afterUsage = true; continue;
    }
    check(c.choices.length === 1, `chunk has ${c.choices.length} choices`);
    const ch = c.choices[0];
    check(ch.index === 0, `choice index ${ch.index}`);
    check(finish === null, `a chunk came after finish_reason ${show(finish)}`);
    let piece;
    if (kind === 'chat') {
      if (ch.delta?.role) role = ch.delta.role;
      piece = ch.delta?.content;
    } else piece = ch.text;
    if (piece != null) { check(typeof piece === 'string', 'content is not a string'); text += piece; }
    if (ch.finish_reason != null) finish = ch.finish_reason;
    if (onChunk && piece) await onChunk(piece, text);
  }
  return { text, finish, usage, role, chunks: n };
}

async function chat(params, opts) {
  const r = await client.chat.completions.create({ model, ...params }, opts);
  check(r.object === 'chat.completion', `object is ${show(r.object)}`);
  check(Array.isArray(r.choices) && r.choices.length === 1, `choices: ${show(r.choices)}`);
  const c = r.choices[0];
  check(c.message?.role === 'assistant', `message.role is ${show(c.message?.role)}`);
  check(typeof c.message.content === 'string', `message.content is ${show(c.message.content)}`);
  check(['stop', 'length'].includes(c.finish_reason), `finish_reason is ${show(c.finish_reason)}`);
  checkUsage(r.usage, params.max_tokens, 'chat');
  return { text: c.message.content, finish: c.finish_reason, usage: r.usage, raw: r };
}
async function chatStream(params, { signal, onChunk } = {}) {
  const s = await client.chat.completions.create({ model, ...params, stream: true }, signal ? { signal } : undefined);
  const r = await collect(s, 'chat', { onChunk });
  if (signal?.aborted) return { ...r, aborted: true };
  check(r.role === 'assistant', `no delta with role "assistant" (got ${show(r.role)})`);
  check(['stop', 'length'].includes(r.finish), `finish_reason is ${show(r.finish)}`);
  if (params.stream_options?.include_usage) checkUsage(r.usage, params.max_tokens, 'streamed chat');
  return r;
}
async function complete(params) {
  const r = await client.completions.create({ model, ...params });
  check(r.object === 'text_completion', `object is ${show(r.object)}`);
  check(Array.isArray(r.choices) && r.choices.length === 1, `choices: ${show(r.choices)}`);
  const c = r.choices[0];
  check(typeof c.text === 'string', `text is ${show(c.text)}`);
  check(['stop', 'length'].includes(c.finish_reason), `finish_reason is ${show(c.finish_reason)}`);
  checkUsage(r.usage, params.max_tokens, 'completion');
  return { text: c.text, finish: c.finish_reason, usage: r.usage };
}
async function completeStream(params) {
  const s = await client.completions.create({ model, ...params, stream: true });
  const r = await collect(s, 'text');
  check(['stop', 'length'].includes(r.finish), `finish_reason is ${show(r.finish)}`);
  if (params.stream_options?.include_usage) checkUsage(r.usage, params.max_tokens, 'streamed completion');
  return r;
}

async function metrics(base = url) {
  const r = await fetch(`${base}/metrics`);
  check(r.status === 200, `/metrics status ${r.status}`);
  const m = {};
  for (const line of (await r.text()).split('\n')) {
    const x = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (x && !(x[1] in m)) m[x[1]] = Number(x[3]);
  }
  return m;
}

// The error body of a raw request: status and OpenAI's {"error": {message, type, code}}.
async function expectError(res, status, what) {
  const body = await res.text();
  check(res.status === status, `${what}: status ${res.status}, expected ${status} (${body.slice(0, 120)})`);
  let j;
  try { j = JSON.parse(body); } catch { throw new Error(`${what}: body is not JSON: ${show(body)}`); }
  check(j && typeof j.error === 'object' && j.error, `${what}: no "error" object: ${show(j)}`);
  check(typeof j.error.message === 'string' && j.error.message.length > 0, `${what}: error.message is ${show(j.error.message)}`);
  check(typeof j.error.type === 'string' && j.error.type.length > 0, `${what}: error.type is ${show(j.error.type)}`);
  check('code' in j.error, `${what}: error has no "code"`);
  check(/json/.test(res.headers.get('content-type') || ''), `${what}: content-type ${show(res.headers.get('content-type'))}`);
  return j.error;
}
async function expectApiError(promise, status, what) {
  try { await promise; } catch (e) {
    check(e instanceof OpenAI.APIError, `${what}: threw ${e?.constructor?.name}: ${oneLine(e)}`);
    check(e.status === status, `${what}: status ${e.status}, expected ${status}`);
    check(typeof e.error?.message === 'string', `${what}: APIError.error.message is ${show(e.error?.message)}`);
    check(typeof e.type === 'string', `${what}: APIError.type is ${show(e.type)}`);
    return e;
  }
  throw new Error(`${what}: no error, expected status ${status}`);
}

const STORY = 'Once upon a time, there was a little girl named Lily.';
const user = (content) => [{ role: 'user', content }];

// ---------------------------------------------------------------------------------------------

await test('health', async () => {
  const r = await fetch(`${url}/health`);
  check(r.status === 200, `status ${r.status}`);
  eq(await r.json(), { status: 'ok' }, 'body');
});

await test('/v1/models', async () => {
  const page = await client.models.list();
  const raw = await (await fetch(`${url}/v1/models`)).json();
  check(raw.object === 'list', `object is ${show(raw.object)}`);
  check(page.data.length === 1, `${page.data.length} models`);
  const m = page.data[0];
  check(typeof m.id === 'string' && m.id.length > 0, `id is ${show(m.id)}`);
  check(m.object === 'model', `model object is ${show(m.object)}`);
  if (expectModel) eq(m.id, expectModel, 'model id');
  model = m.id;
});
if (!model) model = 'model';

let greedyChat = null;
await test('chat completion', async () => {
  const r = await chat({ messages: user(STORY), max_tokens: 24, temperature: 0 });
  check(r.text.length > 0, 'empty text');
  check(r.usage.completion_tokens > 0, 'completion_tokens is 0');
  check(typeof r.raw.id === 'string' && r.raw.id.length > 0, `id is ${show(r.raw.id)}`);
  check(Number.isInteger(r.raw.created), `created is ${show(r.raw.created)}`);
  greedyChat = r;
});

await test('streamed chat completion equals the non-streamed one, usage included', async () => {
  check(greedyChat, 'the non-streamed case failed');
  const s = await chatStream({ messages: user(STORY), max_tokens: 24, temperature: 0, stream_options: { include_usage: true } });
  eq(s.text, greedyChat.text, 'streamed text');
  eq(s.finish, greedyChat.finish, 'finish_reason');
  eq(counts(s.usage), counts(greedyChat.usage), 'streamed usage');
  check(s.chunks >= 3, `only ${s.chunks} chunks`);
});

await test('streamed chat without include_usage has no usage chunk', async () => {
  const s = await chatStream({ messages: user(STORY), max_tokens: 4, temperature: 0 });
  check(!s.usage, `usage ${show(s.usage)}`);
});

async function rawStream(path, body) {
  try { await rawStream1(path, body); } catch (e) { throw new Error(`${path}: ${e.message}`); }
}
async function rawStream1(path, body) {
  const r = await fetch(`${url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, ...body, max_tokens: 4, temperature: 0, stream: true }),
  });
  check(r.status === 200, `status ${r.status}`);
  check(/^text\/event-stream/.test(r.headers.get('content-type') || ''), `content-type ${show(r.headers.get('content-type'))}`);
  const text = (await r.text()).replace(/\r\n/g, '\n');
  check(text.endsWith('\n\n'), `stream does not end with a blank line: ${show(text.slice(-40))}`);
  const events = text.slice(0, -2).split('\n\n');
  for (const ev of events.filter((e) => !e.startsWith(':'))) check(ev.startsWith('data: '), `event ${show(ev)}`);
  const data = events.filter((e) => e.startsWith('data: '));
  eq(data[data.length - 1], 'data: [DONE]', 'last event');
  for (const ev of data.slice(0, -1)) JSON.parse(ev.slice(6));
}
await test('streams are server-sent events ending with data: [DONE]', async () => {
  await rawStream('/v1/chat/completions', { messages: user('Hi') });
  await rawStream('/v1/completions', { prompt: 'Hi', stream_options: { include_usage: true } });
});

let greedyText = null;
await test('completion', async () => {
  const r = await complete({ prompt: STORY, max_tokens: 24, temperature: 0 });
  check(r.text.length > 0, 'empty text');
  greedyText = r;
});

await test('streamed completion equals the non-streamed one, usage included', async () => {
  check(greedyText, 'the non-streamed case failed');
  const s = await completeStream({ prompt: STORY, max_tokens: 24, temperature: 0, stream_options: { include_usage: true } });
  eq(s.text, greedyText.text, 'streamed text');
  eq(s.finish, greedyText.finish, 'finish_reason');
  eq(counts(s.usage), counts(greedyText.usage), 'streamed usage');
});

await test('finish_reason "length" at max_tokens', async () => {
  const c = await complete({ prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  eq(c.finish, 'length', 'completion finish_reason');
  eq(c.usage.completion_tokens, 6, 'completion completion_tokens');
  const s = await chatStream({ messages: user('Once upon a time'), max_tokens: 5, temperature: 0, stream_options: { include_usage: true } });
  eq(s.finish, 'length', 'streamed chat finish_reason');
  eq(s.usage.completion_tokens, 5, 'streamed chat completion_tokens');
});

// A stop string taken from the middle of a first, unstopped generation: the stopped generation
// must be exactly the text before its first occurrence, with finish_reason "stop".
function pickStop(text) {
  for (let i = Math.floor(text.length / 3); i < text.length - 4; i++) {
    if (!/\s/.test(text[i - 1] || '') || /\s/.test(text[i])) continue;
    const stop = text.slice(i, i + 5);
    const at = text.indexOf(stop);
    if (stop.trim().length >= 3 && at > 0) return { stop, before: text.slice(0, at) };
  }
  for (let i = Math.floor(text.length / 3); i < text.length - 3; i++) {
    const stop = text.slice(i, i + 3);
    const at = text.indexOf(stop);
    if (at > 0) return { stop, before: text.slice(0, at) };
  }
  return null;
}

await test('stop strings (completions)', async () => {
  const params = { prompt: 'Once upon a time', max_tokens: 48, temperature: 0 };
  const first = await complete(params);
  const p = pickStop(first.text);
  if (!p) throw new Skip(`no stop string in ${show(first.text)}`);
  info(`stop string ${show(p.stop)} in ${show(first.text)}`);
  const a = await complete({ ...params, stop: p.stop });
  eq(a.text, p.before, 'text with stop as a string');
  eq(a.finish, 'stop', 'finish_reason');
  check(a.usage.completion_tokens <= first.usage.completion_tokens,
    `completion_tokens ${a.usage.completion_tokens} > ${first.usage.completion_tokens} without the stop`);
  const b = await complete({ ...params, stop: ['\u0001never\u0002', p.stop] });
  eq(b.text, p.before, 'text with stop as an array');
  eq(b.finish, 'stop', 'finish_reason (array)');
  const s = await completeStream({ ...params, stop: [p.stop], stream_options: { include_usage: true } });
  eq(s.text, p.before, 'streamed text with stop');
  eq(s.finish, 'stop', 'streamed finish_reason');
  eq(counts(s.usage), counts(a.usage), 'streamed usage with stop');
  const n = await complete({ ...params, stop: ['\u0001never\u0002'] });
  eq(n.text, first.text, 'text with a stop string that never occurs');
});

await test('stop strings (streamed chat)', async () => {
  const params = { messages: user('Tell me a story.'), max_tokens: 48, temperature: 0 };
  const first = await chat(params);
  const p = pickStop(first.text);
  if (!p) throw new Skip(`no stop string in ${show(first.text)}`);
  const s = await chatStream({ ...params, stop: p.stop });
  eq(s.text, p.before, 'streamed text with stop');
  eq(s.finish, 'stop', 'finish_reason');
  const a = await chat({ ...params, stop: [p.stop] });
  eq(a.text, p.before, 'non-streamed text with stop');
});

await test('seed reproducibility at temperature 0.8', async () => {
  const params = { messages: user('Once upon a time'), max_tokens: 32, temperature: 0.8 };
  const a = await chat({ ...params, seed: 42 });
  const b = await chat({ ...params, seed: 42 });
  eq(b.text, a.text, 'second run with seed 42');
  const s = await chatStream({ ...params, seed: 42 });
  eq(s.text, a.text, 'streamed run with seed 42');
  const c = await complete({ prompt: 'Once upon a time', max_tokens: 32, temperature: 0.8, seed: 7 });
  const d = await complete({ prompt: 'Once upon a time', max_tokens: 32, temperature: 0.8, seed: 7 });
  eq(d.text, c.text, 'completion, second run with seed 7');
  const x = await chat({ ...params, seed: 1 });
  const y = await chat({ ...params, seed: 2 });
  info(`seeds 1 and 2 gave ${x.text === y.text ? 'the SAME text (unlikely but possible)' : 'different texts'}`);
});

await test('errors from the client are APIErrors with status', async () => {
  await expectApiError(client.chat.completions.create({ model, messages: user('Hi'), n: 2 }), 400, 'n=2');
  await expectApiError(client.chat.completions.create({ model, messages: 'not an array' }), 400, 'messages not an array');
  await expectApiError(client.completions.create({ model, prompt: 'Hi', max_tokens: 4, n: 3, stream: true }), 400, 'streamed n=3');
});

await test('error shapes of raw requests', async () => {
  const post = (path, body, ct = 'application/json') =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': ct }, body });
  await expectError(await post('/v1/chat/completions', '{"messages": [', undefined), 400, 'malformed JSON');
  await expectError(await post('/v1/chat/completions', JSON.stringify({ model })), 400, 'chat without messages');
  await expectError(await post('/v1/completions', JSON.stringify({ model, max_tokens: 4 })), 400, 'completion without prompt');
  await expectError(await post('/v1/chat/completions', JSON.stringify({ model, messages: user('Hi'), n: 2 })), 400, 'n=2');
  await expectError(await fetch(`${url}/v1/no-such-route`), 404, 'unknown route');
});

await test('metrics', async () => {
  const m = await metrics();
  for (const k of ['zeta_requests_total', 'zeta_tokens_generated_total', 'zeta_prompt_tokens_total', 'zeta_slots_total',
    'zeta_slots_busy', 'zeta_queue_depth', 'zeta_requests_cancelled_total', 'zeta_disconnect_release_ms_max'])
    check(Number.isFinite(m[k]), `${k} is missing or not a number`);
  check(m.zeta_requests_total >= 10, `zeta_requests_total ${m.zeta_requests_total} after the cases above`);
  check(m.zeta_tokens_generated_total >= 100, `zeta_tokens_generated_total ${m.zeta_tokens_generated_total}`);
  check(m.zeta_prompt_tokens_total > 0, `zeta_prompt_tokens_total ${m.zeta_prompt_tokens_total}`);
  check(m.zeta_slots_busy === 0, `zeta_slots_busy ${m.zeta_slots_busy} while idle`);
  check(m.zeta_queue_depth === 0, `zeta_queue_depth ${m.zeta_queue_depth} while idle`);
  if (slots != null) eq(m.zeta_slots_total, slots, 'zeta_slots_total');
  const before = m.zeta_tokens_generated_total;
  await complete({ prompt: 'Hello', max_tokens: 3, temperature: 0 });
  const after = await metrics();
  check(after.zeta_tokens_generated_total > before, 'zeta_tokens_generated_total did not grow');
  check(after.zeta_requests_total > m.zeta_requests_total, 'zeta_requests_total did not grow');
});

const PROMPTS = ['Once upon a time', 'Lily and Tom went to the park', 'The little dog', 'One day, a bird',
  'There was a big tree', 'Sam liked to play with his ball', 'The sun was hot', 'A small cat saw a fish'];
await test('8 concurrent streamed chats give the same text as alone', async () => {
  const req = (p) => ({ messages: user(p), max_tokens: 48, temperature: 0 });
  const alone = [];
  for (const p of PROMPTS) alone.push((await chatStream(req(p))).text);
  check(new Set(alone).size > 1, 'all prompts gave the same text');
  let maxBusy = 0, maxQueue = 0, polling = true;
  const poll = (async () => {
    while (polling) {
      try { const m = await metrics(); maxBusy = Math.max(maxBusy, m.zeta_slots_busy); maxQueue = Math.max(maxQueue, m.zeta_queue_depth); } catch {}
      await sleep(5);
    }
  })();
  const t0 = Date.now();
  const together = await Promise.all(PROMPTS.map((p) => chatStream(req(p))));
  polling = false;
  await poll;
  info(`8 concurrent streams in ${Date.now() - t0} ms; at most ${maxBusy} slots busy, queue depth up to ${maxQueue}`);
  together.forEach((r, i) => eq(r.text, alone[i], `prompt ${i} (${show(PROMPTS[i])}) run concurrently`));
  if (slots != null) check(maxBusy <= slots, `zeta_slots_busy ${maxBusy} > zeta_slots_total ${slots}`);
}, 45000);

await test('a client disconnect cancels the generation and frees the slot', async () => {
  const m0 = await metrics();
  let finished = null, attempt;
  for (attempt = 0; attempt < 3; attempt++) {
    const ac = new AbortController();
    let chunks = 0;
    const s = await chatStream({ messages: user(`${PROMPTS[attempt]}, and then`), max_tokens: 1500, temperature: 1.0, seed: 11 + attempt },
      { signal: ac.signal, onChunk: () => { if (++chunks === 3) ac.abort(); } }).catch((e) => {
      if (e instanceof OpenAI.APIUserAbortError || e?.name === 'AbortError') return null;
      throw e;
    });
    // the openai stream ends quietly on abort; a finish_reason means it ended before the abort
    finished = s && !s.aborted ? s : null;
    if (!finished) break;
  }
  if (finished) throw new Error(`3 generations ended (${finished.finish}) before the abort after 3 chunks`);
  let m;
  const deadline = Date.now() + 10000;
  for (;;) {
    m = await metrics();
    if (m.zeta_requests_cancelled_total > m0.zeta_requests_cancelled_total && m.zeta_slots_busy === 0) break;
    check(Date.now() < deadline, `after 10 s: zeta_requests_cancelled_total ${m.zeta_requests_cancelled_total} (was ${m0.zeta_requests_cancelled_total}), zeta_slots_busy ${m.zeta_slots_busy}`);
    await sleep(20);
  }
  info(`zeta_disconnect_release_ms_max ${m.zeta_disconnect_release_ms_max}`);
  check(m.zeta_disconnect_release_ms_max < 100, `zeta_disconnect_release_ms_max ${m.zeta_disconnect_release_ms_max} >= 100`);
  const gen = m.zeta_tokens_generated_total - m0.zeta_tokens_generated_total;
  check(gen < 1500, `${gen} tokens generated: the generation was not cut short`);
  const r = await complete({ prompt: 'Hello', max_tokens: 2, temperature: 0 });
  check(r.usage.completion_tokens > 0, 'the server does not generate after the disconnect');
});

// ---------------------------------------------------------------------------------------------
if (authUrl && apiKey) {
  const good = new OpenAI({ baseURL: `${authUrl}/v1`, apiKey, maxRetries: 0, timeout: 30000 * SCALE });
  const bad = new OpenAI({ baseURL: `${authUrl}/v1`, apiKey: `${apiKey}-wrong`, maxRetries: 0, timeout: 30000 * SCALE });
  await test('api key: wrong key gives 401', async () => {
    const e = await expectApiError(bad.chat.completions.create({ model, messages: user('Hi'), max_tokens: 2 }), 401, 'chat, wrong key');
    check(e instanceof OpenAI.AuthenticationError, `threw ${e.constructor.name}`);
    await expectApiError(bad.completions.create({ model, prompt: 'Hi', max_tokens: 2, stream: true }), 401, 'streamed completion, wrong key');
    await expectApiError(bad.models.list(), 401, 'models, wrong key');
  });
  await test('api key: missing key gives 401 with an OpenAI error body', async () => {
    await expectError(await fetch(`${authUrl}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: user('Hi'), max_tokens: 2 }),
    }), 401, 'no Authorization header');
    await expectError(await fetch(`${authUrl}/v1/models`, { headers: { authorization: 'Basic eDp5' } }), 401, 'Basic authorization');
  });
  await test('api key: right key works', async () => {
    const r = await good.chat.completions.create({ model, messages: user('Hi'), max_tokens: 4, temperature: 0 });
    check(r.choices?.[0]?.message?.content?.length > 0, `reply ${show(r)}`);
    const s = await good.completions.create({ model, prompt: 'Hi', max_tokens: 4, temperature: 0, stream: true });
    const c = await collect(s, 'text');
    check(c.text.length > 0, 'empty streamed text');
    const page = await good.models.list();
    check(page.data.length === 1, `${page.data.length} models`);
  });
  const h = await fetch(`${authUrl}/health`).then((r) => r.status, () => 'error');
  info(`/health without a key on the server with --api-key: ${h}`);
} else {
  console.log('skip - server api key tests (no --auth-url/--api-key given)');
}

console.log(failures ? `# ${failures} failed` : '# all passed');
process.exit(failures ? 1 : 0);
