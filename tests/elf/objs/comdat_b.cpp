// COMDAT test object B for the ELF loader (see comdat_a.cpp).
extern "C" {
inline __attribute__((noinline)) int comdat_helper(int x) { return x * 3 + 1; }
inline int comdat_shared = 100;
inline const unsigned char comdat_blob[65536] = {1, 2, 3};
int comdat_b(int x) { return comdat_helper(x) * 1000 + comdat_shared + comdat_blob[x & 3]; }
}
