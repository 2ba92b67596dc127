/* rp.c - librp.so (in rpdir/) and librp2.so (in rpdir2/): found only through a caller's
 * DT_RUNPATH / DT_RPATH; each calls tl_add once per rp_val call. */
#include "tl.h"

int rp_val(int x)
{
    return tl_add(x, 1000);
}
