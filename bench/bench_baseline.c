/*  bench_baseline: see bench_baseline.h. */
#define _GNU_SOURCE
#include "bench_baseline.h"
#include "chat_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// ------------------------------------------------------------- fan-out

//  Connects count client sockets to a fresh listener on loopback and
//  accepts them. Returns 0 with both arrays filled, or -1.
static int s_connect_pairs(size_t count, int *clients, int *servers)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 4096) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        perror("baseline: listen");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (clients[i] < 0 || connect(clients[i], (struct sockaddr *)&addr, sizeof addr) != 0) {
            perror("baseline: connect");
            return -1;
        }
        servers[i] = accept(listener, NULL, NULL);
        if (servers[i] < 0) {
            perror("baseline: accept");
            return -1;
        }
        int one = 1;
        setsockopt(servers[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    close(listener);
    return 0;
}

//  Writes all of frame to fd with one write() when the socket has room;
//  waits for room (the reader is draining) when it does not.
static int s_write_frame(int fd, const void *frame, size_t len)
{
    const char *p = frame;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            poll(&pfd, 1, 1000);
        } else {
            return -1;
        }
    }
    return 0;
}

static void s_writer(size_t count, const int *servers, uint64_t messages, const void *frame,
                     size_t len, int ready_fd)
{
    for (size_t i = 0; i < count; i++)
        fcntl(servers[i], F_SETFL, O_NONBLOCK);
    char go = 1;
    if (write(ready_fd, &go, 1) != 1)
        _exit(2);
    for (uint64_t m = 0; m < messages; m++)
        for (size_t i = 0; i < count; i++)
            if (s_write_frame(servers[i], frame, len) != 0)
                _exit(1);
    _exit(0);
}

//  Reads from every client until expected bytes arrived in total.
static int s_drain(size_t count, const int *clients, uint64_t expected)
{
    int ep = epoll_create1(0);
    for (size_t i = 0; i < count; i++) {
        fcntl(clients[i], F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, clients[i], &ev);
    }
    static char buf[1 << 16];
    uint64_t got = 0;
    struct epoll_event events[256];
    while (got < expected) {
        int n = epoll_wait(ep, events, 256, 10000);
        if (n <= 0) {
            fprintf(stderr, "baseline: the writer stalled (%lu of %lu bytes)\n", (unsigned long)got,
                    (unsigned long)expected);
            close(ep);
            return -1;
        }
        for (int e = 0; e < n; e++) {
            ssize_t r;
            while ((r = read(clients[events[e].data.u64], buf, sizeof buf)) > 0)
                got += (uint64_t)r;
        }
    }
    close(ep);
    return 0;
}

int bench_baseline_fanout(size_t sockets, uint64_t messages, const void *frame, size_t frame_len,
                          bench_rate_t *out)
{
    int *clients = calloc(sockets, sizeof *clients);
    int *servers = calloc(sockets, sizeof *servers);
    int ready[2] = {-1, -1};
    int rc = -1;
    pid_t pid = -1;
    if (s_connect_pairs(sockets, clients, servers) != 0 || pipe(ready) != 0)
        goto done;
    pid = fork();
    if (pid == 0) {
        for (size_t i = 0; i < sockets; i++)
            close(clients[i]);
        s_writer(sockets, servers, messages, frame, frame_len, ready[1]);
    }
    for (size_t i = 0; i < sockets; i++)
        close(servers[i]);
    char go;
    if (pid < 0 || read(ready[0], &go, 1) != 1)
        goto done;
    int64_t start = chat_mono_us();
    if (s_drain(sockets, clients, messages * sockets * frame_len) == 0) {
        double seconds = (double)(chat_mono_us() - start) / 1e6;
        out->items = messages * sockets;
        out->seconds = seconds;
        out->per_second = (double)out->items / seconds;
        rc = 0;
    }
done:
    if (pid > 0) {
        if (rc != 0)
            kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    for (size_t i = 0; i < sockets; i++)
        if (clients[i] > 0)
            close(clients[i]);
    if (ready[0] >= 0) {
        close(ready[0]);
        close(ready[1]);
    }
    free(clients);
    free(servers);
    return rc;
}

// -------------------------------------------------------------- ingest

int bench_baseline_ingest(const char *dir, uint64_t messages, size_t message_len, size_t rooms,
                          size_t batch, bench_rate_t *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/chat-bench-ingest-%d", dir, (int)getpid());
    if (mkdir(path, 0700) != 0) {
        fprintf(stderr, "baseline: mkdir %s: %s\n", path, strerror(errno));
        return -1;
    }
    MDB_env *env = NULL;
    MDB_dbi dbi;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&env);
    if (!rc)
        rc = mdb_env_set_mapsize(env, (size_t)4 << 30);
    if (!rc)
        rc = mdb_env_open(env, path, 0, 0600);
    if (!rc)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (!rc)
        rc = mdb_txn_commit(txn);
    char *value = malloc(message_len);
    memset(value, 'x', message_len);
    uint64_t *seqs = calloc(rooms, sizeof *seqs);
    int64_t start = chat_mono_us();
    for (uint64_t done = 0; !rc && done < messages;) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
        for (size_t i = 0; !rc && i < batch && done < messages; i++, done++) {
            //  Keys as roomd makes them: room id, NUL, big-endian seq.
            char key[32];
            size_t room = done % rooms;
            int n = snprintf(key, sizeof key, "room-%zu", room);
            key[n] = '\0';
            uint64_t seq = ++seqs[room];
            for (int b = 0; b < 8; b++)
                key[n + 1 + b] = (char)(seq >> (56 - 8 * b));
            MDB_val k = {(size_t)n + 9, key}, v = {message_len, value};
            rc = mdb_put(txn, dbi, &k, &v, 0);
        }
        if (!rc)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    double seconds = (double)(chat_mono_us() - start) / 1e6;
    if (rc)
        fprintf(stderr, "baseline: lmdb: %s\n", mdb_strerror(rc));
    if (env)
        mdb_env_close(env);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "baseline: could not remove %s\n", path);
    free(value);
    free(seqs);
    if (rc)
        return -1;
    out->items = messages;
    out->seconds = seconds;
    out->per_second = (double)messages / seconds;
    return 0;
}
