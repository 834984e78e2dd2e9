/*  chat_test: what integration tests need to run the real programs.
 *
 *  Processes started here die with the test process (PR_SET_PDEATHSIG), so a
 *  failed or timed-out test leaves nothing behind. Every wait has a timeout.
 */
#ifndef CHAT_TEST_H
#define CHAT_TEST_H

#include "chat.pb-c.h"
#include "chat_request.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct chat_proc chat_proc_t;

//  Starts CHAT_BIN_DIR/<program> with args (NULL-terminated, without argv[0]).
//  stdout and stderr go to <dir>/<label>.log. Returns NULL when fork fails.
chat_proc_t *chat_proc_start(const char *program, const char *const *args, const char *dir,
                             const char *label);

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

//  A TCP port on 127.0.0.1 that was free a moment ago.
int chat_free_port(void);

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
