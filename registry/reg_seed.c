/*  registry-seed: fills a registry's data directory with many rooms, for
 *  tests and benchmarks of the room directory at scale (a web UI with
 *  100,000 rooms, the registry's start-up at that size).
 *
 *  Writes through the registry's own store (reg_store), 10,000 rooms per
 *  transaction, so it takes seconds where making the rooms through the
 *  protocol takes one fsynced transaction each. The registry must not be
 *  running on that directory. Names are "<prefix> <word> <word> <n>",
 *  their ids the names' slugs; a name already taken is left alone.
 *
 *  For a registry that is a quorum of one: the rooms are written into its
 *  LMDB state directly, not through its Raft log, so the other members of
 *  a larger quorum would not learn of them.
 */
#include "chat_clock.h"
#include "chat_config.h"
#include "chat_log.h"
#include "chat_text.h"
#include "reg_state.h"
#include "reg_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Rooms per transaction.
#define S_BATCH 10000

static const char *s_words[] = {
    "book",  "club",   "tech",   "talk",    "garden", "music", "chess", "news",
    "cook",  "travel", "rust",   "photo",   "bikes",  "jazz",  "film",  "games",
    "art",   "code",   "coffee", "hiking",  "poetry", "space", "birds", "yoga",
    "maths", "movies", "retro",  "sailing", "study",  "tea",   "vinyl", "wine",
};
#define S_WORDS (sizeof s_words / sizeof s_words[0])

//  One batch of records and the strings they point to.
typedef struct {
    Chat__RegistryRoomRecord recs[S_BATCH];  //  the records
    Chat__RegistryRoomRecord *ptrs[S_BATCH]; //  pointers for reg_store_put
    Chat__RoomInfo rooms[S_BATCH];           //  their catalog fields
    char names[S_BATCH][80];                 //  names
    char ids[S_BATCH][CHAT_ROOM_ID_MAX + 1]; //  ids
    size_t n;                                //  records used
} s_batch_t;

//  Writes the batch's records in one transaction. Returns 0 or -1.
static int s_put_batch(reg_store_t *store, s_batch_t *batch)
{
    reg_store_txn_t *txn = reg_store_begin(store);
    if (!txn)
        return -1;
    for (size_t i = 0; i < batch->n; i++) {
        if (reg_store_put_room(txn, batch->ptrs[i]) != 0) {
            reg_store_abort(&txn);
            return -1;
        }
    }
    return reg_store_commit(&txn);
}

int main(int argc, char **argv)
{
    const char *data = NULL, *prefix = NULL;
    long rooms = 0;
    chat_option_t options[] = {
        {"data", "CHAT_DATA_DIR", CHAT_OPT_STRING, "./registry-data",
         "the registry's data directory (the registry must not be running)", &data},
        {"rooms", NULL, CHAT_OPT_INT, "100000", "rooms to add", &rooms},
        {"prefix", NULL, CHAT_OPT_STRING, "Seed", "first word of every name", &prefix},
        {NULL, NULL, 0, NULL, NULL, NULL},
    };
    int rc = chat_config_parse("registry-seed", "[options]", options, argc, argv, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (rooms < 0 || rooms > 10000000 || strlen(prefix) > 20) {
        fprintf(stderr, "registry-seed: --rooms must be 0..10000000, --prefix at most 20 bytes\n");
        return 2;
    }
    chat_log_init("registry-seed", CHAT_LOG_WARN);
    reg_store_t *store = reg_store_open(data, 1024);
    reg_state_t *state = store ? reg_state_new(store, chat_mono_ms()) : NULL;
    s_batch_t *batch = calloc(1, sizeof *batch);
    if (!state || !batch)
        return 1;
    int64_t now = chat_wall_ms(), t0 = chat_mono_ms();
    long added = 0, taken = 0;
    for (long i = 0; i < rooms && rc == 0; i++) {
        size_t k = batch->n;
        uint64_t x = (uint64_t)i * 2654435761u;
        snprintf(batch->names[k], sizeof batch->names[k], "%s %s %s %ld", prefix,
                 s_words[x % S_WORDS], s_words[(x >> 8) % S_WORDS], i);
        if (chat_room_slug(batch->names[k], batch->ids[k]) == 0 ||
            reg_state_room(state, batch->ids[k])) {
            taken++;
        } else {
            chat__room_info__init(&batch->rooms[k]);
            batch->rooms[k].id = batch->ids[k];
            batch->rooms[k].name = batch->names[k];
            batch->rooms[k].description = "made by registry-seed";
            batch->rooms[k].created_at = now;
            chat__registry_room_record__init(&batch->recs[k]);
            batch->recs[k].room = &batch->rooms[k];
            batch->recs[k].node = "";
            batch->recs[k].instance = "";
            batch->ptrs[k] = &batch->recs[k];
            batch->n++;
        }
        if (batch->n == S_BATCH || (i == rooms - 1 && batch->n)) {
            rc = s_put_batch(store, batch);
            added += rc == 0 ? (long)batch->n : 0;
            batch->n = 0;
        }
    }
    printf("registry-seed: %ld rooms added to %s in %.1f s (%ld names were taken already)\n", added,
           data, (chat_mono_ms() - t0) / 1e3, taken);
    free(batch);
    reg_state_destroy(&state);
    reg_store_destroy(&store);
    return rc == 0 ? 0 : 1;
}
