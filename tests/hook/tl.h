/* tl.h - the test library's interface (libtl.so). */
#ifndef TL_H
#define TL_H
int tl_add(int a, int b);
int tl_twice(int x);
double tl_scale(double x);
int tl_ifunc(int x);
#endif
