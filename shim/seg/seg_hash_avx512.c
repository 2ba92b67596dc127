/*
 * seg_hash_avx512.c - xxHash's XXH3 built for AVX-512 (this file is compiled with -mavx512f, see
 * shim/CMakeLists.txt). Only reached through seg_hash.c, after the CPU features said the CPU
 * and the kernel run AVX-512F. No code of its own: seg_hash_impl.h wraps xxHash's functions.
 */
#define XXH_VECTOR XXH_AVX512
#define SEG_HASH_SUFFIX avx512
#include "seg_hash_impl.h"
