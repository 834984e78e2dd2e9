/*  Small parts of the gateway: frame buffers, the outgoing queue, the token
 *  bucket and the id map. */
#include "chat_wsframe.h"
#include "gw_buf.h"
#include "gw_idmap.h"
#include "gw_queue.h"
#include "gw_rate.h"

#include <criterion/criterion.h>
#include <string.h>

//  The payload of a finished buffer as a C string (for comparisons).
static char *s_payload(const gw_buf_t *buf)
{
    size_t len;
    const char *p = gw_buf_payload(buf, &len);
    static char out[4096];
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

Test(buf, a_finished_buffer_is_one_text_frame)
{
    gw_buf_t *buf = gw_buf_new(0);
    gw_buf_puts(&buf, "{\"a\":");
    gw_buf_json_u64(&buf, 18446744073709551615ULL);
    gw_buf_putc(&buf, '}');
    gw_buf_finish(buf, CHAT_WS_OP_TEXT);
    size_t len;
    const uint8_t *frame = gw_buf_frame(buf, &len);
    chat_wsframe_t f;
    uint8_t copy[128];
    memcpy(copy, frame, len);
    cr_assert_eq(chat_wsframe_parse(copy, len, &f), (long)len);
    cr_expect_eq(f.opcode, CHAT_WS_OP_TEXT);
    cr_expect_not(f.masked);
    cr_expect_eq(f.len, strlen("{\"a\":18446744073709551615}"));
    cr_expect_eq(memcmp(f.payload, "{\"a\":18446744073709551615}", f.len), 0);
    gw_buf_unref(&buf);
    cr_expect_null(buf);
}

Test(buf, a_large_payload_grows_the_buffer_and_gets_a_long_header)
{
    gw_buf_t *buf = gw_buf_new(8);
    for (int i = 0; i < 70000; i++)
        gw_buf_putc(&buf, 'x');
    gw_buf_finish(buf, CHAT_WS_OP_TEXT);
    size_t len;
    gw_buf_frame(buf, &len);
    cr_expect_eq(len, 70000 + 10);
    gw_buf_unref(&buf);
}

Test(buf, json_strings_are_escaped_and_always_valid_utf8)
{
    gw_buf_t *buf = gw_buf_new(0);
    gw_buf_json_str(&buf, "a\"b\\c\nd\x01"
                          "é€😀");
    cr_expect_str_eq(s_payload(buf), "\"a\\\"b\\\\c\\nd\\u0001é€😀\"");
    gw_buf_unref(&buf);
    buf = gw_buf_new(0);
    gw_buf_json_str(&buf, "x\xff\xc0\x80y\xed\xa0\x80");
    cr_expect_str_eq(
        s_payload(buf),
        "\"x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    gw_buf_unref(&buf);
    buf = gw_buf_new(0);
    gw_buf_json_str(&buf, NULL);
    cr_expect_str_eq(s_payload(buf), "\"\"");
    gw_buf_unref(&buf);
}

Test(buf, references_keep_the_buffer_until_the_last_unref)
{
    uint64_t before = gw_buf_live();
    gw_buf_t *buf = gw_buf_new_control(CHAT_WS_OP_PING, NULL, 0);
    gw_buf_t *other = gw_buf_ref(buf);
    cr_expect_eq(gw_buf_live(), before + 1);
    gw_buf_unref(&buf);
    cr_expect_eq(gw_buf_live(), before + 1);
    size_t len;
    const uint8_t *frame = gw_buf_frame(other, &len);
    cr_expect_eq(len, 2);
    cr_expect_eq(frame[0], 0x89);
    gw_buf_unref(&other);
    cr_expect_eq(gw_buf_live(), before);
    gw_buf_unref(&other); //  twice is harmless
}

Test(queue, frames_come_out_in_order_and_the_bound_holds)
{
    uint64_t before = gw_buf_live();
    gw_queue_t q = {0};
    cr_expect_null(q.slots, "no memory before the first push");
    gw_buf_t *bufs[10];
    for (int i = 0; i < 10; i++) {
        bufs[i] = gw_buf_new(0);
        gw_buf_finish(bufs[i], CHAT_WS_OP_TEXT);
    }
    for (int i = 0; i < 9; i++)
        cr_assert_eq(gw_queue_push(&q, bufs[i], 9), 0);
    cr_expect_eq(gw_queue_push(&q, bufs[9], 9), -1, "full at the bound");
    gw_buf_unref(&bufs[9]);
    for (int i = 0; i < 9; i++)
        cr_expect_eq(gw_queue_peek(&q, (uint32_t)i), bufs[i]);
    cr_expect_null(gw_queue_peek(&q, 9));
    gw_queue_drop(&q, 4);
    cr_expect_eq(q.count, 5);
    cr_expect_eq(gw_queue_peek(&q, 0), bufs[4]);
    //  Wrap around the ring.
    for (int i = 0; i < 4; i++) {
        gw_buf_t *b = gw_buf_new(0);
        gw_buf_finish(b, CHAT_WS_OP_TEXT);
        bufs[i] = b;
        cr_assert_eq(gw_queue_push(&q, b, 9), 0);
    }
    cr_expect_eq(gw_queue_peek(&q, 5), bufs[0]);
    cr_expect_eq(gw_queue_peek(&q, 8), bufs[3]);
    gw_queue_clear(&q);
    cr_expect_eq(q.count, 0);
    cr_expect_null(q.slots, "clear gives the memory back");
    cr_expect_eq(gw_buf_live(), before, "every reference was dropped");
}

Test(queue, shrink_frees_only_an_empty_queue)
{
    gw_queue_t q = {0};
    gw_buf_t *b = gw_buf_new(0);
    gw_buf_finish(b, CHAT_WS_OP_TEXT);
    gw_queue_push(&q, b, 100);
    gw_queue_shrink(&q);
    cr_expect_not_null(q.slots);
    gw_queue_drop(&q, 1);
    gw_queue_shrink(&q);
    cr_expect_null(q.slots);
}

Test(rate, a_full_bucket_allows_the_burst_then_refuses)
{
    gw_rate_t r = {0};
    int64_t now = 1000000;
    for (int i = 0; i < 20; i++)
        cr_expect(gw_rate_take(&r, now, 10, 20, NULL), "message %d of the burst", i);
    int64_t retry = 0;
    cr_expect_not(gw_rate_take(&r, now, 10, 20, &retry));
    cr_expect_eq(retry, 100, "one token takes 100 ms at 10/s");
}

Test(rate, tokens_come_back_at_the_rate_and_never_beyond_the_burst)
{
    gw_rate_t r = {0};
    int64_t now = 5000;
    for (int i = 0; i < 20; i++)
        gw_rate_take(&r, now, 10, 20, NULL);
    int64_t retry = 0;
    cr_expect_not(gw_rate_take(&r, now + 50, 10, 20, &retry));
    cr_expect_eq(retry, 50);
    cr_expect(gw_rate_take(&r, now + 100, 10, 20, NULL));
    cr_expect_not(gw_rate_take(&r, now + 100, 10, 20, NULL));
    //  A long pause refills to the burst, not more.
    int allowed = 0;
    while (gw_rate_take(&r, now + 100000, 10, 20, NULL))
        allowed++;
    cr_expect_eq(allowed, 20);
}

Test(rate, a_zero_rate_means_no_limit)
{
    gw_rate_t r = {0};
    for (int i = 0; i < 1000; i++)
        cr_expect(gw_rate_take(&r, 1, 0, 1, NULL));
}

Test(idmap, ids_map_to_values_through_growth_and_removal)
{
    gw_idmap_t *map = gw_idmap_new();
    static int values[5000];
    for (uint64_t id = 1; id <= 5000; id++)
        gw_idmap_put(map, id * 7919, &values[id - 1]);
    cr_expect_eq(gw_idmap_size(map), 5000);
    for (uint64_t id = 1; id <= 5000; id += 2)
        cr_expect_eq(gw_idmap_remove(map, id * 7919), &values[id - 1]);
    cr_expect_eq(gw_idmap_size(map), 2500);
    for (uint64_t id = 1; id <= 5000; id++) {
        void *v = gw_idmap_get(map, id * 7919);
        if (id % 2)
            cr_expect_null(v, "removed %llu", (unsigned long long)id);
        else
            cr_expect_eq(v, &values[id - 1]);
    }
    cr_expect_null(gw_idmap_remove(map, 12345));
    cr_expect_null(gw_idmap_get(map, 0));
    gw_idmap_destroy(&map);
    cr_expect_null(map);
}
