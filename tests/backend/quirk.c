/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A deliberately quirky PKCS#11 module, built only for tests: it loads a real module
 * (IMZA_QUIRK_MODULE, SoftHSM2 by default) and forwards every call to it, with the misbehaviours of
 * vendor modules that imza's backends must survive switched on by the environment:
 *
 *   IMZA_QUIRKS, a comma list of:
 *     no-os-locking     C_Initialize with CKF_OS_LOCKING_OK answers CKR_CANT_LOCK
 *     single-thread     two threads inside the module at once abort the process (a module that is not
 *                       thread-safe, caught in the act)
 *     no-wait           C_WaitForSlotEvent answers CKR_FUNCTION_NOT_SUPPORTED
 *     v220              C_GetInfo and the function list say PKCS#11 2.20
 *     short-list        the function list has NULL for the functions old modules leave out
 *     context-specific  every private key has CKA_ALWAYS_AUTHENTICATE: C_Sign and C_Decrypt need
 *                       C_Login(CKU_CONTEXT_SPECIFIC) after each C_SignInit and C_DecryptInit
 *     hostile-strings   the slot's description and manufacturer, the token's label, manufacturer, model
 *                       and serial, and every object's CKA_LABEL carry control characters (NUL, CR, LF,
 *                       ESC, DEL, C1), bytes that are not UTF-8, a character cut at the end, and
 *                       Turkish letters (HOSTILE_* below)
 *     pin-counter       the user PIN has PIN_TRIES tries: C_GetTokenInfo says CKF_USER_PIN_COUNT_LOW after
 *                       a wrong one, CKF_USER_PIN_FINAL_TRY at the last, CKF_USER_PIN_LOCKED (and C_Login
 *                       CKR_PIN_LOCKED) when none is left; a right PIN fills the count again
 *     no-raw-rsa        the module neither lists nor takes CKM_RSA_X_509 (many cards' modules do not); its
 *                       CKM_RSA_PKCS_OAEP takes any SHA-1..SHA-512 hash and MGF1 and a label, as a module
 *                       whose card does OAEP would (SoftHSM's own takes SHA-1 without a label only: the
 *                       quirk decrypts raw underneath and removes the OAEP padding itself)
 *     vendor-mech       the module lists a mechanism of its own, VENDOR_MECH with CKF_SIGN, that it serves
 *                       as CKM_SHA256_RSA_PKCS
 *   IMZA_QUIRK_LOGINS=FILE   each C_Login(CKU_USER) adds a line to FILE: its answer (ok, wrong, locked...);
 *                       C_SetPIN, C_InitPIN and the SO's C_Login add "set-pin ", "init-pin " or "so " and theirs
 *   IMZA_QUIRK_CONTEXT_REFUSE=FILE  while FILE exists, context-specific's C_Login(CKU_CONTEXT_SPECIFIC)
 *                            answers CKR_PIN_INCORRECT (and the operation stays active, as PKCS#11 has it)
 *   IMZA_QUIRK_HANG=FILE     while FILE exists, any call hangs (until the process is killed)
 *   IMZA_QUIRK_CRASH=FILE    while FILE exists, any call crashes the process (SIGSEGV)
 *   IMZA_QUIRK_REMOVED=FILE  while FILE exists the token is out: no token in the slot list, session
 *                            calls answer CKR_DEVICE_REMOVED; C_WaitForSlotEvent(CKF_DONT_BLOCK)
 *                            reports each change of it as an event on the first slot
 *
 * Test code: it trusts its environment, and prints one line only when it aborts on purpose. */
#define OPENSSL_SUPPRESS_DEPRECATED 1 /* RSA_padding_check_PKCS1_OAEP_mgf1 for no-raw-rsa's OAEP */
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "protocol/pkcs11-3.h"

#define DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"

enum {
	Q_NO_OS_LOCKING = 1 << 0,
	Q_SINGLE_THREAD = 1 << 1,
	Q_NO_WAIT = 1 << 2,
	Q_V220 = 1 << 3,
	Q_SHORT_LIST = 1 << 4,
	Q_CONTEXT_SPECIFIC = 1 << 5,
	Q_HOSTILE_STRINGS = 1 << 6,
	Q_PIN_COUNTER = 1 << 7,
	Q_NO_RAW_RSA = 1 << 8,
	Q_VENDOR_MECH = 1 << 9,
};

/* vendor-mech: the module's own mechanism ("IMZA" in the vendor range). */
#define VENDOR_MECH (CKM_VENDOR_DEFINED | 0x494d5a41UL)

/* pin-counter: the user PIN's tries, and the wrong PINs given since the last right one. */
#define PIN_TRIES 3
static int pin_wrong;

/* hostile-strings: what the module's fixed-size texts say (padded with spaces), and its labels. */
#define HOSTILE_DESC \
	"Kart okuyucu \x1b[2J\r\nFAKE: ok\x00\x7f\xc2\x9b\xff\xfe \xc4\xb0\xc5\x9f\xc4\x9f\xc3\xbc"
#define HOSTILE_LABEL "K\xc3\xb6t\xc3\xbc\x1b]0;x\x07\n\xff\x00z"
#define HOSTILE_SERIAL "12\n34\0335\xff" /* ESC as \033: a hex escape would take the 5 */
#define HOSTILE_OBJ_LABEL "anahtar\n\x1b[1m\xc4\xb0mza\x80\r"

static unsigned quirks;
static const char *hang_file, *crash_file, *removed_file, *logins_file, *context_refuse_file;
static void *target_dl;
static CK_FUNCTION_LIST *t; /* the real module's list */
static CK_FUNCTION_LIST q;  /* ours: t's, with the wrappers below */
static atomic_int inside;
/* context-specific: the session whose C_SignInit wants a context-specific login, and the user's PIN
 * it must be given (a test module: the PIN of the last C_Login). */
static CK_SESSION_HANDLE cs_session = CK_INVALID_HANDLE;
static unsigned char user_pin[64];
static size_t user_pin_len;

static bool exists(const char *path)
{
	return path && *path && access(path, F_OK) == 0;
}

static bool removed(void)
{
	return exists(removed_file);
}

/* A fixed-size PKCS#11 text: s (n bytes, NULs included), then spaces. */
static void fixed(CK_UTF8CHAR *out, size_t size, const char *s, size_t n)
{
	memset(out, ' ', size);
	memcpy(out, s, n < size ? n : size);
}

/* Every wrapped call goes through here first. */
static void enter(void)
{
	if (quirks & Q_SINGLE_THREAD) {
		if (atomic_fetch_add(&inside, 1) != 0) {
			static const char msg[] = "quirk module: two threads inside at once\n";
			ssize_t unused = write(2, msg, sizeof(msg) - 1);

			(void)unused;
			abort();
		}
		/* Each call stays inside a while, as a card's would: two threads that call at once meet
		 * here whatever the machine's load (a bare call is over before another thread runs). */
		usleep(500);
	}
	while (exists(hang_file))
		sleep(1);
	if (exists(crash_file))
		raise(SIGSEGV);
}

static CK_RV leave(CK_RV rv)
{
	if (quirks & Q_SINGLE_THREAD)
		atomic_fetch_sub(&inside, 1);
	return rv;
}

static void read_env(void)
{
	const char *s = getenv("IMZA_QUIRKS");
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	        {"no-os-locking", Q_NO_OS_LOCKING},
	        {"single-thread", Q_SINGLE_THREAD},
	        {"no-wait", Q_NO_WAIT},
	        {"v220", Q_V220},
	        {"short-list", Q_SHORT_LIST},
	        {"context-specific", Q_CONTEXT_SPECIFIC},
	        {"hostile-strings", Q_HOSTILE_STRINGS},
	        {"pin-counter", Q_PIN_COUNTER},
	        {"no-raw-rsa", Q_NO_RAW_RSA},
	        {"vendor-mech", Q_VENDOR_MECH},
	};

	quirks = 0;
	while (s && *s) {
		size_t n = strcspn(s, ",");

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && strncmp(s, names[i].name, n) == 0)
				quirks |= names[i].bit;
		s += n;
		if (*s == ',')
			s++;
	}
	hang_file = getenv("IMZA_QUIRK_HANG");
	crash_file = getenv("IMZA_QUIRK_CRASH");
	removed_file = getenv("IMZA_QUIRK_REMOVED");
	logins_file = getenv("IMZA_QUIRK_LOGINS");
	context_refuse_file = getenv("IMZA_QUIRK_CONTEXT_REFUSE");
}

/* ---- the wrappers ---- */

static CK_RV q_Initialize(CK_VOID_PTR args)
{
	const CK_C_INITIALIZE_ARGS *a = args;

	enter();
	if ((quirks & Q_NO_OS_LOCKING) && a && (a->flags & CKF_OS_LOCKING_OK))
		return leave(CKR_CANT_LOCK);
	return leave(t->C_Initialize(args));
}

static CK_RV q_Finalize(CK_VOID_PTR reserved)
{
	enter();
	return leave(t->C_Finalize(reserved));
}

static CK_RV q_GetInfo(CK_INFO_PTR info)
{
	CK_RV rv;

	enter();
	rv = t->C_GetInfo(info);
	if (rv == CKR_OK && (quirks & Q_V220)) {
		info->cryptokiVersion.major = 2;
		info->cryptokiVersion.minor = 20;
	}
	return leave(rv);
}

static CK_RV q_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	enter();
	if (present && removed()) {
		*count = 0;
		return leave(CKR_OK);
	}
	return leave(t->C_GetSlotList(present, list, count));
}

static CK_RV q_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	CK_RV rv;

	enter();
	rv = t->C_GetSlotInfo(slot, info);
	if (rv == CKR_OK && removed())
		info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
	if (rv == CKR_OK && (quirks & Q_HOSTILE_STRINGS)) {
		/* The last character cut in two by the field's end, as a module that truncates bytes does. */
		fixed(info->slotDescription, sizeof(info->slotDescription), HOSTILE_DESC,
		      sizeof(HOSTILE_DESC) - 1);
		info->slotDescription[63] = 0xc5;
		fixed(info->manufacturerID, sizeof(info->manufacturerID), HOSTILE_SERIAL,
		      sizeof(HOSTILE_SERIAL) - 1);
	}
	return leave(rv);
}

static CK_RV q_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_TOKEN_NOT_PRESENT);
	rv = t->C_GetTokenInfo(slot, info);
	if (rv == CKR_OK && (quirks & Q_PIN_COUNTER)) {
		info->flags &=
		        ~(CK_FLAGS)(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
		if (pin_wrong > 0)
			info->flags |= CKF_USER_PIN_COUNT_LOW;
		if (pin_wrong == PIN_TRIES - 1)
			info->flags |= CKF_USER_PIN_FINAL_TRY;
		if (pin_wrong >= PIN_TRIES)
			info->flags |= CKF_USER_PIN_LOCKED;
	}
	if (rv == CKR_OK && (quirks & Q_HOSTILE_STRINGS)) {
		fixed(info->label, sizeof(info->label), HOSTILE_LABEL, sizeof(HOSTILE_LABEL) - 1);
		fixed(info->manufacturerID, sizeof(info->manufacturerID), HOSTILE_DESC, 32);
		fixed(info->model, sizeof(info->model), HOSTILE_SERIAL, sizeof(HOSTILE_SERIAL) - 1);
		fixed(info->serialNumber, sizeof(info->serialNumber), HOSTILE_SERIAL,
		      sizeof(HOSTILE_SERIAL) - 1);
	}
	return leave(rv);
}

static CK_RV q_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
	/* The removal trigger as the last look reported it (-1: not looked yet). */
	static atomic_int seen = -1;
	int now = removed(), was;

	/* Not through enter(): a blocked wait beside other calls is what the spec allows. */
	if (quirks & Q_NO_WAIT)
		return CKR_FUNCTION_NOT_SUPPORTED;
	/* The token taken out or put back (the trigger file) is a slot event, as a real one would be. */
	was = atomic_exchange(&seen, now);
	if ((flags & CKF_DONT_BLOCK) && slot != NULL && was >= 0 && was != now) {
		CK_SLOT_ID list[8];
		CK_ULONG n = 8;
		CK_RV rv;

		enter();
		rv = t->C_GetSlotList(CK_FALSE, list, &n);
		leave(CKR_OK);
		if (rv == CKR_OK && n > 0) {
			*slot = list[0];
			return CKR_OK;
		}
	}
	return t->C_WaitForSlotEvent(flags, slot, reserved);
}

static CK_RV q_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                           CK_SESSION_HANDLE_PTR session)
{
	enter();
	if (removed())
		return leave(CKR_TOKEN_NOT_PRESENT);
	return leave(t->C_OpenSession(slot, flags, app, notify, session));
}

/* IMZA_QUIRK_LOGINS: one line per C_Login(CKU_USER), so a test counts the PINs the module was given. */
static void note_call(const char *what, CK_RV rv)
{
	FILE *f = logins_file && *logins_file ? fopen(logins_file, "a") : NULL;

	if (f == NULL)
		return;
	fprintf(f, "%s%s\n", what,
	        rv == CKR_OK                       ? "ok"
	        : rv == CKR_PIN_INCORRECT          ? "wrong"
	        : rv == CKR_PIN_LOCKED             ? "locked"
	        : rv == CKR_USER_ALREADY_LOGGED_IN ? "already"
	                                           : "other");
	fclose(f);
}

static void note_login(CK_RV rv)
{
	note_call("", rv);
}

static CK_RV q_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if ((quirks & Q_CONTEXT_SPECIFIC) && user == CKU_CONTEXT_SPECIFIC) {
		if (session != cs_session)
			return leave(CKR_OPERATION_NOT_INITIALIZED);
		if (exists(context_refuse_file))
			return leave(CKR_PIN_INCORRECT);
		if (pin == NULL || len != user_pin_len || memcmp(pin, user_pin, len) != 0)
			return leave(CKR_PIN_INCORRECT);
		cs_session = CK_INVALID_HANDLE;
		return leave(CKR_OK);
	}
	if ((quirks & Q_PIN_COUNTER) && user == CKU_USER && pin_wrong >= PIN_TRIES) {
		rv = CKR_PIN_LOCKED;
	} else {
		rv = t->C_Login(session, user, pin, len);
		if ((quirks & Q_PIN_COUNTER) && user == CKU_USER && rv == CKR_PIN_INCORRECT &&
		    ++pin_wrong >= PIN_TRIES)
			rv = CKR_PIN_LOCKED;
		if ((quirks & Q_PIN_COUNTER) && user == CKU_USER && rv == CKR_OK)
			pin_wrong = 0;
	}
	if (rv == CKR_OK && user == CKU_USER && pin && len <= sizeof(user_pin)) {
		memcpy(user_pin, pin, len);
		user_pin_len = len;
	}
	if (user == CKU_USER)
		note_login(rv);
	else if (user == CKU_SO)
		note_call("so ", rv);
	return leave(rv);
}

/* pin-counter: a PIN change counts a wrong old PIN as a wrong login does, and is refused while locked; a
 * new PIN set by the SO (C_InitPIN) fills the count again. IMZA_QUIRK_LOGINS gets a line for each:
 * set-pin ok|wrong|locked..., init-pin ..., and so ... for the SO's C_Login. */
static CK_RV q_SetPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old, CK_ULONG oldlen, CK_UTF8CHAR_PTR new,
                      CK_ULONG newlen)
{
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if ((quirks & Q_PIN_COUNTER) && pin_wrong >= PIN_TRIES) {
		rv = CKR_PIN_LOCKED;
	} else {
		rv = t->C_SetPIN(session, old, oldlen, new, newlen);
		if ((quirks & Q_PIN_COUNTER) && rv == CKR_PIN_INCORRECT && ++pin_wrong >= PIN_TRIES)
			rv = CKR_PIN_LOCKED;
		if ((quirks & Q_PIN_COUNTER) && rv == CKR_OK)
			pin_wrong = 0;
	}
	note_call("set-pin ", rv);
	return leave(rv);
}

static CK_RV q_InitPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	rv = t->C_InitPIN(session, pin, len);
	if (rv == CKR_OK)
		pin_wrong = 0;
	note_call("init-pin ", rv);
	return leave(rv);
}

/* context-specific: every private key says CKA_ALWAYS_AUTHENTICATE. */
static CK_RV q_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                                 CK_ULONG n)
{
	/* hostile-strings: the label's room, as the caller gave it (the module writes its own length). */
	CK_ULONG room = 0;
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);

	for (CK_ULONG i = 0; i < n; i++)
		if (tmpl[i].type == CKA_LABEL)
			room = tmpl[i].pValue ? tmpl[i].ulValueLen : 0;
	rv = t->C_GetAttributeValue(session, obj, tmpl, n);
	if ((rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID) && (quirks & Q_HOSTILE_STRINGS))
		for (CK_ULONG i = 0; i < n; i++)
			if (tmpl[i].type == CKA_LABEL) {
				tmpl[i].ulValueLen = sizeof(HOSTILE_OBJ_LABEL) - 1;
				if (tmpl[i].pValue && room >= sizeof(HOSTILE_OBJ_LABEL) - 1) {
					memcpy(tmpl[i].pValue, HOSTILE_OBJ_LABEL,
					       sizeof(HOSTILE_OBJ_LABEL) - 1);
				} else if (tmpl[i].pValue) {
					tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
					rv = CKR_BUFFER_TOO_SMALL;
				}
			}
	if ((rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID) && (quirks & Q_CONTEXT_SPECIFIC)) {
		CK_OBJECT_CLASS cls = 0;
		CK_ATTRIBUTE c = {CKA_CLASS, &cls, sizeof(cls)};

		if (t->C_GetAttributeValue(session, obj, &c, 1) == CKR_OK && cls == CKO_PRIVATE_KEY)
			for (CK_ULONG i = 0; i < n; i++)
				if (tmpl[i].type == CKA_ALWAYS_AUTHENTICATE) {
					if (tmpl[i].pValue && tmpl[i].ulValueLen >= sizeof(CK_BBOOL))
						*(CK_BBOOL *)tmpl[i].pValue = CK_TRUE;
					tmpl[i].ulValueLen = sizeof(CK_BBOOL);
				}
	}
	return leave(rv);
}

static CK_RV q_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	CK_RV rv;

	CK_MECHANISM m;

	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if (mech && mech->mechanism == CKM_RSA_X_509 && (quirks & Q_NO_RAW_RSA))
		return leave(CKR_MECHANISM_INVALID);
	if (mech && mech->mechanism == VENDOR_MECH) {
		if (!(quirks & Q_VENDOR_MECH))
			return leave(CKR_MECHANISM_INVALID);
		m = (CK_MECHANISM){CKM_SHA256_RSA_PKCS, NULL, 0};
		mech = &m;
	}
	rv = t->C_SignInit(session, mech, key);
	if (rv == CKR_OK && (quirks & Q_CONTEXT_SPECIFIC))
		cs_session = session;
	return leave(rv);
}

/* A signature part before the context-specific login: the spec's CKR_USER_NOT_LOGGED_IN. */
static bool needs_cs_login(CK_SESSION_HANDLE session)
{
	return (quirks & Q_CONTEXT_SPECIFIC) && cs_session == session && session != CK_INVALID_HANDLE;
}

static CK_RV q_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                    CK_ULONG_PTR siglen)
{
	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if (needs_cs_login(session))
		return leave(CKR_USER_NOT_LOGGED_IN);
	return leave(t->C_Sign(session, data, len, sig, siglen));
}

static CK_RV q_SignUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG len)
{
	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if (needs_cs_login(session))
		return leave(CKR_USER_NOT_LOGGED_IN);
	return leave(t->C_SignUpdate(session, part, len));
}

static CK_RV q_SignFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if (needs_cs_login(session))
		return leave(CKR_USER_NOT_LOGGED_IN);
	return leave(t->C_SignFinal(session, sig, siglen));
}

/* The session calls with nothing of their own: the hang, crash, removal and thread checks. */
#define PASS(name, params, args)                          \
	static CK_RV q_##name params                      \
	{                                                 \
		enter();                                  \
		if (removed())                            \
			return leave(CKR_DEVICE_REMOVED); \
		return leave(t->C_##name args);           \
	}
PASS(CloseSession, (CK_SESSION_HANDLE s), (s))
PASS(GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR i), (s, i))
PASS(Logout, (CK_SESSION_HANDLE s), (s))
PASS(FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR a, CK_ULONG n), (s, a, n))
PASS(FindObjects, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR n), (s, o, m, n))
PASS(FindObjectsFinal, (CK_SESSION_HANDLE s), (s))
#undef PASS

/* no-raw-rsa's OAEP: the session decrypting, its hash, MGF and label (a test module: one at a time). */
static CK_SESSION_HANDLE oaep_session = CK_INVALID_HANDLE;
static const char *oaep_md, *oaep_mgf;
static unsigned char oaep_label[512];
static size_t oaep_label_len;

static const char *sha_name(CK_ULONG v, bool mgf)
{
	static const struct {
		CK_ULONG hash, mgf;
		const char *name;
	} names[] = {{CKM_SHA_1, CKG_MGF1_SHA1, "SHA1"},
	             {CKM_SHA224, CKG_MGF1_SHA224, "SHA224"},
	             {CKM_SHA256, CKG_MGF1_SHA256, "SHA256"},
	             {CKM_SHA384, CKG_MGF1_SHA384, "SHA384"},
	             {CKM_SHA512, CKG_MGF1_SHA512, "SHA512"}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((mgf ? names[i].mgf : names[i].hash) == v)
			return names[i].name;
	return NULL;
}

static CK_RV q_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM raw = {CKM_RSA_X_509, NULL, 0};
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if (mech && mech->mechanism == CKM_RSA_X_509 && (quirks & Q_NO_RAW_RSA))
		return leave(CKR_MECHANISM_INVALID);
	if (mech && mech->mechanism == CKM_RSA_PKCS_OAEP && (quirks & Q_NO_RAW_RSA)) {
		const CK_RSA_PKCS_OAEP_PARAMS *p = mech->pParameter;

		if (p == NULL || mech->ulParameterLen != sizeof(*p) || sha_name(p->hashAlg, false) == NULL ||
		    sha_name(p->mgf, true) == NULL || p->source != CKZ_DATA_SPECIFIED ||
		    p->ulSourceDataLen > sizeof(oaep_label) || (p->ulSourceDataLen && p->pSourceData == NULL))
			return leave(CKR_MECHANISM_PARAM_INVALID);
		rv = t->C_DecryptInit(session, &raw, key);
		if (rv == CKR_OK) {
			oaep_session = session;
			oaep_md = sha_name(p->hashAlg, false);
			oaep_mgf = sha_name(p->mgf, true);
			oaep_label_len = p->ulSourceDataLen;
			if (oaep_label_len)
				memcpy(oaep_label, p->pSourceData, oaep_label_len);
		}
	} else {
		rv = t->C_DecryptInit(session, mech, key);
	}
	if (rv == CKR_OK && (quirks & Q_CONTEXT_SPECIFIC))
		cs_session = session;
	return leave(rv);
}

/* no-raw-rsa's OAEP: the raw block from the real module, its padding removed here. */
static CK_RV oaep_decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                          CK_ULONG_PTR outlen)
{
	unsigned char block[512], plain[512];
	CK_ULONG n = sizeof(block);
	EVP_MD *md, *mgf;
	CK_RV rv;
	int len;

	if (out == NULL)
		return t->C_Decrypt(session, in, inlen, NULL, outlen);
	oaep_session = CK_INVALID_HANDLE;
	rv = t->C_Decrypt(session, in, inlen, block, &n);
	if (rv != CKR_OK)
		return rv;
	md = EVP_MD_fetch(NULL, oaep_md, NULL);
	mgf = EVP_MD_fetch(NULL, oaep_mgf, NULL);
	len = md && mgf ? RSA_padding_check_PKCS1_OAEP_mgf1(plain, (int)sizeof(plain), block, (int)n, (int)n,
	                                                    oaep_label, (int)oaep_label_len, md, mgf)
	                : -1;
	EVP_MD_free(md);
	EVP_MD_free(mgf);
	if (len < 0)
		return CKR_ENCRYPTED_DATA_INVALID;
	if (*outlen < (CK_ULONG)len) {
		*outlen = (CK_ULONG)len;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(out, plain, (size_t)len);
	*outlen = (CK_ULONG)len;
	return CKR_OK;
}

static CK_RV q_Decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                       CK_ULONG_PTR outlen)
{
	enter();
	if (removed())
		return leave(CKR_DEVICE_REMOVED);
	if (needs_cs_login(session))
		return leave(CKR_USER_NOT_LOGGED_IN);
	if (session == oaep_session)
		return leave(oaep_decrypt(session, in, inlen, out, outlen));
	return leave(t->C_Decrypt(session, in, inlen, out, outlen));
}

static CK_RV q_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_MECHANISM_TYPE all[512];
	CK_ULONG n = sizeof(all) / sizeof(all[0]) - 1, k = 0;
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_TOKEN_NOT_PRESENT);
	if (!(quirks & (Q_NO_RAW_RSA | Q_VENDOR_MECH)))
		return leave(t->C_GetMechanismList(slot, list, count));
	rv = t->C_GetMechanismList(slot, all, &n);
	if (rv != CKR_OK)
		return leave(rv);
	for (CK_ULONG i = 0; i < n; i++)
		if (!(all[i] == CKM_RSA_X_509 && (quirks & Q_NO_RAW_RSA)))
			all[k++] = all[i];
	if (quirks & Q_VENDOR_MECH)
		all[k++] = VENDOR_MECH;
	if (list && *count < k) {
		*count = k;
		return leave(CKR_BUFFER_TOO_SMALL);
	}
	if (list)
		memcpy(list, all, k * sizeof(all[0]));
	*count = k;
	return leave(CKR_OK);
}

static CK_RV q_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	CK_RV rv;

	enter();
	if (removed())
		return leave(CKR_TOKEN_NOT_PRESENT);
	if (type == CKM_RSA_X_509 && (quirks & Q_NO_RAW_RSA))
		return leave(CKR_MECHANISM_INVALID);
	if (type == VENDOR_MECH && (quirks & Q_VENDOR_MECH)) {
		rv = t->C_GetMechanismInfo(slot, CKM_SHA256_RSA_PKCS, info);
		if (rv == CKR_OK)
			info->flags = CKF_SIGN;
		return leave(rv);
	}
	return leave(t->C_GetMechanismInfo(slot, type, info));
}

static CK_RV q_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

/* Loads the real module once and makes our list from its own. */
static CK_RV load(void)
{
	const char *path = getenv("IMZA_QUIRK_MODULE");
	CK_C_GetFunctionList get;

	if (t)
		return CKR_OK;
	read_env();
	target_dl = dlopen(path && *path ? path : DEFAULT_TARGET, RTLD_NOW | RTLD_LOCAL);
	if (target_dl == NULL)
		return CKR_GENERAL_ERROR;
	get = (CK_C_GetFunctionList)dlsym(target_dl, "C_GetFunctionList");
	if (get == NULL || get(&t) != CKR_OK || t == NULL) {
		t = NULL;
		return CKR_GENERAL_ERROR;
	}
	q = *t;
	q.C_Initialize = q_Initialize;
	q.C_Finalize = q_Finalize;
	q.C_GetInfo = q_GetInfo;
	q.C_GetFunctionList = q_GetFunctionList;
	q.C_GetSlotList = q_GetSlotList;
	q.C_GetSlotInfo = q_GetSlotInfo;
	q.C_GetTokenInfo = q_GetTokenInfo;
	q.C_GetMechanismList = q_GetMechanismList;
	q.C_GetMechanismInfo = q_GetMechanismInfo;
	q.C_WaitForSlotEvent = q_WaitForSlotEvent;
	q.C_OpenSession = q_OpenSession;
	q.C_CloseSession = q_CloseSession;
	q.C_GetSessionInfo = q_GetSessionInfo;
	q.C_Login = q_Login;
	q.C_Logout = q_Logout;
	q.C_SetPIN = q_SetPIN;
	q.C_InitPIN = q_InitPIN;
	q.C_GetAttributeValue = q_GetAttributeValue;
	q.C_FindObjectsInit = q_FindObjectsInit;
	q.C_FindObjects = q_FindObjects;
	q.C_FindObjectsFinal = q_FindObjectsFinal;
	q.C_SignInit = q_SignInit;
	q.C_Sign = q_Sign;
	q.C_SignUpdate = q_SignUpdate;
	q.C_SignFinal = q_SignFinal;
	q.C_DecryptInit = q_DecryptInit;
	q.C_Decrypt = q_Decrypt;
	q.version.major = 2;
	q.version.minor = (quirks & Q_V220) ? 20 : 40;
	if (quirks & Q_SHORT_LIST) {
		q.C_GetFunctionStatus = NULL;
		q.C_CancelFunction = NULL;
		q.C_DigestEncryptUpdate = NULL;
		q.C_DecryptDigestUpdate = NULL;
		q.C_SignEncryptUpdate = NULL;
		q.C_DecryptVerifyUpdate = NULL;
		q.C_WaitForSlotEvent = NULL;
	}
	return CKR_OK;
}

static CK_RV q_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	CK_RV rv;

	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = load();
	if (rv != CKR_OK)
		return rv;
	*list = &q;
	return CKR_OK;
}

/* The one symbol: a 2.x module has no C_GetInterface. */
__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	return q_GetFunctionList(list);
}
