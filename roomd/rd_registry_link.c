/*  rd_registry_link: see rd_registry_link.h. */
#include "rd_registry_link.h"
#include "chat_log.h"
#include "chat_registry.h"
#include "chat_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD_REGISTER_RETRY_MS 100    //  next try when a register could not be sent
#define RD_REGISTER_TIMEOUT_MS 3000 //  a sent register unanswered this long is sent again
#define RD_HEARTBEAT_DEFAULT_MS 1000
#define RD_NO_LEADER_RETRY_MS 100 //  next try when a registry knows of no leader yet

struct rd_registry_link {
    void *dealer;               //  DEALER connected to the registry (borrowed)
    rd_host_t *host;            //  where grants go (borrowed)
    rd_store_t *store;          //  rooms held, reported at registration (borrowed, may be NULL)
    char *node;                 //  node name
    char *cmd_endpoint;         //  advertised ROUTER endpoint
    char *pub_endpoint;         //  advertised PUB endpoint
    uint32_t max_rooms;         //  sent at registration
    int64_t heartbeat_flag_ms;  //  --heartbeat-ms, 0 = from the registry
    int64_t heartbeat_ms;       //  interval in use
    char *instance;             //  current instance, or NULL
    bool changed;               //  instance changed since rd_registry_link_take_change
    bool need_register;         //  a (re-)registration is needed
    uint64_t register_req;      //  req_id of the register in flight, 0 = none
    int64_t next_register;      //  when to (re)send the register
    int64_t next_heartbeat;     //  when the next heartbeat is due
    int64_t last_reply;         //  monotonic ms of the registry's last reply
    bool silent_logged;         //  "registry silent" was logged
    uint64_t next_req;          //  req_id counter
    uint64_t heartbeat_floor;   //  heartbeat replies to req_ids below it predate the registration
    bool superseded;            //  the registry gave this node to a newer process: stay idle
    bool follow;                //  a quorum: move the DEALER to the leader
    chat_registry_t registries; //  the quorum's endpoints; the current one is the DEALER's
    int64_t heard_ms;           //  last reply of the current registry (or when it became current)
};

rd_registry_link_t *rd_registry_link_new(void *dealer, rd_host_t *host,
                                         const rd_registry_link_opts_t *opts)
{
    rd_registry_link_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dealer = dealer;
    self->host = host;
    self->node = strdup(opts->node);
    self->cmd_endpoint = strdup(opts->cmd_endpoint);
    self->pub_endpoint = strdup(opts->pub_endpoint);
    if (!self->node || !self->cmd_endpoint || !self->pub_endpoint) {
        rd_registry_link_destroy(&self);
        return NULL;
    }
    self->max_rooms = opts->max_rooms;
    self->store = opts->store;
    if (opts->registry) {
        if (chat_registry_parse(&self->registries, opts->registry) != 0) {
            rd_registry_link_destroy(&self);
            return NULL;
        }
        self->follow = self->registries.count > 1;
    }
    self->heartbeat_flag_ms = opts->heartbeat_ms;
    self->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : RD_HEARTBEAT_DEFAULT_MS;
    self->need_register = true;
    return self;
}

void rd_registry_link_destroy(rd_registry_link_t **p)
{
    if (!p || !*p)
        return;
    rd_registry_link_t *self = *p;
    free(self->node);
    free(self->cmd_endpoint);
    free(self->pub_endpoint);
    free(self->instance);
    free(self);
    *p = NULL;
}

const char *rd_registry_link_instance(const rd_registry_link_t *self)
{
    return self->instance;
}

const char *rd_registry_link_target(const rd_registry_link_t *self)
{
    return self->registries.count ? chat_registry_current(&self->registries) : NULL;
}

//  Moves the DEALER to leader (NULL: the next registry of the list), and
//  sends what is due there at once.
static void s_retarget(rd_registry_link_t *self, const char *leader, int64_t now_ms)
{
    char from[CHAT_ENDPOINT_MAX];
    snprintf(from, sizeof from, "%s", chat_registry_current(&self->registries));
    bool changed = leader ? chat_registry_follow(&self->registries, leader)
                          : chat_registry_next(&self->registries);
    if (!changed)
        return;
    const char *to = chat_registry_current(&self->registries);
    if (chat_registry_switch(self->dealer, from, to) != 0)
        chat_warn("cannot connect to the registry at %s: %s", to, strerror(errno));
    chat_info("talking to the registry at %s now (%s)", to,
              leader ? "the leader named" : "the last one was silent");
    self->heard_ms = now_ms;
    self->register_req = 0;
    self->next_register = now_ms;
    self->next_heartbeat = now_ms;
}

bool rd_registry_link_take_change(rd_registry_link_t *self)
{
    bool changed = self->changed;
    self->changed = false;
    return changed;
}

static uint64_t s_req_id(rd_registry_link_t *self)
{
    return ++self->next_req;
}

//  The rooms the data directory holds, as assignments pointing into records.
//  The arrays are the caller's to free (not the records).
static Chat__Assignment **s_held(Chat__RoomdRoomRecord **records, size_t count,
                                 Chat__Assignment **storage)
{
    *storage = calloc(count + 1, sizeof **storage);
    Chat__Assignment **list = calloc(count + 1, sizeof *list);
    for (size_t i = 0; *storage && list && i < count; i++) {
        chat__assignment__init(&(*storage)[i]);
        (*storage)[i].room = records[i]->room;
        (*storage)[i].epoch = records[i]->epoch;
        list[i] = &(*storage)[i];
    }
    return list;
}

static void s_send_register(rd_registry_link_t *self, int64_t now_ms)
{
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = self->node;
    req.cmd_endpoint = self->cmd_endpoint;
    req.pub_endpoint = self->pub_endpoint;
    req.max_rooms = self->max_rooms;
    req.prev_instance = self->instance ? self->instance : "";
    //  A registry that lost its catalog learns from this where histories are.
    Chat__RoomdRoomRecord **records = NULL;
    size_t count = 0;
    Chat__Assignment *storage = NULL;
    Chat__Assignment **held = NULL;
    if (self->store && rd_store_rooms(self->store, &records, &count) == RD_STORE_OK &&
        (held = s_held(records, count, &storage)) && storage) {
        req.held = held;
        req.n_held = count;
    }
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = s_req_id(self);
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER;
    env.register_ = &req;
    if (chat_wire_send(self->dealer, NULL, &env) == 0) {
        self->register_req = env.req_id;
        self->next_register = now_ms + RD_REGISTER_TIMEOUT_MS;
        chat_debug("register sent as node %s (prev instance \"%s\")", self->node,
                   req.prev_instance);
    } else {
        self->next_register = now_ms + RD_REGISTER_RETRY_MS; //  registry not connected
    }
    free(held);
    free(storage);
    rd_store_rooms_free(records, count);
}

static void s_send_heartbeat(rd_registry_link_t *self)
{
    Chat__NodeStats stats;
    rd_host_stats(self->host, &stats);
    Chat__HeartbeatRequest req = CHAT__HEARTBEAT_REQUEST__INIT;
    req.instance = self->instance;
    req.assigned_count = (uint32_t)rd_host_grant_count(self->host);
    req.stats = &stats;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = s_req_id(self);
    env.body_case = CHAT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &req;
    chat_wire_send(self->dealer, NULL, &env); //  EAGAIN: registry away; next beat will do
}

int64_t rd_registry_link_timers(rd_registry_link_t *self, int64_t now_ms)
{
    if (self->superseded)
        return now_ms + 60000;
    if (!self->heard_ms)
        self->heard_ms = now_ms;
    if (self->follow && now_ms - self->heard_ms > 2 * self->heartbeat_ms + self->heartbeat_ms / 2)
        s_retarget(self, NULL, now_ms);
    if (self->need_register) {
        if (now_ms >= self->next_register)
            s_send_register(self, now_ms);
        return self->next_register;
    }
    if (now_ms >= self->next_heartbeat) {
        s_send_heartbeat(self);
        self->next_heartbeat = now_ms + self->heartbeat_ms;
    }
    if (self->last_reply && now_ms - self->last_reply > 5 * self->heartbeat_ms &&
        !self->silent_logged) {
        chat_warn("the registry has not answered for %" PRId64 " ms; serving the %zu rooms held",
                  now_ms - self->last_reply, rd_host_grant_count(self->host));
        self->silent_logged = true;
    }
    return self->next_heartbeat;
}

static void s_on_register_reply(rd_registry_link_t *self, const Chat__Envelope *env, int64_t now_ms)
{
    const Chat__RegisterReply *reply = env->register_reply;
    if (env->req_id != self->register_req || !self->need_register) {
        chat_debug("ignored a stale register reply");
        return;
    }
    self->register_req = 0;
    if (reply->status == CHAT__STATUS__STATUS_NOT_OWNER) {
        //  A newer process of this node registered meanwhile: this one is stale.
        chat_error("instance %s was superseded by a newer process of node %s: serving nothing;"
                   " restart this roomd to take the node back",
                   self->instance ? self->instance : "(none)", self->node);
        rd_host_grant_all(self->host, NULL, 0);
        self->superseded = true;
        return;
    }
    if (reply->status != CHAT__STATUS__STATUS_OK || !reply->instance || !*reply->instance) {
        chat_warn("registry refused the registration: status %d", (int)reply->status);
        self->next_register = now_ms + RD_REGISTER_TIMEOUT_MS;
        return;
    }
    bool changed = !self->instance || strcmp(self->instance, reply->instance) != 0;
    if (changed) {
        char *instance = strdup(reply->instance);
        if (!instance)
            return;
        free(self->instance);
        self->instance = instance;
        self->changed = true;
        rd_host_set_instance(self->host, instance);
        //  A new instance holds exactly what this reply grants.
        rd_host_grant_all(self->host, reply->assignments, reply->n_assignments);
    } else {
        for (size_t i = 0; i < reply->n_assignments; i++)
            rd_host_grant(self->host, reply->assignments[i]);
    }
    if (self->heartbeat_flag_ms <= 0)
        self->heartbeat_ms =
            reply->heartbeat_ms > 0 ? reply->heartbeat_ms : RD_HEARTBEAT_DEFAULT_MS;
    self->need_register = false;
    self->heartbeat_floor = self->next_req + 1;
    self->next_heartbeat = now_ms + self->heartbeat_ms;
    chat_info("registered as %s%s with %zu rooms", self->instance, changed ? "" : " (kept)",
              rd_host_grant_count(self->host));
}

static void s_on_heartbeat_reply(rd_registry_link_t *self, const Chat__Envelope *env,
                                 int64_t now_ms)
{
    const Chat__HeartbeatReply *reply = env->heartbeat_reply;
    if (env->req_id < self->heartbeat_floor || self->need_register)
        return; //  answers a heartbeat of before the latest registration
    if (reply->status == CHAT__STATUS__STATUS_UNKNOWN_INSTANCE) {
        if (!self->need_register)
            chat_info("registry does not know instance %s: registering again", self->instance);
        self->need_register = true;
        self->next_register = now_ms;
        return;
    }
    if (reply->status != CHAT__STATUS__STATUS_OK)
        return;
    if (reply->full)
        rd_host_grant_all(self->host, reply->assignments, reply->n_assignments);
    else
        for (size_t i = 0; i < reply->n_assignments; i++)
            rd_host_grant(self->host, reply->assignments[i]);
}

//  A registry that does not lead answered: go to the leader it names, or
//  ask again shortly when it knows of none (an election is on).
static void s_on_not_leader(rd_registry_link_t *self, const Chat__ErrorReply *error, int64_t now_ms)
{
    const char *leader = error->leader_endpoint;
    if (self->follow && leader && *leader &&
        strcmp(leader, chat_registry_current(&self->registries)) != 0) {
        s_retarget(self, leader, now_ms);
        return;
    }
    if (self->need_register) {
        self->register_req = 0;
        self->next_register = now_ms + RD_NO_LEADER_RETRY_MS;
    } else {
        self->next_heartbeat = now_ms + RD_NO_LEADER_RETRY_MS;
    }
}

void rd_registry_link_handle(rd_registry_link_t *self, const Chat__Envelope *env, int64_t now_ms)
{
    if (self->silent_logged)
        chat_info("the registry answers again");
    self->last_reply = now_ms;
    self->heard_ms = now_ms;
    self->silent_logged = false;
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_REGISTER_REPLY:
        s_on_register_reply(self, env, now_ms);
        break;
    case CHAT__ENVELOPE__BODY_HEARTBEAT_REPLY:
        s_on_heartbeat_reply(self, env, now_ms);
        break;
    case CHAT__ENVELOPE__BODY_ASSIGN:
        rd_host_assign(self->host, env->req_id, env->assign);
        break;
    case CHAT__ENVELOPE__BODY_ERROR:
        if (env->error->status == CHAT__STATUS__STATUS_NOT_LEADER)
            s_on_not_leader(self, env->error, now_ms);
        else
            chat_warn("registry answered an error: status %d %s", (int)env->error->status,
                      env->error->message ? env->error->message : "");
        break;
    default:
        chat_wire_count_bad("unexpected message from the registry");
        break;
    }
}
