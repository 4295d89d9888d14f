// SPDX-License-Identifier: LGPL-2.1-or-later
// The test stack's side of the browser tests (portal.mjs, portal-firefox.mjs): the test pinentry's
// script and log, and openssl's verdict on a downloaded .p7s. The paths come from the environment the
// shell script gives (IMZA_PINENTRY_SCRIPT, IMZA_PINENTRY_LOG, IMZA_TEST_CA).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { assert } from './tap.mjs';

const E = process.env;

// The answers the test pinentry gives, one line each (see tests/pinentry).
export function pinentryScript(...lines) {
	fs.writeFileSync(E.IMZA_PINENTRY_SCRIPT, lines.join('\n') + '\n');
}

// What the test pinentry was asked, one JSON object a command.
export function pinentryLog() {
	const raw = fs.existsSync(E.IMZA_PINENTRY_LOG) ? fs.readFileSync(E.IMZA_PINENTRY_LOG, 'utf8') : '';
	return raw.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

export function openssl(args) {
	const r = spawnSync('openssl', args, { timeout: 30000, maxBuffer: 16 << 20 });
	if (r.error) {
		throw r.error;
	}
	return r;
}

// openssl cms -verify accepts the file against the card's CA, and its content is exactly `content`.
export function verifyP7s(file, content) {
	const r = openssl(['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', E.IMZA_TEST_CA, '-purpose', 'any']);
	assert(r.status === 0, 'openssl cms -verify failed (exit ' + r.status + '): ' + r.stderr.toString());
	const want = Buffer.from(content, 'utf8');
	assert(r.stdout.equals(want), 'the signed content differs from #signed-content:\n--- signed (' + r.stdout.length +
		' bytes)\n' + r.stdout.toString('utf8') + '\n--- page (' + want.length + ' bytes)\n' + content);
}
