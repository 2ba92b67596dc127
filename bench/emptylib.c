/* emptylib.c - a shared library with nothing in it: preloaded by bench_discover.sh, it measures
 * what preloading any library costs (the floor of cloudm discover's start-up). */
int cmbench_empty_marker;
