/* SPDX-License-Identifier: LGPL-2.1-or-later */
// The acceptance test of the signing issue: headless Chromium walks the demo portal against the real
// imzad (its HTTPS endpoint, the test pinentry, the virtual card) and signs the declaration.
//
// Run by tests/e2e/portal.sh, which starts the stack and the demo server and makes Chromium trust imza's
// local CA; this file prints "ok - ..." / "not ok - ..." lines (why a check failed goes to stderr) and
// keeps screenshots in PORTAL_ARTIFACTS. Three browser runs:
//   A. the demo on http://127.0.0.1:PORT: login, form, SMS, E-İmzalı, the qualified certificate, İmzala,
//      the result and basvuru.p7s, which openssl verifies; what the pinentry showed.
//   E. again, to the error screens: the PIN dialog cancelled, a wrong PIN; then the right PIN signs.
//   L. the demo's address made public (--ip-address-space-overrides): Local Network Access blocks the
//      page until loopbackNetwork is granted over CDP; then it signs as in A.
// Environment (from portal.sh and the stack's env): DEMO_URL, IMZA_HTTPS_URL, IMZA_TEST_CA, IMZA_CARD_DIR,
// IMZA_PINENTRY_SCRIPT, IMZA_PINENTRY_LOG, IMZA_PIN, IMZA_SOCKET, IMZA_CTL, PORTAL_ARTIFACTS, PORTAL_WORK;
// CHROMIUM (default /usr/bin/chromium). Node 18 or later.
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openssl, pinentryLog, pinentryScript, verifyP7s } from './stack.mjs';
import { assert, note, notOk, ok, reporter } from './tap.mjs';
import { EXPECTED_CONTENT, walkToSigning as walk } from './portal-walk.mjs';

const NEED = ['DEMO_URL', 'IMZA_HTTPS_URL', 'IMZA_TEST_CA', 'IMZA_CARD_DIR', 'IMZA_PINENTRY_SCRIPT',
	'IMZA_PINENTRY_LOG', 'IMZA_PIN', 'IMZA_SOCKET', 'IMZA_CTL', 'PORTAL_ARTIFACTS', 'PORTAL_WORK'];
const missing = NEED.filter((k) => !process.env[k]);
if (missing.length) {
	console.log('not ok - portal.mjs has its environment (missing ' + missing.join(', ') + ')');
	process.exit(1);
}
const E = process.env;
const DEMO_URL = E.DEMO_URL;
const DEMO_ORIGIN = new URL(DEMO_URL).origin; // http://127.0.0.1:PORT
const DEMO_PORT = new URL(DEMO_URL).port;
// sertifika=sayfa: this test walks the list-then-sign path (GET /v1/certificates, then the id); the
// demo's default names no certificate (tests/e2e/portal-choose.sh).
const PAGE_URL = DEMO_URL + '?captcha=ABCDE&sertifika=sayfa&imza=' + encodeURIComponent(E.IMZA_HTTPS_URL);
const walkToSigning = (page, onReady) => walk(page, PAGE_URL, onReady);
const ART = E.PORTAL_ARTIFACTS;
const WORK = E.PORTAL_WORK;
const SIGNER = 'AHMET YILMAZ'; // the virtual card's holder
const STEP_MS = 15000;
const SIGN_MS = 45000; // the PIN dialog and the card under ASan

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
	'--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-sync',
	'--disable-component-update', '--password-store=basic'];

// The card's qualified certificate (slot 9C): imza's id for it is the SHA-256 of its DER.
const QUALIFIED_ID = crypto.createHash('sha256').update(fs.readFileSync(path.join(E.IMZA_CARD_DIR, '9c.crt.der')))
	.digest('hex');

/* ---------------------------------------------------------------- reporting */

const { screenshot, Flow } = reporter(ART, 'portal', { timeout: 10000 });

/* ---------------------------------------------------------------- the stack's side */

// The card's own PIN counter, from the virtual card's state file: imzad's count (imzactl status) is only
// what imzad believes.
function pinTries() {
	const state = fs.readFileSync(path.join(E.IMZA_CARD_DIR, 'state'), 'utf8');
	const m = /^pin_tries=(\d+)$/m.exec(state);
	if (!m) {
		throw new Error('the card\'s state file has no pin_tries: ' + state);
	}
	return Number(m[1]);
}

/* ---------------------------------------------------------------- the portal */

async function newPage(browser) {
	const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'tr-TR',
		acceptDownloads: true });
	const page = await context.newPage();
	page.setDefaultTimeout(STEP_MS);
	page.on('pageerror', (e) => console.error('## page error: ' + e.message));
	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warning') {
			console.error('## console ' + m.type() + ': ' + m.text());
		}
	});
	return { context, page };
}

// Waits for the certificate list, or for the error the page shows instead.
async function certificatesOrError(page) {
	await page.waitForFunction(() => document.querySelector('#cert-list .cert-row') !== null ||
		!document.getElementById('error').hidden);
	if (!(await page.isHidden('#error'))) {
		return { error: await errorShown(page) };
	}
	const rows = await page.$$eval('#cert-list .cert-row', (rs) => rs.map((r) => ({
		id: r.id, certId: r.getAttribute('data-cert-id'), name: r.querySelector('.cert-name').textContent,
		tags: Array.from(r.querySelectorAll('.tag')).map((t) => t.textContent),
		radio: r.querySelector('input[type=radio]').id,
		checked: r.querySelector('input[type=radio]').checked,
		disabled: r.querySelector('input[type=radio]').disabled })));
	return { rows };
}

async function errorShown(page) {
	return {
		code: await page.getAttribute('#error', 'data-code'),
		message: ((await page.textContent('#error-message')) || '').trim(),
	};
}

// The certificates are listed, exactly one is "Nitelikli" (the card's 9C one); select it.
async function selectQualified(page) {
	const r = await certificatesOrError(page);
	assert(!r.error, 'the signing page shows an error instead of the certificates: ' + JSON.stringify(r.error));
	const q = r.rows.filter((x) => x.tags.includes('Nitelikli'));
	assert(q.length === 1, 'want one row marked Nitelikli, got ' + JSON.stringify(r.rows));
	assert(q[0].certId === QUALIFIED_ID, 'the Nitelikli row is ' + q[0].certId + ', not the card\'s 9C ' + QUALIFIED_ID);
	assert(!q[0].disabled, 'the qualified certificate cannot be chosen: ' + JSON.stringify(q[0]));
	await page.check('#' + q[0].radio);
	const sel = ((await page.textContent('#cert-selected')) || '').trim();
	assert(sel.endsWith('(Nitelikli)'), '#cert-selected says "' + sel + '"');
	return r.rows;
}

// İmzala, then the result or the error screen, whichever comes.
async function sign(page) {
	await page.click('#sign-btn');
	await page.waitForFunction(() => !document.getElementById('step-result').hidden ||
		!document.getElementById('error').hidden, null, { timeout: SIGN_MS });
	if (!(await page.isHidden('#error'))) {
		return { error: await errorShown(page) };
	}
	return { result: ((await page.textContent('#result-message')) || '').trim(),
		signer: ((await page.textContent('#result-signer')) || '').trim() };
}

async function signedOk(page) {
	const r = await sign(page);
	assert(!r.error, 'the page shows an error: ' + JSON.stringify(r.error));
	assert(r.result.startsWith('Başvuru İmzalama İşlemi Başarıyla Bitirildi'), 'result message "' + r.result + '"');
	assert(r.signer === SIGNER, 'the signer shown is "' + r.signer + '"');
}

async function download(page, file) {
	const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-p7s')]);
	await dl.saveAs(file);
	assert(dl.suggestedFilename() === 'basvuru.p7s', 'the download is named ' + dl.suggestedFilename());
	assert(fs.statSync(file).size > 0, 'empty download');
}

const launch = (extra) => chromium.launch({ executablePath: E.CHROMIUM || '/usr/bin/chromium', headless: true,
	args: LAUNCH_ARGS.concat(extra || []), timeout: 30000 });

/* ---------------------------------------------------------------- A: sign the declaration */

async function flowSign(browser) {
	const { context, page } = await newPage(browser);
	const f = new Flow('sign', page);
	let content = '';
	pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
	fs.writeFileSync(E.IMZA_PINENTRY_LOG, '');

	await f.check('Chromium opens the demo from its own origin ' + DEMO_ORIGIN + ' and goes through login, form, ' +
		'SMS code and E-İmzalı to the signing page', () => walkToSigning(page));
	await f.check('Chromium trusts imza\'s local CA (imzactl trust): the page lists imzad\'s certificates, the ' +
		'card\'s 9C one marked Nitelikli; it is selected', async () => {
		const rows = await selectQualified(page);
		note('certificates: ' + rows.map((r) => r.name + ' [' + r.tags.join(', ') + ']').join('; '));
		// Only a certificate for signatures is listed: not the card's authentication (9A), key
		// management (9D) or card authentication (9E) ones, which a page may not sign with.
		assert(rows.length === 1 && rows[0].certId === QUALIFIED_ID,
			'want one row, the card\'s qualified 9C certificate; got ' + JSON.stringify(rows));
	});
	await f.check('#signed-content is the declaration and the KEY:value lines of the form', async () => {
		content = await page.textContent('#signed-content');
		assert(content === EXPECTED_CONTENT, '#signed-content is\n' + content + '\nnot\n' + EXPECTED_CONTENT);
	});
	await f.check('İmzala reaches the success screen: "Başvuru İmzalama İşlemi Başarıyla Bitirildi", signer ' +
		SIGNER, async () => {
		await signedOk(page);
		await screenshot(page, 'portal-success.png');
	});
	const p7s = path.join(WORK, 'basvuru.p7s');
	await f.check('basvuru.p7s downloads through #download-p7s', async () => {
		await download(page, p7s);
		const shown = await page.textContent('#result-content');
		assert(shown === content, '#result-content differs from #signed-content');
	});
	await f.check('openssl cms -verify accepts basvuru.p7s and outputs exactly #signed-content (UTF-8 bytes)',
		() => verifyP7s(p7s, content));
	await f.check('its signed attributes: signingCertificateV2, signingTime, contentType, messageDigest', () => {
		const r = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', p7s]);
		const out = r.stdout.toString();
		assert(r.status === 0, 'openssl cms -cmsout -print: exit ' + r.status + ' ' + r.stderr.toString());
		const want = [['signingCertificateV2', 'id-aa-signingCertificateV2'], ['signingTime'], ['contentType'],
			['messageDigest']];
		const lacking = want.filter((names) => !names.some((n) => out.includes(n))).map((n) => n[0]);
		assert(!lacking.length, 'no ' + lacking.join(', ') + ' in\n' + out);
	});
	await f.check('the first visit asked imza\'s consent, naming ' + DEMO_ORIGIN, () => {
		const log = pinentryLog();
		const consent = log.filter((l) => l.cmd === 'SETDESC' && !l.arg.includes('imzalamak istiyor'));
		assert(consent.some((l) => l.arg.includes(DEMO_ORIGIN)), 'no consent dialog for the origin in ' +
			JSON.stringify(log));
	});
	// Check 2: what the user was shown when asked for the PIN.
	const f2 = new Flow('pinentry', null);
	await f2.check('the PIN dialog (SETDESC) showed the origin ' + DEMO_ORIGIN + ', the signer ' + SIGNER +
		' and the declaration text', () => {
		assert(content, 'no signed content (the flow broke before it)');
		const log = pinentryLog();
		const desc = log.filter((l) => l.cmd === 'SETDESC' && l.arg.includes('imzalamak istiyor'));
		assert(desc.length === 1, 'want one PIN dialog, got ' + desc.length + ': ' + JSON.stringify(log));
		const d = desc[0].arg;
		assert(d.startsWith(DEMO_ORIGIN + ' '), 'the description does not start with the origin: ' + d);
		assert(d.includes(SIGNER), 'no ' + SIGNER + ' in: ' + d);
		// The page's text comes after imzad's own lines, each of its lines quoted with "│ " (long ones
		// wrapped at a space, a run of blank lines as one count); with the quoting undone it is whole.
		const quoted = d.split('\n').filter((l) => l.startsWith('\u2502 ')).map((l) => l.slice(2))
			.filter((l) => !/^\u27e8\d+ boş satır\u27e9$/.test(l));
		const norm = (t) => t.replace(/\s+/g, ' ').trim();
		assert(norm(quoted.join(' ')) === norm(content), 'the declaration is not in the description in full: ' + d);
		assert(d.indexOf(SIGNER) < d.indexOf('\n\u2502 '), 'a quoted line comes before the signer: ' + d);
		const sum = crypto.createHash('sha256').update(content, 'utf8').digest('hex');
		assert(d.includes('\nBelge: ' + Buffer.byteLength(content, 'utf8') + ' bayt, SHA-256: ' + sum),
			'no size and SHA-256 line for the declaration in: ' + d);
		assert(!d.includes('Kısaltıldı'), 'the declaration was shortened: ' + d);
		assert(log.some((l) => l.pid === desc[0].pid && l.cmd === 'GETPIN'), 'no GETPIN after it');
	});
	await context.close();
}

/* ---------------------------------------------------------------- E: the error screens */

async function flowErrors(browser) {
	const { context, page } = await newPage(browser);
	const f = new Flow('errors', page);
	let t0 = 0;
	pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
	await f.check('a second visit reaches the signing page and selects the qualified certificate', async () => {
		await walkToSigning(page);
		await selectQualified(page);
		t0 = pinTries();
		note('PIN tries left before: ' + t0);
	});
	await f.check('the PIN dialog cancelled (pin cancel): #error data-code user_cancelled, "İmzalama işlemi iptal ' +
		'edildi."', async () => {
		pinentryScript('consent always', 'pin cancel');
		const r = await sign(page);
		assert(r.error && r.error.code === 'user_cancelled', 'got ' + JSON.stringify(r));
		assert(r.error.message === 'İmzalama işlemi iptal edildi.', 'message "' + r.error.message + '"');
	});
	await f.check('a wrong PIN (pin 00000000): #error data-code pin_incorrect with the tries left, one less on the ' +
		'card', async () => {
		pinentryScript('consent always', 'pin 00000000');
		const r = await sign(page);
		assert(r.error && r.error.code === 'pin_incorrect', 'got ' + JSON.stringify(r));
		const want = 'PIN kodu hatalı. Kalan deneme hakkınız: ' + (t0 - 1) + '.';
		assert(r.error.message === want, 'message "' + r.error.message + '", want "' + want + '"');
		const t = pinTries();
		assert(t === t0 - 1, 'the card has ' + t + ' tries left, want ' + (t0 - 1));
		await screenshot(page, 'portal-pin-incorrect.png');
	});
	await f.check('the right PIN again signs and the card\'s PIN counter is back to ' + (t0 || 'full'), async () => {
		pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
		await signedOk(page);
		const t = pinTries();
		assert(t === t0, 'the card has ' + t + ' tries left, want ' + t0);
	});
	await context.close();
}

/* ---------------------------------------------------------------- L: Local Network Access */

async function permissionStates(page) {
	return page.evaluate(async () => {
		const out = {};
		for (const name of ['loopback-network', 'local-network-access', 'local-network']) {
			try {
				out[name] = (await navigator.permissions.query({ name })).state;
			} catch (e) {
				out[name] = 'unknown (' + e.name + ')';
			}
		}
		return out;
	});
}

async function flowLocalNetwork() {
	const override = '--ip-address-space-overrides=127.0.0.1:' + DEMO_PORT + '=public';
	const browser = await launch([override]);
	try {
		const { page } = await newPage(browser);
		const f = new Flow('lna', page);
		const lnaMessages = [];
		page.on('console', (m) => {
			if (/local network|loopback|address space/i.test(m.text())) {
				lnaMessages.push(m.type() + ': ' + m.text());
			}
		});
		pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
		fs.writeFileSync(E.IMZA_PINENTRY_LOG, '');
		await f.check('the demo made public (' + override + '), without the permission: #error data-code ' +
			'local_network_denied with imza.js\'s explanation', async () => {
			await walkToSigning(page, async () => note('Local Network Access permission states before any request: ' +
				JSON.stringify(await permissionStates(page))));
			const r = await certificatesOrError(page);
			assert(r.error, 'the certificates were listed without the permission: ' + JSON.stringify(r.rows));
			assert(r.error.code === 'local_network_denied', 'got ' + JSON.stringify(r.error));
			const tr = await page.evaluate(() => window.imza.messages.local_network_denied.tr);
			assert(r.error.message.includes(tr), 'the explanation is not imza.js\'s: ' + r.error.message);
			assert(!(await page.isHidden('#error-retry')), 'no Tekrar Dene button');
			note('after the blocked request: ' + JSON.stringify(await permissionStates(page)));
			for (const m of lnaMessages) {
				note('console ' + m);
			}
			assert(pinentryLog().length === 0, 'a dialog was shown while the browser blocked the page');
			await screenshot(page, 'portal-lna-denied.png');
		});
		await f.check('Browser.grantPermissions loopbackNetwork for ' + DEMO_ORIGIN + ' in the page\'s browser ' +
			'context: the page sees loopback-network granted', async () => {
			// The context's id: Target.getTargetInfo in the page's own CDP session; it must be one of
			// Target.getBrowserContexts' ids (not the default context).
			const pageCdp = await page.context().newCDPSession(page);
			const { targetInfo } = await pageCdp.send('Target.getTargetInfo');
			const cdp = await browser.newBrowserCDPSession();
			const { browserContextIds } = await cdp.send('Target.getBrowserContexts');
			const browserContextId = targetInfo.browserContextId;
			assert(browserContextIds.includes(browserContextId), 'context ' + browserContextId + ' not in ' +
				JSON.stringify(browserContextIds));
			note('browserContextId ' + browserContextId + ' (Target.getTargetInfo of the page)');
			await cdp.send('Browser.grantPermissions', { permissions: ['loopbackNetwork'], origin: DEMO_ORIGIN,
				browserContextId });
			const st = await permissionStates(page);
			note('after the grant: ' + JSON.stringify(st));
			assert(st['loopback-network'] === 'granted', 'loopback-network is ' + st['loopback-network']);
		});
		await f.check('then Tekrar Dene lists the certificates and İmzala reaches the success screen', async () => {
			await page.click('#error-retry');
			await selectQualified(page);
			await signedOk(page);
			await screenshot(page, 'portal-lna-success.png');
		});
		const p7s = path.join(WORK, 'basvuru-lna.p7s');
		await f.check('its basvuru.p7s verifies and holds exactly #signed-content', async () => {
			await download(page, p7s);
			verifyP7s(p7s, await page.textContent('#result-content'));
			assert((await page.textContent('#result-content')) === EXPECTED_CONTENT, 'another declaration was signed');
		});
	} finally {
		await browser.close();
	}
}

/* ---------------------------------------------------------------- main */

fs.mkdirSync(ART, { recursive: true });
const started = Date.now();
let crashed = false;
const lap = (what, since) => note(what + ': ' + ((Date.now() - since) / 1000).toFixed(1) + ' s');
let browser = null;
try {
	browser = await launch();
	note('Chromium ' + browser.version());
	let t = Date.now();
	await flowSign(browser);
	lap('sign flow', t);
	t = Date.now();
	await flowErrors(browser);
	lap('error screens', t);
	await browser.close();
	browser = null;
	t = Date.now();
	await flowLocalNetwork();
	lap('local network access', t);
} catch (e) {
	crashed = true;
	notOk('portal.mjs ran its flows without an exception', e);
} finally {
	if (browser) {
		await browser.close().catch(() => {});
	}
	pinentryScript('consent always', 'pin ' + E.IMZA_PIN);
}
lap('all', started);
// Failed checks are reported above; a non-zero status says the flows did not run to their end.
process.exitCode = crashed ? 1 : 0;
