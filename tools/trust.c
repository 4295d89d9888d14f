/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl trust / untrust (see trust.h). NSS's certutil (libnss3-tools) changes each database, run
 * without a shell; this file finds the databases (~/.pki/nssdb and the Firefox profiles), decides what
 * each one needs, and says what it did. The system trust store is never touched. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "protocol/proto-client.h"
#include "tools/trust.h"

extern char **environ;

#define NICK "imza local CA"
#define CA_FILE "ca.crt"
#define CERTUTIL "certutil"
/* certutil's answers and profiles.ini are small; more than this is not worth reading. */
#define OUT_MAX (1024 * 1024)
#define INI_MAX (1024 * 1024)
/* A database never holds more certificates under our nickname than this (a bound for the loops). */
#define NICK_MAX 64

void trust_buf_free(struct trust_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static void buf_add(struct trust_buf *b, const char *p, size_t n)
{
	char *d;

	if (b == NULL || b->len + n > OUT_MAX)
		return;
	d = realloc(b->data, b->len + n + 1);
	if (d == NULL)
		return;
	memcpy(d + b->len, p, n);
	b->len += n;
	d[b->len] = '\0';
	b->data = d;
}

/* Runs argv (found in PATH, no shell) with stdin from /dev/null, so that a database with a password
 * makes certutil fail instead of waiting for one. Its stdout and stderr go to out and err (NULL:
 * dropped). Returns its exit status, 256 + the signal that killed it, or -errno. */
int trust_run(char *const argv[], struct trust_buf *out, struct trust_buf *err)
{
	posix_spawn_file_actions_t fa;
	struct pollfd p[2];
	struct trust_buf *dst[2] = {out, err};
	int po[2], pe[2], r, status, open_fds = 2;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		r = -errno;
		close(po[0]);
		close(po[1]);
		return r;
	}
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0) {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, po[1], 1);
		posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
		r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	close(po[1]);
	close(pe[1]);
	if (r != 0) {
		close(po[0]);
		close(pe[0]);
		return -r;
	}
	p[0] = (struct pollfd){.fd = po[0], .events = POLLIN};
	p[1] = (struct pollfd){.fd = pe[0], .events = POLLIN};
	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			char chunk[4096];
			ssize_t n;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1; /* poll skips it from now on */
				open_fds--;
				continue;
			}
			buf_add(dst[i], chunk, (size_t)n);
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status);
}

/* A tool's reason, for our message: the last line it wrote to stderr, or its exit status. */
const char *trust_reason(const struct trust_buf *err, const char *tool, int status)
{
	static char line[512];
	const char *s = err->data ? err->data : "";
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n == 0) {
		snprintf(line, sizeof(line), "%s exited with status %d", tool, status);
		return line;
	}
	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == '\n') {
			s += i;
			n -= i;
			break;
		}
	snprintf(line, sizeof(line), "%.*s", (int)n, s);
	return line;
}

static int path_join(char *out, size_t cap, const char *a, const char *b)
{
	int w = snprintf(out, cap, "%s/%s", a, b);

	return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}

static bool is_file(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	return path_join(p, sizeof(p), dir, name) == 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

bool trust_have_tool(const char *tool)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	if (path == NULL)
		path = "/bin:/usr/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && n < sizeof(dir)) {
			char p[PATH_MAX];

			memcpy(dir, path, n);
			dir[n] = '\0';
			if (is_file(dir, tool) && path_join(p, sizeof(p), dir, tool) == 0 &&
			    access(p, X_OK) == 0)
				return true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

int trust_home_dir(char *out, size_t cap)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home == NULL || home[0] != '/') {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (home == NULL || home[0] != '/' || strlen(home) >= cap)
		return -ENOENT;
	memcpy(out, home, strlen(home) + 1);
	return 0;
}

/* imzad's config dir, found the same way imzad finds it: $XDG_CONFIG_HOME/imza if that is absolute,
 * else ~/.config/imza. */
static int config_dir(const char *home, char *out, size_t cap)
{
	return proto_xdg_dir("XDG_CONFIG_HOME", home, ".config", out, cap);
}

int trust_ca_file(const char *home, const char *config, char *out, size_t cap)
{
	char dir[PATH_MAX];

	if (config == NULL && config_dir(home, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	return path_join(out, cap, config ? config : dir, CA_FILE);
}

static void add_db(struct trust_dbs *d, const char *path)
{
	char real[PATH_MAX];

	if (realpath(path, real) == NULL)
		snprintf(real, sizeof(real), "%s", path);
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->real[i], real) == 0)
			return;
	if (d->n == TRUST_DBS_MAX)
		return;
	snprintf(d->path[d->n], PATH_MAX, "%s", path);
	snprintf(d->real[d->n], PATH_MAX, "%s", real);
	d->n++;
}

int trust_read_small_file(const char *path, size_t max, struct trust_buf *ret)
{
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return -errno;
	ret->data = NULL;
	ret->len = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && ret->len + n <= max)
		buf_add(ret, chunk, n);
	fclose(f);
	if (ret->data == NULL)
		buf_add(ret, "", 0);
	return ret->data ? 0 : -ENOMEM;
}

/* One [ProfileN] section of profiles.ini: the profile's dir, if it has a cert9.db. */
static void add_profile(struct trust_dbs *d, const char *inidir, const char *path, int relative)
{
	char full[PATH_MAX];

	if (path[0] == '\0')
		return;
	/* No IsRelative: what the path looks like decides. */
	if (relative < 0)
		relative = path[0] != '/';
	if (relative) {
		if (path_join(full, sizeof(full), inidir, path) < 0)
			return;
	} else if (snprintf(full, sizeof(full), "%s", path) >= (int)sizeof(full)) {
		return;
	}
	if (is_file(full, "cert9.db"))
		add_db(d, full);
}

/* The profiles profiles.ini in inidir lists (Firefox's own [Install...] sections name them again and
 * are skipped). */
static void firefox_profiles(struct trust_dbs *d, const char *inidir)
{
	char ini[PATH_MAX], path[PATH_MAX] = "";
	bool in_profile = false;
	int relative = -1;
	struct trust_buf b = {0};
	char *line, *next;

	if (path_join(ini, sizeof(ini), inidir, "profiles.ini") < 0 ||
	    trust_read_small_file(ini, INI_MAX, &b) < 0)
		return;
	for (line = b.data; line; line = next) {
		size_t n;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (line[0] == '[') {
			if (in_profile)
				add_profile(d, inidir, path, relative);
			in_profile = strncmp(line, "[Profile", 8) == 0;
			path[0] = '\0';
			relative = -1;
		} else if (in_profile && strncmp(line, "Path=", 5) == 0) {
			snprintf(path, sizeof(path), "%s", line + 5);
		} else if (in_profile && strncmp(line, "IsRelative=", 11) == 0) {
			relative = strcmp(line + 11, "0") != 0;
		}
	}
	if (in_profile)
		add_profile(d, inidir, path, relative);
	trust_buf_free(&b);
}

/* How many certificates the listing of a database shows under our nickname, and whether they all
 * have exactly the trust we give ("C,,": a CA for TLS servers, nothing else). */
static int count_nick(const char *listing, bool *ret_trusted)
{
	const size_t nl = strlen(NICK);
	bool trusted = true;
	int n = 0;

	for (const char *line = listing, *eol; line && *line; line = eol ? eol + 1 : NULL) {
		const char *t = line + nl, *end;
		size_t tl;

		eol = strchr(line, '\n');
		if (strncmp(line, NICK, nl) != 0 || (*t != ' ' && *t != '\t'))
			continue;
		while (*t == ' ' || *t == '\t')
			t++;
		tl = strcspn(t, " \t\r\n");
		/* "imza local CA 2   C,," is another nickname: after the trust flags only blanks may follow. */
		end = t + tl;
		while (*end == ' ' || *end == '\t' || *end == '\r')
			end++;
		if (tl == 0 || (*end != '\n' && *end != '\0'))
			continue;
		if (tl != 3 || memcmp(t, "C,,", 3) != 0)
			trusted = false;
		n++;
	}
	*ret_trusted = trusted;
	return n;
}

/* Is the one certificate stored under our nickname ca itself? */
static bool holds_exactly(const char *spec, X509 *ca)
{
	char *argv[] = {CERTUTIL, "-L", "-d", (char *)spec, "-n", NICK, "-a", NULL};
	struct trust_buf out = {NULL, 0};
	int total = 0, same = 0;
	BIO *b = NULL;
	X509 *x;

	if (trust_run(argv, &out, NULL) == 0 && out.data)
		b = BIO_new_mem_buf(out.data, (int)out.len);
	while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		total++;
		same += X509_cmp(x, ca) == 0;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(b);
	trust_buf_free(&out);
	return total == 1 && same == 1;
}

/* Lists the database: -1 (reported) when certutil cannot read it, else the count of our entries. */
static int list_db(const char *spec, bool *ret_trusted)
{
	char *argv[] = {CERTUTIL, "-L", "-d", (char *)spec, NULL};
	struct trust_buf out = {NULL, 0}, err = {NULL, 0};
	int st = trust_run(argv, &out, &err), n = -1;

	if (st != 0)
		fprintf(stderr, "imzactl: cannot read %s: %s\n", spec,
		        st < 0 ? strerror(-st) : trust_reason(&err, CERTUTIL, st));
	else
		n = count_nick(out.data ? out.data : "", ret_trusted);
	trust_buf_free(&out);
	trust_buf_free(&err);
	return n;
}

/* Deletes n entries named NICK (certutil -D takes one at a time). */
static int delete_nick(const char *spec, int n)
{
	char *argv[] = {CERTUTIL, "-D", "-d", (char *)spec, "-n", NICK, NULL};

	for (int i = 0; i < n && i < NICK_MAX; i++) {
		struct trust_buf err = {NULL, 0};
		int st = trust_run(argv, NULL, &err);

		if (st != 0) {
			fprintf(stderr, "imzactl: cannot remove %s from %s: %s\n", NICK, spec,
			        st < 0 ? strerror(-st) : trust_reason(&err, CERTUTIL, st));
			trust_buf_free(&err);
			return -1;
		}
		trust_buf_free(&err);
	}
	return 0;
}

int trust_db(const char *db, const char *cafile, X509 *ca, bool dry_run)
{
	char spec[PATH_MAX + 8];
	char *argv[] = {CERTUTIL, "-A", "-d", spec, "-n", NICK, "-t", "C,,", "-i", (char *)cafile, NULL};
	struct trust_buf err = {NULL, 0};
	bool trusted = false;
	int n, st;

	snprintf(spec, sizeof(spec), "sql:%s", db);
	n = list_db(spec, &trusted);
	if (n < 0)
		return -1;
	if (n == 1 && trusted && holds_exactly(spec, ca)) {
		printf("%s already there in %s\n", NICK, spec);
		return 0;
	}
	if (dry_run) {
		printf("would add %s to %s%s\n", NICK, spec, n > 0 ? " (in place of an older one)" : "");
		return 1;
	}
	/* An older CA (imzad renewed it), or ours with other trust: out first, or -A would add a second
	 * certificate under the name, or fail. */
	if (delete_nick(spec, n) < 0)
		return -1;
	st = trust_run(argv, NULL, &err);
	if (st != 0) {
		fprintf(stderr, "imzactl: cannot add %s to %s: %s\n", NICK, spec,
		        st < 0 ? strerror(-st) : trust_reason(&err, CERTUTIL, st));
		if (err.data && strstr(err.data, "SEC_ERROR_BAD_PASSWORD"))
			fprintf(stderr,
			        "imzactl: that database has a password (Firefox's primary password?): import "
			        "%s "
			        "in the browser's certificate settings instead\n",
			        cafile);
		trust_buf_free(&err);
		return -1;
	}
	trust_buf_free(&err);
	printf("added %s to %s%s\n", NICK, spec, n > 0 ? " (in place of an older one)" : "");
	return 1;
}

int trust_untrust_db(const char *db)
{
	char spec[PATH_MAX + 8];
	bool trusted;
	int n;

	snprintf(spec, sizeof(spec), "sql:%s", db);
	n = list_db(spec, &trusted);
	if (n <= 0)
		return n;
	if (delete_nick(spec, n) < 0)
		return -1;
	printf("removed %s from %s\n", NICK, spec);
	return 1;
}

int trust_legacy_db(const char *home, char *out, size_t cap)
{
	return path_join(out, cap, home, ".pki/nssdb");
}

int trust_modern_db(const char *home, char *out, size_t cap)
{
	const char *data = getenv("XDG_DATA_HOME");
	char base[PATH_MAX];

	if (data && data[0] == '/') {
		if (snprintf(base, sizeof(base), "%s", data) >= (int)sizeof(base))
			return -ENAMETOOLONG;
	} else if (path_join(base, sizeof(base), home, ".local/share") < 0) {
		return -ENAMETOOLONG;
	}
	return path_join(out, cap, base, "pki/nssdb");
}

/* Chromium 146 and later keep the user's NSS database in $XDG_DATA_HOME/pki/nssdb, but go on with
 * ~/.pki/nssdb (where older ones and NSS's "shared database" keep it) as long as that exists. Making
 * ~/.pki/nssdb next to a modern one would hide the user's certificates from Chromium. */
int trust_chromium_db(const char *home, char *out, size_t cap)
{
	char legacy[PATH_MAX];
	struct stat st;

	if (trust_legacy_db(home, legacy, sizeof(legacy)) < 0)
		return -ENAMETOOLONG;
	if (stat(legacy, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (strlen(legacy) >= cap)
			return -ENAMETOOLONG;
		memcpy(out, legacy, strlen(legacy) + 1);
		return 0;
	}
	return trust_modern_db(home, out, cap);
}

bool trust_is_db(const char *dir)
{
	return is_file(dir, "cert9.db");
}

int trust_make_db(const char *db)
{
	char spec[PATH_MAX + 8];
	char *argv[] = {CERTUTIL, "-N", "-d", spec, "--empty-password", NULL};
	struct trust_buf err = {NULL, 0};
	int st;

	snprintf(spec, sizeof(spec), "sql:%s", db);
	st = trust_run(argv, NULL, &err);
	if (st != 0) {
		fprintf(stderr, "imzactl: cannot make an NSS database in %s: %s\n", db,
		        st < 0 ? strerror(-st) : trust_reason(&err, CERTUTIL, st));
		trust_buf_free(&err);
		return -1;
	}
	trust_buf_free(&err);
	printf("made a new NSS database %s (Chromium reads it)\n", spec);
	return 0;
}

int trust_mkdirs(const char *home, const char *dir, void (*made)(const char *dir, void *arg), void *arg)
{
	char d[PATH_MAX];
	size_t hl = strlen(home);

	if (snprintf(d, sizeof(d), "%s", dir) >= (int)sizeof(d))
		return -ENAMETOOLONG;
	for (char *p = d + 1;; p++) {
		bool end = *p == '\0';
		struct stat st;

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (stat(d, &st) < 0) {
			if (errno != ENOENT || mkdir(d, 0700) < 0)
				return -errno;
			if (made && strncmp(d, home, hl) == 0 && d[hl] == '/')
				made(d, arg);
		} else if (!S_ISDIR(st.st_mode)) {
			return -ENOTDIR;
		}
		if (end)
			return 0;
		*p = '/';
	}
}

/* Chromium's database, made (empty, no password) when trust finds none, so that Chromium and other
 * NSS programs trust the CA from their next start. */
static int shared_db(const char *home, bool create, struct trust_dbs *d)
{
	char db[PATH_MAX];
	int e;

	if (trust_chromium_db(home, db, sizeof(db)) < 0)
		return -1;
	if (trust_is_db(db) || !create)
		return 0;
	e = trust_mkdirs(home, db, NULL, NULL);
	if (e < 0) {
		fprintf(stderr, "imzactl: cannot make %s: %s\n", db, strerror(-e));
		return -1;
	}
	if (trust_make_db(db) < 0)
		return -1;
	add_db(d, db);
	return 0;
}

void trust_find_dbs(const char *home, struct trust_dbs *d)
{
	char sub[PATH_MAX];

	/* Both of Chromium's places: the one it uses has the module and the CA whichever it is. */
	if (trust_legacy_db(home, sub, sizeof(sub)) == 0 && trust_is_db(sub))
		add_db(d, sub);
	if (trust_modern_db(home, sub, sizeof(sub)) == 0 && trust_is_db(sub))
		add_db(d, sub);
	/* Chromium's snap keeps its own ~/.pki in the snap's data dir ("current" follows the revision). */
	if (path_join(sub, sizeof(sub), home, "snap/chromium/current/.pki/nssdb") == 0 && trust_is_db(sub))
		add_db(d, sub);
	/* Debian's firefox-esr keeps its profiles where Mozilla's firefox does: ~/.mozilla/firefox, or,
	 * for a user whose first Firefox was a recent one (153 does this), $XDG_CONFIG_HOME/mozilla/firefox. */
	if (path_join(sub, sizeof(sub), home, ".mozilla/firefox") == 0)
		firefox_profiles(d, sub);
	if (proto_xdg_dir("XDG_CONFIG_HOME", home, ".config", sub, sizeof(sub)) == 0) {
		char *slash = strrchr(sub, '/'); /* proto_xdg_dir ends in "/imza" */

		if (slash && strlen(sub) + strlen("/mozilla/firefox") < sizeof(sub)) {
			memcpy(slash, "/mozilla/firefox", strlen("/mozilla/firefox") + 1);
			firefox_profiles(d, sub);
		}
	}
	if (path_join(sub, sizeof(sub), home, "snap/firefox/common/.mozilla/firefox") == 0)
		firefox_profiles(d, sub);
}

X509 *trust_read_ca(const char *cafile)
{
	FILE *f = fopen(cafile, "re");
	X509 *x;

	if (f == NULL) {
		if (errno == ENOENT)
			fprintf(stderr, "imzactl: %s: imzad has not made its CA yet: start imzad once\n",
			        cafile);
		else
			fprintf(stderr, "imzactl: %s: %s\n", cafile, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (x == NULL)
		fprintf(stderr, "imzactl: %s is not a PEM certificate\n", cafile);
	return x;
}

static void trust_usage(FILE *f)
{
	fprintf(f,
	        "usage: imzactl trust [--config-dir DIR]\n"
	        "       imzactl untrust\n"
	        "trust adds imza's local CA (DIR/ca.crt; DIR is $XDG_CONFIG_HOME/imza or ~/.config/imza) to\n"
	        "~/.pki/nssdb and the Firefox profiles; untrust takes it out of them again.\n");
}

bool trust_is_command(const char *name)
{
	return name && (strcmp(name, "trust") == 0 || strcmp(name, "untrust") == 0);
}

int trust_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config-dir", required_argument, NULL, 'c'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static struct trust_dbs dbs;
	const bool untrust = strcmp(argv[0], "untrust") == 0;
	char home[PATH_MAX], cafile[PATH_MAX];
	const char *config = NULL;
	int opt, failed = 0, changed = 0;
	X509 *ca = NULL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			trust_usage(stdout);
			return 0;
		default:
			trust_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		trust_usage(stderr);
		return 2;
	}
	if (trust_home_dir(home, sizeof(home)) < 0) {
		fprintf(stderr, "imzactl: no home directory (HOME)\n");
		return 1;
	}
	if (trust_ca_file(home, config, cafile, sizeof(cafile)) < 0) {
		fprintf(stderr, "imzactl: the config dir's path is too long\n");
		return 1;
	}
	if (!untrust && (ca = trust_read_ca(cafile)) == NULL)
		return 1;
	if (!trust_have_tool(CERTUTIL)) {
		fprintf(stderr,
		        "imzactl: certutil not found: install libnss3-tools (Debian, Ubuntu) or nss-tools "
		        "(Fedora)\n");
		X509_free(ca);
		return 1;
	}

	dbs.n = 0;
	if (shared_db(home, !untrust, &dbs) < 0)
		failed++;
	trust_find_dbs(home, &dbs);
	for (size_t i = 0; i < dbs.n; i++) {
		int r = untrust ? trust_untrust_db(dbs.path[i]) : trust_db(dbs.path[i], cafile, ca, false);

		if (r < 0)
			failed++;
		else if (r > 0)
			changed++;
	}
	if (untrust && changed == 0 && failed == 0)
		printf("nothing to remove\n");
	if (changed > 0)
		printf("Browsers that are running read the change when they start again.\n");
	if (untrust)
		printf("The system trust store (/etc/ssl/certs) was not touched.\n");
	else
		printf("The system trust store (/etc/ssl/certs) is not touched: programs that read only it "
		       "(curl, "
		       "wget, Python) do not trust imza's CA.\n");
	X509_free(ca);
	return failed ? 1 : 0;
}
