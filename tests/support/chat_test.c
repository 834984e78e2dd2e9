/*  chat_test: see chat_test.h. */
#define _GNU_SOURCE
#include "chat_test.h"
#include "chat_clock.h"
#include "chat_wire.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

struct chat_proc {
    pid_t pid;       //  child's pid
    bool exited;     //  waitpid has reaped it
    int status;      //  its wait status once exited
    char log[512];   //  path of its log file
    char ready[512]; //  path of its ready file (CHAT_READY_FILE)
};

#define S_LOGS_MAX 64

//  Logs of the processes this test (this process) started, for failure reports.
static char s_logs[S_LOGS_MAX][512];
static int s_log_count;
static bool s_logs_dumped;

static void s_remember_log(const char *log)
{
    for (int i = 0; i < s_log_count; i++)
        if (strcmp(s_logs[i], log) == 0)
            return;
    if (s_log_count < S_LOGS_MAX)
        snprintf(s_logs[s_log_count++], sizeof s_logs[0], "%s", log);
}

//  Prints the last `max` bytes of a log file, from a line start.
static void s_dump_file(const char *path, long max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > max ? size - max : 0;
    fseek(f, from, SEEK_SET);
    if (from > 0)
        for (int c = fgetc(f); c != EOF && c != '\n'; c = fgetc(f))
            ;
    fprintf(stderr, "---- last lines of %s ----\n", path);
    char buf[1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

void chat_test_dump_logs(void)
{
    for (int i = 0; i < s_log_count; i++)
        s_dump_file(s_logs[i], 3000);
}

//  Every Criterion assertion of a test linked with chat_test_support goes
//  through here (-Wl,--wrap=criterion_send_assert, tests/CMakeLists.txt): the
//  first failure prints the processes' logs while they still exist.
void __real_criterion_send_assert(struct criterion_assert_stats *stats);
void __wrap_criterion_send_assert(struct criterion_assert_stats *stats);
void __wrap_criterion_send_assert(struct criterion_assert_stats *stats)
{
    __real_criterion_send_assert(stats);
    if (!stats->passed && !s_logs_dumped && s_log_count > 0) {
        s_logs_dumped = true;
        fprintf(stderr, "%s:%u: failed: %s\n", stats->file, stats->line,
                stats->message ? stats->message : "");
        chat_test_dump_logs();
    }
}

chat_proc_t *chat_proc_start(const char *program, const char *const *args, const char *dir,
                             const char *label)
{
    chat_proc_t *proc = calloc(1, sizeof *proc);
    snprintf(proc->log, sizeof proc->log, "%s/%s.log", dir, label);
    snprintf(proc->ready, sizeof proc->ready, "%s/%s.ready", dir, label);
    unlink(proc->ready);
    s_remember_log(proc->log);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CHAT_BIN_DIR, program);

    const char *argv[64];
    int argc = 0;
    argv[argc++] = path;
    for (int i = 0; args && args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(proc);
        return NULL;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(proc->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        setenv("CHAT_READY_FILE", proc->ready, 1);
        execv(path, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    proc->pid = pid;
    return proc;
}

pid_t chat_proc_pid(const chat_proc_t *proc)
{
    return proc->pid;
}

static bool s_reap(chat_proc_t *proc, int timeout_ms)
{
    int64_t deadline = chat_mono_ms() + timeout_ms;
    while (!proc->exited) {
        pid_t r = waitpid(proc->pid, &proc->status, WNOHANG);
        if (r == proc->pid || (r < 0 && errno == ECHILD)) {
            proc->exited = true;
            break;
        }
        if (chat_mono_ms() >= deadline)
            break;
        chat_sleep_ms(10);
    }
    return proc->exited;
}

bool chat_proc_alive(chat_proc_t *proc)
{
    return !s_reap(proc, 0);
}

int chat_proc_signal(chat_proc_t *proc, int sig, int timeout_ms)
{
    if (!proc->exited)
        kill(proc->pid, sig);
    return s_reap(proc, timeout_ms) ? proc->status : -1;
}

int chat_proc_stop(chat_proc_t **proc_p)
{
    if (!proc_p || !*proc_p)
        return 0;
    chat_proc_t *proc = *proc_p;
    int status = chat_proc_signal(proc, SIGTERM, 5000);
    if (status == -1)
        status = chat_proc_signal(proc, SIGKILL, 5000);
    free(proc);
    *proc_p = NULL;
    return status;
}

bool chat_proc_stop_clean(chat_proc_t **proc_p)
{
    if (!proc_p || !*proc_p)
        return true;
    chat_proc_t *proc = *proc_p;
    bool was_alive = chat_proc_alive(proc);
    char log[sizeof proc->log];
    memcpy(log, proc->log, sizeof log);
    int status = chat_proc_stop(proc_p);
    bool clean = was_alive && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean) {
        chat_proc_t copy = {.log = ""};
        memcpy(copy.log, log, sizeof log);
        fprintf(stderr, "process did not exit cleanly (alive before stop: %d, status 0x%x)\n",
                was_alive, status);
        chat_proc_dump_log(&copy);
    }
    return clean;
}

void chat_proc_dump_log(const chat_proc_t *proc)
{
    s_dump_file(proc->log, 4000);
}

bool chat_proc_wait_ready(chat_proc_t *proc, int timeout_ms)
{
    int64_t start = chat_mono_ms();
    while (access(proc->ready, F_OK) != 0) {
        bool alive = chat_proc_alive(proc);
        if (!alive || chat_mono_ms() - start >= timeout_ms) {
            fprintf(stderr,
                    "expected the ready file %s within %d ms; got none after %lld ms, the "
                    "process %s (status 0x%x)\n",
                    proc->ready, timeout_ms, (long long)(chat_mono_ms() - start),
                    alive ? "still runs" : "exited", alive ? 0 : proc->status);
            chat_proc_dump_log(proc);
            return false;
        }
        chat_sleep_ms(10);
    }
    return true;
}

bool chat_proc_ready_value(const chat_proc_t *proc, const char *key, char *out, size_t size)
{
    FILE *f = fopen(proc->ready, "r");
    if (!f)
        return false;
    char line[600];
    bool found = false;
    size_t klen = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            snprintf(out, size, "%s", line + klen + 1);
            found = true;
        }
    }
    fclose(f);
    return found;
}

int chat_proc_ready_port(const chat_proc_t *proc, const char *key)
{
    char value[600];
    if (!chat_proc_ready_value(proc, key, value, sizeof value))
        return -1;
    const char *colon = strrchr(value, ':');
    return atoi(colon ? colon + 1 : value);
}

int chat_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int chat_bind_free(void *sock)
{
    void *raw = zsock_resolve(sock);
    char endpoint[256];
    size_t len = sizeof endpoint;
    if (zmq_bind(raw, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(raw, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0)
        return -1;
    const char *colon = strrchr(endpoint, ':');
    return colon ? atoi(colon + 1) : -1;
}

//  True when port on 127.0.0.1 can be bound now.
static bool s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
              bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int chat_free_ports(int count)
{
    //  Below the ephemeral range (32768..): the ports next to an ephemeral
    //  one are often the local ports of connections in TIME_WAIT, which a
    //  bind cannot take.
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)chat_mono_ms();
    for (int attempt = 0; attempt < 1000; attempt++) {
        int base = 20000 + (int)(rand_r(&seed) % (12000u - (unsigned)count));
        bool all = true;
        for (int i = 0; i < count && all; i++)
            all = s_port_free(base + i);
        if (all)
            return base;
    }
    return -1;
}

const char *chat_tcp(int port)
{
    static char ring[16][64];
    static int next;
    char *buf = ring[next++ % 16];
    snprintf(buf, 64, "tcp://127.0.0.1:%d", port);
    return buf;
}

char *chat_temp_dir(const char *tag)
{
    char *path = NULL;
    if (asprintf(&path, "/tmp/chat-test-%s-XXXXXX", tag) < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void chat_remove_tree(const char *path)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0)
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

bool chat_wait_for(const char *endpoint, Chat__Envelope *request,
                   bool (*ready)(const Chat__Envelope *reply, void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = chat_mono_ms() + timeout_ms;
    while (chat_mono_ms() < deadline) {
        int64_t left = deadline - chat_mono_ms();
        Chat__Envelope *reply = chat_request(endpoint, request, left < 500 ? (int)left : 500);
        bool ok = reply && ready(reply, arg);
        chat_envelope_free(&reply);
        if (ok)
            return true;
        chat_sleep_ms(50);
    }
    return false;
}

void chat_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
