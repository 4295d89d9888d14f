/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A pinentry for tests: speaks the pinentry side of Assuan on stdin/stdout, answers CONFIRM and GETPIN
 * from a script (IMZA_TEST_PINENTRY_SCRIPT) and logs every command it gets as a JSON line
 * (IMZA_TEST_PINENTRY_LOG), so a test can see what the user would have seen. It never logs the PIN.
 *
 * Script, one directive a line ('#' starts a comment; later lines win):
 *   consent once|always|deny|timeout   how CONFIRM is answered (default: always)
 *   lasttry yes|no                     how a CONFIRM in the PIN dialog (after SETPROMPT: the last-try
 *                                      question) is answered (default: yes)
 *   pin <PIN>|cancel|timeout           how GETPIN is answered (default: cancel); "pin" alone: empty PIN
 *   lasttry status                     GETPIN's PIN comes after "S LAST_TRY_CONFIRMED", as imza-prompt's
 *                                      does once its last-try box was ticked (it then stands in for
 *                                      imza-prompt: SETTRIES is accepted)
 *   next <PIN>|cancel                  queued: the Nth such line answers this process's Nth GETPIN (imzad's
 *                                      PIN change asks three in one dialog); past them "pin" answers
 *   delay <ms>                         sleep before answering CONFIRM or GETPIN (default: 0)
 *   die <COMMAND>                      exit(3) without an answer when COMMAND arrives (a crash)
 *   choose <N>|cancel|raw <TEXT>       how imza-prompt's CHOOSE is answered: index N, cancelled, or a D
 *                                      line with TEXT as it is (default: 0)
 *   start                              log what it was started with, before anything else: a START line
 *                                      whose arg is "fds <its open descriptors>; stderr <where fd 2
 *                                      goes>; connection_fd <_assuan_connection_fd or unset>"
 * Log lines: {"pid":N,"cmd":"<command>","arg":"<argument, percent-decoded>"} for every command, and
 * {"pid":N,"cmd":"ANSWER","arg":"once|always|deny|timeout|pin|cancel|lasttry-yes|lasttry-no"} for every
 * CONFIRM/GETPIN answer. It also takes imza-prompt's own commands (SETORIGIN, SETSITE, SETTRIES, and SETDOC,
 * SETCERT, SETCERTS, each answered with its INQUIRE: the bytes are read and logged as
 * {"cmd":"INQUIRED","arg":"<KEYWORD> <bytes>"}), so tests can play imza-prompt's part too. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "protocol/proto-hex.h"

/* Error codes as pinentry sends them: GPG_ERR_SOURCE_PINENTRY (5) << 24 | code. */
#define ERR_NOT_CONFIRMED "ERR 83886194 Not confirmed <Pinentry>"
#define ERR_CANCELED "ERR 83886179 Operation cancelled <Pinentry>"
#define ERR_TIMEOUT "ERR 83886142 Timeout <Pinentry>"
#define ERR_UNKNOWN_CMD "ERR 536871187 Unknown IPC command <User defined source 1>"
#define ERR_LINE_TOO_LONG "ERR 536871175 Line too long <User defined source 1>"
#define ERR_UNKNOWN_INFO "ERR 83886360 IPC parameter error <Pinentry>"

#define LINE_MAX_LEN 1000 /* Assuan: 1000 bytes + LF */

enum consent { CONSENT_ONCE, CONSENT_ALWAYS, CONSENT_DENY, CONSENT_TIMEOUT };
enum pin_mode { PIN_VALUE, PIN_CANCEL, PIN_TIMEOUT };

struct script {
	enum consent consent;
	enum pin_mode pin_mode;
	char pin[512];
	long delay_ms;
	char die[64];
	bool lasttry_no;
	bool lasttry_status;
	bool start;
	char choose[64];  /* "" (index 0), "cancel", an index, or "raw <TEXT>" */
	char next[8][64]; /* the queued GETPIN answers ("next"), "\n" for cancel */
	size_t nnext, used;
};

static int log_fd = -1;

static void die_io(void)
{
	_exit(2);
}

static void write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die_io();
		buf += w;
		n -= (size_t)w;
	}
}

static void reply(const char *s)
{
	size_t n = strlen(s);
	char *buf = malloc(n + 1);

	if (buf == NULL)
		die_io();
	memcpy(buf, s, n);
	buf[n] = '\n';
	write_all(1, buf, n + 1);
	free(buf);
}

/* In place; returns the decoded length (the result may hold NUL bytes). */
static size_t percent_decode(char *s)
{
	size_t i = 0, o = 0;

	while (s[i] != '\0') {
		if (s[i] == '%' && proto_hex_digit((unsigned char)s[i + 1]) >= 0 &&
		    proto_hex_digit((unsigned char)s[i + 2]) >= 0) {
			s[o++] = (char)(proto_hex_digit((unsigned char)s[i + 1]) * 16 +
			                proto_hex_digit((unsigned char)s[i + 2]));
			i += 3;
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	return o;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if there is none. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3;
		cp = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* One JSON line, written with one write() on an O_APPEND descriptor, so pinentries that run at the same
 * time never interleave their lines. Invalid UTF-8 becomes U+FFFD so the line stays valid JSON. */
static void log_line(const char *cmd, const char *arg, size_t arg_len)
{
	size_t cap = 64 + strlen(cmd) * 6 + arg_len * 6, n = 0;
	const char *parts[2] = {cmd, arg};
	size_t lens[2] = {strlen(cmd), arg_len};
	char *buf;

	if (log_fd < 0)
		return;
	buf = malloc(cap);
	if (buf == NULL)
		die_io();
	n += (size_t)snprintf(buf, cap, "{\"pid\":%ld,\"cmd\":\"", (long)getpid());
	for (int k = 0; k < 2; k++) {
		const uint8_t *s = (const uint8_t *)parts[k];

		for (size_t i = 0; i < lens[k];) {
			uint8_t c = s[i];
			size_t len;

			if (c == '"' || c == '\\') {
				buf[n++] = '\\';
				buf[n++] = (char)c;
				i++;
			} else if (c < 0x20 || c == 0x7F) {
				n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
				i++;
			} else if ((len = utf8_seq(s + i, lens[k] - i)) > 0) {
				memcpy(buf + n, s + i, len);
				n += len;
				i += len;
			} else {
				memcpy(buf + n, "\\ufffd", 6);
				n += 6;
				i++;
			}
		}
		if (k == 0) {
			memcpy(buf + n, "\",\"arg\":\"", 9);
			n += 9;
		}
	}
	memcpy(buf + n, "\"}\n", 3);
	n += 3;
	write_all(log_fd, buf, n);
	free(buf);
}

static void log_answer(const char *what)
{
	log_line("ANSWER", what, strlen(what));
}

static void set_field(char *dst, size_t cap, const char *src)
{
	if (snprintf(dst, cap, "%s", src) >= (int)cap) {
		fprintf(stderr, "imza-test-pinentry: script value too long: %s\n", src);
		exit(2);
	}
}

static void read_script(struct script *sc)
{
	const char *path = getenv("IMZA_TEST_PINENTRY_SCRIPT");
	char line[1024];
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strcmp(line, "consent once") == 0)
			sc->consent = CONSENT_ONCE;
		else if (strcmp(line, "consent always") == 0)
			sc->consent = CONSENT_ALWAYS;
		else if (strcmp(line, "consent deny") == 0)
			sc->consent = CONSENT_DENY;
		else if (strcmp(line, "consent timeout") == 0)
			sc->consent = CONSENT_TIMEOUT;
		else if (strcmp(line, "lasttry yes") == 0)
			sc->lasttry_no = false;
		else if (strcmp(line, "lasttry no") == 0)
			sc->lasttry_no = true;
		else if (strcmp(line, "lasttry status") == 0)
			sc->lasttry_status = true;
		else if (strcmp(line, "pin cancel") == 0)
			sc->pin_mode = PIN_CANCEL;
		else if (strcmp(line, "pin timeout") == 0)
			sc->pin_mode = PIN_TIMEOUT;
		else if (strcmp(line, "pin") == 0) {
			sc->pin_mode = PIN_VALUE;
			sc->pin[0] = '\0';
		} else if (strncmp(line, "pin ", 4) == 0) {
			sc->pin_mode = PIN_VALUE;
			set_field(sc->pin, sizeof(sc->pin), line + 4);
		} else if (strncmp(line, "next ", 5) == 0) {
			if (sc->nnext == sizeof(sc->next) / sizeof(sc->next[0])) {
				fprintf(stderr, "imza-test-pinentry: too many next lines\n");
				exit(2);
			}
			set_field(sc->next[sc->nnext++], sizeof(sc->next[0]),
			          strcmp(line + 5, "cancel") == 0 ? "\n" : line + 5);
		} else if (strncmp(line, "delay ", 6) == 0)
			sc->delay_ms = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "die ", 4) == 0)
			set_field(sc->die, sizeof(sc->die), line + 4);
		else if (strncmp(line, "choose ", 7) == 0)
			set_field(sc->choose, sizeof(sc->choose), line + 7);
		else if (strcmp(line, "start") == 0)
			sc->start = true;
		else
			fprintf(stderr, "imza-test-pinentry: unknown script line: %s\n", line);
	}
	fclose(f);
}

/* What this process got from the one that started it: its descriptors (taken before the log is opened),
 * where stderr goes, whether a connection fd was named. */
static void start_facts(char *out, size_t cap)
{
	DIR *d = opendir("/proc/self/fd");
	char target[256];
	const char *conn = getenv("_assuan_connection_fd");
	struct dirent *e;
	size_t n = (size_t)snprintf(out, cap, "fds");
	ssize_t t;

	while (d != NULL && (e = readdir(d)) != NULL && n < cap) {
		if (e->d_name[0] == '.' || strtol(e->d_name, NULL, 10) == dirfd(d))
			continue;
		n += (size_t)snprintf(out + n, cap - n, " %s", e->d_name);
	}
	if (d != NULL)
		closedir(d);
	t = readlink("/proc/self/fd/2", target, sizeof(target) - 1);
	target[t > 0 ? t : 0] = '\0';
	if (n < cap)
		snprintf(out + n, cap - n, "; stderr %s; connection_fd %s", target, conn ? conn : "unset");
}

static void delay(const struct script *sc)
{
	struct timespec ts = {sc->delay_ms / 1000, (sc->delay_ms % 1000) * 1000000L};

	if (sc->delay_ms <= 0)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void answer_confirm(const struct script *sc)
{
	static const char *names[] = {"once", "always", "deny", "timeout"};
	static const char *replies[] = {"OK", ERR_NOT_CONFIRMED, ERR_CANCELED, ERR_TIMEOUT};

	delay(sc);
	log_answer(names[sc->consent]);
	reply(replies[sc->consent]);
}

static void answer_last_try(const struct script *sc)
{
	delay(sc);
	log_answer(sc->lasttry_no ? "lasttry-no" : "lasttry-yes");
	reply(sc->lasttry_no ? ERR_CANCELED : "OK");
}

static void answer_getpin(struct script *sc)
{
	if (sc->used < sc->nnext) {
		const char *v = sc->next[sc->used++];
		struct script one = *sc;

		one.pin_mode = strcmp(v, "\n") == 0 ? PIN_CANCEL : PIN_VALUE;
		set_field(one.pin, sizeof(one.pin), v);
		one.nnext = one.used = 0;
		answer_getpin(&one);
		explicit_bzero(&one, sizeof(one));
		return;
	}

	static const char hex[] = "0123456789ABCDEF";
	char d[3 * sizeof(sc->pin) + 3];
	size_t n = 0;

	delay(sc);
	if (sc->pin_mode == PIN_CANCEL) {
		log_answer("cancel");
		reply(ERR_CANCELED);
		return;
	}
	if (sc->pin_mode == PIN_TIMEOUT) {
		log_answer("timeout");
		reply(ERR_TIMEOUT);
		return;
	}
	log_answer("pin");
	if (sc->lasttry_status)
		reply("S LAST_TRY_CONFIRMED");
	if (sc->pin[0] != '\0') {
		d[n++] = 'D';
		d[n++] = ' ';
		for (const char *p = sc->pin; *p != '\0'; p++) {
			uint8_t c = (uint8_t)*p;

			if (c == '%' || c < 0x20) {
				d[n++] = '%';
				d[n++] = hex[c >> 4];
				d[n++] = hex[c & 0xf];
			} else {
				d[n++] = (char)c;
			}
		}
		d[n] = '\0';
		reply(d);
	}
	reply("OK");
}

static void answer_getinfo(const char *arg)
{
	char d[64];

	if (strcmp(arg, "pid") == 0) {
		snprintf(d, sizeof(d), "D %ld", (long)getpid());
	} else if (strcmp(arg, "version") == 0) {
		snprintf(d, sizeof(d), "D 1.2.1");
	} else if (strcmp(arg, "flavor") == 0) {
		snprintf(d, sizeof(d), "D imza-test");
	} else {
		reply(ERR_UNKNOWN_INFO);
		return;
	}
	reply(d);
	reply("OK");
}

/* imza-prompt's INQUIRE: reads D lines up to END and logs how many bytes came. */
static void inquire(const char *keyword)
{
	char *line = NULL, note[96];
	size_t cap = 0, bytes = 0;
	ssize_t len;
	char ask[64];

	snprintf(ask, sizeof(ask), "INQUIRE %s", keyword);
	reply(ask);
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (strcmp(line, "END") == 0)
			break;
		if (strncmp(line, "D ", 2) == 0)
			bytes += percent_decode(line + 2);
	}
	free(line);
	snprintf(note, sizeof(note), "%s %zu", keyword, bytes);
	log_line("INQUIRED", note, strlen(note));
	reply("OK");
}

static void answer_choose(const struct script *sc)
{
	char d[80];

	delay(sc);
	if (strcmp(sc->choose, "cancel") == 0) {
		log_answer("choose-cancel");
		reply(ERR_CANCELED);
		return;
	}
	snprintf(d, sizeof(d), "D %s",
	         strncmp(sc->choose, "raw ", 4) == 0 ? sc->choose + 4
	         : sc->choose[0]                     ? sc->choose
	                                             : "0");
	log_answer("choose");
	reply(d);
	reply("OK");
}

int main(void)
{
	static const char *const plain_ok[] = {
	        "OPTION",      "SETTITLE",      "SETDESC",
	        "SETPROMPT",   "SETOK",         "SETNOTOK",
	        "SETCANCEL",   "SETERROR",      "SETTIMEOUT",
	        "SETKEYINFO",  "SETREPEAT",     "SETREPEATERROR",
	        "SETREPEATOK", "SETQUALITYBAR", "SETQUALITYBAR_TT",
	        "SETGENPIN",   "SETGENPIN_TT",  "CLEARPASSPHRASE",
	        "NOP",         "RESET",         "MESSAGE",
	        "END",         "SETORIGIN",     "SETSITE",
	        "SETTRIES",
	};
	struct script sc = {.consent = CONSENT_ALWAYS, .pin_mode = PIN_CANCEL};
	const char *log_path = getenv("IMZA_TEST_PINENTRY_LOG");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool pin_dialog = false; /* SETPROMPT came: a CONFIRM now is the last-try question */
	char facts[512];

	read_script(&sc);
	if (sc.start)
		start_facts(facts, sizeof(facts));
	if (log_path != NULL && log_path[0] != '\0') {
		log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (log_fd < 0) {
			fprintf(stderr, "imza-test-pinentry: %s: %s\n", log_path, strerror(errno));
			return 2;
		}
	}
	if (sc.start)
		log_line("START", facts, strlen(facts));
	reply("OK Pleased to meet you");

	while ((len = getline(&line, &cap, stdin)) > 0) {
		char *cmd = line, *arg;
		size_t arg_len;
		bool known = false;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if ((size_t)len > LINE_MAX_LEN) {
			reply(ERR_LINE_TOO_LONG);
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		arg = line + strcspn(line, " ");
		if (*arg != '\0')
			*arg++ = '\0';
		arg_len = percent_decode(arg);
		log_line(cmd, arg, arg_len);

		if (sc.die[0] != '\0' && strcasecmp(cmd, sc.die) == 0)
			_exit(3);
		if (strcasecmp(cmd, "BYE") == 0) {
			reply("OK closing connection");
			break;
		}
		if (strcasecmp(cmd, "CONFIRM") == 0) {
			if (strcmp(arg, "--one-button") == 0)
				reply("OK");
			else if (pin_dialog)
				answer_last_try(&sc);
			else
				answer_confirm(&sc);
			continue;
		}
		if (strcasecmp(cmd, "SETPROMPT") == 0)
			pin_dialog = true;
		if (strcasecmp(cmd, "GETPIN") == 0) {
			answer_getpin(&sc);
			continue;
		}
		if (strcasecmp(cmd, "GETINFO") == 0) {
			answer_getinfo(arg);
			continue;
		}
		if (strcasecmp(cmd, "SETDOC") == 0 || strcasecmp(cmd, "SETCERT") == 0 ||
		    strcasecmp(cmd, "SETCERTS") == 0) {
			inquire(strcasecmp(cmd, "SETDOC") == 0    ? "DOCUMENT"
			        : strcasecmp(cmd, "SETCERT") == 0 ? "CERTIFICATE"
			                                          : "CERTIFICATES");
			continue;
		}
		if (strcasecmp(cmd, "CHOOSE") == 0) {
			answer_choose(&sc);
			continue;
		}
		for (size_t i = 0; i < sizeof(plain_ok) / sizeof(plain_ok[0]); i++)
			known = known || strcasecmp(cmd, plain_ok[i]) == 0;
		reply(known ? "OK" : ERR_UNKNOWN_CMD);
	}
	free(line);
	if (log_fd >= 0)
		close(log_fd);
	return 0;
}
