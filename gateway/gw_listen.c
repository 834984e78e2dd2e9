/*  gw_listen: see gw_listen.h. */
#define _GNU_SOURCE
#include "gw_listen.h"
#include "chat_log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Connections the kernel keeps waiting for accept (it caps this at
//  net.core.somaxconn).
#define S_BACKLOG 4096
//  Pause after the process ran out of file descriptors.
#define S_PAUSE_US 100000

struct gw_listen {
    int fd;                        //  the listening socket (lws's once adopted)
    int port;                      //  its port
    struct lws *wsi;               //  its lws handle once adopted
    struct lws_vhost *vhost;       //  where accepted connections go
    lws_sorted_usec_list_t resume; //  accepting again after a pause
    bool paused;                   //  out of descriptors: not accepting for a while
};

static chat_log_limit_t s_log_accept;

//  A socket bound to ai and listening, or -1.
static int s_bind(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, S_BACKLOG) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

gw_listen_t *gw_listen_new(const char *address, long port)
{
    char service[16];
    snprintf(service, sizeof service, "%ld", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    const char *node = address && *address ? address : NULL;
    //  Every interface: IPv6 (which takes IPv4 too) first, then IPv4 alone.
    hints.ai_family = node ? AF_UNSPEC : AF_INET6;
    int rc = getaddrinfo(node, service, &hints, &list);
    if (rc != 0 && !node) {
        hints.ai_family = AF_INET;
        rc = getaddrinfo(node, service, &hints, &list);
    }
    if (rc != 0) {
        chat_error("cannot listen on %s port %ld: %s", node ? node : "*", port, gai_strerror(rc));
        return NULL;
    }
    int fd = -1;
    for (const struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next)
        fd = s_bind(ai);
    freeaddrinfo(list);
    if (fd < 0 && !node) {
        struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        struct addrinfo v4 = {.ai_family = AF_INET,
                              .ai_socktype = SOCK_STREAM,
                              .ai_addr = (struct sockaddr *)&any,
                              .ai_addrlen = sizeof any};
        fd = s_bind(&v4);
    }
    if (fd < 0) {
        chat_error("cannot listen on %s port %ld: %s", node ? node : "*", port, strerror(errno));
        return NULL;
    }
    gw_listen_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->fd = fd;
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0)
        self->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                       : ((struct sockaddr_in *)&bound)->sin_port);
    return self;
}

void gw_listen_destroy(gw_listen_t **p)
{
    if (!p || !*p)
        return;
    gw_listen_t *self = *p;
    if (self->paused)
        lws_sul_cancel(&self->resume);
    if (!self->wsi && self->fd >= 0)
        close(self->fd); //  once adopted, lws closes it
    free(self);
    *p = NULL;
}

int gw_listen_port(const gw_listen_t *self)
{
    return self->port;
}

int gw_listen_adopt(gw_t *gw, struct lws_vhost *vhost, const char *protocol)
{
    gw_listen_t *self = gw->listener;
    lws_sock_file_fd_type desc;
    desc.filefd = self->fd;
    self->vhost = vhost;
    self->wsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, desc, protocol, NULL);
    if (!self->wsi) {
        chat_error("cannot adopt the listening socket");
        return -1;
    }
    lws_set_opaque_user_data(self->wsi, gw);
    return 0;
}

static void s_resume(lws_sorted_usec_list_t *sul)
{
    gw_listen_t *self = lws_container_of(sul, gw_listen_t, resume);
    self->paused = false;
    lws_rx_flow_control(self->wsi, 1);
}

//  Accepts up to burst waiting connections and hands them to lws.
static void s_accept(gw_t *gw, gw_listen_t *self)
{
    for (long n = 0; n < gw->config.accept_burst; n++) {
        int fd = accept4(self->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                //  The socket stays readable: stop polling it for a while.
                chat_log_limited(&s_log_accept, CHAT_LOG_WARN, "accept: %s: pausing",
                                 strerror(errno));
                self->paused = true;
                lws_rx_flow_control(self->wsi, 0);
                lws_sul_schedule(gw->context, 0, &self->resume, s_resume, S_PAUSE_US);
            }
            return; //  EAGAIN: none left
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!lws_adopt_socket_vhost(self->vhost, fd))
            chat_log_limited(&s_log_accept, CHAT_LOG_WARN, "lws refused a new connection");
    }
}

int gw_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    gw_t *gw = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (gw && !gw->destroying && gw->listener && !gw->listener->paused)
            s_accept(gw, gw->listener);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; //  never a WebSocket subprotocol
    default:
        return 0;
    }
}
