/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for imza's local CA (daemon/web/localca.c): the four files and their modes, what the
 * certificates say, renewal as the clock moves, refusal of files others can read, and a TLS handshake
 * with the server context against clients that trust the CA (or speak only TLS 1.1). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/web/localca.h"

#define DAY 86400L

static const char *const files[] = {"ca.crt", "ca.key", "server.crt", "server.key"};

struct fx {
	char root[64];
	char dir[160];
	time_t now;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/imza-test-localca.XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	/* Two levels that do not exist yet: the parents are made too. */
	snprintf(f->dir, sizeof(f->dir), "%s/config/imza", f->root);
	f->now = time(NULL);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	/* Put modes back first, so a test that closed a directory cannot stop the cleanup. */
	if (flag == FTW_DP)
		chmod(path, 0700);
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	chmod(f->dir, 0700);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void path_of(const struct fx *f, const char *name, char *out, size_t cap)
{
	int w = snprintf(out, cap, "%s/%s", f->dir, name);

	assert_true(w > 0 && (size_t)w < cap);
}

static X509 *load_cert(const struct fx *f, const char *name)
{
	char path[256];
	X509 *x;
	FILE *fp;

	path_of(f, name, path, sizeof(path));
	fp = fopen(path, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

static time_t not_after(const X509 *x)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
	return timegm(&tm);
}

static time_t not_before(const X509 *x)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm), 1);
	return timegm(&tm);
}

/* What a file is: its inode, mtime and bytes, to tell "kept" from "rewritten". */
struct snap {
	ino_t ino;
	struct timespec mtim;
	mode_t mode;
	size_t len;
	char data[8192];
};

static void snap_file(const struct fx *f, const char *name, struct snap *s)
{
	char path[256];
	struct stat st;
	FILE *fp;

	path_of(f, name, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	s->ino = st.st_ino;
	s->mtim = st.st_mtim;
	s->mode = st.st_mode;
	fp = fopen(path, "rb");
	assert_non_null(fp);
	s->len = fread(s->data, 1, sizeof(s->data), fp);
	fclose(fp);
	assert_true(s->len > 0 && s->len < sizeof(s->data));
}

static bool same_file(const struct snap *a, const struct snap *b)
{
	return a->ino == b->ino && a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static bool same_bytes(const struct snap *a, const struct snap *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void snap_all(const struct fx *f, struct snap s[4])
{
	for (int i = 0; i < 4; i++)
		snap_file(f, files[i], &s[i]);
}

/* Does srv chain to ca at time t (0: now), for the TLS server purpose? */
static int verify_at(X509 *ca, X509 *srv, time_t t)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok, err;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, srv, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), "localhost", 0), 1);
	if (t)
		X509_STORE_CTX_set_time(ctx, 0, t);
	ok = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	if (ok != 1)
		print_message("# verify: %s\n", X509_verify_cert_error_string(err));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok == 1 ? 0 : -1;
}

/* localca_ensure with stderr (imzad's log outside the journal) caught in log. */
static int ensure_logged(const char *dir, time_t now, char *log, size_t cap)
{
	char path[] = "/tmp/imza-test-localca-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2), r;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, 2), 2);
	r = localca_ensure(dir, now);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, log, cap - 1);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return r;
}

static void assert_logged(const char *log, const char *want)
{
	if (strstr(log, want) == NULL)
		fail_msg("the log '%s' does not say '%s'", log, want);
}

static void test_first_run_makes_four_files_keys_0600_in_a_0700_dir(void **state)
{
	struct fx *f = *state;
	static const mode_t modes[] = {0644, 0600, 0644, 0600};
	char path[256], parent[160];
	struct stat st;
	int n = 0;
	DIR *d;
	struct dirent *e;

	/* A umask that would leave things open or closed must not change the modes. */
	mode_t old = umask(0);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	umask(old);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(parent, sizeof(parent), "%s/config", f->root);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	for (int i = 0; i < 4; i++) {
		path_of(f, files[i], path, sizeof(path));
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_uid, geteuid());
		if ((st.st_mode & 07777) != modes[i])
			fail_msg("%s is %04o, not %04o", files[i], st.st_mode & 07777, modes[i]);
	}
	/* Nothing else: no temporary file left behind. */
	d = opendir(f->dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			n++;
	closedir(d);
	assert_int_equal(n, 4);
}

static void test_ca_is_a_p256_ca_for_ten_years_named_after_the_user(void **state)
{
	struct fx *f = *state;
	char subject[256], want[160], host[256] = "";
	struct passwd *pw = getpwuid(geteuid());
	BASIC_CONSTRAINTS *bc;
	X509 *ca;
	BIO *b;
	int crit = -1, len;
	char group[32];
	EVP_PKEY *k;

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	ca = load_cert(f, "ca.crt");
	b = BIO_new(BIO_s_mem());
	X509_NAME_print_ex(b, X509_get_subject_name(ca), 0, XN_FLAG_RFC2253);
	len = BIO_read(b, subject, sizeof(subject) - 1);
	BIO_free(b);
	assert_true(len > 0);
	subject[len] = '\0';
	gethostname(host, sizeof(host) - 1);
	assert_non_null(pw);
	snprintf(want, sizeof(want), "CN=imza local CA (%s@%s),O=imza", pw->pw_name, host);
	/* Long names are cut to fit the CN's 64 characters; short ones are there whole. */
	if (strlen(pw->pw_name) <= 23 && strlen(pw->pw_name) + 1 + strlen(host) <= 46)
		assert_string_equal(subject, want);
	else
		assert_true(strncmp(subject, "CN=imza local CA (", 18) == 0 && strstr(subject, "),O=imza"));
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(ca)), 0);
	assert_int_equal(X509_get_version(ca), X509_VERSION_3);

	bc = X509_get_ext_d2i(ca, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_true(bc->ca);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(ca, NID_key_usage, &crit, NULL);
	assert_non_null(ku);
	assert_int_equal(crit, 1);
	ASN1_BIT_STRING_free(ku);
	assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(ca));
	assert_int_equal(X509_check_ca(ca), 1);

	assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(ca)), 16);
	assert_true(not_before(ca) <= f->now);
	assert_true(not_after(ca) - f->now >= 3652 * DAY - 60 && not_after(ca) - f->now <= 3653 * DAY);

	k = X509_get0_pubkey(ca);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof(group), NULL), 1);
	assert_string_equal(group, "prime256v1");
	assert_int_equal(X509_verify(ca, k), 1);
	X509_free(ca);
}

static void test_serials_are_random(void **state)
{
	struct fx *f = *state;
	X509 *ca1, *ca2, *srv1, *srv2;
	struct fx g = *f;

	snprintf(g.dir, sizeof(g.dir), "%s/other", f->root);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	assert_int_equal(localca_ensure(g.dir, f->now), 0);
	ca1 = load_cert(f, "ca.crt");
	ca2 = load_cert(&g, "ca.crt");
	srv1 = load_cert(f, "server.crt");
	srv2 = load_cert(&g, "server.crt");
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca1), X509_get0_serialNumber(ca2)), 0);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(srv1), X509_get0_serialNumber(srv2)), 0);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca1), X509_get0_serialNumber(srv1)), 0);
	/* The same name, but another CA: it must not vouch for the first one's server. */
	assert_int_equal(verify_at(ca2, srv1, 0), -1);
	X509_free(ca1);
	X509_free(ca2);
	X509_free(srv1);
	X509_free(srv2);
}

static void test_server_cert_verifies_against_ca_and_names_localhost_and_both_loopbacks(void **state)
{
	static const uint8_t v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
	struct fx *f = *state;
	GENERAL_NAMES *sans;
	BASIC_CONSTRAINTS *bc;
	int crit = -1, dns = 0, ip4 = 0, ip6 = 0;
	X509 *ca, *srv;
	char cn[64];

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	ca = load_cert(f, "ca.crt");
	srv = load_cert(f, "server.crt");
	assert_int_equal(verify_at(ca, srv, 0), 0);
	assert_int_equal(
	        X509_NAME_get_text_by_NID(X509_get_subject_name(srv), NID_commonName, cn, sizeof(cn)), 9);
	assert_string_equal(cn, "localhost");
	assert_int_equal(X509_get_version(srv), X509_VERSION_3);

	sans = X509_get_ext_d2i(srv, NID_subject_alt_name, NULL, NULL);
	assert_non_null(sans);
	assert_int_equal(sk_GENERAL_NAME_num(sans), 3);
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const ASN1_STRING *s;

		if (g->type == GEN_DNS) {
			s = g->d.dNSName;
			dns += ASN1_STRING_length(s) == 9 &&
			       memcmp(ASN1_STRING_get0_data(s), "localhost", 9) == 0;
		} else if (g->type == GEN_IPADD) {
			s = g->d.iPAddress;
			ip4 += ASN1_STRING_length(s) == 4 && memcmp(ASN1_STRING_get0_data(s), v4, 4) == 0;
			ip6 += ASN1_STRING_length(s) == 16 && memcmp(ASN1_STRING_get0_data(s), v6, 16) == 0;
		}
	}
	GENERAL_NAMES_free(sans);
	assert_int_equal(dns, 1);
	assert_int_equal(ip4, 1);
	assert_int_equal(ip6, 1);

	assert_int_equal(X509_get_extended_key_usage(srv), XKU_SSL_SERVER);
	assert_int_equal(X509_get_key_usage(srv), KU_DIGITAL_SIGNATURE);
	bc = X509_get_ext_d2i(srv, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_check_ca(srv), 0);
	assert_non_null(X509_get0_subject_key_id(srv));
	assert_non_null(X509_get0_authority_key_id(srv));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(srv), X509_get0_subject_key_id(ca)),
	                 0);
	assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(srv)), 16);
	/* 365 days from now; with the day of backdating still under the browsers' 397. */
	assert_true(not_after(srv) - f->now >= 365 * DAY - 60 && not_after(srv) - f->now <= 365 * DAY + 60);
	assert_true(not_after(srv) - not_before(srv) <= 397 * DAY);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(srv), "EC"));
	X509_free(ca);
	X509_free(srv);
}

/* Were ca.key stolen, a certificate it makes for another site is still refused: name constraints. */
static void test_ca_is_limited_to_the_loopback_names(void **state)
{
	struct fx *f = *state;
	char path[256];
	X509 *ca, *evil = X509_new();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	EVP_PKEY *cakey, *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509V3_CTX v3;
	X509_EXTENSION *san;
	int crit = 0;
	void *nc;
	FILE *fp;

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	ca = load_cert(f, "ca.crt");
	nc = X509_get_ext_d2i(ca, NID_name_constraints, &crit, NULL);
	assert_non_null(nc);
	assert_int_equal(crit, 1);
	NAME_CONSTRAINTS_free(nc);
	snprintf(path, sizeof(path), "%s/ca.key", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	cakey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(cakey);
	assert_non_null(evil);
	assert_int_equal(X509_set_version(evil, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(evil), 7), 1);
	assert_int_equal(X509_set_issuer_name(evil, X509_get_subject_name(ca)), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(evil), "CN", MBSTRING_ASC,
	                                            (const unsigned char *)"bank.example", -1, -1, 0),
	                 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(evil), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(evil), 3600));
	assert_int_equal(X509_set_pubkey(evil, key), 1);
	X509V3_set_ctx(&v3, ca, evil, NULL, NULL, 0);
	san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:bank.example");
	assert_non_null(san);
	assert_int_equal(X509_add_ext(evil, san, -1), 1);
	X509_EXTENSION_free(san);
	assert_true(X509_sign(evil, cakey, EVP_sha256()) > 0);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, evil, NULL), 1);
	assert_int_not_equal(X509_verify_cert(ctx), 1);
	assert_int_equal(X509_STORE_CTX_get_error(ctx), X509_V_ERR_PERMITTED_VIOLATION);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(evil);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
}

static void test_second_run_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct snap a[4], b[4];

	char log[1024];

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	snap_all(f, a);
	assert_int_equal(ensure_logged(f->dir, f->now, log, sizeof(log)), 0);
	assert_string_equal(log, "");
	/* Nor a run a month later. */
	assert_int_equal(ensure_logged(f->dir, f->now + 31 * DAY, log, sizeof(log)), 0);
	assert_string_equal(log, "");
	snap_all(f, b);
	for (int i = 0; i < 4; i++)
		if (!same_file(&a[i], &b[i]))
			fail_msg("%s changed", files[i]);
}

static void test_server_near_its_end_is_renewed_and_the_ca_kept(void **state)
{
	struct fx *f = *state;
	struct snap a[4], b[4];
	char log[1024];
	X509 *ca, *srv;
	time_t end, t;

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	snap_all(f, a);
	srv = load_cert(f, "server.crt");
	end = not_after(srv);
	X509_free(srv);

	/* 31 days left: kept. */
	assert_int_equal(localca_ensure(f->dir, end - 31 * DAY), 0);
	snap_all(f, b);
	for (int i = 0; i < 4; i++)
		assert_true(same_file(&a[i], &b[i]));

	/* 10 days left: a new server certificate and key, the same CA. */
	t = end - 10 * DAY;
	assert_int_equal(ensure_logged(f->dir, t, log, sizeof(log)), 0);
	assert_logged(log, "new server certificate");
	assert_logged(log, "it ends in less than 30 days");
	assert_null(strstr(log, "new CA"));
	snap_all(f, b);
	assert_true(same_file(&a[0], &b[0]));
	assert_true(same_file(&a[1], &b[1]));
	assert_false(same_bytes(&a[2], &b[2]));
	assert_false(same_bytes(&a[3], &b[3]));
	assert_int_equal(b[3].mode & 07777, 0600);
	assert_int_equal(b[2].mode & 07777, 0644);
	ca = load_cert(f, "ca.crt");
	srv = load_cert(f, "server.crt");
	assert_int_equal(verify_at(ca, srv, t), 0);
	assert_true(not_after(srv) - t >= 365 * DAY - 60);
	X509_free(ca);
	X509_free(srv);
}

static void test_ca_near_its_end_is_renewed_and_the_server_with_it(void **state)
{
	struct fx *f = *state;
	struct snap a[4], b[4];
	X509 *ca, *srv;
	time_t end, t;

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	ca = load_cert(f, "ca.crt");
	end = not_after(ca);
	X509_free(ca);

	/* A year and a day left: the CA stays (the server certificate, long expired, is renewed). */
	t = end - 366 * DAY;
	assert_int_equal(localca_ensure(f->dir, t), 0);
	snap_all(f, a);
	ca = load_cert(f, "ca.crt");
	assert_int_equal(not_after(ca), end);
	X509_free(ca);

	/* 100 days left: everything is new, and the new server chains to the new CA. */
	t = end - 100 * DAY;
	assert_int_equal(localca_ensure(f->dir, t), 0);
	snap_all(f, b);
	for (int i = 0; i < 4; i++)
		if (same_bytes(&a[i], &b[i]))
			fail_msg("%s was kept", files[i]);
	ca = load_cert(f, "ca.crt");
	srv = load_cert(f, "server.crt");
	assert_true(not_after(ca) - t >= 3652 * DAY - 60);
	assert_int_equal(verify_at(ca, srv, t), 0);
	X509_free(ca);
	X509_free(srv);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[8192];
	size_t n;
	FILE *in = fopen(from, "rb"), *out;

	assert_non_null(in);
	n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	unlink(to);
	out = fopen(to, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(out);
	assert_int_equal(chmod(to, mode), 0);
}

static void test_server_key_that_does_not_match_is_replaced(void **state)
{
	struct fx *f = *state;
	struct fx g = *f;
	struct snap a[4], b[4];
	char from[256], to[256];
	X509 *ca, *srv;

	snprintf(g.dir, sizeof(g.dir), "%s/other", f->root);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	assert_int_equal(localca_ensure(g.dir, f->now), 0);
	path_of(&g, "server.key", from, sizeof(from));
	path_of(f, "server.key", to, sizeof(to));
	copy_file(from, to, 0600);
	snap_all(f, a);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	snap_all(f, b);
	assert_true(same_file(&a[0], &b[0]));
	assert_true(same_file(&a[1], &b[1]));
	assert_false(same_bytes(&a[2], &b[2]));
	ca = load_cert(f, "ca.crt");
	srv = load_cert(f, "server.crt");
	assert_int_equal(verify_at(ca, srv, 0), 0);
	X509_free(ca);
	X509_free(srv);
}

static void test_server_of_another_ca_is_replaced(void **state)
{
	struct fx *f = *state;
	struct fx g = *f;
	char from[256], to[256];
	struct snap a[4], b[4];
	X509 *ca, *srv;

	snprintf(g.dir, sizeof(g.dir), "%s/other", f->root);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	assert_int_equal(localca_ensure(g.dir, f->now), 0);
	for (int i = 2; i < 4; i++) {
		path_of(&g, files[i], from, sizeof(from));
		path_of(f, files[i], to, sizeof(to));
		copy_file(from, to, i == 3 ? 0600 : 0644);
	}
	snap_all(f, a);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	snap_all(f, b);
	assert_true(same_file(&a[0], &b[0]));
	assert_true(same_file(&a[1], &b[1]));
	assert_false(same_bytes(&a[2], &b[2]));
	assert_false(same_bytes(&a[3], &b[3]));
	ca = load_cert(f, "ca.crt");
	srv = load_cert(f, "server.crt");
	assert_int_equal(verify_at(ca, srv, 0), 0);
	X509_free(ca);
	X509_free(srv);
}

static void test_damaged_ca_cert_makes_a_new_ca_and_server(void **state)
{
	struct fx *f = *state;
	struct snap a[4], b[4];
	char path[256];
	FILE *fp;

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	path_of(f, "ca.crt", path, sizeof(path));
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n", fp);
	fclose(fp);
	snap_all(f, a);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	snap_all(f, b);
	for (int i = 0; i < 4; i++)
		assert_false(same_bytes(&a[i], &b[i]));
}

static void test_ca_key_open_to_others_is_eperm(void **state)
{
	static const mode_t loose[] = {0644, 0640, 0604, 0610, 0601};
	struct fx *f = *state;
	struct snap a[4], b[4];
	char path[256], log[1024];

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	path_of(f, "ca.key", path, sizeof(path));
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		assert_int_equal(chmod(path, loose[i]), 0);
		snap_all(f, a);
		assert_int_equal(ensure_logged(f->dir, f->now, log, sizeof(log)), -EPERM);
		assert_logged(log, "error: localca: ");
		assert_logged(log, "/ca.key is a private key open to group or others");
		snap_all(f, b);
		for (int j = 0; j < 4; j++)
			assert_true(same_file(&a[j], &b[j]));
	}
	/* Even when the CA would be renewed anyway. */
	assert_int_equal(localca_ensure(f->dir, f->now + 3650 * DAY), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
}

static void test_server_key_open_to_others_is_eperm(void **state)
{
	struct fx *f = *state;
	char path[256];
	SSL_CTX *ctx = (SSL_CTX *)&ctx;

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	path_of(f, "server.key", path, sizeof(path));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(localca_ensure(f->dir, f->now), -EPERM);
	assert_int_equal(localca_server_ctx(f->dir, &ctx), -EPERM);
	/* ret is written only on success. */
	assert_ptr_equal(ctx, (SSL_CTX *)&ctx);
}

static void test_dir_open_to_others_is_eperm(void **state)
{
	static const mode_t loose[] = {0755, 0750, 0705, 0701, 0710, 0770, 0777};
	struct fx *f = *state;
	char log[1024];

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		assert_int_equal(chmod(f->dir, loose[i]), 0);
		assert_int_equal(ensure_logged(f->dir, f->now, log, sizeof(log)), -EPERM);
		assert_logged(log, "error: localca: ");
		assert_logged(log, "is open to group or others");
	}
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
}

static void test_existing_empty_dir_open_to_others_is_eperm_and_left_empty(void **state)
{
	struct fx *f = *state;
	char parent[160];
	DIR *d;
	struct dirent *e;

	snprintf(parent, sizeof(parent), "%s/config", f->root);
	assert_int_equal(mkdir(parent, 0700), 0);
	assert_int_equal(mkdir(f->dir, 0755), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(localca_ensure(f->dir, f->now), -EPERM);
	d = opendir(f->dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		assert_true(e->d_name[0] == '.');
	closedir(d);
}

static void test_symlinked_key_is_eperm(void **state)
{
	struct fx *f = *state;
	char path[256], target[256], log[1024];

	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	path_of(f, "ca.key", path, sizeof(path));
	snprintf(target, sizeof(target), "%s/elsewhere.key", f->root);
	assert_int_equal(rename(path, target), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(ensure_logged(f->dir, f->now, log, sizeof(log)), -EPERM);
	assert_logged(log, "/ca.key is a symlink");
}

static void test_key_or_dir_of_another_user_is_eperm(void **state)
{
	struct fx *f = *state;
	char path[256], log[1024];

	if (geteuid() != 0)
		skip();
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
	path_of(f, "ca.key", path, sizeof(path));
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(ensure_logged(f->dir, f->now, log, sizeof(log)), -EPERM);
	assert_logged(log, "/ca.key belongs to uid 65534, not to us");
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(chown(f->dir, 65534, 65534), 0);
	assert_int_equal(ensure_logged(f->dir, f->now, log, sizeof(log)), -EPERM);
	assert_logged(log, "belongs to uid 65534, not to us");
	assert_int_equal(chown(f->dir, 0, 0), 0);
	assert_int_equal(localca_ensure(f->dir, f->now), 0);
}

/* ---- the server context, over a socketpair ---- */

struct hs {
	int client_ok, server_ok;
	unsigned long server_err;
	long verify;
	int version;
};

/* Drives both ends of a handshake in this one thread until both finish or one fails. */
static struct hs handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *host, const char *ip)
{
	struct hs h = {0, 0, 0, -1, 0};
	bool cdone = false, sdone = false, cfail = false, sfail = false;
	SSL *s, *c;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	assert_non_null(s);
	assert_non_null(c);
	SSL_set_fd(s, sv[0]);
	SSL_set_fd(c, sv[1]);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (host) {
		assert_int_equal(SSL_set_tlsext_host_name(c, host), 1);
		assert_int_equal(SSL_set1_host(c, host), 1);
	}
	if (ip)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c), ip), 1);
	ERR_clear_error();
	for (int i = 0; i < 200 && !((cdone || cfail) && (sdone || sfail)); i++) {
		int r, e;

		if (!cdone && !cfail) {
			r = SSL_do_handshake(c);
			e = SSL_get_error(c, r);
			if (r == 1)
				cdone = true;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				cfail = true;
			ERR_clear_error();
		}
		if (!sdone && !sfail) {
			r = SSL_do_handshake(s);
			e = SSL_get_error(s, r);
			if (r == 1)
				sdone = true;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				sfail = true;
				h.server_err = ERR_peek_error();
			}
			ERR_clear_error();
		}
	}
	h.client_ok = cdone;
	h.server_ok = sdone;
	h.verify = SSL_get_verify_result(c);
	h.version = cdone ? SSL_version(c) : 0;
	if (cdone && sdone) {
		char buf[8] = "";
		int n;

		/* Data flows, and the server sends no session ticket to read past. */
		assert_int_equal(SSL_write(c, "ping", 4), 4);
		n = SSL_read(s, buf, sizeof(buf));
		assert_int_equal(n, 4);
		assert_memory_equal(buf, "ping", 4);
	}
	SSL_free(s);
	SSL_free(c);
	close(sv[0]);
	close(sv[1]);
	return h;
}

static SSL_CTX *client_ctx(const struct fx *f)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	char path[256];

	assert_non_null(c);
	path_of(f, "ca.crt", path, sizeof(path));
	assert_int_equal(SSL_CTX_load_verify_locations(c, path, NULL), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	return c;
}

static void test_client_trusting_the_ca_connects_by_name_and_by_ip(void **state)
{
	struct fx *f = *state;
	SSL_CTX *s, *c;
	struct hs h;

	assert_int_equal(localca_server_ctx(f->dir, &s), 0);
	assert_int_equal(SSL_CTX_get_min_proto_version(s), TLS1_2_VERSION);
	c = client_ctx(f);

	h = handshake(s, c, "localhost", NULL);
	assert_true(h.client_ok && h.server_ok);
	assert_int_equal(h.verify, X509_V_OK);
	assert_true(h.version >= TLS1_2_VERSION);
	h = handshake(s, c, NULL, "127.0.0.1");
	assert_true(h.client_ok && h.server_ok);
	assert_int_equal(h.verify, X509_V_OK);
	h = handshake(s, c, NULL, "::1");
	assert_true(h.client_ok && h.server_ok);
	/* TLS 1.2 alone works too. */
	assert_int_equal(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);
	h = handshake(s, c, "localhost", NULL);
	assert_true(h.client_ok && h.server_ok);
	assert_int_equal(h.version, TLS1_2_VERSION);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

static void test_client_checks_are_real_other_names_and_other_cas_fail(void **state)
{
	struct fx *f = *state;
	struct fx g = *f;
	SSL_CTX *s, *c;
	struct hs h;

	assert_int_equal(localca_server_ctx(f->dir, &s), 0);
	c = client_ctx(f);
	h = handshake(s, c, "example.com", NULL);
	assert_false(h.client_ok);
	h = handshake(s, c, NULL, "127.0.0.2");
	assert_false(h.client_ok);
	SSL_CTX_free(c);
	/* A client that trusts another imza CA. */
	snprintf(g.dir, sizeof(g.dir), "%s/other", f->root);
	assert_int_equal(localca_ensure(g.dir, f->now), 0);
	c = client_ctx(&g);
	h = handshake(s, c, "localhost", NULL);
	assert_false(h.client_ok);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

static void test_tls11_only_client_is_refused(void **state)
{
	struct fx *f = *state;
	SSL_CTX *s, *c;
	struct hs h;

	assert_int_equal(localca_server_ctx(f->dir, &s), 0);
	c = client_ctx(f);
	/* Security level 0 so that the client really offers TLS 1.1 (level 1 would stop it at home). */
	SSL_CTX_set_security_level(c, 0);
	assert_int_equal(SSL_CTX_set_min_proto_version(c, TLS1_1_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(c, TLS1_1_VERSION), 1);
	h = handshake(s, c, "localhost", NULL);
	assert_false(h.client_ok);
	assert_false(h.server_ok);
	/* The server refused the version, rather than the client giving up before asking. */
	assert_int_equal(ERR_GET_REASON(h.server_err), SSL_R_UNSUPPORTED_PROTOCOL);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* A TLS 1.2 client offering only CBC suites with HMAC-SHA1 (or SHA-256) or static RSA key exchange is
 * refused for want of a shared cipher; the AEAD suites with ECDHE work; and the whole TLS 1.2 list the
 * server would offer is ECDHE + AEAD. */
static void test_tls12_cbc_and_static_rsa_suites_are_refused(void **state)
{
	static const char *const refused[] = {
	        "ECDHE-ECDSA-AES128-SHA",
	        "ECDHE-ECDSA-AES256-SHA",
	        "ECDHE-RSA-AES128-SHA",
	        "ECDHE-ECDSA-AES128-SHA256",
	        "AES128-SHA",
	        "AES128-GCM-SHA256",
	        "DHE-RSA-AES128-GCM-SHA256",
	};
	static const char *const served[] = {
	        "ECDHE-ECDSA-AES128-GCM-SHA256",
	        "ECDHE-ECDSA-AES256-GCM-SHA384",
	        "ECDHE-ECDSA-CHACHA20-POLY1305",
	};
	struct fx *f = *state;
	STACK_OF(SSL_CIPHER) * list;
	SSL_CTX *s, *c;
	struct hs h;
	int n12 = 0;

	assert_int_equal(localca_server_ctx(f->dir, &s), 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		c = client_ctx(f);
		SSL_CTX_set_security_level(c, 0);
		assert_int_equal(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);
		assert_int_equal(SSL_CTX_set_cipher_list(c, refused[i]), 1);
		h = handshake(s, c, "localhost", NULL);
		if (h.client_ok || h.server_ok)
			fail_msg("the server accepted %s", refused[i]);
		assert_int_equal(ERR_GET_REASON(h.server_err), SSL_R_NO_SHARED_CIPHER);
		SSL_CTX_free(c);
	}
	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
		c = client_ctx(f);
		assert_int_equal(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);
		assert_int_equal(SSL_CTX_set_cipher_list(c, served[i]), 1);
		h = handshake(s, c, "localhost", NULL);
		if (!h.client_ok || !h.server_ok)
			fail_msg("the server refused %s", served[i]);
		assert_int_equal(h.version, TLS1_2_VERSION);
		SSL_CTX_free(c);
	}
	list = SSL_CTX_get_ciphers(s);
	assert_non_null(list);
	for (int i = 0; i < sk_SSL_CIPHER_num(list); i++) {
		const SSL_CIPHER *ci = sk_SSL_CIPHER_value(list, i);

		if (strcmp(SSL_CIPHER_get_version(ci), "TLSv1.3") == 0)
			continue;
		n12++;
		if (!SSL_CIPHER_is_aead(ci) || SSL_CIPHER_get_kx_nid(ci) != NID_kx_ecdhe)
			fail_msg("TLS 1.2 list offers %s", SSL_CIPHER_get_name(ci));
	}
	assert_true(n12 >= 3);
	SSL_CTX_free(s);
}

static void rm_all(const struct fx *f)
{
	char path[256];

	for (int i = 0; i < 4; i++) {
		path_of(f, files[i], path, sizeof(path));
		assert_int_equal(unlink(path), 0);
	}
}

/* What imzad does at start (localca_prepare): the files are made when missing; once there, they are only
 * checked for what needs no parsing (a key open to others is still refused at start), and a server
 * certificate due for renewal is left for the first connection (localca_server_ctx renews it). */
static void test_prepare_makes_missing_files_and_leaves_parsing_to_the_first_connection(void **state)
{
	struct fx *f = *state;
	struct snap before[4], after[4];
	char path[256];
	SSL_CTX *ctx = NULL;

	assert_int_equal(localca_prepare(f->dir), 0);
	snap_all(f, before);
	assert_int_equal(localca_prepare(f->dir), 0);
	snap_all(f, after);
	for (int i = 0; i < 4; i++)
		assert_true(same_file(&before[i], &after[i]));
	/* Files made 340 days ago: the server certificate has 25 days left, within the renewal window. */
	rm_all(f);
	assert_int_equal(localca_ensure(f->dir, f->now - 340 * DAY), 0);
	snap_all(f, before);
	/* Not renewed at start: that needs the certificate parsed, which waits for a browser. */
	assert_int_equal(localca_prepare(f->dir), 0);
	snap_all(f, after);
	for (int i = 0; i < 4; i++)
		assert_true(same_file(&before[i], &after[i]));
	/* A key open to others is refused at start all the same. */
	path_of(f, "server.key", path, sizeof(path));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(localca_prepare(f->dir), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	/* The first connection's context renews it. */
	assert_int_equal(localca_server_ctx(f->dir, &ctx), 0);
	SSL_CTX_free(ctx);
	snap_file(f, "server.crt", &after[2]);
	assert_false(same_bytes(&before[2], &after[2]));
	snap_file(f, "ca.crt", &after[0]);
	assert_true(same_bytes(&before[0], &after[0]));
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_prepare_makes_missing_files_and_leaves_parsing_to_the_first_connection),
	        T(test_first_run_makes_four_files_keys_0600_in_a_0700_dir),
	        T(test_ca_is_a_p256_ca_for_ten_years_named_after_the_user),
	        T(test_serials_are_random),
	        T(test_server_cert_verifies_against_ca_and_names_localhost_and_both_loopbacks),
	        T(test_ca_is_limited_to_the_loopback_names),
	        T(test_second_run_changes_nothing),
	        T(test_server_near_its_end_is_renewed_and_the_ca_kept),
	        T(test_ca_near_its_end_is_renewed_and_the_server_with_it),
	        T(test_server_key_that_does_not_match_is_replaced),
	        T(test_server_of_another_ca_is_replaced),
	        T(test_damaged_ca_cert_makes_a_new_ca_and_server),
	        T(test_ca_key_open_to_others_is_eperm),
	        T(test_server_key_open_to_others_is_eperm),
	        T(test_dir_open_to_others_is_eperm),
	        T(test_existing_empty_dir_open_to_others_is_eperm_and_left_empty),
	        T(test_symlinked_key_is_eperm),
	        T(test_key_or_dir_of_another_user_is_eperm),
	        T(test_client_trusting_the_ca_connects_by_name_and_by_ip),
	        T(test_tls12_cbc_and_static_rsa_suites_are_refused),
	        T(test_client_checks_are_real_other_names_and_other_cas_fail),
	        T(test_tls11_only_client_is_refused),
	};
#undef T

	return cmocka_run_group_tests_name("localca", tests, NULL, NULL);
}
