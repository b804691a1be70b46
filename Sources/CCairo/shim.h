#ifndef FLOWOOD_CCAIRO_SHIM_H
#define FLOWOOD_CCAIRO_SHIM_H
#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#endif
