// SPDX-License-Identifier: LGPL-2.1-or-later
// What the browser tests' scripts share to report (portal.mjs, portal-firefox.mjs, portal-choose.mjs):
// "ok - ..." / "not ok - ..." lines on stdout (why a check failed goes to stderr, which the shell script
// keeps in the test's log), notes (any other line becomes a TAP comment), screenshots, and Flow: a run of
// checks on one page that, once a check fails, fails the later ones as not reached (a flow never just
// reports fewer checks) and keeps a screenshot of the page as it failed.
import path from 'node:path';

export function ok(name) {
	console.log('ok - ' + name);
}

export function notOk(name, why) {
	console.error('## ' + name + ': ' + (why && why.stack ? why.stack : String(why)));
	console.log('not ok - ' + name);
}

export function note(s) {
	console.log(s);
}

export function assert(cond, msg) {
	if (!cond) {
		throw new Error(msg);
	}
}

// The reporting of one script: screenshots into dir, a failed flow's named prefix-fail-FLOW-N.png;
// options go to page.screenshot as they are (the browser drivers differ).
export function reporter(dir, prefix, options = {}) {
	let shots = 0;

	async function screenshot(page, file) {
		const p = path.join(dir, file);
		try {
			await page.screenshot({ path: p, fullPage: true, ...options });
			note('screenshot: ' + p);
		} catch (e) {
			console.error('## screenshot ' + p + ': ' + e.message);
		}
	}

	class Flow {
		constructor(name, page) {
			this.name = name;
			this.page = page;
			this.broken = null;
		}

		async check(name, fn) {
			if (this.broken) {
				notOk(name, 'not reached: "' + this.broken + '" failed before it');
				return false;
			}
			try {
				await fn();
				ok(name);
				return true;
			} catch (e) {
				this.broken = name;
				notOk(name, e);
				if (this.page) {
					await screenshot(this.page, prefix + '-fail-' + this.name + '-' + ++shots + '.png');
				}
				return false;
			}
		}
	}

	return { screenshot, Flow };
}
