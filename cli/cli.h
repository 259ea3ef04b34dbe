/* Shared pieces of the `azc` driver: argument parsing helpers, error
 * reporting (one line on stderr naming the file and what is wrong, exit 1)
 * and a small JSON writer. Each subcommand lives in its own cmd_*.c file. */
#ifndef AZC_CLI_CLI_H
#define AZC_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/base/status.h"

int azc_cmd_inspect(int argc, char **argv);
int azc_cmd_tokenize(int argc, char **argv);
int azc_cmd_run(int argc, char **argv);
int azc_cmd_mkmodel(int argc, char **argv);
int azc_cmd_compile(int argc, char **argv);
int azc_cmd_cache(int argc, char **argv);
int azc_cmd_quantize(int argc, char **argv);
int azc_cmd_bench(int argc, char **argv);
int azc_cmd_create(int argc, char **argv);
int azc_cmd_list(int argc, char **argv);
int azc_cmd_show(int argc, char **argv);
int azc_cmd_rm(int argc, char **argv);
int azc_cmd_chat(int argc, char **argv);
int azc_cmd_serve(int argc, char **argv);
/* azc bench MODEL --spec (bench_spec.c) */
int azc_bench_spec(int argc, char **argv);

/* Every error the CLI reports goes through cli_fail: one line on stderr,
 * "azc: error: <message>\n", each context said once (runtime/base/status.h),
 * control characters as spaces, valid UTF-8; returns 1 (the exit status) and
 * frees st. With AZC_DEBUG set, a second line gives the source location. */
int cli_fail(azc_status_t st);
/* cli_fail's line for an error the command goes on after (a chat turn); frees st. */
void cli_report(azc_status_t st);
/* cli_fail with " (see PROG --help)" after the message: for a bad command line. */
int cli_fail_usage(azc_status_t st, const char *prog);
/* cli_fail of an INVALID_ARGUMENT status with the formatted message. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set while a progress line without its newline is on stderr (\r updates);
 * cli_fail ends that line before the error. */
extern bool cli_line_open;

/* Parses a number from argv[*i + 1] for option argv[*i]; advances *i. */
azc_status_t cli_int_arg(int argc, char **argv, int *i, long long min, long long max,
                         long long *out);
azc_status_t cli_float_arg(int argc, char **argv, int *i, double min, double max, double *out);
azc_status_t cli_str_arg(int argc, char **argv, int *i, const char **out);
/* --kv-type f32|f16|q8_0 (an azc_kv_type_t); advances *i. */
azc_status_t cli_kv_type_arg(int argc, char **argv, int *i, int32_t *out);

/* JSON: a string with escapes; always valid UTF-8 (ill-formed parts become
 * \ufffd, as azc_utf8_repair in runtime/base/utf8.h replaces them). */
void cli_json_string(FILE *out, const char *s, size_t n);
/* Writes text as valid UTF-8 (ill-formed parts become U+FFFD). */
void cli_write_text(FILE *out, const char *s, size_t n);

bool cli_ends_with(const char *s, const char *suffix);

#endif
