// links: agent/libhook.a agent/libstore.a agent/libbase.a
/*
 * test_job.c: the pure pieces of route job (issue 20): the pull
 * preamble (pull.h), the RESULT frame, parsing sbatch's job id and
 * squeue's states (job.h), and the journal's new states.  The whole
 * route runs against real processes in t_job_pull.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "job.h"
#include "journal.h"
#include "pull.h"
#include "wire.h"

#define UNUSED __attribute__((unused))

static void
t_preamble(void **state UNUSED)
{
	char		 p[PULL_PREAMBLE_LEN + 1];
	struct pull_pre	 pp = { PULL_MODE_PULL, 0x0123456789abcdefULL, 0x89abcdefu, 3, 4 };
	struct pull_pre	 q;
	static const char *bad[] = {
		"SLUICE-PULL 1 X 0123456789abcdef 89abcdef 00/01\n",
		"SLUICE-PULL 2 P 0123456789abcdef 89abcdef 00/01\n",
		"SLUICE-PULL 1 P 0123456789ABCDEF 89abcdef 00/01\n",
		"SLUICE-PULL 1 P 0000000000000000 89abcdef 00/01\n",
		"SLUICE-PULL 1 P 0123456789abcdeX 89abcdef 00/01\n",
		"SLUICE-PULL 1 P 0123456789abcdef 89abcdef 00/01\r",
		"SLUICE-PULL 1 P 0123456789abcdef 89abcdeG 00/01\n",
		"SLUICE-PULL 1 P 0123456789abcdef 89abcdef 04/04\n",	/* i >= n */
		"SLUICE-PULL 1 P 0123456789abcdef 89abcdef 00/00\n",	/* no streams */
		"SLUICE-PULL 1 P 0123456789abcdef 89abcdef 00/41\n",	/* > SL_MAX_STREAMS */
		"SLUICE-PULL 1 P 0123456789abcdef 89abcdef 00-01\n",
		"SLUICE-PULL 1 R 0123456789abcdef 89abcdef 00/02\n",	/* a report is one */
		"SLUICE-PULL 1 P 0123456789abcdef\n...............",	/* the old form */
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n.....................",
	};
	size_t		 i;

	pull_preamble(p, &pp);
	assert_string_equal(p, "SLUICE-PULL 1 P 0123456789abcdef 89abcdef 03/04\n");
	assert_int_equal(strlen(p), PULL_PREAMBLE_LEN);
	assert_int_equal(pull_preamble_parse(p, &q), SL_OK);
	assert_int_equal(q.mode, PULL_MODE_PULL);
	assert_true(q.id == 0x0123456789abcdefULL);
	assert_true(q.session == 0x89abcdefu);
	assert_int_equal(q.stream, 3);
	assert_int_equal(q.nstreams, 4);
	pp.mode = PULL_MODE_REPORT;
	pp.id = 42;
	pp.stream = 0;
	pp.nstreams = 1;
	pull_preamble(p, &pp);
	assert_int_equal(pull_preamble_parse(p, &q), SL_OK);
	assert_int_equal(q.mode, PULL_MODE_REPORT);
	assert_true(q.id == 42);
	pp.mode = PULL_MODE_PULL;
	pp.stream = 63;
	pp.nstreams = 64;
	pull_preamble(p, &pp);
	assert_int_equal(pull_preamble_parse(p, &q), SL_OK);
	assert_int_equal(q.nstreams, 64);
	/* hostile or wrong: refused */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(strlen(bad[i]), PULL_PREAMBLE_LEN);
		assert_int_equal(pull_preamble_parse(bad[i], &q), SL_EPROTO);
	}
}

static void
t_result(void **state UNUSED)
{
	struct wire_error	 e, d;
	struct wire_hdr		 h;
	struct wbuf		 b;

	memset(&e, 0, sizeof(e));
	e.dsid = 7;
	e.code = 0;
	e.message = wire_str_c("result=/shared/x bytes=3 xxh3=0000000000000001");
	wbuf_init(&b, 0);
	assert_int_equal(wire_result_encode(&b, &e), SL_OK);
	assert_int_equal(wire_hdr_decode(b.p, b.len, &h, 1 << 20), SL_OK);
	assert_int_equal(h.type, WIRE_RESULT);
	assert_string_equal(wire_type_name(WIRE_RESULT), "RESULT");
	assert_int_equal(wire_result_decode(b.p + WIRE_HDR_LEN, h.len, &d), SL_OK);
	assert_true(d.dsid == 7);
	assert_int_equal(d.code, 0);
	assert_int_equal(d.message.len, e.message.len);
	assert_memory_equal(d.message.p, e.message.p, e.message.len);
	/* a frame cut short is refused */
	assert_int_not_equal(wire_result_decode(b.p + WIRE_HDR_LEN, h.len - 1, &d), SL_OK);
	wbuf_free(&b);
}

static void
t_jobid(void **state UNUSED)
{
	char	id[32];

	assert_int_equal(ajob_parse_jobid("123\n", id, sizeof(id)), SL_OK);
	assert_string_equal(id, "123");
	assert_int_equal(ajob_parse_jobid("4567;cluster\n", id, sizeof(id)), SL_OK);
	assert_string_equal(id, "4567");
	assert_int_equal(ajob_parse_jobid("Welcome to the cluster\n2024 rules apply\n"
	    "89\n", id, sizeof(id)), SL_OK);
	assert_string_equal(id, "89");
	assert_int_equal(ajob_parse_jobid("Submitted batch job 12\n", id, sizeof(id)),
	    SL_EINVAL);
	assert_int_equal(ajob_parse_jobid("", id, sizeof(id)), SL_EINVAL);
	assert_int_equal(ajob_parse_jobid("12x\n", id, sizeof(id)), SL_EINVAL);
	assert_int_equal(ajob_parse_jobid("1234567890123456789\n", id, sizeof(id)),
	    SL_EINVAL);		/* 19 digits: no job id, and no overflow */
	assert_int_equal(ajob_parse_jobid("7; rm -rf /\n", id, sizeof(id)), SL_OK);
	assert_string_equal(id, "7");	/* only the digits are ever used */
}

static void
t_alive(void **state UNUSED)
{
	assert_true(ajob_state_alive("PENDING"));
	assert_true(ajob_state_alive("RUNNING"));
	assert_true(ajob_state_alive("COMPLETING"));
	assert_false(ajob_state_alive("COMPLETED"));
	assert_false(ajob_state_alive("CANCELLED"));
	assert_false(ajob_state_alive("FAILED"));
	assert_false(ajob_state_alive("TIMEOUT"));
	assert_false(ajob_state_alive("NODE_FAIL"));
	assert_false(ajob_state_alive(""));
}

static void
t_states(void **state UNUSED)
{
	assert_string_equal(ds_state_name(DS_JOB_SUBMITTING), "job_submitting");
	assert_string_equal(ds_state_name(DS_JOB_SUBMITTED), "job_submitted");
	assert_string_equal(ds_state_name(DS_PULLING), "pulling");
	assert_string_equal(ds_state_name(DS_PULLED), "pulled");
	assert_string_equal(ds_state_name(DS_REDUCING), "reducing");
	/* a job dataset is confirmed durable only when done */
	assert_false(DS_PUBLISHED(DS_JOB_SUBMITTED));
	assert_false(DS_PUBLISHED(DS_PULLED));
	assert_false(DS_PUBLISHED(DS_REDUCING));
	assert_true(DS_PUBLISHED(DS_DONE));
	assert_true(DS_PUBLISHED(DS_TRANSFERRED));
	assert_true(DS_PUBLISHED(DS_HOOK_FAILED));
	assert_true(DS_JOB_ACTIVE(DS_PULLING));
	assert_false(DS_JOB_ACTIVE(DS_DONE));
	assert_false(DS_JOB_ACTIVE(DS_QUEUED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_preamble),
		cmocka_unit_test(t_result),
		cmocka_unit_test(t_jobid),
		cmocka_unit_test(t_alive),
		cmocka_unit_test(t_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
