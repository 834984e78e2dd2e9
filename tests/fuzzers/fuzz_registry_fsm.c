/*  fuzz_registry_fsm: the registry's state machine (reg_fsm) applying log
 *  entries, as libraft hands them over on every registry of the quorum.
 *
 *  Each frame of the input (fuzz_support.h) is one entry, at index 1, 2,
 *  ...; its first byte says what the rest is:
 *      0   the entry's bytes as they are (framed or not: garbage included)
 *      1   a packed RegistryCommand, framed by reg_fsm_encode first (so
 *          that well-formed commands with odd contents reach the semantics)
 *      2   the end of a loop turn: the batch is committed (reg_fsm_flush)
 *  Properties: no apply or flush fails; the entries are applied in order;
 *  and at the end the state is the same after a reopen of its LMDB and in a
 *  fresh registry that restored a snapshot of it.
 */
#define _GNU_SOURCE
#include "fuzz_support.h"
#include "reg_fsm.h"
#include "reg_state.h"
#include "reg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  One registry's state machine over its own LMDB.
typedef struct {
    char *dir;          //  LMDB directory
    reg_store_t *store; //  LMDB
    reg_state_t *state; //  tables
    reg_fsm_t *fsm;     //  state machine
} s_member_t;

static void s_open(s_member_t *m)
{
    m->store = reg_store_open(m->dir, 64);
    m->state = m->store ? reg_state_new(m->store, 0) : NULL;
    m->fsm = m->state ? reg_fsm_new(m->state, m->store) : NULL;
    if (!m->fsm)
        fuzz_fail("no state machine in %s", m->dir);
}

static void s_close(s_member_t *m)
{
    reg_fsm_destroy(&m->fsm);
    reg_state_destroy(&m->state);
    reg_store_destroy(&m->store);
}

static void s_start(s_member_t *m)
{
    m->dir = fuzz_temp_dir("registry-fsm");
    s_open(m);
}

static void s_end(s_member_t *m)
{
    s_close(m);
    fuzz_remove_tree(m->dir);
    free(m->dir);
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  The replicated state as text, in a stable order (caller frees).
static char *s_dump(s_member_t *m)
{
    size_t n = reg_state_room_count(m->state) + reg_state_node_count(m->state) +
               reg_state_member_count(m->state);
    char **lines = calloc(n + 1, sizeof *lines);
    size_t k = 0, total = 64;
    for (reg_room_t *r = reg_state_first_room(m->state); r && k < n;
         r = reg_state_next_room(m->state), k++)
        if (asprintf(&lines[k], "room %s|%s|%s|%lld|%s|%s|%s|%llu", r->id, r->name, r->description,
                     (long long)r->created_at, r->token ? r->token : "", r->node ? r->node : "",
                     r->instance ? r->instance : "", (unsigned long long)r->epoch) < 0)
            fuzz_fail("out of memory");
    for (reg_node_t *d = reg_state_first_node(m->state); d && k < n;
         d = reg_state_next_node(m->state), k++)
        if (asprintf(&lines[k], "node %s|%llu|%s|%s|%s|%u|%zu", d->name,
                     (unsigned long long)d->boot, d->instance, d->cmd_endpoint, d->pub_endpoint,
                     d->max_rooms, d->rooms) < 0)
            fuzz_fail("out of memory");
    for (size_t i = 0; i < reg_state_member_count(m->state) && k < n; i++, k++) {
        const reg_member_t *mb = reg_state_member_at(m->state, i);
        if (asprintf(&lines[k], "member %llu|%s|%s|%s", (unsigned long long)mb->id, mb->endpoint,
                     mb->pub_endpoint, mb->raft_address) < 0)
            fuzz_fail("out of memory");
    }
    qsort(lines, k, sizeof *lines, s_cmp);
    for (size_t i = 0; i < k; i++)
        total += strlen(lines[i]) + 1;
    char *out = calloc(1, total);
    snprintf(out, total, "applied %llu seeded %d\n", (unsigned long long)reg_fsm_applied(m->fsm),
             reg_fsm_seeded(m->fsm));
    for (size_t i = 0; i < k; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
        free(lines[i]);
    }
    free(lines);
    return out;
}

//  Applies one frame as entry index.
static void s_entry(s_member_t *m, uint64_t index, const uint8_t *frame, size_t len)
{
    reg_fsm_result_t result;
    int rc = 0;
    if (frame[0] == 1) {
        Chat__RegistryCommand *cmd = chat__registry_command__unpack(NULL, len - 1, frame + 1);
        if (!cmd)
            return; //  not a command: nothing to frame
        void *data = NULL;
        size_t size = 0;
        if (reg_fsm_encode(cmd, malloc, &data, &size) != 0)
            fuzz_fail("out of memory");
        rc = reg_fsm_apply_bytes(m->fsm, index, data, size, &result);
        free(data);
        chat__registry_command__free_unpacked(cmd, NULL);
    } else {
        rc = reg_fsm_apply_bytes(m->fsm, index, frame + 1, len - 1, &result);
    }
    if (rc != 0)
        fuzz_fail("entry %llu could not be applied", (unsigned long long)index);
    if (reg_fsm_applied(m->fsm) != index)
        fuzz_fail("entry %llu left the applied index at %llu", (unsigned long long)index,
                  (unsigned long long)reg_fsm_applied(m->fsm));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_member_t a;
    s_start(&a);
    fuzz_reader_t r = {data, size};
    const uint8_t *frame;
    size_t len;
    uint64_t index = 0;
    while (fuzz_next_frame(&r, &frame, &len)) {
        if (len == 0)
            continue;
        if (frame[0] == 2) {
            if (reg_fsm_flush(a.fsm) != 0)
                fuzz_fail("a batch could not be committed");
            continue;
        }
        s_entry(&a, ++index, frame, len);
    }
    if (reg_fsm_flush(a.fsm) != 0)
        fuzz_fail("the last batch could not be committed");
    char *live = s_dump(&a);

    //  What was committed is what the tables held.
    s_close(&a);
    s_open(&a);
    char *reopened = s_dump(&a);
    if (strcmp(live, reopened) != 0)
        fuzz_fail("the state read back from LMDB differs:\n%s\nwas\n%s", reopened, live);

    //  A registry that restores a snapshot holds the same state.
    void *snap = NULL;
    size_t snap_size = 0;
    if (reg_fsm_snapshot(a.fsm, malloc, &snap, &snap_size) != 0)
        fuzz_fail("no snapshot");
    s_member_t b;
    s_start(&b);
    if (reg_fsm_applied(a.fsm) > 0 && reg_fsm_restore(b.fsm, snap, snap_size, 0) != 0)
        fuzz_fail("the snapshot could not be restored");
    char *restored = s_dump(&b);
    if (reg_fsm_applied(a.fsm) > 0 && strcmp(live, restored) != 0)
        fuzz_fail("the restored state differs:\n%s\nwas\n%s", restored, live);
    free(snap);
    free(live);
    free(reopened);
    free(restored);
    s_end(&b);
    s_end(&a);
    return 0;
}
