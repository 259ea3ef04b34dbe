/* File maps and atomic writes (see file.h). */
#include "runtime/base/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

azc_status_t azc_file_map_open(const char *path, azc_file_map_t *out) {
  memset(out, 0, sizeof(*out));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return AZC_ERR(errno == ENOENT ? AZC_NOT_FOUND : AZC_IO, "%s: cannot open: %s", path,
                   strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return AZC_ERR(AZC_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return AZC_ERR(AZC_IO, "%s: not a regular file", path);
  }
  out->size = (size_t)sb.st_size;
  if (out->size > 0) {
    void *p = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      close(fd);
      memset(out, 0, sizeof(*out));
      return AZC_ERR(AZC_IO, "%s: cannot mmap %zu bytes: %s", path, (size_t)sb.st_size,
                     strerror(e));
    }
    out->data = p;
  }
  close(fd);
  out->path = strdup(path);
  if (!out->path) {
    azc_file_map_close(out);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  return NULL;
}

void azc_file_map_close(azc_file_map_t *map) {
  if (map->data) munmap((void *)map->data, map->size);
  free(map->path);
  memset(map, 0, sizeof(*map));
}

azc_status_t azc_file_read_all(const char *path, char **out, size_t *out_size) {
  *out = NULL;
  *out_size = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return AZC_ERR(errno == ENOENT ? AZC_NOT_FOUND : AZC_IO, "%s: cannot open: %s", path,
                   strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (n + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, fp);
    n += r;
    if (r == 0) break;
  }
  int err = ferror(fp);
  fclose(fp);
  if (!buf) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory reading file", path);
  if (err) {
    free(buf);
    return AZC_ERR(AZC_IO, "%s: read error", path);
  }
  buf[n] = 0;
  *out = buf;
  *out_size = n;
  return NULL;
}

static atomic_int tmp_counter;

enum { AZC_STALE_TEMP_SECONDS = 60 };

/* Removes "<name>.tmp.<pid>.<n>" files next to path that killed writers left:
 * the writing process is gone (kill(pid, 0) says so) and the file has not
 * changed for AZC_STALE_TEMP_SECONDS (a writer in another pid namespace
 * would still be writing). Anything else in the folder is left alone. */
static void remove_stale_temps(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  size_t dir_len = slash ? (size_t)(slash - path) : 0, name_len = strlen(name);
  char dir[4096];
  if (dir_len >= sizeof(dir) || !name_len) return;
  if (slash) {
    memcpy(dir, path, dir_len);
    dir[dir_len] = 0;
    if (!dir_len) strcpy(dir, "/");
  } else {
    strcpy(dir, ".");
  }
  DIR *d = opendir(dir);
  if (!d) return;
  time_t now = time(NULL);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (strncmp(n, name, name_len) || strncmp(n + name_len, ".tmp.", 5)) continue;
    char *end;
    long pid = strtol(n + name_len + 5, &end, 10);
    if (pid <= 0 || *end != '.' || !end[1]) continue;
    for (const char *p = end + 1; *p; p++)
      if (*p < '0' || *p > '9') goto next;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char full[4096 + 256];
    snprintf(full, sizeof(full), "%s/%s", dir, n);
    struct stat sb;
    if (lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) && now - sb.st_mtime >= AZC_STALE_TEMP_SECONDS)
      unlink(full);
  next:;
  }
  closedir(d);
}

azc_status_t azc_atomic_file_open(const char *path, azc_atomic_file_t *out) {
  memset(out, 0, sizeof(*out));
  size_t n = strlen(path) + 64;
  out->path = strdup(path);
  out->tmp_path = malloc(n);
  if (!out->path || !out->tmp_path) {
    azc_atomic_file_abort(out);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  remove_stale_temps(path);
  snprintf(out->tmp_path, n, "%s.tmp.%d.%d", path, (int)getpid(),
           atomic_fetch_add(&tmp_counter, 1));
  int fd = open(out->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    azc_status_t st =
        AZC_ERR(AZC_IO, "%s: cannot create %s: %s", path, out->tmp_path, strerror(errno));
    free(out->tmp_path);
    out->tmp_path = NULL;
    azc_atomic_file_abort(out);
    return st;
  }
  out->fp = fdopen(fd, "wb");
  if (!out->fp) {
    close(fd);
    azc_atomic_file_abort(out);
    return AZC_ERR(AZC_IO, "%s: fdopen failed", path);
  }
  return NULL;
}

azc_status_t azc_atomic_file_write(azc_atomic_file_t *f, const void *data, size_t size) {
  if (f->failed) return AZC_ERR(AZC_IO, "%s: earlier write failed", f->path);
  if (size && fwrite(data, 1, size, f->fp) != size) {
    f->failed = 1;
    return AZC_ERR(AZC_IO, "%s: write of %zu bytes failed: %s", f->path, size, strerror(errno));
  }
  return NULL;
}

long long azc_atomic_file_tell(azc_atomic_file_t *f) { return (long long)ftello(f->fp); }

azc_status_t azc_atomic_file_pad(azc_atomic_file_t *f, size_t align) {
  static const uint8_t zeros[4096];
  long long pos = azc_atomic_file_tell(f);
  if (pos < 0) return AZC_ERR(AZC_IO, "%s: ftell failed", f->path);
  size_t pad = (size_t)((align - (unsigned long long)pos % align) % align);
  while (pad) {
    size_t k = pad < sizeof(zeros) ? pad : sizeof(zeros);
    AZC_RETURN_IF_ERROR(azc_atomic_file_write(f, zeros, k));
    pad -= k;
  }
  return NULL;
}

azc_status_t azc_atomic_file_commit(azc_atomic_file_t *f) {
  azc_status_t st = NULL;
  if (f->failed) st = AZC_ERR(AZC_IO, "%s: a write failed; nothing written", f->path);
  if (!st && fflush(f->fp) != 0)
    st = AZC_ERR(AZC_IO, "%s: flush failed: %s", f->path, strerror(errno));
  if (!st && !f->no_fsync && fsync(fileno(f->fp)) != 0 && errno != EINVAL)
    st = AZC_ERR(AZC_IO, "%s: fsync failed: %s", f->path, strerror(errno));
  if (fclose(f->fp) != 0 && !st) st = AZC_ERR(AZC_IO, "%s: close failed", f->path);
  f->fp = NULL;
  if (!st && rename(f->tmp_path, f->path) != 0)
    st = AZC_ERR(AZC_IO, "%s: rename from %s failed: %s", f->path, f->tmp_path, strerror(errno));
  if (st) {
    unlink(f->tmp_path);
  } else {
    free(f->tmp_path);
    f->tmp_path = NULL;
  }
  azc_atomic_file_abort(f);
  return st;
}

void azc_atomic_file_abort(azc_atomic_file_t *f) {
  if (f->fp) fclose(f->fp);
  if (f->tmp_path) unlink(f->tmp_path);
  free(f->tmp_path);
  free(f->path);
  memset(f, 0, sizeof(*f));
}

azc_status_t azc_mkdir_p(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(buf)) return AZC_ERR(AZC_INVALID_ARGUMENT, "bad directory path");
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == 0) {
      char c = buf[i];
      buf[i] = 0;
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return AZC_ERR(AZC_IO, "%s: cannot create directory: %s", buf, strerror(errno));
      buf[i] = c;
    }
  }
  return NULL;
}
