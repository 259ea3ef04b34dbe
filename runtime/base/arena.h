/* A bump allocator that owns everything allocated from it: graphs put all
 * their nodes in one arena, so freeing the graph is one call. Allocations are
 * never freed one by one. */
#ifndef AZC_BASE_ARENA_H
#define AZC_BASE_ARENA_H

#include <stddef.h>

typedef struct azc_arena_chunk azc_arena_chunk_t;
typedef struct azc_arena {
  azc_arena_chunk_t *head;
  size_t chunk_size;
  size_t total; /* bytes handed out */
} azc_arena_t;

void azc_arena_init(azc_arena_t *arena, size_t chunk_size);
/* Zeroed memory whose address is a multiple of `align` (a power of two; at
 * least 8 is used); NULL when out of memory or when align is not a power of
 * two. */
void *azc_arena_alloc(azc_arena_t *arena, size_t size, size_t align);
char *azc_arena_strdup(azc_arena_t *arena, const char *s);
char *azc_arena_strndup(azc_arena_t *arena, const char *s, size_t n);
void azc_arena_free(azc_arena_t *arena);

#endif
