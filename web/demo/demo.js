/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The demo portal: a local stand-in for Kamu SM's renewal flow (login, form, SMS code, signing method,
 * e-signed application through imza, result). No framework, no external resources.
 *
 * Test hooks (URL parameters): ?captcha=ABCDE fixes the captcha text; ?sms-ttl=N shortens the SMS code's
 * 295 s validity; ?imza=URL points imza.js at another endpoint. The SMS code is shown in #sms-code-shown.
 */
(function () {
	'use strict';

	var params = new URLSearchParams(window.location.search);

	// The declaration at the head of the form and of the signed content, as on the portal.
	var DECLARATION = 'Aşağıda yazılı bütün bilgilerin doğru olduğunu, aksi halde doğacak bütün zararlardan ' +
		'sorumlu olduğumu beyan ederim. Bu formdaki bilgilere göre şahsıma bir nitelikli elektronik sertifika ' +
		'hazırlanmasını talep ederim.';
	var KURUM = 'T.C. MİLLİ EĞİTİM BAKANLIĞI';
	var SMS_TTL = (function () {
		var n = parseInt(params.get('sms-ttl') || '', 10);
		return n > 0 && n <= 3600 ? n : 295;
	})();

	// A small il → ilçe table (plate code first).
	var ILLER = [
		['01', 'Adana', ['Seyhan', 'Yüreğir', 'Çukurova', 'Sarıçam', 'Ceyhan']],
		['06', 'Ankara', ['Çankaya', 'Keçiören', 'Yenimahalle', 'Mamak', 'Etimesgut', 'Sincan', 'Altındağ']],
		['07', 'Antalya', ['Muratpaşa', 'Kepez', 'Konyaaltı', 'Alanya', 'Manavgat']],
		['12', 'Bingöl', ['Merkez', 'Genç', 'Solhan', 'Karlıova', 'Kiğı']],
		['16', 'Bursa', ['Osmangazi', 'Nilüfer', 'Yıldırım', 'İnegöl', 'Gemlik']],
		['21', 'Diyarbakır', ['Bağlar', 'Kayapınar', 'Yenişehir', 'Sur', 'Ergani']],
		['25', 'Erzurum', ['Yakutiye', 'Palandöken', 'Aziziye', 'Oltu', 'Horasan']],
		['27', 'Gaziantep', ['Şahinbey', 'Şehitkamil', 'Nizip', 'İslahiye']],
		['34', 'İstanbul', ['Kadıköy', 'Üsküdar', 'Beşiktaş', 'Fatih', 'Bakırköy', 'Şişli', 'Esenyurt']],
		['35', 'İzmir', ['Konak', 'Bornova', 'Karşıyaka', 'Buca', 'Çiğli', 'Bayraklı']],
		['42', 'Konya', ['Selçuklu', 'Meram', 'Karatay', 'Ereğli', 'Akşehir']],
		['55', 'Samsun', ['İlkadım', 'Atakum', 'Canik', 'Bafra', 'Çarşamba']],
		['61', 'Trabzon', ['Ortahisar', 'Akçaabat', 'Of', 'Yomra', 'Araklı']],
		['65', 'Van', ['İpekyolu', 'Tuşba', 'Edremit', 'Erciş']]
	];

	var state = {
		login: null, // {tc, ad, soyad, dogumYeri, dogumTarihi, sicil}
		form: null,
		captcha: '',
		sms: {code: '', deadline: 0, timer: null},
		certs: [],
		selected: -1,
		// By default the page names no certificate: the user chooses it in imza's own window, and the page
		// learns nothing about the cards before the signature. ?sertifika=sayfa lists them on the page
		// first (GET /v1/certificates, which asks imza's consent for this site).
		pageList: /(^|[?&])sertifika=sayfa(&|$)/.test(window.location.search),
		signing: false,
		blobUrl: null
	};

	function $(id) {
		return document.getElementById(id);
	}

	function text(el, s) {
		el.textContent = s === undefined || s === null ? '' : String(s);
	}

	function collapse(s) {
		return String(s || '').replace(/\s+/g, ' ').trim();
	}

	/* ---------------------------------------------------------------- steps */

	var STEP_TITLES = {
		login: 'Kullanıcı Girişi',
		form: 'Başvuru Formu',
		'sms-send': 'SMS Onay Kodu',
		'sms-code': 'SMS Doğrulama Kodu',
		method: 'İmzalama Yöntemi',
		islak: 'Islak İmzalı Başvuru',
		sign: 'E-İmzalı Başvuru',
		result: 'Başvuru Sonucu'
	};

	function show(step) {
		var sections = document.querySelectorAll('section.step');
		for (var i = 0; i < sections.length; i++) {
			sections[i].hidden = sections[i].id !== 'step-' + step;
		}
		var group = $('step-' + step).getAttribute('data-step');
		document.body.setAttribute('data-step', step);
		text($('bc-current'), STEP_TITLES[step]);
		var items = $('steps').children;
		var seen = false;
		for (var j = items.length - 1; j >= 0; j--) {
			var f = items[j].getAttribute('data-for');
			items[j].className = f === group ? 'current' : seen ? 'done' : '';
			if (f === group) {
				seen = true;
			}
		}
		window.scrollTo(0, 0);
	}

	/* ---------------------------------------------------------------- validation helpers */

	function clearErrors(form, summaryId) {
		var errs = form.querySelectorAll('.field-error');
		for (var i = 0; i < errs.length; i++) {
			text(errs[i], '');
		}
		var bad = form.querySelectorAll('.invalid');
		for (var k = 0; k < bad.length; k++) {
			bad[k].classList.remove('invalid');
			bad[k].removeAttribute('aria-invalid');
		}
		var s = $(summaryId);
		s.hidden = true;
		s.textContent = '';
	}

	function fieldError(errors, id, msg) {
		errors.push({id: id, msg: msg});
		var e = $(id + '-error');
		if (e && !e.textContent) {
			text(e, msg);
		}
		var input = $(id);
		if (input) {
			input.classList.add('invalid');
			input.setAttribute('aria-invalid', 'true');
		}
	}

	function showSummary(summaryId, errors) {
		var s = $(summaryId);
		s.textContent = '';
		var p = document.createElement('p');
		p.textContent = 'Lütfen aşağıdaki hataları düzeltiniz:';
		s.appendChild(p);
		var ul = document.createElement('ul');
		errors.forEach(function (e) {
			var li = document.createElement('li');
			li.textContent = e.msg;
			ul.appendChild(li);
		});
		s.appendChild(ul);
		s.hidden = false;
		var first = $(errors[0].id);
		if (first && typeof first.focus === 'function') {
			first.focus();
		}
	}

	// T.C. Kimlik No: 11 digits, the first not 0; d10 = ((d1+d3+d5+d7+d9)*7 - (d2+d4+d6+d8)) mod 10;
	// d11 = (d1+…+d10) mod 10. Returns '' when valid, else the reason.
	function tcError(tc) {
		if (!tc) {
			return 'T.C. Kimlik No giriniz.';
		}
		if (!/^\d{11}$/.test(tc)) {
			return 'T.C. Kimlik No 11 haneli bir sayı olmalıdır.';
		}
		var d = tc.split('').map(Number);
		if (d[0] === 0) {
			return 'T.C. Kimlik No 0 ile başlayamaz.';
		}
		var odd = d[0] + d[2] + d[4] + d[6] + d[8];
		var even = d[1] + d[3] + d[5] + d[7];
		var d10 = (((odd * 7 - even) % 10) + 10) % 10;
		var sum = 0;
		for (var i = 0; i < 10; i++) {
			sum += d[i];
		}
		if (d[9] !== d10 || d[10] !== sum % 10) {
			return 'Geçersiz T.C. Kimlik No: lütfen numaranızı kontrol ediniz.';
		}
		return '';
	}

	var NAME_RE = /^[A-Za-zÇĞİÖŞÜçğıöşüÂâÎîÛû' .-]+$/;

	function dateError(s) {
		var m = /^(\d{2})\.(\d{2})\.(\d{4})$/.exec(s);
		if (!m) {
			return 'Doğum Tarihini GG.AA.YYYY biçiminde giriniz.';
		}
		var day = +m[1];
		var mon = +m[2];
		var year = +m[3];
		var d = new Date(year, mon - 1, day);
		if (d.getFullYear() !== year || d.getMonth() !== mon - 1 || d.getDate() !== day) {
			return 'Geçersiz Doğum Tarihi.';
		}
		if (year < 1900 || d > new Date()) {
			return 'Geçersiz Doğum Tarihi.';
		}
		return '';
	}

	function phoneDigits(s) {
		var d = String(s || '').replace(/[\s()-]/g, '');
		if (d.indexOf('+90') === 0) {
			d = d.slice(3);
		}
		if (d.charAt(0) === '0') {
			d = d.slice(1);
		}
		return d;
	}

	function formatPhone(d) {
		return d.length === 10 ? d.slice(0, 3) + ' ' + d.slice(3, 6) + ' ' + d.slice(6, 8) + ' ' + d.slice(8) : d;
	}

	// Editing a field clears its own error (the summary stays until the next submit).
	function clearOnEdit(ev) {
		var el = ev.target;
		if (!el || !el.id || !el.classList) {
			return;
		}
		var id = el.type === 'radio' ? el.name : el.id;
		var e = $(id + '-error');
		if (e) {
			text(e, '');
		}
		el.classList.remove('invalid');
		el.removeAttribute('aria-invalid');
	}

	/* ---------------------------------------------------------------- captcha */

	var CAPTCHA_CHARS = 'ABCDEFGHJKLMNPRSTUVYZ23456789';

	function newCaptcha() {
		var fixed = params.get('captcha');
		if (fixed) {
			state.captcha = fixed.toUpperCase();
		} else {
			var s = '';
			var r = new Uint32Array(5);
			window.crypto.getRandomValues(r);
			for (var i = 0; i < 5; i++) {
				s += CAPTCHA_CHARS.charAt(r[i] % CAPTCHA_CHARS.length);
			}
			state.captcha = s;
		}
		drawCaptcha(state.captcha);
		$('captcha-input').value = '';
	}

	function drawCaptcha(s) {
		var c = $('captcha-canvas');
		var g = c.getContext('2d');
		if (!g) {
			return;
		}
		var w = c.width;
		var h = c.height;
		g.fillStyle = '#eef2f6';
		g.fillRect(0, 0, w, h);
		var rnd = Math.random;
		for (var i = 0; i < 6; i++) {
			g.strokeStyle = 'rgba(' + ((rnd() * 120) | 0) + ',' + ((rnd() * 120) | 0) + ',' + ((rnd() * 160) | 0) + ',0.5)';
			g.lineWidth = 1 + rnd();
			g.beginPath();
			g.moveTo(rnd() * w, rnd() * h);
			g.bezierCurveTo(rnd() * w, rnd() * h, rnd() * w, rnd() * h, rnd() * w, rnd() * h);
			g.stroke();
		}
		var step = (w - 20) / s.length;
		for (var k = 0; k < s.length; k++) {
			g.save();
			g.translate(12 + k * step + step / 2, h / 2 + (rnd() * 8 - 4));
			g.rotate((rnd() - 0.5) * 0.6);
			g.font = 'bold ' + (24 + ((rnd() * 6) | 0)) + 'px "DejaVu Sans Mono", monospace';
			g.textAlign = 'center';
			g.textBaseline = 'middle';
			g.fillStyle = ['#1f3a60', '#7a1020', '#264d26', '#3d3d3d'][k % 4];
			g.fillText(s.charAt(k), 0, 0);
			g.restore();
		}
		for (var j = 0; j < 80; j++) {
			g.fillStyle = 'rgba(0,0,0,' + (0.1 + rnd() * 0.3) + ')';
			g.fillRect(rnd() * w, rnd() * h, 1.5, 1.5);
		}
	}

	/* ---------------------------------------------------------------- step 1: login */

	function onLogin(ev) {
		ev.preventDefault();
		var form = $('login-form');
		clearErrors(form, 'login-errors');
		var errors = [];
		var tc = $('tc').value.trim();
		var ad = collapse($('ad').value);
		var soyad = collapse($('soyad').value);
		var yer = collapse($('dogum-yeri').value);
		var tarih = $('dogum-tarihi').value.trim();
		var sicil = $('sicil').value.trim();
		var cap = $('captcha-input').value.trim().toUpperCase();

		if (!cap) {
			fieldError(errors, 'captcha-input', 'Resimdeki yazıyı giriniz.');
		} else if (cap !== state.captcha) {
			fieldError(errors, 'captcha-input', 'Resimdeki yazıyı hatalı girdiniz. Lütfen yeni resimdeki yazıyı giriniz.');
		}
		var t = tcError(tc);
		if (t) {
			fieldError(errors, 'tc', t);
		}
		if (!ad) {
			fieldError(errors, 'ad', 'Ad giriniz.');
		} else if (!NAME_RE.test(ad)) {
			fieldError(errors, 'ad', 'Ad yalnızca harflerden oluşmalıdır.');
		}
		if (!soyad) {
			fieldError(errors, 'soyad', 'Soyad giriniz.');
		} else if (!NAME_RE.test(soyad)) {
			fieldError(errors, 'soyad', 'Soyad yalnızca harflerden oluşmalıdır.');
		}
		if (!yer) {
			fieldError(errors, 'dogum-yeri', 'Doğum Yeri giriniz.');
		} else if (!NAME_RE.test(yer)) {
			fieldError(errors, 'dogum-yeri', 'Doğum Yeri yalnızca harflerden oluşmalıdır.');
		}
		var de = dateError(tarih);
		if (de) {
			fieldError(errors, 'dogum-tarihi', de);
		}
		if (!sicil) {
			fieldError(errors, 'sicil', 'Kurum Sicil No giriniz.');
		} else if (!/^\d{1,12}$/.test(sicil)) {
			fieldError(errors, 'sicil', 'Kurum Sicil No yalnızca rakamlardan oluşmalıdır.');
		}
		if (errors.length) {
			if (cap && cap !== state.captcha) {
				newCaptcha();
			}
			showSummary('login-errors', errors);
			return;
		}
		state.login = {tc: tc, ad: ad, soyad: soyad, dogumYeri: yer, dogumTarihi: tarih, sicil: sicil};
		fillForm();
		show('form');
	}

	/* ---------------------------------------------------------------- step 2: form */

	function fillForm() {
		var l = state.login;
		$('f-tc').value = l.tc;
		$('f-ad').value = l.ad;
		$('f-soyad').value = l.soyad;
		$('f-dogum-yeri').value = l.dogumYeri;
		$('f-dogum-tarihi').value = l.dogumTarihi;
		$('f-sicil').value = l.sicil;
		$('kurum').value = KURUM;
	}

	function fillIller() {
		var il = $('il');
		ILLER.forEach(function (row) {
			var o = document.createElement('option');
			o.value = row[1];
			o.textContent = row[1];
			o.setAttribute('data-plaka', row[0]);
			il.appendChild(o);
		});
	}

	function onIlChange() {
		var name = $('il').value;
		var ilce = $('ilce');
		ilce.textContent = '';
		var first = document.createElement('option');
		first.value = '';
		var row = null;
		for (var i = 0; i < ILLER.length; i++) {
			if (ILLER[i][1] === name) {
				row = ILLER[i];
			}
		}
		first.textContent = row ? 'Seçiniz' : 'Önce il seçiniz';
		ilce.appendChild(first);
		if (row) {
			row[2].forEach(function (n) {
				var o = document.createElement('option');
				o.value = n;
				o.textContent = n;
				ilce.appendChild(o);
			});
		}
		ilce.disabled = !row;
	}

	var NEDEN_HELP = {
		'Yeni': 'İlk kez nitelikli elektronik sertifika alacaksınız.',
		'Yenileme': 'Mevcut sertifikanızın bitiş tarihi, yeni sertifikanızın başlangıç tarihi olacak şekilde yeni başvuru yapılır.',
		'Kayıp Çalıntı': 'Geçerli olan sertifikanız iptal edilerek yeni sertifika başvurusu yapılır.',
		'Diğer': 'Mevcut sertifikanıza ek olarak yeni bir sertifika başvurusu yapılır.'
	};

	// The mini card reader is for new applications only.
	function onNedenChange() {
		var neden = $('basvuru-nedeni').value;
		text($('basvuru-nedeni-help'), NEDEN_HELP[neden] || '');
		var ko = $('kart-okuyucu');
		var mini = ko.querySelector('option[value="Mini Kart Okuyucu"]');
		mini.disabled = neden !== '' && neden !== 'Yeni';
		if (mini.disabled && ko.value === 'Mini Kart Okuyucu') {
			ko.value = 'Kart Okuyucu İstemiyorum';
		}
		if (neden && neden !== 'Yeni' && ko.value === '') {
			ko.value = 'Kart Okuyucu İstemiyorum';
			clearOnEdit({target: ko});
		}
	}

	var EMAIL_RE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

	function onFormSubmit(ev) {
		ev.preventDefault();
		var form = $('basvuru-form');
		clearErrors(form, 'form-errors');
		var errors = [];
		var v = function (id) {
			return collapse($(id).value);
		};
		var neden = v('basvuru-nedeni');
		var okuyucu = v('kart-okuyucu');
		var sure = v('sertifika-suresi');
		var guv = $('guvenlik').value;
		var guv2 = $('guvenlik-tekrar').value;
		var birim = v('birim');
		var unvan = v('unvan');
		var adres = v('adres');
		var il = v('il');
		var ilce = v('ilce');
		var posta = v('posta-kodu');
		var eposta = v('eposta');
		var isTel = phoneDigits($('is-tel').value);
		var dahili = v('dahili');
		var cep = phoneDigits($('cep-tel').value);
		var operator = v('operator');
		var evTel = phoneDigits($('ev-tel').value);
		var kanal = form.querySelector('input[name="bilgi-kanali"]:checked');

		if (!neden) {
			fieldError(errors, 'basvuru-nedeni', 'Başvuru Nedeni seçiniz.');
		}
		if (!okuyucu) {
			fieldError(errors, 'kart-okuyucu', 'Kart Okuyucu Tipi seçiniz.');
		} else if (okuyucu === 'Mini Kart Okuyucu' && neden && neden !== 'Yeni') {
			fieldError(errors, 'kart-okuyucu', 'Mini Kart Okuyucu yalnızca yeni başvurularda seçilebilir.');
		}
		if (!sure) {
			fieldError(errors, 'sertifika-suresi', 'Sertifika Süresi seçiniz.');
		}
		if (!guv) {
			fieldError(errors, 'guvenlik', 'Güvenlik sözcüğü giriniz.');
		} else if (/^\s|\s$/.test(guv)) {
			fieldError(errors, 'guvenlik', 'Güvenlik sözcüğü boşluk ile başlayamaz ve bitemez.');
		}
		if (!guv2) {
			fieldError(errors, 'guvenlik-tekrar', 'Güvenlik sözcüğünü tekrar giriniz.');
		} else if (guv && guv !== guv2) {
			fieldError(errors, 'guvenlik-tekrar', 'Güvenlik sözcükleri birbiriyle aynı olmalıdır.');
		}
		if (!birim) {
			fieldError(errors, 'birim', 'Çalıştığı Birim giriniz.');
		}
		if (!unvan) {
			fieldError(errors, 'unvan', 'Ünvan giriniz.');
		}
		if (!adres) {
			fieldError(errors, 'adres', 'Kurum / Birim Adresi giriniz.');
		}
		if (!il) {
			fieldError(errors, 'il', 'İl seçiniz.');
		}
		if (!ilce) {
			fieldError(errors, 'ilce', 'İlçe seçiniz.');
		}
		if (!posta) {
			fieldError(errors, 'posta-kodu', 'Posta Kodu giriniz.');
		} else if (!/^\d{5}$/.test(posta)) {
			fieldError(errors, 'posta-kodu', 'Posta Kodu 5 karakter olmalıdır.');
		}
		if (!eposta) {
			fieldError(errors, 'eposta', 'Eposta giriniz.');
		} else if (!EMAIL_RE.test(eposta)) {
			fieldError(errors, 'eposta', 'Geçerli bir e-posta adresi giriniz.');
		}
		if (!isTel) {
			fieldError(errors, 'is-tel', 'İş Telefonu giriniz.');
		} else if (!/^[2-5]\d{9}$/.test(isTel)) {
			fieldError(errors, 'is-tel', 'İş Telefonunu alan koduyla birlikte 10 haneli giriniz (ör. 3121234567).');
		}
		if (dahili && !/^\d{1,6}$/.test(dahili)) {
			fieldError(errors, 'dahili', 'Dahili numara yalnızca rakamlardan oluşmalıdır.');
		}
		if (!cep) {
			fieldError(errors, 'cep-tel', 'Cep Telefonu giriniz.');
		} else if (!/^5\d{9}$/.test(cep)) {
			fieldError(errors, 'cep-tel', 'Cep Telefonunu 5XXXXXXXXX biçiminde 10 haneli giriniz.');
		}
		if (!operator) {
			fieldError(errors, 'operator', 'Mobil Operatör Tipi seçiniz.');
		}
		if (evTel && !/^[2-5]\d{9}$/.test(evTel)) {
			fieldError(errors, 'ev-tel', 'Ev Telefonunu alan koduyla birlikte 10 haneli giriniz.');
		}
		if (!kanal) {
			fieldError(errors, 'bilgi-kanali', 'Bilgi Kanalı seçiniz.');
		}
		if (errors.length) {
			showSummary('form-errors', errors);
			return;
		}
		state.form = {
			basvuruNedeni: neden, kartOkuyucu: okuyucu, sertifikaSuresi: sure, guvenlik: guv, kurum: KURUM,
			birim: birim, unvan: unvan, adres: adres, il: il, ilce: ilce, postaKodu: posta, eposta: eposta,
			isTel: isTel, dahili: dahili, cepTel: cep, operator: operator, evTel: evTel, bilgiKanali: kanal.value
		};
		text($('sms-phone'), formatPhone(cep));
		show('sms-send');
	}

	/* ---------------------------------------------------------------- steps 3-4: SMS */

	function sendSms() {
		var r = new Uint32Array(1);
		window.crypto.getRandomValues(r);
		state.sms.code = String(100000 + (r[0] % 900000));
		state.sms.deadline = Date.now() + SMS_TTL * 1000;
		text($('sms-code-shown'), state.sms.code);
		$('sms-code').value = '';
		var e = $('sms-errors');
		e.hidden = true;
		e.textContent = '';
		if (state.sms.timer) {
			clearInterval(state.sms.timer);
		}
		tick();
		state.sms.timer = setInterval(tick, 1000);
	}

	function remaining() {
		return Math.max(0, Math.ceil((state.sms.deadline - Date.now()) / 1000));
	}

	function tick() {
		var left = remaining();
		text($('sms-countdown'), left);
		$('sms-countdown').classList.toggle('low', left <= 30);
		if (left === 0 && state.sms.timer) {
			clearInterval(state.sms.timer);
			state.sms.timer = null;
			smsError('SMS Onay Kodunuzun geçerlilik süresi doldu. Yeni kod için "Tekrar Gönder" butonuna basınız.');
		}
	}

	function smsError(msg) {
		var e = $('sms-errors');
		e.textContent = msg;
		e.hidden = false;
	}

	function onSmsSubmit(ev) {
		ev.preventDefault();
		var code = $('sms-code').value.trim();
		if (remaining() === 0) {
			smsError('SMS Onay Kodunuzun geçerlilik süresi doldu. Yeni kod için "Tekrar Gönder" butonuna basınız.');
			return;
		}
		if (!code) {
			smsError('SMS Doğrulama Kodunu giriniz.');
			return;
		}
		if (code !== state.sms.code) {
			smsError('SMS Doğrulama Kodu hatalı. Lütfen cep telefonunuza gelen kodu giriniz.');
			$('sms-code').select();
			return;
		}
		clearInterval(state.sms.timer);
		state.sms.timer = null;
		show('method');
	}

	/* ---------------------------------------------------------------- the signed content */

	// The declaration, then one line per field: AD, SOY, TC, EPO, GÜV, ADR, KUR ("KEY:value").
	function signedContent() {
		var l = state.login;
		var f = state.form;
		return [
			DECLARATION,
			'AD:' + l.ad,
			'SOY:' + l.soyad,
			'TC:' + l.tc,
			'EPO:' + f.eposta,
			'GÜV:' + f.guvenlik,
			'ADR:' + f.adres,
			'KUR:' + f.kurum
		].join('\n');
	}

	/* ---------------------------------------------------------------- step 5: e-signature */

	var ERRORS_TR = {
		card_absent: 'Lütfen imzalama yapılacak olan sertifikanın bulunduğu kartı okuyucuya takınız.',
		user_cancelled: 'İmzalama işlemi iptal edildi.',
		pin_locked: 'Akıllı kartınızın PIN kodu bloke olmuştur. PUK kodunuzla PIN blokesini kaldırınız ya da ' +
			'444 5 576 numaralı Çağrı Merkezimizi arayınız.',
		key_not_allowed: 'Seçilen sertifika imza için değil (kimlik doğrulama ya da şifreleme sertifikası); ' +
			'imza yalnızca nitelikli imza sertifikasıyla atılabilir.',
		certificate_unknown: 'Seçilen sertifika takılı kartlarda bulunamadı. Kartınızı takıp "Sertifikaları Yenile" ' +
			'butonuna basınız.',
		busy: 'imza şu anda başka bir imzalama işlemi yapıyor. Lütfen biraz sonra yeniden deneyiniz.',
		timeout: 'İşlem zaman aşımına uğradı. Lütfen yeniden deneyiniz.',
		bad_host: 'imza bu isteği reddetti (geçersiz sunucu adı).',
		no_certificate: 'Lütfen İmzalama Yapılacak Sertifikayı Seçiniz.',
		certificate_required: 'Kartlarınızda birden çok imza sertifikası var ve imza seçimi gösterecek bir pencere ' +
			'açamadı. Lütfen yalnızca kullanacağınız kartı takınız.'
	};

	function errorText(err) {
		if (!err || !err.code) {
			return 'Beklenmeyen bir hata oluştu: ' + (err && err.message ? err.message : String(err));
		}
		switch (err.code) {
		case 'pin_incorrect':
			return 'PIN kodu hatalı.' + (err.triesLeft !== null && err.triesLeft >= 0 ?
				' Kalan deneme hakkınız: ' + err.triesLeft + '.' : '');
		case 'unreachable':
		case 'local_network_denied':
		case 'origin_denied': // imza.js says it was refused and how to undo it
			return err.messageTr || err.message;
		default:
			return ERRORS_TR[err.code] || 'İmzalama sırasında bir hata oluştu: ' + err.message + ' (' + err.code + ')';
		}
	}

	function showError(err, retry) {
		var box = $('error');
		var msg = errorText(err);
		var body = $('error-message');
		body.textContent = '';
		body.appendChild(para(msg));
		if (err && (err.code === 'unreachable' || err.code === 'local_network_denied' ||
			err.code === 'origin_denied') && err.messageEn) {
			var en = para(err.messageEn);
			en.className = 'en';
			body.appendChild(en);
		}
		box.setAttribute('data-code', (err && err.code) || 'unknown');
		state.retry = retry || null;
		$('error-retry').hidden = !retry;
		box.hidden = false;
		if (typeof box.scrollIntoView === 'function') {
			box.scrollIntoView({block: 'nearest'});
		}
	}

	// A paragraph whose `quoted` parts are commands, shown as <code>.
	function para(s) {
		var p = document.createElement('p');
		String(s).split('`').forEach(function (part, i) {
			if (i % 2) {
				var c = document.createElement('code');
				c.textContent = part;
				p.appendChild(c);
			} else if (part) {
				p.appendChild(document.createTextNode(part));
			}
		});
		return p;
	}

	function hideError() {
		var box = $('error');
		box.hidden = true;
		box.removeAttribute('data-code');
	}

	function fmtDate(iso) {
		var d = new Date(iso);
		if (isNaN(d.getTime())) {
			return String(iso || '');
		}
		var p = function (n) {
			return n < 10 ? '0' + n : String(n);
		};
		return p(d.getDate()) + '.' + p(d.getMonth() + 1) + '.' + d.getFullYear();
	}

	function fmtDateTime(d) {
		var p = function (n) {
			return n < 10 ? '0' + n : String(n);
		};
		return fmtDate(d.toISOString()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
	}

	function expired(c) {
		var t = new Date(c.not_after).getTime();
		return !isNaN(t) && t < Date.now();
	}

	function selectable(c) {
		return c.present === true && !expired(c);
	}

	function certName(c) {
		return c.common_name || c.label || c.subject || c.id;
	}

	function enterSign() {
		var l = state.login;
		var f = state.form;
		text($('kb-tc'), l.tc);
		text($('kb-ad-soyad'), l.ad + ' ' + l.soyad);
		text($('kb-kurum'), f.kurum);
		text($('kb-eposta'), f.eposta);
		text($('signed-content'), signedContent());
		hideError();
		$('sign-status').hidden = true;
		show('sign');
		$('cert-choose-page').hidden = !state.pageList;
		$('cert-choose-window').hidden = state.pageList;
		if (state.pageList) {
			loadCertificates();
		} else {
			findImza();
		}
	}

	// Without the list: only whether imza runs (GET /v1/info tells nothing about the cards).
	function findImza() {
		hideError();
		setImzaStatus('imza hizmeti aranıyor…');
		return imza.info().then(function (info) {
			setImzaStatus(info.name + ' ' + info.version + ' çalışıyor.', 'ok');
		}).catch(function (err) {
			setImzaStatus(err && err.code === 'local_network_denied' ? 'Tarayıcı imza hizmetine erişimi engelledi.' :
				'imza hizmetine ulaşılamadı.', 'bad');
			showError(err, findImza);
		});
	}

	function setImzaStatus(msg, cls) {
		var s = $('imza-status');
		s.textContent = msg;
		s.className = 'imza-status' + (cls ? ' ' + cls : '');
	}

	function loadCertificates() {
		hideError();
		state.certs = [];
		state.selected = -1;
		renderCerts();
		setImzaStatus('imza hizmeti aranıyor…');
		$('cert-refresh').disabled = true;
		return imza.info().then(function (info) {
			setImzaStatus(info.name + ' ' + info.version + ' çalışıyor; sertifikalar okunuyor…', 'ok');
			return imza.certificates().then(function (list) {
				state.certs = list;
				var first = -1;
				for (var i = 0; i < list.length; i++) {
					if (selectable(list[i]) && (first < 0 || (list[i].qualified && !list[first].qualified))) {
						first = i;
					}
				}
				state.selected = first;
				renderCerts();
				setImzaStatus(info.name + ' ' + info.version + ' çalışıyor; ' + list.length + ' sertifika bulundu.', 'ok');
				if (first < 0) {
					showError({code: 'card_absent', message: 'no certificate on a card in a reader'}, loadCertificates);
				}
			});
		}).catch(function (err) {
			setImzaStatus(err && err.code === 'local_network_denied' ? 'Tarayıcı imza hizmetine erişimi engelledi.' :
				err && err.code === 'origin_denied' ? 'imza bu sitenin isteğini reddetti.' :
					'imza hizmetine ulaşılamadı.', 'bad');
			showError(err, loadCertificates);
		}).then(function () {
			$('cert-refresh').disabled = false;
		});
	}

	function renderCerts() {
		var list = $('cert-list');
		list.textContent = '';
		if (!state.certs.length) {
			var empty = document.createElement('p');
			empty.className = 'small';
			empty.id = 'cert-empty';
			empty.textContent = 'Gösterilecek sertifika yok.';
			list.appendChild(empty);
		}
		state.certs.forEach(function (c, i) {
			var row = document.createElement('div');
			row.className = 'cert-row' + (selectable(c) ? '' : ' disabled') + (i === state.selected ? ' selected' : '');
			row.id = 'cert-' + i;
			row.setAttribute('data-cert-id', c.id);

			var radio = document.createElement('input');
			radio.type = 'radio';
			radio.name = 'cert';
			radio.id = 'cert-radio-' + i;
			radio.value = c.id;
			radio.disabled = !selectable(c);
			radio.checked = i === state.selected;
			radio.addEventListener('change', function () {
				state.selected = i;
				renderCerts();
			});

			var label = document.createElement('label');
			label.htmlFor = radio.id;
			label.className = 'cert-main';
			var name = document.createElement('span');
			name.className = 'cert-name';
			name.textContent = certName(c);
			label.appendChild(name);
			var meta = document.createElement('span');
			meta.className = 'cert-meta';
			meta.textContent = 'Geçerlilik: ' + fmtDate(c.not_before) + ' – ' + fmtDate(c.not_after) +
				' · ' + (c.key_type || '') + (c.key_bits ? ' ' + c.key_bits : '') +
				(c.reader ? ' · ' + c.reader : '');
			label.appendChild(meta);

			var tags = document.createElement('span');
			tags.className = 'cert-tags';
			if (c.qualified) {
				var q = document.createElement('span');
				q.className = 'tag tag-q';
				q.textContent = 'Nitelikli';
				tags.appendChild(q);
			}
			if (!c.present) {
				var a = document.createElement('span');
				a.className = 'tag tag-absent';
				a.textContent = 'Kart takılı değil';
				tags.appendChild(a);
			} else if (expired(c)) {
				var x = document.createElement('span');
				x.className = 'tag tag-absent';
				x.textContent = 'Süresi dolmuş';
				tags.appendChild(x);
			}

			var view = document.createElement('button');
			view.type = 'button';
			view.className = 'btn btn-small';
			view.id = 'cert-view-' + i;
			view.textContent = 'Görüntüle';
			view.addEventListener('click', function () {
				showDetails(c);
			});

			row.appendChild(radio);
			row.appendChild(label);
			row.appendChild(tags);
			row.appendChild(view);
			list.appendChild(row);
		});
		var sel = state.certs[state.selected];
		text($('cert-selected'), sel ? certName(sel) + (sel.qualified ? ' (Nitelikli)' : '') : '—');
	}

	function showDetails(c) {
		var dl = $('cert-details-body');
		dl.textContent = '';
		var rows = [
			['Konu (Subject)', c.subject, 'cd-subject'],
			['Yayıncı (Issuer)', c.issuer, 'cd-issuer'],
			['Seri No', c.serial, 'cd-serial'],
			['Geçerlilik Başlangıcı', fmtDate(c.not_before) + '  (' + c.not_before + ')', 'cd-not-before'],
			['Geçerlilik Bitişi', fmtDate(c.not_after) + '  (' + c.not_after + ')', 'cd-not-after'],
			['Anahtar Kullanımı', (c.key_usage || []).join(', '), 'cd-key-usage'],
			['Anahtar', (c.key_type || '') + (c.key_bits ? ' ' + c.key_bits + ' bit' : ''), 'cd-key'],
			['Nitelikli', c.qualified ? 'Evet' : 'Hayır', 'cd-qualified'],
			['Kart Okuyucu', c.reader || (c.present ? '' : 'Kart takılı değil'), 'cd-reader'],
			['Parmak İzi (SHA-256)', c.id, 'cd-id']
		];
		rows.forEach(function (r) {
			var dt = document.createElement('dt');
			dt.textContent = r[0];
			var dd = document.createElement('dd');
			dd.id = r[2];
			dd.textContent = r[1] === undefined || r[1] === null ? '' : String(r[1]);
			dl.appendChild(dt);
			dl.appendChild(dd);
		});
		var d = $('cert-details');
		if (typeof d.showModal === 'function') {
			d.showModal();
		} else {
			d.setAttribute('open', '');
		}
	}

	function closeDetails() {
		var d = $('cert-details');
		if (typeof d.close === 'function') {
			d.close();
		} else {
			d.removeAttribute('open');
		}
	}

	function setSigning(on, msg) {
		state.signing = on;
		$('sign-btn').disabled = on;
		$('cert-refresh').disabled = on;
		$('sign-back').disabled = on;
		var s = $('sign-status');
		s.hidden = !msg;
		s.textContent = msg || '';
	}

	function onSign() {
		if (state.signing) {
			return;
		}
		hideError();
		var c = null;
		if (state.pageList) {
			c = state.certs[state.selected];
			if (!c) {
				showError({code: 'no_certificate', message: 'no certificate selected'});
				return;
			}
		}
		var content = signedContent();
		var req = {text: content, format: 'cades-bes', wait: 30};
		if (c) {
			req.certificate = c.id;
		}
		setSigning(true, c ? 'İmzalanıyor… Onayınızı ve akıllı kart PIN kodunuzu imza penceresinde giriniz. ' +
			'Kartınız takılı değilse 30 saniye içinde takınız.' :
			'İmzalanıyor… İmza penceresinde sertifikanızı seçip akıllı kart PIN kodunuzu giriniz. ' +
			'Kartınız takılı değilse 30 saniye içinde takınız.');
		imza.sign(req).then(function (res) {
			setSigning(false);
			showResult(c || certOfSignature(res.certificate), res, content);
		}, function (err) {
			var again = state.pageList ? loadCertificates : findImza;
			setSigning(false);
			showError(err, err && (err.code === 'unreachable' || err.code === 'local_network_denied' ||
				err.code === 'certificate_unknown') ? again : null);
		});
	}

	/* What the result screen shows of the certificate imza signed with, read from its DER (base64): the
	 * subject's common name, the subject and the serial number. A small DER reader: tag, length, value. */
	function certOfSignature(b64) {
		var out = {common_name: '', subject: '', serial: ''};
		var d;
		try {
			d = imza.base64ToBytes(b64);
		} catch (e) {
			return out;
		}
		function tlv(at) {
			if (at + 2 > d.length) {
				throw new Error('short');
			}
			var tag = d[at], len = d[at + 1], hdr = 2;
			if (len & 0x80) {
				var n = len & 0x7f;
				if (n < 1 || n > 3) {
					throw new Error('length');
				}
				len = 0;
				for (var i = 0; i < n; i++) {
					len = len * 256 + d[at + 2 + i];
				}
				hdr += n;
			}
			if (at + hdr + len > d.length) {
				throw new Error('past the end');
			}
			return {tag: tag, start: at + hdr, end: at + hdr + len};
		}
		function children(t) {
			var list = [];
			for (var at = t.start; at < t.end;) {
				var c = tlv(at);
				list.push(c);
				at = c.end;
			}
			return list;
		}
		function utf8(t) {
			return new TextDecoder('utf-8').decode(d.subarray(t.start, t.end));
		}
		var NAMES = {'2.5.4.3': 'CN', '2.5.4.5': 'SERIALNUMBER', '2.5.4.6': 'C', '2.5.4.10': 'O', '2.5.4.11': 'OU',
			'2.5.4.4': 'SN', '2.5.4.42': 'GN', '2.5.4.7': 'L', '2.5.4.8': 'ST'};
		function oid(t) {
			var b = d.subarray(t.start, t.end), parts = [Math.floor(b[0] / 40), b[0] % 40], v = 0;
			for (var i = 1; i < b.length; i++) {
				v = v * 128 + (b[i] & 0x7f);
				if (!(b[i] & 0x80)) {
					parts.push(v);
					v = 0;
				}
			}
			return parts.join('.');
		}
		try {
			var tbs = children(children(tlv(0))[0]);
			var k = tbs[0].tag === 0xa0 ? 1 : 0; // [0] version, when present
			var serial = tbs[k], subject = tbs[k + 4], rdns = [];
			out.serial = Array.prototype.map.call(d.subarray(serial.start, serial.end), function (x) {
				return (x < 16 ? '0' : '') + x.toString(16).toUpperCase();
			}).join('').replace(/^00(?=.)/, '');
			children(subject).forEach(function (set) {
				children(set).forEach(function (atv) {
					var p = children(atv), name = oid(p[0]), value = utf8(p[1]);
					rdns.push((NAMES[name] || name) + '=' + value);
					if (name === '2.5.4.3') {
						out.common_name = value;
					}
				});
			});
			out.subject = rdns.join(', ');
		} catch (e) {
			// An answer imza made cannot be malformed; the page shows what it could read.
		}
		return out;
	}

	/* ---------------------------------------------------------------- result */

	function showResult(c, res, content) {
		var bytes = imza.base64ToBytes(res.signature);
		if (state.blobUrl) {
			URL.revokeObjectURL(state.blobUrl);
		}
		state.blobUrl = URL.createObjectURL(new Blob([bytes], {type: 'application/pkcs7-signature'}));
		var a = $('download-p7s');
		a.href = state.blobUrl;
		a.setAttribute('download', 'basvuru.p7s');
		text($('result-size'), '(' + bytes.length + ' bayt, CAdES-BES)');
		text($('result-signer'), certName(c));
		text($('result-subject'), c.subject);
		text($('result-serial'), c.serial);
		text($('result-time'), fmtDateTime(new Date()));
		text($('result-content'), content);
		show('result');
	}

	/* ---------------------------------------------------------------- wiring */

	function init() {
		text($('form-declaration'), DECLARATION);
		fillIller();
		newCaptcha();
		$('captcha-refresh').addEventListener('click', newCaptcha);
		$('login-form').addEventListener('submit', onLogin);
		$('basvuru-form').addEventListener('submit', onFormSubmit);
		['login-form', 'basvuru-form'].forEach(function (f) {
			$(f).addEventListener('input', clearOnEdit);
			$(f).addEventListener('change', clearOnEdit);
		});
		$('il').addEventListener('change', onIlChange);
		$('basvuru-nedeni').addEventListener('change', onNedenChange);
		$('sms-send-btn').addEventListener('click', function () {
			sendSms();
			show('sms-code');
		});
		$('sms-resend-btn').addEventListener('click', sendSms);
		$('sms-form').addEventListener('submit', onSmsSubmit);
		$('method-eimza').addEventListener('click', enterSign);
		$('method-islak').addEventListener('click', function () {
			text($('islak-content'), signedContent());
			show('islak');
		});
		$('islak-back').addEventListener('click', function () {
			show('method');
		});
		$('islak-print').addEventListener('click', function () {
			window.print();
		});
		$('cert-refresh').addEventListener('click', loadCertificates);
		$('cert-details-close').addEventListener('click', closeDetails);
		$('sign-btn').addEventListener('click', onSign);
		$('sign-back').addEventListener('click', function () {
			show('method');
		});
		$('error-ok').addEventListener('click', hideError);
		$('error-retry').addEventListener('click', function () {
			var r = state.retry;
			hideError();
			if (r) {
				r();
			}
		});
		$('bc-home').addEventListener('click', function (e) {
			e.preventDefault();
		});
		$('yasal-uyari').addEventListener('click', function (e) {
			e.preventDefault();
		});
		show('login');
		document.body.setAttribute('data-ready', '1');
	}

	if (document.readyState === 'loading') {
		document.addEventListener('DOMContentLoaded', init);
	} else {
		init();
	}
})();
