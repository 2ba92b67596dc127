/* plug.c - libplug.so: dlopen'ed RTLD_LOCAL; its dependency libdep.so provides dep_mul. */
int dep_mul(int a, int b);

int plug_run(int x)
{
    return dep_mul(x, 3);
}
