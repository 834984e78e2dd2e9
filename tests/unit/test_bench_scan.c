/*  chat-bench's scan of server messages (bench_scan). */
#include "bench_scan.h"

#include <criterion/criterion.h>
#include <string.h>

static int s_scan(const char *text, bench_msg_t *m)
{
    return bench_scan(text, strlen(text), m);
}

Test(scan, reads_a_message_received_as_the_gateway_writes_it)
{
    const char *text =
        "{\"type\":\"messageReceived\",\"message\":{\"id\":\"general:42\",\"seq\":42,"
        "\"roomId\":\"general\",\"userId\":\"alice\",\"userName\":\"Alice\","
        "\"content\":\"cb123:4:5:xx\",\"timestamp\":1764370000123,"
        "\"messageType\":\"text\"}}";
    bench_msg_t m;
    cr_assert_eq(s_scan(text, &m), 0);
    cr_expect_eq(m.type, BENCH_MSG_RECEIVED);
    cr_expect(m.has_seq);
    cr_expect_eq(m.seq, 42);
    cr_expect(bench_span_eq(m.room_id, "general"));
    cr_expect(bench_span_eq(m.content, "cb123:4:5:xx"));
    cr_expect(bench_span_eq(m.message_type, "text"));
    cr_expect_null(m.ref.p);
}

Test(scan, finds_fields_in_any_order_and_ignores_lookalikes_in_other_objects)
{
    //  "seq" and "roomId" inside an unrelated object must not be taken.
    const char *text = "{ \"message\" : { \"other\": {\"seq\": 7, \"roomId\": \"no\"},"
                       " \"messageType\":\"join\", \"roomId\" : \"r-1\", \"seq\" : 9 } ,"
                       " \"extra\": [1, 2.5e3, -3, true, false, null, \"x\\\"y\"],"
                       " \"type\" : \"messageReceived\" }";
    bench_msg_t m;
    cr_assert_eq(s_scan(text, &m), 0);
    cr_expect_eq(m.type, BENCH_MSG_RECEIVED);
    cr_expect_eq(m.seq, 9);
    cr_expect(bench_span_eq(m.room_id, "r-1"));
    cr_expect(bench_span_eq(m.message_type, "join"));
}

Test(scan, reads_an_ack_with_its_ref_and_top_level_seq)
{
    bench_msg_t m;
    cr_assert_eq(s_scan("{\"type\":\"messageAck\",\"roomId\":\"tech\",\"id\":\"tech:3\",\"seq\":3,"
                        "\"ref\":\"a1700\"}",
                        &m),
                 0);
    cr_expect_eq(m.type, BENCH_MSG_ACK);
    cr_expect_eq(m.seq, 3);
    cr_expect(bench_span_eq(m.ref, "a1700"));
    cr_expect(bench_span_eq(m.room_id, "tech"));
    uint32_t used = 0;
    cr_expect_eq(bench_span_u64((bench_span_t){m.ref.p + 1, m.ref.len - 1, false}, &used), 1700);
    cr_expect_eq(used, 4);
}

Test(scan, reads_an_error_code_and_retry_after)
{
    bench_msg_t m;
    cr_assert_eq(s_scan("{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"Slow down\","
                        "\"retryAfterMs\":250,\"ref\":\"a9\"}",
                        &m),
                 0);
    cr_expect_eq(m.type, BENCH_MSG_ERROR);
    cr_expect(bench_span_eq(m.code, "rate_limited"));
    cr_expect_eq(m.retry_after_ms, 250);
}

Test(scan, takes_the_join_cursor_from_the_newest_history_message)
{
    const char *text =
        "{\"type\":\"roomJoined\",\"room\":{\"id\":\"bench-1\",\"name\":\"bench 1\",\"users\":"
        "[{\"id\":\"u\",\"name\":\"U\"}],\"lastSeq\":12},\"history\":[{\"seq\":10,\"roomId\":"
        "\"bench-1\"},{\"seq\":11,\"roomId\":\"bench-1\"}],\"ref\":\"j\"}";
    bench_msg_t m;
    cr_assert_eq(s_scan(text, &m), 0);
    cr_expect_eq(m.type, BENCH_MSG_ROOM_JOINED);
    cr_expect_eq(m.history_seq, 11);
    cr_expect(bench_span_eq(m.room_id, "bench-1"));
    cr_expect_not(m.has_seq, "a roomJoined has no top-level seq");
}

Test(scan, an_empty_history_gives_cursor_zero)
{
    bench_msg_t m;
    cr_assert_eq(s_scan("{\"type\":\"roomJoined\",\"room\":{\"id\":\"r\"},\"history\":[]}", &m), 0);
    cr_expect_eq(m.history_seq, 0);
}

Test(scan, marks_escaped_strings)
{
    bench_msg_t m;
    cr_assert_eq(s_scan("{\"type\":\"error\",\"code\":\"a\\u0041\"}", &m), 0);
    cr_expect(m.code.escaped);
    cr_expect_not(bench_span_eq(m.code, "aA"), "spans are raw text");
}

Test(scan, unknown_types_are_other)
{
    bench_msg_t m;
    cr_assert_eq(s_scan("{\"type\":\"userJoined\",\"roomId\":\"r\",\"user\":{}}", &m), 0);
    cr_expect_eq(m.type, BENCH_MSG_OTHER);
}

Test(scan, negative_fractional_or_huge_seqs_are_not_seqs)
{
    bench_msg_t m;
    cr_assert_eq(s_scan("{\"type\":\"messageAck\",\"seq\":-1}", &m), 0);
    cr_expect_not(m.has_seq);
    cr_assert_eq(s_scan("{\"type\":\"messageAck\",\"seq\":1.5}", &m), 0);
    cr_expect_not(m.has_seq);
    cr_assert_eq(s_scan("{\"type\":\"messageAck\",\"seq\":99999999999999999999999}", &m), 0);
    cr_expect_not(m.has_seq);
}

Test(scan, rejects_what_is_not_one_json_object)
{
    const char *bad[] = {
        "",
        "[]",
        "\"type\"",
        "{\"type\":\"error\"",
        "{\"type\":\"error\",}",
        "{\"type\" \"error\"}",
        "{\"type\":\"error\"} {}",
        "{\"type\":\"a\nb\"}",
        "{\"type\":\"\\x\"}",
        "{\"type\":\"\\u12g4\"}",
        "{\"seq\":01}",
        "{\"seq\":1.}",
        "{\"seq\":-}",
        "{\"ok\":tru}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{'type':'error'}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bench_msg_t m;
        cr_expect_eq(bench_scan(bad[i], strlen(bad[i]), &m), -1, "accepted: %s", bad[i]);
    }
}

Test(scan, rejects_nesting_deeper_than_its_limit_without_crashing)
{
    char text[4096];
    size_t n = 0;
    text[n++] = '{';
    memcpy(text + n, "\"a\":", 4);
    n += 4;
    for (int i = 0; i < 1000; i++)
        text[n++] = '[';
    text[n] = '\0';
    bench_msg_t m;
    cr_expect_eq(bench_scan(text, n, &m), -1);
}

Test(scan, never_reads_past_the_given_length)
{
    //  A complete object followed by bytes that are not part of it.
    const char *text = "{\"type\":\"error\"}garbage";
    bench_msg_t m;
    cr_expect_eq(bench_scan(text, 16, &m), 0);
    //  Cut inside a string.
    cr_expect_eq(bench_scan(text, 10, &m), -1);
}

Test(scan, reads_a_rooms_list_page_its_total_cursor_and_room_count)
{
    const char *text = "{\"type\":\"roomsList\",\"rooms\":[{\"id\":\"a\",\"users\":[{\"id\":\"u\"}],"
                       "\"rooms\":[1,2]},{\"id\":\"b\",\"users\":[]}],\"cursor\":\"0.b\","
                       "\"total\":1234,\"ref\":\"p\"}";
    bench_msg_t m;
    cr_assert_eq(bench_scan(text, strlen(text), &m), 0);
    cr_expect_eq(m.type, BENCH_MSG_ROOMS_LIST);
    cr_expect_eq(m.n_rooms, 2, "nested arrays are not rooms of the page");
    cr_expect(m.has_total);
    cr_expect_eq(m.total, 1234);
    cr_expect(bench_span_eq(m.cursor, "0.b"));
    cr_expect(bench_span_eq(m.ref, "p"));
    const char *end = "{\"type\":\"roomsList\",\"rooms\":[],\"cursor\":null,\"total\":0}";
    cr_assert_eq(bench_scan(end, strlen(end), &m), 0);
    cr_expect_eq(m.n_rooms, 0);
    cr_expect_null(m.cursor.p, "null is no cursor");
    const char *pong = "{\"type\":\"pong\",\"serverTime\":1764370000123,\"ref\":\"q7\"}";
    cr_assert_eq(bench_scan(pong, strlen(pong), &m), 0);
    cr_expect_eq(m.type, BENCH_MSG_PONG);
}
