/* SPDX-License-Identifier: LGPL-2.1-or-later */
// The demo portal's default path in Chromium: the page names no certificate, the user chooses it in
// imza-prompt's window (driven by tests/e2e/portal-choose.sh under Xvfb while this script waits).
//
// Prints "ok - ..." / "not ok - ..." lines (why a check failed goes to stderr). Every request the page
// sends is recorded in the browser: the page never asks GET /v1/certificates, and its POST /v1/sign body
// has no "certificate". When the page has clicked İmzala, the file PORTAL_WORK/signing appears (the
// shell then drives the window); the signature that comes back is saved as PORTAL_WORK/basvuru.p7s and
// the answer's certificate as PORTAL_WORK/answer-cert.der, for the shell to compare with the one chosen.
// Environment: DEMO_URL, IMZA_HTTPS_URL, IMZA_TEST_CA, PORTAL_ARTIFACTS, PORTAL_WORK, CHROMIUM.
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assert, notOk, ok } from './tap.mjs';
import { EXPECTED_CONTENT, walkToSigning } from './portal-walk.mjs';

const E = process.env;
const missing = ['DEMO_URL', 'IMZA_HTTPS_URL', 'IMZA_TEST_CA', 'PORTAL_ARTIFACTS', 'PORTAL_WORK']
	.filter((k) => !E[k]);
if (missing.length) {
	console.log('not ok - portal-choose.mjs has its environment (missing ' + missing.join(', ') + ')');
	process.exit(1);
}
// No sertifika=sayfa: the demo's default, the certificate chosen in imza's window.
const PAGE_URL = E.DEMO_URL + '?captcha=ABCDE&imza=' + encodeURIComponent(E.IMZA_HTTPS_URL);
const WORK = E.PORTAL_WORK;
const SIGNER = E.PORTAL_SIGNER || 'AHMET YILMAZ'; // the qualified certificate's holder, whom the user chooses
const SIGN_MS = 120000; // the user (the shell) chooses, types the PIN and signs


let broken = null;
async function check(name, fn) {
	if (broken) {
		notOk(name, 'not reached: "' + broken + '" failed before it');
		return;
	}
	try {
		await fn();
		ok(name);
	} catch (e) {
		broken = name;
		notOk(name, e);
	}
}

const browser = await chromium.launch({ executablePath: E.CHROMIUM || '/usr/bin/chromium', headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
		'--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-sync',
		'--disable-component-update', '--password-store=basic'], timeout: 30000 });
const requests = [];
try {
	const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'tr-TR',
		acceptDownloads: true });
	const page = await context.newPage();
	page.setDefaultTimeout(15000);
	page.on('pageerror', (e) => console.error('## page error: ' + e.message));
	// Every request the page makes to imza, as the browser sends it.
	page.on('request', (r) => {
		if (r.url().startsWith(E.IMZA_HTTPS_URL)) {
			requests.push({ method: r.method(), path: new URL(r.url()).pathname, body: r.postData() });
		}
	});

	await check('Chromium walks the demo (' + PAGE_URL.split('?')[0] + ') to the signing page, which lists no ' +
		'certificates: it says the certificate is chosen in imza\'s window', async () => {
		await walkToSigning(page, PAGE_URL);
		assert(await page.isVisible('#cert-choose-window'), '#cert-choose-window is not shown');
		assert(await page.isHidden('#cert-choose-page'), 'the page\'s certificate list is shown');
		await page.waitForFunction(() => /çalışıyor/.test(document.getElementById('imza-status').textContent));
		assert((await page.textContent('#signed-content')) === EXPECTED_CONTENT, 'another #signed-content');
	});
	await check('İmzala: the user chooses in imza-prompt and signs; the page reaches "Başvuru İmzalama İşlemi ' +
		'Başarıyla Bitirildi" with the chosen signer ' + SIGNER, async () => {
		const answer = page.waitForResponse((r) => r.url().endsWith('/v1/sign'), { timeout: SIGN_MS });
		await page.click('#sign-btn');
		fs.writeFileSync(path.join(WORK, 'signing'), '');
		const res = await answer;
		const body = await res.json();
		if (body.certificate) {
			fs.writeFileSync(path.join(WORK, 'answer-cert.der'), Buffer.from(body.certificate, 'base64'));
		}
		await page.waitForFunction(() => !document.getElementById('step-result').hidden ||
			!document.getElementById('error').hidden);
		assert(await page.isHidden('#error'), 'the page shows an error: ' + (await page.textContent('#error-message')));
		const msg = ((await page.textContent('#result-message')) || '').trim();
		assert(msg.startsWith('Başvuru İmzalama İşlemi Başarıyla Bitirildi'), 'result message "' + msg + '"');
		const signer = ((await page.textContent('#result-signer')) || '').trim();
		assert(signer === SIGNER, 'the signer shown is "' + signer + '" (read from the answer\'s certificate)');
		await page.screenshot({ path: path.join(E.PORTAL_ARTIFACTS, E.PORTAL_SHOT || 'portal-choose-success.png'), fullPage: true });
	});
	await check('basvuru.p7s downloads and openssl cms -verify accepts it for exactly #signed-content', async () => {
		const file = path.join(WORK, 'basvuru.p7s');
		const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-p7s')]);
		await dl.saveAs(file);
		const r = spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', E.IMZA_TEST_CA,
			'-purpose', 'any'], { timeout: 30000 });
		assert(r.status === 0, 'openssl cms -verify: ' + r.stderr);
		assert(r.stdout.equals(Buffer.from(EXPECTED_CONTENT, 'utf8')), 'the signed content is not #signed-content');
	});
	await check('the page asked imza for GET /v1/info and POST /v1/sign only, never GET /v1/certificates', () => {
		const seen = requests.map((r) => r.method + ' ' + r.path);
		console.log('# requests to imza: ' + seen.join(', '));
		assert(!seen.some((s) => s.includes('/v1/certificates')), 'the page listed certificates: ' + seen);
		assert(seen.filter((s) => s === 'POST /v1/sign').length === 1, 'want one POST /v1/sign: ' + seen);
		assert(seen.every((s) => s === 'GET /v1/info' || s === 'POST /v1/sign'), 'other requests: ' + seen);
	});
	await check('the /v1/sign body the browser sent names no certificate', () => {
		const body = JSON.parse(requests.find((r) => r.path === '/v1/sign').body);
		assert(!('certificate' in body), 'the body has "certificate": ' + JSON.stringify(body));
		assert(body.text === EXPECTED_CONTENT, 'the body\'s text is not #signed-content');
	});
	await context.close();
} catch (e) {
	notOk('portal-choose.mjs ran without an exception', e);
	process.exitCode = 1;
} finally {
	await browser.close().catch(() => {});
}
