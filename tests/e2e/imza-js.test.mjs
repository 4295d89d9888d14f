/* SPDX-License-Identifier: LGPL-2.1-or-later */
// Unit tests of web/imza.js in a fake browser window (node:test, no npm packages).
//   node --test tests/e2e/imza-js.test.mjs
// imza.js runs as a classic script in a vm context whose global is the fake window, with fetch,
// navigator.permissions, location and document stubbed per test.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = fs.readFileSync(path.join(here, '..', '..', 'web', 'imza.js'), 'utf8');

// A Response-like object for the stubbed fetch.
function response(status, body, headers = {}) {
	const h = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
	const text = typeof body === 'string' ? body : JSON.stringify(body);
	return {
		status,
		ok: status >= 200 && status < 300,
		headers: { get: (k) => (h.has(k.toLowerCase()) ? h.get(k.toLowerCase()) : null) },
		text: async () => text,
	};
}

// Builds a window: {fetch: fn(url, init) -> Promise<Response>, permissions: {name: state} | 'none',
// href, meta}. Returns {imza, calls, win}.
function load({ fetch, permissions = {}, href = 'http://127.0.0.1:8000/demo/', meta = null, userAgent = undefined } = {}) {
	const calls = [];
	const queried = [];
	const url = new URL(href);
	const win = {
		URL, URLSearchParams, TextEncoder, AbortController, setTimeout, clearTimeout, atob, btoa,
		console,
		location: {
			href: url.href, protocol: url.protocol, hostname: url.hostname, origin: url.origin,
			search: url.search,
		},
		document: {
			querySelector: (sel) => (sel === 'meta[name="imza-url"]' && meta !== null
				? { getAttribute: (a) => (a === 'content' ? meta : null) } : null),
		},
		navigator: permissions === 'none' ? {} : {
			userAgent,
			permissions: {
				query(desc) {
					queried.push(desc.name);
					if (!(desc.name in permissions)) {
						// what Chromium does for a name it does not know
						throw new TypeError(`The provided value '${desc.name}' is not a valid enum value`);
					}
					const st = permissions[desc.name];
					return st instanceof Error ? Promise.reject(st) : Promise.resolve({ state: st, name: desc.name });
				},
			},
		},
		fetch: async (u, init) => {
			calls.push({ url: u, init });
			return fetch(u, init);
		},
	};
	win.window = win;
	vm.createContext(win);
	vm.runInContext(SRC, win, { filename: 'imza.js' });
	assert.equal(typeof win.imza, 'object', 'imza.js defines window.imza as a classic script');
	return { imza: win.imza, calls, queried, win, VmError: vm.runInContext('Error', win) };
}

// JSON round trip: objects made in the vm's realm compare by value.
const plain = (v) => JSON.parse(JSON.stringify(v));

async function rejection(p) {
	try {
		await p;
	} catch (e) {
		return e;
	}
	assert.fail('expected a rejection');
}

const CERT = {
	id: 'a'.repeat(64), label: 'Certificate for Digital Signature', subject: 'CN=AYŞE YILMAZ,C=TR',
	common_name: 'AYŞE YILMAZ', issuer: 'CN=Test CA', serial: '01ab', not_before: '2026-01-01T00:00:00Z',
	not_after: '2029-01-01T00:00:00Z', key_type: 'RSA', key_bits: 2048,
	key_usage: ['digitalSignature', 'nonRepudiation'], qualified: true, reader: 'Virtual PCD 00 00',
	present: true, certificate: 'MAA=',
};

test('info: GET /v1/info on the default URL, a simple request', async () => {
	const { imza, calls } = load({
		fetch: async () => response(200, { name: 'imza', version: '0.1.0', api: 1, granted: false }),
	});
	const info = await imza.info();
	assert.deepEqual(plain(info), { name: 'imza', version: '0.1.0', api: 1, granted: false });
	assert.equal(calls.length, 1);
	assert.equal(calls[0].url, 'https://127.0.0.1:38443/v1/info');
	const init = calls[0].init;
	assert.equal(init.method, 'GET');
	assert.equal(init.body, undefined);
	assert.equal(init.headers, undefined, 'a GET carries no header that could need a preflight');
	assert.equal(init.credentials, 'omit');
	assert.equal(init.mode, 'cors');
	assert.equal(init.targetAddressSpace, 'loopback');
});

test('certificates: GET /v1/certificates returns the list', async () => {
	const { imza, calls } = load({ fetch: async () => response(200, { certificates: [CERT] }) });
	const list = await imza.certificates();
	assert.equal(calls[0].url, 'https://127.0.0.1:38443/v1/certificates');
	assert.equal(calls[0].init.method, 'GET');
	assert.equal(list.length, 1);
	assert.deepEqual(plain(list[0]), CERT);
});

test('sign: POST /v1/sign with Content-Type text/plain carrying the JSON', async () => {
	const reply = { signature: 'MIIB', format: 'cades-bes', detached: false, certificate: 'MAA=' };
	const { imza, calls } = load({ fetch: async () => response(200, reply) });
	const text = 'Aşağıda yazılı…\nAD:AYŞE\nGÜV:gizli';
	const res = await imza.sign({ certificate: CERT.id, text, format: 'cades-bes', wait: 30 });
	assert.deepEqual(plain(res), reply);
	const { url, init } = calls[0];
	assert.equal(url, 'https://127.0.0.1:38443/v1/sign');
	assert.equal(init.method, 'POST');
	const headers = plain(init.headers);
	assert.deepEqual(Object.keys(headers), ['Content-Type'], 'only Content-Type: no preflight');
	assert.match(headers['Content-Type'], /^text\/plain(;\s*charset=UTF-8)?$/i);
	assert.equal(typeof init.body, 'string');
	assert.deepEqual(JSON.parse(init.body), { certificate: CERT.id, text, format: 'cades-bes', wait: 30 });
});

test('sign: a certificate object, bytes as data, detached; nothing unknown is sent', async () => {
	const { imza, calls } = load({ fetch: async () => response(200, { signature: 'AA==' }) });
	await imza.sign({ certificate: CERT, data: new Uint8Array([0, 1, 2, 255]), format: 'cades-bes', detached: true });
	assert.deepEqual(JSON.parse(calls[0].init.body),
		{ certificate: CERT.id, data: 'AAEC/w==', format: 'cades-bes', detached: true });
	await imza.sign({ certificate: CERT.id, data: 'AAEC/w==' });
	assert.deepEqual(JSON.parse(calls[1].init.body), { certificate: CERT.id, data: 'AAEC/w==' });
});

test('sign without a certificate: the body names none (the user chooses in imza\'s window)', async () => {
	const reply = { signature: 'MIIB', format: 'cades-bes', detached: false, certificate: 'MAA=' };
	const { imza, calls } = load({ fetch: async () => response(200, reply) });
	const res = await imza.sign({ text: 'Başvuru', wait: 30 });
	assert.deepEqual(plain(res), reply);
	assert.equal(calls.length, 1);
	assert.equal(calls[0].url, 'https://127.0.0.1:38443/v1/sign');
	assert.deepEqual(JSON.parse(calls[0].init.body), { text: 'Başvuru', wait: 30 });
	assert.ok(!('certificate' in JSON.parse(calls[0].init.body)));
	await imza.sign({ certificate: null, data: 'AA==' });
	assert.deepEqual(JSON.parse(calls[1].init.body), { data: 'AA==' });
});

test('sign: bad arguments fail before any request', async () => {
	const { imza, calls } = load({ fetch: async () => response(200, {}) });
	for (const args of [{}, { certificate: '', text: 'x' }, { certificate: 42, text: 'x' }, { certificate: CERT.id }, { certificate: CERT.id, text: 'x', data: 'AA==' },
		{ certificate: CERT.id, text: 'x', wait: 301 }, { certificate: CERT.id, text: 'x', wait: 1.5 }]) {
		const e = await rejection(imza.sign(args));
		assert.ok(e instanceof imza.ImzaError);
		assert.equal(e.code, 'bad_request');
		assert.equal(e.status, 0);
	}
	assert.equal(calls.length, 0);
});

test('HTTP JSON errors become ImzaError with the API code, status and tries left', async () => {
	const cases = [
		[400, { error: 'bad_request', message: 'unknown field "x"' }, 'bad_request', null],
		[415, { error: 'bad_request', message: 'content type' }, 'bad_request', null],
		[403, { error: 'key_not_allowed', message: 'not for signatures' }, 'key_not_allowed', null],
		[403, { error: 'user_cancelled', message: 'cancelled' }, 'user_cancelled', null],
		[403, { error: 'pin_incorrect', message: 'wrong PIN', tries_left: 2 }, 'pin_incorrect', 2],
		[403, { error: 'pin_incorrect', message: 'wrong PIN', tries_left: -1 }, 'pin_incorrect', -1],
		[423, { error: 'pin_locked', message: 'blocked' }, 'pin_locked', null],
		[404, { error: 'certificate_unknown', message: 'no such certificate' }, 'certificate_unknown', null],
		[404, { error: 'not_found', message: 'no route' }, 'not_found', null],
		[405, { error: 'method_not_allowed', message: 'GET only' }, 'method_not_allowed', null],
		[409, { error: 'card_absent', message: 'insert the card' }, 'card_absent', null],
		[413, { error: 'too_large', message: 'over 1 MiB' }, 'too_large', null],
		[421, { error: 'bad_host', message: 'Host' }, 'bad_host', null],
		[500, { error: 'internal', message: 'oops' }, 'internal', null],
		[504, { error: 'timeout', message: 'too slow' }, 'timeout', null],
	];
	for (const [status, body, code, tries] of cases) {
		const { imza, VmError } = load({ fetch: async () => response(status, body, { 'Content-Type': 'application/json' }) });
		const e = await rejection(imza.sign({ certificate: CERT.id, text: 'x' }));
		assert.ok(e instanceof imza.ImzaError, `${code}: an ImzaError`);
		assert.ok(e instanceof VmError, `${code}: also an Error (of the page's realm)`);
		assert.equal(typeof e.stack, 'string');
		assert.equal(e.name, 'ImzaError');
		assert.equal(e.code, code);
		assert.equal(e.status, status);
		assert.equal(e.message, body.message);
		assert.equal(e.triesLeft, tries);
	}
});

test('test_raw_format_refused_for_web: sign() never asks imza for a bare signature', async () => {
	const { imza, calls } = load({ fetch: async () => response(200, { signature: 'AA==' }) });
	for (const format of ['raw', 'RAW', 'pkcs1', '']) {
		const e = await rejection(imza.sign({ certificate: CERT.id, data: 'aGVsbG8=', format }));
		assert.ok(e instanceof imza.ImzaError);
		assert.equal(e.code, 'bad_request');
		assert.match(e.message, /cades-bes/);
	}
	assert.equal(calls.length, 0, 'no request left the page');
});

test('origin_denied says imza refused this page, and how to undo it', async () => {
	const { imza } = load({
		href: 'https://portal.kamusm.gov.tr/basvuru',
		fetch: async () => response(403, { error: 'origin_denied', message: 'the user did not allow this origin' }),
	});
	for (const call of [() => imza.sign({ certificate: CERT.id, text: 'x' }), () => imza.certificates()]) {
		const e = await rejection(call());
		assert.equal(e.code, 'origin_denied');
		assert.equal(e.status, 403);
		assert.match(e.messageTr, /reddetti/);
		assert.doesNotMatch(e.messageTr, /ulaşılamadı/);
		assert.match(e.messageTr, /`imzactl grants forget https:\/\/portal\.kamusm\.gov\.tr`/);
		assert.match(e.messageEn, /refused/);
		assert.match(e.messageEn, /imzactl grants forget https:\/\/portal\.kamusm\.gov\.tr/);
		assert.equal(e.message, e.messageTr + '\n' + e.messageEn);
		assert.equal(e.serverMessage, 'the user did not allow this origin');
	}
});

test('busy carries Retry-After; an answer without JSON is typed by its status', async () => {
	let { imza } = load({ fetch: async () => response(503, { error: 'busy', message: 'queue full' }, { 'Retry-After': '2' }) });
	let e = await rejection(imza.info());
	assert.equal(e.code, 'busy');
	assert.equal(e.retryAfter, 2);
	({ imza } = load({ fetch: async () => response(423, '<html>locked</html>') }));
	e = await rejection(imza.certificates());
	assert.equal(e.code, 'pin_locked');
	assert.equal(e.status, 423);
	({ imza } = load({ fetch: async () => response(502, 'Bad Gateway') }));
	e = await rejection(imza.info());
	assert.equal(e.code, 'internal');
	({ imza } = load({ fetch: async () => response(200, 'not json') }));
	e = await rejection(imza.info());
	assert.equal(e.code, 'internal');
});

const failedFetch = async () => {
	throw new TypeError('Failed to fetch');
};

test('a network TypeError is unreachable where the browser allows loopback', async () => {
	for (const permissions of ['none', {}, { 'loopback-network': 'granted' }, { 'local-network-access': 'granted' }]) {
		const { imza } = load({ fetch: failedFetch, permissions, href: 'https://portal.kamusm.gov.tr/bp/meb.go' });
		const e = await rejection(imza.info());
		assert.ok(e instanceof imza.ImzaError);
		assert.equal(e.code, 'unreachable', JSON.stringify(permissions));
		assert.equal(e.status, 0);
		assert.equal(e.triesLeft, null);
		assert.match(e.message, /imza çalışmıyor/);
		assert.match(e.message, /imzactl trust/);
		assert.match(e.message, /not running/);
		assert.equal(e.cause && e.cause.message, 'Failed to fetch');
	}
});

test('a page on loopback never gets local_network_denied for a prompt state', async () => {
	const { imza } = load({ fetch: failedFetch, permissions: { 'loopback-network': 'prompt' },
		href: 'http://127.0.0.1:41234/demo/' });
	const e = await rejection(imza.info());
	assert.equal(e.code, 'unreachable');
});

test('permission denied → local_network_denied, whichever name the browser knows', async () => {
	for (const permissions of [{ 'loopback-network': 'denied' }, { 'local-network-access': 'denied' },
		{ 'local-network': 'denied' }, { 'loopback-network': new Error('boom'), 'local-network-access': 'denied' }]) {
		const { imza, calls } = load({ fetch: failedFetch, permissions, href: 'https://portal.kamusm.gov.tr/bp/meb.go' });
		const e = await rejection(imza.sign({ certificate: CERT.id, text: 'x' }));
		assert.ok(e instanceof imza.ImzaError);
		assert.equal(e.code, 'local_network_denied', JSON.stringify(Object.keys(permissions)));
		assert.equal(e.status, 0);
		assert.equal(e.permission, 'denied');
		assert.match(e.message, /Yerel ağ erişimi/);
		assert.match(e.message, /Local network access/);
		assert.match(e.message, /LocalNetworkAccessAllowedForUrls/);
		assert.equal(calls.length, 1, 'the request was tried once, not retried');
	}
});

test('in Firefox, local_network_denied names Firefox\'s prompt and LocalNetworkAccess policy, not Chromium\'s', async () => {
	const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0';
	const { imza } = load({ fetch: failedFetch, permissions: { 'loopback-network': 'denied', 'local-network': 'prompt' },
		href: 'https://portal.kamusm.gov.tr/bp/meb.go', userAgent: FIREFOX_UA });
	const e = await rejection(imza.certificates());
	assert.equal(e.code, 'local_network_denied');
	assert.equal(e.messageTr, imza.messages.local_network_denied_firefox.tr);
	assert.equal(e.messageEn, imza.messages.local_network_denied_firefox.en);
	assert.match(e.message, /Device apps and services/);
	assert.match(e.message, /LocalNetworkAccess ilkesindeki SkipDomains/);
	assert.doesNotMatch(e.message, /LocalNetworkAccessAllowedForUrls|Site ayarları/);
	// Chromium's user agent keeps Chromium's text.
	const chromium = load({ fetch: failedFetch, permissions: { 'loopback-network': 'denied' },
		href: 'https://portal.kamusm.gov.tr/bp/meb.go',
		userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36' });
	const c = await rejection(chromium.imza.certificates());
	assert.equal(c.messageTr, chromium.imza.messages.local_network_denied.tr);
});

test('prompt followed by a failed fetch from a public page → local_network_denied', async () => {
	const { imza, queried } = load({ fetch: failedFetch, permissions: { 'loopback-network': 'prompt' },
		href: 'https://portal.kamusm.gov.tr/bp/meb.go' });
	const e = await rejection(imza.certificates());
	assert.equal(e.code, 'local_network_denied');
	assert.equal(e.permission, 'prompt');
	assert.deepEqual(queried, ['loopback-network']);
});

test('unknown permission names are skipped (TypeError) down the list', async () => {
	const { imza, queried } = load({ permissions: { 'local-network': 'granted' }, fetch: async () => response(200, {}) });
	assert.equal(await imza.localNetworkPermission(), 'granted');
	assert.deepEqual(queried, ['loopback-network', 'local-network-access', 'local-network']);
	const none = load({ permissions: {}, fetch: async () => response(200, {}) });
	assert.equal(await none.imza.localNetworkPermission(), 'unsupported');
	const old = load({ permissions: 'none', fetch: async () => response(200, {}) });
	assert.equal(await old.imza.localNetworkPermission(), 'unsupported');
});

test('base URL: configure() > ?imza= > <meta name="imza-url"> > default', async () => {
	const ok = async () => response(200, { name: 'imza', version: '0.1.0', api: 1, granted: true });
	let t = load({ fetch: ok });
	assert.equal(t.imza.url(), 'https://127.0.0.1:38443');
	t = load({ fetch: ok, meta: 'https://localhost:40000/' });
	assert.equal(t.imza.url(), 'https://localhost:40000');
	t = load({ fetch: ok, meta: 'https://localhost:40000', href: 'http://127.0.0.1:8000/demo/?imza=https%3A%2F%2F%5B%3A%3A1%5D%3A40001' });
	assert.equal(t.imza.url(), 'https://[::1]:40001');
	await t.imza.info();
	assert.equal(t.calls[0].url, 'https://[::1]:40001/v1/info');
	assert.equal(t.calls[0].init.targetAddressSpace, 'loopback');
	t.imza.configure({ url: 'https://127.0.0.1:50000/' });
	assert.equal(t.imza.url(), 'https://127.0.0.1:50000');
	await t.imza.info();
	assert.equal(t.calls[1].url, 'https://127.0.0.1:50000/v1/info');
	t.imza.configure({ url: null });
	assert.equal(t.imza.url(), 'https://[::1]:40001');
	assert.throws(() => t.imza.configure({ url: 'ftp://x' }), { name: 'TypeError' });
	// a non-loopback endpoint gets no loopback address-space hint
	t.imza.configure({ url: 'https://imza.example.test' });
	await t.imza.info();
	assert.equal(t.calls[2].init.targetAddressSpace, undefined);
});

// Default ports (web/imza.js, docs/INSTALL.md, imzad.conf(5)): a port with no answer moves on to the next.
const refusedOn = (ports, answer) => async (u) => {
	if (ports.some((p) => u.startsWith(`https://127.0.0.1:${p}/`))) {
		throw new TypeError('Failed to fetch');
	}
	return answer(u);
};
const INFO = { name: 'imza', version: '0.1.0', api: 1, granted: true };

test('default ports: 38443, 38444, 38445 in that order', () => {
	const { imza } = load({ fetch: async () => response(200, INFO) });
	assert.deepEqual(plain(imza.defaultUrls),
		['https://127.0.0.1:38443', 'https://127.0.0.1:38444', 'https://127.0.0.1:38445']);
	assert.equal(imza.defaultUrl, 'https://127.0.0.1:38443');
});

test('first port refused → the next one is used, and tried first from then on', async () => {
	const { imza, calls } = load({ fetch: refusedOn([38443], async () => response(200, INFO)) });
	assert.deepEqual(plain(await imza.info()), INFO);
	assert.deepEqual(calls.map((c) => c.url), ['https://127.0.0.1:38443/v1/info', 'https://127.0.0.1:38444/v1/info']);
	assert.equal(imza.url(), 'https://127.0.0.1:38444');
	await imza.certificates().catch(() => {});
	assert.equal(calls[2].url, 'https://127.0.0.1:38444/v1/certificates');
	assert.equal(calls.length, 3);
});

test('sign on the second port: sent once there, after the refused first', async () => {
	const { imza, calls } = load({
		fetch: refusedOn([38443], async () => response(200, { signature: 'AA==', format: 'cades-bes', detached: false, certificate: 'AA==' })),
	});
	await imza.sign({ text: 'x' });
	assert.deepEqual(calls.map((c) => `${c.init.method} ${c.url}`),
		['POST https://127.0.0.1:38443/v1/sign', 'POST https://127.0.0.1:38444/v1/sign']);
});

test('every default port refused → unreachable after trying each once, in order', async () => {
	const { imza, calls } = load({ fetch: failedFetch, href: 'https://portal.kamusm.gov.tr/bp/meb.go', permissions: {} });
	const e = await rejection(imza.info());
	assert.equal(e.code, 'unreachable');
	assert.deepEqual(calls.map((c) => c.url), plain(imza.defaultUrls).map((u) => `${u}/v1/info`));
});

test('no moving on after an HTTP answer, nor from a URL the page gave', async () => {
	let t = load({ fetch: async () => response(403, { error: 'origin_denied', message: 'no' }) });
	assert.equal((await rejection(t.imza.info())).code, 'origin_denied');
	assert.equal(t.calls.length, 1);
	t = load({ fetch: failedFetch, meta: 'https://127.0.0.1:38443' });
	assert.equal((await rejection(t.imza.info())).code, 'unreachable');
	assert.equal(t.calls.length, 1);
});

test('info and certificates time out (AbortError → timeout); sign has no client timeout', async () => {
	const hang = (u, init) => new Promise((resolve, reject) => {
		if (init.signal) {
			init.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
		}
	});
	const { imza, calls } = load({ fetch: hang });
	imza.configure({ timeout: 30 });
	const e = await rejection(imza.info());
	assert.equal(e.code, 'timeout');
	assert.equal(e.status, 0);
	imza.sign({ certificate: CERT.id, text: 'x' }).catch(() => {});
	assert.equal(calls[1].init.signal, undefined);
});

test('a request from a public page held past the timeout while the permission reads prompt (Firefox holds it ' +
	'until the user answers) → local_network_denied; from a loopback page it stays timeout', async () => {
	const hang = (u, init) => new Promise((resolve, reject) => {
		init.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
	});
	const pub = load({ fetch: hang, permissions: { 'loopback-network': 'prompt' }, href: 'https://portal.kamusm.gov.tr/bp/meb.go',
		userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0' });
	pub.imza.configure({ timeout: 30 });
	const e = await rejection(pub.imza.certificates());
	assert.equal(e.code, 'local_network_denied');
	assert.equal(e.permission, 'prompt');
	assert.equal(e.messageTr, pub.imza.messages.local_network_denied_firefox.tr);
	const local = load({ fetch: hang, permissions: { 'loopback-network': 'prompt' } });
	local.imza.configure({ timeout: 30 });
	assert.equal((await rejection(local.imza.certificates())).code, 'timeout');
	const granted = load({ fetch: hang, permissions: { 'loopback-network': 'granted' }, href: 'https://portal.kamusm.gov.tr/' });
	granted.imza.configure({ timeout: 30 });
	assert.equal((await rejection(granted.imza.info())).code, 'timeout');
});

test('base64 helpers round-trip', () => {
	const { imza } = load({ fetch: async () => response(200, {}) });
	const bytes = new Uint8Array(70000).map((_, i) => (i * 7) & 0xff);
	const b64 = imza.bytesToBase64(bytes);
	assert.equal(b64, Buffer.from(bytes).toString('base64'));
	assert.deepEqual(Array.from(imza.base64ToBytes(b64)), Array.from(bytes));
});

test('CommonJS: require() gives the same API without a window global', async () => {
	const { createRequire } = await import('node:module');
	const require = createRequire(import.meta.url);
	const m = require('../../web/imza.js');
	assert.equal(typeof m.sign, 'function');
	assert.equal(typeof m.ImzaError, 'function');
	assert.equal(globalThis.imza, undefined);
});
