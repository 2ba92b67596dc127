/* cloudm_version.h - the version string shared by the tools, the shim and the report. */
#ifndef CLOUDM_VERSION_H
#define CLOUDM_VERSION_H
#define CLOUDM_VERSION "0.1.0"
#endif
