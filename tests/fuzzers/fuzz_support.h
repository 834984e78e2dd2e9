/*  fuzz_support: what the libFuzzer harnesses of tests/fuzzers share.
 *
 *  Inputs that carry several messages are a sequence of frames: a 2-byte
 *  big-endian length, then that many bytes (a last frame whose length says
 *  more takes what is left). Seeds (fuzz_seeds) are written the same way,
 *  so a mutated seed is still a sequence of messages. Property checks that
 *  fail call fuzz_fail, which aborts: libFuzzer keeps the input.
 */
#ifndef FUZZ_SUPPORT_H
#define FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A position in an input.
typedef struct {
    const uint8_t *data; //  what is left
    size_t size;         //  bytes left
} fuzz_reader_t;

//  The next frame of r: true with *frame and *len, false at the end.
bool fuzz_next_frame(fuzz_reader_t *r, const uint8_t **frame, size_t *len);

//  A copy of len bytes with a NUL after them (up to the first NUL in them:
//  C strings from the network end there). The caller frees it.
char *fuzz_strndup(const uint8_t *data, size_t len);

//  A new empty directory, in /dev/shm when there is one (LMDB's fsync is
//  cheap there). The caller frees the path.
char *fuzz_temp_dir(const char *tag);

//  Removes path and everything below it.
void fuzz_remove_tree(const char *path);

//  Logs only errors (the harnesses feed the code nonsense on purpose).
void fuzz_quiet(void);

//  Reports a broken property and aborts.
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
