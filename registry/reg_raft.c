/*  reg_raft: see reg_raft.h. */
#include "reg_raft.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "reg_raft_transport.h"

#include <errno.h>
#include <signal.h>
#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define REG_RAFT_INSTALL_SNAPSHOT_MS 2500 //  default 30 s: a restarted member waited that long once
#define REG_RAFT_CONNECT_RETRY_MS 100     //  default 1 s: a restarted member is reached sooner
#define REG_RAFT_CLOSE_MS 5000            //  longest wait for libuv to let go at shutdown

typedef enum { S_PROPOSE, S_BARRIER, S_ADD, S_PROMOTE, S_REMOVE } s_kind_t;

//  One request in flight; the libraft request is its first member.
typedef struct s_request s_request_t;
struct s_request {
    union {
        struct raft_apply apply;     //  propose
        struct raft_barrier barrier; //  barrier
        struct raft_change change;   //  add, promote, remove
    } req;
    s_kind_t kind;           //  what it is
    reg_raft_t *self;        //  owner
    reg_raft_done_fn *done;  //  the caller's callback
    void *arg;               //  its argument
    uint64_t id;             //  add: the server being added
    bool finished;           //  outcome below is final
    int status;              //  0 or a RAFT_* code
    char *error;             //  why, when status != 0
    Chat__Status fsm_status; //  proposals: the state machine's answer
    bool regranted;          //  proposals: nodes' rooms moved
    bool found;              //  proposals: the create's token had made its room before
    char *room_id;           //  proposals: the result's room
    char *node;              //  proposals: the result's node
    s_request_t *next;       //  on the finished list
};

struct reg_raft {
    uv_loop_t loop;                 //  libuv loop, run from the registry's loop
    reg_raft_transport_t transport; //  TCP, with host names
    struct raft_io io;              //  libraft's libuv I/O
    struct raft_fsm fsm_iface;      //  libraft's view of the state machine
    struct raft raft;               //  the Raft server
    reg_fsm_t *fsm;                 //  the state machine (borrowed)
    reg_fsm_result_t last;          //  result of the entry applied last
    bool io_ready;                  //  raft_uv_init succeeded
    bool raft_ready;                //  raft_init succeeded
    bool closed;                    //  raft_close's callback ran
    bool failed;                    //  the state machine could not store an entry
    s_request_t *finished;          //  requests whose done is due, in order
    s_request_t **finished_tail;    //  where the next one goes
    struct raft_transfer transfer;  //  the leadership transfer in flight, if any
    void (*uv_close)(struct raft_io *io, raft_io_close_cb cb); //  raft_uv's own close
    raft_io_close_cb io_close_cb;                              //  libraft's callback for it
    bool io_closed;                                            //  io_close_cb was called
};

// ------------------------------------------------------------ state machine

static int s_fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    reg_raft_t *self = fsm->data;
    uint64_t index = raft_last_applied(&self->raft) + 1;
    if (reg_fsm_apply_bytes(self->fsm, index, buf->base, buf->len, &self->last) != 0) {
        self->failed = true;
        return RAFT_IOERR;
    }
    *result = &self->last;
    return 0;
}

static int s_fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    reg_raft_t *self = fsm->data;
    struct raft_buffer *buf = raft_malloc(sizeof *buf);
    if (!buf)
        return RAFT_NOMEM;
    if (reg_fsm_snapshot(self->fsm, raft_malloc, &buf->base, &buf->len) != 0) {
        raft_free(buf);
        return RAFT_NOMEM;
    }
    *bufs = buf;
    *n_bufs = 1;
    chat_info("raft: snapshot at %llu (%zu bytes)", (unsigned long long)reg_fsm_applied(self->fsm),
              buf->len);
    return 0;
}

static int s_fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    reg_raft_t *self = fsm->data;
    if (reg_fsm_restore(self->fsm, buf->base, buf->len, chat_mono_ms()) != 0)
        return RAFT_CORRUPT;
    raft_free(buf->base); //  libraft hands it over on success
    return 0;
}

// ----------------------------------------------------------------- requests

static s_request_t *s_request_new(reg_raft_t *self, s_kind_t kind, reg_raft_done_fn *done,
                                  void *arg)
{
    s_request_t *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->kind = kind;
    r->self = self;
    r->done = done;
    r->arg = arg;
    r->req.apply.data = r;
    return r;
}

static void s_request_free(s_request_t *r)
{
    free(r->error);
    free(r->room_id);
    free(r->node);
    free(r);
}

static char *s_dup(const char *text)
{
    return text ? strdup(text) : NULL;
}

//  Queues r's done for the end of reg_raft_run.
static void s_finish(s_request_t *r, int status)
{
    reg_raft_t *self = r->self;
    r->finished = true;
    r->status = status;
    if (status != 0 && !r->error)
        r->error = s_dup(status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER
                             ? "leadership lost"
                             : raft_strerror(status));
    r->next = NULL;
    *self->finished_tail = r;
    self->finished_tail = &r->next;
}

static void s_apply_cb(struct raft_apply *req, int status, void *result)
{
    s_request_t *r = req->data;
    const reg_fsm_result_t *res = status == 0 ? result : NULL;
    if (res) {
        r->fsm_status = res->status;
        r->regranted = res->regranted;
        r->found = res->found;
        r->room_id = s_dup(res->room ? res->room->id : NULL);
        r->node = s_dup(res->node ? res->node->name : NULL);
    }
    s_finish(r, status);
}

static void s_barrier_cb(struct raft_barrier *req, int status)
{
    s_finish(req->data, status);
}

static void s_change_cb(struct raft_change *req, int status);

//  An added server is a spare until promoted: promote it to voter (libraft
//  replicates the log to it first, then commits the promotion).
static void s_promote(s_request_t *r)
{
    reg_raft_t *self = r->self;
    r->kind = S_PROMOTE;
    memset(&r->req.change, 0, sizeof r->req.change);
    r->req.change.data = r;
    int rv = raft_assign(&self->raft, &r->req.change, r->id, RAFT_VOTER, s_change_cb);
    if (rv != 0) {
        r->error = s_dup(raft_errmsg(&self->raft));
        s_finish(r, rv);
    }
}

static void s_change_cb(struct raft_change *req, int status)
{
    s_request_t *r = req->data;
    if (status == 0 && r->kind == S_ADD)
        s_promote(r);
    else
        s_finish(r, status);
}

//  Calls the done callbacks that are due (each may make new requests).
static void s_deliver(reg_raft_t *self)
{
    while (self->finished) {
        s_request_t *r = self->finished;
        self->finished = r->next;
        if (!self->finished)
            self->finished_tail = &self->finished;
        reg_raft_outcome_t outcome = {
            .status = r->status,
            .error = r->error,
            .fsm_status = r->fsm_status,
            .regranted = r->regranted,
            .found = r->found,
            .room_id = r->room_id,
            .node = r->node,
        };
        if (r->done)
            r->done(r->arg, &outcome);
        s_request_free(r);
    }
}

//  Frames cmd into a buffer libraft may own.
static int s_pack(const Chat__RegistryCommand *cmd, struct raft_buffer *buf)
{
    return reg_fsm_encode(cmd, raft_malloc, &buf->base, &buf->len) == 0 ? 0 : RAFT_NOMEM;
}

int reg_raft_propose(reg_raft_t *self, const Chat__RegistryCommand *cmd, reg_raft_done_fn *done,
                     void *arg)
{
    struct raft_buffer buf;
    int rv = s_pack(cmd, &buf);
    if (rv != 0)
        return rv;
    s_request_t *r = s_request_new(self, S_PROPOSE, done, arg);
    rv = raft_apply(&self->raft, &r->req.apply, &buf, 1, s_apply_cb);
    if (rv != 0) {
        raft_free(buf.base); //  ours again when raft_apply fails
        s_request_free(r);
    }
    return rv;
}

int reg_raft_barrier(reg_raft_t *self, reg_raft_done_fn *done, void *arg)
{
    s_request_t *r = s_request_new(self, S_BARRIER, done, arg);
    int rv = raft_barrier(&self->raft, &r->req.barrier, s_barrier_cb);
    if (rv != 0)
        s_request_free(r);
    return rv;
}

int reg_raft_add(reg_raft_t *self, uint64_t id, const char *address, reg_raft_done_fn *done,
                 void *arg)
{
    s_request_t *r = s_request_new(self, S_ADD, done, arg);
    r->id = id;
    int rv = raft_add(&self->raft, &r->req.change, id, address, s_change_cb);
    if (rv != 0)
        s_request_free(r);
    return rv;
}

int reg_raft_promote(reg_raft_t *self, uint64_t id, reg_raft_done_fn *done, void *arg)
{
    s_request_t *r = s_request_new(self, S_PROMOTE, done, arg);
    r->id = id;
    int rv = raft_assign(&self->raft, &r->req.change, id, RAFT_VOTER, s_change_cb);
    if (rv != 0)
        s_request_free(r);
    return rv;
}

int reg_raft_remove(reg_raft_t *self, uint64_t id, reg_raft_done_fn *done, void *arg)
{
    s_request_t *r = s_request_new(self, S_REMOVE, done, arg);
    int rv = raft_remove(&self->raft, &r->req.change, id, s_change_cb);
    if (rv != 0)
        s_request_free(r);
    return rv;
}

int reg_raft_transfer(reg_raft_t *self, uint64_t id)
{
    //  One at a time: libraft refuses a second while one runs.
    return raft_transfer(&self->raft, &self->transfer, id, NULL);
}

// ------------------------------------------------------------------- status

const char *reg_raft_role_name(reg_raft_role_t role)
{
    switch (role) {
    case REG_RAFT_FOLLOWER:
        return "follower";
    case REG_RAFT_CANDIDATE:
        return "candidate";
    case REG_RAFT_LEADER:
        return "leader";
    default:
        return "unavailable";
    }
}

void reg_raft_status(reg_raft_t *self, reg_raft_status_t *status)
{
    memset(status, 0, sizeof *status);
    if (!self->raft_ready)
        return;
    struct raft *r = &self->raft;
    switch (raft_state(r)) {
    case RAFT_FOLLOWER:
        status->role = REG_RAFT_FOLLOWER;
        break;
    case RAFT_CANDIDATE:
        status->role = REG_RAFT_CANDIDATE;
        break;
    case RAFT_LEADER:
        status->role = REG_RAFT_LEADER;
        break;
    default:
        status->role = REG_RAFT_UNAVAILABLE;
        break;
    }
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(r, &leader, &address);
    status->leader_id = leader;
    status->term = r->current_term;
    status->applied = raft_last_applied(r);
    status->commit = r->commit_index;
    status->last = raft_last_index(r);
}

size_t reg_raft_member_count(reg_raft_t *self)
{
    return self->raft_ready ? self->raft.configuration.n : 0;
}

reg_raft_member_t reg_raft_member_at(reg_raft_t *self, size_t i)
{
    reg_raft_member_t m = {0, NULL, false};
    if (i < reg_raft_member_count(self)) {
        const struct raft_server *s = &self->raft.configuration.servers[i];
        m.id = s->id;
        m.address = s->address;
        m.voter = s->role == RAFT_VOTER;
    }
    return m;
}

const char *reg_raft_member_address(reg_raft_t *self, uint64_t id)
{
    for (size_t i = 0; i < reg_raft_member_count(self); i++)
        if (self->raft.configuration.servers[i].id == id)
            return self->raft.configuration.servers[i].address;
    return NULL;
}

const char *reg_raft_errmsg(reg_raft_t *self)
{
    return raft_errmsg(&self->raft);
}

uint64_t reg_raft_applied(reg_raft_t *self)
{
    return reg_fsm_applied(self->fsm);
}

bool reg_raft_failed(const reg_raft_t *self)
{
    return self->failed;
}

// --------------------------------------------------------------- the loop

int reg_raft_fd(const reg_raft_t *self)
{
    return uv_backend_fd(&self->loop);
}

int reg_raft_timeout(reg_raft_t *self)
{
    return uv_backend_timeout(&self->loop);
}

void reg_raft_run(reg_raft_t *self)
{
    //  Twice: a watcher that a callback of the first run starts reaches the
    //  backend only when libuv polls again (libuv 1.44's uv_backend_timeout
    //  does not tell), and the caller may sleep in poll right after this.
    uv_run(&self->loop, UV_RUN_NOWAIT);
    uv_run(&self->loop, UV_RUN_NOWAIT);
    //  What this turn applied is stored (one commit) before anyone is told.
    if (reg_fsm_flush(self->fsm) != 0)
        self->failed = true;
    s_deliver(self);
}

// ---------------------------------------------------------------- lifecycle

//  The reg_raft_t that holds io.
static reg_raft_t *s_of_io(struct raft_io *io)
{
    return (reg_raft_t *)(void *)((char *)io - offsetof(reg_raft_t, io));
}

//  libraft 0.15's libuv I/O can call its close callback twice (seen with
//  the log on tmpfs, where writes go through the thread pool): libraft's
//  callback then frees its memory a second time. It is passed on once.
static void s_io_closed(struct raft_io *io)
{
    reg_raft_t *self = s_of_io(io);
    if (self->io_closed)
        return;
    self->io_closed = true;
    self->io_close_cb(io);
}

static void s_io_close(struct raft_io *io, raft_io_close_cb cb)
{
    reg_raft_t *self = s_of_io(io);
    self->io_close_cb = cb;
    self->uv_close(io, s_io_closed);
}

//  Bootstraps a new cluster's configuration; nothing on a restart.
static int s_bootstrap(reg_raft_t *self, const reg_raft_opts_t *opts)
{
    if (opts->n_peers == 0)
        return 0;
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (size_t i = 0; rv == 0 && i < opts->n_peers; i++)
        rv = raft_configuration_add(&conf, opts->peers[i].id, opts->peers[i].address, RAFT_VOTER);
    if (rv == 0)
        rv = raft_bootstrap(&self->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP)
        return 0; //  a restart: the log has the configuration
    if (rv == 0)
        chat_info("raft: bootstrapped a new cluster of %zu", opts->n_peers);
    else
        chat_error("raft: bootstrap: %s", raft_errmsg(&self->raft));
    return rv;
}

static int s_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    chat_error("raft: mkdir %s: %s", path, strerror(errno));
    return -1;
}

reg_raft_t *reg_raft_new(const reg_raft_opts_t *opts)
{
    reg_raft_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fsm = opts->fsm;
    self->finished_tail = &self->finished;
    //  libuv writes to TCP sockets with write(): a peer that died would end
    //  this process with SIGPIPE (ZeroMQ uses MSG_NOSIGNAL; libuv does not).
    signal(SIGPIPE, SIG_IGN);
    if (s_mkdir(opts->dir) != 0 || uv_loop_init(&self->loop) != 0) {
        free(self);
        return NULL;
    }
    int rv = reg_raft_transport_init(&self->transport, &self->loop, opts->bind);
    if (rv != 0) {
        chat_error("raft: cannot listen on %s (an IPv4 address:port): %s", opts->bind,
                   raft_strerror(rv));
        uv_loop_close(&self->loop);
        free(self);
        return NULL;
    }
    rv = raft_uv_init(&self->io, &self->loop, opts->dir, &self->transport.outer);
    if (rv != 0) {
        chat_error("raft: log directory %s: %s", opts->dir, self->io.errmsg);
        reg_raft_destroy(&self);
        return NULL;
    }
    self->io_ready = true;
    self->uv_close = self->io.close;
    self->io.close = s_io_close;
    raft_uv_set_connect_retry_delay(&self->io, REG_RAFT_CONNECT_RETRY_MS);
    self->fsm_iface.version = 1;
    self->fsm_iface.data = self;
    self->fsm_iface.apply = s_fsm_apply;
    self->fsm_iface.snapshot = s_fsm_snapshot;
    self->fsm_iface.restore = s_fsm_restore;
    rv = raft_init(&self->raft, &self->io, &self->fsm_iface, opts->id, opts->address);
    if (rv != 0) {
        chat_error("raft: init: %s", raft_errmsg(&self->raft));
        reg_raft_destroy(&self);
        return NULL;
    }
    self->raft_ready = true;
    self->raft.data = self;
    raft_set_election_timeout(&self->raft, opts->election_ms);
    raft_set_heartbeat_timeout(&self->raft, opts->heartbeat_ms);
    raft_set_install_snapshot_timeout(&self->raft, REG_RAFT_INSTALL_SNAPSHOT_MS);
    raft_set_snapshot_threshold(&self->raft, opts->snapshot_threshold);
    raft_set_snapshot_trailing(&self->raft, opts->snapshot_trailing);
    //  A member that comes back from a partition or a wipe asks first, so it
    //  does not depose a working leader with a higher term.
    raft_set_pre_vote(&self->raft, true);
    if (s_bootstrap(self, opts) != 0 || (rv = raft_start(&self->raft)) != 0) {
        chat_error("raft: start: %s", raft_errmsg(&self->raft));
        reg_raft_destroy(&self);
        return NULL;
    }
    chat_info("raft: member %llu at %s (listening on %s), log in %s", (unsigned long long)opts->id,
              opts->address, opts->bind, opts->dir);
    return self;
}

static void s_raft_closed(struct raft *raft)
{
    reg_raft_t *self = raft->data;
    self->closed = true;
}

//  Runs libuv until done() or the deadline.
static void s_run_until(reg_raft_t *self, bool (*done)(reg_raft_t *self))
{
    int64_t deadline = chat_mono_ms() + REG_RAFT_CLOSE_MS;
    while (!done(self) && chat_mono_ms() < deadline) {
        uv_run(&self->loop, UV_RUN_NOWAIT);
        if (done(self))
            break;
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

//  Nothing libraft wrote is in flight: every entry of the log is stored,
//  no snapshot is being stored. libraft 0.15 can crash when it is closed
//  in the middle of a write (the registry fuzzer caught it on tmpfs, where
//  writes go through libuv's thread pool).
static bool s_settled(reg_raft_t *self)
{
    struct raft *r = &self->raft;
    return r->last_stored >= raft_last_index(r) && r->snapshot.put.data == NULL;
}

//  Raft is closed and libuv has no handle left open (raft_uv's memory may
//  go only then).
static bool s_is_closed(reg_raft_t *self)
{
    return self->closed && !uv_loop_alive(&self->loop);
}

static bool s_loop_idle(reg_raft_t *self)
{
    return !uv_loop_alive(&self->loop);
}

void reg_raft_destroy(reg_raft_t **p)
{
    if (!p || !*p)
        return;
    reg_raft_t *self = *p;
    if (self->raft_ready) {
        s_run_until(self, s_settled);
        raft_close(&self->raft, s_raft_closed);
        s_run_until(self, s_is_closed);
        reg_fsm_flush(self->fsm);
        s_deliver(self); //  requests still open ended with RAFT_SHUTDOWN
    }
    if (self->io_ready)
        raft_uv_close(&self->io);
    reg_raft_transport_close(&self->transport);
    s_run_until(self, s_loop_idle);
    if (uv_loop_close(&self->loop) != 0)
        chat_warn("raft: libuv still had handles open at exit");
    free(self);
    *p = NULL;
}
