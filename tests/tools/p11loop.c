/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* p11loop: N calls of one kind through a PKCS#11 module, between two marker writes, so that a tracer
 * (strace) can count the system calls of exactly those N calls (tests/integration/rpc-syscalls.sh).
 *   p11loop MODULE getinfo N       C_GetInfo
 *   p11loop MODULE getattr N       C_GetAttributeValue (a certificate's CKA_VALUE)
 * The markers are writes of "p11loop: begin\n" and "p11loop: end\n" to stderr; one call of the kind is
 * made before the first, so that connecting and the HELLO fall outside. Exits 0 when every call
 * answered CKR_OK. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static void marker(const char *what)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "p11loop: %s\n", what);

	if (write(2, line, (size_t)n) != n)
		exit(1);
}

static CK_OBJECT_HANDLE first_cert(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ULONG n = 0;

	if (f->C_FindObjectsInit(s, &t, 1) != CKR_OK)
		return CK_INVALID_HANDLE;
	f->C_FindObjects(s, &o, 1, &n);
	f->C_FindObjectsFinal(s);
	return n == 1 ? o : CK_INVALID_HANDLE;
}

int main(int argc, char **argv)
{
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_C_GetFunctionList gfl;
	CK_SESSION_HANDLE s = 0;
	CK_OBJECT_HANDLE cert = CK_INVALID_HANDLE;
	CK_SLOT_ID slot;
	CK_ULONG ns = 1;
	CK_INFO info;
	CK_BYTE buf[4096];
	CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
	bool attr;
	void *h;
	long n;

	if (argc != 4 || (strcmp(argv[2], "getinfo") != 0 && strcmp(argv[2], "getattr") != 0)) {
		fprintf(stderr, "usage: p11loop MODULE getinfo|getattr N\n");
		return 2;
	}
	attr = strcmp(argv[2], "getattr") == 0;
	n = strtol(argv[3], NULL, 10);
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "p11loop: %s\n", dlerror());
		return 1;
	}
	gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	if (gfl == NULL || gfl(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK)
		return 1;
	if (attr) {
		if (f->C_GetSlotList(CK_TRUE, &slot, &ns) != CKR_OK || ns < 1 ||
		    f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
			return 1;
		cert = first_cert(f, s);
		if (cert == CK_INVALID_HANDLE || f->C_GetAttributeValue(s, cert, &a, 1) != CKR_OK)
			return 1;
	} else if (f->C_GetInfo(&info) != CKR_OK) {
		return 1;
	}
	marker("begin");
	for (long i = 0; i < n; i++) {
		CK_RV rv;

		a.ulValueLen = sizeof(buf);
		rv = attr ? f->C_GetAttributeValue(s, cert, &a, 1) : f->C_GetInfo(&info);
		if (rv != CKR_OK) {
			fprintf(stderr, "p11loop: call %ld: CK_RV 0x%lx\n", i, (unsigned long)rv);
			return 1;
		}
	}
	marker("end");
	f->C_Finalize(NULL);
	return 0;
}
