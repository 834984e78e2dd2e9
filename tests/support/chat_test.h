/*  chat_test: what integration tests need to run the real programs.
 *
 *  Processes started here die with the test process (PR_SET_PDEATHSIG), so a
 *  failed or timed-out test leaves nothing behind. Every wait has a timeout.
 *
 *  Ports: a process under test binds port 0 (tcp://127.0.0.1:*, --port 0)
 *  and reports what it got in its ready file (common/chat_ready.h), which
 *  chat_proc_start names in CHAT_READY_FILE; chat_proc_wait_ready waits for
 *  it. A port picked here and bound later by another process can be taken in
 *  between by anyone on the machine: chat_free_port is only for a port that
 *  nobody is meant to serve.
 *
 *  When an assertion fails (any cr_assert / cr_expect of a test linked with
 *  this library: chat_test_support wraps criterion_send_assert), the last
 *  lines of every log of the processes the test started are printed, once,
 *  right then, while they still exist.
 */
#ifndef CHAT_TEST_H
#define CHAT_TEST_H

#include "chat.pb-c.h"
#include "chat_request.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct chat_proc chat_proc_t;

//  Starts CHAT_BIN_DIR/<program> with args (NULL-terminated, without argv[0]).
//  stdout and stderr go to <dir>/<label>.log; CHAT_READY_FILE is
//  <dir>/<label>.ready (removed first, so that a restart's file is its own).
//  Returns NULL when fork fails.
chat_proc_t *chat_proc_start(const char *program, const char *const *args, const char *dir,
                             const char *label);

//  Waits up to timeout_ms until the process has written its ready file.
//  Returns false (after printing what it waited for and the log's tail) when
//  the process exited first or the time ran out.
bool chat_proc_wait_ready(chat_proc_t *proc, int timeout_ms);

//  The value of line `key` of the process's ready file ("bind", "pub", "cmd",
//  "instance", "port"), copied into out; false when there is none.
bool chat_proc_ready_value(const chat_proc_t *proc, const char *key, char *out, size_t size);

//  The port at the end of the ready file's value for key (an endpoint or a
//  port), or -1.
int chat_proc_ready_port(const chat_proc_t *proc, const char *key);

//  Pid of a started process.
pid_t chat_proc_pid(const chat_proc_t *proc);

//  True while the process has not exited.
bool chat_proc_alive(chat_proc_t *proc);

//  Sends sig and waits up to timeout_ms for the exit. Returns the wait status,
//  or -1 when the process is still alive after the timeout.
int chat_proc_signal(chat_proc_t *proc, int sig, int timeout_ms);

//  SIGTERM, then SIGKILL after 5 s; frees the handle and sets *proc to NULL.
//  Safe on NULL. Returns the wait status.
int chat_proc_stop(chat_proc_t **proc);

//  chat_proc_stop, then true when the process exited with status 0 (a
//  sanitizer finding or a crash gives another status); prints the log's
//  tail when it did not. Use it in teardown: cr_expect(chat_proc_stop_clean(&p)).
bool chat_proc_stop_clean(chat_proc_t **proc);

//  Prints the tail of a process's log to stderr (for failing tests).
void chat_proc_dump_log(const chat_proc_t *proc);

//  Prints the tail of every log of the processes this test started (what a
//  failing assertion does by itself, see above).
void chat_test_dump_logs(void);

//  A TCP port on 127.0.0.1 that was free a moment ago: for a port that
//  nobody serves (connections are refused). Never for a port that a process
//  binds later (see above).
int chat_free_port(void);

//  Binds a ZeroMQ socket (a zsock_t or a libzmq socket) to tcp://127.0.0.1
//  on a port the kernel chooses (libzmq's port *; CZMQ's zsock_bind with *
//  takes the lowest free port from 49152 instead, the one every other such
//  bind wants too). Returns the port, or -1.
int chat_bind_free(void *sock);

//  The first of count consecutive TCP ports on 127.0.0.1 that were all
//  free a moment ago (a registry binds PORT, PORT+1 and PORT+2), taken
//  from 20000..31999, below the ephemeral range; -1 when none is found.
int chat_free_ports(int count);

//  "tcp://127.0.0.1:<port>" in a static ring of buffers (valid for 16 calls).
const char *chat_tcp(int port);

//  A new directory under /tmp; returned string is the caller's to free.
char *chat_temp_dir(const char *tag);

//  Removes a directory tree. Safe on NULL.
void chat_remove_tree(const char *path);

//  chat_request (common/chat_request.h) sends one request and waits for its reply.

//  Calls chat_request every 50 ms until ready(reply) is true or timeout_ms
//  passes. Returns true when ready.
bool chat_wait_for(const char *endpoint, Chat__Envelope *request,
                   bool (*ready)(const Chat__Envelope *reply, void *arg), void *arg,
                   int timeout_ms);

//  Sleeps for ms milliseconds.
void chat_sleep_ms(int ms);

#endif
