/*
 * seg_hash_avx2.c - xxHash's XXH3 built for AVX2 (this file is compiled with -mavx2, see
 * shim/CMakeLists.txt). Only reached through seg_hash.c, after the CPU features said the CPU
 * and the kernel run AVX2. No code of its own: seg_hash_impl.h wraps xxHash's functions.
 */
#define XXH_VECTOR XXH_AVX2
#define SEG_HASH_SUFFIX avx2
#include "seg_hash_impl.h"
