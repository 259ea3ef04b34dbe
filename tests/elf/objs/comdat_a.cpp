// COMDAT test object A for the ELF loader: C++ inline functions and inline
// variables become COMDAT groups; comdat_b.cpp has the same groups, so only
// one copy of each may be loaded. The 64 KiB blob makes a kept duplicate
// visible in the image size.
extern "C" {
inline __attribute__((noinline)) int comdat_helper(int x) { return x * 3 + 1; }
inline int comdat_shared = 100;
inline const unsigned char comdat_blob[65536] = {1, 2, 3};
int comdat_a(int x) {
  comdat_shared += x;
  return comdat_helper(x) + comdat_blob[x & 3];
}
}
