/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rpc-calls.h: THE signature table of the imza RPC (DESIGN §2). One row per PKCS#11 call that
 * crosses the wire:
 *
 *     RPC_CALL(name, id, kind, kind, ...)
 *
 * The kinds follow the C parameters of the PKCS#11 function in order; one kind may stand for
 * two or three C parameters (BYTES is pointer + length). A kind is an argument (sent in the
 * request), a result (asked for in the request, filled from the response) or both; rpc.h
 * describes each. Client stubs, the server's decoders and its typed dispatch are all generated
 * from these rows; a test assigns every generated client stub to the matching member of
 * CK_FUNCTION_LIST_3_0, so a row that disagrees with the PKCS#11 prototype does not compile.
 *
 * Ids are wire ABI: never renumber or reuse one; add rows with new ids. 1-63 are PKCS#11 2.40,
 * 64-127 PKCS#11 3.0, 0x1000 and up imza's own calls (rpc.h, not in this table).
 * Not in the table, answered by the module itself: C_Initialize, C_Finalize, C_GetFunctionList,
 * C_GetInterfaceList, C_GetInterface, the legacy C_GetFunctionStatus/C_CancelFunction, and the
 * 3.0 message-based encryption family (its parameters carry outputs, e.g. the GCM tag, which no
 * kind here describes yet; the module returns CKR_FUNCTION_NOT_SUPPORTED).
 *
 * No include guard: included once per expansion, with RPC_CALL defined by the includer. */

/* General purpose, slots and tokens */
RPC_CALL(C_GetInfo, 1, INFO_OUT)
RPC_CALL(C_GetSlotList, 2, BBOOL, ULONGS_OUT)
RPC_CALL(C_GetSlotInfo, 3, ULONG, SLOT_INFO_OUT)
RPC_CALL(C_GetTokenInfo, 4, ULONG, TOKEN_INFO_OUT)
RPC_CALL(C_GetMechanismList, 5, ULONG, ULONGS_OUT)
RPC_CALL(C_GetMechanismInfo, 6, ULONG, ULONG, MECH_INFO_OUT)
RPC_CALL(C_InitToken, 7, ULONG, BYTES, LABEL32)
RPC_CALL(C_InitPIN, 8, ULONG, BYTES)
RPC_CALL(C_SetPIN, 9, ULONG, BYTES, BYTES)
RPC_CALL(C_WaitForSlotEvent, 10, ULONG, ULONG_OUT, RESERVED)

/* Sessions */
RPC_CALL(C_OpenSession, 11, ULONG, ULONG, NOTIFY, ULONG_OUT)
RPC_CALL(C_CloseSession, 12, ULONG)
RPC_CALL(C_CloseAllSessions, 13, ULONG)
RPC_CALL(C_GetSessionInfo, 14, ULONG, SESSION_INFO_OUT)
RPC_CALL(C_GetOperationState, 15, ULONG, BYTES_OUT)
RPC_CALL(C_SetOperationState, 16, ULONG, BYTES, ULONG, ULONG)
RPC_CALL(C_Login, 17, ULONG, ULONG, BYTES)
RPC_CALL(C_Logout, 18, ULONG)

/* Objects */
RPC_CALL(C_CreateObject, 19, ULONG, TEMPLATE, ULONG_OUT)
RPC_CALL(C_CopyObject, 20, ULONG, ULONG, TEMPLATE, ULONG_OUT)
RPC_CALL(C_DestroyObject, 21, ULONG, ULONG)
RPC_CALL(C_GetObjectSize, 22, ULONG, ULONG, ULONG_OUT)
RPC_CALL(C_GetAttributeValue, 23, ULONG, ULONG, TEMPLATE_GET)
RPC_CALL(C_SetAttributeValue, 24, ULONG, ULONG, TEMPLATE)
RPC_CALL(C_FindObjectsInit, 25, ULONG, TEMPLATE)
RPC_CALL(C_FindObjects, 26, ULONG, HANDLES_OUT)
RPC_CALL(C_FindObjectsFinal, 27, ULONG)

/* Encryption, decryption, digests */
RPC_CALL(C_EncryptInit, 28, ULONG, MECHANISM, ULONG)
RPC_CALL(C_Encrypt, 29, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_EncryptUpdate, 30, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_EncryptFinal, 31, ULONG, BYTES_OUT)
RPC_CALL(C_DecryptInit, 32, ULONG, MECHANISM, ULONG)
RPC_CALL(C_Decrypt, 33, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_DecryptUpdate, 34, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_DecryptFinal, 35, ULONG, BYTES_OUT)
RPC_CALL(C_DigestInit, 36, ULONG, MECHANISM)
RPC_CALL(C_Digest, 37, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_DigestUpdate, 38, ULONG, BYTES)
RPC_CALL(C_DigestKey, 39, ULONG, ULONG)
RPC_CALL(C_DigestFinal, 40, ULONG, BYTES_OUT)

/* Signatures */
RPC_CALL(C_SignInit, 41, ULONG, MECHANISM, ULONG)
RPC_CALL(C_Sign, 42, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_SignUpdate, 43, ULONG, BYTES)
RPC_CALL(C_SignFinal, 44, ULONG, BYTES_OUT)
RPC_CALL(C_SignRecoverInit, 45, ULONG, MECHANISM, ULONG)
RPC_CALL(C_SignRecover, 46, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_VerifyInit, 47, ULONG, MECHANISM, ULONG)
RPC_CALL(C_Verify, 48, ULONG, BYTES, BYTES)
RPC_CALL(C_VerifyUpdate, 49, ULONG, BYTES)
RPC_CALL(C_VerifyFinal, 50, ULONG, BYTES)
RPC_CALL(C_VerifyRecoverInit, 51, ULONG, MECHANISM, ULONG)
RPC_CALL(C_VerifyRecover, 52, ULONG, BYTES, BYTES_OUT)

/* Dual-function operations */
RPC_CALL(C_DigestEncryptUpdate, 53, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_DecryptDigestUpdate, 54, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_SignEncryptUpdate, 55, ULONG, BYTES, BYTES_OUT)
RPC_CALL(C_DecryptVerifyUpdate, 56, ULONG, BYTES, BYTES_OUT)

/* Keys and random numbers */
RPC_CALL(C_GenerateKey, 57, ULONG, MECHANISM, TEMPLATE, ULONG_OUT)
RPC_CALL(C_GenerateKeyPair, 58, ULONG, MECHANISM, TEMPLATE, TEMPLATE, ULONG_OUT, ULONG_OUT)
RPC_CALL(C_WrapKey, 59, ULONG, MECHANISM, ULONG, ULONG, BYTES_OUT)
RPC_CALL(C_UnwrapKey, 60, ULONG, MECHANISM, ULONG, BYTES, TEMPLATE, ULONG_OUT)
RPC_CALL(C_DeriveKey, 61, ULONG, MECHANISM, ULONG, TEMPLATE, ULONG_OUT)
RPC_CALL(C_SeedRandom, 62, ULONG, BYTES)
RPC_CALL(C_GenerateRandom, 63, ULONG, FIXED_OUT)

/* PKCS#11 3.0 */
RPC_CALL(C_LoginUser, 64, ULONG, ULONG, BYTES, BYTES)
RPC_CALL(C_SessionCancel, 65, ULONG, ULONG)
RPC_CALL(C_MessageSignInit, 66, ULONG, MECHANISM, ULONG)
RPC_CALL(C_SignMessage, 67, ULONG, PARAM, BYTES, BYTES_OUT)
RPC_CALL(C_SignMessageBegin, 68, ULONG, PARAM)
RPC_CALL(C_SignMessageNext, 69, ULONG, PARAM, BYTES, BYTES_OUT)
RPC_CALL(C_MessageSignFinal, 70, ULONG)
RPC_CALL(C_MessageVerifyInit, 71, ULONG, MECHANISM, ULONG)
RPC_CALL(C_VerifyMessage, 72, ULONG, PARAM, BYTES, BYTES)
RPC_CALL(C_VerifyMessageBegin, 73, ULONG, PARAM)
RPC_CALL(C_VerifyMessageNext, 74, ULONG, PARAM, BYTES, BYTES)
RPC_CALL(C_MessageVerifyFinal, 75, ULONG)
