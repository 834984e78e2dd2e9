/*  reg_server members: the quorum itself. Every registry answers
 *  RegistryStatus about itself. The leader adds and removes registries
 *  (libraft's configuration changes) and keeps the table of their
 *  endpoints (MemberCommand), from which a registry that does not lead
 *  names the leader's endpoint (see reg_server_internal.h). */
#include "chat_log.h"
#include "reg_server_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ------------------------------------------------------------ configuration

//  The host of a bound endpoint when it is a concrete one ("tcp://h:p"),
//  else "" (for * and 0.0.0.0).
static void s_bound_host(const char *endpoint, char *out, size_t size)
{
    const char *start = strstr(endpoint, "://");
    start = start ? start + 3 : endpoint;
    const char *colon = strrchr(start, ':');
    size_t len = colon ? (size_t)(colon - start) : 0;
    out[0] = '\0';
    if (len == 0 || len >= size || (len == 1 && *start == '*') ||
        (len == 7 && strncmp(start, "0.0.0.0", 7) == 0))
        return;
    memcpy(out, start, len);
    out[len] = '\0';
}

//  A bound endpoint as others reach it: tcp://*:p and tcp://0.0.0.0:p
//  become tcp://host:p; anything else (a concrete host, inproc://) stays.
static void s_advertised(const char *bound, const char *host, char *out, size_t size)
{
    const char *wild[] = {"tcp://*:", "tcp://0.0.0.0:"};
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(wild[i]);
        if (strncmp(bound, wild[i], len) == 0) {
            snprintf(out, size, "tcp://%s:%s", host, bound + len);
            return;
        }
    }
    snprintf(out, size, "%s", bound);
}

//  The port of "host:port" or "scheme://host:port", or NULL.
static const char *s_port_of(const char *endpoint)
{
    const char *colon = strrchr(endpoint, ':');
    if (!colon || !colon[1] || colon[1] == '/')
        return NULL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return NULL;
    return colon + 1;
}

//  This registry's endpoints when --peers does not name it: its binds as
//  others reach them (the host: --advertise-host, else the --bind host,
//  else the hostname); Raft on the --raft-bind port, else --bind's + 2.
static int s_own_endpoints(reg_server_t *self)
{
    reg_peer_t *me = &self->self_member;
    char host[200] = "";
    if (*self->config.advertise)
        snprintf(host, sizeof host, "%s", self->config.advertise);
    else
        s_bound_host(self->config.bind, host, sizeof host);
    if (!*host && (gethostname(host, sizeof host) != 0 || !*host))
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    memset(me, 0, sizeof *me);
    me->id = (uint64_t)self->config.id;
    s_advertised(self->config.bind, host, me->endpoint, sizeof me->endpoint);
    s_advertised(self->config.pub_bind, host, me->pub_endpoint, sizeof me->pub_endpoint);
    const char *raft_port = s_port_of(self->config.raft_bind);
    const char *bind_port = s_port_of(self->config.bind);
    if (raft_port) {
        snprintf(me->raft_address, sizeof me->raft_address, "%s:%s", host, raft_port);
    } else if (bind_port) {
        snprintf(me->raft_address, sizeof me->raft_address, "%s:%ld", host,
                 strtol(bind_port, NULL, 10) + 2);
    } else {
        chat_error("--bind %s has no port to derive the Raft port from: give --raft-bind",
                   self->config.bind);
        return -1;
    }
    return 0;
}

int reg_members_configure(reg_server_t *self)
{
    const char *why = NULL;
    int n = reg_peers_parse(self->config.peers, self->peers, &why);
    if (n < 0) {
        chat_error("--peers %s: %s", self->config.peers, why);
        return -1;
    }
    self->n_peers = (size_t)n;
    for (size_t i = 0; i < self->n_peers; i++) {
        if (self->peers[i].id == (uint64_t)self->config.id) {
            self->self_member = self->peers[i];
            return 0;
        }
    }
    if (self->n_peers > 0 && !self->config.join) {
        chat_error("--id %ld is not in --peers %s", self->config.id, self->config.peers);
        return -1;
    }
    return s_own_endpoints(self);
}

const char *reg_members_endpoint(reg_server_t *self, uint64_t id)
{
    const reg_member_t *m = reg_state_member(self->state, id);
    if (m && *m->endpoint)
        return m->endpoint;
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].id == id)
            return self->peers[i].endpoint;
    return id == self->self_member.id ? self->self_member.endpoint : NULL;
}

// ------------------------------------------------------------ the table

static void s_member_record(const reg_peer_t *peer, Chat__RegistryMember *rec)
{
    chat__registry_member__init(rec);
    rec->id = peer->id;
    rec->endpoint = (char *)peer->endpoint;
    rec->pub_endpoint = (char *)peer->pub_endpoint;
    rec->raft_address = (char *)peer->raft_address;
}

//  Proposes peer's endpoints for the table unless it has them already.
static void s_propose_member(reg_server_t *self, const reg_peer_t *peer)
{
    const reg_member_t *m = reg_state_member(self->state, peer->id);
    if (m && strcmp(m->endpoint, peer->endpoint) == 0 &&
        strcmp(m->pub_endpoint, peer->pub_endpoint) == 0 &&
        strcmp(m->raft_address, peer->raft_address) == 0)
        return;
    Chat__RegistryMember rec;
    s_member_record(peer, &rec);
    Chat__MemberCommand body = CHAT__MEMBER_COMMAND__INIT;
    body.member = &rec;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_MEMBER;
    cmd.member = &body;
    reg_server_propose(self, &cmd, reg_proposal_new(self, REG_P_MEMBER, NULL, 0));
}

void reg_members_refresh(reg_server_t *self)
{
    s_propose_member(self, &self->self_member);
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].id != self->self_member.id &&
            !reg_state_member(self->state, self->peers[i].id) &&
            reg_raft_member_address(self->raft, self->peers[i].id))
            s_propose_member(self, &self->peers[i]);
}

// ------------------------------------------------------------ status

void reg_members_on_status(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    reg_raft_status_t st;
    reg_raft_status(self->raft, &st);
    size_t count = reg_raft_member_count(self->raft);
    Chat__RegistryMember *members = calloc(count + 1, sizeof *members);
    Chat__RegistryMember **list = calloc(count + 1, sizeof *list);
    for (size_t i = 0; i < count; i++) {
        reg_raft_member_t rm = reg_raft_member_at(self->raft, i);
        const reg_member_t *known = reg_state_member(self->state, rm.id);
        const char *endpoint = reg_members_endpoint(self, rm.id);
        chat__registry_member__init(&members[i]);
        members[i].id = rm.id;
        members[i].raft_address = (char *)rm.address;
        members[i].voter = rm.voter;
        members[i].endpoint = (char *)(endpoint ? endpoint : "");
        members[i].pub_endpoint = (char *)(known ? known->pub_endpoint : "");
        list[i] = &members[i];
    }
    Chat__RegistryStatusReply reply = CHAT__REGISTRY_STATUS_REPLY__INIT;
    reply.id = (uint64_t)self->config.id;
    reply.role = (char *)reg_raft_role_name(st.role);
    reply.term = st.term;
    reply.leader_id = st.leader_id;
    reply.applied_index = reg_fsm_applied(self->fsm);
    reply.commit_index = st.commit;
    reply.last_index = st.last;
    reply.members = list;
    reply.n_members = count;
    reply.ready = self->leading;
    reply.endpoint = self->self_member.endpoint;
    Chat__Envelope out;
    REG_ENVELOPE(out, env->req_id, REGISTRY_STATUS_REPLY, registry_status_reply, &reply);
    reg_server_send(self, peer, &out);
    free(members);
    free(list);
}

// ------------------------------------------------------------ changes

static void s_change_reply(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                           Chat__Status status, const char *message)
{
    Chat__RegistryMemberReply reply = CHAT__REGISTRY_MEMBER_REPLY__INIT;
    reply.status = status;
    reply.message = (char *)(message ? message : "");
    Chat__Envelope out;
    REG_ENVELOPE(out, req_id, REGISTRY_MEMBER_REPLY, registry_member_reply, &reply);
    reg_server_send(self, peer, &out);
}

//  Ends the change in flight: answers whoever asked for it (a resend of
//  the request waits on the first), frees p.
static void s_change_done(reg_server_t *self, reg_proposal_t *p, Chat__Status status,
                          const char *message)
{
    s_change_reply(self, &p->peer, p->req_id, status, message);
    for (reg_waiter_t *w = p->also ? zlistx_first(p->also) : NULL; w; w = zlistx_next(p->also))
        s_change_reply(self, &w->peer, w->req_id, status, message);
    if (self->member_change == p)
        self->member_change = NULL;
    reg_proposal_free(&p);
}

//  Starts the Raft side of p's change; on a refusal answers and frees p.
static void s_raft_change(reg_server_t *self, reg_proposal_t *p)
{
    int rv;
    if (p->kind == REG_P_REMOVE)
        rv = reg_raft_remove(self->raft, p->member_id, reg_server_done, p);
    else if (reg_raft_member_address(self->raft, p->member_id)) //  added as a spare before
        rv = reg_raft_promote(self->raft, p->member_id, reg_server_done, p);
    else
        rv = reg_raft_add(self->raft, p->member_id, p->member_address, reg_server_done, p);
    if (rv == 0)
        return;
    char why[300];
    snprintf(why, sizeof why, "Raft refused the change: %s", reg_raft_errmsg(self->raft));
    s_change_done(self, p, CHAT__STATUS__STATUS_UNAVAILABLE, why);
}

//  A request for the change in flight (a resend) waits for it. Returns
//  true when it did; false when no change is in flight.
static bool s_join_change(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                          reg_proposal_kind_t kind, uint64_t id)
{
    reg_proposal_t *p = self->member_change;
    if (!p)
        return false;
    if (p->kind != kind || p->member_id != id) {
        s_change_reply(self, peer, req_id, CHAT__STATUS__STATUS_UNAVAILABLE,
                       "another change of the quorum is in progress: ask again");
        return true;
    }
    reg_waiter_t *w = calloc(1, sizeof *w);
    w->peer = *peer;
    w->req_id = req_id;
    if (!p->also)
        p->also = zlistx_new();
    zlistx_add_end(p->also, w);
    return true;
}

//  True when server id votes in the configuration.
static bool s_votes(reg_server_t *self, uint64_t id)
{
    for (size_t i = 0; i < reg_raft_member_count(self->raft); i++) {
        reg_raft_member_t m = reg_raft_member_at(self->raft, i);
        if (m.id == id)
            return m.voter;
    }
    return false;
}

static void s_on_add(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                     const Chat__RegistryMember *m)
{
    if (m->id == 0 || !m->endpoint || !strstr(m->endpoint, "://") || !m->raft_address ||
        !strchr(m->raft_address, ':')) {
        s_change_reply(self, peer, req_id, CHAT__STATUS__STATUS_BAD_REQUEST,
                       "a registry needs an id > 0, an endpoint and a Raft address");
        return;
    }
    if (s_join_change(self, peer, req_id, REG_P_ADD, m->id))
        return;
    const char *address = reg_raft_member_address(self->raft, m->id);
    if (address && strcmp(address, m->raft_address) != 0) {
        s_change_reply(self, peer, req_id, CHAT__STATUS__STATUS_BAD_REQUEST,
                       "that id is a member already, at another Raft address");
        return;
    }
    if (address && s_votes(self, m->id)) {
        s_change_reply(self, peer, req_id, CHAT__STATUS__STATUS_OK, "a voter already");
        return;
    }
    reg_peer_t peer_rec = {.id = m->id};
    snprintf(peer_rec.endpoint, sizeof peer_rec.endpoint, "%s", m->endpoint);
    snprintf(peer_rec.pub_endpoint, sizeof peer_rec.pub_endpoint, "%s",
             m->pub_endpoint ? m->pub_endpoint : "");
    snprintf(peer_rec.raft_address, sizeof peer_rec.raft_address, "%s", m->raft_address);
    //  The table first: once the new registry votes, NOT_LEADER answers can name it.
    Chat__RegistryMember rec;
    s_member_record(&peer_rec, &rec);
    Chat__MemberCommand body = CHAT__MEMBER_COMMAND__INIT;
    body.member = &rec;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_MEMBER;
    cmd.member = &body;
    reg_proposal_t *p = reg_proposal_new(self, REG_P_ADD, peer, req_id);
    p->member_id = m->id;
    p->member_address = strdup(m->raft_address);
    chat_info("adding registry %" PRIu64 " (%s, Raft %s)", m->id, m->endpoint, m->raft_address);
    self->member_change = p;
    if (reg_server_propose(self, &cmd, p) != 0)
        self->member_change = NULL; //  answered and freed
}

static void s_on_remove(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id, uint64_t id)
{
    if (s_join_change(self, peer, req_id, REG_P_REMOVE, id))
        return;
    if (!reg_raft_member_address(self->raft, id)) {
        s_change_reply(self, peer, req_id, CHAT__STATUS__STATUS_NOT_FOUND,
                       "no registry with that id");
        return;
    }
    if (id == (uint64_t)self->config.id) {
        //  A leader hands over before it is removed; the client asks again
        //  and the next leader removes this one.
        int rv = reg_raft_transfer(self->raft, 0);
        chat_info("asked to remove myself: handing leadership over (%s)",
                  rv == 0 ? "started" : reg_raft_errmsg(self->raft));
        reg_server_not_leader(self, peer, req_id);
        return;
    }
    reg_proposal_t *p = reg_proposal_new(self, REG_P_REMOVE, peer, req_id);
    p->member_id = id;
    chat_info("removing registry %" PRIu64, id);
    self->member_change = p;
    s_raft_change(self, p);
}

void reg_members_on_change(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    const Chat__RegistryMemberRequest *req = env->registry_member;
    if (req->remove)
        s_on_remove(self, peer, env->req_id, req->member->id);
    else
        s_on_add(self, peer, env->req_id, req->member);
}

//  The table forgets a removed registry.
static void s_forget(reg_server_t *self, reg_proposal_t *p)
{
    Chat__RegistryMember rec = CHAT__REGISTRY_MEMBER__INIT;
    rec.id = p->member_id;
    Chat__MemberCommand body = CHAT__MEMBER_COMMAND__INIT;
    body.member = &rec;
    body.remove = true;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_MEMBER;
    cmd.member = &body;
    if (reg_server_propose(self, &cmd, p) != 0 && self->member_change == p)
        self->member_change = NULL; //  answered and freed
}

void reg_members_changed(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o)
{
    if (p->kind == REG_P_MEMBER || !p->has_peer) {
        reg_proposal_free(&p);
        return;
    }
    if (o->status != 0) {
        char why[300];
        snprintf(why, sizeof why, "%s", o->error ? o->error : "failed");
        chat_warn("registry %s of %" PRIu64 " failed: %s",
                  p->kind == REG_P_ADD ? "addition" : "removal", p->member_id, why);
        s_change_done(self, p, CHAT__STATUS__STATUS_UNAVAILABLE, why);
        return;
    }
    p->step++;
    //  add: table written (1), then voter (2); remove: out of Raft (1), then table (2).
    if (p->step == 1 && p->kind == REG_P_ADD) {
        s_raft_change(self, p);
    } else if (p->step == 1) {
        s_forget(self, p);
    } else {
        chat_info("registry %" PRIu64 " %s", p->member_id,
                  p->kind == REG_P_ADD ? "votes now" : "was removed");
        s_change_done(self, p, CHAT__STATUS__STATUS_OK, NULL);
    }
}
