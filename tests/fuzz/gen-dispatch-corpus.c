/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes seed sessions for fuzz-dispatch with the module's own request encoders: list, open, log in,
 * find, read attributes, sign (single and multi-part), decrypt, wait, log out. Usage: DIR */
#include <stdio.h>
#include <string.h>

#include "protocol/proto-frame.h"
#include "protocol/rpc.h"

static struct proto_buf all = PROTO_BUF_INIT(1 << 20);

/* Appends one framed request built by a stub call. */
#define REQ(stub, ...)                                                     \
	do {                                                               \
		struct proto_buf w_ = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX); \
		proto_frame_begin(&w_);                                    \
		stub(&w_, __VA_ARGS__);                                    \
		proto_frame_end(&w_);                                      \
		proto_put_raw(&all, w_.data, w_.len);                      \
		proto_buf_free(&w_);                                       \
	} while (0)

static int write_seed(const char *dir, const char *name, uint8_t answer)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	fputc(answer, f);
	fwrite(all.data, 1, all.len, f);
	fclose(f);
	proto_buf_reset(&all);
	return 0;
}

int main(int argc, char **argv)
{
	CK_ULONG n = 8, cnt, len = 256, slot = 1;
	CK_SLOT_ID slots[8];
	CK_SESSION_HANDLE s = 1;
	CK_OBJECT_HANDLE objs[16];
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BYTE id = 2, buf[512], label[64], pin[] = "123456";
	CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, &id, 1}};
	CK_ATTRIBUTE get[] = {
	        {CKA_LABEL, label, sizeof(label)}, {CKA_MODULUS, NULL, 0}, {CKA_PRIVATE_EXPONENT, NULL, 0}};
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM sha = {CKM_SHA256_RSA_PKCS, NULL, 0}, ps = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss)};
	CK_MECHANISM ec = {CKM_ECDSA_SHA256, NULL, 0}, dec = {CKM_RSA_PKCS, NULL, 0};
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;

	if (argc != 2)
		return 2;
	REQ(rpc_C_GetSlotList_request, CK_TRUE, slots, &n);
	REQ(rpc_C_GetTokenInfo_request, slot, &ti);
	REQ(rpc_C_OpenSession_request, slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	REQ(rpc_C_Login_request, s, CKU_USER, pin, 6);
	REQ(rpc_C_FindObjectsInit_request, s, find, 2);
	REQ(rpc_C_FindObjects_request, s, objs, 16, &cnt);
	REQ(rpc_C_FindObjectsFinal_request, s);
	REQ(rpc_C_GetAttributeValue_request, s, 3, get, 3);
	REQ(rpc_C_SignInit_request, s, &sha, 3);
	REQ(rpc_C_Login_request, s, CKU_CONTEXT_SPECIFIC, pin, 6);
	REQ(rpc_C_Sign_request, s, buf, 32, NULL, &len);
	REQ(rpc_C_Sign_request, s, buf, 32, buf, &len);
	REQ(rpc_C_Logout_request, s);
	REQ(rpc_C_CloseSession_request, s);
	write_seed(argv[1], "sign-session", 0);

	REQ(rpc_C_OpenSession_request, slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	REQ(rpc_C_Login_request, s, CKU_USER, pin, 6);
	REQ(rpc_C_SignInit_request, s, &ec, 6);
	REQ(rpc_C_SignUpdate_request, s, buf, 100);
	REQ(rpc_C_SignUpdate_request, s, buf, 200);
	REQ(rpc_C_SignFinal_request, s, buf, &len);
	REQ(rpc_C_SignInit_request, s, &ps, 3);
	REQ(rpc_C_Sign_request, s, buf, 300, buf, &len);
	REQ(rpc_C_DecryptInit_request, s, &dec, 9);
	REQ(rpc_C_Decrypt_request, s, buf, 256, buf, &len);
	REQ(rpc_C_GetSessionInfo_request, s, &si);
	REQ(rpc_C_WaitForSlotEvent_request, CKF_DONT_BLOCK, &slot, NULL);
	REQ(rpc_C_WaitForSlotEvent_request, 0, &slot, NULL);
	write_seed(argv[1], "multipart-decrypt-wait", 0);

	REQ(rpc_C_OpenSession_request, slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	REQ(rpc_C_Login_request, s, CKU_USER, pin, 6);
	REQ(rpc_C_Login_request, s, CKU_USER, pin, 6);
	REQ(rpc_C_CloseAllSessions_request, slot);
	write_seed(argv[1], "wrong-pin", 1);
	return 0;
}
