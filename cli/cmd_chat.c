/* azc chat MODEL: `ollama run` for compiled models. MODEL is a store name, a
 * bundle or a GGUF (compiled in-process). Each line read is a user turn,
 * rendered with the model's template and SYSTEM and answered as it streams;
 * the history stays in the KV cache (runtime/chat_session.h), so a turn
 * prefills only its new tokens. Commands as in Ollama: /bye, /clear,
 * /set parameter NAME VALUE, /set system TEXT, /set verbose|quiet,
 * /show info|parameters|system|template|license, /? ; `"""` opens a
 * multi-line message. Ctrl-C stops the current answer, not the session (at
 * the prompt it says how to leave). Turns can come from a pipe: no prompt is
 * printed then, and the session ends at the end of the input. --verbose
 * prints each turn's counts and rates (prompt tokens, how many came from the
 * cache, tokens generated) to stderr; the session ends with a summary. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_common.h"
#include "runtime/base/util.h"
#include "runtime/chat_session.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static void on_text(void *user, const char *text, size_t len) {
  (void)user;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
}

typedef struct chat_state {
  run_model_t m;
  azc_chat_template_t *tmpl;
  azc_chat_session_t *s;
  azc_options_t stored, request;
  bool verbose, tty;
  int turns;
  int64_t prefilled, reused, generated;
  int64_t passes, drafted, accepted;
  double prompt_ms, gen_ms;
  run_draft_t draft;
} chat_state_t;

static void chat_usage(FILE *out) {
  fprintf(out, "usage: azc chat MODEL [--verbose] [-c CTX] [-t THREADS] [--temp T] [--top-k K]\n"
               "                [--top-p P] [--seed S] [-n N] [-ngl N|auto] [--eager] [--no-cache]\n"
               "                [--kv-type f32|f16|q8_0] [--draft lookup|MODEL] [--draft-max N]\n"
               "                [--no-draft]\n"
               "  --draft: speculative decoding (prompt lookup, or a draft model with the same\n"
               "  vocabulary); a Modelfile's DRAFT is used unless --no-draft\n"
               "  MODEL: a name in the model store, a bundle or a GGUF file\n"
               "  each input line is a turn; /? lists the commands\n");
}

static void help(void) {
  printf(
      "Available Commands:\n"
      "  /set parameter NAME VALUE   set a parameter (temperature, top_k, num_predict, stop...)\n"
      "  /set system TEXT            set the system message\n"
      "  /set verbose | quiet        show or hide each turn's statistics\n"
      "  /show info                  the model, its template and parameters\n"
      "  /show parameters | system | template | license\n"
      "  /clear                      clear the session context\n"
      "  /bye                        exit\n"
      "  /?, /help                   this help\n"
      "\nUse \"\"\" to begin a multi-line message.\n\n");
}

static void show_parameters(const chat_state_t *c) {
  const azc_options_t *o = azc_chat_session_options(c->s);
  size_t n;
  const azc_option_info_t *tab = azc_option_table(&n);
  printf("Model defaults and the parameters set in this session:\n");
  for (size_t i = 0; i < n; i++) {
    if (tab[i].id < 0 || tab[i].id == AZC_OPT_STOP) continue;
    char buf[64];
    azc_options_format(o, (azc_option_id_t)tab[i].id, 0, buf, sizeof(buf));
    printf("  %-18s %s%s\n", tab[i].name, buf,
           azc_options_has(&c->request, (azc_option_id_t)tab[i].id) ? "   (set here)" : "");
  }
  for (int i = 0; i < o->n_stop; i++) printf("  %-18s \"%s\"\n", "stop", o->stop[i]);
  printf("\n");
}

static void show_info(const chat_state_t *c) {
  const azc_executor_t *ex = c->m.exec;
  const azc_chat_info_t *ci = c->m.chat;
  printf("  Model\n");
  printf("    %-20s%s\n", "executor", c->m.mode);
  printf("    %-20s%d\n", "context length", ex->n_ctx);
  printf("    %-20s%d\n", "vocabulary", ex->n_vocab);
  printf("    %-20s%s%s\n", "template", azc_chat_template_name(c->tmpl),
         !ci || ci->template_src ? ""
         : ci->template_name     ? " (the GGUF's, verified)"
         : ci->template_jinja    ? " (the GGUF's, evaluated by azc)"
                                 : "");
  const char *const *stops;
  size_t n = azc_chat_template_stops(c->tmpl, &stops);
  printf("    %-20s", "stop strings");
  for (size_t i = 0; i < n; i++) printf("%s\"%s\"", i ? " " : "", stops[i]);
  printf("%s\n", n ? "" : "(the model's end-of-generation tokens)");
  printf("    %-20s%d tokens\n\n", "in the KV cache", azc_chat_session_cached(c->s));
  show_parameters(c);
}

static void show_system(const chat_state_t *c) {
  const azc_chat_message_t *h;
  size_t n = azc_chat_session_history(c->s, &h);
  const char *sys = n && !strcmp(h[0].role, "system") ? h[0].content
                    : c->m.chat && c->m.chat->system  ? c->m.chat->system
                                                      : NULL;
  printf("%s\n", sys ? sys : "No system message was specified for this model.");
}

/* One command line; *quit is set by /bye. */
static azc_status_t command(chat_state_t *c, char *line, bool *quit) {
  char *save = NULL, *cmd = strtok_r(line, " \t", &save);
  char *arg = strtok_r(NULL, " \t", &save);
  if (!strcmp(cmd, "/bye") || !strcmp(cmd, "/exit")) {
    *quit = true;
  } else if (!strcmp(cmd, "/?") || !strcmp(cmd, "/help")) {
    help();
  } else if (!strcmp(cmd, "/clear")) {
    azc_chat_session_clear(c->s);
    printf("Cleared session context\n");
  } else if (!strcmp(cmd, "/set") && arg && !strcmp(arg, "parameter")) {
    char *name = strtok_r(NULL, " \t", &save);
    char *value = save && *save ? save : NULL;
    if (!name || !value) {
      printf("Usage:\n  /set parameter NAME VALUE\n");
      return NULL;
    }
    while (*value == ' ' || *value == '\t') value++;
    bool deprecated = false;
    azc_options_t req = c->request;
    if (!strcmp(name, "stop") && !(req.set >> AZC_OPT_STOP & 1)) azc_options_clear_stop(&req);
    azc_status_t st = azc_options_set_text(&req, name, value, &deprecated);
    if (st) return st;
    if (deprecated) {
      printf("Parameter '%s' is deprecated; ignored.\n", name);
      return NULL;
    }
    c->request = req;
    azc_options_t use;
    azc_options_resolve(&c->request, &c->stored, &use);
    azc_chat_session_set_options(c->s, &use);
    printf("Set parameter '%s' to '%s'\n", name, value);
  } else if (!strcmp(cmd, "/set") && arg && !strcmp(arg, "system")) {
    char *text = save && *save ? save : NULL;
    if (!text) {
      printf("Usage:\n  /set system TEXT\n");
      return NULL;
    }
    AZC_RETURN_IF_ERROR(azc_chat_session_set_system(c->s, text));
    printf("Set system message.\n");
  } else if (!strcmp(cmd, "/set") && arg && (!strcmp(arg, "verbose") || !strcmp(arg, "quiet"))) {
    c->verbose = !strcmp(arg, "verbose");
    printf("Set '%s' mode.\n", arg);
  } else if (!strcmp(cmd, "/show") && arg) {
    const azc_chat_info_t *ci = c->m.chat;
    if (!strcmp(arg, "info"))
      show_info(c);
    else if (!strcmp(arg, "parameters"))
      show_parameters(c);
    else if (!strcmp(arg, "system"))
      show_system(c);
    else if (!strcmp(arg, "template"))
      printf("%s\n", ci && ci->template_src    ? ci->template_src
                     : ci && ci->gguf_template ? ci->gguf_template
                                               : "{{ .Prompt }}");
    else if (!strcmp(arg, "license"))
      for (size_t i = 0; ci && i < ci->n_licenses; i++) printf("%s\n", ci->licenses[i]);
    else
      printf("Unknown command '/show %s'. Type /? for help\n", arg);
  } else {
    printf("Unknown command '%s'. Type /? for help\n", cmd);
  }
  return NULL;
}

static azc_status_t turn(chat_state_t *c, const char *text) {
  azc_chat_turn_t t;
  interrupted = 0;
  AZC_RETURN_IF_ERROR(azc_chat_session_say(c->s, text, &t));
  printf("%s\n\n", t.stop == AZC_CHAT_STOP_CANCELLED ? "\n(stopped)" : "");
  fflush(stdout);
  c->turns++;
  c->prefilled += t.n_prefilled;
  c->reused += t.n_reused;
  c->generated += t.n_generated;
  c->prompt_ms += t.prompt_ms;
  c->gen_ms += t.gen_ms;
  c->passes += t.n_passes;
  c->drafted += t.n_drafted;
  c->accepted += t.n_draft_accepted;
  if (c->verbose && t.n_drafted)
    fprintf(stderr, "draft:                %d proposed, %d accepted (%.1f%%), %.2f tokens per pass\n",
            t.n_drafted, t.n_draft_accepted, 100.0 * t.n_draft_accepted / t.n_drafted,
            t.n_passes ? (double)t.n_generated / t.n_passes : 0);
  if (c->verbose) {
    fprintf(stderr,
            "prompt tokens:        %d (%d from the KV cache, %d prefilled%s)\n"
            "prompt eval duration: %.2f ms\n"
            "prompt eval rate:     %.2f tokens/s\n"
            "eval count:           %d token(s)\n"
            "eval duration:        %.2f ms\n"
            "eval rate:            %.2f tokens/s\n"
            "done reason:          %s\n",
            t.n_prompt, t.n_reused, t.n_prefilled,
            t.n_dropped ? ", old messages dropped to fit the context" : "", t.prompt_ms,
            t.prompt_ms > 0 ? 1e3 * t.n_prefilled / t.prompt_ms : 0, t.n_generated, t.gen_ms,
            t.gen_ms > 0 ? 1e3 * t.n_generated / t.gen_ms : 0,
            t.stop == AZC_CHAT_STOP_CANCELLED ? "cancelled" : azc_chat_stop_name(t.stop));
  }
  azc_chat_turn_free(&t);
  return NULL;
}

/* A turn that fails (a message longer than the context, a template that
 * refuses the conversation) is reported and the session goes on, as in
 * Ollama; only running out of memory ends it. */
static azc_status_t turn_or_report(chat_state_t *c, const char *text) {
  azc_status_t st = turn(c, text);
  if (!st || azc_status_code(st) == AZC_OUT_OF_MEMORY) return st;
  cli_report(st);
  return NULL;
}

/* Reads one line (without its newline) into *buf; false at the end of the
 * input. A Ctrl-C while waiting is reported as an empty line with *intr. */
static bool read_line(char **buf, size_t *cap, bool *intr) {
  *intr = false;
  errno = 0;
  ssize_t n = getline(buf, cap, stdin);
  if (n < 0) {
    if (errno == EINTR || interrupted) {
      clearerr(stdin);
      interrupted = 0;
      *intr = true;
      (*buf)[0] = 0;
      return true;
    }
    return false;
  }
  while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) (*buf)[--n] = 0;
  return true;
}

static azc_status_t session(chat_state_t *c) {
  char *line = NULL, *multi = NULL;
  size_t cap = 0, multi_len = 0;
  bool quit = false;
  azc_status_t st = NULL;
  while (!st && !quit) {
    if (c->tty) {
      printf(multi ? "... " : ">>> ");
      fflush(stdout);
    }
    bool intr;
    if (!read_line(&line, &cap, &intr)) break;
    if (intr) {
      if (c->tty) printf("\nUse Ctrl + d or /bye to exit.\n");
      free(multi);
      multi = NULL;
      continue;
    }
    if (multi || !strncmp(line, "\"\"\"", 3)) { /* a """ multi-line message """ */
      const char *part = multi ? line : line + 3;
      char *end = strstr(part, "\"\"\"");
      size_t add = end ? (size_t)(end - part) : strlen(part);
      char *m = realloc(multi, multi_len + add + 2);
      if (!m) {
        st = AZC_ERR(AZC_OUT_OF_MEMORY, "message");
        break;
      }
      if (!multi) m[0] = 0, multi_len = 0;
      multi = m;
      if (multi_len) multi[multi_len++] = '\n';
      memcpy(multi + multi_len, part, add);
      multi_len += add;
      multi[multi_len] = 0;
      if (!end) continue;
      st = turn_or_report(c, multi);
      free(multi);
      multi = NULL;
      continue;
    }
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) continue;
    if (*p == '/') {
      azc_status_t e = command(c, line, &quit);
      if (e) { /* a bad /set is reported; the session goes on */
        cli_report(e);
      }
      continue;
    }
    st = turn_or_report(c, line);
  }
  free(line);
  free(multi);
  return st;
}

int azc_cmd_chat(int argc, char **argv) {
  run_opts_t o;
  memset(&o, 0, sizeof(o));
  o.gen = azc_generate_params_default();
  o.exec = azc_executor_params_default();
  chat_state_t c;
  memset(&c, 0, sizeof(c));
  azc_status_t st = NULL;
  for (int i = 1; !st && i < argc; i++) {
    const char *a = argv[i];
    long long iv;
    const char *sv;
    struct {
      const char *flag, *option;
    } map[] = {{"--temp", "temperature"},
               {"--top-k", "top_k"},
               {"--top-p", "top_p"},
               {"--min-p", "min_p"},
               {"--seed", "seed"},
               {"-n", "num_predict"},
               {"--repeat-penalty", "repeat_penalty"}};
    size_t k = 0;
    while (k < sizeof(map) / sizeof(map[0]) && strcmp(a, map[k].flag)) k++;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      chat_usage(stdout);
      return 0;
    } else if (k < sizeof(map) / sizeof(map[0])) {
      if (!(st = cli_str_arg(argc, argv, &i, &sv)))
        st = azc_options_set_text(&c.request, map[k].option, sv, NULL);
    } else if (!strcmp(a, "-c")) {
      if (!(st = cli_int_arg(argc, argv, &i, 2, 1 << 24, &iv))) o.exec.n_ctx = (int32_t)iv;
      o.set |= RUN_SET_CTX;
    } else if (!strcmp(a, "-t")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1024, &iv))) o.exec.n_threads = (int32_t)iv;
      o.set |= RUN_SET_THREADS;
    } else if (!strcmp(a, "-ngl") || !strcmp(a, "--gpu-layers")) {
      /* layers on the GPU, as azc run's -ngl */
      if (i + 1 < argc && !strcmp(argv[i + 1], "auto")) {
        o.exec.n_gpu_layers = AZC_GPU_LAYERS_AUTO;
        i++;
      } else if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv))) {
        o.exec.n_gpu_layers = (int32_t)iv;
      }
      o.exec.gpu_layers_set = 1;
    } else if (!strcmp(a, "--kv-type")) {
      st = cli_kv_type_arg(argc, argv, &i, &o.exec.kv_type);
    } else if (!strcmp(a, "--verbose")) {
      c.verbose = true;
    } else if (!strcmp(a, "--draft")) {
      st = cli_str_arg(argc, argv, &i, &o.draft);
    } else if (!strcmp(a, "--draft-max")) {
      if (!(st = cli_int_arg(argc, argv, &i, 0, 256, &iv))) o.gen.draft_max = (int32_t)iv;
    } else if (!strcmp(a, "--no-draft")) {
      o.no_draft = true;
    } else if (!strcmp(a, "--eager")) {
      o.eager = true;
    } else if (!strcmp(a, "--no-cache")) {
      o.no_cache = true;
    } else if (a[0] == '-') {
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "chat: unknown option %s", a);
    } else if (!o.model) {
      o.model = a;
    } else {
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "chat: unexpected argument '%s'", a);
    }
  }
  if (!st && !o.model) st = AZC_ERR(AZC_INVALID_ARGUMENT, "chat: no model given");
  if (st) return cli_fail_usage(st, "azc chat");
  double t0 = azc_time_ms();
  char *store_path = NULL;
  st = run_resolve_model(&o, &store_path);
  if (!st) st = run_is_bundle(o.model) ? run_load_bundle(&o, &c.m) : run_load_gguf(&o, &c.m);
  if (!st) st = azc_chat_info_template(c.m.chat, c.m.tok, &c.tmpl);
  if (!st) st = run_chat_options(&c.m, &c.stored);
  if (!st) st = azc_chat_session_create(c.m.exec, c.m.tok, c.m.chat, c.tmpl, 0, &c.s);
  if (!st && (o.draft = run_default_draft(&o, &c.m, true)))
    st = run_load_drafter(&o, &c.m, run_load_gguf, &c.draft);
  if (!st) st = azc_chat_session_set_drafter(c.s, c.draft.drafter, o.gen.draft_max);
  if (!st) {
    azc_options_t use;
    azc_options_resolve(&c.request, &c.stored, &use);
    azc_chat_session_set_options(c.s, &use);
    azc_chat_session_set_stream(c.s, on_text, NULL);
    azc_chat_session_set_cancel(c.s, &interrupted);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint; /* no SA_RESTART: a Ctrl-C at the prompt ends the read */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    c.tty = isatty(0) && isatty(1);
    double load_ms = azc_time_ms() - t0;
    if (c.tty)
      fprintf(stderr, "azc: %s loaded in %.0f ms (%s); /? for help\n", o.model, load_ms, c.m.mode);
    st = session(&c);
    if (!st && c.m.check) st = c.m.check(c.m.owner);
    if (!st && c.draft.model.check) st = c.draft.model.check(c.draft.model.owner);
    fprintf(stderr,
            "azc: chat: %d turns; %lld prompt tokens prefilled (%lld reused from the KV cache) in "
            "%.2f ms; %lld tokens generated in %.2f ms (%.2f tokens/s); load %.0f ms, total %.0f "
            "ms\n",
            c.turns, (long long)c.prefilled, (long long)c.reused, c.prompt_ms,
            (long long)c.generated, c.gen_ms, c.gen_ms > 0 ? 1e3 * c.generated / c.gen_ms : 0,
            load_ms, azc_time_ms() - t0);
    if (c.drafted)
      fprintf(stderr,
              "azc: chat: drafting (%s): %lld proposed, %lld accepted (%.1f%%), %.2f tokens per "
              "pass\n",
              c.draft.drafter->ops->name, (long long)c.drafted, (long long)c.accepted,
              100.0 * (double)c.accepted / (double)c.drafted,
              c.passes ? (double)c.generated / (double)c.passes : 0);
  }
  azc_chat_session_destroy(c.s);
  run_draft_free(&c.draft);
  azc_chat_template_destroy(c.tmpl);
  azc_executor_destroy(c.m.exec);
  if (c.m.free_owner) c.m.free_owner(c.m.owner);
  free(store_path);
  return st ? cli_fail(st) : 0;
}
