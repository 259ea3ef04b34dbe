/* Minimal libc declarations for the kernel library (see string.h). */
#ifndef AZK_SHIM_CTYPE_H
#define AZK_SHIM_CTYPE_H
int toupper(int c);
#endif
