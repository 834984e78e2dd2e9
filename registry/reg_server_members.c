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

//  This registry's endpoints when --peers does not name it: the advertised
//  host (--advertise-host, else the --bind host, else the hostname) with
//  the ports it binds.
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
    const char *bind_port = strrchr(self->config.bind, ':');
    const char *pub_port = strrchr(self->config.pub_bind, ':');
    char address[CHAT_ENDPOINT_MAX];
    snprintf(address, sizeof address, "%s%s", host, bind_port ? bind_port : ":");
    if (reg_peer_make(me, (uint64_t)self->config.id, address) != 0) {
        chat_error("--bind %s: no port to advertise", self->config.bind);
        return -1;
    }
    if (pub_port)
        snprintf(me->pub_endpoint, sizeof me->pub_endpoint, "tcp://%s%s", host, pub_port);
    const char *raft_port = *self->config.raft_bind ? strrchr(self->config.raft_bind, ':') : NULL;
    if (raft_port)
        snprintf(me->raft_address, sizeof me->raft_address, "%s%s", host, raft_port);
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

//  Starts the Raft side of p's change; on a refusal answers and frees p.
static void s_raft_change(reg_server_t *self, reg_proposal_t *p)
{
    int rv = p->kind == REG_P_ADD
                 ? reg_raft_add(self->raft, p->member_id, p->member_address, reg_server_done, p)
                 : reg_raft_remove(self->raft, p->member_id, reg_server_done, p);
    if (rv == 0)
        return;
    char why[300];
    snprintf(why, sizeof why, "Raft refused the change: %s", reg_raft_errmsg(self->raft));
    s_change_reply(self, &p->peer, p->req_id, CHAT__STATUS__STATUS_UNAVAILABLE, why);
    reg_proposal_free(&p);
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
    if (reg_raft_member_address(self->raft, m->id)) {
        s_change_reply(self, peer, req_id, CHAT__STATUS__STATUS_BAD_REQUEST,
                       "that id is a member already");
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
    reg_server_propose(self, &cmd, p);
}

static void s_on_remove(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id, uint64_t id)
{
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
    reg_server_propose(self, &cmd, p);
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
        s_change_reply(self, &p->peer, p->req_id, CHAT__STATUS__STATUS_UNAVAILABLE, why);
        reg_proposal_free(&p);
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
        s_change_reply(self, &p->peer, p->req_id, CHAT__STATUS__STATUS_OK, NULL);
        reg_proposal_free(&p);
    }
}
