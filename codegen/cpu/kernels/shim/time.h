/* Minimal libc declarations for the kernel library (see string.h). */
#ifndef AZK_SHIM_TIME_H
#define AZK_SHIM_TIME_H
typedef long time_t;
struct timespec {
  time_t tv_sec;
  long tv_nsec;
};
#define CLOCK_MONOTONIC 1
int clock_gettime(int clk, struct timespec *ts);
#endif
