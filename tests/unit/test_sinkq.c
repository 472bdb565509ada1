/* sinkq: bounded queue and batching by count, bytes and age. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sinkq.h"

static const struct sinkq_limits lim = {
	.batch_events = 3, .batch_bytes = 10, .batch_wait_ms = 1000,
	.max_events = 5, .max_bytes = 20,
};

static void test_ready_by_count(void **state)
{
	struct sinkq q;
	sinkq_init(&q, &lim);
	assert_false(sinkq_ready(&q, 0));
	assert_int_equal(sinkq_push(&q, "a", 1, 0, false), 0);
	assert_int_equal(sinkq_push(&q, "b", 1, 0, false), 0);
	assert_false(sinkq_ready(&q, 10));
	assert_int_equal(sinkq_push(&q, "c", 1, 0, false), 0);
	assert_true(sinkq_ready(&q, 10));
	size_t n, b;
	struct sinkq_item *batch = sinkq_take(&q, &n, &b);
	assert_int_equal(n, 3);
	assert_int_equal(b, 3);
	assert_memory_equal(batch->data, "a", 1);
	assert_memory_equal(batch->next->next->data, "c", 1);
	assert_null(batch->next->next->next);
	assert_int_equal(q.count, 0);
	sinkq_free_list(batch);
}

static void test_ready_by_bytes_and_batch_cut(void **state)
{
	struct sinkq q;
	sinkq_init(&q, &lim);
	assert_int_equal(sinkq_push(&q, "123456", 6, 0, false), 0);
	assert_false(sinkq_ready(&q, 0));
	assert_int_equal(sinkq_push(&q, "789012", 6, 0, false), 0);
	assert_true(sinkq_ready(&q, 0)); /* 12 bytes >= 10 */
	size_t n, b;
	struct sinkq_item *batch = sinkq_take(&q, &n, &b);
	assert_int_equal(n, 1); /* a second item would pass batch_bytes */
	assert_int_equal(b, 6);
	sinkq_free_list(batch);
	batch = sinkq_take(&q, &n, &b);
	assert_int_equal(n, 1);
	sinkq_free_list(batch);
	assert_null(q.head);
	assert_null(q.tail);
}

static void test_oversize_item_still_goes_alone(void **state)
{
	struct sinkq q;
	sinkq_init(&q, &lim);
	assert_int_equal(sinkq_push(&q, "0123456789012345678901234", 25, 0, false), 0);
	size_t n, b;
	struct sinkq_item *batch = sinkq_take(&q, &n, &b);
	assert_int_equal(n, 1);
	assert_int_equal(b, 25);
	sinkq_free_list(batch);
}

static void test_ready_by_age(void **state)
{
	struct sinkq q;
	sinkq_init(&q, &lim);
	assert_int_equal(sinkq_deadline(&q), UINT64_MAX);
	assert_int_equal(sinkq_push(&q, "a", 1, 5000, false), 0);
	assert_int_equal(sinkq_push(&q, "b", 1, 5500, false), 0);
	assert_int_equal(sinkq_deadline(&q), 6000);
	assert_false(sinkq_ready(&q, 5999));
	assert_true(sinkq_ready(&q, 6000));
	sinkq_clear(&q);
}

static void test_bound_and_force(void **state)
{
	struct sinkq q;
	sinkq_init(&q, &lim);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sinkq_push(&q, "x", 1, 0, false), 0);
	assert_true(sinkq_full(&q, 1));
	assert_int_equal(sinkq_push(&q, "y", 1, 0, false), -1);
	assert_int_equal(q.count, 5);
	assert_int_equal(sinkq_push(&q, "y", 1, 0, true), 0);
	assert_int_equal(q.count, 6);
	sinkq_clear(&q);
	/* bytes bound */
	assert_int_equal(sinkq_push(&q, "0123456789", 10, 0, false), 0);
	assert_int_equal(sinkq_push(&q, "0123456789", 10, 0, false), 0);
	assert_int_equal(sinkq_push(&q, "z", 1, 0, false), -1);
	sinkq_clear(&q);
}

static void test_requeue_keeps_order(void **state)
{
	struct sinkq q;
	sinkq_init(&q, &lim);
	const char *items[] = { "1", "2", "3", "4", "5" };
	for (int i = 0; i < 5; i++)
		assert_int_equal(sinkq_push(&q, items[i], 1, (uint64_t)i, false), 0);
	size_t n, b;
	struct sinkq_item *batch = sinkq_take(&q, &n, &b);
	assert_int_equal(n, 3);
	assert_int_equal(q.count, 2);
	sinkq_requeue(&q, batch);
	assert_int_equal(q.count, 5);
	assert_int_equal(q.bytes, 5);
	int i = 0;
	for (struct sinkq_item *it = q.head; it; it = it->next, i++)
		assert_memory_equal(it->data, items[i], 1);
	assert_int_equal(i, 5);
	assert_memory_equal(q.tail->data, "5", 1);
	/* requeue into an empty queue sets the tail */
	sinkq_clear(&q);
	assert_int_equal(sinkq_push(&q, "a", 1, 0, false), 0);
	batch = sinkq_take(&q, &n, &b);
	sinkq_requeue(&q, batch);
	assert_ptr_equal(q.head, q.tail);
	assert_int_equal(sinkq_push(&q, "b", 1, 0, false), 0);
	assert_memory_equal(q.tail->data, "b", 1);
	sinkq_clear(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_by_count),
		cmocka_unit_test(test_ready_by_bytes_and_batch_cut),
		cmocka_unit_test(test_oversize_item_still_goes_alone),
		cmocka_unit_test(test_ready_by_age),
		cmocka_unit_test(test_bound_and_force),
		cmocka_unit_test(test_requeue_keeps_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
