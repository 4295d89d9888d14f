/* SPDX-License-Identifier: LGPL-2.1-or-later */
// What the portal tests share: the demo portal's form as a user fills it, and the walk from the login
// to the signing page (tests/e2e/portal.mjs, tests/e2e/portal-choose.mjs).

export const LOGIN = { tc: '10000000146', ad: 'Ahmet', soyad: 'Yılmaz', 'dogum-yeri': 'Bingöl', 'dogum-tarihi': '17.05.1980',
	sicil: '4711' };
export const FORM = { guvenlik: 'kırmızı elma', birim: 'Bilgi İşlem Şubesi', unvan: 'Öğretmen',
	adres: 'Genç Osman Mah. Atatürk Cad. No:12', eposta: 'ahmet.yilmaz@meb.gov.tr' };
// web/demo/README.md, "The signed content".
export const DECLARATION = 'Aşağıda yazılı bütün bilgilerin doğru olduğunu, aksi halde doğacak bütün zararlardan sorumlu ' +
	'olduğumu beyan ederim. Bu formdaki bilgilere göre şahsıma bir nitelikli elektronik sertifika hazırlanmasını ' +
	'talep ederim.';
export const EXPECTED_CONTENT = [DECLARATION, 'AD:' + LOGIN.ad, 'SOY:' + LOGIN.soyad, 'TC:' + LOGIN.tc, 'EPO:' + FORM.eposta,
	'GÜV:' + FORM.guvenlik, 'ADR:' + FORM.adres, 'KUR:T.C. MİLLİ EĞİTİM BAKANLIĞI'].join('\n');

function assert(cond, msg) {
	if (!cond) {
		throw new Error(msg);
	}
}

// Login, form, SMS code, E-İmzalı: the signing page, with its certificate request under way. onReady
// runs once the page is wired, before it has asked imza anything.
export async function walkToSigning(page, pageUrl, onReady) {
	const res = await page.goto(pageUrl);
	assert(res && res.ok(), 'the demo page did not load (' + (res ? res.status() : 'no answer') + ')');
	assert(new URL(page.url()).origin === new URL(pageUrl).origin, 'the page is on ' + page.url());
	await page.waitForSelector('body[data-ready="1"]');
	if (onReady) {
		await onReady();
	}
	await page.fill('#captcha-input', 'ABCDE');
	for (const [id, v] of Object.entries(LOGIN)) {
		await page.fill('#' + id, v);
	}
	await page.click('#login-btn');
	await page.waitForSelector('#step-form:not([hidden])');
	await page.selectOption('#basvuru-nedeni', 'Yenileme');
	await page.fill('#guvenlik', FORM.guvenlik);
	await page.fill('#guvenlik-tekrar', FORM.guvenlik);
	await page.fill('#birim', FORM.birim);
	await page.fill('#unvan', FORM.unvan);
	await page.fill('#adres', FORM.adres);
	await page.selectOption('#il', 'Bingöl');
	await page.selectOption('#ilce', 'Merkez');
	await page.fill('#posta-kodu', '12000');
	await page.fill('#eposta', FORM.eposta);
	await page.fill('#is-tel', '4262131234');
	await page.fill('#cep-tel', '5321234567');
	await page.selectOption('#operator', 'Turkcell');
	await page.click('#form-onayla-btn');
	await page.waitForSelector('#step-sms-send:not([hidden])');
	await page.click('#sms-send-btn');
	await page.waitForSelector('#step-sms-code:not([hidden])');
	const code = ((await page.textContent('#sms-code-shown')) || '').trim();
	assert(/^\d{6}$/.test(code), 'no SMS code in #sms-code-shown ("' + code + '")');
	await page.fill('#sms-code', code);
	await page.click('#sms-ok-btn');
	await page.waitForSelector('#step-method:not([hidden])');
	await page.click('#method-eimza');
	await page.waitForSelector('#step-sign:not([hidden])');
}

