/* edge_outbox: bounded FIFO, oldest dropped first and counted, messages
 * handed back in front, capacity changes keep the newest. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_outbox.h"
#include "test_util.h"

static struct edge_outbox_msg *pop_expect(edge_outbox *ob, const char *topic)
{
	struct edge_outbox_msg *m = edge_outbox_pop(ob);

	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->topic, topic);
	return m;
}

START_TEST(fifo_and_drop_oldest)
{
	edge_outbox *ob = edge_outbox_new(2);
	struct edge_outbox_msg *m;

	ck_assert_ptr_nonnull(ob);
	ck_assert_uint_eq(edge_outbox_capacity(ob), 2);
	ck_assert_int_eq(edge_outbox_push(ob, "a", "1", 1, 1, false), 0);
	ck_assert_int_eq(edge_outbox_push(ob, "b", "22", 2, 0, true), 0);
	ck_assert_int_eq(edge_outbox_push(ob, "c", NULL, 0, 1, false), 0);
	ck_assert_uint_eq(edge_outbox_depth(ob), 2);
	ck_assert_uint_eq(edge_outbox_dropped(ob), 1);

	m = pop_expect(ob, "b");
	ck_assert_uint_eq(m->len, 2);
	ck_assert_mem_eq(m->payload, "22", 2);
	ck_assert_int_eq(m->qos, 0);
	ck_assert(m->retain);
	/* A failed publish puts it back in front. */
	edge_outbox_unpop(ob, m);
	ck_assert_uint_eq(edge_outbox_depth(ob), 2);
	edge_outbox_msg_free(pop_expect(ob, "b"));
	m = pop_expect(ob, "c");
	ck_assert_uint_eq(m->len, 0);
	edge_outbox_msg_free(m);
	ck_assert_ptr_null(edge_outbox_pop(ob));
	ck_assert_uint_eq(edge_outbox_dropped(ob), 1);
	edge_outbox_free(ob);
}
END_TEST

START_TEST(order_kept_across_ring_wrap)
{
	edge_outbox *ob = edge_outbox_new(3);
	char topic[16];
	int next_out = 0;

	ck_assert_ptr_nonnull(ob);
	/* Push two, pop one, many times: head and tail wrap around the ring. */
	for (int i = 0; i < 20; i++) {
		snprintf(topic, sizeof topic, "t%d", i);
		ck_assert_int_eq(edge_outbox_push(ob, topic, &i, sizeof i, 1, false), 0);
		if (i % 2 == 1) {
			struct edge_outbox_msg *m = edge_outbox_pop(ob);

			ck_assert_ptr_nonnull(m);
			snprintf(topic, sizeof topic, "t%d", next_out);
			/* Full rings dropped the oldest: skip what was dropped. */
			while (strcmp(m->topic, topic) != 0 && next_out < i) {
				next_out++;
				snprintf(topic, sizeof topic, "t%d", next_out);
			}
			ck_assert_str_eq(m->topic, topic);
			ck_assert_int_eq(*(int *)m->payload, next_out);
			next_out++;
			edge_outbox_msg_free(m);
		}
	}
	ck_assert_uint_le(edge_outbox_depth(ob), 3);
	ck_assert_uint_eq(edge_outbox_depth(ob) + edge_outbox_dropped(ob) + 10, 20);
	edge_outbox_free(ob); /* frees what is still queued */
}
END_TEST

START_TEST(resize_and_zero_capacity)
{
	edge_outbox *ob = edge_outbox_new(4);
	char topic[8];

	ck_assert_ptr_nonnull(ob);
	for (int i = 0; i < 4; i++) {
		snprintf(topic, sizeof topic, "t%d", i);
		ck_assert_int_eq(edge_outbox_push(ob, topic, "x", 1, 1, false), 0);
	}
	/* Shrinking keeps the newest. */
	ck_assert_int_eq(edge_outbox_set_capacity(ob, 2), 0);
	ck_assert_uint_eq(edge_outbox_capacity(ob), 2);
	ck_assert_uint_eq(edge_outbox_depth(ob), 2);
	ck_assert_uint_eq(edge_outbox_dropped(ob), 2);
	edge_outbox_msg_free(pop_expect(ob, "t2"));
	ck_assert_int_eq(edge_outbox_set_capacity(ob, 8), 0);
	edge_outbox_msg_free(pop_expect(ob, "t3"));
	/* Capacity 0 keeps nothing but counts. */
	ck_assert_int_eq(edge_outbox_set_capacity(ob, 0), 0);
	ck_assert_int_eq(edge_outbox_push(ob, "gone", "x", 1, 1, false), 0);
	ck_assert_uint_eq(edge_outbox_depth(ob), 0);
	ck_assert_uint_eq(edge_outbox_dropped(ob), 3);
	ck_assert_ptr_null(edge_outbox_pop(ob));
	edge_outbox_free(ob);
	edge_outbox_free(NULL);
	edge_outbox_msg_free(NULL);
}
END_TEST

TCase *test_outbox_tcase(void)
{
	TCase *tc = tcase_create("outbox");

	tcase_add_test(tc, fifo_and_drop_oldest);
	tcase_add_test(tc, order_kept_across_ring_wrap);
	tcase_add_test(tc, resize_and_zero_capacity);
	return tc;
}
