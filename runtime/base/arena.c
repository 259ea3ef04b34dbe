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

/* Offset in c->data of the first byte at or after c->used whose address is a
 * multiple of align (the alignment is of the address, not of the offset). */
static size_t aligned_offset(const azc_arena_chunk_t *c, size_t align) {
  uintptr_t at = (uintptr_t)(c->data + c->used);
  return c->used + (size_t)(((at + align - 1) & ~(uintptr_t)(align - 1)) - at);
}

void *azc_arena_alloc(azc_arena_t *arena, size_t size, size_t align) {
  if (align < 8) align = 8;
  if (align & (align - 1)) return NULL; /* not a power of two */
  azc_arena_chunk_t *c = arena->head;
  if (c) {
    size_t off = aligned_offset(c, align);
    if (off <= c->size && size <= c->size - off) {
      c->used = off + size;
      arena->total += size;
      return memset(c->data + off, 0, size);
    }
  }
  if (size > SIZE_MAX - sizeof(*c) - 2 * align) return NULL;
  size_t cap = size + align > arena->chunk_size ? size + align : arena->chunk_size;
  /* chunks are 64-byte aligned (as the header declares), so data[] is too */
  size_t bytes = (sizeof(*c) + cap + 63) & ~(size_t)63;
  void *mem = NULL;
  if (posix_memalign(&mem, 64, bytes)) return NULL;
  c = mem;
  c->size = bytes - sizeof(*c);
  c->used = 0;
  c->next = arena->head;
  arena->head = c;
  size_t off = aligned_offset(c, align);
  c->used = off + size;
  arena->total += size;
  return memset(c->data + off, 0, size);
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
