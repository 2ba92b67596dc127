/* dep.c - libdep.so: the dependency of libplug.so, providing dep_mul. */
int dep_mul(int a, int b)
{
    return a * b;
}
