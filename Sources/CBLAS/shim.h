#ifndef FLOWOOD_CBLAS_SHIM_H
#define FLOWOOD_CBLAS_SHIM_H
#include <cblas.h>
#endif
