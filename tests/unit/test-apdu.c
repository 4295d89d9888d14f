/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the ISO 7816-4 APDU layer (daemon/card/apdu.c) and BER-TLV helpers (daemon/card/tlv.c), against a
 * scripted transport that checks each command and plays back canned answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/card/apdu.h"
#include "daemon/card/tlv.h"

#define MAX_STEPS 8

struct script {
	int n, pos;
	struct {
		uint8_t cmd[600];
		size_t cmd_len;
		uint8_t resp[300];
		size_t resp_len;
	} step[MAX_STEPS];
};

static int scripted(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	struct script *s = ctx;

	if (s->pos >= s->n)
		return -EIO;
	assert_int_equal(len, s->step[s->pos].cmd_len);
	assert_memory_equal(cmd, s->step[s->pos].cmd, len);
	assert_true(*resp_len >= s->step[s->pos].resp_len);
	memcpy(resp, s->step[s->pos].resp, s->step[s->pos].resp_len);
	*resp_len = s->step[s->pos].resp_len;
	s->pos++;
	return 0;
}

static void add(struct script *s, const char *cmd_hex, const char *resp_hex)
{
	size_t i;

	assert_true(strlen(cmd_hex) / 2 <= sizeof(s->step[0].cmd) &&
	            strlen(resp_hex) / 2 <= sizeof(s->step[0].resp));
	for (i = 0; cmd_hex[2 * i]; i++)
		sscanf(cmd_hex + 2 * i, "%2hhx", &s->step[s->n].cmd[i]);
	s->step[s->n].cmd_len = i;
	for (i = 0; resp_hex[2 * i]; i++)
		sscanf(resp_hex + 2 * i, "%2hhx", &s->step[s->n].resp[i]);
	s->step[s->n].resp_len = i;
	s->n++;
}

static void test_short_case4_encoding(void **state)
{
	uint8_t out[16], data[2] = {1, 2};
	size_t len;
	struct apdu_cmd c = {.ins = 0xA4, .p1 = 4, .data = data, .lc = 2, .le = 256};

	assert_int_equal(apdu_encode(&c, false, out, sizeof(out), &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(out, "\x00\xA4\x04\x00\x02\x01\x02\x00", 8);
}

static void test_extended_case2_encoding_uses_three_byte_le(void **state)
{
	uint8_t out[16];
	size_t len;
	struct apdu_cmd c = {.ins = 0xCB, .le = APDU_LE_MAX};

	assert_int_equal(apdu_encode(&c, true, out, sizeof(out), &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(out, "\x00\xCB\x00\x00\x00\x00\x00", 7);
}

static void test_short_card_rejects_long_data_in_one_apdu(void **state)
{
	uint8_t out[400], data[300] = {0};
	size_t len;
	struct apdu_cmd c = {.ins = 0x87, .data = data, .lc = 300};

	assert_int_equal(apdu_encode(&c, false, out, sizeof(out), &len), -E2BIG);
}

static void test_encode_checks_output_room(void **state)
{
	uint8_t out[6], data[4] = {0};
	size_t len;
	struct apdu_cmd c = {.ins = 0x20, .data = data, .lc = 4};

	assert_int_equal(apdu_encode(&c, false, out, sizeof(out), &len), -ENOBUFS);
}

static void test_long_data_is_chained_in_255_byte_parts(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s};
	uint8_t data[300], out[16];
	char hex[700];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0x87, .p1 = 0x07, .p2 = 0x9C, .data = data, .lc = 300};

	memset(data, 0xAB, sizeof(data));
	memcpy(hex, "1087079CFF", 10);
	for (int i = 0; i < 255; i++)
		memcpy(hex + 10 + 2 * i, "AB", 2);
	hex[10 + 510] = 0;
	add(&s, hex, "9000");
	memcpy(hex, "0087079C2D", 10);
	hex[10 + 90] = 0;
	add(&s, hex, "0102039000");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(len, 3);
	assert_int_equal(s.pos, 2);
	assert_int_equal(t.apdu_count, 2);
}

static void test_chaining_stops_at_first_error(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s};
	uint8_t data[300] = {0}, out[16];
	char hex[700];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0x87, .data = data, .lc = 300};

	memcpy(hex, "10870000FF", 10);
	for (int i = 0; i < 255; i++)
		memcpy(hex + 10 + 2 * i, "00", 2);
	hex[520] = 0;
	add(&s, hex, "6A80");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(sw, 0x6A80);
	assert_int_equal(s.pos, 1);
}

static void test_61xx_is_followed_by_get_response(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s};
	uint8_t out[16];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .le = 256};

	add(&s, "00CB3FFF00", "AABB6102");
	add(&s, "00C0000002", "CCDD9000");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "\xAA\xBB\xCC\xDD", 4);
}

static void test_6cxx_resends_with_the_right_le(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s};
	uint8_t out[16];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0xCA, .le = 8};

	add(&s, "00CA000008", "6C03");
	add(&s, "00CA000003", "0102039000");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(len, 3);
	assert_int_equal(sw, 0x9000);
}

static void test_response_larger_than_buffer_is_an_error_not_truncated(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s};
	uint8_t out[2];
	size_t len = 99;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0xCA, .le = 256};

	add(&s, "00CA000000", "0102039000");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), -EMSGSIZE);
	assert_int_equal(len, 99);
}

static void test_response_without_status_word_is_a_protocol_error(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s};
	uint8_t out[8];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0xCA};

	add(&s, "00CA0000", "90");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), -EPROTO);
}

static int endless(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	resp[0] = 0x61;
	resp[1] = 0x01;
	*resp_len = 2;
	return 0;
}

static void test_card_answering_61xx_forever_is_cut_off(void **state)
{
	struct apdu_transport t = {.transmit = endless};
	uint8_t out[8];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0xCA, .le = 1};

	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), -EPROTO);
	assert_true(t.apdu_count <= 600);
}

static void test_unknown_card_gets_one_extended_try_then_chaining(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s, .ext = APDU_EXT_UNKNOWN};
	uint8_t out[8];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .le = APDU_LE_MAX};

	add(&s, "00CB3FFF000000", "6700");
	add(&s, "00CB3FFF00", "01029000");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(len, 2);
	assert_int_equal(t.ext, APDU_EXT_NO);
	/* From now on short APDUs only: no second try. */
	add(&s, "00CB3FFF00", "039000");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(s.pos, 3);
}

static void test_card_that_takes_extended_gets_long_data_in_one_apdu(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s, .ext = APDU_EXT_UNKNOWN};
	uint8_t data[300], out[8];
	char hex[700];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0x87, .p1 = 0x07, .p2 = 0x9C, .data = data, .lc = 300, .le = APDU_LE_MAX};

	memset(data, 0xAB, sizeof(data));
	memcpy(hex, "0087079C00012C", 14);
	for (int i = 0; i < 300; i++)
		memcpy(hex + 14 + 2 * i, "AB", 2);
	memcpy(hex + 614, "0000", 5);
	add(&s, hex, "AA9000");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(t.ext, APDU_EXT_YES);
	assert_int_equal(t.apdu_count, 1);
}

static void test_short_verify_is_never_sent_twice(void **state)
{
	struct script s = {0};
	struct apdu_transport t = {.transmit = scripted, .ctx = &s, .ext = APDU_EXT_UNKNOWN};
	uint8_t pin[8] = {'0', '0', '0', '0', '0', '0', 0xFF, 0xFF}, out[8];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0x20, .p2 = 0x80, .data = pin, .lc = 8};

	add(&s, "0020008008303030303030FFFF", "6700");
	assert_int_equal(apdu_exchange(&t, &c, out, sizeof(out), &len, &sw), 0);
	assert_int_equal(sw, 0x6700);
	assert_int_equal(t.apdu_count, 1);
	assert_int_equal(t.ext, APDU_EXT_UNKNOWN);
}

static void test_tlv_reads_multibyte_tags_and_long_lengths(void **state)
{
	uint8_t buf[300] = {0x5F, 0xC1, 0x02, 0x82, 0x01, 0x00};
	const uint8_t *p = buf;
	size_t left = 6 + 256;
	struct tlv t;

	assert_int_equal(tlv_next(&p, &left, &t), 0);
	assert_int_equal(t.tag, 0x5FC102);
	assert_int_equal(t.len, 256);
	assert_int_equal(left, 0);
	assert_int_equal(tlv_next(&p, &left, &t), -ENOENT);
}

static void test_tlv_length_beyond_buffer_is_rejected(void **state)
{
	const uint8_t buf[] = {0x53, 0x82, 0x10, 0x00, 0x01};
	const uint8_t *p = buf;
	size_t left = sizeof(buf);
	struct tlv t;

	assert_int_equal(tlv_next(&p, &left, &t), -EBADMSG);
	assert_ptr_equal(p, buf);
}

static void test_tlv_truncated_at_every_offset_never_reads_past_end(void **state)
{
	const uint8_t buf[] = {0x7C, 0x06, 0x82, 0x00, 0x81, 0x02, 0xAA, 0xBB};

	for (size_t cut = 0; cut < sizeof(buf); cut++) {
		const uint8_t *p = buf;
		size_t left = cut;
		struct tlv t;
		int r = tlv_next(&p, &left, &t);

		assert_true(r == -EBADMSG || r == -ENOENT);
	}
}

static void test_tlv_put_round_trips(void **state)
{
	uint8_t val[200], out[210];
	const uint8_t *p = out;
	size_t n, left;
	struct tlv t;

	memset(val, 7, sizeof(val));
	n = tlv_put(out, sizeof(out), 0x5FC10A, val, sizeof(val));
	assert_int_equal(n, 3 + 2 + 200);
	left = n;
	assert_int_equal(tlv_next(&p, &left, &t), 0);
	assert_int_equal(t.tag, 0x5FC10A);
	assert_int_equal(t.len, 200);
	assert_int_equal(tlv_put(out, 10, 0x53, val, sizeof(val)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_short_case4_encoding),
	        cmocka_unit_test(test_extended_case2_encoding_uses_three_byte_le),
	        cmocka_unit_test(test_short_card_rejects_long_data_in_one_apdu),
	        cmocka_unit_test(test_encode_checks_output_room),
	        cmocka_unit_test(test_long_data_is_chained_in_255_byte_parts),
	        cmocka_unit_test(test_chaining_stops_at_first_error),
	        cmocka_unit_test(test_61xx_is_followed_by_get_response),
	        cmocka_unit_test(test_6cxx_resends_with_the_right_le),
	        cmocka_unit_test(test_response_larger_than_buffer_is_an_error_not_truncated),
	        cmocka_unit_test(test_response_without_status_word_is_a_protocol_error),
	        cmocka_unit_test(test_card_answering_61xx_forever_is_cut_off),
	        cmocka_unit_test(test_unknown_card_gets_one_extended_try_then_chaining),
	        cmocka_unit_test(test_card_that_takes_extended_gets_long_data_in_one_apdu),
	        cmocka_unit_test(test_short_verify_is_never_sent_twice),
	        cmocka_unit_test(test_tlv_reads_multibyte_tags_and_long_lengths),
	        cmocka_unit_test(test_tlv_length_beyond_buffer_is_rejected),
	        cmocka_unit_test(test_tlv_truncated_at_every_offset_never_reads_past_end),
	        cmocka_unit_test(test_tlv_put_round_trips),
	};

	return cmocka_run_group_tests_name("apdu", tests, NULL, NULL);
}
