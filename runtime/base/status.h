/* Status values: how every fallible function in azc reports failure.
 *
 * A status is a pointer; NULL means OK, so `if (st)` tests for failure and the
 * success path costs nothing. A failure carries a small code (for callers that
 * branch on the kind of failure) and one message that says what was being done
 * and where ("reading tensor blk.3.attn_q.weight: offset past end of file").
 * Callers add context on the way up with azc_status_wrap(); the CLI prints the
 * message on one line (control bytes in it, which can come with quoted input, are
 * escaped as \n or \xNN). The source location (file:line) of the first failure is
 * kept at the end of the message in brackets. Input never aborts the program:
 * asserts are only for azc's own invariants. */
#ifndef AZC_BASE_STATUS_H
#define AZC_BASE_STATUS_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum azc_code {
  AZC_OK = 0,
  AZC_INVALID_ARGUMENT = 1, /* a caller passed something that cannot work */
  AZC_NOT_FOUND = 2,        /* a file, key or tensor is missing */
  AZC_IO = 3,               /* open/read/write/mmap failed */
  AZC_CORRUPT = 4,          /* data is malformed: bad magic, offsets, checksum */
  AZC_UNSUPPORTED = 5,      /* valid but not supported: arch, type, version, CPU */
  AZC_OUT_OF_MEMORY = 6,
  AZC_OUT_OF_RANGE = 7, /* a limit was reached: context full, too many tokens */
  AZC_INTERNAL = 8,     /* a back end (LLVM, NVRTC, CUDA) or invariant failed */
} azc_code_t;

typedef struct azc_status *azc_status_t;

azc_status_t azc_status_make(azc_code_t code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
azc_status_t azc_status_makev(azc_code_t code, const char *file, int line, const char *fmt,
                              va_list ap);
/* Prepends "context: " to the message of `st` and returns it (NULL stays NULL).
 * A context the message already holds as one of its ": "-separated parts is
 * not added again, and a message that starts with the context's last word
 * ("m.gguf: cannot create ...", wrapped in "writing model m.gguf") loses that
 * first part, so an error says each context once. */
azc_status_t azc_status_wrap(azc_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when `context` is one of the ": "-separated parts of `message` (or a
 * run of them: "a: b" in "x: a: b: c"). */
bool azc_status_has_context(const char *message, const char *context);
azc_code_t azc_status_code(azc_status_t st);
/* The message without the source location; "OK" for NULL. Borrowed from st. */
const char *azc_status_message(azc_status_t st);
/* "file.c:123" of the first failure, or "" */
const char *azc_status_where(azc_status_t st);
const char *azc_code_name(azc_code_t code);
void azc_status_free(azc_status_t st);

#define AZC_ERR(code, ...) azc_status_make((code), __FILE__, __LINE__, __VA_ARGS__)
#define AZC_RETURN_IF_ERROR(expr)                                                                  \
  do {                                                                                             \
    azc_status_t azc_st_ = (expr);                                                                 \
    if (azc_st_) return azc_st_;                                                                   \
  } while (0)
/* Like AZC_RETURN_IF_ERROR, but adds context to the message first. */
#define AZC_RETURN_IF_ERROR_CTX(expr, ...)                                                         \
  do {                                                                                             \
    azc_status_t azc_st_ = (expr);                                                                 \
    if (azc_st_) return azc_status_wrap(azc_st_, __VA_ARGS__);                                     \
  } while (0)

#endif
