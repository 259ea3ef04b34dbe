/* The chat section (see chat_info.h): a flat list of tagged strings, so the
 * reader is a bounds-checked walk and the writer a loop. */
#include "runtime/chat_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/util.h"

static const char MAGIC[8] = {'A', 'Z', 'C', 'C', 'H', 'A', 'T', '1'};
enum { HEADER = 16, ENTRY = 8, MAX_ENTRIES = 1 << 16 };

azc_chat_info_t *azc_chat_info_create(void) { return calloc(1, sizeof(azc_chat_info_t)); }

static void free_list(char **v, size_t n) {
  for (size_t i = 0; v && i < n; i++) free(v[i]);
  free(v);
}

void azc_chat_info_destroy(azc_chat_info_t *ci) {
  if (!ci) return;
  free(ci->template_src);
  free(ci->gguf_template);
  free(ci->template_name);
  free(ci->template_refusal);
  free(ci->template_jinja);
  free(ci->system);
  free_list(ci->msg_role, ci->n_messages);
  free_list(ci->msg_content, ci->n_messages);
  free_list(ci->param_name, ci->n_params);
  free_list(ci->param_value, ci->n_params);
  free_list(ci->licenses, ci->n_licenses);
  free(ci->draft);
  free(ci->requires);
  free(ci->modelfile);
  free(ci->from);
  free(ci);
}

static char **single(azc_chat_info_t *ci, int tag) {
  switch (tag) {
  case AZC_CHAT_TEMPLATE: return &ci->template_src;
  case AZC_CHAT_GGUF_TEMPLATE: return &ci->gguf_template;
  case AZC_CHAT_TEMPLATE_NAME: return &ci->template_name;
  case AZC_CHAT_TEMPLATE_REFUSAL: return &ci->template_refusal;
  case AZC_CHAT_TEMPLATE_JINJA: return &ci->template_jinja;
  case AZC_CHAT_SYSTEM: return &ci->system;
  case AZC_CHAT_DRAFT: return &ci->draft;
  case AZC_CHAT_REQUIRES: return &ci->requires ;
  case AZC_CHAT_MODELFILE: return &ci->modelfile;
  case AZC_CHAT_FROM: return &ci->from;
  default: return NULL;
  }
}

static char *dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    if (n) memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

azc_status_t azc_chat_info_set(azc_chat_info_t *ci, int tag, const char *s, size_t len) {
  if (tag == AZC_CHAT_NO_SYSTEM) {
    ci->no_system = s != NULL;
    return NULL;
  }
  char **f = single(ci, tag);
  if (!f) return AZC_ERR(AZC_INTERNAL, "chat info: tag %d is not a single string", tag);
  char *d = s ? dupn(s, len) : NULL;
  if (s && !d) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
  free(*f);
  *f = d;
  return NULL;
}

static azc_status_t push(char ***v, size_t n, const char *s, size_t len) {
  char **nv = realloc(*v, (n + 1) * sizeof(char *));
  if (!nv) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
  *v = nv;
  nv[n] = dupn(s, len);
  return nv[n] ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
}

static azc_status_t add_pair(char ***a, char ***b, size_t *n, const char *x, const char *y) {
  AZC_RETURN_IF_ERROR(push(a, *n, x, strlen(x)));
  azc_status_t st = push(b, *n, y, strlen(y));
  if (st) {
    free((*a)[*n]);
    return st;
  }
  (*n)++;
  return NULL;
}

azc_status_t azc_chat_info_add_message(azc_chat_info_t *ci, const char *role, const char *content) {
  return add_pair(&ci->msg_role, &ci->msg_content, &ci->n_messages, role, content);
}

azc_status_t azc_chat_info_add_param(azc_chat_info_t *ci, const char *name, const char *value) {
  return add_pair(&ci->param_name, &ci->param_value, &ci->n_params, name, value);
}

azc_status_t azc_chat_info_add_license(azc_chat_info_t *ci, const char *text) {
  AZC_RETURN_IF_ERROR(push(&ci->licenses, ci->n_licenses, text, strlen(text)));
  ci->n_licenses++;
  return NULL;
}

void azc_chat_info_remove_params(azc_chat_info_t *ci, const char *name) {
  size_t k = 0;
  for (size_t i = 0; i < ci->n_params; i++) {
    if (!strcmp(ci->param_name[i], name)) {
      free(ci->param_name[i]);
      free(ci->param_value[i]);
      continue;
    }
    ci->param_name[k] = ci->param_name[i];
    ci->param_value[k++] = ci->param_value[i];
  }
  ci->n_params = k;
}

/* ---- bytes ---- */

typedef struct writer {
  uint8_t *data;
  size_t len, cap;
  uint32_t count;
  bool oom;
} writer_t;

static void put_bytes(writer_t *w, const void *p, size_t n) {
  if (w->oom) return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 1024;
    while (cap < w->len + n) cap *= 2;
    uint8_t *d = realloc(w->data, cap);
    if (!d) {
      w->oom = true;
      return;
    }
    w->data = d;
    w->cap = cap;
  }
  if (n) memcpy(w->data + w->len, p, n);
  w->len += n;
}

static void put_entry(writer_t *w, uint32_t tag, const char *a, size_t an, const char *b, size_t bn,
                      bool pair) {
  uint32_t len = (uint32_t)(an + (pair ? 1 + bn : 0));
  put_bytes(w, &tag, 4);
  put_bytes(w, &len, 4);
  put_bytes(w, a, an);
  if (pair) {
    put_bytes(w, "", 1);
    put_bytes(w, b, bn);
  }
  w->count++;
}

azc_status_t azc_chat_info_serialize(const azc_chat_info_t *ci, uint8_t **out, size_t *out_size) {
  *out = NULL;
  *out_size = 0;
  writer_t w = {0};
  uint8_t head[HEADER] = {0};
  put_bytes(&w, head, sizeof(head));
  static const int singles[] = {AZC_CHAT_FROM,
                                AZC_CHAT_TEMPLATE,
                                AZC_CHAT_GGUF_TEMPLATE,
                                AZC_CHAT_TEMPLATE_NAME,
                                AZC_CHAT_TEMPLATE_REFUSAL,
                                AZC_CHAT_TEMPLATE_JINJA,
                                AZC_CHAT_SYSTEM,
                                AZC_CHAT_DRAFT,
                                AZC_CHAT_REQUIRES,
                                AZC_CHAT_MODELFILE};
  azc_chat_info_t *mut = (azc_chat_info_t *)ci; /* single() only reads here */
  for (size_t i = 0; i < AZC_ARRAY_SIZE(singles); i++) {
    const char *s = *single(mut, singles[i]);
    if (s) {
      if (strlen(s) > UINT32_MAX / 2) return AZC_ERR(AZC_INVALID_ARGUMENT, "chat data too large");
      put_entry(&w, (uint32_t)singles[i], s, strlen(s), NULL, 0, false);
    }
  }
  if (ci->no_system) put_entry(&w, AZC_CHAT_NO_SYSTEM, "", 0, NULL, 0, false);
  for (size_t i = 0; i < ci->n_messages; i++)
    put_entry(&w, AZC_CHAT_MESSAGE, ci->msg_role[i], strlen(ci->msg_role[i]), ci->msg_content[i],
              strlen(ci->msg_content[i]), true);
  for (size_t i = 0; i < ci->n_params; i++)
    put_entry(&w, AZC_CHAT_PARAMETER, ci->param_name[i], strlen(ci->param_name[i]),
              ci->param_value[i], strlen(ci->param_value[i]), true);
  for (size_t i = 0; i < ci->n_licenses; i++)
    put_entry(&w, AZC_CHAT_LICENSE, ci->licenses[i], strlen(ci->licenses[i]), NULL, 0, false);
  if (w.oom) {
    free(w.data);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "chat section");
  }
  memcpy(w.data, MAGIC, 8);
  memcpy(w.data + 8, &w.count, 4);
  *out = w.data;
  *out_size = w.len;
  return NULL;
}

azc_status_t azc_chat_info_parse(const uint8_t *data, size_t size, azc_chat_info_t **out) {
  *out = NULL;
  if (size < HEADER || memcmp(data, MAGIC, 8))
    return AZC_ERR(AZC_CORRUPT, "section 'chat': not a chat section (bad magic or size %zu)", size);
  uint32_t count = azc_load_u32le(data + 8);
  if (count > MAX_ENTRIES)
    return AZC_ERR(AZC_CORRUPT, "section 'chat': %u entries (at most %d)", count, MAX_ENTRIES);
  azc_chat_info_t *ci = azc_chat_info_create();
  if (!ci) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat section");
  size_t at = HEADER;
  azc_status_t st = NULL;
  for (uint32_t i = 0; !st && i < count; i++) {
    if (size - at < ENTRY) {
      st = AZC_ERR(AZC_CORRUPT, "section 'chat': entry %u is cut off", i);
      break;
    }
    uint32_t tag = azc_load_u32le(data + at), len = azc_load_u32le(data + at + 4);
    at += ENTRY;
    if (len > size - at) {
      st = AZC_ERR(AZC_CORRUPT, "section 'chat': entry %u (tag %u) of %u bytes runs past the end",
                   i, tag, len);
      break;
    }
    const char *s = (const char *)data + at;
    at += len;
    const char *nul = memchr(s, 0, len);
    bool pair = tag == AZC_CHAT_MESSAGE || tag == AZC_CHAT_PARAMETER;
    if (pair ? !nul || memchr(nul + 1, 0, len - (size_t)(nul + 1 - s)) : nul != NULL) {
      st = AZC_ERR(AZC_CORRUPT, "section 'chat': entry %u (tag %u) has %s NUL byte", i, tag,
                   pair ? "no single" : "a");
      break;
    }
    if (pair) {
      char *a = dupn(s, (size_t)(nul - s)), *b = dupn(nul + 1, len - (size_t)(nul + 1 - s));
      if (!a || !b)
        st = AZC_ERR(AZC_OUT_OF_MEMORY, "chat section");
      else if (tag == AZC_CHAT_MESSAGE)
        st = azc_chat_info_add_message(ci, a, b);
      else
        st = azc_chat_info_add_param(ci, a, b);
      free(a);
      free(b);
    } else if (tag == AZC_CHAT_LICENSE) {
      char *a = dupn(s, len);
      st = a ? azc_chat_info_add_license(ci, a) : AZC_ERR(AZC_OUT_OF_MEMORY, "chat section");
      free(a);
    } else if (tag == AZC_CHAT_NO_SYSTEM) {
      ci->no_system = true;
    } else if (single(ci, (int)tag)) {
      if (*single(ci, (int)tag))
        st = AZC_ERR(AZC_CORRUPT, "section 'chat': tag %u appears twice", tag);
      else
        st = azc_chat_info_set(ci, (int)tag, s, len);
    } /* else: a tag from a newer azc, skipped */
  }
  if (!st && at != size)
    st = AZC_ERR(AZC_CORRUPT, "section 'chat': %zu bytes after the last entry", size - at);
  if (st) {
    azc_chat_info_destroy(ci);
    return st;
  }
  *out = ci;
  return NULL;
}

/* ---- use ---- */

azc_status_t azc_chat_info_set_gguf_template(azc_chat_info_t *ci, const char *jinja, size_t len,
                                             const azc_tokenizer_t *tok) {
  AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_GGUF_TEMPLATE, NULL, 0));
  AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_NAME, NULL, 0));
  AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_REFUSAL, NULL, 0));
  AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_JINJA, NULL, 0));
  ci->no_system = false;
  if (!len) return NULL;
  char bos[256], eos[256];
  azc_chat_token_text(tok, azc_tokenizer_bos(tok), bos, sizeof(bos));
  azc_chat_token_text(tok, azc_tokenizer_eos(tok), eos, sizeof(eos));
  azc_chat_detection_t d;
  AZC_RETURN_IF_ERROR(azc_chat_template_detect(jinja, len, bos, eos, &d));
  AZC_RETURN_IF_ERROR(azc_chat_info_set(ci, AZC_CHAT_GGUF_TEMPLATE, jinja, len));
  if (d.name[0]) {
    ci->no_system = d.system_error;
    return azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_NAME, d.name, strlen(d.name));
  }
  if (d.jinja) {
    ci->no_system = d.system_error;
    return azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_JINJA, d.reason, strlen(d.reason));
  }
  return azc_chat_info_set(ci, AZC_CHAT_TEMPLATE_REFUSAL, d.reason, strlen(d.reason));
}

azc_status_t azc_chat_info_template(const azc_chat_info_t *ci, const azc_tokenizer_t *tok,
                                    azc_chat_template_t **out) {
  *out = NULL;
  char bos[256] = "", eos[256] = "";
  if (tok) {
    azc_chat_token_text(tok, azc_tokenizer_bos(tok), bos, sizeof(bos));
    azc_chat_token_text(tok, azc_tokenizer_eos(tok), eos, sizeof(eos));
  }
  if (ci && ci->template_src)
    return azc_chat_template_go(ci->template_src, strlen(ci->template_src), out);
  if (ci && ci->template_name)
    return azc_chat_template_for_model(ci->template_name, ci->no_system, eos, out);
  if (ci && ci->template_jinja && ci->gguf_template)
    return azc_chat_template_jinja(ci->gguf_template, strlen(ci->gguf_template), bos, eos,
                                   tok && azc_tokenizer_adds_bos(tok), out);
  if (ci && ci->gguf_template)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "the model's chat template is not one azc can apply exactly (%s); give a "
                   "TEMPLATE in a Modelfile (azc create NAME -f Modelfile)",
                   ci->template_refusal ? ci->template_refusal : "not recognised");
  static const char deflt[] = "{{ .Prompt }}"; /* Ollama's default template */
  return azc_chat_template_go(deflt, sizeof(deflt) - 1, out);
}

azc_status_t azc_chat_info_messages(const azc_chat_info_t *ci, const azc_chat_message_t *conv,
                                    size_t n, azc_chat_message_t **out, size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  bool has_system = n > 0 && !strcmp(conv[0].role, "system");
  size_t extra = ci ? ci->n_messages + (ci->system && !has_system ? 1 : 0) : 0;
  azc_chat_message_t *m = calloc(n + extra + 1, sizeof(*m));
  if (!m) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat messages");
  size_t k = 0;
  if (ci && ci->system && !has_system) m[k++] = (azc_chat_message_t){"system", ci->system};
  for (size_t i = 0; ci && i < ci->n_messages; i++)
    m[k++] = (azc_chat_message_t){ci->msg_role[i], ci->msg_content[i]};
  for (size_t i = 0; i < n; i++) m[k++] = conv[i];
  *out = m;
  *n_out = k;
  return NULL;
}

void azc_chat_token_text(const azc_tokenizer_t *tok, int32_t id, char *buf, size_t cap) {
  if (!cap) return;
  buf[0] = 0;
  if (id < 0 || id >= azc_tokenizer_n_vocab(tok)) return;
  azc_strview_t s = azc_tokenizer_token_text(tok, id);
  if (s.size < cap && !memchr(s.data, 0, s.size)) {
    memcpy(buf, s.data, s.size);
    buf[s.size] = 0;
  }
}
