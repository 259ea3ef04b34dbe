/* Bump allocator (see arena.h): a list of chunks, the newest at the head. A
 * request bigger than the chunk size gets a chunk of its own. */
#include "runtime/base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct azc_arena_chunk {
  azc_arena_chunk_t *next;
  size_t size, used;
  _Alignas(64) unsigned char data[];
};

void azc_arena_init(azc_arena_t *arena, size_t chunk_size) {
  arena->head = NULL;
  arena->chunk_size = chunk_size ? chunk_size : 64 * 1024;
  arena->total = 0;
}

void *azc_arena_alloc(azc_arena_t *arena, size_t size, size_t align) {
  if (align < 8) align = 8;
  azc_arena_chunk_t *c = arena->head;
  if (c) {
    size_t off = (c->used + align - 1) & ~(align - 1);
    if (off <= c->size && size <= c->size - off) {
      c->used = off + size;
      arena->total += size;
      return memset(c->data + off, 0, size);
    }
  }
  size_t cap = size > arena->chunk_size ? size : arena->chunk_size;
  if (cap > SIZE_MAX - sizeof(*c) - 64) return NULL;
  c = malloc(sizeof(*c) + cap);
  if (!c) return NULL;
  c->size = cap;
  c->used = size;
  c->next = arena->head;
  arena->head = c;
  arena->total += size;
  return memset(c->data, 0, size);
}

char *azc_arena_strndup(azc_arena_t *arena, const char *s, size_t n) {
  char *d = azc_arena_alloc(arena, n + 1, 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *azc_arena_strdup(azc_arena_t *arena, const char *s) {
  return azc_arena_strndup(arena, s, strlen(s));
}

void azc_arena_free(azc_arena_t *arena) {
  azc_arena_chunk_t *c = arena->head;
  while (c) {
    azc_arena_chunk_t *n = c->next;
    free(c);
    c = n;
  }
  arena->head = NULL;
  arena->total = 0;
}
