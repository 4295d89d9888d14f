/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl setup [--undo]: readies a user's desktop in one command: imza's module in each NSS database
 * (unless p11-kit-proxy loads it there already), the local CA trusted there (trust.c does that part),
 * and imzad's user units enabled. Each change is recorded in a state file so that --undo reverses
 * exactly those; that file is read back as untrusted input (state_load, state_parse, entry_check). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "protocol/proto-client.h"
#include "tools/setup.h"
#include "tools/trust.h"

#ifndef IMZA_PKCS11_MODULE
#define IMZA_PKCS11_MODULE "/usr/local/lib/pkcs11/imza-pkcs11.so"
#endif

#define MODNAME "imza"
#define MODUTIL "modutil"
#define CERTUTIL "certutil"
#define SYSTEMCTL "systemctl"
#define STATE_NAME "setup"
#define STATE_MAGIC "imza-setup 1"
/* What setup can record is bounded (a few entries per database), so a larger file is not ours. */
#define STATE_MAX (64 * 1024)
#define ENTRIES_MAX (TRUST_DBS_MAX * 3 + 16)
#define PKCS11_TXT_MAX (256 * 1024)
#define P11KIT_FILES_MAX 128
/* How long setup waits for a socket-activated imzad to write its CA. */
#define CA_WAIT_MS 5000

static const char *const units[] = {"imzad.socket", "imzad-https.socket"};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

enum kind { K_UNIT, K_CA, K_MODULE, K_MADE_DB, K_MADE_DIR, K_COUNT };
static const char *const kind_names[K_COUNT] = {"unit", "ca", "module", "made-db", "made-dir"};

struct entry {
	enum kind kind;
	char arg[PATH_MAX];
};

struct setup {
	char home[PATH_MAX], home_real[PATH_MAX];
	char state_dir[PATH_MAX], state_file[PATH_MAX];
	char chromium_db[PATH_MAX];                    /* the one Chromium uses (trust_chromium_db) */
	char legacy_db[PATH_MAX], modern_db[PATH_MAX]; /* its two places */
	char module[PATH_MAX];                         /* real path */
	bool dry_run;
	struct entry e[ENTRIES_MAX];
	size_t n;
	bool loaded; /* a state file was there */
};

static int join(char *out, size_t cap, const char *a, const char *b)
{
	int w = snprintf(out, cap, "%s/%s", a, b);

	return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- the state file ---- */

/* Is p, as written, a clean absolute path strictly below dir? No "." or ".." parts, no "//", no
 * trailing "/", no control characters. */
static bool clean_below(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (p[0] != '/' || strncmp(p, dir, n) != 0 || p[n] != '/' || p[n + 1] == '\0')
		return false;
	for (const char *s = p; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	for (const char *s = p; *s; s++) {
		if (*s != '/')
			continue;
		if (s[1] == '/' || s[1] == '\0' || (s[1] == '.' && (s[2] == '/' || s[2] == '\0')) ||
		    (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0')))
			return false;
	}
	return true;
}

/* Is p dir itself or one of its parents strictly below home? */
static bool on_path_below_home(const struct setup *s, const char *dir, const char *p)
{
	size_t hl = strlen(s->home), pl = strlen(p);

	return strncmp(p, s->home, hl) == 0 && p[hl] == '/' && strncmp(dir, p, pl) == 0 &&
	       (dir[pl] == '/' || dir[pl] == '\0');
}

/* The directories setup may make, and so the only ones undo may remove (rmdir: only when empty):
 * Chromium's database in either of its places, the state dir, and their parents below home. */
static bool dir_setup_makes(const struct setup *s, const char *p)
{
	return strcmp(p, s->state_dir) == 0 || on_path_below_home(s, s->state_dir, p) ||
	       on_path_below_home(s, s->legacy_db, p) || on_path_below_home(s, s->modern_db, p);
}

/* Is the database entry's real path (symbolic links followed) below the real home? A path that no
 * longer exists passes: undo finds it gone and says so. */
static bool real_below_home(const struct setup *s, const char *p)
{
	char real[PATH_MAX];
	size_t n = strlen(s->home_real);

	if (realpath(p, real) == NULL)
		return errno == ENOENT;
	return strncmp(real, s->home_real, n) == 0 && real[n] == '/';
}

/* NULL when the entry is one setup could have written, else why not. */
static const char *entry_check(const struct setup *s, const struct entry *e)
{
	switch (e->kind) {
	case K_UNIT:
		for (size_t i = 0; i < N_UNITS; i++)
			if (strcmp(e->arg, units[i]) == 0)
				return NULL;
		return "not one of imza's units";
	case K_CA:
	case K_MODULE:
		if (!clean_below(e->arg, s->home))
			return "not a database below the home directory";
		if (!real_below_home(s, e->arg))
			return "leads out of the home directory";
		return NULL;
	case K_MADE_DB:
		if (strcmp(e->arg, s->legacy_db) != 0 && strcmp(e->arg, s->modern_db) != 0)
			return "not the database setup makes";
		if (!clean_below(e->arg, s->home) || !real_below_home(s, e->arg))
			return "leads out of the home directory";
		return NULL;
	case K_MADE_DIR:
		if (!dir_setup_makes(s, e->arg))
			return "not a directory setup makes";
		/* The state dir may be outside home ($XDG_STATE_HOME); every other one is below it. */
		if (strcmp(e->arg, s->state_dir) == 0 && !clean_below(e->arg, s->home))
			return NULL;
		if (!clean_below(e->arg, s->home) || !real_below_home(s, e->arg))
			return "leads out of the home directory";
		return NULL;
	default:
		return "unknown";
	}
}

static bool recorded(const struct setup *s, enum kind k, const char *arg)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].kind == k && strcmp(s->e[i].arg, arg) == 0)
			return true;
	return false;
}

/* Parses the whole file strictly; any line that is not exactly what setup writes refuses all of it. */
static int state_parse(struct setup *s, char *text, size_t len)
{
	size_t lineno = 0;
	bool magic = false;

	if (memchr(text, '\0', len) != NULL) {
		fprintf(stderr, "imzactl: %s: holds a NUL byte\n", s->state_file);
		return -EBADMSG;
	}
	if (len > 0 && text[len - 1] != '\n') {
		fprintf(stderr, "imzactl: %s: the last line is cut off\n", s->state_file);
		return -EBADMSG;
	}
	for (char *line = text, *nl; line < text + len; line = nl + 1) {
		struct entry e;
		const char *why = NULL;
		char *sp;
		int k;

		nl = strchr(line, '\n');
		*nl = '\0';
		lineno++;
		if (line[0] == '#')
			continue;
		if (!magic) {
			if (strcmp(line, STATE_MAGIC) != 0) {
				fprintf(stderr, "imzactl: %s:%zu: not an imza setup record\n", s->state_file,
				        lineno);
				return -EBADMSG;
			}
			magic = true;
			continue;
		}
		sp = strchr(line, ' ');
		for (k = 0; sp && k < K_COUNT; k++)
			if ((size_t)(sp - line) == strlen(kind_names[k]) &&
			    strncmp(line, kind_names[k], (size_t)(sp - line)) == 0)
				break;
		if (sp == NULL || k == K_COUNT)
			why = "unknown entry";
		else if (strlen(sp + 1) >= sizeof(e.arg))
			why = "too long";
		else if (s->n == ENTRIES_MAX)
			why = "too many entries";
		if (why == NULL) {
			e.kind = (enum kind)k;
			memcpy(e.arg, sp + 1, strlen(sp + 1) + 1);
			why = entry_check(s, &e);
		}
		if (why) {
			fprintf(stderr, "imzactl: %s:%zu: %s: %s\n", s->state_file, lineno, why,
			        sp ? sp + 1 : line);
			return -EBADMSG;
		}
		if (!recorded(s, e.kind, e.arg))
			s->e[s->n++] = e;
	}
	if (!magic && len > 0) {
		fprintf(stderr, "imzactl: %s: not an imza setup record\n", s->state_file);
		return -EBADMSG;
	}
	return 0;
}

/* Reads the state file: a regular file of ours, not a link, at most STATE_MAX bytes. 0 also when
 * there is none. */
static int state_load(struct setup *s)
{
	char *text;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = open(s->state_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY), e;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		fprintf(stderr, "imzactl: %s: %s\n", s->state_file,
		        errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -EBADMSG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() || st.st_size > STATE_MAX) {
		fprintf(stderr, "imzactl: %s: not a small regular file of this user's\n", s->state_file);
		close(fd);
		return -EBADMSG;
	}
	text = malloc(STATE_MAX + 1);
	if (text == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (len <= STATE_MAX && (n = read(fd, text + len, STATE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len > STATE_MAX) {
		fprintf(stderr, "imzactl: %s: larger than %d bytes\n", s->state_file, STATE_MAX);
		free(text);
		return -EBADMSG;
	}
	text[len] = '\0';
	s->loaded = true;
	e = state_parse(s, text, len);
	free(text);
	return e;
}

static void note_made_dir(const char *dir, void *arg)
{
	struct setup *s = arg;

	if (dir_setup_makes(s, dir) && !recorded(s, K_MADE_DIR, dir) && s->n < ENTRIES_MAX) {
		s->e[s->n].kind = K_MADE_DIR;
		snprintf(s->e[s->n++].arg, PATH_MAX, "%s", dir);
	}
}

/* Makes the state dir (0700) and the parents it lacks, recording the ones it made. */
static int state_mkdir(struct setup *s)
{
	bool existed = is_dir(s->state_dir);
	int e = trust_mkdirs(s->home, s->state_dir, note_made_dir, s);

	/* One outside home ($XDG_STATE_HOME) is recorded too: the record is in it. */
	if (e == 0 && !existed)
		note_made_dir(s->state_dir, s);
	return e;
}

/* Writes the entries to a new file and renames it over the old one: a reader sees the old record or
 * the new one, never half. No entries: the file goes. */
static int state_save(struct setup *s)
{
	char tmp[PATH_MAX + 16];
	FILE *f;
	int fd, e = 0;

	if (s->dry_run)
		return 0;
	if (s->n == 0) {
		if (unlink(s->state_file) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	e = state_mkdir(s);
	if (e < 0) {
		fprintf(stderr, "imzactl: cannot make %s: %s\n", s->state_dir, strerror(-e));
		return e;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->state_file);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		e = -errno;
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "imzactl: cannot write %s: %s\n", tmp, strerror(-e));
		return e;
	}
	fprintf(f, "# What `imzactl setup` changed, so that `imzactl setup --undo` can reverse it.\n%s\n",
	        STATE_MAGIC);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s %s\n", kind_names[s->e[i].kind], s->e[i].arg);
	if (fflush(f) != 0 || fsync(fd) < 0)
		e = -errno;
	if (fclose(f) != 0 && e == 0)
		e = -errno;
	if (e == 0 && rename(tmp, s->state_file) < 0)
		e = -errno;
	if (e < 0) {
		unlink(tmp);
		fprintf(stderr, "imzactl: cannot write %s: %s\n", s->state_file, strerror(-e));
	}
	return e;
}

/* Records one change and saves the record at once, so that a later failure loses none. */
static int record(struct setup *s, enum kind k, const char *arg)
{
	if (s->dry_run || recorded(s, k, arg))
		return 0;
	if (s->n == ENTRIES_MAX) {
		fprintf(stderr, "imzactl: too many changes to record\n");
		return -ENOSPC;
	}
	s->e[s->n].kind = k;
	snprintf(s->e[s->n++].arg, PATH_MAX, "%s", arg);
	return state_save(s);
}

/* ---- NSS databases: pkcs11.txt, modutil ---- */

struct modlist {
	bool proxy; /* p11-kit-proxy.so is one of the modules */
	bool named; /* a module is named MODNAME */
	char named_lib[PATH_MAX];
	char ours[256]; /* the name under which our library is there, "" if not */
};

static const char *base(const char *p)
{
	const char *slash = strrchr(p, '/');

	return slash ? slash + 1 : p;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void modules_entry(const struct setup *s, struct modlist *m, char *lib, char *name)
{
	if (lib[0] && strcmp(base(lib), "p11-kit-proxy.so") == 0)
		m->proxy = true;
	if (strcmp(name, MODNAME) == 0) {
		m->named = true;
		snprintf(m->named_lib, sizeof(m->named_lib), "%s", lib);
	}
	if (lib[0] && m->ours[0] == '\0' && same_file(lib, s->module))
		snprintf(m->ours, sizeof(m->ours), "%s", name);
	lib[0] = name[0] = '\0';
}

/* NSS's module list of a database (pkcs11.txt: blank-line separated entries of key=value lines). */
static void modules_of(const struct setup *s, const char *db, struct modlist *m)
{
	char path[PATH_MAX], lib[PATH_MAX] = "", name[256] = "";
	struct trust_buf b = {NULL, 0};

	memset(m, 0, sizeof(*m));
	if (join(path, sizeof(path), db, "pkcs11.txt") < 0 ||
	    trust_read_small_file(path, PKCS11_TXT_MAX, &b) < 0)
		return;
	for (char *line = b.data, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (line[0] == '\0')
			modules_entry(s, m, lib, name);
		else if (strncmp(line, "library=", 8) == 0)
			snprintf(lib, sizeof(lib), "%s", line + 8);
		else if (strncmp(line, "name=", 5) == 0)
			snprintf(name, sizeof(name), "%s", line + 5);
	}
	modules_entry(s, m, lib, name);
	trust_buf_free(&b);
}

/* Does a token list ("a, b c") of a p11-kit option name the proxy? */
static bool lists_proxy(const char *v)
{
	while (*v) {
		size_t n;

		v += strspn(v, ", \t");
		n = strcspn(v, ", \t");
		if (n == strlen("p11-kit-proxy") && strncmp(v, "p11-kit-proxy", n) == 0)
			return true;
		v += n;
	}
	return false;
}

struct p11kit_conf {
	char file[NAME_MAX + 1];
	char module[PATH_MAX];
	char enable_in[512], disable_in[512];
	bool has_enable_in;
};

/* Reads one module config file's keys over what a file of the same name in an earlier dir said. */
static void p11kit_read(const char *path, struct p11kit_conf *c)
{
	struct trust_buf b = {NULL, 0};
	char *line, *next;

	if (trust_read_small_file(path, 64 * 1024, &b) < 0)
		return;
	for (line = b.data; line && *line; line = next) {
		char *v;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		v = strchr(line, ':');
		if (line[0] == '#' || v == NULL)
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		for (size_t n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r');
		     n--)
			v[n - 1] = '\0';
		if (strcmp(line, "module") == 0)
			snprintf(c->module, sizeof(c->module), "%s", v);
		else if (strcmp(line, "enable-in") == 0) {
			snprintf(c->enable_in, sizeof(c->enable_in), "%s", v);
			c->has_enable_in = true;
		} else if (strcmp(line, "disable-in") == 0)
			snprintf(c->disable_in, sizeof(c->disable_in), "%s", v);
	}
	trust_buf_free(&b);
}

/* Does p11-kit's configuration have p11-kit-proxy load our module? Module files come from the
 * packages' dir, the administrator's and the user's; a later file of the same name overrides the keys
 * it sets. A relative module path is in p11-kit's module dir: its file name decides. */
static bool p11kit_loads_ours(const struct setup *s, char *ret_file, size_t cap)
{
	static struct p11kit_conf conf[P11KIT_FILES_MAX];
	char user[PATH_MAX];
	const char *dirs[3] = {"/usr/share/p11-kit/modules", "/etc/pkcs11/modules", user};
	size_t n = 0;
	bool found = false;

	if (join(user, sizeof(user), s->home, ".config/pkcs11/modules") < 0)
		user[0] = '\0';
	for (size_t d = 0; d < 3; d++) {
		DIR *dir = dirs[d][0] ? opendir(dirs[d]) : NULL;
		struct dirent *de;

		while (dir && (de = readdir(dir)) != NULL) {
			size_t l = strlen(de->d_name), i;
			char path[PATH_MAX];

			if (l <= 7 || strcmp(de->d_name + l - 7, ".module") != 0 || de->d_name[0] == '.')
				continue;
			for (i = 0; i < n && strcmp(conf[i].file, de->d_name) != 0; i++)
				;
			if (i == n) {
				if (n == P11KIT_FILES_MAX)
					continue;
				memset(&conf[n], 0, sizeof(conf[n]));
				snprintf(conf[n].file, sizeof(conf[n].file), "%s", de->d_name);
				n++;
			}
			if (join(path, sizeof(path), dirs[d], de->d_name) == 0)
				p11kit_read(path, &conf[i]);
		}
		if (dir)
			closedir(dir);
	}
	for (size_t i = 0; i < n && !found; i++) {
		const struct p11kit_conf *c = &conf[i];
		bool ours = c->module[0] == '/'
		                    ? same_file(c->module, s->module)
		                    : c->module[0] && strcmp(base(c->module), base(s->module)) == 0;

		if (!ours || (c->has_enable_in && !lists_proxy(c->enable_in)) || lists_proxy(c->disable_in))
			continue;
		snprintf(ret_file, cap, "%s", c->file);
		found = true;
	}
	return found;
}

static int modutil(const char *db, const char *what, const char *arg1, const char *arg2)
{
	char spec[PATH_MAX + 8];
	char *argv[] = {MODUTIL, "-force",     "-dbdir",     spec, (char *)what,
	                MODNAME, (char *)arg1, (char *)arg2, NULL};
	struct trust_buf err = {NULL, 0};
	int st;

	snprintf(spec, sizeof(spec), "sql:%s", db);
	st = trust_run(argv, NULL, &err);
	if (st != 0)
		fprintf(stderr, "imzactl: modutil %s %s in %s failed: %s\n", what, MODNAME, spec,
		        st < 0 ? strerror(-st) : trust_reason(&err, MODUTIL, st));
	trust_buf_free(&err);
	return st == 0 ? 0 : -1;
}

/* 1 added (or would add), 0 nothing to do, -1 failed. */
static int add_module(struct setup *s, const char *db)
{
	struct modlist m;
	char file[NAME_MAX + 1];

	modules_of(s, db, &m);
	if (m.ours[0]) {
		printf("module %s already in sql:%s%s%s\n", MODNAME, db,
		       strcmp(m.ours, MODNAME) ? " as " : "", strcmp(m.ours, MODNAME) ? m.ours : "");
		return 0;
	}
	if (m.named) {
		fprintf(stderr,
		        "imzactl: sql:%s has a module named %s with another library (%s): left as it is; "
		        "`modutil -dbdir sql:%s -delete %s` removes it\n",
		        db, MODNAME, m.named_lib, db, MODNAME);
		return -1;
	}
	if (m.proxy && p11kit_loads_ours(s, file, sizeof(file))) {
		printf("p11-kit-proxy loads %s in sql:%s (p11-kit's %s): module list left as it is\n",
		       MODNAME, db, file);
		return 0;
	}
	if (s->dry_run) {
		printf("would add module %s (%s) to sql:%s\n", MODNAME, s->module, db);
		return 1;
	}
	if (modutil(db, "-add", "-libfile", s->module) < 0)
		return -1;
	printf("added module %s (%s) to sql:%s\n", MODNAME, s->module, db);
	return record(s, K_MODULE, db) < 0 ? -1 : 1;
}

/* Firefox holds a "lock" symbolic link in a profile it has open. */
static void warn_if_open(const char *db)
{
	char lock[PATH_MAX];
	struct stat st;

	if (join(lock, sizeof(lock), db, "lock") == 0 && lstat(lock, &st) == 0 && S_ISLNK(st.st_mode))
		printf("  (Firefox has this profile open: it sees the change when it starts again)\n");
}

/* Chromium's database when it has none: Chromium makes it at its first start and reads it from then
 * on; made now, Chromium finds the module and the CA there already. */
static int make_chromium_db(struct setup *s)
{
	size_t before = s->n;
	int e;

	if (trust_is_db(s->chromium_db))
		return 0;
	if (!clean_below(s->chromium_db, s->home)) {
		printf("Chromium's database %s would be outside the home directory: not made\n",
		       s->chromium_db);
		return 0;
	}
	if (s->dry_run) {
		printf("would make a new NSS database sql:%s (Chromium reads it)\n", s->chromium_db);
		return 0;
	}
	e = trust_mkdirs(s->home, s->chromium_db, note_made_dir, s);
	if (e < 0) {
		fprintf(stderr, "imzactl: cannot make %s: %s\n", s->chromium_db, strerror(-e));
		if (s->n > before)
			state_save(s);
		return -1;
	}
	if (s->n > before && state_save(s) < 0)
		return -1;
	if (trust_make_db(s->chromium_db) < 0)
		return -1;
	return record(s, K_MADE_DB, s->chromium_db);
}

/* ---- systemd user units ---- */

static char *first_line(struct trust_buf *b)
{
	static char none[1];
	char *d = b->data ? b->data : none;

	d[strcspn(d, "\r\n")] = '\0';
	return d;
}

/* Is there a user service manager to talk to? */
static bool user_manager(void)
{
	char *argv[] = {SYSTEMCTL, "--user", "is-system-running", NULL};
	struct trust_buf out = {NULL, 0};
	const char *l;
	bool up;

	trust_run(argv, &out, NULL);
	l = first_line(&out);
	/* is-system-running exits non-zero for "degraded" too: the word decides. */
	up = strcmp(l, "running") == 0 || strcmp(l, "degraded") == 0 || strcmp(l, "starting") == 0 ||
	     strcmp(l, "initializing") == 0 || strcmp(l, "maintenance") == 0;
	trust_buf_free(&out);
	return up;
}

static void unit_state(const char *unit, char *out, size_t cap)
{
	char *argv[] = {SYSTEMCTL, "--user", "is-enabled", (char *)unit, NULL};
	struct trust_buf o = {NULL, 0};

	trust_run(argv, &o, NULL);
	snprintf(out, cap, "%s", first_line(&o));
	trust_buf_free(&o);
}

/* 1 enabled (or would), 0 nothing to do, -1 failed. */
static int enable_units(struct setup *s)
{
	char *argv[4 + N_UNITS + 1] = {SYSTEMCTL, "--user", "enable", "--now"};
	char list[256] = "";
	struct trust_buf err = {NULL, 0};
	size_t n = 0;
	int st, bad = 0;

	if (!trust_have_tool(SYSTEMCTL) || !user_manager()) {
		printf("no systemd user manager here (systemctl --user): imzad's units were not enabled; "
		       "start imzad yourself\n");
		return 0;
	}
	for (size_t i = 0; i < N_UNITS; i++) {
		char state[64];

		unit_state(units[i], state, sizeof(state));
		if (strcmp(state, "enabled") == 0) {
			printf("%s already enabled\n", units[i]);
		} else if (strcmp(state, "disabled") == 0) {
			argv[4 + n++] = (char *)units[i];
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", n > 1 ? " " : "",
			         units[i]);
		} else {
			fprintf(stderr, "imzactl: %s is %s: left as it is\n", units[i],
			        state[0] ? state : "not installed (no unit file)");
			bad++;
		}
	}
	if (n == 0)
		return bad ? -1 : 0;
	if (s->dry_run) {
		printf("would enable and start %s (systemctl --user enable --now)\n", list);
		return 1;
	}
	st = trust_run(argv, NULL, &err);
	if (st != 0) {
		fprintf(stderr, "imzactl: systemctl --user enable --now %s failed: %s\n", list,
		        st < 0 ? strerror(-st) : trust_reason(&err, SYSTEMCTL, st));
		trust_buf_free(&err);
		return -1;
	}
	trust_buf_free(&err);
	printf("enabled and started %s (systemctl --user enable --now)\n", list);
	for (size_t i = 0; i < n; i++)
		if (record(s, K_UNIT, argv[4 + i]) < 0)
			return -1;
	return bad ? -1 : 1;
}

/* A socket-activated imzad makes its CA when it starts: one connection starts it. */
static void wake_imzad(const char *cafile)
{
	char sock[PATH_MAX];
	struct proto_hello_reply rep;
	int fd;

	if (proto_client_socket_path(sock, sizeof(sock)) < 0 ||
	    proto_client_connect(sock, PROTO_CLIENT_CLI, "imzactl setup", &rep, &fd) < 0)
		return;
	close(fd);
	for (int waited = 0; waited < CA_WAIT_MS && access(cafile, R_OK) != 0; waited += 100)
		nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
}

static int do_setup(struct setup *s, const char *config)
{
	static struct trust_dbs dbs;
	char cafile[PATH_MAX];
	X509 *ca = NULL;
	int failed = 0, changed = 0, r;

	if (!trust_have_tool(MODUTIL) || !trust_have_tool(CERTUTIL)) {
		fprintf(stderr, "imzactl: modutil or certutil not found: install libnss3-tools (Debian, "
		                "Ubuntu) or nss-tools (Fedora)\n");
		return 1;
	}
	/* The units first: a socket-activated imzad makes the CA the next step trusts. */
	r = enable_units(s);
	failed += r < 0;
	changed += r > 0;
	if (trust_ca_file(s->home, config, cafile, sizeof(cafile)) < 0) {
		fprintf(stderr, "imzactl: the config dir's path is too long\n");
		return 1;
	}
	if (access(cafile, R_OK) != 0 && !s->dry_run)
		wake_imzad(cafile);
	if (access(cafile, R_OK) == 0 || !s->dry_run) {
		ca = trust_read_ca(cafile);
		if (ca == NULL) {
			fprintf(stderr,
			        "imzactl: the CA is left out for now: run `imzactl setup` again once imzad "
			        "has started\n");
			failed++;
		}
	} else {
		printf("%s is not there yet: imzad makes it when it first starts\n", cafile);
	}

	dbs.n = 0;
	if (make_chromium_db(s) < 0)
		failed++;
	else if (s->dry_run && !trust_is_db(s->chromium_db) && clean_below(s->chromium_db, s->home)) {
		printf("would add module %s (%s) to sql:%s\n", MODNAME, s->module, s->chromium_db);
		if (ca)
			printf("would add imza local CA to sql:%s\n", s->chromium_db);
		changed++;
	}
	trust_find_dbs(s->home, &dbs);
	for (size_t i = 0; i < dbs.n; i++) {
		const char *db = dbs.path[i];
		char real[PATH_MAX];
		size_t hl = strlen(s->home_real);
		bool db_changed;

		/* Every database setup records is below home; one elsewhere (an absolute profile path) is
		 * set up and left to the user. */
		if (realpath(db, real) == NULL || strncmp(real, s->home_real, hl) != 0 || real[hl] != '/' ||
		    !clean_below(db, s->home)) {
			printf("sql:%s is outside the home directory: left as it is\n", db);
			continue;
		}
		r = add_module(s, db);
		failed += r < 0;
		db_changed = r > 0;
		if (ca) {
			r = trust_db(db, cafile, ca, s->dry_run);
			failed += r < 0;
			db_changed |= r > 0;
			if (r > 0 && record(s, K_CA, db) < 0)
				failed++;
		}
		changed += db_changed;
		if (db_changed)
			warn_if_open(db);
	}
	X509_free(ca);
	if (changed == 0 && failed == 0)
		printf("nothing to change: imza is set up for this user already\n");
	else if (changed > 0 && !s->dry_run)
		printf("Browsers that are running see the change when they start again. "
		       "`imzactl setup --undo` reverses it.\n");
	return failed ? 1 : 0;
}

/* ---- undo ---- */

/* Holds the database nothing but what NSS puts in a new one (no certificate, key or other module)? */
static bool db_is_empty(const struct setup *s, const char *db)
{
	char spec[PATH_MAX + 8];
	char *list[] = {CERTUTIL, "-L", "-d", spec, NULL}, *keys[] = {CERTUTIL, "-K", "-d", spec, NULL};
	struct trust_buf out = {NULL, 0}, err = {NULL, 0};
	struct modlist m;
	int st, lines = 0;
	bool empty;

	snprintf(spec, sizeof(spec), "sql:%s", db);
	st = trust_run(list, &out, NULL);
	for (char *l = out.data; st == 0 && l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		lines += l[strspn(l, " \t\r")] != '\n' && l[strspn(l, " \t\r")] != '\0';
	/* certutil -L's header is two lines. */
	empty = st == 0 && lines <= 2;
	trust_buf_free(&out);
	/* certutil -K lists a key as "< 0> rsa …"; with none it says so and exits 255. */
	st = trust_run(keys, &out, &err);
	if (out.data && (out.data[0] == '<' || strstr(out.data, "\n<")))
		empty = false;
	if (st != 0 && !(out.data && strstr(out.data, "no keys found")) &&
	    !(err.data && strstr(err.data, "no keys found")))
		empty = false;
	trust_buf_free(&out);
	trust_buf_free(&err);
	modules_of(s, db, &m);
	if (m.named || m.proxy || m.ours[0])
		empty = false;
	return empty;
}

static int undo_entry(struct setup *s, const struct entry *e)
{
	struct modlist m;

	switch (e->kind) {
	case K_UNIT: {
		char *argv[] = {SYSTEMCTL, "--user", "disable", "--now", (char *)e->arg, NULL};
		struct trust_buf err = {NULL, 0};
		int st;

		if (s->dry_run) {
			printf("would disable and stop %s (systemctl --user disable --now)\n", e->arg);
			return 0;
		}
		if (!trust_have_tool(SYSTEMCTL) || !user_manager()) {
			fprintf(stderr, "imzactl: no systemd user manager here: %s stays enabled\n", e->arg);
			return -1;
		}
		st = trust_run(argv, NULL, &err);
		if (st != 0) {
			fprintf(stderr, "imzactl: systemctl --user disable --now %s failed: %s\n", e->arg,
			        st < 0 ? strerror(-st) : trust_reason(&err, SYSTEMCTL, st));
			trust_buf_free(&err);
			return -1;
		}
		trust_buf_free(&err);
		printf("disabled and stopped %s\n", e->arg);
		return 0;
	}
	case K_CA:
		if (!trust_is_db(e->arg)) {
			printf("sql:%s is gone: nothing to take out of it\n", e->arg);
			return 0;
		}
		if (s->dry_run) {
			printf("would remove imza local CA from sql:%s\n", e->arg);
			return 0;
		}
		return trust_untrust_db(e->arg) < 0 ? -1 : 0;
	case K_MODULE:
		if (!trust_is_db(e->arg)) {
			printf("sql:%s is gone: nothing to take out of it\n", e->arg);
			return 0;
		}
		modules_of(s, e->arg, &m);
		if (!m.named) {
			printf("module %s is no longer in sql:%s\n", MODNAME, e->arg);
			return 0;
		}
		if (s->dry_run) {
			printf("would remove module %s from sql:%s\n", MODNAME, e->arg);
			return 0;
		}
		if (modutil(e->arg, "-delete", NULL, NULL) < 0)
			return -1;
		printf("removed module %s from sql:%s\n", MODNAME, e->arg);
		return 0;
	case K_MADE_DB: {
		static const char *const files[] = {"cert9.db", "key4.db", "pkcs11.txt"};

		if (!trust_is_db(e->arg))
			return 0;
		if (s->dry_run) {
			printf("would delete the NSS database sql:%s that setup made, if nothing else is in "
			       "it\n",
			       e->arg);
			return 0;
		}
		if (!db_is_empty(s, e->arg)) {
			printf("sql:%s, which setup made, now holds other certificates, keys or modules: "
			       "kept\n",
			       e->arg);
			return 0;
		}
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			char p[PATH_MAX];

			if (join(p, sizeof(p), e->arg, files[i]) == 0 && unlink(p) < 0 && errno != ENOENT) {
				fprintf(stderr, "imzactl: cannot delete %s: %s\n", p, strerror(errno));
				return -1;
			}
		}
		printf("deleted the NSS database sql:%s that setup made\n", e->arg);
		return 0;
	}
	case K_MADE_DIR:
		if (s->dry_run)
			return 0;
		if (rmdir(e->arg) < 0 && errno != ENOENT) {
			if (errno == ENOTEMPTY || errno == EEXIST) {
				printf("%s, which setup made, is not empty now: kept\n", e->arg);
				return 0;
			}
			fprintf(stderr, "imzactl: cannot remove %s: %s\n", e->arg, strerror(errno));
			return -1;
		}
		return 0;
	default:
		return -1;
	}
}

static int do_undo(struct setup *s)
{
	/* Units first (imzad stops), then what is in the databases, then the database setup made, then
	 * its directories, deepest first. */
	static const enum kind order[] = {K_UNIT, K_CA, K_MODULE, K_MADE_DB};
	static struct entry keep[ENTRIES_MAX], dirs[ENTRIES_MAX];
	size_t nkeep = 0, ndirs = 0;
	int failed = 0;

	if (s->n == 0) {
		printf("nothing to undo: imzactl setup has recorded no change%s\n",
		       s->loaded ? "" : " (no record of an earlier setup)");
		if (s->loaded && !s->dry_run)
			unlink(s->state_file);
		return 0;
	}
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (size_t i = 0; i < s->n; i++) {
			if (s->e[i].kind != order[o])
				continue;
			if (undo_entry(s, &s->e[i]) < 0) {
				keep[nkeep++] = s->e[i];
				failed++;
			}
		}
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].kind == K_MADE_DIR)
			dirs[ndirs++] = s->e[i];
	if (s->dry_run)
		return 0;
	/* The record goes before the directories it may be in. */
	memcpy(s->e, keep, nkeep * sizeof(keep[0]));
	s->n = nkeep;
	if (nkeep > 0) {
		memcpy(s->e + s->n, dirs, ndirs * sizeof(dirs[0]));
		s->n += ndirs;
		state_save(s);
		fprintf(stderr, "imzactl: %d change%s could not be undone: still recorded in %s\n", failed,
		        failed == 1 ? "" : "s", s->state_file);
		return 1;
	}
	if (unlink(s->state_file) < 0 && errno != ENOENT)
		fprintf(stderr, "imzactl: cannot delete %s: %s\n", s->state_file, strerror(errno));
	for (size_t pass = 0; pass < ndirs; pass++) {
		/* Deepest first: the longest path left. */
		size_t best = ndirs;

		for (size_t i = 0; i < ndirs; i++)
			if (dirs[i].arg[0] && (best == ndirs || strlen(dirs[i].arg) > strlen(dirs[best].arg)))
				best = i;
		if (best == ndirs)
			break;
		if (undo_entry(s, &dirs[best]) < 0)
			failed++;
		dirs[best].arg[0] = '\0';
	}
	printf("undone: what imzactl setup recorded is reversed, and the record deleted\n");
	return failed ? 1 : 0;
}

static void setup_usage(FILE *f)
{
	fprintf(f,
	        "usage: imzactl setup [--module PATH] [--config-dir DIR] [--dry-run]\n"
	        "       imzactl setup --undo [--dry-run]\n"
	        "setup registers imza's PKCS#11 module in the user's NSS databases (~/.pki/nssdb, made when\n"
	        "missing; Chromium's snap; every Firefox profile), trusts imza's local CA there, and "
	        "enables\n"
	        "imzad's user units. --module PATH: the module to register (default %s);\n"
	        "--config-dir DIR: where imzad keeps ca.crt; --dry-run: say what would change, change\n"
	        "nothing. --undo reverses exactly what setup recorded in $XDG_STATE_HOME/imza/setup.\n",
	        IMZA_PKCS11_MODULE);
}

bool setup_is_command(const char *name)
{
	return name && strcmp(name, "setup") == 0;
}

int setup_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"undo", no_argument, NULL, 'u'},         {"dry-run", no_argument, NULL, 'n'},
	        {"module", required_argument, NULL, 'm'}, {"config-dir", required_argument, NULL, 'c'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	static struct setup s;
	const char *module = NULL, *config = NULL;
	bool undo = false;
	int opt;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			undo = true;
			break;
		case 'n':
			s.dry_run = true;
			break;
		case 'm':
			module = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			setup_usage(stdout);
			return 0;
		default:
			setup_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (undo && (module || config))) {
		setup_usage(stderr);
		return 2;
	}
	if (trust_home_dir(s.home, sizeof(s.home)) < 0 || realpath(s.home, s.home_real) == NULL) {
		fprintf(stderr, "imzactl: no home directory (HOME)\n");
		return 1;
	}
	for (size_t l = strlen(s.home); l > 1 && s.home[l - 1] == '/'; l--)
		s.home[l - 1] = '\0';
	if (strcmp(s.home, "/") == 0 || !clean_below(s.home, "") ||
	    proto_xdg_dir("XDG_STATE_HOME", s.home, ".local/state", s.state_dir, sizeof(s.state_dir)) < 0 ||
	    join(s.state_file, sizeof(s.state_file), s.state_dir, STATE_NAME) < 0 ||
	    trust_chromium_db(s.home, s.chromium_db, sizeof(s.chromium_db)) < 0 ||
	    trust_legacy_db(s.home, s.legacy_db, sizeof(s.legacy_db)) < 0 ||
	    trust_modern_db(s.home, s.modern_db, sizeof(s.modern_db)) < 0) {
		fprintf(stderr, "imzactl: the home directory (%s) or the state dir is not usable\n", s.home);
		return 1;
	}
	if (state_load(&s) < 0) {
		fprintf(stderr,
		        "imzactl: the setup record is not what imzactl setup writes: nothing %s; "
		        "look at it, and delete it to start again\n",
		        undo ? "undone" : "changed");
		return 1;
	}
	if (undo)
		return do_undo(&s);
	if (module == NULL)
		module = IMZA_PKCS11_MODULE;
	if (realpath(module, s.module) == NULL || access(s.module, R_OK) != 0) {
		fprintf(stderr, "imzactl: no PKCS#11 module at %s: install imza, or give --module PATH\n",
		        module);
		return 1;
	}
	return do_setup(&s, config);
}
