/* Logging (see log.h). One fprintf per call so that lines from threads do not
 * interleave mid-line. */
#include "runtime/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level = -1;

static void init_level(void) {
  if (log_level >= 0) return;
  log_level = AZC_LOG_INFO;
  const char *e = getenv("AZC_LOG");
  if (!e) return;
  if (!strcmp(e, "error"))
    log_level = AZC_LOG_ERROR;
  else if (!strcmp(e, "warn"))
    log_level = AZC_LOG_WARN;
  else if (!strcmp(e, "info"))
    log_level = AZC_LOG_INFO;
  else if (!strcmp(e, "debug"))
    log_level = AZC_LOG_DEBUG;
}

void azc_log_set_level(azc_log_level_t level) { log_level = (int)level; }

azc_log_level_t azc_log_get_level(void) {
  init_level();
  return (azc_log_level_t)log_level;
}

void azc_log(azc_log_level_t level, const char *fmt, ...) {
  init_level();
  if ((int)level > log_level) return;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  const char *tag = level == AZC_LOG_ERROR ? "error: " : level == AZC_LOG_WARN ? "warning: " : "";
  fprintf(stderr, "%s%s\n", tag, buf);
}
