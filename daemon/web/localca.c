/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza's local CA (see localca.h): an EC P-256 CA and a server certificate for localhost in the config
 * dir, made and renewed here so that nobody has to run openssl by hand. All four files are read and
 * written through one descriptor of the directory, after checking that the directory is ours alone. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/web/localca.h"
#include "daemon/store/privdir.h"
#include "daemon/log.h"

/* The CA may only vouch for this machine's loopback names: were its key ever stolen, it still could not
 * impersonate any other site to a browser that trusts it (NSS and OpenSSL enforce name constraints). */
#define CA_NAME_CONSTRAINTS                                                        \
	"critical,permitted;DNS:localhost,permitted;IP:127.0.0.1/255.255.255.255," \
	"permitted;IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
#define CA_KEY_FILE "ca.key"
#define SRV_CRT_FILE "server.crt"
#define SRV_KEY_FILE "server.key"

#define DAY_SECS 86400L
#define CA_DAYS 3652      /* ten years */
#define SRV_DAYS 365      /* browsers refuse server certificates valid for more than 397 days */
#define CA_RENEW_DAYS 365 /* a CA renewed a year ahead always outlives the server certificates */
#define SRV_RENEW_DAYS 30
/* notBefore a day back: a clock that was wrong when the files were made (a dual-boot machine whose RTC
 * keeps local time is hours off until NTP fixes it) must not leave a CA that is "not valid yet". */
#define BACKDATE_SECS DAY_SECS
/* Far more than a PEM key or certificate of ours: a bigger file is not one of ours. */
#define PEM_FILE_MAX (64 * 1024)

struct pair {
	X509 *crt;
	EVP_PKEY *key;
};

static void pair_free(struct pair *p)
{
	X509_free(p->crt);
	EVP_PKEY_free(p->key);
	p->crt = NULL;
	p->key = NULL;
}

static const char *ssl_error(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	return why ? why : "unknown OpenSSL error";
}

/* An existing dir must be ours and closed to everyone else: the CA key in it can make certificates that
 * browsers trust for any site once the CA is installed. */
static int open_dir(const char *dir, int *ret_fd)
{
	return privdir_open("localca", dir, 077, ret_fd);
}

/* Reads name into a new buffer (free it with OPENSSL_clear_free: it may be a key). -ENOENT when
 * missing; -EPERM (logged) when it is a symlink or not a regular file, not ours, or, for a key,
 * open to group or others; -EBADMSG when it is too big to be ours. */
static int open_checked(int dfd, const char *dir, const char *name, bool key, int *ret_fd,
                        struct stat *ret_st)
{
	struct stat st;
	int fd, r;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP) {
			log_error("localca: %s/%s is a symlink: imza's files must be plain files", dir, name);
			return -EPERM;
		}
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("localca: %s/%s is not a regular file", dir, name);
		close(fd);
		return -EPERM;
	}
	if (st.st_uid != geteuid() || (key && (st.st_mode & 077))) {
		if (st.st_uid != geteuid())
			log_error("localca: %s/%s belongs to uid %u, not to us (uid %u)", dir, name,
			          (unsigned)st.st_uid, (unsigned)geteuid());
		else
			log_error("localca: %s/%s is a private key open to group or others (mode %04o): "
			          "chmod 600 "
			          "it, and make a new one if others may have read it",
			          dir, name, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	*ret_st = st;
	return 0;
}

static int read_file(int dfd, const char *dir, const char *name, bool key, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	int fd, r;

	r = open_checked(dfd, dir, name, key, &fd, &st);
	if (r < 0)
		return r;
	if (st.st_size > PEM_FILE_MAX) {
		close(fd);
		return -EBADMSG;
	}
	buf = OPENSSL_malloc(PEM_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	r = privdir_read_all(fd, buf, PEM_FILE_MAX, &len);
	close(fd);
	if (r < 0) {
		OPENSSL_clear_free(buf, PEM_FILE_MAX + 1);
		return r == -EFBIG ? -EBADMSG : r;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/* Our keys are never encrypted: an encrypted one is not ours, and must not make OpenSSL prompt. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Loads a certificate and its key. The key is read first so that its mode is checked even when the
 * certificate is missing. -ENOENT or -EBADMSG mean "make a new pair"; anything else is fatal. */
static int load_pair(int dfd, const char *dir, const char *crt_name, const char *key_name, struct pair *ret)
{
	struct pair p = {NULL, NULL};
	char *buf = NULL;
	size_t len = 0;
	BIO *b;
	int r;

	r = read_file(dfd, dir, key_name, true, &buf, &len);
	if (r < 0)
		return r;
	b = BIO_new_mem_buf(buf, (int)len);
	if (b)
		p.key = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	BIO_free(b);
	OPENSSL_clear_free(buf, PEM_FILE_MAX + 1);

	r = read_file(dfd, dir, crt_name, false, &buf, &len);
	if (r < 0) {
		EVP_PKEY_free(p.key);
		return r;
	}
	b = BIO_new_mem_buf(buf, (int)len);
	if (b)
		p.crt = PEM_read_bio_X509(b, NULL, no_password, NULL);
	BIO_free(b);
	OPENSSL_clear_free(buf, PEM_FILE_MAX + 1);
	ERR_clear_error();
	if (p.key == NULL || p.crt == NULL) {
		pair_free(&p);
		return -EBADMSG;
	}
	*ret = p;
	return 0;
}

static int asn1_time(const ASN1_TIME *t, time_t *ret)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EBADMSG;
	*ret = timegm(&tm);
	return 0;
}

/* Why the pair cannot serve until renew_days before its end (NULL: it can). */
static const char *validity_problem(const X509 *crt, time_t now, long renew_days)
{
	time_t nb, na;

	if (asn1_time(X509_get0_notBefore(crt), &nb) < 0 || asn1_time(X509_get0_notAfter(crt), &na) < 0)
		return "its validity cannot be read";
	if (nb > now)
		return "it is not valid yet (was the clock changed?)";
	if (na - now < renew_days * DAY_SECS)
		return renew_days >= 365 ? "it ends in less than a year" : "it ends in less than 30 days";
	return NULL;
}

static const char *ca_problem(struct pair *ca, time_t now)
{
	const char *why = NULL;

	if (X509_check_private_key(ca->crt, ca->key) != 1)
		why = "ca.key does not match ca.crt";
	else if (X509_check_ca(ca->crt) < 1 || X509_verify(ca->crt, ca->key) != 1)
		why = "ca.crt is not a self-signed CA certificate";
	else if (X509_get_ext_by_NID(ca->crt, NID_name_constraints, -1) < 0)
		why = "ca.crt is not limited to localhost (no name constraints)";
	else
		why = validity_problem(ca->crt, now, CA_RENEW_DAYS);
	ERR_clear_error();
	return why;
}

static const char *server_problem(struct pair *srv, struct pair *ca, time_t now)
{
	const char *why = NULL;

	if (X509_check_private_key(srv->crt, srv->key) != 1)
		why = "server.key does not match server.crt";
	else if (X509_check_issued(ca->crt, srv->crt) != X509_V_OK || X509_verify(srv->crt, ca->key) != 1)
		why = "it is not signed by the current CA";
	else if (X509_check_host(srv->crt, "localhost", 0, 0, NULL) != 1 ||
	         X509_check_ip_asc(srv->crt, "127.0.0.1", 0) != 1 ||
	         X509_check_ip_asc(srv->crt, "::1", 0) != 1)
		why = "it does not name localhost, 127.0.0.1 and ::1";
	else
		why = validity_problem(srv->crt, now, SRV_RENEW_DAYS);
	ERR_clear_error();
	return why;
}

/* "user@host" (out has room for 48 bytes): printable ASCII only, and at most 46 characters so that
 * the CN stays within the 64 that X.509 allows. */
static void user_at_host(char out[48])
{
	char pwbuf[4096], host[256] = "localhost", uid[16];
	struct passwd pw, *res = NULL;
	const char *user = uid;
	size_t ul, hl;

	snprintf(uid, sizeof(uid), "uid%u", (unsigned)geteuid());
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res && res->pw_name[0])
		user = res->pw_name;
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	ul = strnlen(user, 23);
	hl = strnlen(host, 46 - 1 - ul);
	memcpy(out, user, ul);
	out[ul] = '@';
	memcpy(out + ul + 1, host, hl);
	out[ul + 1 + hl] = '\0';
	for (size_t i = 0; out[i]; i++)
		if (out[i] < 0x20 || out[i] > 0x7e)
			out[i] = '?';
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *e;
	X509V3_CTX ctx;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (e == NULL)
		return -EIO;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : -EIO;
}

/* A v3 certificate with a random positive 16-byte serial, from now (less a day) for days. */
static X509 *cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key, time_t now, int days)
{
	unsigned char serial[16];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	bool ok;

	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	/* Top bit clear (positive) and a first byte that is not 0: exactly 16 bytes once encoded. */
	serial[0] &= 0x7f;
	if (serial[0] == 0)
		serial[0] = 1;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn && X509_set_version(x, X509_VERSION_3) == 1 &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) && X509_set_subject_name(x, subject) == 1 &&
	     X509_set_issuer_name(x, issuer) == 1 && X509_set_pubkey(x, key) == 1 &&
	     X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_SECS, &now) &&
	     X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now);
	BN_free(bn);
	if (ok)
		return x;
fail:
	X509_free(x);
	return NULL;
}

static int make_ca(time_t now, struct pair *ret)
{
	struct pair ca = {NULL, NULL};
	X509_NAME *name = X509_NAME_new();
	char who[48], cn[80];
	int r = -EIO;

	user_at_host(who);
	snprintf(cn, sizeof(cn), "imza local CA (%s)", who);
	ca.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	/* O first, then CN: in RFC 2253 order (most specific first) it reads "CN=...,O=imza". */
	if (name == NULL || ca.key == NULL ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"imza", -1, -1, 0) !=
	            1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)
		goto out;
	ca.crt = cert_new(name, name, ca.key, now, CA_DAYS);
	if (ca.crt == NULL ||
	    add_ext(ca.crt, ca.crt, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(ca.crt, ca.crt, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(ca.crt, ca.crt, NID_name_constraints, CA_NAME_CONSTRAINTS) < 0 ||
	    add_ext(ca.crt, ca.crt, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(ca.crt, ca.crt, NID_authority_key_identifier, "keyid:always") < 0 ||
	    X509_sign(ca.crt, ca.key, EVP_sha256()) <= 0)
		goto out;
	*ret = ca;
	ca.crt = NULL;
	ca.key = NULL;
	r = 0;
out:
	if (r < 0)
		log_error("localca: cannot make a CA: %s", ssl_error());
	pair_free(&ca);
	X509_NAME_free(name);
	return r;
}

static int make_server(struct pair *ca, time_t now, struct pair *ret)
{
	struct pair srv = {NULL, NULL};
	X509_NAME *name = X509_NAME_new();
	int r = -EIO;

	srv.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (name == NULL || srv.key == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"localhost", -1, -1,
	                               0) != 1)
		goto out;
	srv.crt = cert_new(name, X509_get_subject_name(ca->crt), srv.key, now, SRV_DAYS);
	if (srv.crt == NULL || add_ext(srv.crt, ca->crt, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(srv.crt, ca->crt, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(srv.crt, ca->crt, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(srv.crt, ca->crt, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") < 0 ||
	    add_ext(srv.crt, ca->crt, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(srv.crt, ca->crt, NID_authority_key_identifier, "keyid:always") < 0 ||
	    X509_sign(srv.crt, ca->key, EVP_sha256()) <= 0)
		goto out;
	*ret = srv;
	srv.crt = NULL;
	srv.key = NULL;
	r = 0;
out:
	if (r < 0)
		log_error("localca: cannot make a server certificate: %s", ssl_error());
	pair_free(&srv);
	X509_NAME_free(name);
	return r;
}

/* Replaces name in the directory with data: a new file ".name.tmp" (O_EXCL, never through a link),
 * synced, then renamed over name, so a crash leaves the old file or the new one, never half of one. */
static int write_atomic(int dfd, const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	char tmp[64];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	/* One left by a crash: the directory lock says no other imzad is writing it now. */
	if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		log_error("localca: cannot create %s/%s: %s", dir, tmp, strerror(-r));
		return r;
	}
	/* The exact mode, whatever the umask. */
	if (fchmod(fd, mode) < 0)
		r = -errno;
	while (r == 0 && len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else {
			p += n;
			len -= (size_t)n;
		}
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0) {
		log_error("localca: cannot write %s/%s: %s", dir, name, strerror(-r));
		unlinkat(dfd, tmp, 0);
		return r;
	}
	/* The rename itself must survive a crash too. */
	fsync(dfd);
	return 0;
}

/* Writes the key (0600), then the certificate (0644): a crash between the two leaves a pair that does
 * not match, which the next start replaces. */
static int write_pair(int dfd, const char *dir, const char *crt_name, const char *key_name, struct pair *p)
{
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	char *kdata, *cdata;
	long klen, clen;
	int r = -EIO;

	if (kb == NULL || cb == NULL ||
	    PEM_write_bio_PrivateKey(kb, p->key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, p->crt) != 1)
		goto out;
	klen = BIO_get_mem_data(kb, &kdata);
	clen = BIO_get_mem_data(cb, &cdata);
	if (klen <= 0 || clen <= 0)
		goto out;
	r = write_atomic(dfd, dir, key_name, kdata, (size_t)klen, 0600);
	if (r == 0)
		r = write_atomic(dfd, dir, crt_name, cdata, (size_t)clen, 0644);
out:
	BIO_free(kb); /* a secure-memory BIO clears what it held */
	BIO_free(cb);
	return r;
}

static void log_until(const char *what, const char *dir, const X509 *crt, const char *why)
{
	char until[64] = "?";
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(crt), &tm) == 1)
		strftime(until, sizeof(until), "%Y-%m-%d", &tm);
	log_info("localca: new %s in %s, valid until %s (%s)", what, dir, until, why);
}

static int ensure(const char *dir, time_t now, struct pair *ret_srv)
{
	struct pair ca = {NULL, NULL}, srv = {NULL, NULL};
	const char *ca_why = NULL, *srv_why = NULL;
	int dfd = -1, r, rs;

	if (dir == NULL || dir[0] == '\0')
		return -EINVAL;
	r = open_dir(dir, &dfd);
	if (r < 0)
		return r;
	/* Two imzads starting at once must not make two CAs and mix their files. */
	if (flock(dfd, LOCK_EX) < 0) {
		r = -errno;
		goto out;
	}
	r = load_pair(dfd, dir, LOCALCA_CA_FILE, CA_KEY_FILE, &ca);
	rs = load_pair(dfd, dir, SRV_CRT_FILE, SRV_KEY_FILE, &srv);
	/* -ENOENT and -EBADMSG: a pair to make anew. Anything else stops here (-EPERM is logged already). */
	if (!(r == 0 || r == -ENOENT || r == -EBADMSG) || !(rs == 0 || rs == -ENOENT || rs == -EBADMSG)) {
		if (r == 0 || r == -ENOENT || r == -EBADMSG)
			r = rs;
		if (r != -EPERM)
			log_error("localca: cannot read %s: %s", dir, strerror(-r));
		goto out;
	}
	if (r == -ENOENT)
		ca_why = "there was none";
	else if (r == -EBADMSG)
		ca_why = "ca.crt or ca.key cannot be read";
	else
		ca_why = ca_problem(&ca, now);
	if (ca_why) {
		pair_free(&ca);
		r = make_ca(now, &ca);
		if (r == 0)
			r = write_pair(dfd, dir, LOCALCA_CA_FILE, CA_KEY_FILE, &ca);
		if (r < 0)
			goto out;
		log_until("CA", dir, ca.crt, ca_why);
		srv_why = "the CA is new";
	} else if (rs == -ENOENT) {
		srv_why = "there was none";
	} else if (rs == -EBADMSG) {
		srv_why = "server.crt or server.key cannot be read";
	} else {
		srv_why = server_problem(&srv, &ca, now);
	}
	if (srv_why) {
		pair_free(&srv);
		r = make_server(&ca, now, &srv);
		if (r == 0)
			r = write_pair(dfd, dir, SRV_CRT_FILE, SRV_KEY_FILE, &srv);
		if (r < 0)
			goto out;
		log_until("server certificate", dir, srv.crt, srv_why);
	}
	r = 0;
	if (ret_srv) {
		*ret_srv = srv;
		srv.crt = NULL;
		srv.key = NULL;
	}
out:
	pair_free(&ca);
	pair_free(&srv);
	close(dfd); /* drops the lock */
	return r;
}

int localca_ensure(const char *dir, time_t now)
{
	return ensure(dir, now, NULL);
}

int localca_prepare(const char *dir)
{
	static const struct {
		const char *name;
		bool key;
	} files[] = {
	        {LOCALCA_CA_FILE, false}, {CA_KEY_FILE, true}, {SRV_CRT_FILE, false}, {SRV_KEY_FILE, true}};
	struct stat st;
	int dfd = -1, fd, r = 0;

	if (dir == NULL || dir[0] == '\0')
		return -EINVAL;
	r = open_dir(dir, &dfd);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && r == 0; i++) {
		r = open_checked(dfd, dir, files[i].name, files[i].key, &fd, &st);
		if (r == 0)
			close(fd);
	}
	close(dfd);
	/* The first start: the CA is made now, so that `imzactl trust` finds it before any browser came. */
	if (r == -ENOENT)
		r = localca_ensure(dir, time(NULL));
	return r;
}

/* ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, for either certificate type. */
#define LOCALCA_TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

int localca_server_ctx(const char *dir, SSL_CTX **ret)
{
	struct pair srv = {NULL, NULL};
	SSL_CTX *ctx = NULL;
	int r;

	r = ensure(dir, time(NULL), &srv);
	if (r < 0)
		return r;
	r = -EIO;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto out;
	/* One browser on the same machine: resumption saves nothing worth a ticket key in memory. */
	SSL_CTX_set_options(ctx,
	                    SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* TLS 1.2: forward secrecy and AEAD only. OpenSSL's default list also offers the CBC suites with
	 * HMAC-SHA1 (Lucky13-style padding oracles) and static RSA key exchange; no browser that can reach
	 * us needs them. TLS 1.3's suites are all AEAD and keep their defaults. */
	if (SSL_CTX_set_cipher_list(ctx, LOCALCA_TLS12_CIPHERS) != 1)
		goto out;
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1 || SSL_CTX_use_certificate(ctx, srv.crt) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, srv.key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	*ret = ctx;
	ctx = NULL;
	r = 0;
out:
	if (r < 0)
		log_error("localca: cannot set up TLS with %s/%s: %s", dir, SRV_CRT_FILE, ssl_error());
	SSL_CTX_free(ctx);
	pair_free(&srv);
	ERR_clear_error();
	return r;
}
