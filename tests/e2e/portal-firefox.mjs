/* SPDX-License-Identifier: LGPL-2.1-or-later */
// The portal e2e in Firefox ESR over WebDriver BiDi (puppeteer-core): the demo portal against the real
// imzad, in a profile where imza's local CA is trusted and the module registered (portal-firefox.sh makes
// it). Prints "ok - ..." / "not ok - ..." lines (why a check failed goes to stderr) and keeps screenshots
// in PORTAL_ARTIFACTS. Three Firefox runs:
//   S. the demo on http://127.0.0.1:PORT: login, form, SMS, E-İmzalı, the qualified certificate, İmzala,
//      basvuru.p7s downloaded and verified by openssl; what the pinentry showed; Firefox loaded the module.
//   P. the demo made public (network.lna.address_space.public.override), with what the LocalNetworkAccess
//      policy's SkipDomains sets (network.lna.skip-domains) naming the page's host: it signs, no prompt.
//   L. the same public page with Firefox's defaults: the request waits on Firefox's loopback-network
//      prompt (headless nobody answers; network.lna.prompt.timeout shortened), Block gives
//      local_network_denied at once, Allow lets it sign.
// In P and L the page is on http://localhost:PORT, so that a skip-domains entry can match the page's host
// and not the endpoint's (127.0.0.1): Firefox checks both.
// Environment (from portal-firefox.sh and the stack's env): DEMO_URL, IMZA_HTTPS_URL, IMZA_TEST_CA,
// IMZA_CARD_DIR, IMZA_PINENTRY_SCRIPT, IMZA_PINENTRY_LOG, IMZA_PIN, IMZA_MODULE, PORTAL_ARTIFACTS,
// PORTAL_WORK, FIREFOX, FIREFOX_PROFILE, FIREFOX_PIDS (each Firefox's pid is appended: it leads its own
// process group, which the script checks is gone at the end), FIREFOX_MODULE (loaded, or absent in a
// sanitizer build).
import puppeteer from 'puppeteer-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pinentryLog, pinentryScript, verifyP7s } from './stack.mjs';
import { assert, note, notOk, ok, reporter } from './tap.mjs';
import { EXPECTED_CONTENT, walkToSigning as walk } from './portal-walk.mjs';

const NEED = ['DEMO_URL', 'IMZA_HTTPS_URL', 'IMZA_TEST_CA', 'IMZA_CARD_DIR', 'IMZA_PINENTRY_SCRIPT',
	'IMZA_PINENTRY_LOG', 'IMZA_PIN', 'IMZA_MODULE', 'PORTAL_ARTIFACTS', 'PORTAL_WORK', 'FIREFOX', 'FIREFOX_PROFILE',
	'FIREFOX_PIDS'];
const missing = NEED.filter((k) => !process.env[k]);
if (missing.length) {
	console.log('not ok - portal-firefox.mjs has its environment (missing ' + missing.join(', ') + ')');
	process.exit(1);
}
const E = process.env;
const DEMO_URL = E.DEMO_URL; // http://127.0.0.1:PORT/demo/
const DEMO_ORIGIN = new URL(DEMO_URL).origin;
const DEMO_PORT = new URL(DEMO_URL).port;
const PUBLIC_URL = DEMO_URL.replace('//127.0.0.1:', '//localhost:');
const PUBLIC_ORIGIN = new URL(PUBLIC_URL).origin;
const query = (base) => base + '?captcha=ABCDE&sertifika=sayfa&imza=' + encodeURIComponent(E.IMZA_HTTPS_URL);
const ART = E.PORTAL_ARTIFACTS;
const WORK = E.PORTAL_WORK;
const SIGNER = 'AHMET YILMAZ'; // the virtual card's holder
const STEP_MS = 15000;
const SIGN_MS = 45000; // the PIN dialog and the card under ASan
const PROMPT_MS = 3000; // network.lna.prompt.timeout in run L (Firefox's default: 5 minutes)

// The card's qualified certificate (slot 9C): imza's id for it is the SHA-256 of its DER.
const QUALIFIED_ID = crypto.createHash('sha256').update(fs.readFileSync(path.join(E.IMZA_CARD_DIR, '9c.crt.der')))
	.digest('hex');

/* ---------------------------------------------------------------- reporting */

const { screenshot, Flow } = reporter(ART, 'portal-firefox');

/* ---------------------------------------------------------------- Firefox */

const launched = [];

// prefs: what the run changes from Firefox's defaults, besides puppeteer's automation prefs. The trust
// and the module come from the profile alone: acceptInsecureCerts stays false.
async function launch(run, prefs) {
	const downloads = path.join(WORK, 'downloads-' + run);
	fs.mkdirSync(downloads, { recursive: true });
	const browser = await puppeteer.launch({
		browser: 'firefox',
		protocol: 'webDriverBiDi',
		executablePath: E.FIREFOX,
		headless: true,
		userDataDir: E.FIREFOX_PROFILE,
		acceptInsecureCerts: false,
		timeout: 60000,
		protocolTimeout: 120000,
		extraPrefsFirefox: Object.assign({
			'browser.download.dir': downloads,
			'browser.download.folderList': 2,
			'browser.download.useDownloadDir': true,
			'browser.download.always_ask_before_handling_new_types': false,
			'intl.accept_languages': 'tr-TR, tr',
		}, prefs || {}),
	});
	const pid = browser.process().pid;
	fs.appendFileSync(E.FIREFOX_PIDS, pid + '\n');
	launched.push(browser);
	return { browser, pid, downloads };
}

async function close(browser) {
	const i = launched.indexOf(browser);
	if (i >= 0) {
		launched.splice(i, 1);
	}
	await browser.close().catch((e) => console.error('## browser.close: ' + e.message));
}

async function newPage(browser) {
	const page = await browser.newPage();
	await page.setViewport({ width: 1100, height: 900 });
	page.setDefaultTimeout(STEP_MS);
	page.on('pageerror', (e) => console.error('## page error: ' + e.message));
	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning') {
			console.error('## console ' + m.type() + ': ' + m.text());
		}
	});
	return page;
}

// The few page calls portal-walk.mjs makes, in puppeteer's terms.
function walker(page) {
	return {
		goto: (u) => page.goto(u, { waitUntil: 'load' }),
		url: () => page.url(),
		waitForSelector: (s) => page.waitForSelector(s),
		fill: (s, v) => page.locator(s).fill(v),
		click: (s) => page.locator(s).click(),
		selectOption: async (s, v) => {
			const got = await page.select(s, v);
			assert(got.includes(v), s + ': no option ' + v);
		},
		textContent: (s) => page.$eval(s, (e) => e.textContent),
	};
}

const hidden = (page, sel) => page.$eval(sel, (e) => e.hidden);
const text = async (page, sel) => ((await page.$eval(sel, (e) => e.textContent)) || '').trim();

async function errorShown(page) {
	return { code: await page.$eval('#error', (e) => e.getAttribute('data-code')), message: await text(page, '#error-message') };
}

async function certificatesOrError(page) {
	await page.waitForFunction(() => document.querySelector('#cert-list .cert-row') !== null ||
		!document.getElementById('error').hidden, { timeout: STEP_MS + 5000 });
	if (!(await hidden(page, '#error'))) {
		return { error: await errorShown(page) };
	}
	const rows = await page.$$eval('#cert-list .cert-row', (rs) => rs.map((r) => ({
		certId: r.getAttribute('data-cert-id'), name: r.querySelector('.cert-name').textContent,
		tags: Array.from(r.querySelectorAll('.tag')).map((t) => t.textContent),
		radio: r.querySelector('input[type=radio]').id, disabled: r.querySelector('input[type=radio]').disabled })));
	return { rows };
}

// The certificates are listed, exactly one "Nitelikli" (the card's 9C); it is selected.
async function selectQualified(page) {
	const r = await certificatesOrError(page);
	assert(!r.error, 'the signing page shows an error instead of the certificates: ' + JSON.stringify(r.error));
	const q = r.rows.filter((x) => x.tags.includes('Nitelikli'));
	assert(q.length === 1 && q[0].certId === QUALIFIED_ID && !q[0].disabled,
		'want the card\'s 9C certificate ' + QUALIFIED_ID + ' as the one Nitelikli row, got ' + JSON.stringify(r.rows));
	await page.locator('#' + q[0].radio).click();
	const sel = await text(page, '#cert-selected');
	assert(sel.endsWith('(Nitelikli)'), '#cert-selected says "' + sel + '"');
	return r.rows;
}

async function signedOk(page) {
	await page.locator('#sign-btn').click();
	await page.waitForFunction(() => !document.getElementById('step-result').hidden ||
		!document.getElementById('error').hidden, { timeout: SIGN_MS });
	assert(await hidden(page, '#error'), 'the page shows an error: ' + JSON.stringify(await errorShown(page)));
	const result = await text(page, '#result-message');
	assert(result.startsWith('Başvuru İmzalama İşlemi Başarıyla Bitirildi'), 'result message "' + result + '"');
	const signer = await text(page, '#result-signer');
	assert(signer === SIGNER, 'the signer shown is "' + signer + '"');
}

// #download-p7s saves basvuru.p7s into the run's download directory (Firefox's own download, by prefs).
async function download(page, dir) {
	await page.locator('#download-p7s').click();
	const file = path.join(dir, 'basvuru.p7s');
	for (let i = 0; i < 100; i++) {
		const names = fs.readdirSync(dir);
		if (names.includes('basvuru.p7s') && !names.some((n) => n.endsWith('.part')) && fs.statSync(file).size > 0) {
			return file;
		}
		await sleep(100);
	}
	throw new Error('no basvuru.p7s in ' + dir + ' after 10 s: ' + JSON.stringify(fs.readdirSync(dir)));
}

async function permissionState(page) {
	return page.evaluate(async () => {
		try {
			return (await navigator.permissions.query({ name: 'loopback-network' })).state;
		} catch (e) {
			return 'unknown (' + e.name + ')';
		}
	});
}

/* ---------------------------------------------------------------- S: sign the declaration */

async function runSign() {
	const { browser, pid, downloads } = await launch('sign');
	note('Firefox ' + (await browser.version()) + ', pid ' + pid);
	const page = await newPage(browser);
	const f = new Flow('sign', page);
	let content = '';
	pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
	fs.writeFileSync(E.IMZA_PINENTRY_LOG, '');
	await f.check('Firefox opens the demo from its own origin ' + DEMO_ORIGIN + ' and goes through login, form, SMS ' +
		'code and E-İmzalı to the signing page', () => walk(walker(page), query(DEMO_URL)));
	await f.check('Firefox trusts imza\'s local CA from the profile: the page lists one certificate, the card\'s 9C ' +
		'one, marked Nitelikli; it is selected', async () => {
		const rows = await selectQualified(page);
		assert(rows.length === 1, 'want one row, got ' + JSON.stringify(rows));
	});
	await f.check('#signed-content is the declaration and the KEY:value lines of the form', async () => {
		content = await page.$eval('#signed-content', (e) => e.textContent);
		assert(content === EXPECTED_CONTENT, '#signed-content is\n' + content);
	});
	await f.check('İmzala reaches "Başvuru İmzalama İşlemi Başarıyla Bitirildi", signer ' + SIGNER, async () => {
		await signedOk(page);
		await screenshot(page, 'portal-firefox-success.png');
	});
	let p7s = '';
	await f.check('Firefox downloads basvuru.p7s through #download-p7s', async () => {
		p7s = await download(page, downloads);
	});
	await f.check('openssl cms -verify accepts basvuru.p7s against the test CA and outputs exactly #signed-content',
		() => verifyP7s(p7s, content));
	await f.check('imza asked consent once, naming ' + DEMO_ORIGIN + '; the PIN dialog showed the origin, ' + SIGNER +
		' and the declaration', () => {
		const log = pinentryLog();
		const consent = log.filter((l) => l.cmd === 'SETDESC' && !l.arg.includes('imzalamak istiyor'));
		assert(consent.length === 1 && consent[0].arg.includes(DEMO_ORIGIN), 'consent dialogs: ' + JSON.stringify(consent));
		const desc = log.filter((l) => l.cmd === 'SETDESC' && l.arg.includes('imzalamak istiyor'));
		assert(desc.length === 1, 'want one PIN dialog, got ' + JSON.stringify(log));
		const d = desc[0].arg;
		assert(d.startsWith(DEMO_ORIGIN + ' ') && d.includes(SIGNER), 'the PIN dialog said: ' + d);
		const quoted = d.split('\n').filter((l) => l.startsWith('\u2502 ')).map((l) => l.slice(2))
			.filter((l) => !/^\u27e8\d+ boş satır\u27e9$/.test(l));
		const norm = (t) => t.replace(/\s+/g, ' ').trim();
		assert(norm(quoted.join(' ')) === norm(content), 'the declaration is not in the PIN dialog in full: ' + d);
	});
	// Registered in the profile's pkcs11.txt, the module is loaded by Firefox's parent process at start
	// (its tokens then show in Settings → Security Devices). A sanitizer build's module is not in the
	// profile (FIREFOX_MODULE=absent, see portal-firefox.sh).
	const loaded = E.FIREFOX_MODULE !== 'absent';
	await f.check(loaded ? 'Firefox (pid ' + pid + ') loaded imza\'s module from the profile'
		: 'Firefox (pid ' + pid + ') runs without the sanitizer build\'s module: not mapped', () => {
		const want = fs.realpathSync(E.IMZA_MODULE);
		const maps = fs.readFileSync('/proc/' + pid + '/maps', 'utf8');
		assert(maps.includes(want) === loaded, want + (loaded ? ' is not' : ' is') + ' mapped in Firefox\'s parent process');
	});
	await close(browser);
}

/* ---------------------------------------------------------------- P: the administrator's way */

async function runPolicy() {
	const override = '127.0.0.1:' + DEMO_PORT;
	const { browser, downloads } = await launch('policy', {
		'network.lna.address_space.public.override': override,
		'network.lna.skip-domains': 'localhost',
	});
	const page = await newPage(browser);
	const f = new Flow('policy', page);
	pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
	await f.check('the demo made public (network.lna.address_space.public.override ' + override + ') with ' +
		'network.lna.skip-domains naming its host (what the LocalNetworkAccess policy\'s SkipDomains ' +
		'["localhost"] sets): the page lists the certificates without any permission', async () => {
		await walk(walker(page), query(PUBLIC_URL));
		await selectQualified(page);
		const st = await permissionState(page);
		assert(st === 'prompt', 'loopback-network is ' + st + ', not prompt: the grant did not come from the pref');
	});
	await f.check('it signs; the .p7s verifies', async () => {
		await signedOk(page);
		await screenshot(page, 'portal-firefox-lna-policy.png');
		verifyP7s(await download(page, downloads), await page.$eval('#result-content', (e) => e.textContent));
	});
	await close(browser);
}

/* ---------------------------------------------------------------- L: Firefox's Local Network Access */

async function runLocalNetwork() {
	const override = '127.0.0.1:' + DEMO_PORT;
	const { browser, downloads } = await launch('lna', {
		'network.lna.address_space.public.override': override,
		'network.lna.prompt.timeout': PROMPT_MS,
	});
	const page = await newPage(browser);
	const f = new Flow('lna', page);
	const context = browser.defaultBrowserContext();
	pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
	fs.writeFileSync(E.IMZA_PINENTRY_LOG, '');
	await f.check('with Firefox\'s defaults the public page\'s request to imza waits on the loopback-network ' +
		'prompt: it fails only when the prompt times out (network.lna.prompt.timeout ' + PROMPT_MS + ' ms), the ' +
		'permission still reads prompt', async () => {
		let t0 = 0;
		await walk(walker(page), query(PUBLIC_URL), async () => {
			const st = await permissionState(page);
			assert(st === 'prompt', 'loopback-network is ' + st + ' before any request');
		});
		t0 = Date.now();
		const r = await certificatesOrError(page);
		const waited = Date.now() - t0;
		assert(r.error, 'the certificates were listed without the permission: ' + JSON.stringify(r.rows));
		// The page's own host is loopback here, so imza.js cannot tell the block from a stopped imzad; on a
		// public host the same failure reads local_network_denied (tests/e2e/imza-js.test.mjs).
		assert(r.error.code === 'unreachable', 'got ' + JSON.stringify(r.error));
		assert(waited >= PROMPT_MS - 500, 'it failed after ' + waited + ' ms, before the prompt timed out');
		const st = await permissionState(page);
		assert(st === 'prompt', 'loopback-network is ' + st + ' after the timeout');
		note('the request was held ' + waited + ' ms; loopback-network reads ' + st);
		assert(pinentryLog().length === 0, 'imza showed a dialog while Firefox held the request');
	});
	await f.check('Block (permissions.setPermission loopback-network denied, as the prompt\'s Block stores it): ' +
		'Tekrar Dene fails at once, #error data-code local_network_denied with imza.js\'s explanation for Firefox', async () => {
		await context.setPermission(PUBLIC_ORIGIN, { permission: { name: 'loopback-network' }, state: 'denied' });
		const st = await permissionState(page);
		assert(st === 'denied', 'loopback-network is ' + st);
		const t0 = Date.now();
		await page.locator('#error-retry').click();
		const r = await certificatesOrError(page);
		assert(r.error && r.error.code === 'local_network_denied', 'got ' + JSON.stringify(r));
		const tr = await page.evaluate(() => window.imza.messages.local_network_denied_firefox.tr);
		assert(r.error.message.includes(tr), 'the explanation is not imza.js\'s for Firefox: ' + r.error.message);
		note('denied in ' + (Date.now() - t0) + ' ms');
		await screenshot(page, 'portal-firefox-lna-denied.png');
	});
	await f.check('Allow (loopback-network granted): Tekrar Dene lists the certificates, İmzala signs, the .p7s ' +
		'verifies', async () => {
		await context.setPermission(PUBLIC_ORIGIN, { permission: { name: 'loopback-network' }, state: 'granted' });
		const st = await permissionState(page);
		assert(st === 'granted', 'loopback-network is ' + st);
		await page.locator('#error-retry').click();
		await selectQualified(page);
		await signedOk(page);
		await screenshot(page, 'portal-firefox-lna-allowed.png');
		const content = await page.$eval('#result-content', (e) => e.textContent);
		assert(content === EXPECTED_CONTENT, 'another declaration was signed');
		verifyP7s(await download(page, downloads), content);
	});
	await close(browser);
}

/* ---------------------------------------------------------------- main */

fs.mkdirSync(ART, { recursive: true });
const started = Date.now();
const lap = (what, since) => note(what + ': ' + ((Date.now() - since) / 1000).toFixed(1) + ' s');
let crashed = false;
try {
	for (const [name, run] of [['sign', runSign], ['policy', runPolicy], ['local network access', runLocalNetwork]]) {
		const t = Date.now();
		await run();
		lap(name, t);
	}
} catch (e) {
	crashed = true;
	notOk('portal-firefox.mjs ran its flows without an exception', e);
} finally {
	for (const b of launched.slice()) {
		await close(b);
	}
	pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
}
lap('all', started);
process.exitCode = crashed ? 1 : 0;
