/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-ck: CK_ULONG, CK_VERSION, the info structures and mechanisms on the wire (see
 * proto-ck.h; attribute templates live in proto-attr.c). Fixed-size space-padded strings cross
 * as exactly their size in bytes. */
#include "proto-ck.h"

#include <errno.h>
#include <string.h>

uint64_t proto_ulong_to_wire(CK_ULONG v)
{
	return v == (CK_ULONG)-1 ? UINT64_MAX : (uint64_t)v;
}

int proto_ulong_from_wire(uint64_t v, CK_ULONG *ret_v)
{
	if (v == UINT64_MAX) {
		*ret_v = (CK_ULONG)-1;
		return 0;
	}
	if ((CK_ULONG)v != v || (CK_ULONG)v == (CK_ULONG)-1)
		return -ERANGE;
	*ret_v = (CK_ULONG)v;
	return 0;
}

int proto_put_ulong(struct proto_buf *b, CK_ULONG v)
{
	return proto_put_u64(b, proto_ulong_to_wire(v));
}

int proto_get_ulong(struct proto_reader *r, CK_ULONG *ret_v)
{
	uint64_t w;
	int e;

	e = proto_get_u64(r, &w);
	if (e < 0)
		return e;
	e = proto_ulong_from_wire(w, ret_v);
	if (e < 0)
		return proto_reader_fail(r, e);
	return 0;
}

static int version_part(const char **s, CK_BYTE *ret)
{
	unsigned v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > 255)
			return -EINVAL;
	}
	*s = p;
	*ret = (CK_BYTE)v;
	return 0;
}

int proto_version_parse(const char *s, CK_VERSION *ret_v)
{
	CK_VERSION v;

	if (s == NULL || version_part(&s, &v.major) < 0 || *s++ != '.' || version_part(&s, &v.minor) < 0 ||
	    (*s != '\0' && *s != '.'))
		return -EINVAL;
	*ret_v = v;
	return 0;
}

int proto_put_version(struct proto_buf *b, const CK_VERSION *v)
{
	proto_put_u8(b, v->major);
	return proto_put_u8(b, v->minor);
}

int proto_get_version(struct proto_reader *r, CK_VERSION *ret_v)
{
	CK_VERSION v;

	proto_get_u8(r, &v.major);
	if (proto_get_u8(r, &v.minor) < 0)
		return r->error;
	*ret_v = v;
	return 0;
}

/* Fixed-size byte arrays: exactly sizeof the field, no length on the wire. */
#define PUT_FIXED(b, field) proto_put_raw((b), (field), sizeof(field))

static int get_fixed(struct proto_reader *r, void *dst, size_t n)
{
	const uint8_t *p = NULL;
	int e = proto_get_raw(r, n, &p);

	if (e < 0)
		return e;
	memcpy(dst, p, n);
	return 0;
}
#define GET_FIXED(r, field) get_fixed((r), (field), sizeof(field))

/* The getters below decode into a local copy and hand it out only when every field was read. */

int proto_put_info(struct proto_buf *b, const CK_INFO *v)
{
	proto_put_version(b, &v->cryptokiVersion);
	PUT_FIXED(b, v->manufacturerID);
	proto_put_ulong(b, v->flags);
	PUT_FIXED(b, v->libraryDescription);
	return proto_put_version(b, &v->libraryVersion);
}

int proto_get_info(struct proto_reader *r, CK_INFO *ret_v)
{
	CK_INFO v;

	proto_get_version(r, &v.cryptokiVersion);
	GET_FIXED(r, v.manufacturerID);
	proto_get_ulong(r, &v.flags);
	GET_FIXED(r, v.libraryDescription);
	if (proto_get_version(r, &v.libraryVersion) < 0)
		return r->error;
	*ret_v = v;
	return 0;
}

int proto_put_slot_info(struct proto_buf *b, const CK_SLOT_INFO *v)
{
	PUT_FIXED(b, v->slotDescription);
	PUT_FIXED(b, v->manufacturerID);
	proto_put_ulong(b, v->flags);
	proto_put_version(b, &v->hardwareVersion);
	return proto_put_version(b, &v->firmwareVersion);
}

int proto_get_slot_info(struct proto_reader *r, CK_SLOT_INFO *ret_v)
{
	CK_SLOT_INFO v;

	GET_FIXED(r, v.slotDescription);
	GET_FIXED(r, v.manufacturerID);
	proto_get_ulong(r, &v.flags);
	proto_get_version(r, &v.hardwareVersion);
	if (proto_get_version(r, &v.firmwareVersion) < 0)
		return r->error;
	*ret_v = v;
	return 0;
}

int proto_put_token_info(struct proto_buf *b, const CK_TOKEN_INFO *v)
{
	PUT_FIXED(b, v->label);
	PUT_FIXED(b, v->manufacturerID);
	PUT_FIXED(b, v->model);
	PUT_FIXED(b, v->serialNumber);
	proto_put_ulong(b, v->flags);
	proto_put_ulong(b, v->ulMaxSessionCount);
	proto_put_ulong(b, v->ulSessionCount);
	proto_put_ulong(b, v->ulMaxRwSessionCount);
	proto_put_ulong(b, v->ulRwSessionCount);
	proto_put_ulong(b, v->ulMaxPinLen);
	proto_put_ulong(b, v->ulMinPinLen);
	proto_put_ulong(b, v->ulTotalPublicMemory);
	proto_put_ulong(b, v->ulFreePublicMemory);
	proto_put_ulong(b, v->ulTotalPrivateMemory);
	proto_put_ulong(b, v->ulFreePrivateMemory);
	proto_put_version(b, &v->hardwareVersion);
	proto_put_version(b, &v->firmwareVersion);
	return PUT_FIXED(b, v->utcTime);
}

int proto_get_token_info(struct proto_reader *r, CK_TOKEN_INFO *ret_v)
{
	CK_TOKEN_INFO v;

	GET_FIXED(r, v.label);
	GET_FIXED(r, v.manufacturerID);
	GET_FIXED(r, v.model);
	GET_FIXED(r, v.serialNumber);
	proto_get_ulong(r, &v.flags);
	proto_get_ulong(r, &v.ulMaxSessionCount);
	proto_get_ulong(r, &v.ulSessionCount);
	proto_get_ulong(r, &v.ulMaxRwSessionCount);
	proto_get_ulong(r, &v.ulRwSessionCount);
	proto_get_ulong(r, &v.ulMaxPinLen);
	proto_get_ulong(r, &v.ulMinPinLen);
	proto_get_ulong(r, &v.ulTotalPublicMemory);
	proto_get_ulong(r, &v.ulFreePublicMemory);
	proto_get_ulong(r, &v.ulTotalPrivateMemory);
	proto_get_ulong(r, &v.ulFreePrivateMemory);
	proto_get_version(r, &v.hardwareVersion);
	proto_get_version(r, &v.firmwareVersion);
	if (GET_FIXED(r, v.utcTime) < 0)
		return r->error;
	*ret_v = v;
	return 0;
}

int proto_put_session_info(struct proto_buf *b, const CK_SESSION_INFO *v)
{
	proto_put_ulong(b, v->slotID);
	proto_put_ulong(b, v->state);
	proto_put_ulong(b, v->flags);
	return proto_put_ulong(b, v->ulDeviceError);
}

int proto_get_session_info(struct proto_reader *r, CK_SESSION_INFO *ret_v)
{
	CK_SESSION_INFO v;

	proto_get_ulong(r, &v.slotID);
	proto_get_ulong(r, &v.state);
	proto_get_ulong(r, &v.flags);
	if (proto_get_ulong(r, &v.ulDeviceError) < 0)
		return r->error;
	*ret_v = v;
	return 0;
}

int proto_put_mechanism_info(struct proto_buf *b, const CK_MECHANISM_INFO *v)
{
	proto_put_ulong(b, v->ulMinKeySize);
	proto_put_ulong(b, v->ulMaxKeySize);
	return proto_put_ulong(b, v->flags);
}

int proto_get_mechanism_info(struct proto_reader *r, CK_MECHANISM_INFO *ret_v)
{
	CK_MECHANISM_INFO v;

	proto_get_ulong(r, &v.ulMinKeySize);
	proto_get_ulong(r, &v.ulMaxKeySize);
	if (proto_get_ulong(r, &v.flags) < 0)
		return r->error;
	*ret_v = v;
	return 0;
}

enum proto_mech_param proto_mech_param_kind(CK_MECHANISM_TYPE type)
{
	switch (type) {
	case CKM_RSA_PKCS_PSS:
	case CKM_SHA1_RSA_PKCS_PSS:
	case CKM_SHA224_RSA_PKCS_PSS:
	case CKM_SHA256_RSA_PKCS_PSS:
	case CKM_SHA384_RSA_PKCS_PSS:
	case CKM_SHA512_RSA_PKCS_PSS:
		return PROTO_MECH_PARAM_PSS;
	case CKM_RSA_PKCS_OAEP:
		return PROTO_MECH_PARAM_OAEP;
	case CKM_ECDH1_DERIVE:
	case CKM_ECDH1_COFACTOR_DERIVE:
		return PROTO_MECH_PARAM_ECDH1;
	case CKM_AES_GCM:
		return PROTO_MECH_PARAM_GCM;
	/* Parameters that hold pointers and have no encoding yet. */
	case CKM_AES_CCM:
	case CKM_ECMQV_DERIVE:
	case CKM_X9_42_DH_DERIVE:
	case CKM_X9_42_DH_HYBRID_DERIVE:
	case CKM_X9_42_MQV_DERIVE:
	case CKM_RSA_AES_KEY_WRAP:
	case CKM_CONCATENATE_BASE_AND_DATA:
	case CKM_CONCATENATE_DATA_AND_BASE:
	case CKM_XOR_BASE_AND_DATA:
	case CKM_SSL3_MASTER_KEY_DERIVE:
	case CKM_SSL3_KEY_AND_MAC_DERIVE:
	case CKM_SSL3_MASTER_KEY_DERIVE_DH:
	case CKM_TLS_MASTER_KEY_DERIVE:
	case CKM_TLS_KEY_AND_MAC_DERIVE:
	case CKM_TLS_MASTER_KEY_DERIVE_DH:
	case CKM_TLS_PRF:
	case CKM_TLS12_MASTER_KEY_DERIVE:
	case CKM_TLS12_KEY_AND_MAC_DERIVE:
	case CKM_TLS12_MASTER_KEY_DERIVE_DH:
	case CKM_TLS12_KEY_SAFE_DERIVE:
	case CKM_TLS_KDF:
	case CKM_TLS12_KDF:
	case CKM_PKCS5_PBKD2:
	case CKM_DES_ECB_ENCRYPT_DATA:
	case CKM_DES_CBC_ENCRYPT_DATA:
	case CKM_DES3_ECB_ENCRYPT_DATA:
	case CKM_DES3_CBC_ENCRYPT_DATA:
	case CKM_AES_ECB_ENCRYPT_DATA:
	case CKM_AES_CBC_ENCRYPT_DATA:
	case CKM_ARIA_ECB_ENCRYPT_DATA:
	case CKM_ARIA_CBC_ENCRYPT_DATA:
	case CKM_SEED_ECB_ENCRYPT_DATA:
	case CKM_SEED_CBC_ENCRYPT_DATA:
	case CKM_CAMELLIA_ECB_ENCRYPT_DATA:
	case CKM_CAMELLIA_CBC_ENCRYPT_DATA:
		return PROTO_MECH_PARAM_UNSUPPORTED;
	default:
		/* Every PBE mechanism takes a CK_PBE_PARAMS full of pointers. */
		if (type >= CKM_PBE_MD2_DES_CBC && type <= CKM_PBE_SHA1_RC2_40_CBC)
			return PROTO_MECH_PARAM_UNSUPPORTED;
		return PROTO_MECH_PARAM_BYTES;
	}
}

static size_t mech_param_size(enum proto_mech_param kind)
{
	switch (kind) {
	case PROTO_MECH_PARAM_PSS:
		return sizeof(CK_RSA_PKCS_PSS_PARAMS);
	case PROTO_MECH_PARAM_OAEP:
		return sizeof(CK_RSA_PKCS_OAEP_PARAMS);
	case PROTO_MECH_PARAM_ECDH1:
		return sizeof(CK_ECDH1_DERIVE_PARAMS);
	case PROTO_MECH_PARAM_GCM:
		return sizeof(CK_GCM_PARAMS);
	default:
		return 0;
	}
}

int proto_put_mechanism(struct proto_buf *b, const CK_MECHANISM *m)
{
	enum proto_mech_param kind;

	if (!m)
		return proto_put_u8(b, 0);
	proto_put_u8(b, 1);
	proto_put_ulong(b, m->mechanism);
	kind = proto_mech_param_kind(m->mechanism);
	if (!m->pParameter || kind == PROTO_MECH_PARAM_BYTES) {
		proto_put_u8(b, PROTO_MECH_PARAM_BYTES);
		return proto_put_maybe_bytes(b, m->pParameter, m->ulParameterLen);
	}
	if (kind == PROTO_MECH_PARAM_UNSUPPORTED)
		return proto_buf_fail(b, -EOPNOTSUPP);
	/* A struct of the wrong size can't be read safely, let alone encoded. */
	if (m->ulParameterLen != mech_param_size(kind))
		return proto_buf_fail(b, -EINVAL);

	proto_put_u8(b, (uint8_t)kind);
	switch (kind) {
	case PROTO_MECH_PARAM_PSS: {
		const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;

		proto_put_ulong(b, p->hashAlg);
		proto_put_ulong(b, p->mgf);
		return proto_put_ulong(b, p->sLen);
	}
	case PROTO_MECH_PARAM_OAEP: {
		const CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;

		proto_put_ulong(b, p->hashAlg);
		proto_put_ulong(b, p->mgf);
		proto_put_ulong(b, p->source);
		return proto_put_maybe_bytes(b, p->pSourceData, p->ulSourceDataLen);
	}
	case PROTO_MECH_PARAM_ECDH1: {
		const CK_ECDH1_DERIVE_PARAMS *p = m->pParameter;

		proto_put_ulong(b, p->kdf);
		proto_put_maybe_bytes(b, p->pSharedData, p->ulSharedDataLen);
		return proto_put_maybe_bytes(b, p->pPublicData, p->ulPublicDataLen);
	}
	case PROTO_MECH_PARAM_GCM: {
		const CK_GCM_PARAMS *p = m->pParameter;

		proto_put_maybe_bytes(b, p->pIv, p->ulIvLen);
		proto_put_ulong(b, p->ulIvBits);
		proto_put_maybe_bytes(b, p->pAAD, p->ulAADLen);
		return proto_put_ulong(b, p->ulTagBits);
	}
	default:
		return proto_buf_fail(b, -EINVAL);
	}
}

/* Maybe-NULL bytes copied into the arena; the length crosses as u64 and must fit a CK_ULONG. */
static int get_maybe_dup(struct proto_reader *r, struct proto_arena *a, void **ret_p, CK_ULONG *ret_len)
{
	const uint8_t *src;
	uint64_t len;
	CK_ULONG n;
	void *p = NULL;
	int e;

	e = proto_get_maybe_bytes(r, &src, &len);
	if (e < 0)
		return e;
	e = proto_ulong_from_wire(len, &n);
	if (e < 0)
		return proto_reader_fail(r, e);
	if (src) {
		p = proto_arena_memdup(a, src, (size_t)len);
		if (!p)
			return proto_reader_fail(r, -ENOMEM);
	}
	*ret_p = p;
	*ret_len = n;
	return 0;
}

static int get_mech_struct(struct proto_reader *r, struct proto_arena *a, enum proto_mech_param kind,
                           void *param)
{
	switch (kind) {
	case PROTO_MECH_PARAM_PSS: {
		CK_RSA_PKCS_PSS_PARAMS *p = param;

		proto_get_ulong(r, &p->hashAlg);
		proto_get_ulong(r, &p->mgf);
		return proto_get_ulong(r, &p->sLen);
	}
	case PROTO_MECH_PARAM_OAEP: {
		CK_RSA_PKCS_OAEP_PARAMS *p = param;

		proto_get_ulong(r, &p->hashAlg);
		proto_get_ulong(r, &p->mgf);
		proto_get_ulong(r, &p->source);
		return get_maybe_dup(r, a, &p->pSourceData, &p->ulSourceDataLen);
	}
	case PROTO_MECH_PARAM_ECDH1: {
		CK_ECDH1_DERIVE_PARAMS *p = param;
		void *shared = NULL, *pub = NULL;

		proto_get_ulong(r, &p->kdf);
		get_maybe_dup(r, a, &shared, &p->ulSharedDataLen);
		get_maybe_dup(r, a, &pub, &p->ulPublicDataLen);
		p->pSharedData = shared;
		p->pPublicData = pub;
		return r->error;
	}
	case PROTO_MECH_PARAM_GCM: {
		CK_GCM_PARAMS *p = param;
		void *iv = NULL, *aad = NULL;

		get_maybe_dup(r, a, &iv, &p->ulIvLen);
		proto_get_ulong(r, &p->ulIvBits);
		get_maybe_dup(r, a, &aad, &p->ulAADLen);
		proto_get_ulong(r, &p->ulTagBits);
		p->pIv = iv;
		p->pAAD = aad;
		return r->error;
	}
	default:
		return proto_reader_fail(r, -EBADMSG);
	}
}

int proto_get_mechanism(struct proto_reader *r, struct proto_arena *a, CK_MECHANISM **ret_m)
{
	enum proto_mech_param kind;
	CK_MECHANISM *m;
	uint8_t present, tag;
	size_t size;

	if (proto_get_u8(r, &present) < 0)
		return r->error;
	if (present > 1)
		return proto_reader_fail(r, -EBADMSG);
	if (!present) {
		*ret_m = NULL;
		return 0;
	}
	m = proto_arena_alloc(a, sizeof(*m));
	if (!m)
		return proto_reader_fail(r, -ENOMEM);
	proto_get_ulong(r, &m->mechanism);
	if (proto_get_u8(r, &tag) < 0)
		return r->error;
	kind = proto_mech_param_kind(m->mechanism);

	if (tag == PROTO_MECH_PARAM_BYTES) {
		if (get_maybe_dup(r, a, &m->pParameter, &m->ulParameterLen) < 0)
			return r->error;
		/* Bytes where the backend expects a struct would hand it pointers from the wire. */
		if (m->pParameter && kind != PROTO_MECH_PARAM_BYTES)
			return proto_reader_fail(r, -EBADMSG);
	} else {
		if (tag != kind || kind == PROTO_MECH_PARAM_UNSUPPORTED)
			return proto_reader_fail(r, -EBADMSG);
		size = mech_param_size(kind);
		m->pParameter = proto_arena_alloc(a, size);
		if (!m->pParameter)
			return proto_reader_fail(r, -ENOMEM);
		m->ulParameterLen = size;
		if (get_mech_struct(r, a, kind, m->pParameter) < 0)
			return r->error;
	}
	*ret_m = m;
	return 0;
}
