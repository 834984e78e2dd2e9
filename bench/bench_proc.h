/*  bench_proc: what /proc says about a local gateway and the kernel.
 *
 *  Finding a gateway by its listening port: the socket's inode from
 *  /proc/net/tcp (and tcp6), then the process holding that inode among
 *  /proc/<pid>/fd. Memory: VmRSS from /proc/<pid>/status; the kernel's
 *  side from /proc/net/sockstat (TCP buffer pages) and /proc/meminfo (Slab,
 *  where socket structures live). The parsers take text so tests can feed
 *  them.
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stddef.h>
#include <sys/types.h>

//  The process listening on TCP port on this machine, or -1.
pid_t bench_proc_find_listener(int port);

//  VmRSS of pid in bytes, or -1.
long bench_proc_rss(pid_t pid);

//  Machine-wide kernel memory: TCP buffer memory (sockstat "TCP: ... mem",
//  pages) and Slab, both in bytes; -1 when unknown.
void bench_proc_kernel(long *tcp_mem, long *slab);

//  The inode of the socket listening on port in the text of
//  /proc/net/tcp or /proc/net/tcp6, or 0 when none.
unsigned long bench_proc_parse_listen_inode(const char *text, int port);

//  The value in kB of field ("VmRSS", "Slab") in /proc/<pid>/status or
//  /proc/meminfo text, in bytes; -1 when absent.
long bench_proc_parse_kb(const char *text, const char *field);

//  The "mem" pages of the "TCP:" line of /proc/net/sockstat text, or -1.
long bench_proc_parse_sockstat_pages(const char *text);

#endif
