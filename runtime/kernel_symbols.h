/* The library functions compiled kernels may call (LLVM turns loops into
 * memset/memcpy and pairs of sin/cos into sincos; rope angles use libm's
 * double-precision pow/sin/cos), resolved for the ELF loader. */
#ifndef AZC_RUNTIME_KERNEL_SYMBOLS_H
#define AZC_RUNTIME_KERNEL_SYMBOLS_H

void *azc_kernel_resolve(void *user, const char *name);

#endif
