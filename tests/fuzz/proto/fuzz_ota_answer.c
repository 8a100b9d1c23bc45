/* Fuzz target for OTA answers (accept, deny, ack, result: proto/ota/
 * transfer.md), the JSON a node sends the gateway.
 *
 * Invariants beyond "no crash, no overread": an accepted answer obeys its
 * type's rules (ranges, the have bitmap's size, outcome and reason agree),
 * have_test agrees with the bitmap; it re-encodes, the encoding parses back
 * to the same struct and re-encodes to the same bytes (an unknown reason
 * reads as "internal", so the struct after one round is the fixpoint); a
 * rejection carries a known reason and a terminated field path. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_transfer.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char enc1[EDGE_OTA_ANSWER_MAX], enc2[EDGE_OTA_ANSWER_MAX];

static void check_rules(const struct edge_ota_answer *a)
{
	const struct edge_ota_have *h = &a->have;
	uint32_t i;

	CHECK(a->transfer != 0);
	CHECK(h->n_bits % 8 == 0 && h->n_bits <= EDGE_OTA_HAVE_BITS);
	CHECK(memchr(a->detail, '\0', sizeof a->detail) != NULL);
	switch (a->type) {
	case EDGE_OTA_MSG_ACCEPT:
		CHECK(a->max_chunk >= EDGE_OTA_CHUNK_MIN && a->max_chunk <= EDGE_OTA_CHUNK_MAX);
		CHECK(a->window >= 1 && a->window <= EDGE_OTA_WINDOW_MAX);
		break;
	case EDGE_OTA_MSG_DENY:
		CHECK(a->reason != EDGE_OTA_R_OK && a->reason < EDGE_OTA_R_COUNT);
		break;
	case EDGE_OTA_MSG_ACK:
		break;
	case EDGE_OTA_MSG_RESULT:
		CHECK(a->reason < EDGE_OTA_R_COUNT);
		if (a->outcome == EDGE_OTA_OUTCOME_ACTIVATED)
			CHECK(a->reason == EDGE_OTA_R_OK && a->has_output);
		else
			CHECK((a->outcome == EDGE_OTA_OUTCOME_REVERTED ||
			       a->outcome == EDGE_OTA_OUTCOME_FAILED) && a->reason != EDGE_OTA_R_OK);
		break;
	default:
		CHECK(0);
	}
	if (h->next > 0)
		CHECK(edge_ota_have_test(h, 0) && edge_ota_have_test(h, h->next - 1));
	CHECK(!edge_ota_have_test(h, h->next));
	for (i = 0; i < h->n_bits; i++)
		CHECK(edge_ota_have_test(h, h->next + 1 + i) == ((h->bits[i / 8] >> (i % 8)) & 1));
	CHECK(!edge_ota_have_test(h, h->next + 1 + h->n_bits));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct edge_ota_answer a, b, c;
	struct edge_msg_error err;
	int n1, n2;

	if (edge_ota_answer_parse(data, size, &a, &err) != 0) {
		check_error(&err);
		CHECK(a.type == 0);
		return 0;
	}
	CHECK(err.reason == EDGE_MSG_OK);
	check_rules(&a);
	n1 = edge_ota_answer_encode(enc1, sizeof enc1, &a);
	CHECK(n1 > 0 && (size_t)n1 < sizeof enc1);
	CHECK(edge_ota_answer_encode(enc2, (size_t)n1, &a) == -ENOSPC);
	CHECK(edge_ota_answer_parse(enc1, (size_t)n1, &b, NULL) == 0);
	/* An unknown reason's name was kept in detail; the re-encoded answer
	 * says "internal" and (a result) carries no detail. */
	if (a.type != EDGE_OTA_MSG_RESULT)
		CHECK(strcmp(a.detail, b.detail) == 0);
	memcpy(b.detail, a.detail, sizeof b.detail);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	n2 = edge_ota_answer_encode(enc2, sizeof enc2, &b);
	CHECK(n1 == n2 && memcmp(enc1, enc2, (size_t)n1) == 0);
	CHECK(edge_ota_answer_parse(enc2, (size_t)n2, &c, NULL) == 0);
	return 0;
}
