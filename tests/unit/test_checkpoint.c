/* checkpoint: an event counts as delivered only when every sink it went to
 * acknowledged it, in any order; a relist or a restart re-sends exactly
 * what was not, and nothing the checkpoint covers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "checkpoint.h"
#include "hash.h"

static const char *rvs(unsigned long n)
{
	static char b[8][24];
	static int i;
	i = (i + 1) % 8;
	snprintf(b[i], sizeof(b[i]), "%lu", n);
	return b[i];
}

static const char *uid(unsigned long n)
{
	static char b[8][32];
	static int i;
	i = (i + 1) % 8;
	snprintf(b[i], sizeof(b[i]), "uid-%lu", n);
	return b[i];
}

/* A restart: what the old process saved, loaded by a new one. */
static struct checkpoint *restart(struct checkpoint *old, const char *cluster)
{
	struct buf b = BUF_INIT;
	char err[256];
	assert_int_equal(checkpoint_save(old, &b), 0);
	checkpoint_free(old);
	struct checkpoint *ck = checkpoint_new(cluster, 100, 1000);
	assert_int_equal(checkpoint_stream(ck, ""), 0);
	assert_int_equal(checkpoint_load(ck, b.data, b.len, err, sizeof(err)), 0);
	buf_free(&b);
	return ck;
}

/* A watch stream from rv `from`: events from+1..to, one sink each. */
static void watch(struct checkpoint *ck, int s, unsigned long from, unsigned long to, unsigned sinks)
{
	for (unsigned long r = from + 1; r <= to; r++) {
		assert_int_equal(checkpoint_check(ck, s, uid(r), rvs(r)), CHECKPOINT_NEW);
		assert_int_equal(checkpoint_note(ck, s, uid(r), rvs(r), sinks), 0);
	}
}

static void first_list(struct checkpoint *ck, int s, unsigned long list_rv)
{
	checkpoint_list_begin(ck, s, rvs(list_rv));
	checkpoint_list_done(ck, s, rvs(list_rv));
}

static void test_out_of_order_acks(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 100);
	watch(ck, s, 100, 105, 1);
	/* Acks arrive 105, 103, 101: 102 and 104 are still in flight. */
	assert_int_equal(checkpoint_ack(ck, s, uid(105), rvs(105), false), 1);
	assert_int_equal(checkpoint_ack(ck, s, uid(103), rvs(103), false), 1);
	assert_int_equal(checkpoint_ack(ck, s, uid(101), rvs(101), false), 1);
	assert_int_equal(checkpoint_check(ck, s, uid(102), rvs(102)), CHECKPOINT_IN_FLIGHT);
	assert_int_equal(checkpoint_check(ck, s, uid(105), rvs(105)), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(ck, s, uid(7), rvs(99)), CHECKPOINT_DELIVERED);   /* under F */
	/* kill -9 now: the relist re-sends 102 and 104, and only them. */
	ck = restart(ck, "prod");
	checkpoint_list_begin(ck, s, "105");
	for (unsigned long r = 90; r <= 105; r++) {
		bool again = r == 102 || r == 104;
		assert_int_equal(checkpoint_check(ck, s, uid(r), rvs(r)), again ? CHECKPOINT_NEW : CHECKPOINT_DELIVERED);
		if (again)
			checkpoint_note(ck, s, uid(r), rvs(r), 1);
	}
	checkpoint_list_done(ck, s, "105");
	assert_int_equal(checkpoint_ack(ck, s, uid(104), rvs(104), false), 1);
	assert_int_equal(checkpoint_ack(ck, s, uid(102), rvs(102), false), 1);
	struct checkpoint_stats st;
	checkpoint_stats(ck, &st);
	assert_int_equal(st.in_flight + st.unsent + st.exact, 0);   /* F covers everything */
	ck = restart(ck, "prod");
	for (unsigned long r = 90; r <= 105; r++)
		assert_int_equal(checkpoint_check(ck, s, uid(r), rvs(r)), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(ck, s, uid(106), rvs(106)), CHECKPOINT_NEW);
	checkpoint_free(ck);
}

static void test_several_sinks_and_dead_letters(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 10);
	watch(ck, s, 10, 11, 3);   /* archive, file, robot */
	/* Queue items carry the compact id, not the strings. */
	struct checkpoint_id id = checkpoint_id_of(s, uid(11), rvs(11));
	assert_int_equal(checkpoint_ack_id(ck, &id, false), 0);
	assert_int_equal(checkpoint_ack(ck, s, uid(11), rvs(11), true), 0);   /* dead-lettered: done for good */
	assert_int_equal(checkpoint_check(ck, s, uid(11), rvs(11)), CHECKPOINT_IN_FLIGHT);
	struct buf mid = BUF_INIT;
	assert_int_equal(checkpoint_save(ck, &mid), 0);
	assert_int_equal(checkpoint_ack(ck, s, uid(11), rvs(11), false), 1);
	assert_int_equal(checkpoint_check(ck, s, uid(11), rvs(11)), CHECKPOINT_DELIVERED);
	/* A fourth ack is a caller bug: counted, never a crash. */
	assert_int_equal(checkpoint_ack(ck, s, uid(11), rvs(11), false), -1);
	struct checkpoint_stats st;
	checkpoint_stats(ck, &st);
	assert_int_equal(st.dead_lettered, 1);
	assert_int_equal(st.unknown_acks, 1);
	/* Saved with one sink still owing: after a restart it goes again. */
	char err[256];
	struct checkpoint *again = checkpoint_new("prod", 100, 1000);
	assert_int_equal(checkpoint_load(again, mid.data, mid.len, err, sizeof(err)), 0);
	assert_int_equal(checkpoint_check(again, checkpoint_stream(again, ""), uid(11), rvs(11)), CHECKPOINT_NEW);
	buf_free(&mid);
	checkpoint_free(again);
	checkpoint_free(ck);
}

static void test_relist_after_410(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 100);
	watch(ck, s, 100, 110, 1);
	for (unsigned long r = 101; r <= 110; r++)
		if (r != 108)
			checkpoint_ack(ck, s, uid(r), rvs(r), false);
	/* 410 Gone: the list at rv 200 holds old objects (<= 110) and the gap's
	 * (150..160), in name order, not rv order. */
	checkpoint_list_begin(ck, s, "200");
	unsigned long order[] = { 160, 103, 150, 108, 155, 101 };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		unsigned long r = order[i];
		enum checkpoint_answer a = checkpoint_check(ck, s, uid(r), rvs(r));
		if (r <= 110)
			assert_int_equal(a, r == 108 ? CHECKPOINT_IN_FLIGHT : CHECKPOINT_DELIVERED);
		else {
			assert_int_equal(a, CHECKPOINT_NEW);
			checkpoint_note(ck, s, uid(r), rvs(r), 1);
		}
	}
	/* The gap's 160 is acknowledged while the list still runs: a crash now
	 * must not re-send it, nor anything under F; 150, 155, 108 go again. */
	checkpoint_ack(ck, s, uid(160), rvs(160), false);
	struct buf b = BUF_INIT;
	char err[256];
	assert_int_equal(checkpoint_save(ck, &b), 0);
	struct checkpoint *crashed = checkpoint_new("prod", 100, 1000);
	assert_int_equal(checkpoint_load(crashed, b.data, b.len, err, sizeof(err)), 0);
	int cs = checkpoint_stream(crashed, "");
	assert_int_equal(checkpoint_check(crashed, cs, uid(160), rvs(160)), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(crashed, cs, uid(150), rvs(150)), CHECKPOINT_NEW);
	assert_int_equal(checkpoint_check(crashed, cs, uid(108), rvs(108)), CHECKPOINT_NEW);
	assert_int_equal(checkpoint_check(crashed, cs, uid(103), rvs(103)), CHECKPOINT_DELIVERED);
	checkpoint_free(crashed);
	buf_free(&b);
	/* The list ends: F moves to 200, the exact entry for 160 goes. */
	checkpoint_list_done(ck, s, "200");
	struct checkpoint_stats st;
	checkpoint_stats(ck, &st);
	assert_int_equal(st.exact, 0);
	assert_int_equal(st.in_flight, 3);   /* 108, 150, 155 */
	assert_int_equal(checkpoint_check(ck, s, uid(170), rvs(170)), CHECKPOINT_DELIVERED);
	checkpoint_free(ck);
}

static void test_store_went_back_resends_instead_of_skipping(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 5000);
	/* etcd restored from a backup: the list is at revision 300. */
	checkpoint_list_begin(ck, s, "300");
	assert_int_equal(checkpoint_check(ck, s, uid(1), rvs(250)), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(ck, s, uid(2), rvs(301)), CHECKPOINT_NEW);
	checkpoint_list_done(ck, s, "300");
	watch(ck, s, 300, 302, 1);
	struct checkpoint_stats st;
	checkpoint_stats(ck, &st);
	assert_int_equal(st.store_resets, 1);
	checkpoint_free(ck);
}

static void test_unsent_events_gone_from_the_list_are_dropped(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 10);
	watch(ck, s, 10, 12, 1);   /* 11, 12 never acknowledged */
	ck = restart(ck, "prod");
	struct checkpoint_stats st;
	checkpoint_stats(ck, &st);
	assert_int_equal(st.unsent, 2);
	/* A smaller bound now: the unsent ones must not stop the list that
	 * re-sends them. */
	struct buf b = BUF_INIT;
	char err[256];
	assert_int_equal(checkpoint_save(ck, &b), 0);
	struct checkpoint *tight = checkpoint_new("prod", 1, 10);
	assert_int_equal(checkpoint_load(tight, b.data, b.len, err, sizeof(err)), 0);
	assert_false(checkpoint_full(tight));
	checkpoint_note(tight, checkpoint_stream(tight, ""), uid(12), rvs(12), 1);
	assert_true(checkpoint_full(tight));
	checkpoint_free(tight);
	buf_free(&b);
	checkpoint_list_begin(ck, s, "20");
	checkpoint_note(ck, s, uid(12), rvs(12), 1);   /* 11 expired meanwhile */
	checkpoint_list_done(ck, s, "20");
	checkpoint_stats(ck, &st);
	assert_int_equal(st.unsent, 0);
	assert_int_equal(st.in_flight, 1);
	checkpoint_free(ck);
}

static void test_two_clusters_and_namespaces(void **state)
{
	struct checkpoint *a = checkpoint_new("east", 100, 1000), *b = checkpoint_new("west", 100, 1000);
	int a1 = checkpoint_stream(a, "default"), a2 = checkpoint_stream(a, "kube-system");
	int b1 = checkpoint_stream(b, "default");
	assert_int_not_equal(a1, a2);
	assert_int_equal(checkpoint_stream(a, "kube-system"), a2);
	first_list(a, a1, 1000);
	first_list(a, a2, 10);
	first_list(b, b1, 50);
	/* The same rv means different things in each cluster and each stream. */
	assert_int_equal(checkpoint_check(a, a1, "x", "500"), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(a, a2, "x", "500"), CHECKPOINT_NEW);
	assert_int_equal(checkpoint_check(b, b1, "x", "500"), CHECKPOINT_NEW);
	/* One cluster's file is refused by the other. */
	struct buf bytes = BUF_INIT;
	char err[256];
	assert_int_equal(checkpoint_save(a, &bytes), 0);
	assert_int_equal(checkpoint_load(b, bytes.data, bytes.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another cluster"));
	assert_int_equal(checkpoint_check(b, b1, "x", "40"), CHECKPOINT_DELIVERED);   /* untouched */
	/* Restored streams keep the caller's numbers and find theirs by name. */
	struct checkpoint *a_again = checkpoint_new("east", 100, 1000);
	int k = checkpoint_stream(a_again, "kube-system");
	assert_int_equal(checkpoint_load(a_again, bytes.data, bytes.len, err, sizeof(err)), 0);
	assert_int_equal(checkpoint_stream(a_again, "kube-system"), k);
	assert_int_equal(checkpoint_check(a_again, k, "x", "500"), CHECKPOINT_NEW);
	assert_int_equal(checkpoint_check(a_again, checkpoint_stream(a_again, "default"), "x", "500"),
			 CHECKPOINT_DELIVERED);
	buf_free(&bytes);
	checkpoint_free(a_again);
	checkpoint_free(a);
	checkpoint_free(b);
}

static void test_opaque_rvs_fall_back_to_the_exact_set(void **state)
{
	struct checkpoint *ck = checkpoint_new("odd", 100, 1000);
	int s = checkpoint_stream(ck, "");
	checkpoint_list_begin(ck, s, NULL);
	checkpoint_note(ck, s, "u1", "a7f", 1);
	checkpoint_note(ck, s, "u2", "007", 1);   /* a leading zero is not an etcd revision */
	checkpoint_list_done(ck, s, "zz9");
	checkpoint_ack(ck, s, "u1", "a7f", false);
	checkpoint_ack(ck, s, "u2", "007", false);
	ck = restart(ck, "odd");
	assert_int_equal(checkpoint_check(ck, s, "u1", "a7f"), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(ck, s, "u2", "007"), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(ck, s, "u3", "1"), CHECKPOINT_NEW);   /* nothing compared */
	checkpoint_free(ck);
}

static void test_corrupt_truncated_and_old_files_are_refused(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 10);
	watch(ck, s, 10, 20, 1);
	struct buf b = BUF_INIT;
	assert_int_equal(checkpoint_save(ck, &b), 0);
	char err[256];
	struct checkpoint *other = checkpoint_new("prod", 100, 1000);
	int os = checkpoint_stream(other, "");
	first_list(other, os, 7);
	/* Truncated at every length: refused each time, state untouched. */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(checkpoint_load(other, b.data, n, err, sizeof(err)), -1);
	/* One byte changed anywhere: refused. */
	for (size_t i = 0; i < b.len; i += 7) {
		char *copy = malloc(b.len);
		memcpy(copy, b.data, b.len);
		copy[i] ^= 0x01;
		assert_int_equal(checkpoint_load(other, copy, b.len, err, sizeof(err)), -1);
		free(copy);
	}
	assert_int_equal(checkpoint_check(other, os, "x", "7"), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(other, os, "x", "8"), CHECKPOINT_NEW);
	/* Another version, and the older herald's seen file. */
	const char *future = "herald-checkpoint 2\ncluster prod\nend 2 0000000000000000\n";
	assert_int_equal(checkpoint_load(other, future, strlen(future), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 2"));
	const char *seen = "herald-seen 2\n0123456789abcdef 0123456789abcdef\n";
	assert_int_equal(checkpoint_load(other, seen, strlen(seen), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a herald checkpoint"));
	/* The whole file loads. */
	assert_int_equal(checkpoint_load(other, b.data, b.len, err, sizeof(err)), 0);
	assert_int_equal(checkpoint_check(other, os, uid(15), rvs(15)), CHECKPOINT_NEW);
	assert_int_equal(checkpoint_check(other, os, "x", "8"), CHECKPOINT_DELIVERED);
	buf_free(&b);
	checkpoint_free(other);
	checkpoint_free(ck);
}

static void test_memory_and_size_are_bounded(void **state)
{
	/* A busy numeric stream: 200,000 events delivered leave nothing behind. */
	struct checkpoint *ck = checkpoint_new("prod", 64, 256);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 1);
	for (unsigned long r = 2; r < 200000; r++) {
		checkpoint_note(ck, s, uid(r), rvs(r), 2);
		if (r > 40) {   /* acks lag 40 events behind */
			checkpoint_ack(ck, s, uid(r - 40), rvs(r - 40), false);
			checkpoint_ack(ck, s, uid(r - 40), rvs(r - 40), false);
		}
		assert_false(checkpoint_full(ck));
	}
	struct checkpoint_stats st;
	checkpoint_stats(ck, &st);
	assert_int_equal(st.in_flight, 40);
	assert_int_equal(st.exact, 0);
	/* A stuck sink: the in-flight bound says stop. */
	for (unsigned long r = 200000; r < 200024; r++)
		checkpoint_note(ck, s, uid(r), rvs(r), 1);
	assert_true(checkpoint_full(ck));
	checkpoint_free(ck);

	/* Opaque rvs: the exact set keeps its bound, forgetting the oldest. */
	ck = checkpoint_new("odd", 64, 256);
	s = checkpoint_stream(ck, "");
	char rv[32];
	for (unsigned long i = 0; i < 5000; i++) {
		snprintf(rv, sizeof(rv), "v%lu", i);
		checkpoint_note(ck, s, uid(i), rv, 1);
		checkpoint_ack(ck, s, uid(i), rv, false);
	}
	checkpoint_stats(ck, &st);
	assert_true(st.exact <= 256);
	assert_true(st.forgotten >= 5000 - 256);
	assert_int_equal(checkpoint_check(ck, s, uid(4999), "v4999"), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(ck, s, uid(0), "v0"), CHECKPOINT_NEW);   /* forgotten: re-sent, not lost */
	for (unsigned long i = 0; i < 64; i++) {
		snprintf(rv, sizeof(rv), "w%lu", i);
		checkpoint_note(ck, s, uid(i), rv, 1);
	}
	struct buf b = BUF_INIT;
	assert_int_equal(checkpoint_save(ck, &b), 0);
	assert_true(b.len <= checkpoint_size_bound(64, 256, 1));
	buf_free(&b);
	checkpoint_free(ck);
	/* The documented ConfigMap budget. */
	assert_true(checkpoint_size_bound(4096, 4096, CHECKPOINT_MAX_STREAMS) < 370 * 1000);
}

static void test_skipped_and_dropped_watch_events_move_the_frontier(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 10);
	checkpoint_note(ck, s, uid(11), rvs(11), 1);
	checkpoint_note(ck, s, uid(12), rvs(12), 0);   /* dropped by the rules */
	checkpoint_note(ck, s, uid(11), rvs(11), 0);   /* the same one again: skipped, still owed */
	checkpoint_progress(ck, s, "20");                /* a BOOKMARK */
	assert_int_equal(checkpoint_check(ck, s, uid(11), rvs(11)), CHECKPOINT_IN_FLIGHT);
	assert_int_equal(checkpoint_check(ck, s, uid(12), rvs(12)), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_check(ck, s, uid(19), rvs(19)), CHECKPOINT_DELIVERED);
	assert_int_equal(checkpoint_ack(ck, s, uid(11), rvs(11), false), 1);
	struct checkpoint_stats st;
	checkpoint_stats(ck, &st);
	assert_int_equal(st.in_flight + st.exact, 0);
	checkpoint_free(ck);
}

/* Damage the checksum does not catch (a writer's bug, a hand edit): every
 * byte changed in turn, the end line made to match again. Never a crash;
 * whatever loads still answers. */
static void test_damage_behind_a_valid_checksum(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "default");
	first_list(ck, s, 10);
	watch(ck, s, 10, 14, 2);
	checkpoint_ack(ck, s, uid(12), rvs(12), false);
	checkpoint_note(ck, checkpoint_stream(ck, "odd"), "u", "x1", 1);
	checkpoint_ack(ck, checkpoint_stream(ck, "odd"), "u", "x1", false);
	struct buf b = BUF_INIT;
	assert_int_equal(checkpoint_save(ck, &b), 0);
	size_t last = b.len - 1;
	while (last > 0 && b.data[last - 1] != '\n')
		last--;
	unsigned long lines;
	assert_int_equal(sscanf(b.data + last, "end %lu", &lines), 1);
	const unsigned char flips[] = { 0x01, 0x10, 0x20, 0x40 };
	for (size_t i = 0; i < last; i++)
		for (size_t f = 0; f < sizeof(flips); f++) {
			struct buf m = BUF_INIT;
			buf_append(&m, b.data, last);
			m.data[i] ^= (char)flips[f];
			buf_printf(&m, "end %lu %016llx\n", lines,
				   (unsigned long long)fnv1a(FNV_OFFSET, m.data, last));
			struct checkpoint *c = checkpoint_new("prod", 100, 1000);
			char err[256];
			if (checkpoint_load(c, m.data, m.len, err, sizeof(err)) == 0)
				(void)checkpoint_check(c, 0, uid(13), rvs(13));
			else
				assert_true(strlen(err) > 0);
			checkpoint_free(c);
			buf_free(&m);
		}
	buf_free(&b);
	checkpoint_free(ck);
}

static void test_unsaved_counts_what_a_kill_would_resend(void **state)
{
	struct checkpoint *ck = checkpoint_new("prod", 100, 1000);
	int s = checkpoint_stream(ck, "");
	first_list(ck, s, 10);
	watch(ck, s, 10, 15, 1);
	for (unsigned long r = 11; r <= 15; r++)
		checkpoint_ack(ck, s, uid(r), rvs(r), false);
	assert_int_equal(checkpoint_unsaved(ck), 5);
	struct buf b = BUF_INIT;
	uint64_t mark = checkpoint_mark(ck);
	assert_int_equal(checkpoint_save(ck, &b), 0);
	watch(ck, s, 15, 17, 1);   /* noted while the write is under way */
	checkpoint_saved(ck, mark);
	assert_int_equal(checkpoint_unsaved(ck), 2);
	/* A kill -9 now re-sends exactly those two. */
	char err[256];
	struct checkpoint *after = checkpoint_new("prod", 100, 1000);
	assert_int_equal(checkpoint_load(after, b.data, b.len, err, sizeof(err)), 0);
	int resent = 0;
	for (unsigned long r = 11; r <= 17; r++)
		resent += checkpoint_check(after, 0, uid(r), rvs(r)) == CHECKPOINT_NEW;
	assert_int_equal(resent, 2);
	assert_int_equal(checkpoint_unsaved(after), 0);
	buf_free(&b);
	checkpoint_free(after);
	checkpoint_free(ck);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_out_of_order_acks),
		cmocka_unit_test(test_several_sinks_and_dead_letters),
		cmocka_unit_test(test_skipped_and_dropped_watch_events_move_the_frontier),
		cmocka_unit_test(test_relist_after_410),
		cmocka_unit_test(test_unsaved_counts_what_a_kill_would_resend),
		cmocka_unit_test(test_store_went_back_resends_instead_of_skipping),
		cmocka_unit_test(test_unsent_events_gone_from_the_list_are_dropped),
		cmocka_unit_test(test_two_clusters_and_namespaces),
		cmocka_unit_test(test_opaque_rvs_fall_back_to_the_exact_set),
		cmocka_unit_test(test_corrupt_truncated_and_old_files_are_refused),
		cmocka_unit_test(test_damage_behind_a_valid_checksum),
		cmocka_unit_test(test_memory_and_size_are_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
