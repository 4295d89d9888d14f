/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * imza.js: the browser client of imza's local HTTPS signing endpoint (docs/API.md).
 *
 * No dependencies. Load it as a classic script (it defines window.imza) or require() it (CommonJS).
 *
 *   imza.configure({url: 'https://127.0.0.1:38443'})      // optional; see "Base URL" below
 *   imza.info()          -> {name, version, api, granted}
 *   imza.certificates()  -> [{id, label, subject, common_name, issuer, serial, not_before, not_after,
 *                             key_type, key_bits, key_usage, qualified, reader, present, certificate}]
 *                           the signing certificates (keyUsage nonRepudiation) of the cards in a reader
 *   imza.sign({text | data, detached, wait})
 *                        -> {signature, format, detached, certificate}   (base64 strings)
 *                           always CAdES-BES ("format" may only be 'cades-bes': a page gets no bare
 *                           signature). The usual way: no certificate named, the user chooses it in
 *                           imza's own window (qualified first) and the page learns nothing about the
 *                           cards before the signature; "certificate" in the answer is the chosen one.
 *                           No listing, so no consent for it: the signing window is the consent.
 *   imza.sign({certificate, text | data, detached, wait})
 *                           the same with a certificate (an id or an object from imza.certificates())
 *                           the page chose from the list
 *
 * Every failure is an imza.ImzaError with
 *   .code       the API's error code (bad_request, origin_denied, key_not_allowed, user_cancelled,
 *               pin_incorrect, pin_locked, not_found, certificate_unknown, method_not_allowed,
 *               card_absent, certificate_required, too_large, bad_host, busy, timeout, internal), or one of the client's own:
 *               unreachable           the endpoint did not answer: imza is not running, or the browser
 *                                     does not trust its local CA (`imzactl trust`)
 *               local_network_denied  the browser blocked a public page's request to loopback (Local
 *                                     Network Access, Chromium 142+, Firefox): the user or the admin must
 *                                     allow it (in Firefox the text names Firefox's prompt and policy)
 *   .status     the HTTP status (0 when no answer came)
 *   .triesLeft  PIN tries left for pin_incorrect (-1 if unknown), else null
 *   .retryAfter seconds from Retry-After (busy), else null
 *   .message    a readable text (Turkish and English, also in .messageTr / .messageEn, for the client's
 *               own codes and for origin_denied: imza refused this page, and how the user undoes it)
 *
 * Only simple requests are sent (GET; POST with Content-Type text/plain carrying the JSON), so no CORS
 * preflight is needed and the first visit of a site reaches imza's consent dialog.
 *
 * Base URL: imza.configure({url}) wins; else the page's ?imza= parameter; else <meta name="imza-url"
 * content="...">; else the default ports, in this order: https://127.0.0.1:38443, :38444, :38445.
 * Loopback ports are shared by every user of the computer: when another user's imza holds 38443, this
 * user's imza listens on the next one (imzad-https.socket, docs/INSTALL.md). A port that gives no answer
 * at all (refused, or a TLS certificate the browser does not trust: another user's imza) sends the same
 * request to the next port; the port that answered is tried first from then on. No other failure moves
 * on: an HTTP answer, a timeout, or the browser's Local Network Access block. (A request is sent again
 * only when no answer came; a signature can only be made by an imza that answers.)
 */
(function (root, factory) {
	'use strict';
	var imza = factory(root);
	if (typeof module === 'object' && module && module.exports) {
		module.exports = imza; // CommonJS (node's require): no global
	} else if (root && typeof root === 'object') {
		root.imza = imza; // a classic <script>: window.imza
	}
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this, function (root) {
	'use strict';

	var VERSION = '0.1.0';
	// Keep in step with imzad's default https_port (38443), imzad-https.socket and imzad.conf(5).
	var DEFAULT_PORTS = [38443, 38444, 38445];
	var DEFAULT_URLS = [];
	for (var dp = 0; dp < DEFAULT_PORTS.length; dp++) {
		DEFAULT_URLS.push('https://127.0.0.1:' + DEFAULT_PORTS[dp]);
	}
	var DEFAULT_URL = DEFAULT_URLS[0];
	// Permission names of Local Network Access, newest first. Chromium 142 shipped 'local-network-access';
	// later versions split it into 'loopback-network' (127.0.0.1, ::1, localhost) and 'local-network'.
	var LNA_PERMISSIONS = ['loopback-network', 'local-network-access', 'local-network'];

	// Status for each code, when an answer has no JSON body (a proxy, a half-written server…).
	var STATUS_CODES = {
		400: 'bad_request', 403: 'origin_denied', 404: 'not_found', 405: 'method_not_allowed',
		409: 'card_absent', 413: 'too_large', 415: 'bad_request', 421: 'bad_host', 423: 'pin_locked',
		503: 'busy', 504: 'timeout'
	};

	var TEXT = {
		// ORIGIN is replaced by the page's origin.
		origin_denied: {
			tr: 'imza bu sitenin (ORIGIN) isteğini reddetti: bu siteye e-imza kartınızı kullanma izni ' +
				'verilmedi. Bu kararı geri almak için bilgisayarınızda `imzactl grants forget ORIGIN` ' +
				'komutunu çalıştırıp sayfayı yenileyin; imza izni yeniden sorar.',
			en: 'imza refused this site (ORIGIN): it was not allowed to use your e-signature card. To undo ' +
				'that, run `imzactl grants forget ORIGIN` on this computer and reload the page; imza will ' +
				'ask again.'
		},
		unreachable: {
			tr: 'imza çalışmıyor ya da yerel sertifikası güvenilir değil: `imzactl trust` çalıştırın ' +
				'(imza hizmetinin çalıştığını `imzactl status` ile denetleyebilirsiniz).',
			en: 'imza is not running, or the browser does not trust its local certificate: run `imzactl trust` ' +
				'(`imzactl status` tells whether imza is running).'
		},
		local_network_denied: {
			tr: 'Tarayıcınız bu sitenin bilgisayarınızdaki imza hizmetine erişmesini engelledi (yerel ağ ' +
				'erişimi, "loopback" adres alanı). Adres çubuğundaki site bilgileri simgesine tıklayın, ' +
				'Site ayarları → "Yerel ağ erişimi" (yeni sürümlerde "Apps on device" / "Cihazdaki uygulamalar") ' +
				'iznini "İzin ver" yapın ve sayfayı yenileyin. Kurum bilgisayarlarında sistem yöneticinizden ' +
				'bu siteyi LocalNetworkAccessAllowedForUrls (ve LoopbackNetworkAllowedForUrls) ilkesine ' +
				'eklemesini isteyin.',
			en: 'The browser blocked this site\'s requests to imza on this computer (Local Network Access, the ' +
				'"loopback" address space). Click the site information icon in the address bar, set Site ' +
				'settings → "Local network access" (newer versions: "Apps on device") to "Allow" and reload ' +
				'the page. On managed computers ask the administrator to list this site in the ' +
				'LocalNetworkAccessAllowedForUrls (and LoopbackNetworkAllowedForUrls) policy.'
		},
		// The same code in Firefox, whose prompt, permission and policy have other names
		// (packaging/firefox-policy/README.md).
		local_network_denied_firefox: {
			tr: 'Firefox bu sitenin bilgisayarınızdaki imza hizmetine erişmesini engelledi ya da sizin ' +
				'onayınızı bekliyor (yerel ağ erişimi). Firefox sitenin "bu cihazdaki diğer uygulamalara ve ' +
				'hizmetlere" erişmek istediğini sorduğunda "İzin ver" deyin. Site daha önce engellendiyse adres ' +
				'çubuğunun solundaki izin simgesine tıklayıp "Device apps and services" engelini kaldırın ve ' +
				'sayfayı yenileyin. Kurum bilgisayarlarında sistem yöneticinizden bu sitenin adını Firefox\'un ' +
				'LocalNetworkAccess ilkesindeki SkipDomains listesine eklemesini isteyin.',
			en: 'Firefox blocked this site\'s requests to imza on this computer, or is waiting for your answer ' +
				'(Local Network Access). When Firefox asks whether the site may access other apps and ' +
				'services on this device, choose "Allow". If the site was blocked before, click the ' +
				'permissions icon left of the address bar, remove the block on "Device apps and services" ' +
				'and reload the page. On managed computers ask the administrator to add this site\'s host ' +
				'name to SkipDomains in Firefox\'s LocalNetworkAccess policy.'
		}
	};

	// Firefox (and its forks, which keep "Firefox/" in the user agent): for the text of
	// local_network_denied only.
	function isFirefox() {
		var ua = root && root.navigator && root.navigator.userAgent;
		return typeof ua === 'string' && ua.indexOf('Firefox/') >= 0;
	}

	function ImzaError(code, message, status, triesLeft, retryAfter) {
		var self;
		if (Object.setPrototypeOf) {
			self = new Error(message);
			Object.setPrototypeOf(self, ImzaError.prototype);
		} else {
			self = this;
			self.message = message;
		}
		self.name = 'ImzaError';
		self.code = code;
		self.status = status || 0;
		self.triesLeft = typeof triesLeft === 'number' ? triesLeft : null;
		self.retryAfter = typeof retryAfter === 'number' ? retryAfter : null;
		return self;
	}
	ImzaError.prototype = Object.create(Error.prototype, {
		constructor: {value: ImzaError, writable: true, configurable: true}
	});
	ImzaError.prototype.name = 'ImzaError';

	function clientError(code, cause) {
		var t = code === 'local_network_denied' && isFirefox() ? TEXT.local_network_denied_firefox : TEXT[code];
		var e = new ImzaError(code, t.tr + '\n' + t.en, 0);
		e.messageTr = t.tr;
		e.messageEn = t.en;
		if (cause) {
			e.cause = cause;
		}
		return e;
	}

	function pageOrigin() {
		var loc = root && root.location;
		return loc && typeof loc.origin === 'string' && loc.origin !== 'null' ? loc.origin : 'https://SITE';
	}

	// imza's refusal of this page: said as a refusal, with the command that undoes it.
	function deniedError(status, serverMessage) {
		var o = pageOrigin();
		var tr = TEXT.origin_denied.tr.split('ORIGIN').join(o);
		var en = TEXT.origin_denied.en.split('ORIGIN').join(o);
		var e = new ImzaError('origin_denied', tr + '\n' + en, status);
		e.messageTr = tr;
		e.messageEn = en;
		e.serverMessage = serverMessage;
		return e;
	}

	var explicitUrl = null;
	var foundUrl = null; // the default URL that answered last
	var timeoutMs = 15000; // for info() and certificates(); sign() waits for the user and has none

	function cleanUrl(u) {
		u = String(u).trim();
		while (u.length && u.charAt(u.length - 1) === '/') {
			u = u.slice(0, -1);
		}
		return u;
	}

	function pageUrl() {
		var loc = root && root.location;
		if (!loc || !loc.search) {
			return null;
		}
		try {
			var p = new root.URLSearchParams(loc.search).get('imza');
			return p ? p : null;
		} catch (e) {
			return null;
		}
	}

	function metaUrl() {
		var doc = root && root.document;
		if (!doc || typeof doc.querySelector !== 'function') {
			return null;
		}
		var m = doc.querySelector('meta[name="imza-url"]');
		var c = m && m.getAttribute('content');
		return c ? c : null;
	}

	function givenUrl() {
		return explicitUrl || pageUrl() || metaUrl();
	}

	function baseUrl() {
		return cleanUrl(givenUrl() || foundUrl || DEFAULT_URL);
	}

	// The base URLs a request tries in order: the one given, else the defaults (the last that answered
	// first).
	function baseUrls() {
		var given = givenUrl();
		if (given) {
			return [cleanUrl(given)];
		}
		var list = foundUrl ? [foundUrl] : [];
		for (var i = 0; i < DEFAULT_URLS.length; i++) {
			if (DEFAULT_URLS[i] !== foundUrl) {
				list.push(DEFAULT_URLS[i]);
			}
		}
		return list;
	}

	function hostOf(u) {
		var m = /^[a-z][a-z0-9+.-]*:\/\/(\[[^\]]*\]|[^\/:?#]*)/i.exec(u);
		return m ? m[1].toLowerCase() : '';
	}

	function isLoopbackHost(h) {
		h = String(h || '').toLowerCase();
		return h === 'localhost' || /\.localhost$/.test(h) || /^127\.\d+\.\d+\.\d+$/.test(h) ||
			h === '[::1]' || h === '::1';
	}

	function configure(opts) {
		opts = opts || {};
		if (Object.prototype.hasOwnProperty.call(opts, 'url')) {
			if (opts.url === null || opts.url === undefined || opts.url === '') {
				explicitUrl = null;
			} else if (!/^https?:\/\/[^\/]+/i.test(String(opts.url))) {
				throw new TypeError('imza.configure: url must be an http(s) URL, e.g. ' + DEFAULT_URL);
			} else {
				explicitUrl = String(opts.url);
			}
		}
		if (Object.prototype.hasOwnProperty.call(opts, 'timeout')) {
			timeoutMs = Math.max(0, Number(opts.timeout) || 0);
		}
		return {url: baseUrl(), timeout: timeoutMs};
	}

	// The state of the browser's Local Network Access permission for loopback: 'granted', 'denied',
	// 'prompt', or 'unsupported' when the browser knows none of the names.
	function localNetworkPermission() {
		var nav = root && root.navigator;
		var perms = nav && nav.permissions;
		if (!perms || typeof perms.query !== 'function') {
			return Promise.resolve('unsupported');
		}
		var i = 0;
		function next() {
			if (i >= LNA_PERMISSIONS.length) {
				return Promise.resolve('unsupported');
			}
			var name = LNA_PERMISSIONS[i++];
			var q;
			try {
				q = perms.query({name: name});
			} catch (e) {
				return next(); // TypeError: a name this browser does not know
			}
			return Promise.resolve(q).then(function (status) {
				return status && status.state ? status.state : next();
			}, function () {
				return next();
			});
		}
		return next();
	}

	// Does Local Network Access gate this page's requests to the endpoint? Only a page that is not
	// itself on loopback asking a loopback address is gated.
	function pageIsLoopback() {
		var loc = root && root.location;
		if (!loc) {
			return true; // not a browser page (a test, a worker without location): nothing gates us
		}
		if (loc.protocol === 'file:') {
			return false;
		}
		return isLoopbackHost(loc.hostname);
	}

	// A fetch that failed without an answer: tell Local Network Access apart from "not running".
	// A request that timed out from a public page while the permission still reads 'prompt' was held
	// by the browser's question, not by imza: Firefox keeps it until the user answers (5 minutes).
	function networkFailure(err, url) {
		var aborted = err && err.name === 'AbortError';
		function plain() {
			if (!aborted) {
				return clientError('unreachable', err);
			}
			var t = new ImzaError('timeout', 'imza did not answer in time (' + timeoutMs + ' ms); ' +
				'imza zamanında yanıt vermedi.', 0);
			t.cause = err;
			return t;
		}
		return localNetworkPermission().then(function (state) {
			var gated = isLoopbackHost(hostOf(url)) && !pageIsLoopback();
			if (state === 'denied' || (state === 'prompt' && gated)) {
				var d = clientError('local_network_denied', err);
				d.permission = state;
				return d;
			}
			return plain();
		}, plain);
	}

	function errorFromResponse(res, body) {
		var data = null;
		try {
			data = body ? JSON.parse(body) : null;
		} catch (e) {
			data = null;
		}
		var code = data && typeof data.error === 'string' ? data.error : STATUS_CODES[res.status] || 'internal';
		var msg = data && typeof data.message === 'string' ? data.message : 'HTTP ' + res.status;
		var tries = null;
		if (data && typeof data.tries_left === 'number') {
			tries = data.tries_left;
		} else if (code === 'pin_incorrect') {
			tries = -1;
		}
		if (code === 'origin_denied') {
			return deniedError(res.status, msg);
		}
		var retry = null;
		var ra = res.headers && typeof res.headers.get === 'function' ? res.headers.get('Retry-After') : null;
		if (ra !== null && ra !== undefined && /^\d+$/.test(String(ra).trim())) {
			retry = parseInt(ra, 10);
		}
		return new ImzaError(code, msg, res.status, tries, retry);
	}

	function request(method, path, payload, useTimeout) {
		var fetchFn = root && root.fetch;
		if (typeof fetchFn !== 'function') {
			return Promise.reject(new ImzaError('internal', 'fetch() is not available in this browser', 0));
		}
		var bases = baseUrls();
		var defaults = !givenUrl();
		var at = 0;
		function attempt() {
			var base = bases[at];
			var url = base + path;
			var init = {
				method: method,
				mode: 'cors',
				credentials: 'omit',
				cache: 'no-store',
				redirect: 'error'
			};
			if (isLoopbackHost(hostOf(url))) {
				init.targetAddressSpace = 'loopback'; // Chromium's Local Network Access hint; ignored elsewhere
			}
			if (payload !== undefined) {
				// text/plain keeps the request "simple": no preflight. imzad parses the body as JSON.
				init.headers = {'Content-Type': 'text/plain;charset=UTF-8'};
				init.body = JSON.stringify(payload);
			}
			var timer = null;
			if (useTimeout && timeoutMs > 0 && typeof root.AbortController === 'function') {
				var ac = new root.AbortController();
				init.signal = ac.signal;
				timer = root.setTimeout(function () {
					ac.abort();
				}, timeoutMs);
			}
			function done() {
				if (timer !== null) {
					root.clearTimeout(timer);
					timer = null;
				}
			}
			var p;
			try {
				p = Promise.resolve(fetchFn.call(root, url, init));
			} catch (e) {
				p = Promise.reject(e);
			}
			return p.then(function (res) {
				if (defaults) {
					foundUrl = base;
				}
				return res.text().then(function (body) {
					done();
					if (res.status < 200 || res.status > 299) {
						throw errorFromResponse(res, body);
					}
					try {
						return JSON.parse(body);
					} catch (e) {
						throw new ImzaError('internal', 'imza answered with something that is not JSON', res.status);
					}
				});
			}, function (err) {
				done();
				return networkFailure(err, url).then(function (e) {
					// Nothing answered there: the next default port, if any. (A timeout or the browser's
					// block would be the same on every port.)
					if (e.code === 'unreachable' && at + 1 < bases.length) {
						at++;
						return attempt();
					}
					if (defaults) {
						foundUrl = null; // the next request looks again from the first port
					}
					throw e;
				});
			});
		}
		return attempt();
	}

	function bytesToBase64(bytes) {
		if (Object.prototype.toString.call(bytes) === '[object ArrayBuffer]') {
			bytes = new Uint8Array(bytes);
		} else if (ArrayBuffer.isView(bytes)) {
			bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		}
		var s = '';
		for (var i = 0; i < bytes.length; i += 0x8000) {
			s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
		}
		return root.btoa(s);
	}

	function base64ToBytes(b64) {
		var s = root.atob(String(b64));
		var out = new Uint8Array(s.length);
		for (var i = 0; i < s.length; i++) {
			out[i] = s.charCodeAt(i);
		}
		return out;
	}

	function badRequest(msg) {
		return Promise.reject(new ImzaError('bad_request', msg, 0));
	}

	function sign(opts) {
		opts = opts || {};
		var cert = opts.certificate;
		if (cert && typeof cert === 'object') {
			cert = cert.id;
		}
		if (cert !== undefined && cert !== null && (typeof cert !== 'string' || !cert)) {
			return badRequest('imza.sign: certificate is an id from imza.certificates(), or left out for the ' +
				'user to choose in imza\'s window');
		}
		var hasText = opts.text !== undefined && opts.text !== null;
		var hasData = opts.data !== undefined && opts.data !== null;
		if (hasText === hasData) {
			return badRequest('imza.sign: give exactly one of text and data');
		}
		var req = {};
		if (cert) {
			req.certificate = cert;
		}
		if (hasText) {
			req.text = String(opts.text);
		} else if (typeof opts.data === 'string') {
			req.data = opts.data;
		} else {
			try {
				req.data = bytesToBase64(opts.data);
			} catch (e) {
				return badRequest('imza.sign: data must be base64, an ArrayBuffer or a typed array');
			}
		}
		if (opts.format !== undefined && opts.format !== 'cades-bes') {
			return badRequest('imza.sign: format must be \'cades-bes\': web signatures are CAdES-BES only');
		}
		if (opts.format !== undefined) {
			req.format = opts.format;
		}
		if (opts.detached !== undefined) {
			req.detached = !!opts.detached;
		}
		if (opts.wait !== undefined) {
			var w = Number(opts.wait);
			if (!(w >= 0 && w <= 300) || Math.floor(w) !== w) {
				return badRequest('imza.sign: wait is whole seconds, 0..300');
			}
			req.wait = w;
		}
		return request('POST', '/v1/sign', req, false);
	}

	return {
		version: VERSION,
		defaultUrl: DEFAULT_URL,
		defaultUrls: DEFAULT_URLS.slice(),
		ImzaError: ImzaError,
		configure: configure,
		url: baseUrl,
		info: function () {
			return request('GET', '/v1/info', undefined, true);
		},
		certificates: function () {
			return request('GET', '/v1/certificates', undefined, true).then(function (r) {
				if (!r || !Array.isArray(r.certificates)) {
					throw new ImzaError('internal', 'imza answered without a certificate list', 200);
				}
				return r.certificates;
			});
		},
		sign: sign,
		localNetworkPermission: localNetworkPermission,
		base64ToBytes: base64ToBytes,
		bytesToBase64: bytesToBase64,
		messages: TEXT
	};
});
