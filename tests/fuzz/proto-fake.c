/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-fake: sample arguments and a fake backend for every row of the signature table
 * (see proto-fake.h). The backend must stay safe on any decoded input: the fuzzer runs it. */
#include "proto-fake.h"

#include <string.h>

/* ---- sample values ---- */

static CK_OBJECT_CLASS s_class = CKO_PRIVATE_KEY;
static CK_BBOOL s_true = CK_TRUE;
static CK_BYTE s_label[] = {'i', 'm', 'z', 'a'};
static CK_KEY_TYPE s_key_type = CKK_AES;
static CK_MECHANISM_TYPE s_mechs[] = {CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS};
static CK_ATTRIBUTE s_wrap[] = {
        {CKA_KEY_TYPE, &s_key_type, sizeof(s_key_type)},
        {CKA_ENCRYPT, &s_true, sizeof(s_true)},
};
/* One attribute of every kind, a NULL value, and a nested template. */
static CK_ATTRIBUTE s_template[] = {
        {CKA_CLASS, &s_class, sizeof(s_class)},
        {CKA_TOKEN, &s_true, sizeof(s_true)},
        {CKA_LABEL, s_label, sizeof(s_label)},
        {CKA_WRAP_TEMPLATE, s_wrap, sizeof(s_wrap)},
        {CKA_ALLOWED_MECHANISMS, s_mechs, sizeof(s_mechs)},
        {CKA_ID, NULL, 0},
};
#define S_TEMPLATE_N (sizeof(s_template) / sizeof(s_template[0]))

static CK_RV fake_notify(CK_SESSION_HANDLE h, CK_NOTIFICATION ev, CK_VOID_PTR app)
{
	(void)h, (void)ev, (void)app;
	return CKR_OK;
}

static CK_ULONG sample_ulong(const struct rpc_call_desc *d, unsigned i)
{
	return 0x1000u + d->id * 16u + i;
}

static CK_ULONG sample_bytes_len(unsigned i)
{
	return 5u + i;
}

static void sample_bytes(const struct rpc_call_desc *d, unsigned i, CK_BYTE *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		p[k] = (CK_BYTE)(d->id * 7u + i * 13u + k);
}

static void set_blank_padded(CK_BYTE *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	memset(dst, ' ', size);
	memcpy(dst, s, n < size ? n : size);
}

void fake_caller_args(const struct rpc_call_desc *d, struct fake_store *s, union rpc_arg *args)
{
	memset(s, 0, sizeof(*s));
	memset(args, 0, RPC_KINDS_MAX * sizeof(*args));
	for (unsigned i = 0; i < d->nkinds; i++) {
		union rpc_arg *a = &args[i];

		switch (d->kinds[i]) {
		case RPC_KIND_ULONG:
			a->ul = sample_ulong(d, i);
			break;
		case RPC_KIND_BBOOL:
			a->bbool = CK_TRUE;
			break;
		case RPC_KIND_BYTES:
		case RPC_KIND_PARAM:
			sample_bytes(d, i, s->in[i], sample_bytes_len(i));
			a->buf.p = s->in[i];
			a->buf.n = sample_bytes_len(i);
			break;
		case RPC_KIND_LABEL32:
			sample_bytes(d, i, s->in[i], 32);
			a->buf.p = s->in[i];
			a->buf.n = 32;
			break;
		case RPC_KIND_BYTES_OUT:
			s->len[i] = FAKE_BUF;
			a->out.p = s->out[i];
			a->out.n = &s->len[i];
			break;
		case RPC_KIND_FIXED_OUT:
			a->buf.p = s->out[i];
			a->buf.n = 16;
			break;
		case RPC_KIND_ULONG_OUT:
			a->pul = &s->ul[i][0];
			break;
		case RPC_KIND_ULONGS_OUT:
			s->len[i] = FAKE_N;
			a->ulongs.p = s->ul[i];
			a->ulongs.n = &s->len[i];
			break;
		case RPC_KIND_HANDLES_OUT:
			a->handles.p = s->ul[i];
			a->handles.max = FAKE_N;
			a->handles.n = &s->len[i];
			break;
		case RPC_KIND_TEMPLATE:
			a->tmpl.p = s_template;
			a->tmpl.n = S_TEMPLATE_N;
			break;
		case RPC_KIND_TEMPLATE_GET: {
			CK_ATTRIBUTE *t = s->get[i], *in = s->get_inner[i];

			t[0] = (CK_ATTRIBUTE){CKA_CLASS, s->get_values[i][0], sizeof(CK_ULONG)};
			t[1] = (CK_ATTRIBUTE){CKA_LABEL, s->get_values[i][1], 16};
			t[2] = (CK_ATTRIBUTE){CKA_TOKEN, s->get_values[i][2], 1};
			t[3] = (CK_ATTRIBUTE){CKA_MODULUS, NULL, 0};
			t[4] = (CK_ATTRIBUTE){CKA_WRAP_TEMPLATE, in, 2 * sizeof(CK_ATTRIBUTE)};
			/* Element types are outputs: left as garbage on purpose. */
			in[0] = (CK_ATTRIBUTE){0xdeadUL, s->get_inner_values[i][0], 16};
			in[1] = (CK_ATTRIBUTE){CKA_WRAP_TEMPLATE, s->get_inner_values[i][1], 16};
			a->tmpl.p = t;
			a->tmpl.n = FAKE_GET_N;
			break;
		}
		case RPC_KIND_MECHANISM:
			s->pss = (CK_RSA_PKCS_PSS_PARAMS){CKM_SHA256, CKG_MGF1_SHA256, 32};
			s->mech = (CK_MECHANISM){CKM_SHA256_RSA_PKCS_PSS, &s->pss, sizeof(s->pss)};
			a->mech = &s->mech;
			break;
		case RPC_KIND_INFO_OUT:
			a->info = &s->info;
			break;
		case RPC_KIND_SLOT_INFO_OUT:
			a->slot_info = &s->slot_info;
			break;
		case RPC_KIND_TOKEN_INFO_OUT:
			a->token_info = &s->token_info;
			break;
		case RPC_KIND_SESSION_INFO_OUT:
			a->session_info = &s->session_info;
			break;
		case RPC_KIND_MECH_INFO_OUT:
			a->mech_info = &s->mech_info;
			break;
		case RPC_KIND_NOTIFY:
			a->notify.app = s;
			a->notify.cb = fake_notify;
			break;
		case RPC_KIND_RESERVED:
			a->reserved = NULL;
			break;
		}
	}
}

/* ---- comparisons ---- */

bool fake_template_equal(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		if (a[i].type != b[i].type || a[i].ulValueLen != b[i].ulValueLen ||
		    !a[i].pValue != !b[i].pValue)
			return false;
		if (!a[i].pValue)
			continue;
		if (proto_attr_kind(a[i].type) == PROTO_ATTR_TEMPLATE) {
			if (!fake_template_equal(a[i].pValue, b[i].pValue,
			                         a[i].ulValueLen / sizeof(CK_ATTRIBUTE)))
				return false;
		} else if (memcmp(a[i].pValue, b[i].pValue, a[i].ulValueLen) != 0) {
			return false;
		}
	}
	return true;
}

static bool version_equal(CK_VERSION a, CK_VERSION b)
{
	return a.major == b.major && a.minor == b.minor;
}

static void fill_info(CK_INFO *v)
{
	v->cryptokiVersion = (CK_VERSION){3, 0};
	set_blank_padded(v->manufacturerID, sizeof(v->manufacturerID), "imza");
	v->flags = 0;
	set_blank_padded(v->libraryDescription, sizeof(v->libraryDescription), "imza module");
	v->libraryVersion = (CK_VERSION){0, 1};
}

static bool info_equal(const CK_INFO *a, const CK_INFO *b)
{
	return version_equal(a->cryptokiVersion, b->cryptokiVersion) &&
	       !memcmp(a->manufacturerID, b->manufacturerID, sizeof(a->manufacturerID)) &&
	       a->flags == b->flags &&
	       !memcmp(a->libraryDescription, b->libraryDescription, sizeof(a->libraryDescription)) &&
	       version_equal(a->libraryVersion, b->libraryVersion);
}

static void fill_slot_info(CK_SLOT_INFO *v)
{
	set_blank_padded(v->slotDescription, sizeof(v->slotDescription), "Virtual PIV reader");
	set_blank_padded(v->manufacturerID, sizeof(v->manufacturerID), "imza");
	v->flags = CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
	v->hardwareVersion = (CK_VERSION){1, 2};
	v->firmwareVersion = (CK_VERSION){3, 4};
}

static bool slot_info_equal(const CK_SLOT_INFO *a, const CK_SLOT_INFO *b)
{
	return !memcmp(a->slotDescription, b->slotDescription, sizeof(a->slotDescription)) &&
	       !memcmp(a->manufacturerID, b->manufacturerID, sizeof(a->manufacturerID)) &&
	       a->flags == b->flags && version_equal(a->hardwareVersion, b->hardwareVersion) &&
	       version_equal(a->firmwareVersion, b->firmwareVersion);
}

static void fill_token_info(CK_TOKEN_INFO *v)
{
	set_blank_padded(v->label, sizeof(v->label), "Kamu SM");
	set_blank_padded(v->manufacturerID, sizeof(v->manufacturerID), "imza");
	set_blank_padded(v->model, sizeof(v->model), "PIV");
	set_blank_padded(v->serialNumber, sizeof(v->serialNumber), "0123456789");
	v->flags = CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
	v->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	v->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
	v->ulMaxRwSessionCount = 16;
	v->ulRwSessionCount = 1;
	v->ulMaxPinLen = 8;
	v->ulMinPinLen = 4;
	v->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	v->ulFreePublicMemory = 1000;
	v->ulTotalPrivateMemory = 2000;
	v->ulFreePrivateMemory = 3000;
	v->hardwareVersion = (CK_VERSION){5, 6};
	v->firmwareVersion = (CK_VERSION){7, 8};
	memcpy(v->utcTime, "2025112610561200", sizeof(v->utcTime));
}

static bool token_info_equal(const CK_TOKEN_INFO *a, const CK_TOKEN_INFO *b)
{
	return !memcmp(a->label, b->label, sizeof(a->label)) &&
	       !memcmp(a->manufacturerID, b->manufacturerID, sizeof(a->manufacturerID)) &&
	       !memcmp(a->model, b->model, sizeof(a->model)) &&
	       !memcmp(a->serialNumber, b->serialNumber, sizeof(a->serialNumber)) && a->flags == b->flags &&
	       a->ulMaxSessionCount == b->ulMaxSessionCount && a->ulSessionCount == b->ulSessionCount &&
	       a->ulMaxRwSessionCount == b->ulMaxRwSessionCount &&
	       a->ulRwSessionCount == b->ulRwSessionCount && a->ulMaxPinLen == b->ulMaxPinLen &&
	       a->ulMinPinLen == b->ulMinPinLen && a->ulTotalPublicMemory == b->ulTotalPublicMemory &&
	       a->ulFreePublicMemory == b->ulFreePublicMemory &&
	       a->ulTotalPrivateMemory == b->ulTotalPrivateMemory &&
	       a->ulFreePrivateMemory == b->ulFreePrivateMemory &&
	       version_equal(a->hardwareVersion, b->hardwareVersion) &&
	       version_equal(a->firmwareVersion, b->firmwareVersion) &&
	       !memcmp(a->utcTime, b->utcTime, sizeof(a->utcTime));
}

static void fill_session_info(CK_SESSION_INFO *v)
{
	*v = (CK_SESSION_INFO){1, CKS_RW_USER_FUNCTIONS, CKF_RW_SESSION | CKF_SERIAL_SESSION, 0x6982};
}

static bool session_info_equal(const CK_SESSION_INFO *a, const CK_SESSION_INFO *b)
{
	return a->slotID == b->slotID && a->state == b->state && a->flags == b->flags &&
	       a->ulDeviceError == b->ulDeviceError;
}

static void fill_mech_info(CK_MECHANISM_INFO *v)
{
	*v = (CK_MECHANISM_INFO){1024, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY};
}

static bool mech_info_equal(const CK_MECHANISM_INFO *a, const CK_MECHANISM_INFO *b)
{
	return a->ulMinKeySize == b->ulMinKeySize && a->ulMaxKeySize == b->ulMaxKeySize &&
	       a->flags == b->flags;
}

/* ---- server side ---- */

bool fake_check_inputs(const struct rpc_call_desc *d, const union rpc_arg *args)
{
	union rpc_arg want[RPC_KINDS_MAX];
	static struct fake_store s; /* the tests are single-threaded */
	const CK_ULONG scale = 8 / sizeof(CK_ULONG);

	fake_caller_args(d, &s, want);
	for (unsigned i = 0; i < d->nkinds; i++) {
		const union rpc_arg *a = &args[i], *w = &want[i];
		bool ok = true;

		switch (d->kinds[i]) {
		case RPC_KIND_ULONG:
			ok = a->ul == w->ul;
			break;
		case RPC_KIND_BBOOL:
			ok = a->bbool == w->bbool;
			break;
		case RPC_KIND_BYTES:
		case RPC_KIND_PARAM:
		case RPC_KIND_LABEL32:
			ok = a->buf.p && a->buf.n == w->buf.n && !memcmp(a->buf.p, w->buf.p, w->buf.n);
			break;
		case RPC_KIND_BYTES_OUT:
			ok = a->out.p && a->out.n && *a->out.n == FAKE_BUF;
			break;
		case RPC_KIND_FIXED_OUT:
			ok = a->buf.p && a->buf.n == w->buf.n;
			break;
		case RPC_KIND_ULONGS_OUT:
			ok = a->ulongs.p && a->ulongs.n && *a->ulongs.n == FAKE_N;
			break;
		case RPC_KIND_HANDLES_OUT:
			ok = a->handles.p && a->handles.n && a->handles.max == FAKE_N;
			break;
		case RPC_KIND_TEMPLATE:
			ok = a->tmpl.n == w->tmpl.n && fake_template_equal(a->tmpl.p, w->tmpl.p, w->tmpl.n);
			break;
		case RPC_KIND_TEMPLATE_GET: {
			const CK_ATTRIBUTE *t = a->tmpl.p, *wt = w->tmpl.p, *in;

			ok = t && a->tmpl.n == FAKE_GET_N;
			for (unsigned k = 0; ok && k < FAKE_GET_N; k++)
				ok = t[k].type == wt[k].type && !t[k].pValue == !wt[k].pValue;
			ok = ok && t[0].ulValueLen == 8 && t[1].ulValueLen == 16 * scale &&
			     t[2].ulValueLen == scale && t[4].ulValueLen == 2 * sizeof(CK_ATTRIBUTE);
			in = ok ? t[4].pValue : NULL;
			ok = ok && in[0].pValue && in[0].ulValueLen == 16 * scale && in[1].pValue &&
			     in[1].ulValueLen == 16 * scale;
			break;
		}
		case RPC_KIND_MECHANISM: {
			const CK_RSA_PKCS_PSS_PARAMS *p = a->mech ? a->mech->pParameter : NULL;

			ok = p && a->mech->mechanism == w->mech->mechanism &&
			     a->mech->ulParameterLen == sizeof(*p) && p->hashAlg == s.pss.hashAlg &&
			     p->mgf == s.pss.mgf && p->sLen == s.pss.sLen;
			break;
		}
		case RPC_KIND_ULONG_OUT:
			ok = a->pul != NULL;
			break;
		case RPC_KIND_INFO_OUT:
			ok = a->info != NULL;
			break;
		case RPC_KIND_SLOT_INFO_OUT:
			ok = a->slot_info != NULL;
			break;
		case RPC_KIND_TOKEN_INFO_OUT:
			ok = a->token_info != NULL;
			break;
		case RPC_KIND_SESSION_INFO_OUT:
			ok = a->session_info != NULL;
			break;
		case RPC_KIND_MECH_INFO_OUT:
			ok = a->mech_info != NULL;
			break;
		case RPC_KIND_NOTIFY:
			ok = !a->notify.app && !a->notify.cb;
			break;
		case RPC_KIND_RESERVED:
			ok = !a->reserved;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

static CK_RV worst(CK_RV a, CK_RV b)
{
	return a != CKR_OK ? a : b;
}

/* §5.2 for one output buffer: length query, too small, or the value. */
static CK_RV fill_out(void *p, CK_ULONG_PTR n, const void *v, CK_ULONG len, size_t unit)
{
	if (!n)
		return CKR_OK;
	if (!p) {
		*n = len;
		return CKR_OK;
	}
	if (*n < len) {
		*n = len;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(p, v, len * unit);
	*n = len;
	return CKR_OK;
}

static CK_RV fill_get(CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
	static const CK_BYTE modulus[FAKE_MODULUS_LEN] = {0xa5};
	CK_RV rv = CKR_OK;

	for (CK_ULONG i = 0; i < n; i++) {
		CK_ATTRIBUTE *at = &t[i];
		const void *v = FAKE_LABEL;
		CK_ULONG len = sizeof(FAKE_LABEL) - 1, x = 0x42;

		if (at->type == CKA_PRIVATE_EXPONENT) {
			at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = worst(rv, CKR_ATTRIBUTE_SENSITIVE);
			continue;
		}
		if (at->type >= CKA_VENDOR_DEFINED) {
			at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = worst(rv, CKR_ATTRIBUTE_TYPE_INVALID);
			continue;
		}
		switch (proto_attr_kind(at->type)) {
		case PROTO_ATTR_ULONG:
			if (at->type == CKA_CLASS)
				x = CKO_CERTIFICATE;
			if (at->type == CKA_KEY_TYPE)
				x = CKK_AES;
			v = &x;
			len = sizeof(x);
			break;
		case PROTO_ATTR_BBOOL:
			v = &s_true;
			len = 1;
			break;
		case PROTO_ATTR_TEMPLATE:
			len = 2 * sizeof(CK_ATTRIBUTE);
			if (depth >= PROTO_TEMPLATE_DEPTH_MAX) {
				at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
				rv = worst(rv, CKR_ATTRIBUTE_TYPE_INVALID);
			} else if (!at->pValue) {
				at->ulValueLen = len;
			} else if (at->ulValueLen < len) {
				at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
				rv = worst(rv, CKR_BUFFER_TOO_SMALL);
			} else {
				((CK_ATTRIBUTE *)at->pValue)[0].type = CKA_KEY_TYPE;
				((CK_ATTRIBUTE *)at->pValue)[1].type = CKA_ENCRYPT;
				rv = worst(rv, fill_get(at->pValue, 2, depth + 1));
				at->ulValueLen = len;
			}
			continue;
		case PROTO_ATTR_BYTES:
			if (at->type == CKA_MODULUS) {
				v = modulus;
				len = sizeof(modulus);
			}
			break;
		}
		if (!at->pValue) {
			at->ulValueLen = len;
		} else if (at->ulValueLen < len) {
			at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = worst(rv, CKR_BUFFER_TOO_SMALL);
		} else {
			memcpy(at->pValue, v, len);
			at->ulValueLen = len;
		}
	}
	return rv;
}

CK_RV fake_fill_results(const struct rpc_call_desc *d, union rpc_arg *args)
{
	static const CK_ULONG ulongs[FAKE_ULONGS_N] = {11, 12, 13};
	CK_RV rv = CKR_OK;

	for (unsigned i = 0; i < d->nkinds; i++) {
		union rpc_arg *a = &args[i];

		switch (d->kinds[i]) {
		case RPC_KIND_BYTES_OUT:
			rv = worst(rv, fill_out(a->out.p, a->out.n, FAKE_RESULT, sizeof(FAKE_RESULT) - 1, 1));
			break;
		case RPC_KIND_ULONGS_OUT:
			rv = worst(rv, fill_out(a->ulongs.p, a->ulongs.n, ulongs, FAKE_ULONGS_N,
			                        sizeof(CK_ULONG)));
			break;
		case RPC_KIND_FIXED_OUT:
			if (a->buf.p)
				memset(a->buf.p, 0xab, a->buf.n);
			break;
		case RPC_KIND_ULONG_OUT:
			if (a->pul)
				*a->pul = FAKE_ULONG;
			break;
		case RPC_KIND_HANDLES_OUT: {
			CK_ULONG k = a->handles.p ? FAKE_HANDLES_N : 0;

			if (!a->handles.n)
				break;
			if (k > a->handles.max)
				k = a->handles.max;
			for (CK_ULONG j = 0; j < k; j++)
				a->handles.p[j] = 21 + j;
			*a->handles.n = k;
			break;
		}
		case RPC_KIND_TEMPLATE_GET:
			if (a->tmpl.p)
				rv = worst(rv, fill_get(a->tmpl.p, a->tmpl.n, 1));
			break;
		case RPC_KIND_INFO_OUT:
			if (a->info)
				fill_info(a->info);
			break;
		case RPC_KIND_SLOT_INFO_OUT:
			if (a->slot_info)
				fill_slot_info(a->slot_info);
			break;
		case RPC_KIND_TOKEN_INFO_OUT:
			if (a->token_info)
				fill_token_info(a->token_info);
			break;
		case RPC_KIND_SESSION_INFO_OUT:
			if (a->session_info)
				fill_session_info(a->session_info);
			break;
		case RPC_KIND_MECH_INFO_OUT:
			if (a->mech_info)
				fill_mech_info(a->mech_info);
			break;
		default:
			break;
		}
	}
	return rv;
}

/* ---- client side ---- */

static bool check_get(const CK_ATTRIBUTE *t)
{
	const CK_ATTRIBUTE *in = t[4].pValue;
	CK_ULONG x;

	if (t[0].ulValueLen != sizeof(CK_ULONG) || t[1].ulValueLen != sizeof(FAKE_LABEL) - 1 ||
	    t[2].ulValueLen != 1 || t[3].ulValueLen != FAKE_MODULUS_LEN || t[3].pValue ||
	    t[4].ulValueLen != 2 * sizeof(CK_ATTRIBUTE))
		return false;
	memcpy(&x, t[0].pValue, sizeof(x));
	if (x != CKO_CERTIFICATE || memcmp(t[1].pValue, FAKE_LABEL, t[1].ulValueLen) ||
	    *(CK_BBOOL *)t[2].pValue != CK_TRUE)
		return false;
	if (in[0].type != CKA_KEY_TYPE || in[0].ulValueLen != sizeof(CK_ULONG) || in[1].type != CKA_ENCRYPT ||
	    in[1].ulValueLen != 1)
		return false;
	memcpy(&x, in[0].pValue, sizeof(x));
	return x == CKK_AES && *(CK_BBOOL *)in[1].pValue == CK_TRUE;
}

bool fake_check_results(const struct rpc_call_desc *d, const union rpc_arg *args)
{
	for (unsigned i = 0; i < d->nkinds; i++) {
		const union rpc_arg *a = &args[i];
		bool ok = true;

		switch (d->kinds[i]) {
		case RPC_KIND_BYTES_OUT:
			ok = *a->out.n == sizeof(FAKE_RESULT) - 1 &&
			     !memcmp(a->out.p, FAKE_RESULT, *a->out.n);
			break;
		case RPC_KIND_ULONGS_OUT:
			ok = *a->ulongs.n == FAKE_ULONGS_N && a->ulongs.p[0] == 11 && a->ulongs.p[1] == 12 &&
			     a->ulongs.p[2] == 13;
			break;
		case RPC_KIND_FIXED_OUT:
			for (CK_ULONG k = 0; k < a->buf.n; k++)
				ok = ok && a->buf.p[k] == 0xab;
			break;
		case RPC_KIND_ULONG_OUT:
			ok = *a->pul == FAKE_ULONG;
			break;
		case RPC_KIND_HANDLES_OUT:
			ok = *a->handles.n == FAKE_HANDLES_N && a->handles.p[0] == 21 &&
			     a->handles.p[1] == 22;
			break;
		case RPC_KIND_TEMPLATE_GET:
			ok = check_get(a->tmpl.p);
			break;
		case RPC_KIND_INFO_OUT: {
			CK_INFO v;

			fill_info(&v);
			ok = info_equal(a->info, &v);
			break;
		}
		case RPC_KIND_SLOT_INFO_OUT: {
			CK_SLOT_INFO v;

			fill_slot_info(&v);
			ok = slot_info_equal(a->slot_info, &v);
			break;
		}
		case RPC_KIND_TOKEN_INFO_OUT: {
			CK_TOKEN_INFO v;

			fill_token_info(&v);
			ok = token_info_equal(a->token_info, &v);
			break;
		}
		case RPC_KIND_SESSION_INFO_OUT: {
			CK_SESSION_INFO v;

			fill_session_info(&v);
			ok = session_info_equal(a->session_info, &v);
			break;
		}
		case RPC_KIND_MECH_INFO_OUT: {
			CK_MECHANISM_INFO v;

			fill_mech_info(&v);
			ok = mech_info_equal(a->mech_info, &v);
			break;
		}
		default:
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* ---- the fake backend ---- */

static CK_RV fake_call(void *ctx, const struct rpc_call_desc *d, union rpc_arg *args)
{
	struct fake_ctx *c = ctx;
	CK_RV rv;

	c->calls++;
	if (c->hook) {
		rv = c->hook(c, d, args);
		if (rv != FAKE_PASS)
			return rv;
	}
	if (c->check_inputs && !fake_check_inputs(d, args))
		c->bad_inputs++;
	rv = fake_fill_results(d, args);
	return c->force_rv != CKR_OK ? c->force_rv : rv;
}

#define RPC_CALL(name, id, ...)                                      \
	static CK_RV fake_##name(void *ctx, RPC_PARAMS(__VA_ARGS__)) \
	{                                                            \
		union rpc_arg args[RPC_KINDS_MAX];                   \
		memset(args, 0, sizeof(args));                       \
		RPC_PACK(__VA_ARGS__)                                \
		return fake_call(ctx, rpc_call_find(id), args);      \
	}
#include "rpc-calls.h"
#undef RPC_CALL

const struct rpc_server_ops fake_ops = {
#define RPC_CALL(name, id, ...) .name = fake_##name,
#include "rpc-calls.h"
#undef RPC_CALL
};
