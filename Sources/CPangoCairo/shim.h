#ifndef FLOWOOD_CPANGOCAIRO_SHIM_H
#define FLOWOOD_CPANGOCAIRO_SHIM_H
#include <pango/pangocairo.h>
#endif
