/* The model store's commands, as Ollama's: `azc create NAME -f Modelfile`
 * (compile into the store), `azc list`, `azc show NAME [--modelfile |
 * --parameters | --template | --system | --license]` and `azc rm NAME...`.
 * The store is runtime/model_store.h; building is cli/build.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/build.h"
#include "cli/cli.h"
#include "frontend/modelfile.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"
#include "runtime/bundle_sections.h"
#include "runtime/model_store.h"

int azc_cmd_create(int argc, char **argv) {
  const char *name = NULL, *mf = "Modelfile";
  azc_compile_options_t opt = azc_compile_options_default();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    azc_status_t st = NULL;
    long long iv;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: azc create NAME [-f Modelfile] [--target-cpu CPU] [-j JOBS] [--no-cache]\n"
             "  compiles the Modelfile (default ./Modelfile) into the model store\n"
             "  ($AZC_HOME/models, else ~/.local/share/azc/models) as NAME\n");
      return 0;
    } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
      st = cli_str_arg(argc, argv, &i, &mf);
    } else if (!strcmp(a, "--target-cpu")) {
      st = cli_str_arg(argc, argv, &i, &opt.target_cpu);
    } else if (!strcmp(a, "-j")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 64, &iv))) opt.jobs = (int)iv;
    } else if (!strcmp(a, "--no-cache")) {
      opt.use_cache = false;
    } else if (a[0] == '-') {
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "create: unknown option %s", a);
    } else if (!name) {
      name = a;
    } else {
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "create: unexpected argument '%s'", a);
    }
    if (st) return cli_fail(st);
  }
  if (!name) return cli_usage_error("create: usage: azc create NAME -f Modelfile");
  char norm[AZC_MODEL_NAME_MAX];
  char *dir = NULL, *path = NULL;
  azc_status_t st = azc_model_name_normalize(name, norm);
  if (!st) st = azc_model_store_dir(NULL, &dir);
  if (!st) st = azc_model_store_path_for(dir, norm, &path);
  if (!st) st = cli_build_modelfile(mf, path, &opt);
  if (!st) printf("created %s (%s)\n", norm, path);
  free(path);
  free(dir);
  return st ? cli_fail(st) : 0;
}

static void human_size(uint64_t n, char *buf, size_t cap) {
  if (n >= 1000000000ull)
    snprintf(buf, cap, "%.1f GB", (double)n / 1e9);
  else if (n >= 1000000ull)
    snprintf(buf, cap, "%.1f MB", (double)n / 1e6);
  else
    snprintf(buf, cap, "%.1f KB", (double)n / 1e3);
}

static void human_age(int64_t t, char *buf, size_t cap) {
  int64_t d = (int64_t)time(NULL) - t;
  if (d < 60)
    snprintf(buf, cap, "%s", d < 2 ? "Now" : "Less than a minute ago");
  else if (d < 3600)
    snprintf(buf, cap, "%lld minute%s ago", (long long)(d / 60), d < 120 ? "" : "s");
  else if (d < 86400)
    snprintf(buf, cap, "%lld hour%s ago", (long long)(d / 3600), d < 7200 ? "" : "s");
  else
    snprintf(buf, cap, "%lld day%s ago", (long long)(d / 86400), d < 172800 ? "" : "s");
}

int azc_cmd_list(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: azc list   the models in the store\n");
    return 0;
  }
  if (argc > 1) return cli_usage_error("list: unexpected argument '%s'", argv[1]);
  char *dir = NULL;
  azc_model_store_entry_t *e = NULL;
  size_t n = 0;
  azc_status_t st = azc_model_store_dir(NULL, &dir);
  if (!st) st = azc_model_store_list(dir, &e, &n);
  if (st) {
    free(dir);
    return cli_fail(st);
  }
  size_t w = 4;
  for (size_t i = 0; i < n; i++) w = AZC_MAX(w, strlen(e[i].name));
  printf("%-*s    %-16s    %-10s    %s\n", (int)w, "NAME", "ID", "SIZE", "MODIFIED");
  for (size_t i = 0; i < n; i++) {
    char size[32], age[48];
    human_size(e[i].size, size, sizeof(size));
    human_age(e[i].modified_unix, age, sizeof(age));
    printf("%-*s    %-16s    %-10s    %s\n", (int)w, e[i].name, e[i].digest, size, age);
  }
  azc_model_store_list_free(e, n);
  free(dir);
  return 0;
}

int azc_cmd_rm(int argc, char **argv) {
  if (argc < 2) return cli_usage_error("rm: usage: azc rm NAME...");
  char *dir = NULL;
  azc_status_t st = azc_model_store_dir(NULL, &dir);
  for (int i = 1; !st && i < argc; i++) {
    char norm[AZC_MODEL_NAME_MAX];
    st = azc_model_name_normalize(argv[i], norm);
    if (!st) st = azc_model_store_remove(dir, argv[i]);
    if (!st) printf("deleted '%s'\n", norm);
  }
  free(dir);
  return st ? cli_fail(st) : 0;
}

/* ---- show ---- */

typedef struct shown {
  azc_bundle_t *b;
  azc_bundle_meta_t meta;
  azc_bundle_defaults_t def;
  azc_chat_info_t *ci;
} shown_t;

static azc_status_t open_shown(const char *path, shown_t *s) {
  AZC_RETURN_IF_ERROR(azc_bundle_open(path, AZC_BUNDLE_LAZY_VERIFY, &s->b));
  const void *data;
  uint64_t size;
  AZC_RETURN_IF_ERROR(azc_bundle_section(s->b, AZC_SECTION_META, &data, &size));
  if (size != sizeof(s->meta))
    return AZC_ERR(AZC_CORRUPT, "%s: section 'meta' has %llu bytes", path,
                   (unsigned long long)size);
  memcpy(&s->meta, data, sizeof(s->meta));
  s->meta.arch[sizeof(s->meta.arch) - 1] = s->meta.name[sizeof(s->meta.name) - 1] = 0;
  AZC_RETURN_IF_ERROR(azc_bundle_section(s->b, AZC_SECTION_DEFAULTS, &data, &size));
  if (size != sizeof(s->def))
    return AZC_ERR(AZC_CORRUPT, "%s: section 'defaults' has %llu bytes", path,
                   (unsigned long long)size);
  memcpy(&s->def, data, sizeof(s->def));
  if (azc_bundle_has_section(s->b, AZC_SECTION_CHAT)) {
    AZC_RETURN_IF_ERROR(azc_bundle_section(s->b, AZC_SECTION_CHAT, &data, &size));
    return azc_chat_info_parse(data, (size_t)size, &s->ci);
  }
  s->ci = azc_chat_info_create();
  return s->ci ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
}

/* The stored parameters as Ollama's `show --parameters` prints them. */
static void print_parameters(const azc_chat_info_t *ci, const char *indent) {
  size_t w = 0;
  for (size_t i = 0; i < ci->n_params; i++) w = AZC_MAX(w, strlen(ci->param_name[i]));
  for (size_t i = 0; i < ci->n_params; i++) {
    bool quote = !strcmp(ci->param_name[i], "stop");
    printf("%s%-*s    %s%s%s\n", indent, (int)w, ci->param_name[i], quote ? "\"" : "",
           ci->param_value[i], quote ? "\"" : "");
  }
}

static azc_status_t print_modelfile(const char *name, const char *path, const azc_chat_info_t *ci) {
  size_t n = 0, cap = 4 + ci->n_params + ci->n_messages + ci->n_licenses;
  azc_mf_command_t *c = calloc(cap, sizeof(*c));
  if (!c) return AZC_ERR(AZC_OUT_OF_MEMORY, "Modelfile");
  c[n++] = (azc_mf_command_t){AZC_MF_FROM, NULL, (char *)path, 0};
  if (ci->template_src) c[n++] = (azc_mf_command_t){AZC_MF_TEMPLATE, NULL, ci->template_src, 0};
  if (ci->system) c[n++] = (azc_mf_command_t){AZC_MF_SYSTEM, NULL, ci->system, 0};
  for (size_t i = 0; i < ci->n_params; i++)
    c[n++] = (azc_mf_command_t){AZC_MF_PARAMETER, ci->param_name[i], ci->param_value[i], 0};
  for (size_t i = 0; i < ci->n_messages; i++)
    c[n++] = (azc_mf_command_t){AZC_MF_MESSAGE, ci->msg_role[i], ci->msg_content[i], 0};
  for (size_t i = 0; i < ci->n_licenses; i++)
    c[n++] = (azc_mf_command_t){AZC_MF_LICENSE, NULL, ci->licenses[i], 0};
  azc_modelfile_t mf = {(char *)path, NULL, 0, c, n};
  char *text = NULL;
  azc_status_t st = azc_modelfile_format(&mf, &text);
  if (!st)
    printf("# Modelfile generated by \"azc show\"\n# To build a new Modelfile based on this, "
           "replace FROM with:\n# FROM %s\n\n%s",
           name, text);
  free(text);
  free(c);
  return st;
}

static void print_block(const char *title, const char *text) {
  printf("  %s\n", title);
  const char *p = text;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    printf("    %.*s\n", (int)len, p);
    p += len + (e ? 1 : 0);
  }
  printf("\n");
}

static void print_info(const shown_t *s) {
  const azc_bundle_meta_t *m = &s->meta;
  printf("  Model\n");
  printf("    %-20s%s\n", "architecture", m->arch);
  if (m->name[0]) printf("    %-20s%s\n", "name", m->name);
  printf("    %-20s%d\n", "layers", m->n_layer);
  printf("    %-20s%d\n", "context length", m->n_ctx_train);
  printf("    %-20s%d\n", "embedding length", m->n_embd);
  printf("    %-20s%.1f MiB\n", "weights", (double)m->weight_bytes / (1 << 20));
  const azc_chat_info_t *ci = s->ci;
  printf("    %-20s%s%s%s\n", "template",
         ci->template_src                          ? "Modelfile TEMPLATE"
         : ci->template_name                       ? ci->template_name
         : ci->template_jinja && ci->gguf_template ? "jinja"
         : ci->gguf_template                       ? "refused"
                                                   : "none ({{ .Prompt }})",
         ci->template_src                          ? ""
         : ci->template_name                       ? " (the GGUF's, verified)"
         : ci->template_jinja && ci->gguf_template ? " (the GGUF's, evaluated by azc)"
                                                   : "",
         ci->no_system && !ci->template_src ? ", no system messages" : "");
  if (ci->gguf_template && !ci->template_name && ci->template_jinja && !ci->template_src)
    printf("    %-20s%s\n", "not a builtin", ci->template_jinja);
  else if (ci->gguf_template && !ci->template_name && ci->template_refusal)
    printf("    %-20s%s\n", "template refused", ci->template_refusal);
  printf("\n");
  if (ci->n_params) {
    printf("  Parameters\n");
    print_parameters(ci, "    ");
    printf("\n");
  }
  if (ci->system) print_block("System", ci->system);
  for (size_t i = 0; i < ci->n_licenses; i++) print_block("License", ci->licenses[i]);
}

int azc_cmd_show(int argc, char **argv) {
  const char *model = NULL, *what = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: azc show MODEL [--modelfile | --parameters | --template | --system | "
             "--license]\n");
      return 0;
    } else if (!strcmp(a, "--modelfile") || !strcmp(a, "--parameters") ||
               !strcmp(a, "--template") || !strcmp(a, "--system") || !strcmp(a, "--license")) {
      what = a + 2;
    } else if (a[0] == '-') {
      return cli_usage_error("show: unknown option %s", a);
    } else if (!model) {
      model = a;
    } else {
      return cli_usage_error("show: unexpected argument '%s'", a);
    }
  }
  if (!model) return cli_usage_error("show: usage: azc show MODEL [--modelfile]");
  char *dir = NULL, *path = NULL;
  bool in_store = false;
  shown_t s;
  memset(&s, 0, sizeof(s));
  azc_status_t st = azc_model_store_dir(NULL, &dir);
  if (!st) st = azc_model_store_resolve(dir, model, &path, &in_store);
  if (!st) st = open_shown(path, &s);
  if (!st) {
    char norm[AZC_MODEL_NAME_MAX];
    if (!in_store || azc_model_name_normalize(model, norm))
      snprintf(norm, sizeof(norm), "%s", model);
    const azc_chat_info_t *ci = s.ci;
    if (!what)
      print_info(&s);
    else if (!strcmp(what, "modelfile"))
      st = print_modelfile(norm, path, ci);
    else if (!strcmp(what, "parameters"))
      print_parameters(ci, "");
    else if (!strcmp(what, "system"))
      printf("%s\n", ci->system ? ci->system : "");
    else if (!strcmp(what, "template")) {
      if (ci->template_src)
        printf("%s\n", ci->template_src);
      else if (ci->gguf_template)
        printf("%s\n", ci->gguf_template);
      else
        printf("{{ .Prompt }}\n");
    } else
      for (size_t i = 0; i < ci->n_licenses; i++) printf("%s\n", ci->licenses[i]);
  }
  azc_chat_info_destroy(s.ci);
  azc_bundle_close(s.b);
  free(path);
  free(dir);
  return st ? cli_fail(st) : 0;
}
