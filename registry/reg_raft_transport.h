/*  reg_raft_transport: libraft's TCP transport, with host names.
 *
 *  libraft 0.15's raft_uv_tcp parses a server address with uv_ip4_addr, so
 *  "registry-2:5557" cannot be connected to, and a configuration made of
 *  IP addresses breaks when a container comes back with another IP. This
 *  transport wraps raft_uv_tcp and resolves the host of every address it
 *  connects to (each connection attempt resolves again); dotted IPv4
 *  addresses pass through. Resolution uses getaddrinfo on the loop's
 *  thread: a few milliseconds with a working resolver.
 */
#ifndef REG_RAFT_TRANSPORT_H
#define REG_RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>

typedef struct {
    struct raft_uv_transport outer;      //  what raft_uv_init is given (first member)
    struct raft_uv_transport inner;      //  raft_uv_tcp, which does the work
    raft_uv_accept_cb accept_cb;         //  raft_uv's accept callback
    raft_uv_transport_close_cb close_cb; //  raft_uv's close callback
} reg_raft_transport_t;

//  Sets up t on loop, listening on bind ("host:port", resolved once).
//  Returns 0 or a
//  RAFT_* code; on success release it with reg_raft_transport_close once
//  raft_uv is closed.
int reg_raft_transport_init(reg_raft_transport_t *t, struct uv_loop_s *loop, const char *bind);

//  Frees what reg_raft_transport_init allocated.
void reg_raft_transport_close(reg_raft_transport_t *t);

//  Writes "a.b.c.d:port" for "host:port" into out. Returns 0, or -1 when
//  the address has no port or the host does not resolve to IPv4.
int reg_raft_transport_resolve(const char *address, char *out, size_t size);

#endif
