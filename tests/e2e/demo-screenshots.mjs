/* SPDX-License-Identifier: LGPL-2.1-or-later */
// Walks the demo portal in headless Chromium (playwright-core) and takes a screenshot of each step.
//
//   cd tests/e2e && npm ci && node demo-screenshots.mjs [OUTDIR]
//
// Two passes, neither needs imzad:
//  1. "absent": imza.js points at a closed loopback port, so the signing page shows "imza çalışmıyor".
//  2. "stub":   the endpoint is answered by page.route() with canned JSON (two certificates, one absent,
//               and a fake signature), to show the certificate list, the details and the result page.
// Environment: CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, '..', '..');
const out = path.resolve(process.argv[2] || path.join(process.env.TMPDIR || '/tmp', 'imza-demo-shots'));
fs.mkdirSync(out, { recursive: true });

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

function startServer() {
	return new Promise((resolve, reject) => {
		const child = spawn(path.join(top, 'web', 'demo-server'), ['--port', '0', '--quiet'], {
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		child.on('error', reject);
		readline.createInterface({ input: child.stdout }).once('line', (url) => resolve({ child, url }));
	});
}

const LOGIN = { tc: '10000000146', ad: 'Ayşe', soyad: 'Yılmaz', 'dogum-yeri': 'Bingöl', 'dogum-tarihi': '17.05.1980', sicil: '123456' };

async function shot(page, name) {
	await page.screenshot({ path: path.join(out, name + '.png'), fullPage: true });
	console.log('  ' + name + '.png');
}

async function fillForm(page) {
	await page.selectOption('#basvuru-nedeni', 'Yenileme');
	await page.fill('#guvenlik', 'kırmızı elma');
	await page.fill('#guvenlik-tekrar', 'kırmızı elma');
	await page.fill('#birim', 'Bilgi İşlem Şubesi');
	await page.fill('#unvan', 'Öğretmen');
	await page.fill('#adres', 'Genç Osman Mah. Atatürk Cad. No:12');
	await page.selectOption('#il', 'Bingöl');
	await page.selectOption('#ilce', 'Merkez');
	await page.fill('#posta-kodu', '12000');
	await page.fill('#eposta', 'ayse.yilmaz@meb.gov.tr');
	await page.fill('#is-tel', '4262131234');
	await page.fill('#dahili', '101');
	await page.fill('#cep-tel', '5321234567');
	await page.selectOption('#operator', 'Turkcell');
}

async function walk(page, url, pass, stub) {
	console.log(pass + ':');
	await page.goto(url);
	await page.waitForSelector('body[data-ready="1"]');
	if (pass === 'absent') {
		await shot(page, '01-login');
		await page.click('#login-btn');
		await shot(page, '02-login-errors');
	}
	for (const [id, v] of Object.entries(LOGIN)) {
		await page.fill('#' + id, v);
	}
	await page.fill('#captcha-input', 'ABCDE');
	await page.click('#login-btn');
	await page.waitForSelector('#step-form:not([hidden])');
	if (pass === 'absent') {
		await shot(page, '03-form');
		await page.fill('#guvenlik', 'bir');
		await page.fill('#guvenlik-tekrar', 'iki');
		await page.fill('#posta-kodu', '123');
		await page.click('#form-onayla-btn');
		await shot(page, '04-form-errors');
		await page.fill('#posta-kodu', '');
	}
	await fillForm(page);
	if (pass === 'absent') {
		await shot(page, '05-form-filled');
	}
	await page.click('#form-onayla-btn');
	await page.waitForSelector('#step-sms-send:not([hidden])');
	if (pass === 'absent') {
		await shot(page, '06-sms-send');
	}
	await page.click('#sms-send-btn');
	const code = (await page.textContent('#sms-code-shown')).trim();
	if (pass === 'absent') {
		await page.fill('#sms-code', '000000');
		await page.click('#sms-ok-btn');
		await shot(page, '07-sms-code');
	}
	await page.fill('#sms-code', code);
	await page.click('#sms-ok-btn');
	await page.waitForSelector('#step-method:not([hidden])');
	if (pass === 'absent') {
		await shot(page, '08-method');
		await page.click('#method-islak');
		await shot(page, '09-islak');
		await page.click('#islak-back');
	}
	await page.click('#method-eimza');
	await page.waitForSelector('#step-sign:not([hidden])');
	if (pass === 'absent') {
		await page.waitForSelector('#error:not([hidden])');
		const c = await page.getAttribute('#error', 'data-code');
		console.log('  #error data-code=' + c);
		await shot(page, '10-sign-unreachable');
		return;
	}
	await page.waitForSelector('#cert-radio-0');
	await shot(page, '11-sign-certs');
	await page.click('#cert-view-0');
	await page.waitForSelector('#cert-details[open]');
	await shot(page, '12-cert-details');
	await page.click('#cert-details-close');
	stub.next = 'pin_incorrect';
	await page.click('#sign-btn');
	await page.waitForSelector('#error:not([hidden])');
	await shot(page, '13-sign-pin-incorrect');
	stub.next = 'card_absent';
	await page.click('#sign-btn');
	await page.waitForSelector('#error[data-code="card_absent"]');
	await shot(page, '14-sign-card-absent');
	stub.next = 'ok';
	await page.click('#sign-btn');
	await page.waitForSelector('#step-result:not([hidden])');
	await shot(page, '15-result');
	const href = await page.getAttribute('#download-p7s', 'href');
	const dl = await page.getAttribute('#download-p7s', 'download');
	console.log('  #download-p7s href=' + href.slice(0, 5) + '… download=' + dl);
	console.log('  signed text:\n' + stub.lastText.replace(/^/gm, '    | '));
}

function stubRoutes(context, endpoint, stub) {
	const cors = (origin) => ({ 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Content-Type': 'application/json' });
	const certs = [
		{ id: 'c'.repeat(64), label: 'Certificate for Digital Signature', subject: 'CN=AYŞE YILMAZ,SERIALNUMBER=10000000146,C=TR',
			common_name: 'AYŞE YILMAZ', issuer: 'CN=imza Test NES CA,O=imza,C=TR', serial: '4f1a22c9',
			not_before: '2025-06-01T00:00:00Z', not_after: '2028-06-01T00:00:00Z', key_type: 'RSA', key_bits: 2048,
			key_usage: ['nonRepudiation'], qualified: true, reader: 'Virtual PCD 00 00', present: true, certificate: 'MAA=' },
		{ id: 'd'.repeat(64), label: 'Certificate for PIV Authentication', subject: 'CN=AYŞE YILMAZ (eski kart),C=TR',
			common_name: 'AYŞE YILMAZ (eski kart)', issuer: 'CN=imza Test CA,C=TR', serial: '01',
			not_before: '2024-01-01T00:00:00Z', not_after: '2027-01-01T00:00:00Z', key_type: 'EC', key_bits: 256,
			key_usage: ['digitalSignature'], qualified: false, reader: null, present: false, certificate: 'MAA=' },
	];
	return context.route(endpoint + '/**', async (route) => {
		const req = route.request();
		const origin = req.headers().origin || 'null';
		const p = new URL(req.url()).pathname;
		if (p === '/v1/info') {
			return route.fulfill({ status: 200, headers: cors(origin), body: JSON.stringify({ name: 'imza', version: '0.1.0', api: 1, granted: true }) });
		}
		if (p === '/v1/certificates') {
			return route.fulfill({ status: 200, headers: cors(origin), body: JSON.stringify({ certificates: certs }) });
		}
		if (p === '/v1/sign') {
			const ct = req.headers()['content-type'] || '';
			const body = JSON.parse(req.postData());
			stub.lastText = body.text;
			if (!/^text\/plain/.test(ct)) {
				throw new Error('sign request with Content-Type ' + ct);
			}
			if (stub.next === 'pin_incorrect') {
				return route.fulfill({ status: 403, headers: cors(origin), body: JSON.stringify({ error: 'pin_incorrect', message: 'wrong PIN', tries_left: 2 }) });
			}
			if (stub.next === 'card_absent') {
				return route.fulfill({ status: 409, headers: cors(origin), body: JSON.stringify({ error: 'card_absent', message: 'no card' }) });
			}
			return route.fulfill({ status: 200, headers: cors(origin), body: JSON.stringify({ signature: Buffer.from('fake CMS for the screenshot').toString('base64'), format: 'cades-bes', detached: false, certificate: 'MAA=' }) });
		}
		return route.fulfill({ status: 404, headers: cors(origin), body: JSON.stringify({ error: 'not_found', message: 'no route' }) });
	});
}

const { child, url } = await startServer();
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--headless=new'],
});
try {
	const closed = 'https://127.0.0.1:' + (await freePort());
	const page1 = await browser.newPage({ viewport: { width: 1100, height: 900 }, locale: 'tr-TR' });
	page1.on('pageerror', (e) => console.log('  PAGE ERROR: ' + e.message));
	await walk(page1, url + '?captcha=ABCDE&imza=' + encodeURIComponent(closed), 'absent');
	await page1.close();

	const stubUrl = 'https://127.0.0.1:' + (await freePort());
	const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'tr-TR' });
	const stub = { next: 'ok', lastText: '' };
	await stubRoutes(context, stubUrl, stub);
	const page2 = await context.newPage();
	page2.on('pageerror', (e) => console.log('  PAGE ERROR: ' + e.message));
	await walk(page2, url + '?captcha=ABCDE&imza=' + encodeURIComponent(stubUrl), 'stub', stub);
	await context.close();
	console.log('screenshots in ' + out);
} finally {
	await browser.close();
	child.kill('SIGTERM');
}
