/* Minimal libc declarations for compiling the kernel library to bitcode for
 * any target without that target's system headers (-nostdlibinc). The
 * runtime resolves these names when it loads kernel code. */
#ifndef AZK_SHIM_STRING_H
#define AZK_SHIM_STRING_H
#include <stddef.h>
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
#endif
