/* tv.c - libtv.so: two versions of tv_get with different behaviour (tv.map). */
int tv_get_v1(int x)
{
    return x + 100;
}

int tv_get_v2(int x)
{
    return x + 200;
}

__asm__(".symver tv_get_v1, tv_get@V1");
__asm__(".symver tv_get_v2, tv_get@@V2");
