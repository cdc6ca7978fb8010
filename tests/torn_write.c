/* LD_PRELOAD shim for the torn-checkpoint tests: the TEAR_AT-th pwrite of a whole storage block
   (256 KiB or more) over bytes the file already has writes only its first half (or TEAR_BYTES
   bytes), and then the process kills itself with SIGKILL. That is what Linux leaves when a
   kill -9 lands in the middle of such a write (a write to a regular file ends early on a fatal
   signal), and what a power cut can leave. TEAR_LOG=1 prints each such write to stderr. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static long overwrites = 0;

static ssize_t torn(int fd, const void *buf, size_t count, off_t offset, pwrite_fn real) {
    const char *at = getenv("TEAR_AT");
    struct stat st;
    if (at && count >= 262144 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        offset + (off_t)count <= st.st_size) {
        overwrites++;
        if (getenv("TEAR_LOG")) {
            fprintf(stderr, "overwrite %ld at %lld\n", overwrites, (long long)offset);
        }
        if (overwrites == atol(at)) {
            const char *bytes = getenv("TEAR_BYTES");
            real(fd, buf, bytes ? (size_t)atol(bytes) : count / 2, offset);
            kill(getpid(), SIGKILL);
        }
    }
    return real(fd, buf, count, offset);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    static pwrite_fn real;
    if (!real) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    return torn(fd, buf, count, offset, real);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    static pwrite_fn real;
    if (!real) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
    return torn(fd, buf, count, offset, real);
}
