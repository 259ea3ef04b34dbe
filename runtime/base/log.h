/* Logging to stderr with levels. The level comes from AZC_LOG
 * (error|warn|info|debug) or azc_log_set_level(); default info. Progress lines
 * from long work (compile phases, weights packed) go through azc_log_info. */
#ifndef AZC_BASE_LOG_H
#define AZC_BASE_LOG_H

typedef enum { AZC_LOG_ERROR = 0, AZC_LOG_WARN, AZC_LOG_INFO, AZC_LOG_DEBUG } azc_log_level_t;

void azc_log_set_level(azc_log_level_t level);
azc_log_level_t azc_log_get_level(void);
void azc_log(azc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define azc_log_error(...) azc_log(AZC_LOG_ERROR, __VA_ARGS__)
#define azc_log_warn(...) azc_log(AZC_LOG_WARN, __VA_ARGS__)
#define azc_log_info(...) azc_log(AZC_LOG_INFO, __VA_ARGS__)
#define azc_log_debug(...) azc_log(AZC_LOG_DEBUG, __VA_ARGS__)

#endif
