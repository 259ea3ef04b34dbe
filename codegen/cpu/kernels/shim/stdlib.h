/* Minimal libc declarations for the kernel library (see string.h). */
#ifndef AZK_SHIM_STDLIB_H
#define AZK_SHIM_STDLIB_H
#include <stddef.h>
void *malloc(size_t n);
void free(void *p);
int posix_memalign(void **p, size_t align, size_t n);
#endif
