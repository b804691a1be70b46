#ifndef FLOWOOD_CZLIB_SHIM_H
#define FLOWOOD_CZLIB_SHIM_H
#include <zlib.h>
#endif
